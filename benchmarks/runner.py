"""Run a suite at a budget: sources first, then targets; resume; report at the end.

Layout under the results root::

    <root>/plan.json         the suite, budget and every planned run (for the report)
    <root>/floors.json       random-policy scores per task (the transfer floor)
    <root>/sweeps.json       every sweep on the root: its commit, wall time and end
    <root>/<target>/<agent>[_from_<sources>]/seed<N>[_job<j>]/   one run (see training)
    <root>/report/           index.html, report.md, figures, transfer_matrix.csv

Independent runs of a wave (sources of depth 0, then 1, ..., then targets) go to Ray
Tune when the cluster has room for more than one at a time; on a small machine they
run one after another in this process.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.budgets import PAPER_SPACE, Budget, get_budget
from benchmarks.progress import Progress
from benchmarks.suites import Cell, Suite, get_suite
from benchmarks.trainer import TrainerFactory
from methods import get_method
from runstore.admission import AdmissionError, admit
from runstore.atomic import write_json
from runstore.config import RunConfig, pending_evaluations, run_dir_for, source_config
from runstore.rundir import RunDir, SuiteLock
from runstore.sweeplog import SweepLog

__all__ = [
    "plan_runs",
    "run_suite",
    "train_with_sources",
    "measure_floors",
    "FLOOR_EPISODES",
    "SuiteIncompleteError",
    "seeds_for",
]

# Random-policy episodes per task for the floor (Catch episodes are 9 steps long). The
# standard error (std / sqrt(episodes)) is stored with each floor and shown in the report:
# on Pong a random policy scores -20.2 +- 0.6 (SE about 0.2 over 10 episodes, on a
# 42-point scale).
FLOOR_EPISODES = {"catch_soup": 500, "pong_soup": 10, "atari": 10, "labyrinth": 10}
# episodes of each single action held for whole episodes (floors.json's constant); Catch's
# are 9 steps long and its ball column random, so it gets many
CONSTANT_EPISODES = {"catch_soup": 300, "pong_soup": 3, "atari": 3, "labyrinth": 3}


def _job_config(
    cell: Cell,
    steps: int,
    job: int,
    base: dict[str, Any],
    method_settings: dict[str, Any],
    seed: int = 0,
    source_seed: int | None = None,
    source_steps: int | None = None,
    tuned: dict[str, float] | None = None,
) -> RunConfig:
    # the budget's settings of a method's own fields (PathNet's population) apply to the
    # cells of methods that own them; then the suite's tuned settings of the cell's agent
    own = get_method(cell.agent).fields
    extra = {k: v for k, v in method_settings.items() if k in own} | dict(tuned or {})
    cfg = RunConfig(
        task=cell.target,
        agent=cell.agent,
        sources=cell.sources,
        steps=steps,
        seed=seed + job,  # jobs > 1 (the paper budget) have one seed each
        source_seed=source_seed,  # one shared source run (a zoo column), if the budget says
        source_steps=source_steps if cell.sources else None,
        # what the user gave (base) wins over the budget's PathNet settings
        **{**extra, **base},
    )
    if job == 0:
        return cfg
    rng = np.random.default_rng(10_007 * job + 17)
    sampled = {k: float(rng.choice(v)) for k, v in PAPER_SPACE.items()}
    return replace(cfg, tag=f"job{job}", **sampled)


def seeds_for(budget: Budget, domain: str, seeds: int | None = None) -> int:
    """Seeds per cell: ``seeds`` if given (checked), else the budget's for ``domain``."""
    if seeds is None:
        return budget.seeds_for(domain)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    if seeds > 1 and budget.jobs > 1:
        raise ValueError(
            f"budget {budget.name!r} samples hyperparameters per job ({budget.jobs} jobs per "
            f"cell, top {budget.top_k}); --seeds applies to budgets with one job per cell"
        )
    return seeds


