"""The report from a synthetic results tree: no training, no Ray."""

import csv
import json

import pytest

from analysis.report import DamagedResultsError, build_report


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
            "transfer_raw",
            "n",
            "auc_lo",
            "auc_hi",
            "transfer_lo",
            "transfer_hi",
            "forward_transfer_lo",
            "forward_transfer_hi",
            "jumpstart",
            "jumpstart_lo",
            "jumpstart_hi",
            "asymptotic",
            "asymptotic_lo",
            "asymptotic_hi",
            "time_to_threshold",
            "time_to_threshold_lo",
            "time_to_threshold_hi",
            "speed_up",
            "speed_up_lo",
            "speed_up_hi",
        ]
        rows = {(r["agent"], r["target"]): r for r in reader}
    white = rows[("progressive-2col", "pong_soup/white")]
    assert float(white["transfer"]) == pytest.approx(200.0)
    assert white["transfer_raw"] == "n/a"  # Pong scores are negative: no raw ratio
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
    assert "matrix.png" in md and (out / "matrix.png").is_file()
    assert (out / "curves_pong_soup-white.png").stat().st_size > 1000
    table = (out / "table1.txt").read_text()
    assert "209 / 169" in table  # the paper's numbers beside ours
    assert "FT +0.23 n=1, no interval" in md  # forward transfer, never a huge ratio
    assert white["n"] == "1" and white["transfer_lo"] == "n/a"  # one seed: no interval


def test_report_survives_partial_files_and_missing_floor(tree):
    (tree / "floors.json").unlink()
    broken = tree / "pong_soup-white" / "scratch" / "seed0" / "curve.csv"
    broken.write_text("env_steps,frames,episode_return_mean\n1,\n")  # a short row
    status = tree / "pong_soup-hflip" / "scratch" / "seed0" / "status.json"
    status.write_text('{"state": "do')  # truncated
    with pytest.raises(DamagedResultsError) as err:
        build_report(tree)
    message = str(err.value)
    assert str(broken) in message and "line 2 is not a full row" in message
    assert str(status) in message and "not valid JSON" in message
    assert not (tree / "report").exists()  # nothing written
    out = build_report(tree, allow_damaged=True)
    assert "Damaged files" in (out / "report.md").read_text()
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


def _two_cell_tree(root, domain, floor, base_curve, prog_curve):
    from conftest import write_run

    target, source = f"{domain}/b", f"{domain}/a"
    root.mkdir()
    (root / "floors.json").write_text(
        json.dumps({target: {"floor": floor}, source: {"floor": floor}})
    )
    cells = [
        {
            "label": "baseline1-scratch",
            "agent": "scratch",
            "target": target,
            "sources": [],
            "job": 0,
        },
        {
            "label": "progressive-2col",
            "agent": "progressive",
            "target": target,
            "sources": [source],
            "job": 0,
        },
    ]
    (root / "plan.json").write_text(json.dumps({"domain": domain, "cells": cells, "top_k": 1}))
    write_run(root, target, "scratch", [], base_curve)
    write_run(root, target, "progressive", [source], prog_curve)
    return target


def test_raw_ratio_is_shown_only_where_scores_are_non_negative(tmp_path):
    # baseline AUC = (1 + 3) / 2 = 2, progressive (2 + 6) / 2 = 4: raw 200%;
    # shifted by the floor 0.5: (4 - 0.5) / (2 - 0.5) = 233%
    target = _two_cell_tree(tmp_path / "a", "atari", 0.5, [(0, 1), (100, 3)], [(0, 2), (100, 6)])
    out = build_report(tmp_path / "a")
    with (out / "transfer_matrix.csv").open() as f:
        rows = {r["agent"]: r for r in csv.DictReader(f)}
    assert rows["progressive-2col"]["transfer_raw"] == "200.00"
    assert float(rows["progressive-2col"]["transfer"]) == pytest.approx(100 * 3.5 / 1.5, abs=0.01)
    assert "raw mean %" in (out / "table1.txt").read_text()
    # a negative score anywhere: no raw ratio (it would not mean what the paper's does)
    _two_cell_tree(tmp_path / "b", "atari", 0.5, [(0, -1), (100, 3)], [(0, 2), (100, 6)])
    out = build_report(tmp_path / "b")
    with (out / "transfer_matrix.csv").open() as f:
        rows = {r["agent"]: r for r in csv.DictReader(f)}
    assert rows["progressive-2col"]["transfer_raw"] == "n/a"
    assert "raw mean %" not in (out / "table1.txt").read_text()
    assert target == "atari/b"


