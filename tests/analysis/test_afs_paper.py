"""The paper's AFS statements tested on the committed runs (analysis.afs_paper): each
rule by hand on made-up shares, the two-cell rule ordered by forward transfer, and the
committed page regenerated from the committed files (and changed by a damaged one)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from analysis.afs_paper import CLAIMS, afs_markdown, claim_rows, committed_page
from analysis.cells import SENSITIVITY_LAYERS, CellResult, Sensitivity

ROOT = Path(__file__).resolve().parents[2]


def _sens(target: str, runs: list[tuple[float, float, float, float]], ft: float = 0.1):
    cell = CellResult("progressive-2col", ("pong_soup/pong",), target, forward_transfer=ft)
    shares = {lay: [[1 - r[i], r[i]] for r in runs] for i, lay in enumerate(SENSITIVITY_LAYERS)}
    return Sensitivity(cell, "afs", {}, shares, [])


def _swap_columns(afs: Path) -> None:
    """Damage a run's ``afs.json``: its columns swapped at every layer, so the policy now
    leans on the other column's features."""
    data = json.loads(afs.read_text())
    for layer in data["layers"].values():
        layer["columns"] = layer["columns"][::-1]
    afs.write_text(json.dumps(data))


def _verdicts(found) -> dict[str, str]:
    rows = claim_rows(found)[1:]
    return {row[0]: row[3] for row in rows}


def test_each_rule_by_hand():
    hflip = [(0.2, 0.4, 0.9, 0.6), (0.3, 0.6, 0.1, 0.7), (0.1, 0.1, 0.1, 0.4)]
    noisy = [(0.10, 0.0, 0.0, 0.5), (0.05, 0.0, 0.0, 0.5)]
    found = {
        ("pong-soup", "pong_soup/hflip"): _sens("pong_soup/hflip", hflip),
        ("pong-soup", "pong_soup/noisy"): _sens("pong_soup/noisy", noisy),
    }
    got = list(_verdicts(found).values())
    # conv1 and conv2 below 0.5: runs 1 and 3 (run 2's conv2 is 0.6)
    assert got[0] == "mixed (2 of 3)"
    # fc above 0.5: runs 1 and 2
    assert got[1] == "mixed (2 of 3)"
    # conv1 at least 0.1: the first run only (0.10 counts)
    assert got[2] == "mixed (1 of 2)"
    # the weaker-noise cells and the Atari cells are absent: not tested
    assert got[3:] == ["not tested (no analysed run)"] * 3
    rows = claim_rows(found)
    assert "larger of conv1, conv2: 0.400, 0.600, 0.100" in rows[1][2]


def test_the_two_cell_rule_puts_the_lower_transfer_first():
    """The paper: less new vision, less transfer. Krull with the lower FT and the lower
    conv shares agrees in all 4 pairs; swapping the FTs makes the same shares disagree."""
    low = [(0.01, 0.01, 0.01, 0.5), (0.02, 0.02, 0.02, 0.5)]
    high = [(0.2, 0.2, 0.2, 0.5), (0.3, 0.3, 0.3, 0.5)]

    def found(ft_krull, ft_road):
        return {
            ("atari", "atari/krull"): _sens("atari/krull", low, ft_krull),
            ("atari", "atari/road_runner"): _sens("atari/road_runner", high, ft_road),
        }

    assert list(_verdicts(found(-0.1, 0.2)).values())[5] == "agrees (4 of 4)"
    assert list(_verdicts(found(0.3, 0.2)).values())[5] == "disagrees (0 of 4)"
    assert len(CLAIMS) == 6


def test_the_committed_page_is_generated_from_the_committed_runs(tmp_path):
    """``docs/experiments/afs_vs_paper.md`` is what the committed folders give, byte for
    byte; a copy of the Pong folder whose hflip seed-0 AFS has its columns swapped gives
    another verdict for the reuse of vision (shown failing on a damaged file)."""
    results = ROOT / "docs" / "results"
    page = ROOT / "docs" / "experiments" / "afs_vs_paper.md"
    assert committed_page(ROOT) == page.read_text(), "rerun python -m analysis.afs_paper"
    copy = tmp_path / "results" / "pong-soup"
    shutil.copytree(results / "pong-soup", copy, ignore=shutil.ignore_patterns("report"))
    afs = copy / "pong_soup-hflip" / "progressive_from_pong_soup-pong" / "seed0" / "afs.json"
    _swap_columns(afs)
    damaged = claim_rows_of(afs_markdown(tmp_path / "results"))
    committed = claim_rows_of(page.read_text())
    assert len(committed) == len(damaged) == 2
    assert damaged[0] != committed[0]  # the swapped run now leans on its own vision


