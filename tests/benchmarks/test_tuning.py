"""The tuning protocol (``xfer tune``): every agent the same number of runs, on a task and
seeds no committed report uses; the choice by its stated rule from hand-computed
normalised AUCs; the defaults agree with the committed record."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.tuning import TUNING, TuningSpec, held_out_problems, tuning_record, tuning_runs
from runstore.config import RunConfig, run_dir_for

ROOT = Path(__file__).resolve().parents[2]
PONG = TUNING["pong-soup"]


def _fake_run(root: Path, cfg: RunConfig, score: float, state: str = "done") -> None:
    """A finished run with a flat curve at ``score`` (normalised AUC (score + 21) / 42)."""
    d = run_dir_for(root, cfg)
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"run": cfg.to_dict()}))
    (d / "status.json").write_text(json.dumps({"state": state, "wall_time": 10.0}))
    with (d / "curve.csv").open("w") as f:
        f.write("env_steps,frames,episodes,episode_return_mean,wall_time\n")
        f.write(f"0,0,1,{score},1.0\n{cfg.steps},{cfg.steps * 4},9,{score},2.0\n")


def test_every_agent_gets_the_same_number_of_runs_on_distinct_directories():
    runs = tuning_runs(PONG)
    per_agent = {a: sum(r.agent == a for r in runs) for a in PONG.grids}
    assert set(per_agent.values()) == {len(PONG.seeds) * 3}
    assert len({run_dir_for("", r) for r in runs}) == len(runs)
    for r in runs:
        assert r.task == PONG.target and r.seed in PONG.seeds and r.steps == PONG.steps
        assert (r.sources == ()) == (r.agent == "scratch")
    # the seed-by-seed order: every grid of the first seed before the second seed's
    assert [r.seed for r in runs[:9]] == [PONG.seeds[0]] * 9
    with pytest.raises(ValueError, match="same size"):
        dataclasses.replace(
            PONG, grids={"scratch": ("lr", (1e-3,)), "progressive": PONG.grids["progressive"]}
        )


def test_the_tuning_task_and_seeds_are_held_out_of_every_committed_report():
    assert held_out_problems(PONG, ROOT / "docs/results") == []
    # the check can fail: a report's own target and seeds
    leaky = dataclasses.replace(PONG, target="pong_soup/hflip", seeds=(1, 100))
    problems = held_out_problems(leaky, ROOT / "docs/results")
    assert any("pong_soup/hflip is a target" in p for p in problems)
    assert any("seed 1 is used" in p for p in problems)


def test_the_record_chooses_the_best_mean_by_hand(tmp_path):
    spec = dataclasses.replace(PONG, steps=1000, seeds=(100, 101))
    (tmp_path / "floors.json").write_text(
        json.dumps({spec.target: {"floor": -21.0, "episodes": 10}})
    )
    # flat curves: normalised AUC (score + 21) / 42 per run
    scores = {
        ("scratch", 3.5e-4): (-21.0, -21.0),
        ("scratch", 7e-4): (0.0, -21.0),  # mean 0.25
        ("scratch", 1.4e-3): (-10.5, 0.0),  # mean 0.375: chosen
        ("finetune-all", 3.5e-4): (0.0, 0.0),  # 0.5 ties with the default: default kept
        ("finetune-all", 7e-4): (0.0, 0.0),
        ("finetune-all", 1.4e-3): (-21.0, 0.0),
        ("progressive", 1.0): (21.0, 21.0),  # 1.0: the default is best
        ("progressive", 0.1): (0.0, 21.0),
    }  # progressive 0.01 is missing at seed 101
    for cfg in tuning_runs(spec):
        field = spec.grids[cfg.agent][0]
        key = (cfg.agent, getattr(cfg, field))
        if key in scores:
            _fake_run(tmp_path, cfg, scores[key][spec.seeds.index(cfg.seed)])
        elif cfg.seed == 100:
            _fake_run(tmp_path, cfg, 0.0)
    record = tuning_record(spec, tmp_path)
    agents = record["agents"]
    assert agents["scratch"]["leading"] == 1.4e-3
    means = [row["mean_auc_normalized"] for row in agents["scratch"]["grid"]]
    assert means == pytest.approx([0.0, 0.25, 0.375])
    assert agents["finetune-all"]["leading"] == 7e-4  # the tie keeps today's default
    assert agents["progressive"]["leading"] is None  # a run missing: no lead
    assert record["missing"] == [
        "pong_soup-pong/progressive_from_pong_soup-hflip/seed101_tune-alpha_init0.01"
    ]
    # a run missing anywhere: nothing is chosen yet, for any agent
    assert all(a["chosen"] is None for a in agents.values())
    md = (tmp_path / "tuning.md").read_text()
    assert "| scratch | lr | **0.0014** (leading; chosen when the record is complete) |" in md
    assert json.loads((tmp_path / "tuning.json").read_text()) == record
    # the last run arrives: every lead becomes the choice
    last = next(c for c in tuning_runs(spec) if c.seed == 101 and c.alpha_init == 0.01)
    _fake_run(tmp_path, last, 0.0)
    record = tuning_record(spec, tmp_path)
    assert record["missing"] == []
    chosen = {k: a["chosen"] for k, a in record["agents"].items()}
    assert chosen == {"scratch": 1.4e-3, "finetune-all": 7e-4, "progressive": 1.0}
    assert record["agents"]["scratch"]["default_is_chosen"] is False
    assert (
        "| scratch | lr | **0.0014** (chosen) | 0.2500 | 0.5000 | 0.3750 |"
        in (tmp_path / "tuning.md").read_text()
    )


def test_xfer_tune_refuses_bad_input(tmp_path, capsys):
    assert main(["tune", "atari", "--record-only"]) == 2
    assert "no tuning protocol for 'atari'" in capsys.readouterr().err
    assert main(["tune", "pong-soup", "--record-only", "--out", str(tmp_path / "none")]) == 2
    assert "no tuning runs at" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    (tmp_path / "t").mkdir()  # runs but no floors.json: the game minimum must not stand in
    assert main(["tune", "pong-soup", "--record-only", "--out", str(tmp_path / "t")]) == 2
    assert "has no random-policy floor for pong_soup/pong" in capsys.readouterr().err


def test_the_defaults_are_the_committed_records_choices():
    """Each committed record's complete choices are RunConfig's defaults (a record with
    runs missing chooses nothing yet)."""
    records = sorted((ROOT / "docs/tuning").glob("*/tuning.json"))
    assert records, "no committed tuning record"
    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    for path in records:
        record = json.loads(path.read_text())
        spec: TuningSpec = TUNING[record["suite"]]
        assert record["target"] == spec.target and record["seeds"] == list(spec.seeds)
        for agent, a in record["agents"].items():
            if a["chosen"] is not None:
                assert defaults[a["field"]] == a["chosen"], (path, agent)
