"""Score a trained agent on its task or another one (no Ray: torch and envs only)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from runstore.atomic import write_json
from runstore.config import RunConfig
from runstore.rundir import FORGETTING_SEED, RunDir, eval_file

__all__ = [
    "FORGETTING_SEED",
    "action_summary",
    "evaluate_forgetting",
    "evaluate_run",
    "fixed_policy",
    "play_episodes",
    "play_episodes_batched",
    "task_actions",
]


class CannotPlayError(ValueError):
    """A run's network cannot play a task (a head with another action count, say): the
    message names the run and task, ``reason`` is the method's own words alone."""

    def __init__(self, run_dir: str | Path, task: str, reason: str) -> None:
        super().__init__(f"{run_dir} on {task}: {reason}")
        self.reason = reason


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one intra-op thread inside the block (restored after).

    Batch-1 and small-batch inference gains nothing from intra-op threads, and their
    spin-waits stall when the cores are busy (a training run beside it): on these 2
    cores, with a suite training beside it, collecting 300 Catch states took 28.5 s on 2
    threads and 0.74 s on one.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def fixed_policy(num_actions: int, action: int | None = None) -> Callable[[Any], Any]:
    """A policy that ignores what it sees: uniformly random over ``num_actions``, or,
    given ``action``, that action at every step (even when sampled).

    Example:
        >>> out = fixed_policy(3, action=2)(torch.zeros(4, 1, 84, 84))
        >>> out.logits.shape, out.logits.argmax(-1).tolist()
        (torch.Size([4, 3]), [2, 2, 2, 2])
    """
    if action is not None and not 0 <= action < num_actions:
        raise ValueError(f"action {action} is not one of {num_actions} actions")

    def policy(x: torch.Tensor) -> Any:
        logits = torch.zeros(x.shape[0], num_actions, device=x.device)
        if action is not None:
            logits.fill_(-math.inf)
            logits[:, action] = 0.0
        return SimpleNamespace(logits=logits)

    return policy


def play_episodes(
    policy: Any,
    task_id: str,
    episodes: int,
    seed: int = 12345,
    greedy: bool = False,
    max_steps: int = 100_000,
    action_counts: np.ndarray | None = None,
    env_overrides: dict[str, Any] | None = None,
) -> list[float]:
    """Raw episode scores of ``policy`` (obs batch (1, C, H, W) uint8 -> AgentOutput).

    ``action_counts`` (one integer slot per action), when given, gets one added at the
    index of every action taken: a policy that has collapsed onto one action shows as
    one slot holding nearly everything. ``env_overrides``: fields of the task's config
    (``make_env``'s overrides), e.g. ``{"noise_sigma": 8.0}``.
    """
    from envs import make_env

    if episodes < 1:
        raise ValueError(f"episodes must be positive, got {episodes}")
    env = make_env(task_id, seed=seed, **(env_overrides or {}))
    gen = torch.Generator().manual_seed(seed)
    scores = []
    try:
        with one_thread():
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
                    if action_counts is not None:
                        action_counts[action] += 1
                    obs, reward, term, trunc, _ = env.step(action)
                    total += float(reward)
                    steps += 1
                    if term or trunc or steps >= max_steps:
                        break
                scores.append(total)
    finally:
        env.close()
    return scores