def plan_runs(
    suite: Suite, budget: Budget, base: dict[str, Any] | None = None, seeds: int | None = None
) -> tuple[list[list[RunConfig]], list[dict[str, Any]]]:
    """Waves of runs (each wave's runs are independent) and the cell of every target job.

    Each cell gets ``seeds`` seeds (default: the budget's) at the default
    hyperparameters, or, with several jobs per cell (the paper budget), job 0 at the
    defaults and jobs 1.. sampled from the paper's space. Source runs are shared by every
    cell that needs them at the same seed (sources use the defaults).
    """
    base = dict(base or {})
    steps = budget.steps_for(suite.domain)
    n_seeds = seeds_for(budget, suite.domain, seeds)
    cells = suite.cells_for(budget.name, budget.reduced, budget.row)
    targets: list[RunConfig] = []
    manifest: list[dict[str, Any]] = []
    for cell in cells:
        for seed in range(n_seeds):
            for job in range(budget.jobs):
                cfg = _job_config(
                    cell,
                    steps,
                    job,
                    base,
                    budget.method_settings,
                    seed,
                    budget.source_seed.get(suite.domain),
                    budget.source_steps_for(suite.domain),
                    suite.tuned.get(cell.agent),
                )
                targets.append(cfg)
                manifest.append(
                    {
                        "agent": cell.agent,
                        "label": cell.label,
                        "target": cell.target,
                        "sources": list(cell.sources),
                        "job": job,
                        "seed": cfg.seed,
                        "config": cfg.to_dict(),
                    }
                )
    depth: dict[RunConfig, int] = {}

    def visit(cfg: RunConfig) -> int:
        src = source_config(cfg)
        d = 0 if src is None else visit(src) + 1
        depth[cfg] = max(depth.get(cfg, 0), d)
        return d

    for cfg in targets:
        visit(cfg)
    waves: list[list[RunConfig]] = []
    seen: set[str] = set()
    for d in range(max(depth.values(), default=-1) + 1):
        wave = []
        for cfg in sorted((c for c, dd in depth.items() if dd == d), key=lambda c: str(c)):
            key = str(run_dir_for("", cfg))
            if key not in seen:
                seen.add(key)
                wave.append(cfg)
        waves.append(wave)
    return waves, manifest


def measure_floors(tasks: list[str], root: Path, log: Any = print) -> dict[str, float]:
    """Mean score of a uniformly random policy per task, cached in ``root/floors.json``,
    and beside it what holding each single action scores (``constant``: a reference, not
    the floor; a score a policy earns without seeing, road_runner's LEFT say). A cached
    entry without ``constant`` gets it added; its random floor is kept."""
    from benchmarks.evaluate import fixed_policy, play_episodes, task_actions
    from envs import get_task

    path = root / "floors.json"
    floors = json.loads(path.read_text()) if path.is_file() else {}
    for task in tasks:
        entry = floors.get(task)
        if entry is not None and "constant" in entry:
            continue
        n, names = task_actions(task)
        names = names or [str(a) for a in range(n)]
        domain = get_task(task).domain
        if entry is None:
            episodes = FLOOR_EPISODES.get(domain, 10)
            scores = play_episodes(fixed_policy(n), task, episodes, seed=2024)
            entry = {
                "floor": float(np.mean(scores)),
                "episodes": episodes,
                "std": float(np.std(scores)),
                "se": float(np.std(scores) / np.sqrt(episodes)),
                "policy": "uniform random",
            }
            log(f"floor {task}: {entry['floor']:.3f} over {episodes} random episodes")
        held = CONSTANT_EPISODES.get(domain, 3)
        means = {
            names[a]: float(np.mean(play_episodes(fixed_policy(n, a), task, held, seed=2024)))
            for a in range(n)
        }
        best = max(means, key=lambda a: means[a])
        every = len(set(means.values())) == 1
        entry["constant"] = {
            "episodes": held,
            "means": means,
            "best_action": "every action" if every else best,
            "best": means[best],
        }
        log(
            f"constant {task}: holding {entry['constant']['best_action']} scores "
            f"{means[best]:.3f} (the best of {n} actions)"
        )
        floors[task] = entry
        write_json(path, floors)
    return {t: floors[t]["floor"] for t in tasks}


