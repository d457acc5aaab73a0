"""A suite's exit status and its neighbours on one results root (fake trainer, no Ray).

``xfer bench`` exits non-zero and names the runs when any failed or is unfinished (the
report is still written); a second suite on the same root is refused at start with one
line; a run another process is training is waited for, never reported as failed.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest
from fake_trainer import fake_factory

import benchmarks.runner as runner
import benchmarks.runsetup as runsetup
from benchmarks.budgets import get_budget
from benchmarks.cli import main
from benchmarks.runner import SuiteIncompleteError, plan_runs, run_suite
from benchmarks.suites import get_suite
from runstore.config import run_dir_for
from runstore.rundir import SuiteLock, SuiteLockedError
from runstore.sweeplog import read_sweeps

SMOKE = [
    "catch-soup",
    *("--budget", "smoke", "--no-wandb", "--check-episodes", "0", "--eval-episodes", "3"),
]
BASE = {"wandb": False, "check_episodes": 0}


@pytest.fixture(autouse=True)
def _no_fisher(monkeypatch):
    """AFS and APS of every progressive run are most of a smoke suite's time (about 100 s
    a run on these 2 cores), and not what these tests are about."""
    import benchmarks.sensitivity_runs

    monkeypatch.setattr(benchmarks.sensitivity_runs, "afs_for_run", lambda *a, **k: {})
    monkeypatch.setattr(benchmarks.sensitivity_runs, "aps_for_run", lambda *a, **k: {})


def quiet(*_):
    pass


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_failed_runs_make_the_suite_exit_non_zero_and_are_named(tmp_path, monkeypatch, capsys):
    fails = fake_factory(
        fail_at=1, error=RuntimeError, fails=lambda cfg: cfg.agent == "finetune-all"
    )
    monkeypatch.setattr(runsetup, "rllib_trainer", fails)
    code = main(["bench", *SMOKE, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    failed = [line for line in err.splitlines() if line.startswith("  ")]
    assert len(failed) == 2 and all("finetune-all" in line and "failed" in line for line in failed)
    assert (tmp_path / "report" / "index.html").is_file()  # the rest is still reported
    # fixed, the same command retries the failed runs only and exits 0
    monkeypatch.setattr(runsetup, "rllib_trainer", fake_factory())
    assert main(["bench", *SMOKE, "--out", str(tmp_path)]) == 0
    assert not (tmp_path / ".suite.lock").exists()


def test_a_second_suite_on_the_same_root_is_refused_with_one_line(tmp_path, capsys):
    holder = sleeper()
    try:
        tmp_path.mkdir(exist_ok=True)
        (tmp_path / SuiteLock.NAME).write_text(
            json.dumps({"pid": holder.pid, "host": socket.gethostname()})
        )
        assert main(["bench", *SMOKE, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            f"xfer: error: {tmp_path} is in use by another suite (pid {holder.pid} on "
            f"{socket.gethostname()}): wait for it to finish, or use another --out"
        ]
        assert not (tmp_path / "plan.json").exists()  # nothing touched
    finally:
        holder.kill()
        holder.wait()


def test_a_suite_lock_of_a_dead_process_is_taken_over(tmp_path):
    holder = sleeper()
    holder.kill()
    holder.wait()
    (tmp_path / SuiteLock.NAME).write_text(
        json.dumps({"pid": holder.pid, "host": socket.gethostname()})
    )
    with SuiteLock(tmp_path, log=quiet):
        with pytest.raises(SuiteLockedError):
            SuiteLock(tmp_path).acquire()  # held by this live process now


def test_a_run_held_by_another_process_is_waited_for_not_failed(tmp_path, monkeypatch):
    suite, budget = get_suite("catch-soup"), get_budget("smoke")
    waves, _ = plan_runs(suite, budget, BASE)
    held = run_dir_for(tmp_path, waves[-1][0])  # a target run
    held.mkdir(parents=True)
    # the holder lives until the suite says it waits for it, then exits
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    threading.Thread(target=holder.wait, daemon=True).start()  # reaped, not a zombie
    (held / ".lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
    monkeypatch.setattr(runner, "HELD_POLL_S", 0.2)
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("waiting: ") and not holder.stdin.closed:
            holder.stdin.close()

    try:
        run_suite(
            "catch-soup",
            "smoke",
            tmp_path,
            base=BASE,
            eval_episodes=3,
            log=log,
            trainer_factory=fake_factory(),
        )
    finally:
        holder.kill()
    assert any(line.startswith("waiting: ") and str(held) in line for line in lines)
    assert not any("FAILED" in line for line in lines)
    assert json.loads((held / "status.json").read_text())["state"] == "done"


def test_run_suite_raises_naming_unfinished_runs(tmp_path):
    with pytest.raises(SuiteIncompleteError) as info:
        run_suite(
            "catch-soup",
            "smoke",
            tmp_path,
            base=BASE,
            log=quiet,
            trainer_factory=fake_factory(
                fail_at=2, error=RuntimeError, fails=lambda cfg: cfg.agent == "den"
            ),
        )
    # DEN's source failed, so its targets never started: failed and missing are named
    states = sorted(p.split(": ", 1)[1].split(" ")[0] for p in info.value.problems)
    assert states == ["failed", "missing", "missing"]
    # the sweep is in the root's sweep log, with how it ended and what it trained
    (sweep,) = read_sweeps(tmp_path)
    done = sum(
        json.loads(st.read_text()).get("state") == "done"
        for st in tmp_path.glob("*/*/*/status.json")
    )
    assert sweep["outcome"] == "failed (SuiteIncompleteError)" and sweep["suite"] == "catch-soup"
    assert sweep["trained"] == done > 0 and sweep["ended"] >= sweep["last_seen"] >= sweep["started"]