def play_episodes_batched(
    policy: Any,
    task_id: str,
    episodes: int,
    seed: int = 12345,
    greedy: bool = False,
    max_steps: int = 100_000,
) -> list[float]:
    """Raw scores of ``episodes`` episodes played side by side, one forward pass a step.

    Episode ``i`` is played in its own env, made and reset with seed ``seed + i``; every
    step, the observations of the episodes still running go through ``policy`` as one
    batch ``(B, C, H, W)``. A greedy policy scores episode ``i`` exactly as
    ``play_episodes(policy, task_id, 1, seed=seed + i, greedy=True)`` does (tested); a
    sampling policy draws from one generator for the whole batch, so its draws differ.
    For analyses that play many episodes of long games (APS on Pong), where the batch
    costs little more than one observation's forward pass.
    """
    from envs import make_env

    if episodes < 1:
        raise ValueError(f"episodes must be positive, got {episodes}")
    envs = [make_env(task_id, seed=seed + i) for i in range(episodes)]
    gen = torch.Generator().manual_seed(seed)
    totals = [0.0] * episodes
    try:
        with one_thread():
            obs = [env.reset()[0] for env in envs]
            running = list(range(episodes))
            steps = 0
            while running:
                x = torch.as_tensor(np.stack([obs[i] for i in running])).permute(0, 3, 1, 2)
                with torch.no_grad():
                    logits = policy(x).logits
                if greedy:
                    actions = logits.argmax(-1)
                else:
                    actions = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)[:, 0]
                steps += 1
                still = []
                for i, a in zip(running, actions.tolist(), strict=True):
                    obs[i], reward, term, trunc, _ = envs[i].step(int(a))
                    totals[i] += float(reward)
                    if not (term or trunc or steps >= max_steps):
                        still.append(i)
                running = still
    finally:
        for env in envs:
            env.close()
    return totals


def action_summary(counts: np.ndarray, names: list[str] | None = None) -> dict[str, Any]:
    """How often each action was taken, and the share of the most frequent one.

    Example:
        >>> action_summary(np.array([1, 0, 3]), ["NOOP", "FIRE", "LEFT"])
        {'action_counts': [1, 0, 3], 'top_action': 'LEFT', 'top_action_share': 0.75}
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    top = int(counts.argmax())
    return {
        "action_counts": counts.tolist(),
        "top_action": names[top] if names is not None else top,
        "top_action_share": float(counts[top] / total) if total else float("nan"),
    }


def task_actions(task: str) -> tuple[int, list[str] | None]:
    """The task's action count and its action names where the env gives them (ALE, Catch,
    Labyrinth: ``get_action_meanings``), else None."""
    from envs import make_env

    env = make_env(task)
    try:
        meanings = getattr(env.unwrapped, "get_action_meanings", None)
        return int(env.action_space.n), list(meanings()) if callable(meanings) else None
    finally:
        env.close()


def evaluate_run(
    run_dir: str | Path,
    episodes: int = 10,
    task: str | None = None,
    column: int | None = None,
    greedy: bool = False,
    seed: int = 12345,
    source: bool = False,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Score the agent of ``run_dir`` on ``task`` (default: the run's own task).

    The run's own task is played by its newest part (the last column, path or head),
    even where the task is also one of its sources (the matrices' diagonal, pong after
    pong), unless ``source`` is set. Another of its source tasks is played by the part
    trained on it: for a progressive net the column trained on that task (sources are in
    column order), unless ``column`` is given; PathNet and DEN use that task's own
    readout or head (and DEN the units of that task). That is how forgetting is measured
    (progressive nets cannot forget). A fine-tuned column is evaluated as it is; if the
    task's action count differs from its heads', that is an error. Writes ``out``
    (default ``eval_<task>.json`` in the run directory, ``eval_greedy_<task>.json`` with
    ``greedy``, so the two protocols never overwrite each other).

    Raises:
        ValueError: ``source`` with a task that is not one of the run's sources, or a
            part whose action count is not the task's.
    """
    from agents import load_agent
    from methods import get_method
    from methods.base import TaskPart

    run_dir = Path(run_dir)
    run = RunDir(run_dir).require_weights()
    task = task or run["task"]
    sources = list(run.get("sources", []))
    if source and task not in sources:
        raise ValueError(f"{task} is not a source of {run_dir} (sources: {sources or 'none'})")
    agent = load_agent(RunDir(run_dir).weights)
    agent.eval()
    num_actions, action_names = task_actions(task)
    # task i of the chain (PathNet's readout i, DEN's head i): the sources in order, then
    # the run's own task, which its newest part plays unless ``source`` asks otherwise
    as_source = task in sources and (source or task != run["task"])
    index = sources.index(task) if as_source else len(sources)
    try:  # which part plays task i is the method's (methods/)
        policy, column = get_method(run["agent"]).task_policy(
            agent, TaskPart(index, as_source, len(sources), column, num_actions)
        )
    except ValueError as err:
        raise CannotPlayError(run_dir, task, str(err)) from None
    counts = np.zeros(num_actions, dtype=np.int64)
    scores = play_episodes(policy, task, episodes, seed=seed, greedy=greedy, action_counts=counts)
    result = {
        "run": str(run_dir),
        "task": task,
        "episodes": episodes,
        "greedy": greedy,
        "seed": seed,
        "part": "source" if as_source else "newest",
        "column": column,
        "scores": scores,
        "mean": float(np.mean(scores)),
        "std": float(np.std(scores)),
        **action_summary(counts, action_names),
    }
    write_json(Path(out) if out is not None else eval_file(run_dir, task, greedy), result)
    return result


