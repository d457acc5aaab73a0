"""Which signal is ending the process, when one is (no Ray import here).

The driver's SIGTERM handler (``benchmarks.rllib.algo``) notes the signal before it
exits with ``SystemExit(15)``. While Ray is starting actors it can turn that exit into
``SystemExit(1)``; the CLI and the training loop ask here so that such a kill is still
reported as a SIGTERM, with the message that says how to resume.
"""

from __future__ import annotations

import signal

__all__ = ["note", "terminated", "clear"]

_RECEIVED: list[int] = []


def note(signum: int) -> None:
    """Record that ``signum`` was received."""
    _RECEIVED.append(int(signum))


def terminated(code: object = None) -> bool:
    """True when this exit is a SIGTERM: ``code`` is 15, or a SIGTERM was noted."""
    return code == signal.SIGTERM or signal.SIGTERM in _RECEIVED


def clear() -> None:
    """Forget the noted signals (tests)."""
    _RECEIVED.clear()
