"""The random-policy floor of each task, read from one place for every analysis.

``<results root>/floors.json`` holds, per task, the mean score of a uniformly random
policy (``xfer bench`` measures it before training; ``xfer floors`` measures it for any
results root), with the episode count and standard deviation. The report, APS and the
forgetting table all read floors through :func:`load_floors`, so they agree.

Where ``floors.json`` lacks a task, the floor is the game's minimum score for domains
that have a known one (Catch -1, Pong -21), labelled as such; for every other domain a
missing floor is an error (a floor of 0.0 would silently change every normalised number).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Floor", "MissingFloorError", "load_floors", "GAME_MINIMUM"]

# Lowest possible score per domain: the labelled stand-in when floors.json lacks a task.
GAME_MINIMUM = {"catch_soup": -1.0, "pong_soup": -21.0}


class MissingFloorError(ValueError):
    """floors.json lacks a task whose domain has no known game minimum."""


@dataclass(frozen=True)
class Floor:
    """One task's floor.

    Attributes:
        value: the floor score.
        source: ``random policy`` or ``game minimum (...)``.
        episodes: random episodes measured (0 for a game minimum).
        se: standard error of ``value`` (0 for a game minimum; None if not recorded).
        sd: standard deviation of the random episodes' scores (None where ``se`` is
            None or there were no episodes).
        constant: the best mean score of holding one action for whole episodes (None:
            not measured). A reference beside the floor, not the floor: a score at or
            under it needs no sight.
        constant_action: which action that is.
    """

    value: float
    source: str
    episodes: int = 0
    se: float | None = 0.0
    sd: float | None = None
    constant: float | None = None
    constant_action: str | None = None

    def describe(self) -> str:
        if not self.episodes:
            return self.source
        se = "" if self.se is None else f", SE {self.se:.3f}"
        return f"{self.source} ({self.episodes} episodes{se})"


def load_floors(
    root: str | Path, tasks: set[str] | list[str], measured: bool = False
) -> dict[str, Floor]:
    """The floor of every task in ``tasks`` for the results under ``root``.

    ``measured``: only random-policy floors measured into ``root/floors.json`` count
    (ship-column, the plateau rule and tuning need one); otherwise a domain's game
    minimum stands in for a missing one, and the report says so.

    Raises:
        MissingFloorError: naming the tasks that have no floor and how to measure them.
        ValueError: when ``floors.json`` is not readable JSON (naming the file).
    """
    path = Path(root) / "floors.json"
    data: dict = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}); delete it to re-measure") from err
        if not isinstance(data, dict):
            raise ValueError(
                f"{path} must map task ids to floors, got {type(data).__name__}; delete it to "
                "re-measure"
            )
    floors: dict[str, Floor] = {}
    missing = []
    for task in sorted(tasks):
        entry = data.get(task)
        if isinstance(entry, dict) and "floor" in entry:
            value = entry["floor"]
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise ValueError(f"{path}: the floor of {task} is not a number ({value!r})")
            episodes = int(entry.get("episodes", 0))
            std = entry.get("std")
            sd = float(std) if std is not None and episodes else None
            se = sd / math.sqrt(episodes) if sd is not None else None
            const = entry.get("constant") or {}
            floors[task] = Floor(
                float(entry["floor"]),
                "random policy",
                episodes,
                se,
                sd,
                float(const["best"]) if "best" in const else None,
                const.get("best_action"),
            )
            continue
        domain = task.split("/", 1)[0]
        if domain in GAME_MINIMUM and not measured:
            floors[task] = Floor(GAME_MINIMUM[domain], "game minimum (floors.json lacks this task)")
        else:
            missing.append(task)
    if missing:
        raise MissingFloorError(
            f"{path} has no random-policy floor for {', '.join(missing)}; measure it with "
            f"`xfer floors {root} --task {missing[0]}` (xfer bench measures floors itself)"
        )
    return floors
