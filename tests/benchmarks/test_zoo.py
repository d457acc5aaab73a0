"""Shipped source columns: identity, network and pixel checks, copying into a results root."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from agents import ColumnConfig
from benchmarks.zoo import ZOO_MARKER, find_zoo_run, identity, take_from_zoo
from envs import observation_fingerprint
from methods import build_agent
from runstore.admission import weights_sha256
from runstore.config import RunConfig, run_dir_for
from runstore.rundir import RunDir


def _ship(zoo, cfg, fingerprint=None, actions=3):
    run_dir = run_dir_for(zoo, cfg)
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(
        json.dumps(
            {
                "run": cfg.to_dict(),
                "observation_fingerprint": fingerprint or observation_fingerprint(cfg.task),
            }
        )
    )
    build_agent("scratch", actions, in_channels=4, seed=cfg.seed, alpha_init=cfg.alpha_init).save(
        run_dir / "agent.pt"
    )
    status = {"state": "done", "weights_sha256": weights_sha256(run_dir / "agent.pt")}
    (run_dir / "status.json").write_text(json.dumps(status))
    return run_dir


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    root = tmp_path / "zoo"
    monkeypatch.setenv("XFER_ZOO", str(root))
    return root


def test_identity_ignores_steps_and_execution_settings():
    a = RunConfig(task="catch_soup/pong", steps=10, env_runners=1, wandb=False)
    b = RunConfig(task="catch_soup/pong", steps=99, env_runners=2, stall_timeout_s=5)
    assert identity(a.to_dict()) == identity(b.to_dict())
    c = RunConfig(task="catch_soup/pong", lr=1e-4)
    assert identity(a.to_dict()) != identity(c.to_dict())


def test_a_matching_zoo_run_is_found_and_copied(zoo, tmp_path):
    shipped = _ship(zoo, RunConfig(task="catch_soup/pong", steps=123_456))
    asked = RunConfig(task="catch_soup/pong", steps=1_000, env_runners=1, wandb=False)
    assert find_zoo_run(asked, log=lambda *_: None) == shipped
    results = tmp_path / "results"
    assert take_from_zoo(asked, results, log=lambda *_: None)
    copy = run_dir_for(results, asked)
    assert RunDir(copy).read_status()["state"] == "done" and (copy / "agent.pt").is_file()
    assert json.loads((copy / ZOO_MARKER).read_text())["zoo_run"] == str(shipped.resolve())
    # never over an existing run directory
    assert not take_from_zoo(asked, results, log=lambda *_: None)


def test_a_zoo_run_with_another_identity_network_or_pixels_is_not_used(zoo):
    lines = []
    _ship(zoo, RunConfig(task="catch_soup/pong", lr=1e-4))
    assert find_zoo_run(RunConfig(task="catch_soup/pong"), log=lines.append) is None
    assert "['lr']" in lines[-1]

    _ship(zoo, RunConfig(task="catch_soup/hflip"), fingerprint="0123456789abcdef")
    assert find_zoo_run(RunConfig(task="catch_soup/hflip"), log=lines.append) is None
    assert "other observations" in lines[-1]

    _ship(zoo, RunConfig(task="catch_soup/white"), actions=6)  # Catch has 3 actions
    assert find_zoo_run(RunConfig(task="catch_soup/white"), log=lines.append) is None
    assert "another shape" in lines[-1]

    assert find_zoo_run(RunConfig(task="catch_soup/black"), log=lines.append) is None  # none


def test_a_zoo_column_made_under_another_alpha_init_still_matches(zoo):
    """alpha_init (default 0.1 when the zoo was trained, 1 now) is not part of a scratch
    column's identity, and not a shape: the file records it but nothing in it depends on it."""
    old = _ship(zoo, RunConfig(task="catch_soup/pong", alpha_init=0.1))
    assert RunConfig(task="catch_soup/pong").alpha_init != 0.1
    # runstore.config cannot import torch, so RunConfig repeats the network's default
    assert RunConfig(task="catch_soup/pong").alpha_init == ColumnConfig().alpha_init
    assert find_zoo_run(RunConfig(task="catch_soup/pong")) == old


