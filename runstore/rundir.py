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

from runstore.atomic import write_json, write_text

__all__ = [
    "RunLock",
    "RunLockedError",
    "SuiteLock",
    "SuiteLockedError",
    "save_checkpoint",
    "latest_checkpoint",
    "has_checkpoint",
    "run_liveness",
    "eval_file",
    "read_curve_file",
    "read_json_file",
    "RunDir",
    "CURVE_FIELDS",
    "DamagedFileError",
    "FORGETTING_SEED",
    "CHECKPOINT",
    "PROGRESS",
]

LOCK = ".lock"
CHECKPOINT = "checkpoint"
CHECKPOINT_TMP = "checkpoint.tmp"
CHECKPOINT_OLD = "checkpoint.old"
PROGRESS = "xfer_progress.json"  # inside a checkpoint: the driver's side of the state
LEGACY_PROGRESS = "progress.json"  # beside the checkpoint, in checkpoints of older runs
STALE_AFTER_S = 600.0


class RunLockedError(RuntimeError):
    """Another live process is training this run directory."""


class SuiteLockedError(RuntimeError):
    """Another live suite (``xfer bench``) is using the results root."""


# the forgetting protocol's episodes: the same for a source run and every target run on
# it, so a network that computes what the source computed plays the very same episodes
FORGETTING_SEED = 4242


class DamagedFileError(ValueError):
    """A result file exists but cannot be read (the message says which and why)."""


def read_curve_file(path: str | Path) -> list[dict[str, float]]:
    """The rows of a ``curve.csv`` ([] if it does not exist).

    Raises:
        DamagedFileError: a file cut inside its last line (every line the writer ends
            ends with a newline), a header without ``env_steps``/``episode_return_mean``,
            or a row that is not a full row of numbers (naming the line).
    """
    import csv

    path = Path(path)
    if not path.is_file():
        return []
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                raise DamagedFileError(f"{path}: cut inside its last line (no final newline)")
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
    return RunDir(run_dir).eval(task, greedy)


CURVE_FIELDS = (
    "env_steps",
    "frames",
    "episodes",
    "episode_return_mean",
    "episode_return_std",
    "wall_time",
)


def _slug(task_id: str) -> str:
    return task_id.replace("/", "-")


