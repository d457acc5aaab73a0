"""Progress bars (tqdm) for a run and for a suite, shown only on a terminal.

``XFER_PROGRESS=1`` forces the bars on, ``XFER_PROGRESS=0`` off; by default they are
drawn when stderr is a terminal. Off a terminal (logs, CI, Tune workers) nothing is
drawn and the callers' plain log lines carry the progress instead.

Example:
    >>> bar = Progress(100, "demo", unit="step", enabled=False)
    >>> bar.update_to(40, ret=-3.5)
    >>> bar.active, bar.n
    (False, 40)
    >>> bar.close()
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Progress", "progress_enabled"]


def progress_enabled() -> bool:
    """Whether bars are drawn: ``XFER_PROGRESS`` if set, else whether stderr is a tty."""
    forced = os.environ.get("XFER_PROGRESS", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class Progress:
    """One bar: steps of a run (with its latest return) or runs of a suite (with ETA).

    Args:
        total: the count at which the work is done.
        desc: label in front of the bar.
        unit: what is counted (``step``, ``run``).
        initial: count already done (a resumed run, runs finished earlier).
        position: line of the bar (0 the suite's, 1 a run's under it).
        enabled: draw it (default :func:`progress_enabled`).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "step",
        initial: int = 0,
        position: int = 0,
        enabled: bool | None = None,
    ) -> None:
        self.n = int(initial)
        self.active = progress_enabled() if enabled is None else enabled
        self._bar: Any = None
        if self.active:
            from tqdm import tqdm

            self._bar = tqdm(
                total=int(total),
                initial=int(initial),
                desc=desc,
                unit=unit,
                unit_scale=unit == "step",
                position=position,
                leave=position == 0,
                dynamic_ncols=True,
                smoothing=0.1,
            )

    def update_to(self, n: float, **postfix: Any) -> None:
        """Move the bar to count ``n``; ``postfix`` fields are shown after it."""
        n = int(n)
        if self._bar is not None:
            self._bar.update(max(n - self.n, 0))
            if postfix:
                self._bar.set_postfix(
                    {k: (f"{v:.2f}" if isinstance(v, float) else v) for k, v in postfix.items()},
                    refresh=False,
                )
        self.n = n

    def writer(self, log: Callable[..., Any]) -> Callable[..., Any]:
        """``log`` wrapped so its lines print above the bar instead of through it."""
        if self._bar is None:
            return log

        def write(*args: Any, **kwargs: Any) -> Any:
            from tqdm import tqdm

            with tqdm.external_write_mode(file=sys.stdout):
                return log(*args, **kwargs)

        return write

    def close(self) -> None:
        """Remove (a run's) or finish (a suite's) bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