def test_catch_soup_table1_is_labelled_a_proxy(tmp_path):
    _two_cell_tree(
        tmp_path / "c", "catch_soup", -0.9, [(0, -0.9), (100, 0.5)], [(0, 0.2), (100, 0.9)]
    )
    out = build_report(tmp_path / "c")
    table = (out / "table1.txt").read_text()
    assert "paper Pong Soup mean/median % (Catch Soup is only a proxy)" in table
    assert "only a proxy" in (out / "report.md").read_text() or "proxy" in table


def test_a_running_run_that_no_process_trains_is_shown_dead(tree):
    from conftest import write_run

    write_run(tree, "pong_soup/white", "scratch", [], [(0, -21)], state="running", tag="x")
    md = (build_report(tree) / "report.md").read_text()
    assert "dead (status says running, but no live process holds it" in md


def test_a_run_whose_final_evaluation_holds_one_action_is_noted_collapsed(tree):
    """The runs table says when a run's own final evaluation took one action at >= 90% of
    its steps (a score such a policy gets needs no sight); 80% is not noted."""
    from conftest import write_run

    for tag, counts in (("a", [1, 0, 0, 19]), ("b", [4, 0, 0, 16])):
        run = write_run(tree, "pong_soup/white", "scratch", [], [(0, -21)], tag=tag)
        summary = {"top_action": 3, "top_action_share": max(counts) / sum(counts)}
        data = {"scores": [-21.0], "mean": -21.0, "action_counts": counts, **summary}
        (run / "eval_pong_soup-white.json").write_text(json.dumps(data))
    md = (build_report(tree) / "report.md").read_text()
    assert md.count("collapsed policy: one action (3) at 95% of its evaluation steps") == 1
    assert "at 80% of" not in md


def test_a_final_evaluation_no_better_than_holding_one_action_is_noted(tree):
    """Road runner's shortcut: holding one action scores points without sight. A run whose
    final evaluation is at or under the best action held (floors.json's ``constant``) says
    so in the runs table; one above it, or a task without that measurement, does not."""
    from conftest import write_run

    floors = json.loads((tree / "floors.json").read_text())
    floors["pong_soup/white"]["constant"] = {"best": -19.5, "best_action": "LEFT"}
    (tree / "floors.json").write_text(json.dumps(floors))
    for tag, task, mean in (
        ("a", "pong_soup/white", -19.5),  # equal to holding LEFT: noted
        ("b", "pong_soup/white", -19.25),  # above it: not noted
        ("c", "pong_soup/hflip", -21.0),  # hflip has no constant measured: not noted
    ):
        run = write_run(tree, task, "scratch", [], [(0, -21)], tag=tag)
        data = {"scores": [mean], "mean": mean}
        (run / f"eval_{task.replace('/', '-')}.json").write_text(json.dumps(data))
    md = (build_report(tree) / "report.md").read_text()
    assert md.count("is not above holding") == 1
    assert "final evaluation -19.50 is not above holding LEFT (-19.50)" in md


def _forgetting_file(run_dir, task, scores, seed=4242, name="forgetting"):
    data = {"task": task, "episodes": len(scores), "seed": seed, "greedy": False}
    data.update(scores=scores, mean=sum(scores) / len(scores))
    (run_dir / f"{name}_{task.replace('/', '-')}.json").write_text(json.dumps(data))


