"""Crash safety of one run directory: a lock, a heartbeat and an atomic checkpoint swap.

- :class:`RunLock`: ``.lock`` (pid, host, start time), created with ``O_EXCL``, so two
  processes never train one run directory at once. A lock whose process is gone (same
  host) or whose run has sent no heartbeat for ``stale_after_s`` (another host) is stale
  and is taken over, with a log line.
- Heartbeat: a running run rewrites ``status.json`` (``heartbeat``, pid, host) at every
  checkpoint; :func:`run_liveness` tells a live run from a dead one.
- :func:`save_checkpoint` writes ``checkpoint.tmp/`` (RLlib's state, then
  ``xfer_progress.json`` last, so a directory with it is complete), moves the current
  checkpoint to ``checkpoint.old/``, renames the new one into place and deletes the old.
  A kill at any step leaves at least one complete checkpoint, and
  :func:`latest_checkpoint` finds the newest complete one (with its progress) wherever
  the swap stopped.

No heavy imports: this module is plain files and processes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.atomic import write_json

__all__ = [
    "RunLock",
    "RunLockedError",
    "save_checkpoint",
    "latest_checkpoint",
    "has_checkpoint",
    "run_liveness",
    "eval_file",
    "read_curve_file",
    "DamagedFileError",
    "CHECKPOINT",
    "PROGRESS",
]

LOCK = ".lock"
CHECKPOINT = "checkpoint"
CHECKPOINT_TMP = "checkpoint.tmp"
CHECKPOINT_OLD = "checkpoint.old"
PROGRESS = "xfer_progress.json"  # inside a checkpoint: the driver's side of the state
LEGACY_PROGRESS = "progress.json"  # beside the checkpoint, before this module
STALE_AFTER_S = 600.0


class RunLockedError(RuntimeError):
    """Another live process is training this run directory."""


class DamagedFileError(ValueError):
    """A result file exists but cannot be read (the message says which and why)."""


def read_curve_file(path: str | Path) -> list[dict[str, float]]:
    """The rows of a ``curve.csv`` ([] if it does not exist).

    Raises:
        DamagedFileError: a header without ``env_steps``/``episode_return_mean``, or a
            row that is not a full row of numbers (naming the line).
    """
    import csv

    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with path.open() as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in ("env_steps", "episode_return_mean") if c not in header]
        if missing:
            raise DamagedFileError(f"{path}: header lacks {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            try:
                rows.append({k: float(v) for k, v in row.items()})
            except (TypeError, ValueError):
                why = f"line {line} is not a full row of numbers"
                raise DamagedFileError(f"{path}: {why}") from None
    return rows


def eval_file(run_dir: str | Path, task: str, greedy: bool = False) -> Path:
    """Where an evaluation of the run on ``task`` lives: ``eval_<task>.json`` (sampled
    actions) or ``eval_greedy_<task>.json`` (argmax), so the two never overwrite."""
    kind = "eval_greedy" if greedy else "eval"
    return Path(run_dir) / f"{kind}_{task.replace('/', '-')}.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def run_liveness(run_dir: str | Path, stale_after_s: float = STALE_AFTER_S) -> str:
    """``live``, ``dead`` or ``unknown`` for a run whose status says ``running``.

    ``dead``: its lock is gone or held by a process that no longer exists on this host,
    or its last heartbeat is older than ``stale_after_s``.
    """
    run_dir = Path(run_dir)
    lock = _read_json(run_dir / LOCK)
    status = _read_json(run_dir / "status.json") or {}
    beat = status.get("heartbeat", status.get("updated"))
    if lock is None:
        return "dead"
    if lock.get("host") == socket.gethostname():
        return "live" if _pid_alive(int(lock.get("pid", -1))) else "dead"
    if isinstance(beat, (int, float)):
        return "live" if time.time() - beat < stale_after_s else "dead"
    return "unknown"


class RunLock:
    """Exclusive right to train ``run_dir`` (a context manager).

    Raises:
        RunLockedError: on entry, when a live process holds the lock (naming it).
    """

    def __init__(
        self,
        run_dir: str | Path,
        log: Callable[[str], None] = print,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self.path = Path(run_dir) / LOCK
        self.log = log
        self.stale_after_s = stale_after_s
        self.held = False

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_json(self.path) or {}
                if run_liveness(self.path.parent, self.stale_after_s) == "dead":
                    self.log(
                        f"{self.path.parent}: taking over a stale lock (pid "
                        f"{holder.get('pid')} on {holder.get('host')} is gone)"
                    )
                    self.path.unlink(missing_ok=True)
                    continue
                raise RunLockedError(
                    f"{self.path.parent} is being trained by pid {holder.get('pid')} on "
                    f"{holder.get('host')} (lock {self.path}); wait for it, or stop it first"
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(info, f)
            self.held = True
            return self
        raise RunLockedError(f"could not take the lock {self.path}")

    def release(self) -> None:
        if self.held:
            holder = _read_json(self.path) or {}
            if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def save_checkpoint(
    run_dir: str | Path,
    save: Callable[[Path], None],
    progress: dict[str, Any],
    fault: Callable[[str], None] | None = None,
) -> Path:
    """Write a new checkpoint with ``save(dir)`` and ``progress``, and swap it in.

    ``fault(step)`` is called after each step (``saved``, ``moved_old``, ``renamed``);
    tests raise there to simulate a kill.
    """
    run_dir = Path(run_dir)
    ckpt, tmp, old = run_dir / CHECKPOINT, run_dir / CHECKPOINT_TMP, run_dir / CHECKPOINT_OLD
    fault = fault or (lambda _step: None)
    shutil.rmtree(tmp, ignore_errors=True)
    save(tmp)
    write_json(tmp / PROGRESS, progress)  # last: a directory holding it is complete
    fault("saved")
    if ckpt.exists():
        if old.exists() and _progress_of(ckpt) is not None:
            shutil.rmtree(old)  # the current checkpoint is complete: the old one can go
        if not old.exists():
            ckpt.rename(old)
        else:
            shutil.rmtree(ckpt)  # an incomplete leftover; the old one is the fallback
        fault("moved_old")
    tmp.rename(ckpt)
    fault("renamed")
    shutil.rmtree(old, ignore_errors=True)
    return ckpt


def _progress_of(path: Path) -> dict[str, Any] | None:
    if not path.is_dir():
        return None
    return _read_json(path / PROGRESS)


def has_checkpoint(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds a complete checkpoint to resume from (reads only)."""
    run_dir = Path(run_dir)
    if any(_progress_of(run_dir / n) for n in (CHECKPOINT, CHECKPOINT_OLD, CHECKPOINT_TMP)):
        return True
    return (run_dir / CHECKPOINT).is_dir() and (run_dir / LEGACY_PROGRESS).is_file()


