"""Labyrinth agent steps/s now against an earlier commit, every level, in one run.

Usage: python scripts/bench_labyrinth.py [--before ebb7588] [--seconds 3] [--rounds 3]
       [--levels seek_avoid_1 seek_track_2 ...]

Each (level, side) is timed in its own fresh process, the two sides alternating within
each round, so both see the same machine. A process makes the raw level (no frame
stacking), resets it once (not timed), then takes uniformly random actions for
``--seconds`` of wall time, resetting at episode ends. Printed per level: agent steps
per CPU second of the process (its threads included: llvmpipe rasterises on threads
of its own unless ``LP_NUM_THREADS`` says otherwise) and per wall second, as medians
over rounds, and the ratio now / before of each, the median of the per-round ratios.

``--before`` is a git revision whose ``envs`` package is extracted (``git archive``) to
a temporary folder and put first on the child's path; that child runs without the
``PYGLET_DEBUG_GL`` and ``LP_NUM_THREADS`` defaults this package sets now, as the code
of that revision did. The default revision, ebb7588, is the code issue 29 measured
(one MiniWorld frame per agent step, every frame drawn).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (
    "seek_track_1",
    "seek_track_2",
    "seek_track_3",
    "seek_track_4",
    "seek_avoid_1",
    "seek_avoid_2",
    "seek_maze_m",
    "seek_maze_y",
)
NEW_DEFAULTS = ("PYGLET_DEBUG_GL", "LP_NUM_THREADS")


def worker(level: str, seconds: float) -> None:
    """Time one level in this process and print a JSON line."""
    os.environ.setdefault("PYGLET_HEADLESS", "true")
    import numpy as np

    from envs.labyrinth.levels import LabyrinthEnv

    env = LabyrinthEnv(level)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps, frames = 0, 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - wall0 < seconds:
        _, _, terminated, truncated, info = env.step(int(rng.integers(0, 4)))
        steps += 1
        frames += int(info.get("frames", 1))
        if terminated or truncated:
            env.reset()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(json.dumps({"steps": steps, "frames": frames, "cpu": cpu, "wall": wall}))


def extract(revision: str, into: Path) -> Path:
    """``envs`` of ``revision`` under ``into`` (git archive, no work tree touched)."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "envs"],
        check=True,
        capture_output=True,
    ).stdout
    tar_path = into / "before.tar"
    tar_path.write_bytes(data)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into


def run_side(level: str, seconds: float, before: Path | None) -> dict:
    env = dict(os.environ, PYGLET_HEADLESS="true")
    if before is not None:
        for name in NEW_DEFAULTS:
            env.pop(name, None)
        env["PYTHONPATH"] = os.pathsep.join([str(before), str(ROOT)])
    else:
        env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", level, "--seconds"]
    out = subprocess.run(
        [*cmd, str(seconds)],
        env=env,
        cwd=str(before or ROOT),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="ebb7588", help="git revision to compare with")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per process")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--levels", nargs="+", default=list(LEVELS), choices=LEVELS)
    parser.add_argument("--json", help="write the figures to this file too")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.seconds)
        return
    if args.seconds <= 0 or args.rounds < 1:
        parser.error("--seconds must be > 0 and --rounds >= 1")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        before = extract(args.before, Path(tmp))
        samples: dict[str, dict[str, list[dict]]] = {
            lv: {"before": [], "now": []} for lv in args.levels
        }
        for r in range(args.rounds):
            for level in args.levels:
                sides = ("before", "now") if r % 2 == 0 else ("now", "before")
                for side in sides:
                    res = run_side(level, args.seconds, before if side == "before" else None)
                    samples[level][side].append(res)
        for level, s in samples.items():
            row = {}
            for unit in ("cpu", "wall"):
                b = [x["steps"] / x[unit] for x in s["before"]]
                n = [x["steps"] / x[unit] for x in s["now"]]
                row[f"before_per_{unit}_s"] = statistics.median(b)
                row[f"now_per_{unit}_s"] = statistics.median(n)
                row[f"ratio_{unit}"] = statistics.median(x / y for x, y in zip(n, b, strict=True))
            row["frames_per_step_now"] = s["now"][0]["frames"] / max(1, s["now"][0]["steps"])
            rows[level] = row
    print(f"before: {args.before}; {args.rounds} round(s) of {args.seconds:g} s per level and side")
    print(
        f"{'level':<14} {'before/cpu-s':>13} {'now/cpu-s':>10} {'ratio':>6}"
        f" {'before/wall-s':>14} {'now/wall-s':>11} {'ratio':>6}"
    )
    for level, row in rows.items():
        print(
            f"{level:<14} {row['before_per_cpu_s']:>13.0f} {row['now_per_cpu_s']:>10.0f}"
            f" {row['ratio_cpu']:>6.2f} {row['before_per_wall_s']:>14.0f}"
            f" {row['now_per_wall_s']:>11.0f} {row['ratio_wall']:>6.2f}"
        )
    if args.json:
        tmp_path = Path(args.json).with_suffix(".tmp")
        tmp_path.write_text(json.dumps({"before": args.before, "levels": rows}, indent=2))
        tmp_path.replace(args.json)


if __name__ == "__main__":
    main()
