"""`xfer plan SUITE --budget B`: what a sweep will cost before it starts.

Prints the runs, the total agent steps and frames, and an estimated wall time on the
cluster it would run on (``RAY_ADDRESS``, else this machine):

- per-run speed: with ``--out``, what the finished runs in that folder measured
  (:func:`measured_speed`); else a short calibration run (a 1-column scratch run on the
  suite's first task with the suite's settings) measured *on that cluster*, cached in
  ``~/.cache/xfer-bench/throughput.json`` per cluster (address, CPUs, GPUs) and domain,
  with this machine's load when it started (a calibration beside other work is slower,
  and the plan says so);
- slower networks: multi-column and PathNet runs are scaled by the training-speed ratios
  measured on 2 cores (1 column 1.0, 2 columns 0.74, 4 columns 0.56, PathNet 0.47;
  3 columns interpolated 0.65), so the estimate is an estimate;
- concurrency: runs at a time, as the runner would start them (1 locally; on a cluster
  its CPUs / (env runners + 1));
- a fixed per-run overhead for Ray start-up, the final checks and evaluations.

Waves run one after the other (sources before targets), so a wave's time is its runs'
time divided by the concurrency, but never less than its slowest run.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from runstore.atomic import write_json

__all__ = [
    "SPEED_FACTORS",
    "RUN_OVERHEAD_S",
    "estimate",
    "measured_speed",
    "plan_text",
    "cache_path",
]

# training speed of a run relative to a 1-column run (measured on 2 cores by xfer perf:
# 0.34, 0.25, 0.19 and 0.16 of one raw-emulator core)
SPEED_FACTORS = {1: 1.0, 2: 0.74, 3: 0.65, 4: 0.56, "pathnet": 0.47}
# Ray start-up, algorithm build, curve check and evaluations of one run, seconds
RUN_OVERHEAD_S = 60.0
CALIBRATION_STEPS = 20_000


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xfer-bench" / "throughput.json"


def _columns(cfg: Any) -> int | str:
    """The :data:`SPEED_FACTORS` key of a run (its method's ``plan_speed_key``)."""
    from methods import get_method

    return get_method(cfg.agent).plan_speed_key(cfg)


def estimate(
    runs: list[list[Any]], steps_per_s: float, concurrency: int, frames_per_step: int
) -> dict[str, Any]:
    """Totals and the estimated wall time of ``runs`` (waves of RunConfigs).

    Args:
        runs: waves of run configs, in order.
        steps_per_s: training agent steps/s of a 1-column run on the cluster.
        concurrency: runs at a time.
        frames_per_step: emulator frames per agent step (4 on the ALE domains).

    Example:
        >>> from runstore.config import RunConfig
        >>> one = RunConfig(task="catch_soup/pong", steps=1000)
        >>> estimate([[one, one]], 100.0, 1, 1)["wall_s"]  # 2 x (10 s + 60 s)
        140.0
    """
    if steps_per_s <= 0 or concurrency < 1:
        raise ValueError("steps_per_s must be > 0 and concurrency >= 1")
    wall = 0.0
    total_steps = 0
    for wave in runs:
        times = []
        for cfg in wave:
            factor = SPEED_FACTORS.get(_columns(cfg), SPEED_FACTORS[4])
            times.append(cfg.steps / (steps_per_s * factor) + RUN_OVERHEAD_S)
            total_steps += cfg.steps
        if times:
            wall += max(sum(times) / concurrency, max(times))
    return {
        "runs": sum(len(w) for w in runs),
        "waves": len(runs),
        "agent_steps": total_steps,
        "frames": total_steps * frames_per_step,
        "wall_s": wall,
        "concurrency": concurrency,
        "steps_per_s": steps_per_s,
    }


def _cluster_key(address: str | None) -> tuple[str, dict[str, float]]:
    from benchmarks.rllib.algo import ensure_ray

    resources = ensure_ray(address)
    cpus, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
    return f"{address or 'local'}|cpus={cpus:g}|gpus={gpus:g}", resources


def calibrated_speed(
    domain: str, task: str, base: dict[str, Any], address: str | None, calibrate: bool
) -> tuple[float | None, str]:
    """1-column training steps/s on this cluster for ``domain``: cached or measured now."""
    key, resources = _cluster_key(address)
    path = cache_path()
    cache: dict[str, Any] = {}
    if path.is_file():
        try:
            cache = json.loads(path.read_text())
        except json.JSONDecodeError:
            cache = {}
    entry = cache.get(key, {}).get(domain)
    if entry:
        return float(entry["steps_per_s"]), (
            f"cached calibration of {entry['measured']}{_busy_note(entry)}; delete {path} "
            "to re-measure"
        )
    if not calibrate:
        return None, "no calibration cached for this cluster (run without --no-calibrate)"
    from benchmarks.perf import training_throughput

    settings = {k: v for k, v in base.items() if k in ("env_runners", "envs_per_runner")}
    # this machine's load when the calibration starts: a run sharing the cores with other
    # work measures a slower speed, and the estimate built on it says so
    load = None if address else os.getloadavg()[0]
    measured = training_throughput(task, "scratch", CALIBRATION_STEPS, **settings)
    rate = float(measured["steps_per_s"])
    entry = {
        "steps_per_s": rate,
        "task": task,
        "measured": time.strftime("%Y-%m-%d %H:%M", time.gmtime()) + " UTC",
    }
    if load is not None:
        entry |= {"load_before": round(load, 2), "cpus": float(resources.get("CPU", 0))}
    cache.setdefault(key, {})[domain] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, cache)
    return rate, (
        f"calibrated now ({CALIBRATION_STEPS:,} steps of scratch on {task}){_busy_note(entry)}"
    )


