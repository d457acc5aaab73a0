"""How loud a new progressive column's laterals are at initialisation, per alpha_init.

Usage: python scripts/lateral_signal.py --source zoo/pong_soup-pong/scratch/seed0/agent.pt
           --task pong_soup/hflip [--alpha 0.01 0.1 1] [--states 40] [--seed 0]

Builds a 2-column progressive net on the source column (as `xfer train --agent
progressive` does) and prints, for every layer of the new column, the RMS of its own
pre-activation term and of its lateral term (`analysis.laterals`) over the same states
for every alpha: states visited by an untrained column (near-uniform policy) on the
task, spread over episodes (`benchmarks.sensitivity_runs.collect_states`). The paper samples
alpha_init from {1, 0.1, 0.01}.
"""

from __future__ import annotations

import argparse
import sys

from analysis.laterals import lateral_signal
from benchmarks.sensitivity_runs import collect_states
from envs import make_env
from methods import build_agent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="a saved column (agent.pt)")
    parser.add_argument("--task", required=True, help="the target task id")
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--states", type=int, default=40, help="states to measure over")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        env = make_env(args.task)
        num_actions, channels = int(env.action_space.n), int(env.observation_space.shape[-1])
        env.close()
        player = build_agent("scratch", num_actions, in_channels=channels, seed=args.seed)
        obs, spread = collect_states(player, args.task, args.states, seed=args.seed)
        print(
            f"{args.task}, source {args.source}, {spread['states']} states from "
            f"{spread['episodes']} episodes of an untrained column"
        )
        print(f"{'alpha_init':>10} {'layer':>6} {'own rms':>9} {'lateral rms':>12} {'ratio':>7}")
        for alpha in args.alpha:
            net = build_agent(
                "progressive",
                num_actions,
                in_channels=channels,
                sources=[args.source],
                alpha_init=alpha,
                seed=args.seed,
            )
            for row in lateral_signal(net, obs):
                print(
                    f"{alpha:>10g} {row.layer:>6} {row.own_rms:>9.4f} "
                    f"{row.lateral_rms:>12.4f} {row.ratio:>7.3f}"
                )
    except (OSError, ValueError, KeyError) as err:
        sys.exit(f"lateral_signal: {err}")


if __name__ == "__main__":
    main()
