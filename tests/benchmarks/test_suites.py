import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from benchmarks.budgets import BUDGETS, PAPER_SPACE, get_budget
from benchmarks.runner import plan_runs
from benchmarks.suites import PONG_TUNED, SUITES, get_suite
from runstore.config import run_dir_for, source_config


def test_suites_match_the_paper():
    atari = get_suite("atari")
    targets = {c.target for c in atari.cells}
    assert len(targets) == 12
    chains = {c.sources for c in atari.cells if c.agent == "progressive"}
    assert chains == {
        ("atari/seaquest",),
        ("atari/riverraid",),
        ("atari/pong",),
        ("atari/seaquest", "atari/riverraid"),
        ("atari/seaquest", "atari/riverraid", "atari/pong"),
    }
    # the paper's Atari matrix: 2-column nets and baselines 2 and 3 from each of the three
    # sources, on every target; baselines 1 and 4 once per target
    for agent in ("finetune-head", "finetune-all", "progressive"):
        one_source = {(c.sources, c.target) for c in atari.cells if c.agent == agent}
        one_source = {x for x in one_source if len(x[0]) == 1}
        assert len(one_source) == 3 * 12, agent
    assert sum(c.agent == "scratch" for c in atari.cells) == 12
    assert sum(c.agent == "random-column" for c in atari.cells) == 12
    assert len(atari.cells) == 12 * (2 + 3 * 3 + 2 + 2)
    pong = get_suite("pong-soup")
    assert {c.target for c in pong.cells} == {
        f"pong_soup/{v}"
        for v in ("pong", "noisy", "black", "white", "zoom", "vflip", "hflip", "vhflip")
    }
    first_columns = {c.sources[-1] for c in pong.cells if c.agent == "progressive"}
    assert first_columns == {"pong_soup/pong", "pong_soup/noisy", "pong_soup/hflip"}
    assert {c.label for c in pong.cells} >= {
        "baseline1-scratch",
        "baseline2-finetune-head",
        "baseline3-finetune-all",
        "baseline4-random-column",
        "progressive-2col",
        "progressive-3col",
        "pathnet",
    }
    assert set(get_suite("catch-soup").reduced) <= set(get_suite("catch-soup").cells)
    with pytest.raises(KeyError, match="choose from"):
        get_suite("pong-soupp")
    with pytest.raises(KeyError, match="choose from"):
        get_budget("huge")


def test_plan_orders_sources_first_and_samples_the_paper_space():
    waves, manifest = plan_runs(SUITES["pong-soup"], BUDGETS["paper"])
    position = {str(run_dir_for("", c)): i for i, w in enumerate(waves) for c in w}
    for wave in waves:
        for cfg in wave:
            src = source_config(cfg)
            if src is not None:  # every source is in an earlier wave
                assert position[str(run_dir_for("", src))] < position[str(run_dir_for("", cfg))]
    all_runs = [c for w in waves for c in w]
    assert len({str(run_dir_for("", c)) for c in all_runs}) == len(all_runs)  # no duplicates
    jobs = [
        m
        for m in manifest
        if m["target"] == "pong_soup/white"
        and m["label"] == "progressive-2col"
        and m["sources"] == ["pong_soup/pong"]
    ]
    assert len(jobs) == 25
    for m in jobs[1:]:
        for key, space in PAPER_SPACE.items():
            assert m["config"][key] in space
    assert all(c.steps == 40_000_000 for c in all_runs)