class RunDir:
    """One run directory: its file names, readers and atomic writers.

    Everything that opens a file of a run goes through here (training, the runner,
    evaluation, analysis, the report, the zoo), so the layout is written down once:

    - ``config.json``: ``{"run": RunConfig fields, "source_files", "curve_window",
      "observation_fingerprint", provenance...}``;
    - ``status.json``: ``{"state": running|done|failed, "updated", ...}``;
    - ``curve.csv``: :data:`CURVE_FIELDS`, one row per curve point;
    - ``agent.pt``: the trained network (weights only);
    - ``eval_<task>.json`` / ``eval_greedy_<task>.json``: evaluations;
    - ``curve_check.json``, ``pathnet.json``, ``zoo.json`` (a shipped zoo column);
    - ``.lock`` and ``checkpoint/`` (see :class:`RunLock`, :func:`save_checkpoint`).

    Example:
        >>> import tempfile
        >>> run = RunDir(tempfile.mkdtemp())
        >>> run.read_status()
        {'state': 'missing'}
        >>> run.write_status("running", pid=1)
        >>> run.read_status()["state"], run.status.name
        ('running', 'status.json')
    """

    CONFIG = "config.json"
    STATUS = "status.json"
    CURVE = "curve.csv"
    WEIGHTS = "agent.pt"
    CURVE_CHECK = "curve_check.json"
    PATHNET = "pathnet.json"
    DEN = "den.json"
    ZOO_MARKER = "zoo.json"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_run(cls, root: str | Path, cfg: Any) -> RunDir:
        """``<root>/<target>/<agent>[_from_<src>+...]/seed<N>[_<tag>]`` (grep-able) for a
        RunConfig ``cfg``: the one place a run's directory is named."""
        agent = cfg.agent
        if cfg.sources:
            agent += "_from_" + "+".join(_slug(s) for s in cfg.sources)
        leaf = f"seed{cfg.seed}" + (f"_{cfg.tag}" if cfg.tag else "")
        return cls(Path(root) / _slug(cfg.task) / agent / leaf)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def status(self) -> Path:
        return self.path / self.STATUS

    @property
    def curve(self) -> Path:
        return self.path / self.CURVE

    @property
    def weights(self) -> Path:
        return self.path / self.WEIGHTS

    @property
    def curve_check(self) -> Path:
        return self.path / self.CURVE_CHECK

    @property
    def pathnet(self) -> Path:
        return self.path / self.PATHNET

    @property
    def den(self) -> Path:
        """DEN runs: the phase transitions and the network's growth per task."""
        return self.path / self.DEN

    @property
    def zoo_marker(self) -> Path:
        return self.path / self.ZOO_MARKER

    def eval(self, task: str, greedy: bool = False) -> Path:
        """``eval_<task>.json`` (sampled actions) or ``eval_greedy_<task>.json``."""
        kind = "eval_greedy" if greedy else "eval"
        return self.path / f"{kind}_{_slug(task)}.json"

    def forgetting_eval(self, task: str) -> Path:
        """``forgetting_<task>.json``: the forgetting protocol's evaluation on ``task``
        (``benchmarks.evaluate.evaluate_forgetting``), apart from every other evaluation so
        a run whose own task is also its source keeps both."""
        return self.path / f"forgetting_{_slug(task)}.json"

    def has_forgetting_eval(self, task: str, episodes: int | None = None) -> bool:
        """Whether ``forgetting_<task>.json`` holds the forgetting protocol's evaluation:
        played with :data:`FORGETTING_SEED` and, when ``episodes`` is given, that many
        episodes; or a record of why the run cannot play ``task`` (an ``error``). A
        damaged file does not count (the suite evaluates again, replacing it)."""
        path = self.forgetting_eval(task)
        if not path.is_file():
            return False
        try:
            old = self.read_json(path)
        except DamagedFileError:
            return False
        if "error" in old:
            return True
        return old.get("seed") == FORGETTING_SEED and episodes in (None, old.get("episodes"))

    # readers
    def read_json(self, path: Path) -> dict[str, Any]:
        """A JSON file of this run.

        Raises:
            FileNotFoundError: it does not exist. DamagedFileError: it is not a JSON
                object (naming the file).
        """
        data = read_json_file(path)
        if not isinstance(data, dict):
            raise DamagedFileError(f"{path}: not a JSON object")
        return data

    def read_config(self) -> dict[str, Any]:
        """``config.json`` (FileNotFoundError when missing, DamagedFileError when bad)."""
        return self.read_json(self.config)

    def read_run_config(self) -> dict[str, Any]:
        """The ``run`` part of ``config.json``: the RunConfig fields."""
        data = self.read_config()
        if not isinstance(data.get("run"), dict):
            raise DamagedFileError(f"{self.config}: no 'run' object")
        return data["run"]

    def read_status(self) -> dict[str, Any]:
        """``status.json``, or ``{"state": "missing"}`` when the run has none."""
        if not self.status.is_file():
            return {"state": "missing"}
        return self.read_json(self.status)

    def read_curve(self) -> list[dict[str, float]]:
        """The curve rows ([] before the first point); a damaged curve is an error."""
        return read_curve_file(self.curve)

    def require_weights(self) -> dict[str, Any]:
        """The run's RunConfig fields, after checking it has a config and weights.

        Raises:
            FileNotFoundError: no ``config.json`` or ``agent.pt`` (not a finished run).
        """
        if not self.config.is_file() or not self.weights.is_file():
            raise FileNotFoundError(
                f"{self.path} is not a finished run (no {self.CONFIG} / {self.WEIGHTS})"
            )
        return self.read_run_config()

    def is_done(self) -> bool:
        """Finished: status ``done`` and its weights present."""
        return self.read_status().get("state") == "done" and self.weights.is_file()

    # writers (atomic: temp file, then rename)
    def write_status(self, state: str, **extra: Any) -> None:
        write_json(self.status, {"state": state, "updated": time.time(), **extra})

    def write_curve(self, rows: list[dict[str, float]]) -> None:
        import csv
        import io

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CURVE_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, float("nan")) for k in CURVE_FIELDS})
        write_text(self.curve, buf.getvalue())

    def write_json(self, path: Path, data: Any) -> None:
        """Write one of this run's JSON files (a path from this object's properties)."""
        if path.parent != self.path:
            raise ValueError(f"{path} is not a file of {self.path}")
        write_json(path, data)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_json_file(path: str | Path) -> Any:
    """The parsed JSON file at ``path``: the one JSON reader of run and results files.

    Raises:
        FileNotFoundError: it does not exist. DamagedFileError: it is not valid JSON, or
            cannot be read (naming the file and why).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise DamagedFileError(f"{path}: unreadable: {err.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DamagedFileError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object, or None when it is missing, damaged or not an object (checkpoint
    progress and locks: a half-written one is simply not there)."""
    try:
        data = read_json_file(path)
    except (OSError, DamagedFileError):
        return None
    return data if isinstance(data, dict) else None


