"""Forward+backward time of ProgressiveNet (1..4 columns) and PathNet on CPU.

Usage: python scripts/bench_agents.py [--batch 32] [--repeats 30] [--threads 1]

The newest column is trained (earlier ones frozen, as in transfer). Timings are
interleaved across models so machine noise hits all alike. Goal (issue 4): the
4-column / 1-column ratio <= 2.5.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from agents import PathNet, PathNetConfig, build_agent, random_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--repeats", type=int, default=30, help="timed passes per model")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    obs = torch.randint(0, 256, (args.batch, 4, 84, 84), dtype=torch.uint8)
    models = {
        f"progressive-{k}col": build_agent("progressive", 6, num_columns=k) for k in (1, 2, 3, 4)
    }
    pathnet = PathNet(PathNetConfig(), 6)
    rng = np.random.default_rng(0)
    one_path = torch.as_tensor(random_path(rng, pathnet.config))
    many = torch.as_tensor(np.stack([random_path(rng, pathnet.config) for _ in range(args.batch)]))

    def step_fn(model, paths=None):
        def run():
            out = model(obs) if paths is None else model(obs, paths)
            (out.logits.sum() + out.value.sum()).backward()

        return run

    runs = {name: step_fn(m) for name, m in models.items()}
    runs["pathnet-1path"] = step_fn(pathnet, one_path)
    runs[f"pathnet-{args.batch}paths"] = step_fn(pathnet, many)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():  # warm-up
        run()
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["progressive-1col"])
    print(f"batch {args.batch}, 84x84x4 uint8, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'model':<20} {'fwd+bwd ms':>11} {'ratio to 1col':>14}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<20} {med * 1e3:>11.2f} {med / base:>14.2f}")


if __name__ == "__main__":
    main()
