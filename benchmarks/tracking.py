"""wandb logging of one run: offline by default, online when the user configured it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

__all__ = ["Tracker"]


class Tracker:
    """wandb logging: offline by default, online when the user configured it."""

    def __init__(self, config: dict[str, Any], run_dir: Path) -> None:
        os.environ.setdefault("WANDB_SILENT", "true")
        import wandb

        mode = os.environ.get("WANDB_MODE") or (
            "online" if os.environ.get("WANDB_API_KEY") else "offline"
        )
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "xfer-bench"),
            name=str(run_dir),
            dir=str(run_dir),
            mode=mode,
            config=config,
            reinit="finish_previous",
            resume="allow",
            id=_wandb_id(run_dir),
        )

    # an observer of the training loop (benchmarks.training): steps, points, the end
    def on_steps(self, steps: float) -> None:
        """Nothing: wandb gets curve points only."""

    def on_point(self, point: dict[str, float]) -> None:
        self.run.log({k: v for k, v in point.items()}, step=int(point["env_steps"]))

    def on_finish(self, rows: list[dict[str, float]]) -> None:
        self.run.summary["final_return"] = rows[-1]["episode_return_mean"] if rows else None
        self.run.finish()


def _wandb_id(run_dir: Path) -> str:
    return hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:16]
