"""Crash safety of a run directory: checkpoint swap under injected kills, the lock."""

import json
import os
import subprocess
import sys

import pytest

from runstore.rundir import (
    LOCK,
    RunLock,
    RunLockedError,
    has_checkpoint,
    latest_checkpoint,
    run_liveness,
    save_checkpoint,
)


class Killed(Exception):
    pass


def _save(steps):
    def save(d):
        d.mkdir(parents=True)
        (d / "algo_state.txt").write_text(f"state at {steps}")

    return save


def _progress(steps):
    return {"window": {"env_steps": steps, "win_start": steps}, "wall_time": steps / 100}


@pytest.mark.parametrize("step", ["during_save", "saved", "moved_old", "renamed", None])
def test_a_kill_at_any_step_of_the_swap_resumes_from_the_newest_complete_checkpoint(tmp_path, step):
    save_checkpoint(tmp_path, _save(1000), _progress(1000))

    def fault(at):
        if at == step:
            raise Killed(at)

    def save(d):
        _save(2000)(d)
        if step == "during_save":  # RLlib's state half written, no progress file yet
            raise Killed("during_save")

    if step is None:
        save_checkpoint(tmp_path, save, _progress(2000), fault)
    else:
        with pytest.raises(Killed):
            save_checkpoint(tmp_path, save, _progress(2000), fault)
    assert has_checkpoint(tmp_path)
    ckpt, progress = latest_checkpoint(tmp_path)
    expected = 1000 if step == "during_save" else 2000
    assert progress["window"]["env_steps"] == expected
    assert (ckpt / "algo_state.txt").read_text() == f"state at {expected}"
    assert ckpt == tmp_path / "checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]  # leftovers cleaned
    # and the next save works from there
    save_checkpoint(tmp_path, _save(3000), _progress(3000))
    assert latest_checkpoint(tmp_path)[1]["window"]["env_steps"] == 3000


def test_the_old_layout_still_resumes(tmp_path):
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "progress.json").write_text(json.dumps(_progress(500)))
    assert has_checkpoint(tmp_path)
    assert latest_checkpoint(tmp_path)[1]["window"]["env_steps"] == 500
    assert latest_checkpoint(tmp_path / "nothing") is None


def test_one_process_per_run_directory(tmp_path):
    with RunLock(tmp_path, log=lambda *_: None):
        assert run_liveness(tmp_path) == "live"
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            RunLock(tmp_path, log=lambda *_: None).acquire()
    assert not (tmp_path / LOCK).exists()
    assert run_liveness(tmp_path) == "dead"


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    # a process that held the lock and was killed (SIGKILL: no cleanup)
    code = (
        "import os, sys; from runstore.rundir import RunLock; "
        f"RunLock({str(tmp_path)!r}).acquire(); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    holder = json.loads((tmp_path / LOCK).read_text())
    assert holder["pid"] != os.getpid()
    assert run_liveness(tmp_path) == "dead"
    messages = []
    with RunLock(tmp_path, log=messages.append):
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    assert "taking over a stale lock" in messages[0]


def test_another_hosts_lock_is_stale_only_without_a_heartbeat(tmp_path):
    import time

    (tmp_path / LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    (tmp_path / "status.json").write_text(json.dumps({"heartbeat": time.time()}))
    assert run_liveness(tmp_path) == "live"
    with pytest.raises(RunLockedError, match="elsewhere"):
        RunLock(tmp_path, log=lambda *_: None).acquire()
    (tmp_path / "status.json").write_text(json.dumps({"heartbeat": time.time() - 3600}))
    assert run_liveness(tmp_path) == "dead"
    with RunLock(tmp_path, log=lambda *_: None):
        pass


def test_train_refuses_a_run_directory_another_process_trains(tmp_path):
    from benchmarks.runsetup import TrainingError
    from benchmarks.training import train
    from runstore.config import RunConfig, run_dir_for

    cfg = RunConfig(task="catch_soup/pong", steps=1_000, wandb=False)
    run_dir = run_dir_for(tmp_path, cfg)
    with RunLock(run_dir, log=lambda *_: None):
        with pytest.raises(TrainingError, match="is being trained by pid"):
            train(cfg, tmp_path, log=lambda *_: None)
    assert not (run_dir / "config.json").exists()  # nothing written by the refused process


def test_written_files_follow_the_umask(tmp_path):
    from runstore.atomic import write_json

    old = os.umask(0o022)
    try:
        mode = write_json(tmp_path / "a.json", {"x": 1}).stat().st_mode & 0o777
    finally:
        os.umask(old)
    assert mode == 0o644


def test_run_dir_owns_the_layout_readers_and_writers(tmp_path):
    from runstore.config import RunConfig, run_dir_for
    from runstore.rundir import CURVE_FIELDS, DamagedFileError, RunDir

    cfg = RunConfig(
        task="pong_soup/hflip", agent="progressive", sources=("pong_soup/pong",), tag="job2"
    )
    run = RunDir.for_run(tmp_path, cfg)
    assert (
        run.path == tmp_path / "pong_soup-hflip" / "progressive_from_pong_soup-pong" / "seed0_job2"
    )
    assert run_dir_for(tmp_path, cfg) == run.path
    assert run.eval("pong_soup/pong", greedy=True).name == "eval_greedy_pong_soup-pong.json"
    run.path.mkdir(parents=True)
    assert run.read_status() == {"state": "missing"} and run.read_curve() == []
    with pytest.raises(FileNotFoundError, match="not a finished run"):
        run.require_weights()
    run.write_json(run.config, {"run": cfg.to_dict()})
    run.write_status("done", env_steps=5)
    rows = [{"env_steps": 10.0, "episode_return_mean": -3.5}]
    run.write_curve(rows)
    assert run.read_run_config()["task"] == "pong_soup/hflip"
    assert run.read_status()["env_steps"] == 5 and not run.is_done()  # no weights yet
    back = run.read_curve()
    assert list(back[0]) == list(CURVE_FIELDS) and back[0]["episode_return_mean"] == -3.5
    run.status.write_text('{"state": "do')
    with pytest.raises(DamagedFileError, match="status.json: not valid JSON"):
        run.read_status()
    with pytest.raises(ValueError, match="not a file of"):
        run.write_json(tmp_path / "elsewhere.json", {})