def _after_run(
    cfg: RunConfig,
    root: Path,
    eval_episodes: int,
    log: Any,
    aps_episodes: int = 10,
    aps_iterations: int = 6,
) -> None:
    """The run's evaluation on its own task, forgetting evaluations (a target run and
    its source run on the last source, one protocol for both) and the method's analyses
    (progressive: AFS and APS, ``aps_episodes`` episodes per noise level). An analysis
    already on disk is kept; a run whose weights are not on disk (a published results
    folder) gets no new analysis, and the log says so."""
    run_dir = run_dir_for(root, cfg)
    if RunDir(run_dir).read_status().get("state") != "done":
        return
    from benchmarks.evaluate import CannotPlayError, evaluate_forgetting, evaluate_run

    missing = pending_evaluations(run_dir, cfg, eval_episodes)
    if "eval" in missing:
        evaluate_run(run_dir, episodes=eval_episodes, task=cfg.task)
    if cfg.sources:
        source = cfg.sources[-1]
        src_dir = run_dir_for(root, source_config(cfg))
        for side in (src_dir, run_dir):  # before, after
            side_run = RunDir(side)
            if side_run.read_status().get("state") != "done":
                continue
            if side_run.has_forgetting_eval(source, eval_episodes):
                continue  # kept: this protocol's (a shared source's, say)
            if not side_run.weights.is_file():  # a published folder keeps none
                log(f"no forgetting evaluation for {side}: its weights are not on disk")
                continue
            try:
                evaluate_forgetting(side, source, eval_episodes)
            except CannotPlayError as err:  # e.g. heads replaced for another action count
                out = side_run.forgetting_eval(source)
                write_json(out, {"task": source, "error": str(err), "reason": err.reason})
    analyses = [a for a in get_method(cfg.agent).analyses if a in missing]
    if analyses and not RunDir(run_dir).weights.is_file():
        log(f"no {'/'.join(analyses).upper()} for {run_dir}: its weights are not on disk")
        return
    if "afs" in analyses:
        from benchmarks.sensitivity_runs import afs_for_run

        afs_for_run(run_dir, states=1_000, episodes=10)
    if "aps" in analyses:
        from benchmarks.sensitivity_runs import aps_for_run

        started = time.time()
        aps_for_run(run_dir, episodes=aps_episodes, iterations=aps_iterations)
        log(f"APS {run_dir.relative_to(root)}: {time.time() - started:.0f} s")


