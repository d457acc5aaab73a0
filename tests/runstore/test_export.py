"""Exporting a results folder (runstore.export, ``xfer export``): the plan's finished
runs and their sources, each with its JSON files and curve only (no weights,
checkpoints, logs or locks), into a new folder, written whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.cli import main
from runstore.config import RunConfig, pending_evaluations, run_dir_for
from runstore.export import export_results
from runstore.rundir import FORGETTING_SEED, RunDir

SOURCE = RunConfig(task="catch_soup/pong", agent="scratch", steps=1000, seed=0)
TARGETS = [
    RunConfig(task="catch_soup/hflip", agent="scratch", steps=1000, seed=0),
    RunConfig(
        task="catch_soup/hflip", agent="progressive", sources=("catch_soup/pong",),
        steps=1000, seed=0, source_seed=0, source_steps=1000,
    ),
]  # fmt: skip


def _run(root: Path, cfg: RunConfig, state: str = "done", source: Path | None = None) -> Path:
    d = run_dir_for(root, cfg)
    (d / "checkpoint").mkdir(parents=True)
    (d / "checkpoint" / "state.json").write_text("{}")
    (d / "wandb").mkdir()
    (d / "agent.pt").write_bytes(b"weights")
    (d / ".lock").write_text("pid")
    (d / "curve.csv").write_text("env_steps,episode_return_mean\n1000,0.5\n")
    (d / "status.json").write_text(json.dumps({"state": state}))
    (d / "afs.json").write_text('{"layers": {}}')
    (d / f"eval_{cfg.task.replace('/', '-')}.json").write_text('{"mean": 0.5}')
    if cfg.sources:  # what the suite writes after training: forgetting, AFS and APS
        forgetting = d / f"forgetting_{cfg.sources[-1].replace('/', '-')}.json"
        forgetting.write_text(json.dumps({"seed": FORGETTING_SEED, "episodes": 3}))
        (d / "aps.json").write_text("{}")
    files = [f"/elsewhere/results/{source.relative_to(root)}/agent.pt"] if source else []
    (d / "config.json").write_text(json.dumps({"run": cfg.to_dict(), "source_files": files}))
    return d


def _folder(root: Path, last_state: str = "done") -> Path:
    root.mkdir()
    cells = [{"config": c.to_dict()} for c in TARGETS]
    (root / "plan.json").write_text(json.dumps({"suite": "x", "cells": cells}))
    (root / "floors.json").write_text("{}")
    src = _run(root, SOURCE)
    _run(root, TARGETS[0])
    _run(root, TARGETS[1], last_state, source=src)
    _run(root, RunConfig(task="catch_soup/noisy", agent="scratch", steps=1000, seed=5))
    return root


def test_the_export_holds_the_plans_runs_and_sources_without_weights(tmp_path):
    src = _folder(tmp_path / "results")
    assert export_results(src, tmp_path / "out") == 3
    out = tmp_path / "out"
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    runs = [run_dir_for("", c) for c in (SOURCE, *TARGETS)]
    want = ["floors.json", "plan.json"]
    kept = ("afs.json", "config.json", "curve.csv", "status.json")
    want += [str(r / f) for r in runs for f in kept]
    want += [
        str(r / f"eval_{c.task.replace('/', '-')}.json")
        for r, c in zip(runs, (SOURCE, *TARGETS), strict=True)
    ]
    want += [str(runs[2] / f) for f in ("aps.json", "forgetting_catch_soup-pong.json")]
    assert files == sorted(want)  # no agent.pt, checkpoint, wandb, .lock; no run off the plan
    assert (out / runs[1] / "curve.csv").read_text() == (src / runs[1] / "curve.csv").read_text()
    assert not list(tmp_path.glob(".out.*"))  # the temporary folder is gone


def test_an_unfinished_run_or_a_used_destination_is_refused_and_nothing_written(tmp_path):
    src = _folder(tmp_path / "results", last_state="running")
    with pytest.raises(ValueError, match=r"1 of 3 runs .* not finished, first .*progressive"):
        export_results(src, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "README.md").write_text("mine")
    json.loads((src / "plan.json").read_text())  # untouched
    with pytest.raises(ValueError, match="exists and is not empty"):
        export_results(src, tmp_path / "used")
    assert [p.name for p in (tmp_path / "used").iterdir()] == ["README.md"]


def test_the_cli_says_one_line_and_exits_non_zero(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no plan.json" in err[0]
    src = _folder(tmp_path / "results")
    assert main(["export", str(src), str(tmp_path / "out")]) == 0
    assert "exported 3 run directories" in capsys.readouterr().out


def test_a_run_whose_post_suite_evaluations_are_pending_is_refused(tmp_path):
    """A finished run with its weights on disk but without the forgetting evaluation or
    an analysis the suite writes after the last run: the suite is still writing them, and
    an export then would give a report without them. Without weights (a published folder)
    nothing more can be written, and the export goes ahead."""
    src = _folder(tmp_path / "results")
    run = run_dir_for(src, TARGETS[1])
    (run / "aps.json").unlink()
    (run / "forgetting_catch_soup-pong.json").unlink()
    with pytest.raises(
        ValueError, match=r"1 of 2 plan runs .*progressive.*seed0 \(forgetting, aps\)"
    ):
        export_results(src, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
    (run / "agent.pt").unlink()
    assert export_results(src, tmp_path / "out") == 3


def test_a_forgetting_evaluation_counts_only_at_the_forgetting_protocol(tmp_path):
    """The one rule the suite (which writes what is pending) and the export (which
    refuses what is pending) share: a forgetting file counts when it was played with the
    protocol's seed and, where the suite asks, its number of episodes; a record of why
    the run cannot play its source counts; a damaged file does not."""
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    cfg = TARGETS[1]
    source = cfg.sources[-1]
    assert pending_evaluations(run.path, cfg) == ["eval", "forgetting", "afs", "aps"]
    out = run.forgetting_eval(source)
    for record, episodes, counts in [
        ({"seed": FORGETTING_SEED, "episodes": 3}, None, True),
        ({"seed": FORGETTING_SEED, "episodes": 3}, 3, True),
        ({"seed": FORGETTING_SEED, "episodes": 3}, 5, False),  # another protocol's
        ({"seed": 0, "episodes": 3}, None, False),
        ({"task": source, "error": "heads differ", "reason": "heads differ"}, 5, True),
    ]:
        out.write_text(json.dumps(record))
        assert run.has_forgetting_eval(source, episodes) is counts, (record, episodes)
        pending = pending_evaluations(run.path, cfg, episodes)
        assert ("forgetting" in pending) is not counts
    out.write_text('{"seed": 42')  # cut mid-write
    assert not run.has_forgetting_eval(source)
    assert pending_evaluations(run.path, TARGETS[0]) == ["eval"]  # scratch: no source