def evaluate_forgetting(run_dir: str | Path, task: str, episodes: int) -> dict[str, Any]:
    """The forgetting protocol: ``episodes`` episodes of ``task`` with seed
    :data:`FORGETTING_SEED`, written to ``forgetting_<task>.json``.

    For a run whose own task is ``task`` (the source run: the "before") its newest part
    plays; for a run with ``task`` among its sources (a target run: the "after") the
    part trained on ``task`` plays, also on the diagonal (pong after pong). Both sides
    play the same episodes, so a network that still computes what the source run
    computed scores exactly the same, episode for episode, and every difference is
    forgetting, not the luck of other episodes.
    """
    run = RunDir(run_dir).read_run_config()
    return evaluate_run(
        run_dir,
        episodes=episodes,
        task=task,
        seed=FORGETTING_SEED,
        source=task in run.get("sources", []),
        out=RunDir(run_dir).forgetting_eval(task),
    )


# A curve point and an independent evaluation of the final weights disagree when their
# difference exceeds CHECK_Z combined standard errors, plus CHECK_REL of their size, plus
# how far the curve moved while the pooled episodes were being played (max - min of the
# means of the points whose windows overlap that time): the episodes pooled at the end of
# the curve come from a policy that was still learning, and a run that learns fast plays
# better at its final weights than their mean. An episode is played over its whole
# length, not only inside the window where it ends: with E envs sampling side by side,
# an episode of L agent steps spans about E * L agent steps of training, and L is the
# pooled windows' agent steps per finished episode. (A long Pong rally at 600k steps:
# L about 2,300, so with 16 envs an episode spans 37k steps, 2-3 windows before the
# pooled ones.) A curve that measures something else (a fragment, clipped rewards) is
# off by far more than it moves, and a flat one gets no slack at all.
CHECK_Z = 4.0
CHECK_REL = 0.1
CHECK_MIN_EPISODES = 3


def _played_from(envs: int, rows: list[dict], first_step: float, n: float) -> float:
    """The agent step at which the earliest pooled episode started (about).

    ``first_step`` is where the pooled windows begin and ``n`` their episodes; an episode
    spans ``envs * L`` agent steps of training, ``envs`` the run's envs sampling side by
    side (``RunConfig.parallel_envs``) and ``L`` the pooled windows' agent steps per
    finished episode.

    Example:
        >>> _played_from(16, [{"env_steps": 1000.0}, {"env_steps": 3000.0}], 1000.0, 16.0)
        -1000.0
    """
    steps = float(rows[-1]["env_steps"]) - first_step
    return first_step - envs * steps / max(n, 1.0)


