"""The transfer matrices of each domain, as data.

A :class:`Cell` is one (agent, source chain, target) entry of a matrix; a
:class:`Suite` lists its cells in full, reduced (laptop budget) and smoke form.
Agent labels follow the paper's Table 1: baseline 1 ``scratch``, baseline 2
``finetune-head``, baseline 3 ``finetune-all``, baseline 4 ``random-column``,
``progressive`` with 2, 3 or 4 columns (one per source in the chain, plus the target's),
``pathnet`` and ``den`` (Dynamically Expandable Networks: a row of every full matrix and
of Catch Soup's laptop and smoke matrices; PathNet is in Catch Soup's laptop matrix too).
Pong Soup's laptop matrix is the one ``make bench-pong`` runs by default: 3 seeds of
baselines 1 and 3 and progressive on hflip and noisy, within 3 hours on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analysis.paper import PAPER_TABLE1, agent_label
from envs import ATARI_TARGETS, SOUP_VARIANTS
from methods import get_method

__all__ = ["Cell", "Suite", "SUITES", "get_suite", "agent_label", "PAPER_TABLE1"]


@dataclass(frozen=True)
class Cell:
    """One matrix entry: train ``agent`` on ``target`` after the ``sources`` chain."""

    agent: str
    target: str
    sources: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return agent_label(self.agent, self.sources)

    @property
    def source_label(self) -> str:
        return " > ".join(s.split("/", 1)[1] for s in self.sources) or "-"


@dataclass(frozen=True)
class Suite:
    """A domain's transfer matrix.

    Attributes:
        name: ``pong-soup``, ``atari``, ``labyrinth`` or ``catch-soup``.
        domain: the task-id domain of its tasks.
        cells: the full matrix.
        reduced: the laptop-budget matrix (a subset).
        smoke: the smoke-budget matrix (the smallest filled matrix).
        notes: what the reduced matrix leaves out.
        row: the paper's row from the first source (Pong Soup: from pong to every other
            variant) with the laptop matrix's agents (the ``overnight`` budget); empty
            where a suite has none.
        tuned: per agent, the fields its target runs take from the suite's committed
            tuning record (``docs/tuning/<suite>/tuning.json``, chosen by ``xfer tune``)
            instead of RunConfig's defaults; what the user gives still wins, and source
            runs keep the defaults. Empty: the suite is not tuned.
    """

    name: str
    domain: str
    cells: tuple[Cell, ...]
    reduced: tuple[Cell, ...]
    smoke: tuple[Cell, ...]
    notes: str = ""
    row: tuple[Cell, ...] = ()
    tuned: dict[str, dict[str, float]] = field(default_factory=dict)

    def cells_for(self, budget_name: str, reduced: bool, row: bool = False) -> tuple[Cell, ...]:
        if budget_name == "smoke":
            return self.smoke
        if row:
            if not self.row:
                raise KeyError(f"suite {self.name!r} has no row matrix (budget {budget_name!r})")
            return self.row
        return self.reduced if reduced else self.cells


def _soup_cells(
    domain: str,
    sources: tuple[str, ...],
    targets: tuple[str, ...],
    agents: tuple[str, ...],
) -> tuple[Cell, ...]:
    """Pong Soup's matrix: per target, baselines 1 and 4 once; transfer agents per source."""
    cells: list[Cell] = []
    order = list(sources)
    for t in targets:
        target = f"{domain}/{t}"
        for agent in agents:
            if agent == PROGRESSIVE_3COL:  # a row of Table 1, not a method
                for s in sources:
                    other = order[(order.index(s) + 1) % len(order)]
                    if other != s:
                        chain = (f"{domain}/{other}", f"{domain}/{s}")
                        cells.append(Cell("progressive", target, chain))
            else:
                cells += _cells_for(agent, target, tuple(f"{domain}/{s}" for s in sources))
    return tuple(cells)


