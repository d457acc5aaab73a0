"""The training loop of one run: iterations, curve, checkpoints, resume, the finished
run's files (Ray imported lazily; what the run needs before the loop starts is
:mod:`benchmarks.runsetup`, whether it may start :mod:`runstore.admission`).

A run directory holds:

- ``config.json``: the fully resolved :class:`RunConfig`, git commit, package versions;
- ``curve.csv``: ``env_steps, frames, episodes, episode_return_mean, episode_return_std,
  wall_time``, one row per window of ``curve_window`` env steps; ``episode_return_mean``
  is the mean raw score of the whole episodes (every rollout fragment of them) that
  finished in the window (the paper's curve point), ``episode_return_std`` their
  standard deviation (both NaN, "nothing measured", when no episode finished in the
  window: means and AUCs over seeds use measured points only);
- ``curve_check.json``: the newest curve points (pooled to ``check_episodes``
  episodes) against an independent evaluation of the final weights (no RLlib); a
  disagreement fails the run;
- ``agent.pt``: the trained network (``torch.load(..., weights_only=True)``);
- ``status.json``: ``running`` (with a heartbeat, pid and host), ``done`` or ``failed``
  (with the reason);
- ``checkpoint/``: the RLlib algorithm state for resuming, with the driver's progress
  (``xfer_progress.json``) inside it (module weights travel to later runs through
  ``agent.pt``, never through this checkpoint; resuming executes its pickles);
- ``.lock``: held while a process trains the run (``runstore.rundir``);
- ``pathnet.json`` (PathNet): the population, whole-episode counts and fitness, and the
  fixed best path;
- ``den.json`` (DEN): the phase transitions (selected, added, pruned and split units,
  the expansion test's score) and the network's units per layer per task.

Every file is written atomically and the checkpoint is swapped in atomically (a kill at
any step resumes from the newest complete checkpoint). Re-running the same run resumes
from it and truncates the curve to it (no gap, no duplicate point); a finished run is
left alone if its config matches (else a clear error); an interrupted run may be given
another step budget (more steps, or an earlier end; ``config.json`` lists the budgets it
had under ``extended``). A budget at or below the steps its checkpoint holds ends the run
there without training more: its weights are the checkpoint's, its curve the points up
to the checkpoint's window plus that window's episodes as the last point, so the curve
it finishes with is known before it is ended. Two processes never train one run
directory at once.
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path
from typing import Any

from benchmarks import interrupts, runsetup
from benchmarks.progress import Progress
from benchmarks.runsetup import (
    RunHeldError,
    TrainingError,
    build_network,
    model_config,
    plateau_floor,
    resolve_sources,
    run_record,
    whoami,
)
from benchmarks.tracking import Tracker
from benchmarks.trainer import IterationStats, Trainer, TrainerFactory
from runstore.admission import AdmissionError, admit, weights_sha256
from runstore.config import RunConfig, run_dir_for
from runstore.rundir import RunDir

__all__ = ["train"]


def _write_curve(run_dir: Path, rows: list[dict[str, float]]) -> None:
    RunDir(run_dir).write_curve(rows)


def _set_status(run_dir: Path, state: str, **extra: Any) -> None:
    RunDir(run_dir).write_status(state, **extra)


# the replay of a short run may take this many steps even past a quarter of its own
REPLAY_MIN_STEPS = 20_000


class _Window:
    """Turns lifetime sums (steps, scores, squared scores, episodes) into curve points.

    RLlib reports lifetime sums; a point is the mean (and standard deviation) of the
    whole-episode raw scores that finished since the previous point.
    """

    COUNTERS = ("steps", "ret", "sq", "learn", "eps")

    def __init__(self, state: dict[str, float]) -> None:
        self.s = {**self.fresh(), **state}

    @staticmethod
    def fresh() -> dict[str, float]:
        state = {
            "env_steps": 0.0,
            "episodes": 0.0,
            "ret_sum": 0.0,
            "learn_sum": 0.0,
            "win_ret": 0.0,
            "win_sq": 0.0,
            "win_eps": 0.0,
            "win_start": 0.0,
        }
        state.update({f"rl_{k}": 0.0 for k in _Window.COUNTERS})
        return state

    def update(self, **lifetime: float) -> None:
        """Add the progress since the last call, given RLlib's lifetime sums.

        Keyword names are :attr:`COUNTERS`; missing ones count as 0.
        """
        s = self.s
        # RLlib's lifetime counters restart from 0 after a restore: then the new value
        # is itself the delta
        restarted = (
            lifetime.get("eps", 0.0) < s["rl_eps"] or lifetime.get("steps", 0.0) < s["rl_steps"]
        )
        delta = {}
        for k in self.COUNTERS:
            now = float(lifetime.get(k, 0.0))
            delta[k] = now if restarted else now - s[f"rl_{k}"]
            s[f"rl_{k}"] = now
        s["env_steps"] += delta["steps"]
        s["episodes"] += delta["eps"]
        s["ret_sum"] += delta["ret"]
        s["learn_sum"] += delta["learn"]
        s["win_ret"] += delta["ret"]
        s["win_sq"] += delta["sq"]
        s["win_eps"] += delta["eps"]

    def add(self, stats: IterationStats) -> None:
        """:meth:`update` with one iteration's lifetime sums."""
        self.update(
            steps=stats.env_steps_sampled,
            ret=stats.score_sum,
            sq=stats.score_sq_sum,
            learn=stats.learn_return_sum,
            eps=stats.episodes,
        )

    def take_point(self, window: int, force: bool = False) -> dict[str, float] | None:
        s = self.s
        if s["env_steps"] - s["win_start"] < window and not force:
            return None
        n = s["win_eps"]
        mean = std = float("nan")  # no episode finished in the window: nothing measured
        if n > 0:
            mean = s["win_ret"] / n
            std = max(s["win_sq"] / n - mean * mean, 0.0) ** 0.5
        point = {
            "env_steps": s["env_steps"],
            "episodes": s["episodes"],
            "episode_return_mean": mean,
            "episode_return_std": std,
        }
        s["win_ret"] = s["win_sq"] = s["win_eps"] = 0.0
        s["win_start"] = s["env_steps"]
        return point


