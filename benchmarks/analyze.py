"""`xfer analyze afs|aps RUN_DIR`: sensitivity analyses of a trained progressive net."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.atomic import write_json

__all__ = ["collect_states", "afs_for_run", "aps_for_run"]


def _load(run_dir: Path) -> tuple[Any, dict]:
    from agents import ProgressiveNet, load_agent

    cfg_file, weights = run_dir / "config.json", run_dir / "agent.pt"
    if not cfg_file.is_file() or not weights.is_file():
        raise FileNotFoundError(f"{run_dir} is not a finished run (no config.json / agent.pt)")
    net = load_agent(weights)
    if not isinstance(net, ProgressiveNet):
        raise ValueError(
            f"{run_dir}: AFS/APS are defined for progressive nets (columns), "
            f"not {type(net).__name__}"
        )
    return net.eval(), json.loads(cfg_file.read_text())["run"]


def collect_states(net: Any, task: str, states: int, seed: int = 777) -> torch.Tensor:
    """Observations visited by ``net``'s newest column playing ``task`` (sampled actions)."""
    from envs import make_env

    env = make_env(task, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    obs, _ = env.reset()
    out = []
    while len(out) < states:
        out.append(obs)
        x = torch.as_tensor(obs).permute(2, 0, 1).unsqueeze(0)
        with torch.no_grad():
            probs = torch.softmax(net(x).logits[0], -1)
        obs, _, term, trunc, _ = env.step(int(torch.multinomial(probs, 1, generator=gen)))
        if term or trunc:
            obs, _ = env.reset()
    return torch.as_tensor(np.stack(out)).permute(0, 3, 1, 2)


def afs_for_run(run_dir: str | Path, states: int = 10_000) -> dict[str, Any]:
    """AFS over ``states`` states of the trained target policy; writes ``afs.json``."""
    from analysis.sensitivity import average_fisher_sensitivity

    run_dir = Path(run_dir)
    net, run = _load(run_dir)
    obs = collect_states(net, run["task"], states)
    result = average_fisher_sensitivity(net, obs)
    result.update({"run": str(run_dir), "task": run["task"], "columns": net.num_columns})
    write_json(run_dir / "afs.json", result)
    return result


def aps_for_run(run_dir: str | Path, episodes: int = 10, iterations: int = 6) -> dict[str, Any]:
    """APS with ``episodes`` episodes per noise level (the paper: 10); writes ``aps.json``."""
    from analysis.sensitivity import average_perturbation_sensitivity
    from benchmarks.evaluate import play_episodes

    run_dir = Path(run_dir)
    net, run = _load(run_dir)
    root = run_dir.parents[2]
    floors = (
        json.loads((root / "floors.json").read_text()) if (root / "floors.json").is_file() else {}
    )
    floor = floors.get(run["task"], {}).get("floor", 0.0)

    def play(policy: Any) -> float:
        return float(np.mean(play_episodes(policy, run["task"], episodes, seed=99)))

    obs = collect_states(net, run["task"], 2_000)
    result = average_perturbation_sensitivity(net, play, obs, floor, iterations=iterations)
    result.update({"run": str(run_dir), "task": run["task"], "episodes": episodes})
    write_json(run_dir / "aps.json", result)
    return result