def run_liveness(run_dir: str | Path, stale_after_s: float = STALE_AFTER_S) -> str:
    """``live``, ``dead`` or ``unknown`` for a run whose status says ``running``.

    ``dead``: its lock is gone or held by a process that no longer exists on this host,
    or its last heartbeat is older than ``stale_after_s``.
    """
    run_dir = Path(run_dir)
    lock = _read_json(run_dir / LOCK)
    status = _read_json(RunDir(run_dir).status) or {}
    beat = status.get("heartbeat", status.get("updated"))
    if lock is None:
        return "dead"
    if lock.get("host") == socket.gethostname():
        return "live" if _pid_alive(int(lock.get("pid", -1))) else "dead"
    if isinstance(beat, (int, float)):
        return "live" if time.time() - beat < stale_after_s else "dead"
    return "unknown"


class _LockFile:
    """Exclusive right to something, held as a file that names its process (a context
    manager). Subclasses say when a holder is gone and how a refusal reads."""

    def __init__(self, path: Path, log: Callable[[str], None]) -> None:
        self.path = path
        self.log = log
        self.held = False

    def _gone(self, holder: dict[str, Any]) -> bool:
        raise NotImplementedError

    def _refusal(self, holder: dict[str, Any]) -> Exception:
        raise NotImplementedError

    def acquire(self) -> _LockFile:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_json(self.path) or {}
                if self._gone(holder):
                    self.log(
                        f"{self.path.parent}: taking over a stale lock (pid "
                        f"{holder.get('pid')} on {holder.get('host')} is gone)"
                    )
                    self.path.unlink(missing_ok=True)
                    continue
                raise self._refusal(holder) from None
            with os.fdopen(fd, "w") as f:
                json.dump(info, f)
            self.held = True
            return self
        raise self._refusal({})

    def release(self) -> None:
        if self.held:
            holder = _read_json(self.path) or {}
            if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> _LockFile:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class RunLock(_LockFile):
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
        super().__init__(Path(run_dir) / LOCK, log)
        self.stale_after_s = stale_after_s

    def _gone(self, holder: dict[str, Any]) -> bool:
        return run_liveness(self.path.parent, self.stale_after_s) == "dead"

    def _refusal(self, holder: dict[str, Any]) -> Exception:
        return RunLockedError(
            f"{self.path.parent} is being trained by pid {holder.get('pid')} on "
            f"{holder.get('host')} (lock {self.path}); wait for it, or stop it first"
        )


