"""How loud a new progressive column's laterals are at initialisation, per alpha_init.

Usage: python scripts/lateral_signal.py --source zoo/pong_soup-pong/scratch/seed0/agent.pt
           --task pong_soup/hflip [--alpha 0.01 0.1 1] [--states 40] [--seed 0]

Builds a 2-column progressive net on the source column (as `xfer train --agent
progressive` does), plays the task with random actions, and prints, for every layer of
the new column, the RMS of its own pre-activation term and of its lateral term over the
visited states (`analysis.laterals`). The paper samples alpha_init from {1, 0.1, 0.01}.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from agents import build_agent
from analysis.laterals import lateral_signal
from envs import make_env


def random_states(task: str, count: int, seed: int, every: int = 10) -> torch.Tensor:
    """``count`` observations, one every ``every`` steps of random play, channels first."""
    env = make_env(task, seed=seed)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    states = []
    while len(states) < count:
        for _ in range(every):
            obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
            if terminated or truncated:
                obs, _ = env.reset()
        states.append(np.asarray(obs))
    env.close()
    return torch.as_tensor(np.stack(states)).permute(0, 3, 1, 2).contiguous()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="a saved column (agent.pt)")
    parser.add_argument("--task", required=True, help="the target task id")
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--states", type=int, default=40, help="states of random play")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        obs = random_states(args.task, args.states, args.seed)
        print(f"{args.task}, source {args.source}, {args.states} states of random play")
        print(f"{'alpha_init':>10} {'layer':>6} {'own rms':>9} {'lateral rms':>12} {'ratio':>7}")
        for alpha in args.alpha:
            torch.manual_seed(args.seed)
            net = build_agent(
                "progressive",
                num_actions=make_env(args.task).action_space.n,
                sources=[args.source],
                alpha_init=alpha,
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
