"""The sweeps that wrote into a results root, each with its wall time.

``<root>/sweeps.json`` lists every ``xfer bench`` (``make bench-*``) that ran on the
root: suite, budget, commit, host, when it started and ended, how many runs it trained
and how it ended. A sweep that outlasts a working session is stopped and rerun, so a
suite's results are often made in pieces; the pieces' wall times add up to what the
suite cost (:func:`sweep_time`), which is the figure to quote when it never ran in one
piece.

A sweep killed without a chance to write its end (SIGKILL, a machine that went away)
keeps ``ended: null``; the next sweep on the root closes it as ``killed`` at the last
time it was seen alive (after its last finished run), so its piece counts up to there.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with SweepLog(root, "pong-soup", "laptop", clock=iter([0.0, 60.0, 90.0]).__next__) as s:
    ...     s.run_ended(trained=True)
    >>> sweep_time(root).seconds, sweep_time(root).pieces
    (90.0, 1)
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from runstore.atomic import write_json
from runstore.rundir import DamagedFileError, read_json_file

__all__ = ["FILE", "SweepLog", "SweepTime", "read_sweeps", "sweep_time"]

FILE = "sweeps.json"


def read_sweeps(root: str | Path) -> list[dict[str, Any]]:
    """The sweeps recorded in ``root`` ([] when none).

    Raises:
        DamagedFileError: the file exists but cannot be read, is not JSON, or is not a
            list of objects (naming the file).
    """
    path = Path(root) / FILE
    if not path.is_file():
        return []
    data = read_json_file(path)
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise DamagedFileError(f"{path}: not a list of sweep records")
    return data


class SweepLog:
    """Records one sweep in ``<root>/sweeps.json`` (a context manager).

    On entry it closes any sweep left open by a killed process and appends this one; the
    caller reports each finished run (:meth:`run_ended`, which also marks the sweep alive);
    on exit it writes the end time and the outcome: ``complete``, ``interrupted``
    (Ctrl-C, SIGTERM) or ``failed (<error type>)``.
    """

    def __init__(
        self,
        root: str | Path,
        suite: str,
        budget: str,
        commit: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(root) / FILE
        self.clock = clock
        self.record: dict[str, Any] = {
            "suite": suite,
            "budget": budget,
            "commit": commit,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "trained": 0,
            "outcome": "running",
            "ended": None,
        }
        # the file's records, this sweep's last; read once on entry (the caller holds the
        # root's suite lock, so no other sweep writes the file meanwhile)
        self.sweeps: list[dict[str, Any]] = []

    def _write(self) -> None:
        write_json(self.path, self.sweeps)

    def __enter__(self) -> SweepLog:
        self.sweeps = read_sweeps(self.path.parent)
        for old in self.sweeps:
            if old.get("ended") is None:
                old["ended"] = old.get("last_seen", old.get("started"))
                old["outcome"] = "killed"
        now = self.clock()
        self.record.update(started=now, last_seen=now)
        self.sweeps.append(self.record)
        self._write()
        return self

    def run_ended(self, trained: bool) -> None:
        """A run of the sweep ended (trained now, or found done or failed)."""
        self.record["trained"] += int(trained)
        self.record["last_seen"] = self.clock()
        self._write()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            outcome = "complete"
        elif issubclass(kind, KeyboardInterrupt | SystemExit):
            outcome = "interrupted"
        else:
            outcome = f"failed ({kind.__name__})"
        now = self.clock()
        self.record.update(ended=now, last_seen=now, outcome=outcome)
        self._write()


@dataclass(frozen=True)
class SweepTime:
    """What the sweeps on a root cost: ``seconds`` of wall time over ``pieces`` sweeps
    that trained ``trained`` runs; ``open`` sweeps are still running (or were killed and
    not yet closed: counted up to their last sign of life)."""

    seconds: float
    pieces: int
    trained: int
    open: int


def sweep_time(root: str | Path, suite: str | None = None, budget: str | None = None) -> SweepTime:
    """The summed wall time of the sweeps recorded in ``root`` (of ``suite`` at
    ``budget`` when given)."""
    sweeps = [
        s
        for s in read_sweeps(root)
        if (suite is None or s.get("suite") == suite)
        and (budget is None or s.get("budget") == budget)
    ]
    total = 0.0
    for s in sweeps:
        end = s.get("ended") if s.get("ended") is not None else s.get("last_seen")
        total += float(end) - float(s["started"])
    return SweepTime(
        seconds=total,
        pieces=len(sweeps),
        trained=sum(int(s.get("trained", 0)) for s in sweeps),
        open=sum(1 for s in sweeps if s.get("ended") is None),
    )