def latest_checkpoint(run_dir: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete checkpoint and its progress, moved to ``checkpoint/``.

    Complete means it holds ``xfer_progress.json`` (written last). Among ``checkpoint``,
    ``checkpoint.old`` and ``checkpoint.tmp``, the one with the most env steps wins; the
    others are removed. A run directory from before this layout (``progress.json``
    beside ``checkpoint/``) is read as it is.
    """
    run_dir = Path(run_dir)
    ckpt = run_dir / CHECKPOINT
    candidates = []
    for name in (CHECKPOINT, CHECKPOINT_OLD, CHECKPOINT_TMP):
        progress = _progress_of(run_dir / name)
        if progress is not None:
            candidates.append((float(progress["window"]["env_steps"]), name, progress))
    if not candidates:
        legacy = _read_json(run_dir / LEGACY_PROGRESS)
        if ckpt.is_dir() and legacy is not None:
            return ckpt, legacy
        return None
    _, name, progress = max(candidates)
    if name != CHECKPOINT:
        shutil.rmtree(ckpt, ignore_errors=True)
        (run_dir / name).rename(ckpt)
    for other in (CHECKPOINT_OLD, CHECKPOINT_TMP):
        shutil.rmtree(run_dir / other, ignore_errors=True)
    return ckpt, progress