def test_a_cell_whose_runs_cannot_play_the_source_is_named_with_the_reason(tree):
    """A fine-tuned network with the target's 18 actions cannot play 6-action Pong: its
    forgetting file holds an error. The report names the cell and the reason instead of
    leaving it out silently."""
    from conftest import write_run

    plan = json.loads((tree / "plan.json").read_text())
    plan["cells"].append(
        {
            "label": "baseline3-finetune-all",
            "agent": "finetune-all",
            "target": "pong_soup/hflip",
            "sources": ["pong_soup/pong"],
            "job": 0,
        }
    )
    (tree / "plan.json").write_text(json.dumps(plan))
    for seed in (0, 1):
        curve = [(0, -20), (100, -15)]
        run = write_run(
            tree, "pong_soup/hflip", "finetune-all", ["pong_soup/pong"], curve, seed=seed
        )
        reason = "column -1 has 18 actions, the task has 6"
        saved = {"error": f"{run} on pong_soup/pong: {reason}", "task": "pong_soup/pong"}
        if seed == 1:  # the runner's own reason field; seed 0's file predates it
            saved["reason"] = "its head: 18 actions"
        (run / "forgetting_pong_soup-pong.json").write_text(json.dumps(saved))
    md = (build_report(tree) / "report.md").read_text()
    assert (
        "Not measured, so not shown: baseline3-finetune-all pong_soup/pong -> "
        "pong_soup/hflip: 2 run(s) cannot play pong_soup/pong (column -1 has 18 actions, "
        "the task has 6; its head: 18 actions)."
    ) in md