# a calibration that starts with this machine's 1-min load above this share of its CPUs
# is flagged: it shared the cores with other work, and measured them slower
BUSY_LOAD_SHARE = 0.25


def _busy_note(entry: dict[str, Any]) -> str:
    """Words for a calibration measured while this machine was busy ('' when it was not,
    or when its load was not recorded)."""
    load, cpus = entry.get("load_before"), entry.get("cpus")
    if load is None or not cpus or load <= BUSY_LOAD_SHARE * cpus:
        return ""
    return (
        f", measured while this machine was busy (1-min load {load:.1f} on {cpus:g} CPUs): "
        "the estimate is likely too long"
    )


def measured_speed(root: Path, domain: str) -> tuple[float | None, str]:
    """The 1-column training speed the finished runs under ``root`` measured in
    ``domain``: each run's agent steps over its training wall time, divided by its
    network's :data:`SPEED_FACTORS` entry, and the median over runs (None when there is
    no such run). Shipped zoo columns restored into the folder are left out (their time
    is not this folder's)."""
    from runstore.config import RunConfig
    from runstore.rundir import RunDir

    speeds = []
    for path in sorted(root.glob("*/*/seed*/status.json")):
        run = RunDir(path.parent)
        status = run.read_status()
        steps, wall = status.get("env_steps"), status.get("wall_time")
        if status.get("state") != "done" or not steps or not wall or run.zoo_marker.is_file():
            continue
        try:
            cfg = RunConfig.from_dict(run.read_run_config())
        except (OSError, KeyError, TypeError, ValueError):
            continue
        if cfg.task.split("/", 1)[0] == domain:
            speeds.append(steps / wall / SPEED_FACTORS.get(_columns(cfg), SPEED_FACTORS[4]))
    if not speeds:
        return None, ""
    speeds.sort()
    mid = len(speeds) // 2
    median = speeds[mid] if len(speeds) % 2 else (speeds[mid - 1] + speeds[mid]) / 2
    return median, (
        f"median of {len(speeds)} finished run(s) in {root}, each scaled to 1 column by "
        "its network's factor"
    )


def _reuse(root: Path, waves: list[list[Any]]) -> tuple[list[list[Any]], list[str]]:
    """The waves without the runs finished under ``root`` that a sweep into it reuses,
    and the lines that say so, naming the finished runs it would refuse (another config,
    or damaged: ``runstore.admission.admit``'s reason), on which the sweep would stop."""
    from runstore.admission import AdmissionError, admit
    from runstore.config import run_dir_for
    from runstore.rundir import RunDir

    reused, refused = [], []
    for cfg in (c for w in waves for c in w):
        run = RunDir(run_dir_for(root, cfg))
        if run.read_status().get("state") != "done":
            continue
        try:
            admit(cfg, run)
        except AdmissionError as err:
            refused.append(str(err))
        else:
            reused.append(cfg)
    lines = [f"{len(reused)} finished run(s) in {root} reused, not counted"]
    lines += _sweeps_line(root)
    lines += [f"refused (xfer bench would stop here): {r}" for r in refused[:3]]
    if len(refused) > 3:
        lines.append(f"... and {len(refused) - 3} more finished run(s) refused")
    return [[c for c in w if c not in reused] for w in waves], lines