def _cells_for(agent: str, target: str, sources: tuple[str, ...]) -> list[Cell]:
    """``agent`` on ``target``: once when its method takes no source, else once after
    each of ``sources``."""
    if get_method(agent).max_sources == 0:
        return [Cell(agent, target)]
    return [Cell(agent, target, (s,)) for s in sources]


PROGRESSIVE_3COL = "progressive-3col"
SOUP_AGENTS = (
    "scratch",
    "finetune-head",
    "finetune-all",
    "random-column",
    "progressive",
    PROGRESSIVE_3COL,
    "pathnet",
    "den",
)

# the laptop (reduced) matrices' agents. Catch Soup's: baselines 1-4, progressive,
# PathNet and DEN (a Catch run takes about a minute). Pong Soup's must fit 3 seeds per
# cell in 3 hours on 2 cores (about 7 minutes a 600k-step run): baseline 1 (every
# transfer score's reference), baseline 3 (the paper's strongest baseline) and
# progressive, on the two targets where 600k steps show transfer (see the budget's notes)
REDUCED_AGENTS = ("scratch", "finetune-head", "finetune-all", "random-column", "progressive")
CATCH_REDUCED_AGENTS = REDUCED_AGENTS + ("pathnet", "den")
PONG_REDUCED_AGENTS = ("scratch", "finetune-all", "progressive")
PONG_REDUCED_TARGETS = ("hflip", "noisy")
# white is in neither laptop matrix: no agent has left its floor there within the laptop
# steps (Catch 150k, Pong 600k), so its cells measured only noise around zero
CATCH_REDUCED_TARGETS = ("hflip", "noisy")


# Pong Soup's tuning record (docs/tuning/pong-soup/tuning.md, held-out target pong_soup/pong,
# seeds 100 and 101), each agent at its choice, or its provisional choice while its grid
# has runs missing (tests/benchmarks/test_tuning.py checks them against the record)
PONG_TUNED: dict[str, dict[str, float]] = {
    "scratch": {"lr": 2.8e-3},
    "finetune-all": {"lr": 2e-3},
    "progressive": {"lr": 2.8e-3},  # alpha_init 1 (the default, the top of the paper's sweep)
}


def _soup_suite(name: str, domain: str) -> Suite:
    full = _soup_cells(domain, ("pong", "noisy", "hflip"), SOUP_VARIANTS, SOUP_AGENTS)
    catch = domain == "catch_soup"
    if catch:
        reduced = _soup_cells(domain, ("pong",), CATCH_REDUCED_TARGETS, CATCH_REDUCED_AGENTS)
        what = (
            "reduced: first column trained on pong; targets hflip and noisy (white: no "
            "agent left its floor within 150k steps); agents baselines 1-4, "
            "progressive-2col, PathNet and DEN (no 3-column chains)."
        )
    else:
        reduced = _soup_cells(domain, ("pong",), PONG_REDUCED_TARGETS, PONG_REDUCED_AGENTS)
        what = (
            "reduced: first column the shipped zoo column on pong; targets hflip and noisy "
            "(white: no agent leaves its floor within 600k steps); agents baseline 1 "
            "(scratch), baseline 3 (fine-tune all) and progressive-2col (baselines 2 and 4, "
            "PathNet and DEN only in the full matrix: 3 seeds of them do not fit 3 hours on "
            "2 cores)."
        )
    smoke = _soup_cells(
        domain,
        ("pong",),
        ("pong", "hflip"),
        ("scratch", "finetune-all", "progressive") + (("den",) if catch else ()),
    )
    # the paper's row from pong: every other variant, the laptop agents
    row = _soup_cells(
        domain,
        ("pong",),
        tuple(v for v in SOUP_VARIANTS if v != "pong"),
        CATCH_REDUCED_AGENTS if catch else PONG_REDUCED_AGENTS,
    )
    return Suite(
        name,
        domain,
        full,
        reduced,
        smoke,
        row=row,
        tuned={} if catch else PONG_TUNED,
        notes=what + " The full matrix: sources pong, noisy, hflip; all 8 targets; baselines 1-4, "
        "progressive 2 and 3 columns (chain: next source in (pong, noisy, hflip) order, "
        "then the source), PathNet, DEN.",
    )