def test_forgetting_compares_the_same_episodes_only(tree):
    """Before and after come from one protocol (same episodes, same seed): the table's
    numbers are those files' means, and an evaluation of other episodes is not paired."""
    src = tree / "pong_soup-pong" / "scratch" / "seed0"
    white = tree / "pong_soup-white" / "progressive_from_pong_soup-pong" / "seed0"
    noisy = tree / "pong_soup-noisy" / "progressive_from_pong_soup-pong" / "seed0"
    before = [15.0, 17.0, 19.0, 13.0]
    _forgetting_file(src, "pong_soup/pong", before)
    _forgetting_file(white, "pong_soup/pong", before)  # the same network: the same scores
    _forgetting_file(noisy, "pong_soup/pong", [21.0, 21.0, 21.0, 21.0], seed=1)  # other episodes
    # the old protocol's files: 20 curve-check episodes before, 3 others after
    _forgetting_file(src, "pong_soup/pong", [17.25] * 20, seed=777, name="eval")
    _forgetting_file(white, "pong_soup/pong", [18.0] * 3, seed=12345, name="eval")
    out = build_report(tree)
    md = (out / "report.md").read_text()
    section = md.split("## Forgetting", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| progressive")]
    # noisy's pair played other episodes: left out, and the report says so
    assert "1 transferred cell(s) not shown" in section
    # mean 16.0 before and after, over the floor of -21: nothing lost, every episode alike
    assert rows == [
        "| progressive-2col | pong_soup/pong | pong_soup/white | 16.000 | 16.000 "
        "| 0.000 n=1, no interval | 0.00 n=1, no interval | 0 of 4 |"
    ]
    _forgetting_file(white, "pong_soup/pong", [15.0, 17.0, -21.0, 13.0])  # one game lost
    section = (build_report(tree) / "report.md").read_text().split("## Forgetting", 1)[1]
    # mean 24 / 4 = 6: lost 10 of the 37 gained over the floor
    assert (
        "| 16.000 | 6.000 | 10.000 n=1, no interval | 0.27 n=1, no interval | 1 of 4 |" in section
    )


def _growth(task, units, added, split, expanded=None, score=None):
    layers = ("conv1", "conv2", "conv3", "fc")
    return {
        "task": task,
        "units": dict(zip(layers, units, strict=True)),
        "added": dict(zip(layers, added, strict=True)),
        "split": dict(zip(layers, split, strict=True)),
        "expanded": expanded,
        "score_at_test": score,
    }


def test_den_growth_table_names_each_run_by_its_tasks(tree):
    """One line per task of each DEN run's network, numbers as den.json has them; the
    first-task run and a target on the same task (the diagonal) are told apart."""
    from conftest import write_run

    first = _growth(0, (12, 12, 12, 256), (0, 0, 0, 0), (0, 0, 0, 0))
    src = write_run(tree, "pong_soup/pong", "den", (), [(0, -21), (100, -5)])
    (src / "den.json").write_text(json.dumps({"growth": [first]}))
    diag = write_run(tree, "pong_soup/pong", "den", ("pong_soup/pong",), [(0, -5), (100, 3)])
    second = _growth(1, (13, 12, 15, 259), (1, 0, 3, 3), (0, 2, 0, 41), True, -7.25)
    second["near_zero"] = {"conv1": 0.1, "conv2": 0.25, "conv3": 0.424, "fc": 0.982}
    (diag / "den.json").write_text(json.dumps({"growth": [first, second]}))
    md = (build_report(tree) / "report.md").read_text()
    table = md.split("## DEN growth", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| pong_soup/")]
    assert rows == [
        "| pong_soup/pong | 0: pong_soup/pong | 12 | 12 | 12 | 256 | 0/0/0/0 | 0/0/0/0 | - | - "
        "| - |",
        "| pong_soup/pong > pong_soup/pong | 0: pong_soup/pong | 12 | 12 | 12 | 256 | 0/0/0/0 "
        "| 0/0/0/0 | - | - | - |",
        "| pong_soup/pong > pong_soup/pong | 1: pong_soup/pong | 13 | 12 | 15 | 259 | 1/0/3/3 "
        "| 0/2/0/41 | 10/25/42/98 | yes | -7.250 |",
    ]


def test_a_rebuilt_report_drops_figures_it_no_longer_draws(tree):
    """Runs taken out of a results folder (a target dropped from the matrix) leave no
    figure of theirs behind in report/."""
    out = build_report(tree)
    stale = out / "curves_pong_soup-gone.png"
    stale.write_bytes(b"\x89PNG")
    kept = sorted(p.name for p in out.glob("*.png") if p != stale)
    build_report(tree)
    assert not stale.exists()
    assert sorted(p.name for p in out.glob("*.png")) == kept and kept


def test_a_folder_without_runs_is_an_error_and_writes_nothing(tmp_path, capsys):
    from benchmarks.cli import main as xfer

    assert xfer(["report", str(tmp_path)]) == 2
    assert "no run directories under" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_report_files_follow_the_umask(tree):
    """Every file the report writes is readable by others under umask 022 (the temp
    files it renames were 0600)."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        out = build_report(tree)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes and all(m == 0o644 for m in modes.values()), modes


@pytest.mark.parametrize(
    "content, says",
    [
        ("[1, 2]", "must map task ids to floors, got list"),
        ('{"pong_soup/hflip": {"floor": "low"}}', "the floor of pong_soup/hflip is not a number"),
        ('{"pong_soup/hflip": {"floor": NaN}}', "the floor of pong_soup/hflip is not a number"),
    ],
)
def test_a_floors_file_of_the_wrong_shape_is_named(tmp_path, content, says):
    from analysis.floors import load_floors

    (tmp_path / "floors.json").write_text(content)
    with pytest.raises(ValueError, match="floors.json") as err:
        load_floors(tmp_path, {"pong_soup/hflip"})
    assert says in str(err.value)


def test_no_text_overlaps_in_the_figures_and_the_check_can_fail(tree):
    """Every figure of a report is drawn without one text over another (titles, labels,
    tick labels, cell and legend texts); the check finds an injected overlap."""
    from analysis import figures

    figures.OVERLAPS.clear()
    out = build_report(tree)
    assert {p.name for p in out.glob("*.png")} and figures.OVERLAPS == {}
    plt = figures._plt()
    fig, ax = plt.subplots()
    ax.set_title("a title")
    ax.text(0.5, 0.5, "one label", transform=ax.transAxes)
    assert figures.text_overlaps(fig) == []
    ax.text(0.52, 0.5, "another label", transform=ax.transAxes)  # over the first
    assert figures.text_overlaps(fig) == [("one label", "another label")]
    plt.close(fig)


def test_point_labels_close_together_are_moved_apart():
    """Scatter labels of points almost on top of each other (the row's white and zoom in
    transfer_vs_afs.png) are placed without overlap; placed plainly, they overlap."""
    from analysis import figures

    plt = figures._plt()
    points = [(0.10, 101.0, "white (n=3)"), (0.12, 101.5, "zoom (n=3)"), (0.11, 100.5, "noisy")]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.set_xlim(0, 0.3)
    ax.set_ylim(95, 175)
    for xv, yv, text in points:
        ax.annotate(text, (xv, yv), fontsize=7)
    assert figures.text_overlaps(fig)  # the fault the helper mends
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.set_xlim(0, 0.3)
    ax.set_ylim(95, 175)
    figures.annotate_apart(ax, points)
    assert figures.text_overlaps(fig) == []
    assert [t.get_text() for t in ax.texts] == [p[2] for p in points]
    plt.close(fig)