def _concurrency(parallel: int | None, env_runners: int) -> int:
    """Runs at a time: ``parallel`` if given, else what the Ray cluster has room for."""
    if parallel is not None:
        if parallel < 1:
            raise ValueError(f"parallel must be >= 1, got {parallel}")
        return parallel
    address = os.environ.get("RAY_ADDRESS")
    if not address:
        return 1  # one machine: a run already uses its cores (learner + env runners)
    from benchmarks.rllib.algo import ensure_ray

    cpus = ensure_ray(address).get("CPU", 1)
    return max(1, int(cpus // (1 + env_runners)))


def train_with_sources(
    cfg: RunConfig,
    root: str | Path,
    log: Any = print,
    use_zoo: bool = True,
    trainer_factory: TrainerFactory | None = None,
) -> Path:
    """Train ``cfg`` and, first, every unfinished run of its source chain; its run dir.

    ``use_zoo``: a missing *source* run is copied from the shipped zoo when a zoo run has
    its identity (:mod:`benchmarks.zoo`) instead of being trained; ``cfg`` itself is
    always trained.
    """
    from benchmarks.runsetup import check_sources_observe_alike
    from benchmarks.training import train
    from benchmarks.zoo import take_from_zoo

    check_sources_observe_alike(cfg)  # before any source trains
    chain = []
    src = source_config(cfg)
    while src is not None:
        chain.append(src)
        src = source_config(src)
    for src in reversed(chain):  # the first column first
        src_dir = run_dir_for(root, src)
        if RunDir(src_dir).read_status().get("state") == "done":
            continue
        if use_zoo and take_from_zoo(src, root, log):
            continue
        log(f"source run {src_dir} is missing or unfinished: training it first")
        restore_source_weights(src, root, log)
        train(src, root, log, trainer_factory=trainer_factory)
    restore_source_weights(cfg, root, log)
    return train(cfg, root, log, trainer_factory=trainer_factory)


def restore_source_weights(cfg: RunConfig, root: Path, log: Any = print) -> None:
    """Put back the weights of ``cfg``'s finished source run when it is a zoo column
    published without them (``docs/results`` keeps no ``agent.pt``); ``train`` then
    finds them on disk (:func:`benchmarks.zoo.restore_zoo_weights`)."""
    src = source_config(cfg)
    if src is None:
        return
    src_dir = run_dir_for(root, src)
    if RunDir(src_dir).read_status().get("state") == "done":
        from benchmarks.zoo import restore_zoo_weights

        restore_zoo_weights(src, src_dir, log)


class SuiteIncompleteError(RuntimeError):
    """A suite ended with runs failed or unfinished (the report was still written)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} run(s) failed or unfinished; rerun the same command to retry "
            "them: " + "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
        )


# how often a suite looks again at a run another process is training (seconds)
HELD_POLL_S = 10.0


def _train_waiting(
    cfg: RunConfig, root: Path, log: Any, trainer_factory: TrainerFactory | None
) -> None:
    """Train ``cfg``; while another live process holds it, wait for that process (it is
    training the same run), then take it over: its run is then done or resumable."""
    from benchmarks.runsetup import RunHeldError
    from benchmarks.training import train

    restore_source_weights(cfg, root, log)
    told = 0.0
    while True:
        try:
            train(cfg, root, log=lambda *_: None, trainer_factory=trainer_factory)
            return
        except RunHeldError as err:
            if time.time() - told > 60:
                log(f"waiting: {err}")
                told = time.time()
            time.sleep(HELD_POLL_S)


def _is_done(root: Path, cfg: RunConfig) -> bool:
    return RunDir(run_dir_for(root, cfg)).read_status().get("state") == "done"


def _check_reuse(root: Path, runs: list[RunConfig]) -> int:
    """How many of ``runs`` are finished under ``root``; an error, before anything
    trains, when a finished one may not be reused (another config, or damaged:
    :func:`runstore.admission.admit`)."""
    from benchmarks.runsetup import TrainingError

    done = [c for c in runs if _is_done(root, c)]
    refused = []
    for c in done:
        try:
            admit(c, RunDir(run_dir_for(root, c)))
        except AdmissionError as err:
            refused.append(str(err))
    if refused:
        raise TrainingError(
            f"{root} holds finished runs this suite may not reuse: "
            + "; ".join(refused[:3])
            + (f" and {len(refused) - 3} more" if len(refused) > 3 else "")
        )
    return len(done)


def source_budget_line(budget: Budget, domain: str) -> str:
    """What a suite's source runs train for: the budget's own source steps, or (said as
    such) the targets' step count; a matching shipped zoo column stands in either way."""
    steps, target = budget.source_steps_for(domain), budget.steps_for(domain)
    why = (
        "the budget's source budget"
        if domain in budget.source_steps
        else "the targets' step count: this budget gives sources no budget of their own"
    )
    return (
        f"source runs: {steps:,} agent steps each ({why}; targets {target:,}), or the "
        "shipped zoo column where one matches"
    )


def matrix_notes(suite: Suite, budget: Budget) -> str:
    """The plan's note on the suite's matrices: the suite's own (its reduced and full
    matrices), led, under a row budget, by what the row trains (a reader of the row's
    report must not read the reduced matrix's targets as the row's)."""
    if not (budget.row and suite.row):
        return suite.notes
    targets = sorted({c.target.split("/", 1)[1] for c in suite.row})
    sources = sorted({s.split("/", 1)[1] for c in suite.row for s in c.sources})
    agents = list(dict.fromkeys(c.agent for c in suite.row))
    row = (
        f"row (this budget's): first column on {', '.join(sources)}; all {len(targets)} "
        f"targets ({', '.join(targets)}); agents {', '.join(agents)}. "
    )
    return row + suite.notes


def _write_plan(root: Path, suite: Suite, budget: Budget, manifest: list[dict], seeds: int) -> None:
    write_json(
        root / "plan.json",
        {
            "suite": suite.name,
            "domain": suite.domain,
            "budget": budget.name,
            "budget_notes": budget.notes,
            "suite_notes": matrix_notes(suite, budget),
            # the paper's protocol reports its top jobs; seeds are all averaged
            "top_k": budget.top_k if budget.jobs > 1 else seeds,
            "jobs": budget.jobs,
            "seeds": seeds,
            # the one source seed every seed's target starts from (None: each its own)
            "source_seed": budget.source_seed.get(suite.domain),
            "source_steps": budget.source_steps_for(suite.domain),
            "cells": manifest,
        },
    )


def run_suite(
    suite_name: str,
    budget_name: str,
    root: str | Path,
    base: dict[str, Any] | None = None,
    eval_episodes: int | None = None,
    log: Any = print,
    report: bool = True,
    parallel: int | None = None,
    use_zoo: bool = True,
    trainer_factory: TrainerFactory | None = None,
    seeds: int | None = None,
) -> Path:
    """Plan, train (resuming), evaluate and report a suite. Returns the results root.

    ``seeds``: seeds per cell (default: the budget's, :meth:`Budget.seeds_for`).

    ``parallel``: runs at a time (default: 1 on one machine; with ``RAY_ADDRESS``, what
    the cluster has room for). More than one goes through Ray Tune.
    ``use_zoo``: a source run that no target cell needs as a result of its own is copied
    from the shipped zoo when one has its identity (``--train-sources`` turns it off).
    ``trainer_factory``: what trains each run (default RLlib; tests pass a fake one).

    One suite at a time uses a results root (:class:`runstore.rundir.SuiteLock`); a run
    that another process (an ``xfer train``) holds is waited for, never counted failed.

    Raises:
        SuiteLockedError: another live suite is using ``root``.
        SuiteIncompleteError: at the end (after the report), when runs failed or are
            unfinished; it names them.
    """
    from benchmarks.runsetup import provenance

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    commit = provenance()["git_commit"]
    with SuiteLock(root, log=log), SweepLog(root, suite_name, budget_name, commit) as sweep:
        return _run_suite_locked(
            suite_name,
            budget_name,
            root,
            base,
            eval_episodes,
            log,
            report,
            parallel,
            use_zoo,
            trainer_factory,
            seeds,
            sweep,
        )


class _Tally:
    """A suite's count of finished runs, shown as a bar on a terminal or as log lines
    (elapsed time and an ETA from the runs trained so far)."""

    def __init__(
        self, total: int, done_before: int, name: str, log: Any, sweep: SweepLog | None = None
    ) -> None:
        self.total, self.finished, self.trained = total, done_before, 0
        self.sweep = sweep  # told of every run that ends (sweeps.json: the sweep's time)
        self.started = time.time()
        self.bar = Progress(total, name, unit="run", initial=done_before)
        self.log = self.bar.writer(log)

    def batch(self, n: int) -> None:
        """``n`` runs trained together (a Ray Tune wave)."""
        self.finished += n
        self.trained += n
        if self.sweep:
            for _ in range(n):
                self.sweep.run_ended(trained=True)
        self.bar.update_to(self.finished)
        if not self.bar.active:
            self.log(
                f"{self.finished}/{self.total} runs  {_hms(time.time() - self.started)} elapsed"
            )

    def one(self, name: str, trained: bool) -> None:
        """The run ``name`` ended (trained, or failed)."""
        self.finished += 1
        self.trained += trained
        if self.sweep:
            self.sweep.run_ended(trained)
        self.bar.update_to(self.finished, last=name)
        if not self.bar.active:
            elapsed = time.time() - self.started
            eta = elapsed / max(self.trained, 1) * (self.total - self.finished)
            filled = int(30 * self.finished / self.total)
            self.log(
                f"[{'#' * filled}{'.' * (30 - filled)}] {self.finished}/{self.total} runs  "
                f"{_hms(elapsed)} elapsed  ETA {_hms(eta)}  ({name})"
            )

    def close(self) -> None:
        self.bar.close()


def _run_suite_locked(
    suite_name: str,
    budget_name: str,
    root: Path,
    base: dict[str, Any] | None,
    eval_episodes: int | None,
    log: Any,
    report: bool,
    parallel: int | None,
    use_zoo: bool,
    trainer_factory: TrainerFactory | None,
    seeds: int | None,
    sweep: SweepLog | None = None,
) -> Path:
    from benchmarks.runsetup import TrainingError
    from benchmarks.zoo import take_from_zoo

    suite, budget = get_suite(suite_name), get_budget(budget_name)
    waves, manifest = plan_runs(suite, budget, base, seeds)
    n_seeds = seeds_for(budget, suite.domain, seeds)
    eval_episodes = eval_episodes or (50 if suite.domain == "catch_soup" else 3)
    _write_plan(root, suite, budget, manifest, n_seeds)
    targets = sorted({m["target"] for m in manifest} | {c.task for w in waves for c in w})
    measure_floors(targets, root, log)
    all_runs = [c for w in waves for c in w]
    total = len(all_runs)
    done_before = _check_reuse(root, all_runs)
    log(
        f"{suite.name} at budget {budget.name}: {total} runs in {len(waves)} wave(s), "
        f"{done_before} already done"
    )
    log(source_budget_line(budget, suite.domain))
    tally = _Tally(total, done_before, suite.name, log, sweep)
    log = tally.log
    concurrency = _concurrency(parallel, max((c.env_runners for c in all_runs), default=1))
    target_dirs = {run_dir_for(root, RunConfig.from_dict(m["config"])) for m in manifest}
    for index, wave in enumerate(waves):
        todo = [c for c in wave if not _is_done(root, c)]
        if use_zoo:
            shipped = [
                c
                for c in todo
                if run_dir_for(root, c) not in target_dirs and take_from_zoo(c, root, log)
            ]
            tally.finished += len(shipped)
            todo = [c for c in todo if c not in shipped]
        if concurrency > 1 and len(todo) > 1:
            log(f"wave {index}: {len(todo)} runs through Ray Tune, {concurrency} at a time")
            from benchmarks.rllib.sweep import run_wave_with_tune

            run_wave_with_tune(todo, root, concurrency, index, train_for_tune)
            tally.batch(len(todo))
            todo = []
        for cfg in todo:
            try:
                _train_waiting(cfg, root, log, trainer_factory)
            except TrainingError as err:
                log(f"FAILED {err}")
                tally.one(str(run_dir_for(root, cfg).relative_to(root)), trained=False)
            else:
                tally.one(str(run_dir_for(root, cfg).relative_to(root)), trained=True)
        for cfg in wave:
            _after_run(
                cfg,
                root,
                eval_episodes,
                log,
                budget.aps_episodes_for(suite.domain),
                budget.aps_iterations_for(suite.domain),
            )
    tally.close()
    if report:
        _report(root, log)
    problems = _unfinished(root, all_runs)
    if problems:
        raise SuiteIncompleteError(problems)
    return root


def _unfinished(root: Path, runs: list[RunConfig]) -> list[str]:
    """``<run dir>: <state> (<reason>)`` for every run of the suite that is not done."""
    out = []
    for cfg in runs:
        status = RunDir(run_dir_for(root, cfg)).read_status()
        if status.get("state") != "done":
            why = f" ({status['reason']})" if status.get("reason") else ""
            out.append(f"{run_dir_for(root, cfg)}: {status.get('state', 'missing')}{why}")
    return out


def _report(root: Path, log: Any) -> None:
    from analysis.report import build_report, scan_damage

    for damaged in scan_damage(root):
        log(f"DAMAGED {damaged}: listed in the report, its run shown as missing or empty")
    out = build_report(root, allow_damaged=True)
    log(f"report: {out / 'index.html'}")
    log((out / "table1.txt").read_text())


def train_for_tune(run: dict[str, Any], root: str) -> str | None:
    """One Tune trial's run (``benchmarks.rllib.sweep``): None when it finished, else
    why not. A run another process holds is waited for, as in the sequential path."""
    from benchmarks.runsetup import TrainingError

    try:
        _train_waiting(RunConfig.from_dict(run), Path(root), lambda *_: None, None)
    except TrainingError as err:
        return str(err)
    return None


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