@pytest.mark.ray
def test_train_uses_a_shipped_source_column(zoo, tmp_path):
    from benchmarks.runner import train_with_sources
    from benchmarks.runsetup import TrainingError
    from benchmarks.training import train

    settings = dict(steps=1_500, wandb=False, env_runners=1, envs_per_runner=4, check_episodes=0)
    shipped = _ship(zoo, RunConfig(task="catch_soup/pong", **{**settings, "steps": 50_000}))
    lines = []
    cfg = RunConfig(
        task="catch_soup/hflip", agent="progressive", sources=("catch_soup/pong",), **settings
    )
    # train() trains one run: it refuses a target whose source is not there
    with pytest.raises(TrainingError, match="source run .* is not finished"):
        train(cfg, tmp_path / "results", log=lines.append)
    run_dir = train_with_sources(cfg, tmp_path / "results", log=lines.append)
    assert RunDir(run_dir).read_status()["state"] == "done"
    assert any("shipped zoo column" in line for line in lines)
    config = json.loads((run_dir / "config.json").read_text())
    src_dir = run_dir_for(tmp_path / "results", RunConfig(task="catch_soup/pong", **settings))
    assert config["source_files"] == [str(src_dir / "agent.pt")]
    assert (src_dir / ZOO_MARKER).is_file() and shipped.is_dir()
    # a published results folder keeps no weights: train() alone says so; the runner,
    # which resolves sources, puts the zoo copy's back
    import shutil

    (src_dir / "agent.pt").unlink()
    shutil.rmtree(run_dir)
    with pytest.raises(TrainingError, match=r"weights \(agent.pt\) are not on disk"):
        train(cfg, tmp_path / "results", log=lines.append)
    train_with_sources(cfg, tmp_path / "results", log=lines.append)
    assert (src_dir / "agent.pt").read_bytes() == (shipped / "agent.pt").read_bytes()
    assert any("weights restored from the shipped zoo column" in line for line in lines)
    # without the zoo the source is trained here instead
    other = tmp_path / "results2"
    target = train_with_sources(cfg, other, log=lines.append, use_zoo=False)
    trained = run_dir_for(other, RunConfig(task="catch_soup/pong", **settings))
    assert not (trained / ZOO_MARKER).exists()
    # a trained source without its weights is one clear error, never an IndexError
    (trained / "agent.pt").unlink()
    shutil.rmtree(target)
    with pytest.raises(TrainingError, match=r"weights \(agent.pt\) are not on disk"):
        train_with_sources(cfg, other, log=lines.append)


def test_identity_and_execution_split_every_field():
    cfg = RunConfig(task="pong_soup/hflip", agent="progressive", sources=("pong_soup/pong",))
    ident, execution = cfg.identity(), cfg.execution()
    assert set(ident).isdisjoint(execution)
    # the rest are the fields only other agents use (DEN's and PathNet's)
    unused = set(cfg.to_dict()) - set(ident) - set(execution)
    assert unused == {"pathnet_population", "pathnet_episodes"} | {
        k for k in cfg.to_dict() if k.startswith("den_")
    }
    assert "alpha_init" in ident and replace(cfg, alpha_init=0.01).identity() != ident
    # execution settings never change what a run is; hyperparameters do
    faster = replace(cfg, env_runners=7, native_env=False, wandb=False, steps=9)
    assert faster.identity() == ident and faster.execution() != execution
    assert replace(cfg, lr=1e-4).identity() != ident


