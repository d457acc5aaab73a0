"""A results root's sweep log (runstore.sweeplog): each sweep's wall time, how it ended,
and a sweep killed without writing its end closed by the next one at its last sign of
life, so the pieces of a suite made in several sweeps add up to what it cost."""

from __future__ import annotations

import pytest

from runstore.sweeplog import FILE, SweepLog, read_sweeps, sweep_time


def clock(*times: float):
    return iter(times).__next__


def test_a_complete_sweep_records_its_time_and_runs(tmp_path):
    with SweepLog(
        tmp_path, "pong-soup", "laptop", "abc123", clock(100.0, 160.0, 220.0, 250.0)
    ) as s:
        s.run_ended(trained=True)
        s.run_ended(trained=False)  # found done, or failed: alive, not trained
    (rec,) = read_sweeps(tmp_path)
    assert rec["outcome"] == "complete" and rec["commit"] == "abc123"
    assert (rec["started"], rec["last_seen"], rec["ended"]) == (100.0, 250.0, 250.0)
    assert rec["trained"] == 1
    assert sweep_time(tmp_path) == sweep_time(tmp_path, "pong-soup", "laptop")
    t = sweep_time(tmp_path)
    assert (t.seconds, t.pieces, t.trained, t.open) == (150.0, 1, 1, 0)
    assert sweep_time(tmp_path, budget="overnight").pieces == 0


def test_a_killed_sweep_counts_up_to_its_last_finished_run(tmp_path):
    """Piece 1 starts at 0, finishes a run at 400 and is killed (no end written); piece 2
    runs from 1,000 to 1,300. The suite cost 400 + 300 s in 2 pieces."""
    killed = SweepLog(tmp_path, "pong-soup", "overnight", clock=clock(0.0, 400.0))
    killed.__enter__()
    killed.run_ended(trained=True)  # then SIGKILL: __exit__ never runs
    open_time = sweep_time(tmp_path)
    assert (open_time.seconds, open_time.open) == (400.0, 1)
    with SweepLog(tmp_path, "pong-soup", "overnight", clock=clock(1000.0, 1300.0)):
        pass
    first, second = read_sweeps(tmp_path)
    assert (first["outcome"], first["ended"]) == ("killed", 400.0)
    assert second["outcome"] == "complete"
    t = sweep_time(tmp_path)
    assert (t.seconds, t.pieces, t.trained, t.open) == (700.0, 2, 1, 0)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (KeyboardInterrupt, "interrupted"),
        (SystemExit, "interrupted"),
        (RuntimeError, "failed (RuntimeError)"),
    ],
)
def test_how_a_sweep_ended_is_recorded_and_the_error_still_raised(tmp_path, error, outcome):
    with pytest.raises(error), SweepLog(tmp_path, "s", "b", clock=clock(0.0, 5.0)):
        raise error
    assert read_sweeps(tmp_path)[0]["outcome"] == outcome


def test_a_damaged_log_is_refused_naming_the_file(tmp_path):
    (tmp_path / FILE).write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match="sweeps.json: not a list"):
        SweepLog(tmp_path, "s", "b").__enter__()
    (tmp_path / FILE).write_text("[{")
    with pytest.raises(ValueError, match="sweeps.json: not valid JSON"):
        read_sweeps(tmp_path)
    assert (tmp_path / FILE).read_text() == "[{"  # left as it was found
