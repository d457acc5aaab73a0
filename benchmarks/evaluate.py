"""Score a trained agent on its task or another one (no Ray: torch and envs only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.atomic import write_json

__all__ = ["evaluate_run", "play_episodes"]


def play_episodes(
    policy: Any,
    task_id: str,
    episodes: int,
    seed: int = 12345,
    greedy: bool = False,
    max_steps: int = 100_000,
) -> list[float]:
    """Raw episode scores of ``policy`` (obs batch (1, C, H, W) uint8 -> AgentOutput)."""
    from envs import make_env

    if episodes < 1:
        raise ValueError(f"episodes must be positive, got {episodes}")
    env = make_env(task_id, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    scores = []
    for _ in range(episodes):
        obs, _ = env.reset()
        total, steps = 0.0, 0
        while True:
            x = torch.as_tensor(obs).permute(2, 0, 1).unsqueeze(0)
            with torch.no_grad():
                logits = policy(x).logits[0]
            if greedy:
                action = int(logits.argmax())
            else:
                action = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=gen))
            obs, reward, term, trunc, _ = env.step(action)
            total += float(reward)
            steps += 1
            if term or trunc or steps >= max_steps:
                break
        scores.append(total)
    env.close()
    return scores


def evaluate_run(
    run_dir: str | Path,
    episodes: int = 10,
    task: str | None = None,
    column: int | None = None,
    greedy: bool = False,
    seed: int = 12345,
) -> dict[str, Any]:
    """Score the agent of ``run_dir`` on ``task`` (default: the run's own task).

    For a progressive net evaluated on one of its source tasks, the column trained on
    that task is used (sources are in column order), unless ``column`` is given: that is
    how forgetting is measured (progressive nets cannot forget). A fine-tuned column is
    evaluated as it is; if the task's action count differs from its heads', that is an
    error. Writes ``eval_<task>.json`` in the run directory.
    """
    from agents import PathNet, ProgressiveNet, load_agent
    from envs import make_env

    run_dir = Path(run_dir)
    cfg_file = run_dir / "config.json"
    if not cfg_file.is_file() or not (run_dir / "agent.pt").is_file():
        raise FileNotFoundError(f"{run_dir} is not a finished run (no config.json / agent.pt)")
    run = json.loads(cfg_file.read_text())["run"]
    task = task or run["task"]
    agent = load_agent(run_dir / "agent.pt")
    agent.eval()
    num_actions = make_env(task).action_space.n
    if isinstance(agent, ProgressiveNet):
        if column is None:
            sources = list(run.get("sources", []))
            offset = agent.num_columns - 1 - len(sources)
            column = offset + sources.index(task) if task in sources and offset >= 0 else -1
        col_actions = agent.columns[column].num_actions
        if col_actions != num_actions:
            raise ValueError(f"column {column} has {col_actions} actions, {task} has {num_actions}")

        def policy(x: torch.Tensor) -> Any:
            return agent(x, column=column)
    elif isinstance(agent, PathNet):
        # readout i belongs to task i of the chain: sources in order, then the run's task
        sources = list(run.get("sources", []))
        index = sources.index(task) if task in sources else len(sources)
        if index >= len(agent.fixed_paths):
            raise ValueError(f"{run_dir}: no fixed path for {task}")
        path = torch.as_tensor(agent.fixed_paths[index])
        if agent.task_actions[index] != num_actions:
            raise ValueError(
                f"readout {index} has {agent.task_actions[index]} actions, {task} has {num_actions}"
            )

        def policy(x: torch.Tensor) -> Any:
            return agent(x, path, task=index)
    else:  # pragma: no cover - no other agent kinds
        raise ValueError(f"cannot evaluate {type(agent).__name__}")
    scores = play_episodes(policy, task, episodes, seed=seed, greedy=greedy)
    result = {
        "run": str(run_dir),
        "task": task,
        "episodes": episodes,
        "greedy": greedy,
        "column": column if isinstance(agent, ProgressiveNet) else None,
        "scores": scores,
        "mean": float(np.mean(scores)),
        "std": float(np.std(scores)),
    }
    write_json(run_dir / f"eval_{task.replace('/', '-')}.json", result)
    return result