# Atari's laptop matrix: Pong Soup's three agents on the two targets that scratch learns
# soonest on this machine, every seed on the Pong zoo column (atari/pong observes
# pong_soup/pong's pixels; one of the paper's three Atari sources, and the one that has
# plateaued: Seaquest still gained 60 points per 125k steps at 3.3M). Boxing, the target
# it used before, stays at its random floor for 1M steps (docs/learnability.md).
ATARI_REDUCED_AGENTS = PONG_REDUCED_AGENTS
ATARI_REDUCED_TARGETS = ("road_runner", "krull")
ATARI_LAPTOP_SOURCE = "atari/pong"
# Labyrinth's laptop matrix must fit 3 seeds per cell in 3 hours on 2 cores (a 250k-step
# run takes 6-10 minutes: the software renderer bounds it), so it keeps Pong Soup's three
# agents: baseline 1, baseline 3 and progressive. Both targets learn within the budget
# (scratch clears its floor at 77k steps on seek_track_2 and 177k on seek_avoid_1:
# docs/learnability.md), so transfer can show as learning sooner.
LABYRINTH_REDUCED_AGENTS = PONG_REDUCED_AGENTS
LABYRINTH_REDUCED_TARGETS = ("seek_track_2", "seek_avoid_1")
LABYRINTH_SOURCE = "labyrinth/seek_track_1"


def _atari_suite() -> Suite:
    chain = ("atari/seaquest", "atari/riverraid", "atari/pong")
    cells: list[Cell] = []
    for t in ATARI_TARGETS:
        target = f"atari/{t}"
        cells += [Cell("scratch", target), Cell("random-column", target)]
        # the paper's Atari matrix: 2-column nets and baselines 2 and 3 from each source
        for source in chain:
            cells += [Cell(a, target, (source,)) for a in ("finetune-head", "finetune-all")]
            cells.append(Cell("progressive", target, (source,)))
        cells += [Cell("progressive", target, chain[:n]) for n in (2, 3)]
        cells.append(Cell("pathnet", target, chain[:1]))
        cells.append(Cell("den", target, chain[:1]))
    reduced = tuple(
        cell
        for t in ATARI_REDUCED_TARGETS
        for agent in ATARI_REDUCED_AGENTS
        for cell in _cells_for(agent, f"atari/{t}", (ATARI_LAPTOP_SOURCE,))
    )
    smoke = (Cell("scratch", "atari/boxing"), Cell("progressive", "atari/boxing", chain[:1]))
    return Suite(
        "atari",
        "atari",
        tuple(cells),
        reduced,
        smoke,
        notes=(
            "reduced: targets road_runner and krull (learned by scratch within the laptop budget; "
            "boxing is not, in 1M steps); first column the shipped Pong zoo column (atari/pong "
            "sees pong_soup/pong's pixels); agents baseline 1 (scratch), baseline 3 (fine-tune "
            "all) and progressive-2col. The full matrix: all 12 targets; baselines 2 and 3 and "
            "progressive-2col from each of seaquest, riverraid and pong (the paper's three "
            "sources); progressive chains seaquest > riverraid for 3 columns and seaquest > "
            "riverraid > pong for 4; PathNet and DEN from seaquest."
        ),
    )