@pytest.mark.ray
def test_bench_catch_smoke_killed_midway_resumes_and_reports(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.cli",
        "bench",
        "catch-soup",
        "--budget",
        "smoke",
        "--out",
        str(tmp_path),
        "--no-wandb",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )

    def done_runs():
        return {
            p.parent: json.loads(p.read_text())["updated"]
            for p in tmp_path.glob("*/*/*/status.json")
            if json.loads(p.read_text())["state"] == "done"
        }

    deadline = time.time() + 400
    while time.time() < deadline and len(done_runs()) < 2:
        time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = done_runs()
    assert 2 <= len(before) < 9, "the kill should land midway"
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"{len(before)} already done" in out.stdout
    after = done_runs()
    # 4 cells on each of 2 targets, and the scratch and DEN sources on pong
    assert len(after) == 9
    for run_dir, updated in before.items():
        assert after[run_dir] == updated, f"{run_dir} was redone"
    with (tmp_path / "report" / "transfer_matrix.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and all(r["jobs"] == "1" for r in rows)
    assert all(r["transfer"] != "n/a" for r in rows)
    assert {r["agent"] for r in rows if r["agent"] == "den"} == {"den"}
    table1 = (tmp_path / "report" / "table1.txt").read_text()
    assert any(line.startswith("den ") for line in table1.splitlines())
    assert (tmp_path / "report" / "index.html").is_file()
    # the DEN row's growth table: one line per task of each DEN target's network
    report = (tmp_path / "report" / "report.md").read_text()
    growth = report.split("## DEN growth", 1)[1].split("## Floors", 1)[0]
    # the DEN source (1 task) and 2 targets x (the source task + their own)
    assert growth.count("| catch_soup/") == 5
    # forgetting: before and after play the same 50 episodes, so the two agents that
    # cannot forget (progressive, DEN) score the same in every one of them, on both
    # targets, the diagonal (pong after pong) included
    forget = report.split("## Forgetting", 1)[1].split("\n## ", 1)[0]
    kept = [r for r in forget.splitlines() if r.startswith(("| progressive-2col", "| den "))]
    assert len(kept) == 4, forget
    assert all("| 0.000 n=1, no interval |" in r and r.endswith("| 0 of 50 |") for r in kept), kept
    assert "Table 1" in out.stdout
    # AFS and APS of every progressive run, averaged per cell in the sensitivity section
    for run in tmp_path.glob("*/progressive_from_*/seed0"):
        aps = json.loads((run / "aps.json").read_text())
        assert aps["episodes"] == 2 and aps["iterations"] == 1  # the smoke budget's
        assert all(sum(v["columns"]) == pytest.approx(1.0) for v in aps["layers"].values())
        assert (run / "afs.json").is_file()
    sens = report.split("## Sensitivity of the new column (AFS and APS)", 1)[1]
    sens = sens.split("\n## ", 1)[0]
    assert sens.count("| progressive-2col |") == 4  # 2 targets x (AFS, APS)
    assert "source runs: 3,000 agent steps each (the targets' step count" in out.stdout


@pytest.mark.ray
def test_a_wave_runs_through_ray_tune(tmp_path):
    from benchmarks.rllib.sweep import run_wave_with_tune
    from benchmarks.runner import train_for_tune
    from runstore.config import RunConfig
    from runstore.rundir import RunDir

    wave = [
        RunConfig(
            task=f"catch_soup/{v}",
            agent="scratch",
            steps=600,
            wandb=False,
            envs_per_runner=2,
            curve_window=300,
        )
        for v in ("black", "white")
    ]
    run_wave_with_tune(wave, tmp_path, concurrency=2, index=0, train_one=train_for_tune)
    for cfg in wave:
        assert RunDir(run_dir_for(tmp_path, cfg)).read_status()["state"] == "done"
        assert (run_dir_for(tmp_path, cfg) / "agent.pt").is_file()


@pytest.mark.parametrize("budget, population", [("laptop", 8), ("gpu", 64), ("paper", 64)])
def test_pathnet_population_follows_the_budget(budget, population):
    from runstore.config import RunConfig

    waves, _ = plan_runs(SUITES["pong-soup"], BUDGETS[budget])
    runs = [c for w in waves for c in w]
    pathnet = [c for c in runs if c.agent == "pathnet"]
    others = [c for c in runs if c.agent != "pathnet"]
    if budget != "laptop":  # the laptop matrix has no PathNet cell
        assert pathnet
    # PathNet targets and their PathNet sources evolve the budget's population; no other
    # run's identity changes (so shipped zoo columns still match)
    assert all(c.pathnet_population == population for c in pathnet)
    assert all(c.pathnet_population == RunConfig(task=c.task).pathnet_population for c in others)


def test_pathnet_refuses_several_learners():
    from runstore.config import RunConfig

    with pytest.raises(ValueError, match="PathNet trains with one learner"):
        RunConfig(task="catch_soup/pong", agent="pathnet", num_learners=2)
    RunConfig(task="catch_soup/pong", agent="pathnet", num_learners=1)


def test_every_cli_command_is_registered():
    from benchmarks.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == {
        "tasks",
        "show",
        "agents",
        "train",
        "evaluate",
        "bench",
        "report",
        "analyze",
        "perf",
        "floors",
        "learnability",
        "ship-column",
        "plan",
        "tune",
        "export",
    }


def test_a_suite_refuses_to_reuse_finished_runs_of_another_budget(tmp_path):
    from benchmarks.runner import run_suite
    from benchmarks.runsetup import TrainingError
    from runstore.config import RunConfig

    waves, _ = plan_runs(SUITES["catch-soup"], BUDGETS["smoke"])
    smoke = waves[-1][0]  # a target run as the smoke budget trains it
    run_dir = run_dir_for(tmp_path, smoke)
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"run": smoke.to_dict()}))
    (run_dir / "status.json").write_text(json.dumps({"state": "done"}))
    assert isinstance(smoke, RunConfig) and smoke.steps == 3_000
    with pytest.raises(
        TrainingError, match=r"may not reuse.*finished run with another config.*steps"
    ):
        run_suite("catch-soup", "laptop", tmp_path, base={"wandb": False}, log=lambda *_: None)
    assert not (tmp_path / "catch_soup-pong" / "scratch" / "seed0").exists()  # nothing trained