def train(
    cfg: RunConfig,
    root: str | Path,
    log: Any = print,
    show_bar: bool | None = None,
    trainer_factory: TrainerFactory | None = None,
) -> Path:
    """Train the one run ``cfg`` under ``root``; return its run directory.

    ``show_bar``: draw a progress bar (steps, steps/s, latest return, ETA); default: on
    a terminal only (:mod:`benchmarks.progress`). Curve points are logged as lines when
    no bar is drawn. ``trainer_factory``: what builds the algorithm (default RLlib,
    :func:`benchmarks.runsetup.rllib_trainer`; tests pass a fake one).

    Its source run (``source_config(cfg)``) must be finished under ``root``: ordering
    sources before targets is the runner's job (``benchmarks.runner.train_with_sources``
    for one run and its chain, ``run_suite`` for a matrix).

    Raises:
        RunHeldError: another live process is training this run directory.
        TrainingError: the run failed (status.json holds the reason), its source run is
            not finished, or its directory holds another run.
    """
    sources = resolve_sources(cfg, root)
    run_dir = run_dir_for(root, cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    from runstore.rundir import RunLock, RunLockedError

    try:
        lock = RunLock(run_dir, log=log).acquire()
    except RunLockedError as err:
        raise RunHeldError(str(err)) from None
    try:
        return _train_locked(cfg, run_dir, sources, log, show_bar, trainer_factory)
    finally:
        lock.release()


def _train_locked(
    cfg: RunConfig,
    run_dir: Path,
    sources: list[str],
    log: Any,
    show_bar: bool | None,
    trainer_factory: TrainerFactory | None,
) -> Path:
    """:func:`train` for one run directory, under its lock."""
    run = RunDir(run_dir)
    try:
        admission = admit(cfg, run)
    except AdmissionError as err:
        raise TrainingError(str(err)) from None
    for note in admission.notes:
        log(note)
    if admission.reuse:
        return run_dir
    cfg, extended = admission.cfg, admission.extended
    run.write_json(run.config, run_record(cfg, sources, extended))
    _set_status(run_dir, "running", heartbeat=time.time(), **whoami())
    try:
        _Loop(cfg, run_dir, sources, log, show_bar, trainer_factory or runsetup.rllib_trainer).run()
    except KeyboardInterrupt:
        _set_status(run_dir, "failed", reason="interrupted (KeyboardInterrupt); rerun to resume")
        raise
    except SystemExit as err:
        # SIGTERM: the driver's handler (ensure_ray's, as ray.init's before it) exits with
        # SystemExit(15), and a Ray worker's raises a SystemExit too, so a `kill` lands
        # here, not in KeyboardInterrupt
        why = "SIGTERM" if interrupts.terminated(err.code) else f"SystemExit {err.code}"
        _set_status(run_dir, "failed", reason=f"interrupted ({why}); rerun to resume")
        raise
    except Exception as err:  # noqa: BLE001 - recorded, then re-raised
        if interrupts.terminated():
            # an error in a kill's aftermath (a process group killed: env runners gone
            # before the driver's handler ran) is the kill, not the run's failure: the
            # suite stops instead of going on to its next run
            _set_status(run_dir, "failed", reason="interrupted (SIGTERM); rerun to resume")
            raise SystemExit(signal.SIGTERM) from err
        _set_status(run_dir, "failed", reason=f"{type(err).__name__}: {err}")
        raise TrainingError(f"{run_dir}: {type(err).__name__}: {err}") from err
    return run_dir


class _Shown:
    """What a person watching sees of a run: a progress bar (steps, steps/s, latest
    return, ETA) on a terminal, else a log line per curve point. One of the loop's
    observers (``on_steps``, ``on_point``, ``on_finish``), beside wandb's
    (:class:`benchmarks.tracking.Tracker`); its ``log`` writes lines above the bar."""

    def __init__(
        self, cfg: RunConfig, initial: int, log: Any, show_bar: bool | None, start: float
    ) -> None:
        self.cfg, self.start = cfg, start
        self.bar = Progress(
            cfg.steps,
            f"{cfg.task} {cfg.agent}",
            initial=initial,
            position=1 if show_bar is None and log is not print else 0,
            enabled=show_bar,
        )
        self.log = self.bar.writer(log)

    def on_steps(self, steps: float) -> None:
        self.bar.update_to(min(steps, self.cfg.steps))

    def on_point(self, point: dict[str, float]) -> None:
        if self.bar.active:
            self.bar.update_to(self.bar.n, ret=point["episode_return_mean"])
            return
        cfg, now = self.cfg, time.time()
        self.log(
            f"{cfg.task} {cfg.agent}: {int(point['env_steps'])}/{cfg.steps} steps, "
            f"return {point['episode_return_mean']:.3f}, "
            f"{point['env_steps'] / max(now - self.start, 1e-9):.0f} steps/s"
        )

    def on_finish(self, rows: list[dict[str, float]]) -> None:
        """Nothing: the bar is closed when the iterations end."""

    def close(self) -> None:
        self.bar.close()


class _Loop:
    """One process's training of one run: iterations, curve points, checkpoints, the
    method's hooks, and the finished run's files."""

    def __init__(
        self,
        cfg: RunConfig,
        run_dir: Path,
        sources: list[str],
        log: Any,
        show_bar: bool | None,
        trainer_factory: TrainerFactory,
    ) -> None:
        from envs import get_task, make_env

        self.cfg, self.run_dir, self.sources = cfg, run_dir, sources
        probe = make_env(cfg.task, seed=cfg.seed)
        self.num_actions = int(probe.action_space.n)
        self.in_channels = int(probe.observation_space.shape[-1])
        probe.close()
        self.frames_per_step = get_task(cfg.task).frames_per_step
        self.log, self.show_bar = log, show_bar
        self.trainer_factory = trainer_factory
        self.rows: list[dict[str, float]] = []
        self.window = _Window(_Window.fresh())
        # RLlib's own lifetime counters of env steps trained and sampled, as last
        # reported: on a fresh run their ratio says whether every sampled step was
        # trained (the throughput benchmark reads them)
        self.trained = self.sampled = 0.0
        # the policy lag summed over this process's iterations that report it
        self.lag_sum, self.lag_n = 0.0, 0

    def _resume(self, trainer: Trainer) -> tuple[float, dict[str, Any] | None]:
        """Restore the newest checkpoint, if any: (wall time so far, method state)."""
        from runstore.rundir import latest_checkpoint

        found = latest_checkpoint(self.run_dir)
        if found is None:
            return 0.0, None
        ckpt, progress = found
        trainer.restore(ckpt)
        self.window = _Window(progress["window"])
        start = progress["window"]["win_start"]
        self.rows = [r for r in RunDir(self.run_dir).read_curve() if r["env_steps"] <= start]
        self.log(f"{self.run_dir}: resumed at {int(self.window.s['env_steps'])} env steps")
        # checkpoints from before the method hooks kept the state under the method's name
        state = progress.get("method", progress.get(self.cfg.agent))
        return float(progress["wall_time"]), state

    def run(self) -> None:
        from methods import get_method

        cfg = self.cfg
        self.floor, self.ended = plateau_floor(cfg), None
        trainer = self.trainer_factory(cfg, model_config(cfg, self.sources))
        try:
            wall_offset, state = self._resume(trainer)
            hooks = get_method(cfg.agent).training_hooks(cfg, trainer, self.in_channels, state)
            hooks.on_start(trainer)
            self.start = time.time() - wall_offset
            self._iterate(trainer, hooks)
            self._finish(trainer, hooks)
        finally:
            # best effort, bounded: an interrupted or stuck algorithm must not keep the
            # process alive (Ray's own exit handler cleans up what is left)
            try:
                _in_daemon_thread(trainer.stop, 15.0)
            except BaseException:  # noqa: BLE001 - best effort, also on a second Ctrl-C
                pass

    def _checkpoint(self, trainer: Trainer, hooks: Any) -> None:
        from runstore.rundir import save_checkpoint

        progress = {
            "window": self.window.s,
            "wall_time": time.time() - self.start,
            "method": hooks.state(),
        }
        save_checkpoint(self.run_dir, trainer.save, progress)
        _write_curve(self.run_dir, self.rows)
        _set_status(self.run_dir, "running", heartbeat=time.time(), **whoami())

    def _call_iteration(self, trainer: Trainer) -> IterationStats:
        cfg = self.cfg
        try:
            return _in_daemon_thread(trainer.train_iteration, cfg.stall_timeout_s)
        except TimeoutError:
            raise TrainingError(
                f"a training iteration took more than {cfg.stall_timeout_s:.0f} s "
                "(stall_timeout_s): RLlib made no progress"
            ) from None

    def _replay(self, trainer: Trainer) -> dict[str, float]:
        """Episodes of the final weights played through the training pipeline itself
        (env runners, connectors, callbacks, this loop's windows) with learning off: the
        curve check compares them with the independent rollouts, like with like.

        The first ``parallel_envs`` episodes to finish are dropped (they started before
        learning stopped, under earlier weights); then ``check_episodes`` are counted, or
        as many as finish within a quarter of the run's steps (at least
        ``REPLAY_MIN_STEPS``). Nothing of it reaches the curve or status.json.
        """
        cfg = self.cfg
        window = _Window({k: v for k, v in self.window.s.items() if k.startswith("rl_")})
        cap = max(cfg.steps // 4, REPLAY_MIN_STEPS)
        dropped = 0.0
        trainer.set_learning(False)
        try:
            while True:
                window.add(self._call_iteration(trainer))
                s = window.s
                if not dropped and s["win_eps"] >= cfg.parallel_envs:
                    dropped = s["win_eps"]
                    window.take_point(0, force=True)
                elif dropped and s["win_eps"] >= cfg.check_episodes:
                    break
                if s["env_steps"] >= cap:
                    break
        finally:
            trainer.set_learning(True)
        n = s["win_eps"] if dropped else 0.0
        mean = s["win_ret"] / n if n else float("nan")
        var = s["win_sq"] / n - mean * mean if n else float("nan")
        return {
            "episodes": n,
            "mean": mean,
            "std": max(var, 0.0) ** 0.5 if n else float("nan"),
            "dropped_episodes": dropped,
            "env_steps": s["env_steps"],
        }

    def _one_iteration(self, trainer: Trainer) -> IterationStats:
        stats = self._call_iteration(trainer)
        if stats.env_steps_trained is not None:
            self.trained = stats.env_steps_trained
        self.sampled = stats.env_steps_sampled
        if stats.policy_lag is not None:
            self.lag_sum, self.lag_n = self.lag_sum + stats.policy_lag, self.lag_n + 1
        self.window.add(stats)
        return stats

    def _iterate(self, trainer: Trainer, hooks: Any) -> None:
        cfg, window = self.cfg, self.window
        last_ckpt = last_progress_t = time.time()
        last_steps = window.s["env_steps"]
        shown = _Shown(
            cfg,
            int(window.s["env_steps"]),
            self.log,
            self.show_bar,
            self.start,
        )
        log = shown.log
        self.observers: list[Any] = [shown]
        if cfg.wandb:
            self.observers.append(Tracker(cfg.to_dict(), self.run_dir))
        try:
            if window.s["env_steps"] >= cfg.steps and window.s["env_steps"] > window.s["win_start"]:
                # a run ended at its checkpoint: its unfinished window is its last point
                self._curve_point(time.time(), True)
            while self.window.s["env_steps"] < cfg.steps:
                self._one_iteration(trainer)
                window = self.window
                now = time.time()
                if window.s["env_steps"] > last_steps:
                    last_progress_t, last_steps = now, window.s["env_steps"]
                elif now - last_progress_t > cfg.stall_timeout_s:
                    raise TrainingError(
                        f"no env steps sampled for {cfg.stall_timeout_s:.0f} s (stall_timeout_s)"
                    )
                latest = self.rows[-1]["episode_return_mean"] if self.rows else None
                for line in hooks.on_iteration(trainer, window.s["env_steps"], latest):
                    log(f"{self.run_dir}: {line}")
                for observer in self.observers:
                    observer.on_steps(window.s["env_steps"])
                done = window.s["env_steps"] >= cfg.steps
                points = len(self.rows)
                self._curve_point(now, done)
                if not done and len(self.rows) > points and self._plateaued(log):
                    break
                if now - last_ckpt > cfg.checkpoint_every_s and not done:
                    self._checkpoint(trainer, hooks)
                    last_ckpt = time.time()
        finally:
            shown.close()

    def _plateaued(self, log: Any) -> bool:
        """At a new curve point: True (and the reason kept for status.json) when the run
        is to end there by ``plateau_floors`` (see :class:`RunConfig`)."""
        cfg, floor = self.cfg, self.floor
        if floor is None or self.window.s["env_steps"] < cfg.plateau_min_steps:
            return False
        from analysis.learnability import PLATEAU_TOLERANCE, learnability_row

        row = learnability_row(cfg.task, cfg.seed, str(self.run_dir), self.rows, floor)
        if not row.plateaued:
            return False
        self.ended = (
            f"plateaued at {int(self.window.s['env_steps'])} steps: final {row.final:.2f} >= "
            f"floor {row.floor:.2f} + margin {row.margin:.2f}, the last 20% of its steps "
            f"gained {100 * row.plateau:+.1f}% of best - floor (< "
            f"{100 * PLATEAU_TOLERANCE:.0f}%)"
        )
        log(f"{self.run_dir}: {self.ended}; ending the run (budget {cfg.steps})")
        return True

    def _curve_point(self, now: float, done: bool) -> None:
        cfg = self.cfg
        point = self.window.take_point(cfg.window, force=done)
        if point is None:
            return
        point["frames"] = point["env_steps"] * self.frames_per_step
        point["wall_time"] = now - self.start
        self.rows.append(point)
        _write_curve(self.run_dir, self.rows)
        for observer in self.observers:
            observer.on_point(point)

    def _finish(self, trainer: Trainer, hooks: Any) -> None:
        """Save the trained network and the method's files, check the curve, mark done."""
        from runstore.rundir import LEGACY_PROGRESS

        cfg, run_dir, run = self.cfg, self.run_dir, RunDir(self.run_dir)
        net = build_network(cfg, self.sources, self.num_actions, self.in_channels)
        net.load_state_dict(trainer.learner_state_dict())
        for name, data in hooks.finish(net).items():
            run.write_json(run.path / name, data)
        net.save(run.weights)
        _write_curve(run_dir, self.rows)
        for observer in self.observers:
            observer.on_finish(self.rows)
        wall = time.time() - self.start
        if cfg.check_episodes > 0:
            from benchmarks.evaluate import check_curve
            from methods import get_method

            replay = self._replay(trainer) if get_method(cfg.agent).checks_curve else None
            check = check_curve(run_dir, episodes=cfg.check_episodes, replay=replay)
            self.log(f"{run_dir}: curve check: {check['reason']}")
            if check["ok"] is False:
                raise TrainingError(f"curve check failed: {check['reason']}")
        s = self.window.s
        episodes = s["episodes"]
        _set_status(
            run_dir,
            "done",
            **whoami(),
            env_steps=s["env_steps"],
            rllib_env_steps_trained_lifetime=self.trained,
            rllib_env_steps_sampled_lifetime=self.sampled,
            policy_lag_updates=self.lag_sum / self.lag_n if self.lag_n else None,
            # checked before the run is reused (runstore.admission.finished_problem)
            weights_sha256=weights_sha256(RunDir(run_dir).weights),
            wall_time=wall,
            episodes=episodes,
            score_mean=s["ret_sum"] / episodes if episodes else None,
            learn_return_mean=s["learn_sum"] / episodes if episodes else None,
            **({"ended": self.ended} if self.ended else {}),
        )
        shutil.rmtree(run_dir / "checkpoint", ignore_errors=True)
        (run_dir / LEGACY_PROGRESS).unlink(missing_ok=True)


def _in_daemon_thread(fn: Any, timeout: float) -> Any:
    """``fn()`` in a daemon thread, waiting at most ``timeout`` seconds.

    Raises TimeoutError after ``timeout``; re-raises what ``fn`` raised. The main thread
    stays interruptible (Ctrl-C), and a daemon thread never blocks the process's exit,
    unlike a thread pool's worker, which Python joins at exit.
    """
    import threading

    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            box["error"] = err
        finally:
            done.set()

    threading.Thread(target=target, daemon=True, name="xfer-train-iteration").start()
    if not done.wait(timeout):
        raise TimeoutError(f"no answer within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["result"]