# The replay check's rule (analysis.curvecheck): the final weights played through the
# training pipeline (learning off) and through the independent loop are two samples of
# one policy's scores, so their means may differ by REPLAY_Z combined standard errors and
# no more: no slack for learning, no relative slack. Its false-alarm rate and its power
# are measured on every committed run's scores there.
def _pool_curve_end(
    rows: list[dict[str, float]], episodes: int
) -> tuple[float, float, float, float | None]:
    """The newest curve points pooled back from the end until they hold ``episodes``
    episodes (a run's last window is often a short one): their episodes, sum, sum of
    squares (from each point's mean and std) and the step the first of them starts at."""
    pooled_n, pooled_sum, pooled_sq, first_step = 0.0, 0.0, 0.0, None
    for prev, row in reversed(list(zip([None, *rows[:-1]], rows, strict=True))):
        n = row["episodes"] - (prev["episodes"] if prev else 0.0)
        if n <= 0:
            continue
        mean = float(row["episode_return_mean"])
        std = float(row.get("episode_return_std", float("nan")))
        std = std if np.isfinite(std) else 0.0
        pooled_n += n
        pooled_sum += n * mean
        pooled_sq += n * (std * std + mean * mean)
        first_step = prev["env_steps"] if prev else 0.0
        if pooled_n >= episodes:
            break
    return pooled_n, pooled_sum, pooled_sq, first_step


def _curve_end_verdict(
    rows: list[dict[str, float]],
    run: dict[str, Any],
    curve_mean: float,
    curve_std: float,
    n: float,
    first_step: float | None,
    ev: dict[str, Any],
    episodes: int,
) -> dict[str, Any]:
    """The end of the curve against the evaluation: within the tolerance (standard
    errors, a relative slack and how far the pooled points moved: ``CHECK_Z``)?"""
    eval_mean, eval_std = float(ev["mean"]), float(ev["std"])
    se = curve_std**2 / n + eval_std**2 / episodes
    envs = RunConfig.from_dict(run).parallel_envs
    played_from = _played_from(envs, rows, float(first_step or 0.0), n)
    # every pooled point is in it (finite: each holds episodes); earlier points
    # without episodes may hold no mean
    played = [float(r["episode_return_mean"]) for r in rows if r["env_steps"] > played_from]
    moved = float(np.nanmax(played) - np.nanmin(played))
    tol = (
        CHECK_Z * float(np.sqrt(se)) + CHECK_REL * 0.5 * (abs(curve_mean) + abs(eval_mean)) + moved
    )
    ok = abs(curve_mean - eval_mean) <= tol + 1e-9
    return dict(
        ok=bool(ok),
        curve_env_steps=float(rows[-1]["env_steps"]),
        curve_from_env_steps=float(first_step or 0.0),
        curve_mean=curve_mean,
        curve_std=curve_std,
        curve_episodes=float(n),
        eval_mean=eval_mean,
        eval_std=eval_std,
        eval_episodes=episodes,
        curve_moved=moved,
        curve_played_from_env_steps=played_from,
        tolerance=tol,
        reason=(
            "agree"
            if ok
            else f"the end of the curve {curve_mean:.3f} (+- {curve_std:.3f}, {n:.0f} "
            f"episodes) disagrees with {episodes} evaluation episodes "
            f"{eval_mean:.3f} (+- {eval_std:.3f}) by more than {tol:.3f}"
        ),
    )