def test_a_source_runs_with_every_execution_setting_of_its_target():
    from dataclasses import replace

    from runstore.config import EXECUTION_FIELDS, RunConfig

    target = RunConfig(
        task="pong_soup/hflip", agent="progressive", sources=("pong_soup/pong",), lr=1e-4
    )
    target = replace(
        target,
        steps=1234,
        env_runners=5,
        envs_per_runner=3,
        native_env=False,
        checkpoint_every_s=7.0,
        stall_timeout_s=9.0,
        check_episodes=2,
        curve_window=100,
        wandb=False,
        seed=4,
    )
    src = source_config(target)
    assert (src.task, src.agent, src.seed, src.lr) == ("pong_soup/pong", "scratch", 4, 7e-4)
    assert all(getattr(src, k) == getattr(target, k) for k in EXECUTION_FIELDS)


def test_sources_train_for_their_own_budget_and_the_plan_says_which():
    """A source run trains for the target's ``source_steps`` (its chain too), an
    execution setting: the target's identity does not change with it. Budgets with a
    source budget say so; the others say the sources get the targets' step count."""
    from dataclasses import replace

    from benchmarks.budgets import get_budget
    from benchmarks.runner import plan_runs, source_budget_line
    from runstore.config import RunConfig, identity

    chain = RunConfig(
        task="catch_soup/white",
        agent="progressive",
        sources=("catch_soup/pong", "catch_soup/hflip"),
        steps=1_000,
        source_steps=5_000,
    )
    src = source_config(chain)
    assert src.steps == 5_000 and source_config(src).steps == 5_000
    assert identity(chain.to_dict()) == identity(replace(chain, source_steps=None).to_dict())
    assert source_config(replace(chain, source_steps=None)).steps == 1_000
    with pytest.raises(ValueError, match="source_steps must be positive"):
        RunConfig(task="catch_soup/white", source_steps=0)

    laptop = get_budget("laptop")
    waves, manifest = plan_runs(get_suite("pong-soup"), laptop)
    (source,) = [c for c in waves[0] if c.task == "pong_soup/pong"]
    assert source.agent == "scratch" and source.steps == 2_000_000
    assert {m["config"]["steps"] for m in manifest} == {600_000}
    line = source_budget_line(laptop, "pong_soup")
    assert "2,000,000 agent steps each (the budget's source budget; targets 600,000)" in line
    smoke = source_budget_line(get_budget("smoke"), "catch_soup")
    assert "3,000 agent steps each (the targets' step count: this budget gives" in smoke


@pytest.mark.parametrize(
    "suite, source, source_steps, targets, steps",
    [
        # Labyrinth: both targets learn within 250k steps
        (
            "labyrinth",
            "labyrinth/seek_track_1",
            2_000_000,
            ("seek_track_2", "seek_avoid_1"),
            250_000,
        ),
        # Atari: boxing stays at its floor for 1M steps; road_runner and krull learn
        # from the Pong column (atari/pong sees pong_soup/pong's pixels)
        ("atari", "atari/pong", 2_000_000, ("road_runner", "krull"), 400_000),
    ],
)
def test_laptop_atari_and_labyrinth_plans_are_three_seeds_on_one_zoo_source(
    suite, source, source_steps, targets, steps
):
    """The laptop Atari and Labyrinth matrices: baselines 1 and 3 and progressive on two
    targets that scratch learns within the budget, 3 seeds each, every seed's transfer
    run on the one source run of seed 0 at the zoo column's steps: 18 target runs."""
    from benchmarks.budgets import get_budget
    from benchmarks.runner import plan_runs
    from runstore.config import source_seed_for

    waves, manifest = plan_runs(get_suite(suite), get_budget("laptop"))
    sources = [c for wave in waves for c in wave if not c.sources and c.task == source]
    assert [(s.agent, s.seed, s.steps) for s in sources] == [("scratch", 0, source_steps)]
    assert len(manifest) == 18
    assert {m["target"] for m in manifest} == {f"{suite}/{t}" for t in targets}
    assert {m["label"] for m in manifest} == {
        "baseline1-scratch",
        "baseline3-finetune-all",
        "progressive-2col",
    }
    assert sorted({m["seed"] for m in manifest}) == [0, 1, 2]
    assert {m["config"]["steps"] for m in manifest} == {steps}
    transfer = [m["config"] for m in manifest if m["agent"] != "scratch"]
    assert {tuple(c["sources"]) for c in transfer} == {(source,)}
    assert {source_seed_for(c["seed"], c["source_seed"]) for c in transfer} == {0}


