"""Whether a run directory may be reused, trained, resumed or extended: the one place
that decides it (``benchmarks.training.train`` and the suite runner ask here).

- A *finished* run (``status.json`` says ``done``) is reused when it is the same run
  (:func:`runstore.config.finished_run_clash`) and healthy (:func:`finished_problem`:
  its curve reads whole and ends at the steps its status records, its weights match the
  checksum recorded when it finished); otherwise it is refused with the reason, never
  silently retrained or reused.
- An *unfinished* run is resumed with other execution settings (:data:`RESUMABLE_CHANGES`),
  or given another step budget when it has a checkpoint (:func:`resolve_config`); any
  other change is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runstore.config import EXECUTION_FIELDS, RunConfig, finished_run_clash
from runstore.rundir import DamagedFileError, RunDir, checkpoint_steps, has_checkpoint

__all__ = [
    "AdmissionError",
    "Admission",
    "admit",
    "finished_problem",
    "resolve_config",
    "weights_sha256",
    "RESUMABLE_CHANGES",
]

# settings an interrupted run may be resumed with, changed: how it is executed, not what
# it computes (its step count may only grow, through _can_extend; its curve window stays)
RESUMABLE_CHANGES = EXECUTION_FIELDS - {"steps", "curve_window", "address"}


class AdmissionError(ValueError):
    """The run directory holds something this run may not reuse or continue."""


@dataclass(frozen=True)
class Admission:
    """What to do with a run directory.

    Attributes:
        reuse: it holds this run, finished and healthy: nothing to train.
        cfg: the config to train with (a resumed run keeps its curve window, an
            extended one its new budget).
        extended: the run's earlier budgets, for ``config.json``.
        notes: what the decision changed, for the log.
    """

    reuse: bool
    cfg: RunConfig
    extended: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def weights_sha256(path: str | Path) -> str:
    """The SHA-256 of a weights file, as hex (what ``status.json`` records at the end).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "agent.pt"; _ = p.write_bytes(b"abc")
    >>> weights_sha256(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def finished_problem(run: RunDir) -> str | None:
    """Why the finished run in ``run`` cannot be used as it is, or None when it can.

    Its curve must read whole (not cut inside a line, every row numbers) and end at the
    ``env_steps`` its status records; its weights, when present and when the status
    records their checksum (every run finished since checksums exist, every zoo
    column), must match it. A published folder's run without weights is not damaged.
    """
    status = run.read_status()
    try:
        rows = run.read_curve()
    except DamagedFileError as err:
        return str(err)
    steps = status.get("env_steps")
    if steps is not None and (not rows or rows[-1]["env_steps"] != float(steps)):
        last = rows[-1]["env_steps"] if rows else "no point"
        return (
            f"{run.curve}: ends at {last}, but {run.status.name} records {steps:.0f} steps "
            "(a curve cut short or from another run)"
        )
    recorded = status.get("weights_sha256")
    if recorded and run.weights.is_file() and weights_sha256(run.weights) != recorded:
        return (
            f"{run.weights}: not the weights this run finished with (its checksum differs "
            f"from the one in {run.status.name})"
        )
    return None


def admit(cfg: RunConfig, run: RunDir) -> Admission:
    """What to do with ``run`` for ``cfg`` (see the module docstring).

    Raises:
        AdmissionError: a finished run of another config, a damaged finished run, or an
            unfinished run of another config (the message names the file or fields and
            what to do).
    """
    if run.read_status().get("state") == "done":
        diff = finished_run_clash(run.path, cfg)
        if diff:
            raise AdmissionError(
                f"{run.path} holds a finished run with another config (differs in {diff}); "
                "use another --out or --tag, or delete that directory"
            )
        problem = finished_problem(run)
        if problem:
            raise AdmissionError(
                f"{run.path} is a damaged finished run: {problem}; restore the file, or "
                "delete that directory to train the run again"
            )
        return Admission(True, cfg, notes=[f"{run.path}: already done"])
    return resolve_config(cfg, run)


def resolve_config(cfg: RunConfig, run: RunDir) -> Admission:
    """The config to train an existing, unfinished run directory with, and its
    extension record: the same run (other execution settings allowed), or the same run
    given another step budget; anything else is an :class:`AdmissionError`."""
    from methods import get_method

    run_dir = run.path
    if not run.config.is_file():
        return Admission(False, cfg)
    saved_file = run.read_config()
    saved = saved_file.get("run", {})
    if saved and get_method(cfg.agent).fields <= set(saved):
        # fields the saved config lacks take their defaults, fields no longer in RunConfig
        # are dropped (a PathNet run without one of its method's own fields keeps its
        # config as written, so it is refused below)
        saved = RunConfig.from_dict(saved).to_dict()
    extended = list(saved_file.get("extended", []))
    # a run that left nothing to keep (no checkpoint, no weights; e.g. it failed at
    # start-up asking for a GPU) may be restarted with another config
    keeps = has_checkpoint(run_dir) or run.weights.exists()
    if cfg.curve_window is None and saved.get("curve_window") is not None:
        # an extended run pinned its window; the same command without one resumes it
        cfg = dataclasses.replace(cfg, curve_window=int(saved["curve_window"]))
    if not (saved and saved != cfg.to_dict() and keeps):
        return Admission(False, cfg, extended)
    diff = sorted(k for k in cfg.to_dict() if saved.get(k) != cfg.to_dict()[k])
    window = int(saved_file.get("curve_window") or RunConfig.from_dict(saved).window)
    execution = [k for k in diff if k in RESUMABLE_CHANGES]
    diff = [k for k in diff if k not in RESUMABLE_CHANGES]
    notes = []
    if execution:
        # how a run is executed is not what it is: runners, timeouts, wandb...
        notes.append(f"{run_dir}: resuming with other execution settings ({', '.join(execution)})")
    if diff and not _can_extend(run_dir, saved, cfg, diff, window):
        raise AdmissionError(
            f"{run_dir} holds a run with another config (differs in {diff}); "
            "use another --out or --tag, or delete that directory (an interrupted "
            "run may only be given other --steps)"
        )
    if diff:
        # an interrupted run may be given another budget: it resumes from its
        # checkpoint and keeps the curve window it was written with
        held = int(checkpoint_steps(run_dir) or 0)
        if cfg.steps > int(saved["steps"]):
            notes.append(f"{run_dir}: extending the run from {saved['steps']} to {cfg.steps} steps")
        elif cfg.steps > held:
            notes.append(
                f"{run_dir}: ending the run early, at {cfg.steps} steps instead of "
                f"{saved['steps']} (its checkpoint holds {held})"
            )
        else:
            # nothing more is trained: the run ends with its checkpoint's weights and
            # curve, the episodes of its unfinished window closing a last point
            notes.append(
                f"{run_dir}: ending the run at its checkpoint, {held} steps (asked for "
                f"{cfg.steps}, budget {saved['steps']})"
            )
            cfg = dataclasses.replace(cfg, steps=held)
        extended.append({"steps": saved["steps"], "git_commit": saved_file.get("git_commit")})
        cfg = dataclasses.replace(cfg, curve_window=window)
    return Admission(False, cfg, extended, notes)


def _can_extend(
    run_dir: Path, saved: dict[str, Any], cfg: RunConfig, diff: list[str], window: int
) -> bool:
    """True when ``cfg`` only asks an interrupted, resumable run for another step budget
    (more steps, or an earlier end: see :func:`resolve_config`)."""
    if not set(diff) <= {"steps", "curve_window"} or "steps" not in diff:
        return False
    if cfg.curve_window not in (None, window):
        return False
    return checkpoint_steps(run_dir) is not None and cfg.steps != int(saved["steps"])
