"""Agent steps/s of preprocessed Pong and of every Pong Soup variant, in one run.

Usage: python scripts/bench_envs.py [--seconds 5] [--domain pong_soup] [--json FILE]

Each variant is timed in interleaved rounds (variant order rotated each round) so that
machine noise hits every variant alike; the ratio to plain ``<domain>/pong`` is printed.
Goal (issue 2): every variant >= 0.95 of plain Pong.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from envs import SOUP_VARIANTS, make_env


def steps_per_second(env, seconds: float, rng: np.random.Generator) -> tuple[int, float]:
    n, start = 0, time.perf_counter()
    actions = rng.integers(env.action_space.n, size=4096)
    while time.perf_counter() - start < seconds:
        _, _, term, trunc, _ = env.step(int(actions[n % 4096]))
        n += 1
        if term or trunc:
            env.reset()
    return n, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per variant per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--domain", default="pong_soup", choices=["pong_soup", "catch_soup"])
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    envs = {v: make_env(f"{args.domain}/{v}", seed=0) for v in SOUP_VARIANTS}
    for env in envs.values():
        env.reset()
    totals = {v: [0, 0.0] for v in SOUP_VARIANTS}
    rng = np.random.default_rng(0)
    for r in range(args.rounds):
        order = list(SOUP_VARIANTS[r % 8 :] + SOUP_VARIANTS[: r % 8])
        for v in order:
            n, t = steps_per_second(envs[v], args.seconds, rng)
            totals[v][0] += n
            totals[v][1] += t
    base = totals["pong"][0] / totals["pong"][1]
    print(f"{'task':<22} {'agent steps/s':>14} {'ratio':>7}")
    result = {}
    for v in SOUP_VARIANTS:
        sps = totals[v][0] / totals[v][1]
        result[f"{args.domain}/{v}"] = {"steps_per_s": sps, "ratio": sps / base}
        print(f"{args.domain + '/' + v:<22} {sps:>14.0f} {sps / base:>7.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
