"""Agent steps/s of preprocessed Pong and of every Pong Soup variant, in one run.

Usage: python scripts/bench_envs.py [--seconds 3] [--rounds 3] [--domain pong_soup]

Variants are timed in interleaved rounds (order rotated each round); the ratio to
plain ``<domain>/pong`` is printed. Goal (issue 2): every variant >= 0.95.
``--domain labyrinth`` prints the steps/s of every Labyrinth level (issue 3), headless,
on one core (ratios to seek_track_1).
"""

from __future__ import annotations

import argparse

from benchmarks.perf import env_throughput
from envs import SOUP_VARIANTS, TASKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per task per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--domain", default="pong_soup", choices=["pong_soup", "catch_soup", "labyrinth"]
    )
    args = parser.parse_args()
    if args.domain == "labyrinth":
        tasks = [t for t in TASKS if t.startswith("labyrinth/")]
    else:
        tasks = [f"{args.domain}/{v}" for v in SOUP_VARIANTS]
    raw = args.domain == "pong_soup"
    sps = env_throughput(tasks, args.seconds, args.rounds, include_raw_ale=raw)
    base = sps[tasks[0]]
    print(f"{'task':<22} {'agent steps/s':>14} {'ratio':>7}")
    for name, value in sps.items():
        print(f"{name:<22} {value:>14.0f} {value / base:>7.3f}")


if __name__ == "__main__":
    main()