def test_fields_an_agent_does_not_use_are_not_part_of_its_identity():
    """alpha_init only shapes the lateral adapters: a scratch column (the zoo's) is the
    same run whatever it is, so changing its default does not orphan the zoo."""
    scratch = RunConfig(task="pong_soup/pong")
    assert replace(scratch, alpha_init=0.01).identity() == scratch.identity()
    column = RunConfig(task="pong_soup/pong", agent="random-column")
    assert replace(column, alpha_init=0.01).identity() != column.identity()
    pathnet = RunConfig(task="pong_soup/pong", agent="pathnet")
    assert replace(pathnet, pathnet_population=4).identity() != pathnet.identity()
    assert replace(scratch, pathnet_population=4).identity() == scratch.identity()
    den = RunConfig(task="pong_soup/pong", agent="den")
    assert replace(den, den_k=3).identity() != den.identity()


def test_replay_bar_of_a_column_of_another_game(tmp_path):
    """Half the greedy gain over the floor, never under floor + margin; Pong's is +18;
    a column that did not clearly learn is refused."""
    import json

    from benchmarks.zoo import replay_bar, write_replay_bar

    run = tmp_path / "atari-seaquest" / "scratch" / "seed0"
    run.mkdir(parents=True)
    greedy = run / "eval_greedy_atari-seaquest.json"
    greedy.write_text(json.dumps({"episodes": 20, "greedy": True, "mean": 468.0}))
    data = write_replay_bar(run, "atari/seaquest", floor=68.0, floor_sd=30.0)
    assert data["margin"] == 60.0 and data["bar"] == 268.0  # 68 + (468 - 68) / 2
    assert replay_bar(run, "atari/seaquest") == 268.0
    greedy.write_text(json.dumps({"episodes": 20, "greedy": True, "mean": 140.0}))
    assert write_replay_bar(run, "atari/seaquest", 68.0, 30.0)["bar"] == 128.0  # margin
    greedy.write_text(json.dumps({"episodes": 20, "greedy": True, "mean": 100.0}))
    with pytest.raises(ValueError, match="not clearly above the floor"):
        write_replay_bar(run, "atari/seaquest", 68.0, 30.0)
    assert replay_bar(tmp_path, "pong_soup/pong") == 18.0
    with pytest.raises(FileNotFoundError, match="zoo_bar.json is missing"):
        replay_bar(tmp_path, "labyrinth/seek_track_1")


def test_atari_pong_takes_the_pong_soup_column(zoo, tmp_path):
    """atari/pong observes the same pixels as pong_soup/pong (same fingerprint): the
    Pong Soup column stands in for it, copied as a run of atari/pong; a column whose
    pixels differ from atari/pong's is not used."""
    from benchmarks.zoo import install_zoo_run

    assert observation_fingerprint("atari/pong") == observation_fingerprint("pong_soup/pong")
    column = _ship(zoo, RunConfig(task="pong_soup/pong", steps=2_000_000), actions=6)
    (column / "eval_pong_soup-pong.json").write_text("{}")
    want = RunConfig(task="atari/pong", steps=250_000)
    assert find_zoo_run(want, log=print) == column
    copy = install_zoo_run(column, run_dir_for(tmp_path, want), task=want.task)
    assert json.loads((copy / "config.json").read_text())["run"]["task"] == "atari/pong"
    marker = json.loads((copy / ZOO_MARKER).read_text())
    assert marker["column_task"] == "pong_soup/pong" and marker["task"] == "atari/pong"
    assert not (copy / "eval_pong_soup-pong.json").exists()  # evaluated again as atari/pong
    # other pixels: the equivalence is checked, not assumed
    lines = []
    config = json.loads((column / "config.json").read_text())
    config["observation_fingerprint"] = "0" * 16
    (column / "config.json").write_text(json.dumps(config))
    assert find_zoo_run(want, log=lines.append) is None
    assert any("other observations than atari/pong's" in line for line in lines)
    # a task without an equivalent finds nothing there
    assert find_zoo_run(RunConfig(task="atari/seaquest"), log=print) is None


