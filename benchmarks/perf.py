"""The performance benchmark (`xfer perf`, `make perf`): prints a table, writes JSON.

Every figure is measured in one process, in interleaved rounds where two things are
compared, so that machine noise hits both alike: compare ratios, not absolute numbers
taken on different days.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "env_throughput",
    "network_rounds",
    "round_ratio",
    "training_throughput",
    "raw_ale_throughput",
    "pipeline_comparison",
    "compute_bound",
    "bracketed_training_throughput",
    "afs_timing",
    "run_perf",
]


def _steps_per_second(env: Any, seconds: float, rng: np.random.Generator) -> tuple[int, float]:
    n, start = 0, time.perf_counter()
    actions = rng.integers(env.action_space.n, size=4096)
    while time.perf_counter() - start < seconds:
        _, _, term, trunc, _ = env.step(int(actions[n % 4096]))
        n += 1
        if term or trunc:
            env.reset()
    return n, time.perf_counter() - start


def _raw_ale_pong() -> Any:
    """ALE Pong, frame skip 4, RGB, no sticky actions, no preprocessing: the emulator alone."""
    from ale_py.env import AtariEnv

    return AtariEnv(game="pong", obs_type="rgb", frameskip=4, repeat_action_probability=0.0)


def env_throughput(
    tasks: list[str], seconds: float = 3.0, rounds: int = 3, include_raw_ale: bool = True
) -> dict[str, float]:
    """Agent steps/s of each task on one core (interleaved rounds, order rotated).

    ``raw_ale/pong`` is ALE Pong with frame skip 4 and no preprocessing (the emulator alone).
    """
    from envs import make_env

    envs: dict[str, Any] = {t: make_env(t, seed=0) for t in tasks}
    if include_raw_ale:
        envs["raw_ale/pong"] = _raw_ale_pong()
    for env in envs.values():
        env.reset(seed=0)
    totals = {k: [0, 0.0] for k in envs}
    rng = np.random.default_rng(0)
    names = list(envs)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            n, t = _steps_per_second(envs[name], seconds, rng)
            totals[name][0] += n
            totals[name][1] += t
    return {k: n / t for k, (n, t) in totals.items()}


def round_ratio(rounds: dict[str, list[float]], model: str, base: str) -> float:
    """Median over rounds of ``model``'s time / ``base``'s time in the same round.

    Both ran back to back in each round, so a burst of load on a shared machine hits
    both; this is steadier than the ratio of the two medians.
    """
    return statistics.median(a / b for a, b in zip(rounds[model], rounds[base], strict=True))


def network_rounds(batch: int = 32, repeats: int = 20, threads: int = 1) -> dict[str, list[float]]:
    """Forward+backward seconds per model and round (models interleaved in each round)."""
    import torch

    from agents import PathNet, PathNetConfig, random_path
    from methods import build_agent

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    obs = torch.randint(0, 256, (batch, 4, 84, 84), dtype=torch.uint8)
    models: dict[str, Callable[[], Any]] = {}
    for k in (1, 2, 3, 4):
        net = build_agent("progressive", 6, num_columns=k)
        models[f"progressive-{k}col"] = lambda net=net: net(obs)
    pathnet = PathNet(PathNetConfig(), 6)
    rng = np.random.default_rng(0)
    one = torch.as_tensor(random_path(rng, pathnet.config))
    many = torch.as_tensor(np.stack([random_path(rng, pathnet.config) for _ in range(batch)]))
    models["pathnet-1path"] = lambda: pathnet(obs, one)
    models[f"pathnet-{batch}paths"] = lambda: pathnet(obs, many)
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(repeats + 2):
        for name, forward in models.items():
            start = time.perf_counter()
            out = forward()
            (out.logits.sum() + out.value.sum()).backward()
            times[name].append(time.perf_counter() - start)
    return {k: v[2:] for k, v in times.items()}


def _throughput_config(
    task: str, agent: str, steps: int, sources: tuple[str, ...] = (), **overrides: Any
) -> Any:
    from runstore.config import RunConfig

    return RunConfig(
        task=task,
        agent=agent,
        sources=sources,
        steps=steps,
        wandb=False,
        curve_window=max(steps // 10, 500),
        **overrides,
    )


def training_throughput(
    task: str,
    agent: str,
    steps: int,
    sources: tuple[str, ...] = (),
    root: str | None = None,
    **overrides: Any,
) -> dict[str, float]:
    """Training agent steps/s of one run with the default local settings.

    Measured between the first and the last curve point, so Ray start-up and the
    algorithm build are not counted (they are reported separately as ``startup_s``).
    """
    from benchmarks.training import train
    from runstore.rundir import RunDir

    root = root or tempfile.mkdtemp(prefix="xfer-perf-")
    cfg = _throughput_config(task, agent, steps, sources, **overrides)
    start = time.time()
    run_dir = train(cfg, root, log=lambda *_: None)
    rows = RunDir(run_dir).read_curve()
    first, last = rows[0], rows[-1]
    rate = (last["env_steps"] - first["env_steps"]) / max(
        last["wall_time"] - first["wall_time"], 1e-9
    )
    from runstore.rundir import RunDir

    status = RunDir(run_dir).read_status()
    sampled = float(status.get("rllib_env_steps_sampled_lifetime") or 0.0)
    # RLlib's learner connector appends one bootstrap step to every episode chunk
    # (AddOneTsToEpisodesAndTruncate) and counts it as trained: a rollout fragment of
    # L steps is counted L + 1 times (one more where an episode ends inside it, rare on
    # Pong). Undo that so about 1.0 means every sampled step was trained.
    trained = float(status.get("rllib_env_steps_trained_lifetime") or 0.0)
    trained *= cfg.rollout_length / (cfg.rollout_length + 1)
    lag = status.get("policy_lag_updates")
    return {
        "steps_per_s": rate,
        "frames_per_s": rate * last["frames"] / last["env_steps"],
        "total_s": time.time() - start,
        "startup_s": first["wall_time"] - first["env_steps"] / rate,
        "trained_per_sampled": trained / sampled if sampled else float("nan"),
        "policy_lag_updates": float("nan") if lag is None else float(lag),
    }


def raw_ale_throughput(seconds: float = 3.0) -> float:
    """Agent steps/s of raw ALE Pong (frame skip 4, RGB, no preprocessing) on one core."""
    return env_throughput([], seconds, 1, include_raw_ale=True)["raw_ale/pong"]


PIPELINE_AGENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("1 column", "scratch", ()),
    ("2 columns", "progressive", ("pong_soup/pong",)),
    ("4 columns", "progressive", ("pong_soup/hflip", "pong_soup/noisy", "pong_soup/pong")),
    ("PathNet", "pathnet", ()),
)


def _pipeline_task(sources: tuple[str, ...]) -> str:
    """The task a :data:`PIPELINE_AGENTS` agent trains on: progressive nets a target."""
    return "pong_soup/white" if sources else "pong_soup/pong"


# RLlib's own sampler: its connectors, weight sync and requests in flight, and a 20 ms
# sampler wait (the baseline the suite's sampler is measured against)
_RLLIB_SAMPLER = {
    "lean_connectors": False,
    "state_server": True,
    "requests_in_flight": 1,
    "sampler_wait_s": 0.02,
}
PIPELINES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("python", {"native_env": False, **_RLLIB_SAMPLER}),
    ("native", {"native_env": True, **_RLLIB_SAMPLER}),
    ("lean", {"native_env": True, **_RLLIB_SAMPLER, "lean_connectors": True}),
    ("default", {"native_env": True}),
    ("queued", {"native_env": True, "requests_in_flight": 2}),
)
"""The sampling pipelines :func:`pipeline_comparison` times: Python envs with RLlib's
connectors and sampler settings; ale-py's C++ vector env, still
with RLlib's; the C++ env with the lean connectors; the suite's defaults (the C++ env,
lean connectors, weights pushed by the driver, a 10 ms sampler wait); and the defaults
with two sample requests in flight per runner (``--requests-in-flight 2``)."""


def pipeline_comparison(
    steps: int = 20_000,
    agents: tuple[tuple[str, str, tuple[str, ...]], ...] = PIPELINE_AGENTS,
    root: str | None = None,
    log: Callable[[str], None] = print,
    pipelines: tuple[tuple[str, dict[str, Any]], ...] = PIPELINES,
    **overrides: Any,
) -> dict[str, dict[str, float]]:
    """The sampling pipelines of :data:`PIPELINES`, back to back, per agent.

    For each agent, raw ALE Pong is timed on one core, then the run trains once per
    pipeline (same seed, same steps), then raw ALE is timed again. Reported per
    pipeline: training (sampled) agent steps/s, its ratio to the mean raw-ALE speed,
    the learner's trained / sampled steps, and the policy lag in learner updates
    (RLlib's ``diff_num_grad_updates_vs_sampler_policy``, mean over the run's
    iterations: what a faster pipeline may cost in staleness). ``speedup`` is the
    ``default`` pipeline's sampled steps/s over the first's (the last's when there is
    no ``default``).
    Progressive sources are trained first (outside the timing).
    """
    from benchmarks.runner import train_with_sources
    from runstore.config import source_config

    root = root or tempfile.mkdtemp(prefix="xfer-pipelines-")
    out: dict[str, dict[str, float]] = {}
    for label, agent, sources in agents:
        task = _pipeline_task(sources)
        if sources:
            source = source_config(_throughput_config(task, agent, steps, sources, **overrides))
            train_with_sources(source, root, log=lambda *_: None, use_zoo=False)
        raw_before = raw_ale_throughput()
        runs = {}
        for name, settings in pipelines:
            runs[name] = training_throughput(
                task, agent, steps, sources, root=root, tag=name, **settings, **overrides
            )
        raw = (raw_before + raw_ale_throughput()) / 2
        row = {"raw_ale_steps_per_s": raw}
        for name, _ in pipelines:
            t = runs[name]
            trained = t["steps_per_s"] * t["trained_per_sampled"]
            row[f"{name}_steps_per_s"] = t["steps_per_s"]
            row[f"{name}_ratio_to_raw"] = t["steps_per_s"] / raw
            row[f"{name}_trained_steps_per_s"] = trained
            row[f"{name}_trained_ratio_to_raw"] = trained / raw
            row[f"{name}_trained_per_sampled"] = t["trained_per_sampled"]
            row[f"{name}_policy_lag_updates"] = t["policy_lag_updates"]
            log(
                f"{label + ' (' + task + ')':<34}{name:<8}{raw:>9.0f}"
                f"{t['steps_per_s']:>9.0f}{t['steps_per_s'] / raw:>7.2f}"
                f"{trained:>9.0f}{trained / raw:>7.2f}{t['trained_per_sampled']:>7.3f}"
                f"{t['policy_lag_updates']:>6.1f}"
            )
        names = [name for name, _ in pipelines]
        first, last = names[0], "default" if "default" in names else names[-1]
        row["speedup"] = row[f"{last}_steps_per_s"] / row[f"{first}_steps_per_s"]
        out[label] = row
        log(f"{'':<34}{last} / {first} sampled: {row['speedup']:.2f}")
    return out


PIPELINE_HEADER = (
    f"{'agent (task)':<34}{'pipeline':<8}{'raw ALE':>9}{'sampled':>9}{'ratio':>7}"
    f"{'trained':>9}{'ratio':>7}{'tr/sa':>7}{'lag':>6}"
)


COMPUTE_BOUND_AGENTS: tuple[str, ...] = tuple(label for label, _, _ in PIPELINE_AGENTS)


def _bound_net(agent: str, sources: tuple[str, ...]) -> tuple[Any, Callable[[Any], Any]]:
    """(network, forward(obs)) of a :data:`PIPELINE_AGENTS` agent, 6 actions.

    Progressive nets get one random frozen column per source (the cost does not depend
    on the weights).
    """
    import torch

    from agents import PathNet, random_path
    from methods import build_agent

    net = build_agent(agent, 6, num_columns=len(sources) + 1) if sources else build_agent(agent, 6)
    if isinstance(net, PathNet):
        # a runner plays one path; the learner trains each runner's rows on its path
        path = torch.as_tensor(random_path(np.random.default_rng(0), net.config))
        return net, lambda obs: net(obs, path)
    return net, net


def _seconds_per_step(fn: Callable[[], Any], steps: int, seconds: float) -> float:
    """Seconds per agent step of ``fn`` (which does ``steps`` of them), timed for about
    ``seconds`` after one warm-up call."""
    fn()  # warm
    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < seconds:
        fn()
        n += 1
    return (time.perf_counter() - start) / n / steps


def _bound_row(
    parts: dict[str, tuple[Callable[[], Any], int]], rounds: int, seconds: float, cores: int
) -> dict[str, float]:
    """:func:`compute_bound`'s figures for one agent: each part timed in turn for
    ``rounds`` rounds, medians of the times and of their ratios to raw ALE per round."""
    times: dict[str, list[float]] = {k: [] for k in parts}
    for _ in range(rounds):
        for name, (fn, steps) in parts.items():
            times[name].append(_seconds_per_step(fn, steps, seconds))
    raw_t = np.array(times["raw"])
    total = sum(np.array(times[k]) for k in ("env", "forward", "learn"))
    row = {f"{k}_s": float(np.median(v)) for k, v in times.items()}
    for k in ("env", "forward", "learn"):
        row[f"{k}_x_raw"] = float(np.median(np.array(times[k]) / raw_t))
    row["total_x_raw"] = float(np.median(total / raw_t))
    row["ideal_ratio_to_raw"] = float(np.median(cores * raw_t / total))
    return row


def _network_parts(
    agent: str,
    sources: tuple[str, ...],
    obs_runner: Any,
    obs_learner: Any,
    num_envs: int,
    train_batch: int,
) -> dict[str, tuple[Callable[[], Any], int]]:
    """:func:`compute_bound`'s network parts for one agent, with the agent steps each
    call does: the runner's forward pass of ``obs_runner`` and one learner update
    (forward, backward, RMSProp step) of ``obs_learner``."""
    import torch

    net, forward = _bound_net(agent, sources)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.RMSprop(params, lr=7e-4, alpha=0.99, eps=1e-5)

    def act() -> None:
        with torch.no_grad():
            forward(obs_runner)

    def learn() -> None:
        res = forward(obs_learner)
        opt.zero_grad()
        (res.logits.sum() + res.value.sum()).backward()
        opt.step()

    return {"forward": (act, num_envs), "learn": (learn, train_batch)}


def compute_bound(
    agents: tuple[str, ...] = COMPUTE_BOUND_AGENTS,
    cores: int = 2,
    num_envs: int = 8,
    train_batch: int = 160,
    rollout_length: int = 20,
    rounds: int = 5,
    seconds: float = 1.0,
) -> dict[str, dict[str, float]]:
    """The fastest training any sampler could reach: the work every agent step needs.

    Times, alternating in one process on one core, per agent step: raw ALE Pong (frame
    skip 4, RGB, no preprocessing); the suite's env (ale-py's C++ vector env of
    ``num_envs`` plus the task's pixels and frame stack; the task
    :func:`pipeline_comparison` trains the agent on); the runner's forward pass of
    ``num_envs`` observations; and one learner update (forward, backward and RMSProp
    step of a batch of ``train_batch`` rows plus one bootstrap row per fragment) shared
    by its ``train_batch`` agent steps. With no other cost (no RLlib bookkeeping, no
    transfers, no idle core) ``cores`` cores train at ``cores / (env + forward +
    learn)`` agent steps/s; ``ideal_ratio_to_raw`` is that over raw ALE on one core,
    the ceiling for the pipeline benchmark's ratio. Each part runs for about
    ``seconds`` per round; each figure is the median over ``rounds`` of its ratio to
    raw ALE in the same round.

    Returns:
        Per agent label: ``raw_s``, ``env_s``, ``forward_s``, ``learn_s`` (seconds per
        agent step, medians), the same as ``*_x_raw`` ratios, ``total_x_raw`` and
        ``ideal_ratio_to_raw``.
    """
    import torch

    from envs.tasks import make_native_vector_env

    specs = {label: (agent, sources) for label, agent, sources in PIPELINE_AGENTS}
    unknown = [label for label in agents if label not in specs]
    if unknown:
        raise ValueError(f"unknown agents {unknown}; choose from {list(specs)}")
    if cores < 1 or num_envs < 1 or train_batch < 1 or rollout_length < 1 or rounds < 1:
        raise ValueError("cores, num_envs, train_batch, rollout_length and rounds must be >= 1")
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    raws = [_raw_ale_pong() for _ in range(num_envs)]
    for e in raws:
        e.reset(seed=0)
    envs: dict[str, Any] = {}

    def raw() -> None:
        for e, a in zip(raws, rng.integers(0, 6, num_envs), strict=True):
            _, _, term, trunc, _ = e.step(int(a))
            if term or trunc:
                e.reset()

    rows = train_batch + -(-train_batch // rollout_length)
    obs_runner = torch.randint(0, 256, (num_envs, 4, 84, 84), dtype=torch.uint8)
    obs_learner = torch.randint(0, 256, (rows, 4, 84, 84), dtype=torch.uint8)
    out: dict[str, dict[str, float]] = {}
    try:
        for label in agents:
            agent, sources = specs[label]
            task = _pipeline_task(sources)
            if task not in envs:
                envs[task] = make_native_vector_env(task, num_envs=num_envs)
                envs[task].reset(seed=0)
            env = envs[task]
            parts = {
                "raw": (raw, num_envs),
                "env": (lambda env=env: env.step(rng.integers(0, 6, num_envs)), num_envs),
                **_network_parts(agent, sources, obs_runner, obs_learner, num_envs, train_batch),
            }
            out[label] = _bound_row(parts, rounds, seconds, cores)
    finally:
        for env in envs.values():
            env.close()
        for e in raws:
            e.close()
    return out


def bracketed_training_throughput(
    task: str,
    agent: str,
    steps: int,
    sources: tuple[str, ...] = (),
    root: str | None = None,
    env_seconds: float = 3.0,
    **overrides: Any,
) -> dict[str, float]:
    """:func:`training_throughput` with the task's raw env speed measured around it.

    The env (one core, random actions) is timed just before and just after the run, so
    the ratio compares the two under the same machine load; on a shared machine speeds
    drift by +-20% over minutes. ``ratio_to_env`` = training steps/s / mean env steps/s.
    """
    before = env_throughput([task], env_seconds, 1, include_raw_ale=False)[task]
    t = training_throughput(task, agent, steps, sources, root=root, **overrides)
    after = env_throughput([task], env_seconds, 1, include_raw_ale=False)[task]
    env = (before + after) / 2
    return {
        **t,
        "env_before": before,
        "env_after": after,
        "env_steps_per_s": env,
        "ratio_to_env": t["steps_per_s"] / env,
    }


def afs_timing(states: int = 10_000, columns: int = 2) -> float:
    """Seconds to compute AFS over ``states`` states for a ``columns``-column net."""
    import torch

    from analysis.sensitivity import average_fisher_sensitivity
    from methods import build_agent

    torch.manual_seed(0)
    net = build_agent("progressive", 6, num_columns=columns)
    obs = torch.randint(0, 256, (states, 4, 84, 84), dtype=torch.uint8)
    start = time.perf_counter()
    average_fisher_sensitivity(net, obs)
    return time.perf_counter() - start


def run_perf(json_path: str | None = None, train_steps: int = 20_000, quick: bool = False) -> dict:
    """Every performance figure of ``xfer perf`` in one run (env speed per variant,
    network timings, training throughput, AFS speed); prints a table and writes JSON."""
    from envs import SOUP_VARIANTS

    seconds, rounds = (2.0, 2) if quick else (3.0, 3)
    result: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    from envs import TASKS

    labyrinth = [t for t in TASKS if t.startswith("labyrinth/")]
    env = env_throughput([f"pong_soup/{v}" for v in SOUP_VARIANTS] + labyrinth, seconds, rounds)
    result["env_steps_per_s"] = env
    print(f"{'environment':<22}{'agent steps/s':>14}{'ratio to pong':>15}")
    for name, sps in env.items():
        print(f"{name:<22}{sps:>14.0f}{sps / env['pong_soup/pong']:>15.3f}")
    rounds = network_rounds(repeats=20 if quick else 40)
    nets = {k: statistics.median(v) for k, v in rounds.items()}
    ratios = {k: round_ratio(rounds, k, "progressive-1col") for k in rounds}
    result["forward_backward_s"] = nets
    result["forward_backward_ratio_to_1col"] = ratios
    print(f"\n{'network (batch 32)':<22}{'fwd+bwd ms':>14}{'ratio to 1col':>15}")
    for name, t in nets.items():
        print(f"{name:<22}{t * 1e3:>14.2f}{ratios[name]:>15.2f}")
    afs_states = 1_000 if quick else 10_000
    result["afs_s"] = {"states": afs_states, "seconds": afs_timing(afs_states)}
    print(f"\nAFS over {afs_states} states (2 columns): {result['afs_s']['seconds']:.2f} s")
    result["training"] = {}
    print(
        f"\n{'training (env measured just before and after)':<46}"
        f"{'env steps/s':>12}{'train steps/s':>14}{'ratio':>7}"
    )
    root = tempfile.mkdtemp(prefix="xfer-perf-")
    agents = [
        ("scratch", "scratch", (), {}),
        ("progressive-2col", "progressive", ("pong_soup/pong",), {}),
    ]
    if not quick:
        agents += [
            ("progressive-3col", "progressive", ("pong_soup/noisy", "pong_soup/pong"), {}),
            (
                "progressive-4col",
                "progressive",
                ("pong_soup/hflip", "pong_soup/noisy", "pong_soup/pong"),
                {},
            ),
            ("pathnet", "pathnet", (), {}),
        ]
    for label, agent, sources, extra in agents:
        task = "pong_soup/pong" if not sources else "pong_soup/white"
        if sources:  # train the sources first, so the env bracket holds this run alone
            from benchmarks.runner import train_with_sources
            from runstore.config import source_config

            source = source_config(_throughput_config(task, agent, train_steps, sources, **extra))
            train_with_sources(source, root, log=lambda *_: None, use_zoo=False)
        t = bracketed_training_throughput(task, agent, train_steps, sources, root=root, **extra)
        result["training"][label] = t
        print(
            f"{label + ' on ' + task:<46}{t['env_steps_per_s']:>12.0f}"
            f"{t['steps_per_s']:>14.0f}{t['ratio_to_env']:>7.3f}"
        )
    if json_path:
        from runstore.atomic import write_json

        write_json(json_path, result)
        print(f"\nwrote {json_path}")
    return result


if __name__ == "__main__":
    print(json.dumps(run_perf(quick=True), indent=2))