def test_the_overnight_budget_is_the_pong_row_and_reuses_the_laptop_report():
    """BUDGET=overnight: the shipped pong column (seed 0) to all 7 other variants,
    baselines 1 and 3 and progressive, 3 seeds, 600k steps: 63 target runs, and the 18
    of the laptop report have the same identities (reused on a copy of it)."""
    from pathlib import Path

    from envs import SOUP_VARIANTS
    from runstore.config import RunConfig, finished_run_clash

    waves, manifest = plan_runs(get_suite("pong-soup"), get_budget("overnight"))
    assert len(manifest) == 63
    assert {m["target"] for m in manifest} == {
        f"pong_soup/{v}" for v in SOUP_VARIANTS if v != "pong"
    }
    assert {m["label"] for m in manifest} == {
        "baseline1-scratch",
        "baseline3-finetune-all",
        "progressive-2col",
    }
    sources = [c for wave in waves for c in wave if not c.sources and c.task == "pong_soup/pong"]
    assert [(s.seed, s.steps) for s in sources] == [(0, 2_000_000)]
    # every run of the laptop report is a run of the row (same identity), so the row on a
    # copy of docs/results/pong-soup trains only the other targets' runs
    laptop = {
        run_dir_for("", RunConfig.from_dict(m["config"])): m["config"]
        for m in plan_runs(get_suite("pong-soup"), get_budget("laptop"))[1]
    }
    row = {run_dir_for("", RunConfig.from_dict(m["config"])): m["config"] for m in manifest}
    assert len(laptop) == 18 and all(row[path] == cfg for path, cfg in laptop.items())
    # the committed laptop runs are the suite's runs (reused), or runs that predate its
    # tuning: then they differ only in the tuned fields, and the write-up says so
    committed = Path(__file__).resolve().parents[2] / "docs" / "results" / "pong-soup"
    suite = get_suite("pong-soup")
    superseded = []
    for path, cfg in laptop.items():
        if (committed / path).is_dir():
            diff = finished_run_clash(committed / path, RunConfig.from_dict(cfg))
            assert set(diff) <= set(suite.tuned.get(cfg["agent"], {})), (path, diff)
            superseded += [path] if diff else []
    if superseded:
        assert "predate the tuning" in (committed / "README.md").read_text()
    with pytest.raises(KeyError, match="no step count for domain 'atari'"):
        plan_runs(get_suite("atari"), get_budget("overnight"))


def test_the_noise_experiment_reuses_the_laptop_reports_noisy_runs():
    """pong-noise: the laptop agents at noise sd 8, 16 and 32 from the shipped pong
    column; its sd-32 runs are the Pong laptop report's own (same identities, so a copy
    of docs/results/pong-soup trains only the new levels), at the same tuned settings."""
    from pathlib import Path

    from runstore.config import RunConfig

    suite = get_suite("pong-noise")
    assert {c.target for c in suite.reduced} == {
        "pong_soup/noisy8",
        "pong_soup/noisy16",
        "pong_soup/noisy",
    }
    assert {c.label for c in suite.reduced} == {
        "baseline1-scratch",
        "baseline3-finetune-all",
        "progressive-2col",
    }
    assert suite.tuned == get_suite("pong-soup").tuned
    laptop = get_budget("laptop")

    def runs(name):
        return {
            run_dir_for("", RunConfig.from_dict(m["config"])): m["config"]
            for m in plan_runs(get_suite(name), laptop)[1]
        }

    noise, soup = runs("pong-noise"), runs("pong-soup")
    shared = {p for p in noise if "pong_soup-noisy/" in str(p)}
    assert len(noise) == 27 and len(shared) == 9
    assert all(noise[p] == soup[p] for p in shared)
    committed = Path(__file__).resolve().parents[2] / "docs" / "results" / "pong-soup"
    assert all((committed / p / "status.json").is_file() for p in shared)