def save_checkpoint(
    run_dir: str | Path,
    save: Callable[[Path], None],
    progress: dict[str, Any],
    fault: Callable[[str], None] | None = None,
) -> Path:
    """Write a new checkpoint with ``save(dir)`` (``dir`` does not exist yet: ``save``
    creates it) and ``progress``, and swap it in.

    ``fault(step)`` is called after each step (``saved``, ``moved_old``, ``renamed``);
    tests raise there to simulate a kill.
    """
    run_dir = Path(run_dir)
    ckpt, tmp, old = run_dir / CHECKPOINT, run_dir / CHECKPOINT_TMP, run_dir / CHECKPOINT_OLD
    fault = fault or (lambda _step: None)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save(tmp)
        write_json(tmp / PROGRESS, progress)  # last: a directory holding it is complete
    except OSError as err:
        # a full disk, say: the half-written checkpoint goes (freeing what it took, so
        # the run's status can still record why); the last complete one stays
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(
            err.errno, f"writing the checkpoint {tmp} failed: {err.strerror or err}"
        ) from err
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


def _newest_progress(run_dir: Path) -> tuple[str | None, dict[str, Any]] | None:
    """The newest complete checkpoint's folder name and progress (reads only): among
    ``checkpoint``, ``checkpoint.old`` and ``checkpoint.tmp`` the one with the most env
    steps; else a checkpoint from before this layout, ``(None, progress.json)``."""
    candidates = []
    for name in (CHECKPOINT, CHECKPOINT_OLD, CHECKPOINT_TMP):
        progress = _progress_of(run_dir / name)
        if progress is not None:
            candidates.append((float(progress["window"]["env_steps"]), name, progress))
    if candidates:
        _, name, progress = max(candidates, key=lambda c: c[:2])
        return name, progress
    legacy = _read_json(run_dir / LEGACY_PROGRESS)
    if (run_dir / CHECKPOINT).is_dir() and legacy is not None:
        return None, legacy
    return None


def checkpoint_steps(run_dir: str | Path) -> float | None:
    """The env steps of the newest complete checkpoint in ``run_dir`` (None: none), read
    without moving anything (:func:`latest_checkpoint` tidies as it reads)."""
    found = _newest_progress(Path(run_dir))
    return None if found is None else float(found[1]["window"]["env_steps"])


def latest_checkpoint(run_dir: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete checkpoint and its progress, moved to ``checkpoint/``.

    Complete means it holds ``xfer_progress.json`` (written last). Among ``checkpoint``,
    ``checkpoint.old`` and ``checkpoint.tmp``, the one with the most env steps wins; the
    others are removed. A run directory from before this layout (``progress.json``
    beside ``checkpoint/``) is read as it is.
    """
    run_dir = Path(run_dir)
    ckpt = run_dir / CHECKPOINT
    found = _newest_progress(run_dir)
    if found is None:
        return None
    name, progress = found
    if name is None:  # the old layout
        return ckpt, progress
    if name != CHECKPOINT:
        shutil.rmtree(ckpt, ignore_errors=True)
        (run_dir / name).rename(ckpt)
    for other in (CHECKPOINT_OLD, CHECKPOINT_TMP):
        shutil.rmtree(run_dir / other, ignore_errors=True)
    return ckpt, progress


class SuiteLock(_LockFile):
    """Exclusive use of a results root by one suite (``<root>/.suite.lock``).

    Two suites on one root would each train, evaluate and report the other's runs; the
    second is refused at start, naming the first. A lock left by a process that no longer
    exists on this host is taken over.

    Raises:
        SuiteLockedError: on :meth:`acquire`, when a live process holds it.
    """

    NAME = ".suite.lock"

    def __init__(self, root: str | Path, log: Callable[[str], None] = print) -> None:
        super().__init__(Path(root) / self.NAME, log)

    def _gone(self, holder: dict[str, Any]) -> bool:
        same_host = holder.get("host") == socket.gethostname()
        return same_host and not _pid_alive(int(holder.get("pid", -1)))

    def _refusal(self, holder: dict[str, Any]) -> Exception:
        return SuiteLockedError(
            f"{self.path.parent} is in use by another suite (pid {holder.get('pid')} on "
            f"{holder.get('host')}): wait for it to finish, or use another --out"
        )