def test_a_zoo_column_whose_weights_are_not_the_shipped_ones_is_not_used(zoo):
    """The zoo keeps each column's weights checksum: a column's agent.pt swapped for
    another column's valid file, or a column without a checksum, is never used."""
    lines = []
    a = _ship(zoo, RunConfig(task="catch_soup/pong"))
    b = _ship(zoo, RunConfig(task="catch_soup/pong", seed=1))
    asked = RunConfig(task="catch_soup/pong")
    assert find_zoo_run(asked, log=lines.append) == a
    (a / "agent.pt").write_bytes((b / "agent.pt").read_bytes())  # valid, same network
    assert find_zoo_run(asked, log=lines.append) is None
    assert "agent.pt: not the weights this run finished with" in lines[-1]
    (a / "status.json").write_text(json.dumps({"state": "done"}))
    assert find_zoo_run(asked, log=lines.append) is None
    assert "records no checksum of its weights" in lines[-1]


def test_every_shipped_zoo_column_records_the_checksum_of_its_weights():
    columns = sorted(Path(__file__).resolve().parents[2].glob("zoo/*/*/*/status.json"))
    assert len(columns) >= 8
    for status in columns:
        recorded = json.loads(status.read_text())["weights_sha256"]
        assert weights_sha256(status.parent / "agent.pt") == recorded, status


def _finished_run(root, curve, floor, floor_sd, task="catch_soup/pong", actions=3):
    """A finished scratch run of ``task`` with real (untrained) weights, its curve, a
    passed curve check and the task's floor in ``root/floors.json``."""
    cfg = RunConfig(task=task, steps=1_000)
    run_dir = _ship(root, cfg, actions=actions)
    with (run_dir / "curve.csv").open("w") as f:
        f.write("env_steps,frames,episodes,episode_return_mean,wall_time\n")
        for step, score in curve:
            f.write(f"{step},{step},1,{score},1.0\n")
    (run_dir / "curve_check.json").write_text(json.dumps({"ok": True, "eval_episodes": 20}))
    (run_dir / "checkpoint").mkdir()
    floors = {task: {"floor": floor, "std": floor_sd, "episodes": 10}}
    (root / "floors.json").write_text(json.dumps(floors))
    return run_dir


FLAT = [(i * 100, 0.9 if i > 2 else -0.5) for i in range(11)]  # plateaued at 0.9


def test_ship_column_checks_plays_and_records_its_bar(zoo, tmp_path):
    """A plateaued run is copied without its checkpoint, played for 20 greedy episodes
    (really: an untrained Catch net) and given its bar; the suite then finds it."""
    from benchmarks.zoo import BAR_FILE, SHIPPED_FILES, ship_column

    results = tmp_path / "results"
    run = _finished_run(results, FLAT, floor=-3.0, floor_sd=0.0)  # margin 1: bar >= -2
    lines = []
    dest = ship_column(run, results, zoo, log=lines.append)
    assert dest == zoo / "catch_soup-pong" / "scratch" / "seed0"
    assert {p.name for p in dest.iterdir()} == set(SHIPPED_FILES) | {
        "eval_greedy_catch_soup-pong.json",
        BAR_FILE,
    }
    greedy = json.loads((dest / "eval_greedy_catch_soup-pong.json").read_text())
    assert greedy["episodes"] == 20 and greedy["greedy"] is True
    assert all(s in (-1.0, 1.0) for s in greedy["scores"])  # real Catch episodes
    bar = json.loads((dest / BAR_FILE).read_text())
    assert bar["bar"] == pytest.approx(max(-3.0 + (greedy["mean"] + 3.0) / 2, -2.0))
    assert find_zoo_run(RunConfig(task="catch_soup/pong"), log=lambda *_: None) == dest
    assert "greedy" in lines[0] and "plateau" in lines[1]
    with pytest.raises(FileExistsError):
        ship_column(run, results, zoo)


