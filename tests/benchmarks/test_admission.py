"""Admission (runstore.admission): a finished run is reused only when it is the same run
and healthy; damage is refused with the file named, before anything trains. Each probe
below was reused (or listed as done) before the checks existed."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
from fake_trainer import (
    FAKE_RUN,
    FakeTrainer,
    fake_factory,
    fresh_trainer_list,  # noqa: F401 - autouse fixture
    quiet,
)

from benchmarks import runner
from benchmarks.budgets import get_budget
from benchmarks.runner import plan_runs, run_suite
from benchmarks.runsetup import TrainingError
from benchmarks.suites import get_suite
from benchmarks.training import train
from runstore.admission import AdmissionError, admit, finished_problem, weights_sha256
from runstore.config import run_dir_for, source_config
from runstore.rundir import DamagedFileError, RunDir, read_curve_file

CFG = FAKE_RUN


@pytest.fixture
def done(tmp_path) -> RunDir:
    return RunDir(train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory()))


def test_a_finished_run_records_its_weights_checksum_and_is_reused(done):
    status = done.read_status()
    assert status["weights_sha256"] == weights_sha256(done.weights)
    assert finished_problem(done) is None
    admission = admit(CFG, done)
    assert admission.reuse and admission.cfg == CFG


def _cut(path, n_bytes: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - n_bytes])


def test_a_curve_cut_inside_its_last_number_is_damage(done):
    _cut(done.curve, 2)  # the newline and the last digit of the last row's last number
    with pytest.raises(DamagedFileError, match="cut inside its last line"):
        read_curve_file(done.curve)
    assert "curve.csv: cut inside its last line" in finished_problem(done)
    with pytest.raises(AdmissionError, match="damaged finished run.*curve.csv"):
        admit(CFG, done)
    # train() refuses it too, training nothing
    with pytest.raises(TrainingError, match="curve.csv: cut inside"):
        train(CFG, done.path.parents[2], log=quiet, trainer_factory=fake_factory())
    assert len(FakeTrainer.built) == 1


def test_a_curve_cut_inside_its_header_or_after_a_whole_line_is_damage(done):
    text = done.curve.read_text()
    done.curve.write_text(text[:20] + "\n")  # inside the header, ending a line
    assert "header lacks" in finished_problem(done)
    lines = text.splitlines(keepends=True)
    done.curve.write_text("".join(lines[:-1]))  # the last point lost at a line boundary
    problem = finished_problem(done)
    assert "ends at 1200.0, but status.json records 2000 steps" in problem
    done.curve.write_text(text)
    assert finished_problem(done) is None


def test_weights_swapped_for_another_valid_file_are_refused(tmp_path, done):
    other = train(replace(CFG, seed=1), tmp_path, log=quiet, trainer_factory=fake_factory())
    shutil.copyfile(RunDir(other).weights, done.weights)  # a valid file, not this run's
    assert "agent.pt: not the weights this run finished with" in finished_problem(done)
    with pytest.raises(AdmissionError, match="agent.pt"):
        admit(CFG, done)
    done.weights.unlink()  # a published folder keeps no weights: not damage
    assert finished_problem(done) is None


def test_another_config_is_refused_before_damage_is_looked_at(done):
    with pytest.raises(AdmissionError, match=r"another config \(differs in \['lr'\]\)"):
        admit(replace(CFG, lr=1e-3), done)


def test_a_suite_refuses_a_damaged_source_before_training_anything(tmp_path):
    base = {"wandb": False, "check_episodes": 0, "checkpoint_every_s": 0.0}
    kwargs = dict(base=base, eval_episodes=3, log=quiet)
    run_suite("catch-soup", "smoke", tmp_path, trainer_factory=fake_factory(), **kwargs)
    built = len(FakeTrainer.built)
    waves, _ = plan_runs(get_suite("catch-soup"), get_budget("smoke"), base)
    target = next(c for c in waves[-1] if c.sources)
    source = RunDir(run_dir_for(tmp_path, source_config(target)))
    source.weights.write_bytes(b"garbage")  # every run is done; a source is now garbage
    with pytest.raises(TrainingError, match="may not reuse.*agent.pt: not the weights"):
        runner.run_suite("catch-soup", "smoke", tmp_path, trainer_factory=fake_factory(), **kwargs)
    assert len(FakeTrainer.built) == built  # refused before anything trained
    assert json.loads(source.status.read_text())["state"] == "done"  # nothing rewritten


def test_an_unreadable_source_file_is_named_before_the_run_starts(tmp_path):
    target = replace(
        CFG, task="catch_soup/hflip", agent="finetune-all", sources=("catch_soup/pong",)
    )
    train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory())  # the source
    source = RunDir(run_dir_for(tmp_path, CFG))
    status = source.read_status()
    del status["weights_sha256"]  # a run finished before checksums existed
    source.status.write_text(json.dumps(status))
    source.weights.write_bytes(b"not a torch file")
    with pytest.raises(TrainingError, match=r"weights .*agent.pt cannot be loaded"):
        train(target, tmp_path, log=quiet, trainer_factory=fake_factory())
    assert len(FakeTrainer.built) == 1 and not run_dir_for(tmp_path, target).exists()


@pytest.mark.miniworld
def test_a_source_observing_another_shape_is_refused_before_anything_trains(tmp_path):
    cfg = replace(
        CFG, task="catch_soup/hflip", agent="progressive", sources=("labyrinth/seek_track_1",)
    )
    with pytest.raises(TrainingError, match=r"observes \(84, 84, 12\).*observes \(84, 84, 4\)"):
        runner.train_with_sources(cfg, tmp_path, log=quiet, trainer_factory=fake_factory())
    assert FakeTrainer.built == [] and list(tmp_path.iterdir()) == []


def test_a_sigterm_that_ray_turns_into_exit_1_is_still_reported_as_sigterm(
    tmp_path, capsys, monkeypatch
):
    """SIGTERM while Ray starts env runners: Ray ends the driver with SystemExit(1); the
    handler noted the signal, so the run records it and the CLI says how to resume."""
    import argparse

    from benchmarks import cli, interrupts

    def killed_during_start_up(*_args, **_kwargs):
        interrupts.note(15)  # what benchmarks.rllib.algo's handler does first
        raise SystemExit(1)  # what Ray then raises instead of SystemExit(15)

    monkeypatch.setattr(interrupts, "_RECEIVED", [])
    with pytest.raises(SystemExit):
        train(CFG, tmp_path, log=quiet, trainer_factory=killed_during_start_up)
    status = RunDir(run_dir_for(tmp_path, CFG)).read_status()
    assert status["reason"] == "interrupted (SIGTERM); rerun to resume"

    class Parser:  # the CLI's parser, its command replaced by the killed one
        def parse_args(self, _argv):
            return argparse.Namespace(func=killed_during_start_up)

    monkeypatch.setattr(cli, "build_parser", Parser)
    interrupts.clear()
    assert cli.main(["train"]) == 143
    assert "terminated (SIGTERM); rerun the same command to resume" in capsys.readouterr().err
    # an exit 1 without a noted signal stays what it is
    interrupts.clear()
    monkeypatch.setattr(interrupts, "note", lambda _signum: None)
    with pytest.raises(SystemExit):
        cli.main(["train"])


def test_a_sigterm_arriving_while_the_handler_still_runs_ends_the_run(monkeypatch):
    """Seen on a killed suite: a second SIGTERM ran the driver's handler again while the
    first was still importing ``benchmarks.interrupts``; the nested handler found that
    module half initialised, raised AttributeError (recorded as the run's failure) and
    the suite went on to its next run. The handler must exit with 15 and note the signal
    whatever state that import is in: here the package's attribute is a module still
    initialising, as the nested handler saw it."""
    import importlib.machinery
    import sys
    import types

    import benchmarks
    from benchmarks import interrupts
    from benchmarks.rllib import algo

    half = types.ModuleType("benchmarks.interrupts")
    half.__spec__ = importlib.machinery.ModuleSpec("benchmarks.interrupts", None)
    half.__spec__._initializing = True
    monkeypatch.setitem(sys.modules, "benchmarks.interrupts", half)
    monkeypatch.setattr(benchmarks, "interrupts", half, raising=False)
    monkeypatch.setattr(interrupts, "_RECEIVED", [])
    with pytest.raises(SystemExit) as exit_:
        algo._exit_on_sigterm(15, None)
    assert exit_.value.code == 15
    assert interrupts.terminated()


def test_an_error_after_a_sigterm_ends_the_suite_as_the_kill(tmp_path, capsys, monkeypatch):
    """A killed process group takes the env runners down too: the driver can see their
    death as an error before its own handler runs. After a noted SIGTERM such an error
    is the kill: the run records it as one and the suite stops (exit 143) instead of
    recording a failure and training its next run. Without a noted signal an error
    stays the run's failure and the suite goes on."""
    from benchmarks import interrupts

    def runners_gone(*_args, **_kwargs):
        interrupts.note(15)
        raise RuntimeError("the actor died unexpectedly before finishing this task")

    monkeypatch.setattr(interrupts, "_RECEIVED", [])
    with pytest.raises(SystemExit) as exit_:
        train(CFG, tmp_path, log=quiet, trainer_factory=runners_gone)
    assert exit_.value.code == 15
    status = RunDir(run_dir_for(tmp_path, CFG)).read_status()
    assert status["reason"] == "interrupted (SIGTERM); rerun to resume"

    def broken(*_args, **_kwargs):
        raise RuntimeError("a real failure")

    interrupts.clear()
    with pytest.raises(TrainingError, match="a real failure"):
        train(CFG, tmp_path / "other", log=quiet, trainer_factory=broken)


def test_a_checkpoint_on_a_full_disk_leaves_no_half_checkpoint_and_names_it(tmp_path):
    """ENOSPC while a checkpoint is written: the half-written checkpoint.tmp is removed,
    the run is recorded as failed, and the error names the file."""
    import errno

    def full_disk_save(self, directory):
        directory.mkdir(parents=True)
        (directory / "fake.json").write_text("{")
        raise OSError(errno.ENOSPC, "No space left on device")

    original = FakeTrainer.save
    FakeTrainer.save = full_disk_save
    try:
        with pytest.raises(TrainingError, match=r"checkpoint .*checkpoint.tmp failed: No space"):
            train(CFG, tmp_path, log=quiet, trainer_factory=fake_factory())
    finally:
        FakeTrainer.save = original
    run = RunDir(run_dir_for(tmp_path, CFG))
    assert not (run.path / "checkpoint.tmp").exists()
    status = run.read_status()
    assert status["state"] == "failed" and "checkpoint.tmp failed" in status["reason"]
