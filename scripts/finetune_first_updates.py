"""Why fine-tuning loses the Pong column's play on black in its first updates.

The overnight row's fine-tune-all runs on ``pong_soup/black`` start from the shipped
pong column, which plays black well, yet their first curve window (about 15k steps)
already sits at the floor. This script separates the candidates:

1. the network as fine-tune-all builds it, before any update, plays sampled episodes of
   black through the independent loop (``benchmarks.evaluate.play_episodes``): if it
   plays as the column does, the weights are loaded right and learning loses the play;
2. short fine-tune-all runs on black from the same column and seed through the suite's
   pipeline: at the tuned lr 2e-3 with torch's RMSProp (its squared-gradient average
   starts at 0, so its first updates are about 10 x lr) and with the warm start
   (``XFER_RMSPROP_WARM=1``: the average starts at the first gradient's square, first
   updates about lr); at lr 1e-12 (no learning: the pipeline's own play of the column);
   and at lr 2e-4. Which arms keep the column's play in their first windows says whether
   the optimizer's start, the learning rate, or the pipeline loses it.

Writes ``OUT/finetune_first_updates.json`` and ``.md`` (every figure from the runs'
``curve.csv`` and the played episodes); the runs themselves go to ``RUNS/<arm>``
(default ``results/finetune_first_updates``; their identity does not record the warm
start: never mix them into a suite's folder).

    python scripts/finetune_first_updates.py --out docs/experiments/finetune_first_updates
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "zoo/pong_soup-pong/scratch/seed0/agent.pt"
TASK = "pong_soup/black"
# (arm, lr, XFER_RMSPROP_WARM): the tuned lr with torch's RMSProp and with the warm
# start, no learning (lr 1e-12: the pipeline's own play of the column), and lr / 10
ARMS = (
    ("lr 2e-3, stock RMSProp", 2e-3, "0"),
    ("lr 2e-3, warm start", 2e-3, "1"),
    ("lr 1e-12 (no learning)", 1e-12, "0"),
    ("lr 2e-4, stock RMSProp", 2e-4, "0"),
)


def step0_scores(episodes: int) -> dict[str, list[float]]:
    """Sampled episodes of black by the zoo column and by the network fine-tune-all
    builds from it (``methods.base.build_agent``, the suite's own builder), no update."""
    from agents import load_agent
    from benchmarks.evaluate import play_episodes
    from envs import make_env
    from methods.base import build_agent

    env = make_env(TASK)
    actions, channels = int(env.action_space.n), int(env.observation_space.shape[-1])
    env.close()
    net = build_agent("finetune-all", actions, in_channels=channels, sources=[str(ZOO)]).eval()
    column = load_agent(ZOO)
    column.eval()
    return {
        "zoo column": play_episodes(column, TASK, episodes, seed=4242),
        "fine-tune-all at step 0": play_episodes(net, TASK, episodes, seed=4242),
    }


def train_arm(runs: Path, steps: int, lr: float, warm: str) -> list[dict[str, float]]:
    """One fine-tune-all run on black from the zoo column into ``runs``; its curve
    points, each with the episodes finished in its own window."""
    env = dict(os.environ, XFER_RMSPROP_WARM=warm)
    cmd = [
        sys.executable, "-m", "benchmarks.cli", "train", "--task", TASK,
        "--agent", "finetune-all", "--source", "pong_soup/pong", "--source-seed", "0",
        "--source-steps", "2000000", "--steps", str(steps), "--lr", str(lr),
        "--seed", "0", "--check-episodes", "6", "--out", str(runs),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    return read_curve(runs)


def read_curve(runs: Path) -> list[dict[str, float]]:
    """The black run's curve points under ``runs``, each with the episodes finished in
    its own window (the curve counts them cumulatively)."""
    (curve,) = runs.glob("pong_soup-black/*/seed0/curve.csv")
    with curve.open() as f:
        rows = list(csv.DictReader(f))
    done = [0.0] + [float(r["episodes"]) for r in rows]
    return [
        {
            "env_steps": float(r["env_steps"]),
            "episodes": done[i + 1] - done[i],
            "episode_return_mean": float(r["episode_return_mean"]),
        }
        for i, r in enumerate(rows)
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "docs/experiments/finetune_first_updates"))
    p.add_argument("--runs", default=str(ROOT / "results/finetune_first_updates"))
    p.add_argument("--steps", type=int, default=80_000)
    p.add_argument("--episodes", type=int, default=3)
    args = p.parse_args()
    out = Path(args.out)
    from runstore.atomic import write_json, write_text

    played = step0_scores(args.episodes)
    curves = {
        arm: train_arm(Path(args.runs) / f"arm{i}", args.steps, lr, warm)
        for i, (arm, lr, warm) in enumerate(ARMS)
    }
    write_json(
        out.with_suffix(".json"),
        {"task": TASK, "steps": args.steps, "step0": played, "curves": curves},
    )
    text = markdown(played, curves, args.steps, args.episodes)
    write_text(out.with_suffix(".md"), text)
    print(text)
    return 0


def markdown(
    played: dict[str, list[float]], curves: dict[str, list[dict[str, float]]], steps: int,
    episodes: int,
) -> str:  # fmt: skip
    """The page: the step-0 episodes and each arm's curve points."""
    lines = [
        "# Fine-tune-all's first updates on black (generated)",
        "",
        f"`python scripts/finetune_first_updates.py --steps {steps} "
        f"--episodes {episodes}`: fine-tune-all on `{TASK}` from the shipped pong "
        "column (`zoo/pong_soup-pong/scratch/seed0`), seed 0. Scores run from -21 to 21.",
        "",
        "Before any update (sampled episodes, the independent loop):",
        "",
        "| network | episodes |",
        "|---|---|",
        *(f"| {k} | {', '.join(f'{s:+.0f}' for s in v)} |" for k, v in played.items()),
        "",
        "Training through the suite's pipeline (16 environments, an update every 320 "
        "steps), one run per arm: stock is torch's RMSProp (squared-gradient average from "
        "0, first updates about 10 x lr), the warm start begins it at the first gradient's "
        "square (first updates about lr). Each entry: a curve point's window end (env "
        "steps), the mean score of the episodes finished in it and how many; windows with "
        "no finished episode are left out (a well-played game lasts thousands of steps). "
        "The runs: `arm0` to `arm3` under the runs folder, in the table's order (committed "
        "without weights in `docs/experiments/runs/finetune-first-updates/`).",
        "",
        "| arm | curve points (env steps: mean score, episodes) |",
        "|---|---|",
        *(
            f"| {arm} | "
            + "; ".join(
                f"{c['env_steps'] / 1000:.0f}k: {c['episode_return_mean']:+.1f} "
                f"({c['episodes']:.0f})"
                for c in curve
                if c["episodes"] > 0
            )
            + " |"
            for arm, curve in curves.items()
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
