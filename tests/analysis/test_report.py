"""The report from a synthetic results tree: no training, no Ray."""

import csv

import pytest

from analysis.report import build_report


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
            "measure",
            "forward_transfer",
            "auc_normalized",
            "auc_normalized_baseline",
            "top",
        ]
        rows = {(r["agent"], r["target"]): r for r in reader}
    white = rows[("progressive-2col", "pong_soup/white")]
    assert float(white["transfer"]) == pytest.approx(200.0)
    assert float(white["auc"]) == pytest.approx(-5.0) and float(white["floor"]) == -21.0
    assert white["measure"] == "ratio"  # baseline 1: (-13 + 21) / 42 = 0.19 >= 0.1
    # noisy, by hand: AUC_n(progressive) = mean of 0 and 21/42 = 0.25; baseline 0.84/42 = 0.02
    noisy = rows[("progressive-2col", "pong_soup/noisy")]
    assert noisy["measure"] == "ft"
    assert float(noisy["auc_normalized"]) == pytest.approx(0.25, abs=1e-4)
    assert float(noisy["auc_normalized_baseline"]) == pytest.approx(0.02, abs=1e-4)
    assert float(noisy["forward_transfer"]) == pytest.approx((0.25 - 0.02) / 0.98, abs=1e-4)
    assert float(noisy["top"]) == 21.0
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
    assert "FT +0.23" in md  # the noisy cell shows forward transfer, never a huge ratio


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