def test_ship_column_refuses_runs_that_are_not_sources(zoo, tmp_path):
    """Still rising, or greedy play not clearly above the floor: refused, and nothing
    (not even a temporary folder) is left in the zoo."""
    from benchmarks.cli import main
    from benchmarks.zoo import ship_column

    rising = [(i * 100, -1.0 + 0.2 * i) for i in range(11)]
    results = tmp_path / "a"
    with pytest.raises(ValueError, match="not plateaued"):
        ship_column(_finished_run(results, rising, -1.0, 0.0), results, zoo)
    results = tmp_path / "b"
    run = _finished_run(results, FLAT, floor=0.5, floor_sd=0.0)  # flat at 0.9 < 0.5 + 1
    with pytest.raises(ValueError, match=r"has not learned \(final 0.90 is under floor 0.50"):
        ship_column(run, results, zoo)
    # a curve that says it learned, but greedy Catch (untrained, <= 1) cannot reach 1.5
    results = tmp_path / "c"
    learned = [(step, 2.0 + score) for step, score in FLAT]
    run = _finished_run(results, learned, floor=0.5, floor_sd=0.0)
    with pytest.raises(ValueError, match="not clearly above the floor"):
        ship_column(run, results, zoo)
    assert not zoo.exists() or not any(zoo.rglob("*.json"))
    assert main(["ship-column", str(run), "--floors", str(results), "--zoo", str(zoo)]) == 2
    data = json.loads((run / "config.json").read_text())
    data["run"].update(agent="finetune-all", sources=["catch_soup/hflip"])
    (run / "config.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="a scratch run without sources"):
        ship_column(run, results, zoo)


def test_ship_column_holds_a_pong_column_to_plus_18(zoo, tmp_path):
    """Pong's replay bar (+18) is above floor + half the gain for a column at +17: such a
    column would fail its replay test, so it is refused; one at +19 ships."""
    from benchmarks.zoo import BAR_FILE, ship_column

    def greedy_at(mean):
        def evaluate(run_dir, episodes, greedy):
            data = {"episodes": episodes, "greedy": greedy, "mean": mean, "std": 1.0}
            (Path(run_dir) / "eval_greedy_pong_soup-pong.json").write_text(json.dumps(data))
            return data

        return evaluate

    curve = [(i * 100, -20.0 if i < 3 else 17.0) for i in range(11)]
    results = tmp_path / "results"
    run = _finished_run(results, curve, -20.3, 0.6, task="pong_soup/pong", actions=6)
    with pytest.raises(ValueError, match="greedy 17.00 is under the bar 18.00"):
        ship_column(run, results, zoo, evaluate=greedy_at(17.0), log=lambda *_: None)
    assert not zoo.exists() or not any(zoo.rglob("*.json"))  # nothing half-written
    dest = ship_column(run, results, zoo, evaluate=greedy_at(19.0), log=lambda *_: None)
    bar = json.loads((dest / BAR_FILE).read_text())
    assert bar["greedy_at_shipping"] == 19.0 and bar["bar"] == 18.0  # not -20.3 + 19.65


def test_ship_column_needs_a_measured_floor_for_its_task(zoo, tmp_path):
    """--floors naming a missing folder, or one whose floors.json lacks the task, is an
    error: the game minimum (Catch's -1) must not stand in for the random floor."""
    from analysis.floors import MissingFloorError
    from benchmarks.zoo import ship_column

    results = tmp_path / "results"
    run = _finished_run(results, FLAT, floor=-3.0, floor_sd=0.0)
    with pytest.raises(MissingFloorError, match="no random-policy floor for catch_soup/pong"):
        ship_column(run, tmp_path / "no-such-folder", zoo)
    other = tmp_path / "other"
    other.mkdir()
    (other / "floors.json").write_text(json.dumps({"catch_soup/hflip": {"floor": -0.7}}))
    with pytest.raises(MissingFloorError, match="catch_soup/pong"):
        ship_column(run, other, zoo)
    assert not any(zoo.rglob("agent.pt"))  # nothing shipped
