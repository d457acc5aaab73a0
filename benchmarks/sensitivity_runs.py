"""`xfer analyze afs|aps RUN_DIR`: sensitivity analyses of a trained progressive net."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from runstore.atomic import write_json
from runstore.rundir import RunDir

__all__ = ["collect_states", "afs_for_run", "aps_for_run"]


def _load(run_dir: Path) -> tuple[Any, dict]:
    from agents import ProgressiveNet, load_agent

    run = RunDir(run_dir)
    config = run.require_weights()
    net = load_agent(run.weights)
    if not isinstance(net, ProgressiveNet):
        raise ValueError(
            f"{run_dir}: AFS/APS are defined for progressive nets (columns), "
            f"not {type(net).__name__}"
        )
    return net.eval(), config


def collect_states(
    net: Any, task: str, states: int, episodes: int = 10, seed: int = 777
) -> tuple[torch.Tensor, dict[str, Any]]:
    """States visited by ``net``'s newest column playing ``task``, spread over episodes.

    Plays whole episodes with sampled actions and keeps up to ``ceil(states /
    episodes)`` states of each, drawn uniformly from all its steps (reservoir sampling),
    so the states represent the policy's whole episodes, not one stretch of one. At least
    ``episodes`` episodes are played, and more while fewer than ``states`` states are kept
    (short episodes, e.g. Catch's 9 steps); a surplus is thinned uniformly.

    Returns:
        ``(observations (N, C, H, W) uint8, spread)``; ``spread`` records the episodes
        played, the states kept from each and each episode's length.
    """
    from envs import make_env

    if states < 1 or episodes < 1:
        raise ValueError(f"need states >= 1 and episodes >= 1, got {states}, {episodes}")
    env = make_env(task, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    quota = -(-states // episodes)
    kept: list[tuple[int, np.ndarray]] = []  # (episode, observation)
    lengths: list[int] = []
    while len(lengths) < episodes or len(kept) < states:
        e = len(lengths)
        obs, _ = env.reset(seed=seed + e)
        reservoir: list[np.ndarray] = []
        t, done = 0, False
        while not done:
            if len(reservoir) < quota:
                reservoir.append(obs)
            else:
                j = int(rng.integers(0, t + 1))
                if j < quota:
                    reservoir[j] = obs
            t += 1
            x = torch.as_tensor(obs).permute(2, 0, 1).unsqueeze(0)
            with torch.no_grad():
                probs = torch.softmax(net(x).logits[0], -1)
            obs, _, term, trunc, _ = env.step(int(torch.multinomial(probs, 1, generator=gen)))
            done = term or trunc
        kept.extend((e, o) for o in reservoir)
        lengths.append(t)
    env.close()
    if len(kept) > states:
        keep = np.sort(rng.choice(len(kept), size=states, replace=False))
        kept = [kept[i] for i in keep]
    per_episode = np.bincount([e for e, _ in kept], minlength=len(lengths))
    spread = {
        "episodes": len(lengths),
        "states": len(kept),
        "states_per_episode": per_episode.tolist(),
        "episode_lengths": lengths,
    }
    observations = torch.as_tensor(np.stack([o for _, o in kept])).permute(0, 3, 1, 2)
    return observations, spread


def afs_for_run(run_dir: str | Path, states: int = 10_000, episodes: int = 20) -> dict[str, Any]:
    """AFS over ``states`` states from ``episodes`` episodes of the trained target policy.

    Writes ``afs.json`` (with the states' spread over episodes).
    """
    from analysis.sensitivity import average_fisher_sensitivity
    from benchmarks.evaluate import one_thread

    run_dir = Path(run_dir)
    net, run = _load(run_dir)
    with one_thread():  # see one_thread: 2 threads stall beside a training run
        obs, spread = collect_states(net, run["task"], states, episodes=episodes)
        result = average_fisher_sensitivity(net, obs)
    result.update(
        {"run": str(run_dir), "task": run["task"], "columns": net.num_columns, "spread": spread}
    )
    write_json(run_dir / "afs.json", result)
    return result


def aps_for_run(run_dir: str | Path, episodes: int = 10, iterations: int = 6) -> dict[str, Any]:
    """APS with ``episodes`` episodes per noise level (the paper: 10); writes ``aps.json``.

    The floor (the score APS halves towards) comes from the results root's floors, as in
    the report (:func:`analysis.floors.load_floors`); a missing one is an error. Each
    noise level's episodes are played side by side (one batched forward pass a step), on
    the same env seeds at every level, so levels differ by the noise, not by the episodes.
    """
    import time

    from analysis.floors import load_floors
    from analysis.sensitivity import average_perturbation_sensitivity
    from benchmarks.evaluate import one_thread, play_episodes_batched

    run_dir = Path(run_dir)
    net, run = _load(run_dir)
    root = run_dir.parents[2]
    floor = load_floors(root, {run["task"]})[run["task"]]

    def play(policy: Any) -> float:
        return float(np.mean(play_episodes_batched(policy, run["task"], episodes, seed=99)))

    started = time.time()
    with one_thread():  # see one_thread: 2 threads stall beside a training run
        obs, spread = collect_states(net, run["task"], 2_000, episodes=episodes)
        result = average_perturbation_sensitivity(
            net, play, obs, floor.value, iterations=iterations
        )
    result.update(
        {
            "run": str(run_dir),
            "task": run["task"],
            "episodes": episodes,
            "iterations": iterations,
            "seconds": round(time.time() - started, 1),
            "floor_source": floor.describe(),
            "spread": spread,
        }
    )
    write_json(run_dir / "aps.json", result)
    return result