def _sweeps_line(root: Path) -> list[str]:
    """What the sweeps recorded in ``root`` cost so far (``sweeps.json``), if any."""
    from runstore.sweeplog import sweep_time

    t = sweep_time(root)
    if not t.pieces:
        return []
    running = f", {t.open} still open" if t.open else ""
    return [
        f"sweeps so far into {root}: {t.pieces} piece(s){running}, {_hours(t.seconds)} of "
        f"wall time, {t.trained} run(s) trained (sweeps.json)"
    ]


def _hours(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "n/a"
    h, rem = divmod(int(seconds), 3600)
    return f"{h}h{rem // 60:02d}m"


def plan_text(
    suite_name: str,
    budget_name: str,
    base: dict[str, Any] | None = None,
    address: str | None = None,
    calibrate: bool = True,
    parallel: int | None = None,
    use_zoo: bool = True,
    seeds: int | None = None,
    out: str | Path | None = None,
) -> str:
    """The plan of a sweep, as printed by ``xfer plan`` and the first lines of a sweep
    (``seeds``: per cell, default the budget's). With ``out`` (the results folder ``xfer
    bench`` would train into) its finished runs that the sweep reuses are not counted,
    and those it would refuse are named (the sweep would stop on them)."""
    from benchmarks.budgets import get_budget
    from benchmarks.runner import _concurrency, plan_runs, seeds_for
    from benchmarks.suites import get_suite
    from benchmarks.zoo import find_zoo_run
    from envs import get_task
    from runstore.config import RunConfig, run_dir_for

    suite, budget = get_suite(suite_name), get_budget(budget_name)
    base = dict(base or {})
    waves, manifest = plan_runs(suite, budget, base, seeds)
    targets = {str(run_dir_for("", RunConfig.from_dict(m["config"]))) for m in manifest}
    # source runs a shipped zoo column stands in for are not trained (xfer bench's rule)
    shipped = [
        c
        for w in waves
        for c in w
        if use_zoo
        and str(run_dir_for("", c)) not in targets
        and find_zoo_run(c, log=lambda *_: None)
    ]
    waves = [[c for c in w if c not in shipped] for w in waves]
    waves, reuse_lines = _reuse(Path(out), waves) if out else (waves, [])
    waves = [w for w in waves if w]
    runs = [c for w in waves for c in w]
    if not runs:
        return "\n".join([f"{suite.name} at budget {budget.name}: nothing to train", *reuse_lines])
    first = runs[0].task
    frames = get_task(first).frames_per_step
    address = address or os.environ.get("RAY_ADDRESS")
    env_runners = max((c.env_runners for c in runs), default=1)
    if address:
        os.environ.setdefault("RAY_ADDRESS", address)
    concurrency = _concurrency(parallel, env_runners)
    speed, source = measured_speed(Path(out), suite.domain) if out else (None, "")
    if speed is None:
        speed, source = calibrated_speed(suite.domain, first, base, address, calibrate)
    from benchmarks.runner import source_budget_line

    lines = [
        f"{suite.name} at budget {budget.name}: {len(runs)} runs to train in {len(waves)} "
        f"wave(s) ({len(manifest)} target runs; {seeds_for(budget, suite.domain, seeds)} "
        f"seed(s) x {budget.jobs} job(s) per cell"
        + (f"; {len(shipped)} source run(s) from the zoo" if shipped else "")
        + ")",
        source_budget_line(budget, suite.domain),
        *reuse_lines,
    ]
    if speed is None:
        total = sum(c.steps for c in runs)
        lines.append(f"agent steps {total:,}, frames {total * frames:,}")
        lines.append(f"estimated wall time: unknown: {source}")
        return "\n".join(lines)
    est = estimate(waves, speed, concurrency, frames)
    lines += [
        f"agent steps {est['agent_steps']:,}, frames {est['frames']:,}",
        f"cluster: {address or 'this machine (embedded Ray)'}; {concurrency} run(s) at a time",
        f"1-column training speed: {speed:,.0f} agent steps/s ({source})",
        f"estimated wall time: {_hours(est['wall_s'])} (multi-column and PathNet runs scaled "
        f"by {SPEED_FACTORS}; {RUN_OVERHEAD_S:.0f} s overhead per run)",
    ]
    return "\n".join(lines)