def _labyrinth_suite() -> Suite:
    from envs import TASKS

    levels = sorted(t.split("/", 1)[1] for t in TASKS if t.startswith("labyrinth/"))
    cells: list[Cell] = []
    for target in levels:
        tid = f"labyrinth/{target}"
        cells += [Cell("scratch", tid), Cell("random-column", tid)]
        for source in levels:
            if source == target:
                continue
            sid = f"labyrinth/{source}"
            cells += [
                Cell(a, tid, (sid,))
                for a in ("finetune-head", "finetune-all", "progressive", "pathnet", "den")
            ]
    source = (LABYRINTH_SOURCE,)
    reduced = tuple(
        cell
        for t in LABYRINTH_REDUCED_TARGETS
        if f"labyrinth/{t}" in TASKS
        for agent in LABYRINTH_REDUCED_AGENTS
        for cell in _cells_for(agent, f"labyrinth/{t}", source)
    )
    first = reduced[0].target if reduced else None
    smoke = (Cell("scratch", first), Cell("progressive", first, source)) if first else ()
    return Suite(
        "labyrinth",
        "labyrinth",
        tuple(cells),
        reduced,
        smoke,
        notes=(
            "reduced: targets seek_track_2 and seek_avoid_1, each learned by scratch within "
            "the laptop budget; first column the shipped zoo column on seek_track_1; agents "
            "baseline 1 (scratch), baseline 3 (fine-tune all) and progressive-2col "
            "(baselines 2 and 4, PathNet and DEN only in the full matrix: 3 seeds of them do "
            "not fit 3 hours on 2 cores)."
        ),
    )


# The noise experiment (docs/experiments/README.md): how strong must Pong Soup's frozen
# noise be for the pong column to stop transferring? The paper gives no variance; the
# shipped pong columns already lose most of their play at sd 8. The laptop matrix's agents
# from the shipped pong column on noisy at sd 8, 16 and the suite's 32, at the laptop
# budget; run on a copy of docs/results/pong-soup, it reuses that report's 9 sd-32 runs.
NOISE_TARGETS = ("noisy8", "noisy16", "noisy")


def _pong_experiment(name: str, targets: tuple[str, ...], notes: str) -> Suite:
    """An experiment on Pong Soup variants, not the paper's matrix: the laptop agents from
    the shipped pong column on ``targets``, at Pong Soup's tuned settings (smoke: scratch
    and progressive on the first target)."""
    cells = _soup_cells("pong_soup", ("pong",), targets, PONG_REDUCED_AGENTS)
    smoke = _soup_cells("pong_soup", ("pong",), targets[:1], ("scratch", "progressive"))
    return Suite(name, "pong_soup", cells, cells, smoke, tuned=PONG_TUNED, notes=notes)


SUITES: dict[str, Suite] = {
    "pong-soup": _soup_suite("pong-soup", "pong_soup"),
    "pong-noise": _pong_experiment(
        "pong-noise",
        NOISE_TARGETS,
        "an experiment, not the paper's matrix: Pong Soup's noisy variant at noise sd 8, 16 "
        "and 32 grey levels (pong_soup/noisy8, noisy16, noisy), baselines 1 and 3 and "
        "progressive-2col from the shipped pong column, at Pong Soup's tuned settings.",
    ),
    "pong-white": _pong_experiment(
        "pong-white",
        ("white",),
        "an experiment, not the paper's matrix: Pong Soup's white variant, left out of the "
        "laptop matrix because no agent left its floor within 600k steps, with baselines 1 "
        "and 3 and progressive-2col from the shipped pong column, at Pong Soup's tuned "
        "settings; run it at the long budget (2M steps a run).",
    ),
    "catch-soup": _soup_suite("catch-soup", "catch_soup"),
    "atari": _atari_suite(),
    "labyrinth": _labyrinth_suite(),
}


def get_suite(name: str) -> Suite:
    """The suite called ``name``; a clear error lists the valid names."""
    try:
        suite = SUITES[name]
    except KeyError:
        raise KeyError(f"unknown suite {name!r}; choose from {', '.join(SUITES)}") from None
    if not suite.cells:
        raise KeyError(f"suite {name!r} has no tasks installed (its domain has not landed)")
    return suite
