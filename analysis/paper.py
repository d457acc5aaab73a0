"""Names and numbers from the Progressive Neural Networks paper, for tables and reports."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["agent_label", "PAPER_TABLE1", "AGENT_ORDER"]

AGENT_ORDER = (
    "baseline1-scratch",
    "baseline2-finetune-head",
    "baseline3-finetune-all",
    "baseline4-random-column",
    "progressive-2col",
    "progressive-3col",
    "progressive-4col",
    "pathnet",
    "den",
)

# Table 1 of Rusu et al. 2016: transfer %, (mean, median) over targets; None = not run.
PAPER_TABLE1: dict[str, dict[str, tuple[float, float] | None]] = {
    "baseline1-scratch": {"pong_soup": (100, 100), "atari": (100, 100), "labyrinth": (100, 100)},
    "baseline2-finetune-head": {"pong_soup": (35, 7), "atari": (41, 21), "labyrinth": (88, 85)},
    "baseline3-finetune-all": {
        "pong_soup": (181, 160),
        "atari": (133, 110),
        "labyrinth": (235, 112),
    },
    "baseline4-random-column": {
        "pong_soup": (134, 131),
        "atari": (96, 95),
        "labyrinth": (185, 108),
    },
    "progressive-2col": {"pong_soup": (209, 169), "atari": (132, 112), "labyrinth": (491, 115)},
    "progressive-3col": {"pong_soup": (222, 183), "atari": (140, 111), "labyrinth": None},
    "progressive-4col": {"pong_soup": None, "atari": (141, 116), "labyrinth": None},
}


def agent_label(agent: str, sources: Sequence[str]) -> str:
    """Table 1's row name for ``agent`` trained after ``sources``.

    Example:
        >>> agent_label("progressive", ["atari/seaquest", "atari/riverraid"])
        'progressive-3col'
    """
    from methods import get_method

    try:
        return get_method(agent).label(sources)
    except ValueError:  # a method this version does not know keeps its name
        return agent
