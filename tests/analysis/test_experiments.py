"""The experiment pages' tables (analysis.experiments): each committed page's generated
block is what the committed folders give; a committed arm's rows carry its report's
figures; an arm not yet committed says so, with the command that makes it."""

from __future__ import annotations

import csv
from pathlib import Path

from analysis.experiments import (
    ARMS_BEGIN,
    EXPERIMENTS,
    Arm,
    Experiment,
    arm_rows,
    experiment_markdown,
)
from analysis.verdicts import DIFF, END

ROOT = Path(__file__).resolve().parents[2]


def test_every_committed_page_is_its_generated_table():
    for exp in EXPERIMENTS:
        text = (ROOT / "docs" / "experiments" / exp.page).read_text()
        block = text.split(ARMS_BEGIN, 1)[1].split(END, 1)[0].lstrip("\n")
        assert block == experiment_markdown(exp, ROOT), (
            f"{exp.page}: rerun python -m analysis.experiments"
        )


def _write(folder: Path, rows: list[dict[str, str]], speed: dict[str, str]) -> None:
    report = folder / "report"
    report.mkdir(parents=True)
    cols = ["target", "agent", "n", "FT vs scratch [CI]", "vs scratch", DIFF]
    cols += ["vs fine-tune-all", "asymptotic score [CI]", "final evaluation per seed", "caveat"]
    with (report / "verdicts.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        w.writerows(rows)
    with (report / "transfer_matrix.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, ["agent", "target", "speed_up", "speed_up_lo", "speed_up_hi"])
        w.writeheader()
        w.writerow({"agent": "pathnet", "target": "catch_soup/hflip", **speed})


def test_an_arms_rows_are_its_reports_figures(tmp_path):
    row = {
        "target": "catch_soup/hflip", "agent": "pathnet", "n": "5",
        "FT vs scratch [CI]": "-2.123 [-3.866, -0.381]", "vs scratch": "worse than scratch",
        DIFF: "-", "vs fine-tune-all": "-", "asymptotic score [CI]": "0.82 [0.53, 1.11]",
        "final evaluation per seed": "", "caveat": "",
    }  # fmt: skip
    other = dict(row, agent="den", target="catch_soup/noisy")  # not an agent shown
    _write(tmp_path / "a", [other, row], {"speed_up": "0.313", "speed_up_lo": "0.216",
                                          "speed_up_hi": "inf"})  # fmt: skip
    arm = Arm("population 8", "a", "make bench-catch")
    exp = Experiment("x.md", (arm,), agents=("pathnet",), speed_up=True)
    assert arm_rows(exp, arm, tmp_path) == [
        [
            "population 8", "catch_soup/hflip", "pathnet", "5",
            "-2.123 [-3.866, -0.381]: worse than scratch", "-", "0.82 [0.53, 1.11] (-)",
            "0.31x [0.22, inf]", "-",
        ]
    ]  # fmt: skip
    # an arm whose folder holds no report: not trained, with its command, as wide
    missing = Arm("population 64", "b", "xfer bench catch-soup --pathnet-population 64")
    rows = arm_rows(exp, missing, tmp_path)
    assert rows[0][1] == "not trained yet: `xfer bench catch-soup --pathnet-population 64`"
    assert len(rows[0]) == 9
    # restricted to targets
    only = Experiment("x.md", (arm,), agents=("pathnet",), targets=("catch_soup/noisy",))
    assert arm_rows(only, arm, tmp_path) == []
