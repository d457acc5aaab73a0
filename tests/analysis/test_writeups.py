"""Write-ups cannot drift from their data: every result write-up's answer is the
generated ``report/summary.md`` (copied between markers by ``xfer report``), the top
README's results table is generated from the committed ``verdicts.csv`` files, no
interval is hand-written outside a generated block, and the hand-written figures that
remain are checked against the committed files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analysis.experiments import ARMS_BEGIN, EXPERIMENTS
from analysis.verdicts import (
    BEGIN,
    END,
    GLANCE_BEGIN,
    TUNING_BEGIN,
    glance_markdown,
    tuning_glance,
)

REPO = Path(__file__).resolve().parents[2]
RESULTS = sorted(p for p in (REPO / "docs" / "results").iterdir() if (p / "report").is_dir())
WRITEUPS = [p / "README.md" for p in RESULTS] + [REPO / "README.md", REPO / "docs" / "den.md"]
WRITEUPS += [REPO / "docs" / "experiments" / e.page for e in EXPERIMENTS]
# a number followed by an interval: "0.05 [0.03, 0.07]", "110% [101, 120]"
INTERVAL = re.compile(r"[-+]?\d[\d,]*(\.\d+)?%?x?\s*\[\s*[-+]?\d")


def _split_blocks(text: str) -> tuple[str, list[str]]:
    """The text with every generated block (either kind of marker) cut out, and the
    blocks cut."""
    blocks = []
    for begin in (BEGIN, GLANCE_BEGIN, TUNING_BEGIN, ARMS_BEGIN):
        while begin in text:
            head, rest = text.split(begin, 1)
            if END not in rest:
                raise AssertionError(f"a block opened with {begin!r} is never closed")
            block, tail = rest.split(END, 1)
            blocks.append(block)
            text = head + tail
    return text, blocks


def _outside_blocks(text: str) -> str:
    return _split_blocks(text)[0]


def hand_intervals(text: str) -> list[str]:
    """The lines outside generated blocks that hold an interval."""
    return [line for line in _outside_blocks(text).splitlines() if INTERVAL.search(line)]


def _block(text: str, begin: str) -> str:
    return text.split(begin, 1)[1].split(END, 1)[0].lstrip("\n")


@pytest.mark.parametrize("results", RESULTS, ids=lambda p: p.name)
def test_each_writeups_answer_is_its_generated_summary(results):
    text = (results / "README.md").read_text()
    assert BEGIN in text and END in text, f"{results.name}/README.md has no generated block"
    assert _block(text, BEGIN) == (results / "report" / "summary.md").read_text()


@pytest.mark.parametrize("path", WRITEUPS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_interval_is_written_by_hand(path):
    assert hand_intervals(path.read_text()) == []


# a figure as the summary tables print it: FT +0.113, AUC_n minus fine-tune-all -0.045
SIGNED = re.compile(r"(?<![\w.])[-+]\d+\.\d{3}(?!\d)")


def unsupported_figures(text: str) -> list[str]:
    """The signed three-decimal figures outside generated blocks that no generated block
    of the same text holds (a figure restated by hand must be one the report wrote)."""
    outside, blocks = _split_blocks(text)
    inside = set(SIGNED.findall("".join(blocks)))
    return [x for x in SIGNED.findall(outside) if x not in inside]


@pytest.mark.parametrize("path", WRITEUPS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_restated_figure_is_one_the_report_generated(path):
    assert unsupported_figures(path.read_text()) == []


def test_the_checks_fail_on_injected_drift():
    text = f"intro\n{BEGIN}\nFT +0.05 [+0.01, +0.09]\n{END}\nprose\n"
    assert hand_intervals(text) == []
    drifted = text.replace("prose", "progressive FT 0.09 [0.07, 0.11] on hflip")
    assert hand_intervals(drifted) == ["progressive FT 0.09 [0.07, 0.11] on hflip"]
    assert hand_intervals("ratio 110% [101, 120]") and hand_intervals("4.7x [3.7, 7.2]")
    assert not hand_intervals("see [report/report.md](report/report.md), 1 [link]")
    # a figure restated by hand must be in the generated block
    assert unsupported_figures(text.replace("prose", "FT +0.05 on hflip")) == []
    assert unsupported_figures(f"{BEGIN}\nFT +0.113\n{END}\nahead (FT +0.113)") == []
    assert unsupported_figures(f"{BEGIN}\nFT +0.113\n{END}\nahead (FT +0.131)") == ["+0.131"]


def test_the_readme_results_table_is_generated_from_the_committed_reports():
    text = (REPO / "README.md").read_text()
    assert GLANCE_BEGIN in text
    assert _block(text, GLANCE_BEGIN) == glance_markdown(REPO / "docs" / "results")
    assert TUNING_BEGIN in text
    assert _block(text, TUNING_BEGIN) == tuning_glance(REPO / "docs" / "tuning")


def test_road_runners_held_action_figures_are_the_floors_files():
    floors = json.loads((REPO / "docs/results/atari/floors.json").read_text())
    held = floors["atari/road_runner"]["constant"]
    assert held["episodes"] == 3 and floors["atari/road_runner"]["floor"] == 0.0
    text = (REPO / "docs/results/atari/README.md").read_text()
    m = re.search(r"holding UPLEFT scores ([\d,]+) \((\d+) episodes; LEFT ([\d,]+)\)", text)
    assert m, "the write-up no longer states the held-action scores"
    upleft, episodes, left = (int(g.replace(",", "")) for g in m.groups())
    assert (upleft, episodes, left) == (
        held["means"]["UPLEFT"],
        held["episodes"],
        held["means"]["LEFT"],
    )