def claim_rows_of(text: str) -> list[str]:
    table = text.split("## The paper's statements, tested", 1)[1]
    return [line for line in table.splitlines() if line.startswith("| Pong to H-flip")]


def test_a_run_whose_layer_died_is_marked_and_counted():
    """A share of exactly 0 at a layer the rule reads is a dead layer (every feature of
    the new column there has zero Fisher): the run follows the vision-reuse rule because
    its conv layers died, and the verdict says how many runs did; a share of 2e-6 is a
    live layer that the policy barely uses, not a dead one."""
    hflip = [(0.0, 0.0, 0.3, 0.6), (0.0, 2e-6, 0.2, 0.4), (0.6, 0.1, 0.1, 0.7)]
    found = {("pong-soup", "pong_soup/hflip"): _sens("pong_soup/hflip", hflip)}
    rows = claim_rows(found)
    assert (
        rows[1][2] == "larger of conv1, conv2: 0.000 (conv1, conv2 dead), 0.000 (conv1 dead), 0.600"
    )
    assert rows[1][3] == "mixed (2 of 3; 2 of the 3 with a dead layer)"
    # the fc rule reads fc only, alive in every run: no run marked
    assert rows[2][3] == "mixed (2 of 3)" and "dead" not in rows[2][2]


def test_a_cell_two_folders_hold_is_listed_once(tmp_path):
    """The overnight row repeats the laptop report's hflip and noisy runs: the page lists
    each such progressive cell once; a copy whose runs differ is listed under each."""
    results = ROOT / "docs" / "results"
    for name in ("pong-soup", "pong-soup-row"):
        shutil.copytree(
            results / "pong-soup", tmp_path / name, ignore=shutil.ignore_patterns("report")
        )

    def listed() -> list[str]:
        table = afs_markdown(tmp_path).split("## Every progressive cell", 1)[1]
        table = table.split("## The paper's statements", 1)[0]
        return [line.split(" | ")[0].lstrip("| ") for line in table.splitlines()[4:] if line]

    assert listed() == ["pong-soup", "pong-soup"]  # hflip and noisy, once each
    afs = "pong_soup-hflip/progressive_from_pong_soup-pong/seed0/afs.json"
    _swap_columns(tmp_path / "pong-soup-row" / afs)
    assert listed() == ["pong-soup", "pong-soup", "pong-soup-row"]


def test_the_noise_experiments_runs_join_the_page(tmp_path):
    """The noise experiment's folder is read after the reports: its progressive cells at
    sd 8 and 16 are listed under its name and the relearning rule is tested on them
    (without the folder those rows say "not tested"); a run whose columns are swapped
    (the policy now leans on its new conv1) turns the sd-8 verdict."""
    noise = ROOT / "docs" / "experiments" / "runs" / "pong-noise"
    empty = tmp_path / "results"
    empty.mkdir()

    def weaker(page: str) -> list[str]:
        table = page.split("## The paper's statements, tested", 1)[1]
        return [
            line.rsplit(" | ", 1)[1]
            for line in table.splitlines()
            if "here at our noise sd" in line
        ]

    alone = afs_markdown(empty)
    assert weaker(alone) == ["not tested (no analysed run) |"] * 2
    # the header names the folders the page was read from, and only those
    assert "docs/experiments/runs/pong-noise" not in alone
    page = afs_markdown(empty, [noise])
    assert "`docs/experiments/runs/pong-noise` (progressive at noise sd 8" in page
    got = weaker(page)
    assert len(got) == 2 and not any("not tested" in v for v in got)
    listed = page.split("## Every progressive cell", 1)[1]
    assert "| pong-noise | pong -> pong_soup/noisy8 |" in listed
    copy = tmp_path / "pong-noise"
    shutil.copytree(noise, copy, ignore=shutil.ignore_patterns("report"))
    afs = copy / "pong_soup-noisy8" / "progressive_from_pong_soup-pong" / "seed0" / "afs.json"
    _swap_columns(afs)
    assert weaker(afs_markdown(empty, [copy]))[1] != got[1]
