"""Forward+backward time of ProgressiveNet (1..4 columns) and PathNet on CPU.

Usage: python scripts/bench_agents.py [--batch 32] [--repeats 30] [--threads 1]

The newest column is the trained one (earlier columns frozen, as in transfer); models
are timed in interleaved rounds, and a ratio is the median over rounds of the two
models' times in the same round. Goal (issue 4): 4-column / 1-column <= 2.5.
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks.perf import network_rounds, round_ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--repeats", type=int, default=30, help="timed passes per model")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    rounds = network_rounds(args.batch, args.repeats, args.threads)
    print(f"batch {args.batch}, 84x84x4 uint8, {args.threads} thread(s), median of {args.repeats}")
    print("ratio: median over rounds of (model / 1col in the same round)")
    print(f"{'model':<20} {'fwd+bwd ms':>11} {'ratio to 1col':>14}")
    for name, times in rounds.items():
        ratio = round_ratio(rounds, name, "progressive-1col")
        print(f"{name:<20} {statistics.median(times) * 1e3:>11.2f} {ratio:>14.2f}")


if __name__ == "__main__":
    main()