def check_curve(
    run_dir: str | Path,
    episodes: int = 20,
    seed: int = 777,
    write: bool = True,
    replay: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Compare the run's scoring pipeline with fresh rollouts of its final weights.

    With ``replay`` (what the training loop measured by playing the final weights
    through the training pipeline with learning off: ``episodes``, ``mean``, ``std``),
    the check compares like with like: the replay's mean against ``episodes`` episodes
    of the saved agent played without RLlib, within ``REPLAY_Z`` combined standard
    errors; that decides ``ok``. The end of the curve is compared too, as before
    (``curve_*`` fields), for the record. Without a replay (a run checked after the
    fact), the end of the curve decides, with the slack described below.

    The curve side pools the newest curve points (mean and standard deviation per
    point, weighted by their episodes) back from the end until they hold ``episodes``
    episodes. The curve comes from RLlib's sampling (whole episodes, all rollout fragments, raw
    scores); the evaluation plays ``episodes`` episodes of the saved agent, sampling
    from its policy as training does, in this process with ``make_env`` and no RLlib.
    If the two disagree beyond the tolerance (standard errors, a relative slack and how
    far the pooled points moved: see ``CHECK_Z``), ``ok`` is False: the curve measured
    something other than the game's score. Writes ``curve_check.json``.

    Returns:
        ``{"ok": bool | None, "curve_mean", "curve_std", "curve_episodes",
        "eval_mean", "eval_std", "eval_episodes", "tolerance", "reason"}``; ``ok`` is
        None (skipped) when the last windows hold fewer than ``CHECK_MIN_EPISODES``
        episodes or the agent is a PathNet (its curve averages a population of paths).
    """

    from methods import get_method

    run_dir = Path(run_dir)
    run = RunDir(run_dir).read_run_config()
    rows = RunDir(run_dir).read_curve()
    result: dict[str, Any] = {"ok": None, "reason": ""}
    pooled_n, pooled_sum, pooled_sq, first_step = _pool_curve_end(rows, episodes)
    if not get_method(run.get("agent", "scratch")).checks_curve:
        result["reason"] = (
            f"skipped: a {run['agent']} curve does not measure the saved network "
            "(PathNet's averages the population's paths)"
        )
    elif pooled_n < CHECK_MIN_EPISODES:
        result["reason"] = f"skipped: fewer than {CHECK_MIN_EPISODES} episodes in a window"
    else:
        n = pooled_n
        curve_mean = pooled_sum / n
        curve_std = float(np.sqrt(max(pooled_sq / n - curve_mean * curve_mean, 0.0)))
        ev = evaluate_run(run_dir, episodes=episodes, seed=seed)
        result.update(
            _curve_end_verdict(rows, run, curve_mean, curve_std, n, first_step, ev, episodes)
        )
    if replay is not None and get_method(run.get("agent", "scratch")).checks_curve:
        result = _replay_verdict(run_dir, result, replay, episodes, seed)
    if write:
        write_json(RunDir(run_dir).curve_check, result)
    return result


def _replay_verdict(
    run_dir: Path, curve: dict[str, Any], replay: dict[str, float], episodes: int, seed: int
) -> dict[str, Any]:
    """The replay check's result; the curve-end comparison kept under ``curve_end``."""
    out: dict[str, Any] = {
        "method": "replay",
        "curve_end": dict(curve),
        "replay_episodes": float(replay["episodes"]),
        "replay_mean": float(replay["mean"]),
        "replay_std": float(replay["std"]),
        "replay_dropped_episodes": float(replay.get("dropped_episodes", 0.0)),
    }
    n_r = float(replay["episodes"])
    if not n_r >= CHECK_MIN_EPISODES:
        out.update(
            ok=None,
            reason=f"skipped: the replay finished {n_r:.0f} episodes (< {CHECK_MIN_EPISODES})",
        )
        return out
    if "eval_mean" in curve:  # the curve-end comparison already played the episodes
        eval_mean, eval_std = float(curve["eval_mean"]), float(curve["eval_std"])
    else:
        ev = evaluate_run(run_dir, episodes=episodes, seed=seed)
        eval_mean, eval_std = float(ev["mean"]), float(ev["std"])
    from analysis.curvecheck import disagrees, tolerance

    r_mean, r_std = float(replay["mean"]), float(replay["std"])
    tol = tolerance(r_std, n_r, eval_std, episodes)
    ok = not disagrees(r_mean, r_std, n_r, eval_mean, eval_std, episodes)
    out.update(
        ok=bool(ok),
        eval_mean=eval_mean,
        eval_std=eval_std,
        eval_episodes=episodes,
        tolerance=tol,
        reason=(
            "agree"
            if ok
            else f"the training pipeline's replay of the final weights {replay['mean']:.3f} "
            f"(+- {replay['std']:.3f}, {n_r:.0f} episodes) disagrees with {episodes} "
            f"independent episodes {eval_mean:.3f} (+- {eval_std:.3f}) by more than {tol:.3f}"
        ),
    )
    return out