def test_the_long_budget_runs_white_and_labyrinth_at_longer_steps_in_their_own_folders():
    """pong-white at the long budget: white from the shipped pong column, the laptop's
    agents and 3 seeds at 2M steps and Pong Soup's tuned settings; Labyrinth's laptop
    cells at 1M. A finished laptop run at the same path is refused for its step count
    (so a copy of a laptop report cannot pass for the long runs)."""
    from pathlib import Path

    from runstore.config import RunConfig, finished_run_clash

    long = get_budget("long")
    white, _ = plan_runs(get_suite("pong-white"), long)
    targets = [c for w in white for c in w if c.task == "pong_soup/white"]
    assert len(targets) == 9 and {c.steps for c in targets} == {2_000_000}
    assert {c.agent for c in targets} == {"scratch", "finetune-all", "progressive"}
    assert {c.seed for c in targets} == {0, 1, 2}
    for cfg in targets:
        for field, value in PONG_TUNED.get(cfg.agent, {}).items():
            assert getattr(cfg, field) == value
        assert cfg.sources in ((), ("pong_soup/pong",))
        assert cfg.source_seed in (None, 0) and cfg.source_steps in (None, 2_000_000)
    laby_long = [c for w in plan_runs(get_suite("labyrinth"), long)[0] for c in w]
    laby_laptop = [c for w in plan_runs(get_suite("labyrinth"), get_budget("laptop"))[0] for c in w]
    long_targets = [c for c in laby_long if c.steps == 1_000_000]
    assert len(long_targets) == len([c for c in laby_laptop if c.steps == 250_000]) == 18
    committed = Path(__file__).resolve().parents[2] / "docs" / "results" / "labyrinth"
    cfg = long_targets[0]
    run = run_dir_for(committed, cfg)
    saved = json.loads((run / "config.json").read_text())["run"]
    assert RunConfig.from_dict(saved).steps == 250_000
    assert finished_run_clash(run, cfg) == ["steps"]
    with pytest.raises(KeyError, match="no step count for domain 'atari'"):
        plan_runs(get_suite("atari"), long)


def test_the_committed_row_is_the_suites_overnight_row():
    """docs/results/pong-soup-row holds every run of the overnight row, finished, at the
    identity the suite gives it now (so the row on a copy of it retrains nothing), and its
    hflip and noisy runs are the laptop report's own files, byte for byte."""
    from pathlib import Path

    from runstore.config import RunConfig, finished_run_clash

    results = Path(__file__).resolve().parents[2] / "docs" / "results"
    row, laptop = results / "pong-soup-row", results / "pong-soup"
    _, manifest = plan_runs(get_suite("pong-soup"), get_budget("overnight"))
    assert len(manifest) == 63
    for m in manifest:
        cfg = RunConfig.from_dict(m["config"])
        path = run_dir_for(row, cfg)
        status = json.loads((path / "status.json").read_text())
        assert status["state"] == "done" and finished_run_clash(path, cfg) == [], path
    shared = [p for p in laptop.glob("pong_soup-*/*/seed*") if p.is_dir()]
    assert len(shared) == 19  # 18 target runs and the zoo column's copy
    for path in shared:
        for f in path.iterdir():
            assert (row / path.relative_to(laptop) / f.name).read_bytes() == f.read_bytes(), f


def test_a_row_budgets_plan_says_the_row_not_only_the_reduced_matrix(tmp_path):
    """The report prints the plan's matrix note: under the overnight row it must name the
    row's 7 targets (the suite's own note is the reduced matrix's 2), and the committed
    row's plan.json says so; other budgets keep the suite's note."""
    from benchmarks.runner import matrix_notes

    suite = get_suite("pong-soup")
    row = matrix_notes(suite, get_budget("overnight"))
    assert row.startswith("row (this budget's): first column on pong; all 7 targets (black,")
    assert row.endswith(suite.notes) and "zoom" in row.split(suite.notes)[0]
    assert matrix_notes(suite, get_budget("laptop")) == suite.notes
    results = __import__("pathlib").Path(__file__).resolve().parents[2] / "docs" / "results"
    plan = json.loads((results / "pong-soup-row" / "plan.json").read_text())
    assert plan["suite_notes"] == row
