"""The report from a synthetic results tree: no training, no Ray."""

import csv
import json
from pathlib import Path

import pytest

from analysis.report import build_report


def write_run(root: Path, task, agent, sources, curve, state="done", seed=0, tag=""):
    src = "+".join(s.replace("/", "-") for s in sources)
    name = agent + (f"_from_{src}" if sources else "")
    d = root / task.replace("/", "-") / name / (f"seed{seed}" + (f"_{tag}" if tag else ""))
    d.mkdir(parents=True)
    (d / "config.json").write_text(
        json.dumps({"run": {"task": task, "agent": agent, "sources": list(sources), "seed": seed}})
    )
    (d / "status.json").write_text(
        json.dumps({"state": state, "reason": "boom" if state == "failed" else ""})
    )
    with (d / "curve.csv").open("w") as f:
        f.write("env_steps,frames,episodes,episode_return_mean,wall_time\n")
        for step, score in curve:
            f.write(f"{step},{step},1,{score},1.0\n")
    return d


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    (root / "floors.json").write_text(
        json.dumps(
            {
                "pong_soup/white": {"floor": -21.0},
                "pong_soup/hflip": {"floor": -20.0},
                "pong_soup/pong": {"floor": -21.0},
            }
        )
    )
    cells = []
    for target in ("pong_soup/white", "pong_soup/hflip"):
        cells.append(
            {
                "label": "baseline1-scratch",
                "agent": "scratch",
                "target": target,
                "sources": [],
                "job": 0,
            }
        )
        cells.append(
            {
                "label": "progressive-2col",
                "agent": "progressive",
                "target": target,
                "sources": ["pong_soup/pong"],
                "job": 0,
            }
        )
    (root / "plan.json").write_text(
        json.dumps(
            {
                "suite": "pong-soup",
                "domain": "pong_soup",
                "budget": "smoke",
                "top_k": 1,
                "cells": cells,
            }
        )
    )
    # white: scratch AUC -13 (8 above floor -21), progressive AUC -5 (16 above): 200%
    write_run(root, "pong_soup/white", "scratch", (), [(0, -13), (100, -13)])
    write_run(
        root, "pong_soup/white", "progressive", ("pong_soup/pong",), [(0, -9), (50, -5), (100, -1)]
    )
    # hflip: progressive failed, scratch fine
    write_run(root, "pong_soup/hflip", "scratch", (), [(0, -20), (100, -10)])
    write_run(
        root, "pong_soup/hflip", "progressive", ("pong_soup/pong",), [(0, -20)], state="failed"
    )
    write_run(root, "pong_soup/pong", "scratch", (), [(0, -21), (100, -5)])  # a source run
    return root


def test_report_matrix_numbers_and_missing_cells(tree):
    out = build_report(tree)
    with (out / "transfer_matrix.csv").open() as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == [
            "agent",
            "source",
            "target",
            "transfer",
            "auc",
            "auc_baseline",
            "floor",
            "jobs",
        ]
        rows = {(r["agent"], r["target"]): r for r in reader}
    white = rows[("progressive-2col", "pong_soup/white")]
    assert float(white["transfer"]) == pytest.approx(200.0)
    assert float(white["auc"]) == pytest.approx(-5.0) and float(white["floor"]) == -21.0
    assert rows[("baseline1-scratch", "pong_soup/white")]["transfer"] == "100.00"
    failed = rows[("progressive-2col", "pong_soup/hflip")]
    assert failed["transfer"] == "n/a" and failed["jobs"] == "0"
    html = (out / "index.html").read_text()
    assert "failed" in html and "boom" in html and "data:image/png;base64," in html
    md = (out / "report.md").read_text()
    assert "heatmap_progressive-2col.png" in md and (out / "heatmap_progressive-2col.png").is_file()
    assert (out / "curves_pong_soup-white.png").stat().st_size > 1000
    table = (out / "table1.txt").read_text()
    assert "209 / 169" in table  # the paper's numbers beside ours


def test_report_survives_partial_files_and_missing_floor(tree):
    (tree / "floors.json").unlink()
    broken = tree / "pong_soup-white" / "scratch" / "seed0" / "curve.csv"
    broken.write_text("env_steps,frames\n1,")
    out = build_report(tree)
    with (out / "transfer_matrix.csv").open() as f:
        rows = {(r["agent"], r["target"]): r for r in csv.DictReader(f)}
    assert rows[("baseline1-scratch", "pong_soup/white")]["floor"] == "-21.0000"  # game minimum
    assert "game minimum" in (out / "report.md").read_text()
    assert rows[("progressive-2col", "pong_soup/white")]["transfer"] == "n/a"  # no baseline


def test_report_of_missing_dir_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results directory"):
        build_report(tmp_path / "nope")


def test_report_cli_exit_code(tmp_path, capsys):
    from benchmarks.cli import main

    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no results directory" in capsys.readouterr().err
