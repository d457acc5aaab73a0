"""The tuning protocol (``xfer tune``): every agent the same number of runs, on a task and
seeds no committed report uses; the choice by its stated rule from hand-computed
normalised AUCs; the defaults agree with the committed record."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from benchmarks.budgets import get_budget
from benchmarks.cli import main
from benchmarks.runner import plan_runs
from benchmarks.suites import Suite, get_suite
from benchmarks.tuning import (
    TUNING,
    TuningSpec,
    chosen_settings,
    held_out_problems,
    line,
    tuning_record,
    tuning_runs,
)
from runstore.config import RunConfig, run_dir_for, source_config

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
    points = len(next(iter(PONG.grids.values())))
    per_agent = {a: sum(r.agent == a for r in runs) for a in PONG.grids}
    assert set(per_agent.values()) == {len(PONG.seeds) * points}
    assert len({run_dir_for("", r) for r in runs}) == len(runs)
    for r in runs:
        assert r.task == PONG.target and r.seed in PONG.seeds and r.steps == PONG.steps
        assert (r.sources == ()) == (r.agent == "scratch")
    # the seed-by-seed order: every grid of the first seed before the second seed's
    first = len(PONG.grids) * points
    assert [r.seed for r in runs[:first]] == [PONG.seeds[0]] * first
    # a two-setting point sets both, and its tag names both (one-setting tags unchanged)
    both = next(r for r in runs if r.tag == "tune-alpha_init1-lr0.0014")
    assert (both.agent, both.alpha_init, both.lr) == ("progressive", 1.0, 1.4e-3)
    assert {r.tag for r in runs if r.agent == "scratch"} >= {"tune-lr0.0007", "tune-lr0.0014"}
    with pytest.raises(ValueError, match="same size"):
        dataclasses.replace(
            PONG, grids={"scratch": line("lr", (1e-3,)), "progressive": PONG.grids["progressive"]}
        )
    with pytest.raises(ValueError, match="no RunConfig field"):
        dataclasses.replace(PONG, grids={"scratch": line("learning_rate", (1e-3,))})
    with pytest.raises(ValueError, match="same grid point twice"):
        dataclasses.replace(PONG, grids={"scratch": line("lr", (1e-3, 1e-3))})


def test_the_tuning_task_and_seeds_are_held_out_of_every_committed_report():
    assert held_out_problems(PONG, ROOT / "docs/results") == []
    assert held_out_problems(PONG, ROOT / "docs/experiments/runs") == []  # the experiments
    # the check can fail: a report's own target and seeds
    leaky = dataclasses.replace(PONG, target="pong_soup/hflip", seeds=(1, 100))
    problems = held_out_problems(leaky, ROOT / "docs/results")
    assert any("pong_soup/hflip is a target" in p for p in problems)
    assert any("seed 1 is used" in p for p in problems)


def test_the_record_chooses_the_best_mean_by_hand(tmp_path):
    spec = dataclasses.replace(
        PONG,
        steps=1000,
        seeds=(100, 101),
        grids={
            "scratch": line("lr", (3.5e-4, 7e-4, 1.4e-3)),
            "finetune-all": line("lr", (3.5e-4, 7e-4, 1.4e-3)),
            "progressive": line("alpha_init", (1.0, 0.1)) + ({"alpha_init": 1.0, "lr": 1.4e-3},),
        },
    )
    (tmp_path / "floors.json").write_text(
        json.dumps({spec.target: {"floor": -21.0, "episodes": 10}})
    )
    # flat curves: normalised AUC (score + 21) / 42 per run
    scores = {
        ("scratch", "tune-lr0.00035"): (-21.0, -21.0),
        ("scratch", "tune-lr0.0007"): (0.0, -21.0),  # mean 0.25
        ("scratch", "tune-lr0.0014"): (-10.5, 0.0),  # mean 0.375: chosen
        ("finetune-all", "tune-lr0.00035"): (0.0, 0.0),  # 0.5 ties with the default: default kept
        ("finetune-all", "tune-lr0.0007"): (0.0, 0.0),
        ("finetune-all", "tune-lr0.0014"): (-21.0, 0.0),
        ("progressive", "tune-alpha_init1"): (0.0, 0.0),  # 0.5
        ("progressive", "tune-alpha_init0.1"): (-21.0, 0.0),  # 0.25
    }  # progressive's two-setting point is missing at seed 101
    for cfg in tuning_runs(spec):
        key = (cfg.agent, cfg.tag)
        if key in scores:
            _fake_run(tmp_path, cfg, scores[key][spec.seeds.index(cfg.seed)])
        elif cfg.seed == 100:
            _fake_run(tmp_path, cfg, 21.0)
    record = tuning_record(spec, tmp_path)
    agents = record["agents"]
    # each agent is chosen as soon as its own grid is complete
    assert agents["scratch"]["chosen"] == {"lr": 1.4e-3}
    assert agents["scratch"]["at_grid_edge"] == ["lr"]  # the last value of its grid
    assert agents["scratch"]["default_is_chosen"] is False
    assert chosen_settings(agents["scratch"]) == {"lr": 1.4e-3}
    means = [row["mean_auc_normalized"] for row in agents["scratch"]["grid"]]
    assert means == pytest.approx([0.0, 0.25, 0.375])
    assert agents["finetune-all"]["chosen"] == {"lr": 7e-4}  # the tie keeps today's default
    assert agents["finetune-all"]["at_grid_edge"] == []
    assert chosen_settings(agents["finetune-all"]) == {}
    assert agents["progressive"]["chosen"] is None  # a run missing: no choice yet
    assert agents["progressive"]["at_grid_edge"] is None
    # until then, the rule over the points with every seed (0.5 against 0.25)
    assert agents["progressive"]["provisional"] == {"alpha_init": 1.0, "lr": 7e-4}
    assert agents["scratch"]["provisional"] is None
    assert agents["progressive"]["fields"] == ["alpha_init", "lr"]
    assert record["missing"] == [
        "pong_soup-pong/progressive_from_pong_soup-hflip/seed101_tune-alpha_init1-lr0.0014"
    ]
    md = (tmp_path / "tuning.md").read_text()
    edge_row = (
        "| scratch | **lr 0.0014** (chosen, lr at the grid edge) | 0.2500 | 0.5000 | 0.3750 |"
    )
    assert edge_row in md
    assert "| finetune-all | **lr 0.0007** (chosen) (default) |" in md
    assert "| progressive | alpha_init 1, lr 0.0014 | 1.0000 | missing | 1.0000 |" in md
    assert (
        "| progressive | *alpha_init 1* (provisional: best with every seed so far) (default) |"
        in md
    )
    assert "At the edge of its grid: scratch (lr): " in md
    assert json.loads((tmp_path / "tuning.json").read_text()) == record
    # the last run arrives (0.25: the two-setting point's mean 0.625 wins over alpha_init
    # 1 alone): the choice carries both settings, and both are at their grid's edge
    # (alpha_init 1 is the highest tried; the lr, tried only at the default and above)
    last = next(
        c for c in tuning_runs(spec) if c.seed == 101 and c.tag == "tune-alpha_init1-lr0.0014"
    )
    _fake_run(tmp_path, last, -10.5)
    record = tuning_record(spec, tmp_path)
    assert record["missing"] == []
    progressive = record["agents"]["progressive"]
    assert progressive["chosen"] == {"alpha_init": 1.0, "lr": 1.4e-3}
    assert progressive["at_grid_edge"] == ["alpha_init", "lr"]
    assert progressive["default_is_chosen"] is False
    assert chosen_settings(progressive) == {"lr": 1.4e-3}
    md = (tmp_path / "tuning.md").read_text()
    assert "At the edge of its grid: scratch (lr); progressive (alpha_init, lr): " in md
    assert "(chosen, alpha_init and lr at the grid edge)" in md
    # at the floor instead, alpha_init 1 alone (today's defaults) is chosen: nothing to set
    _fake_run_over(tmp_path, last, -21.0)
    progressive = tuning_record(spec, tmp_path)["agents"]["progressive"]
    assert progressive["chosen"] == {"alpha_init": 1.0, "lr": 7e-4}
    assert progressive["default_is_chosen"] is True and chosen_settings(progressive) == {}


def _fake_run_over(root: Path, cfg: RunConfig, score: float) -> None:
    import shutil

    shutil.rmtree(run_dir_for(root, cfg))
    _fake_run(root, cfg, score)


def test_xfer_tune_refuses_bad_input(tmp_path, capsys):
    assert main(["tune", "atari", "--record-only"]) == 2
    assert "no tuning protocol for 'atari'" in capsys.readouterr().err
    assert main(["tune", "pong-soup", "--record-only", "--out", str(tmp_path / "none")]) == 2
    assert "no tuning runs at" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    (tmp_path / "t").mkdir()  # runs but no floors.json: the game minimum must not stand in
    assert main(["tune", "pong-soup", "--record-only", "--out", str(tmp_path / "t")]) == 2
    assert "has no random-policy floor for pong_soup/pong" in capsys.readouterr().err


def _setting_problems(suite: Suite, record: dict) -> list[str]:
    """Where a suite's cells would not run at a committed record's choices: an agent's
    setting (Suite.tuned, else RunConfig's default) differs from its chosen value (or,
    while its grid has runs missing, its provisional one), or the suite sets a value that
    neither chose."""
    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    problems = []
    for agent, a in record["agents"].items():
        tuned = suite.tuned.get(agent, {})
        chosen = a["chosen"] or a["provisional"]
        for field in a["fields"]:
            setting = tuned.get(field, defaults[field])
            if chosen is not None and setting != chosen[field]:
                problems.append(f"{agent} {field}={setting}, chosen {chosen[field]}")
            if chosen is None and field in tuned:
                problems.append(f"{agent} {field} set before any grid point has every seed")
    for agent in set(suite.tuned) - set(record["agents"]):
        problems.append(f"{agent} is set but has no grid")
    return problems


def test_the_suites_run_at_the_committed_records_choices():
    """Each committed record's choices are its suite's settings (a grid with runs missing
    chooses nothing yet), and the check fails on a setting that disagrees."""
    records = sorted((ROOT / "docs/tuning").glob("*/tuning.json"))
    assert records, "no committed tuning record"
    for path in records:
        record = json.loads(path.read_text())
        spec: TuningSpec = TUNING[record["suite"]]
        assert record["target"] == spec.target and record["seeds"] == list(spec.seeds)
        suite = get_suite(record["suite"])
        assert _setting_problems(suite, record) == [], path
        # the check can fail: the pre-tuning settings, and a setting without a grid
        wrong = dataclasses.replace(suite, tuned={**suite.tuned, "den": {"lr": 1e-3}})
        assert _setting_problems(wrong, record) == ["den is set but has no grid"]
        changed = [a for a in record["agents"].values() if chosen_settings(a)]
        if changed:
            assert _setting_problems(dataclasses.replace(suite, tuned={}), record)


def test_the_tuned_settings_reach_the_suites_cells_and_not_their_sources():
    suite = get_suite("pong-soup")
    plan, manifest = plan_runs(suite, get_budget("laptop"))
    targets = [cfg for wave in plan for cfg in wave if cfg.steps == 600_000]
    for cfg in targets:
        for field, value in suite.tuned.get(cfg.agent, {}).items():
            assert getattr(cfg, field) == value, cfg
    for cfg in targets:
        src = source_config(cfg)
        if src is not None:  # sources keep the defaults: the zoo's columns still match
            assert src.lr == RunConfig.lr and src.alpha_init == RunConfig.alpha_init
    # what the user gives wins over the tuned setting
    plan, _ = plan_runs(suite, get_budget("laptop"), base={"lr": 2e-4})
    assert {cfg.lr for wave in plan for cfg in wave if cfg.steps == 600_000} == {2e-4}


def test_each_committed_record_is_what_its_spec_and_committed_runs_give(tmp_path):
    """A committed record regenerates byte for byte from the spec's grids and the
    committed runs, so a grid changed in code (a point added or dropped) cannot leave a
    stale record behind; shown failing on a grid with one point less."""
    records = sorted((ROOT / "docs/tuning").glob("*/tuning.json"))
    assert records
    for path in records:
        spec = TUNING[json.loads(path.read_text())["suite"]]
        copy = tmp_path / spec.suite
        shutil.copytree(path.parent, copy)
        tuning_record(spec, copy)
        for name in ("tuning.json", "tuning.md"):
            assert (copy / name).read_text() == (path.parent / name).read_text(), path
        shorter = dataclasses.replace(spec, grids={a: p[:-1] for a, p in spec.grids.items()})
        tuning_record(shorter, copy)
        assert (copy / "tuning.json").read_text() != path.read_text()
