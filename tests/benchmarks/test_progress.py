"""Progress bars: drawn on demand (or on a terminal), silent otherwise."""

import pytest

from benchmarks.progress import Progress, progress_enabled


def test_bar_shows_count_total_and_latest_return(capsys):
    bar = Progress(1_000, "pong_soup/pong scratch", initial=200, enabled=True)
    log = bar.writer(print)
    bar.update_to(600, ret=-12.25)
    log("a message")
    bar.close()
    out = capsys.readouterr()
    assert "pong_soup/pong scratch" in out.err and "600/1.00k" in out.err
    assert "ret=-12.25" in out.err and "a message" in out.out


def test_disabled_bar_draws_nothing_and_logs_pass_through(capsys):
    bar = Progress(10, "suite", unit="run", enabled=False)
    assert bar.writer(print) is print
    bar.update_to(4)
    bar.close()
    assert bar.n == 4 and capsys.readouterr().err == ""


@pytest.mark.parametrize("value, expected", [("1", True), ("0", False)])
def test_environment_variable_forces_the_bars(monkeypatch, value, expected):
    monkeypatch.setenv("XFER_PROGRESS", value)
    assert progress_enabled() is expected


def test_off_a_terminal_by_default(monkeypatch):
    monkeypatch.delenv("XFER_PROGRESS", raising=False)
    # pytest captures stderr: not a terminal
    assert progress_enabled() is False


@pytest.mark.ray
def test_a_training_run_draws_its_bar(tmp_path, capsys):
    from benchmarks.training import train
    from runstore.config import RunConfig

    cfg = RunConfig(
        task="catch_soup/pong",
        steps=1_000,
        wandb=False,
        env_runners=1,
        envs_per_runner=4,
        curve_window=500,
        check_episodes=0,
    )
    train(cfg, tmp_path, log=print, show_bar=True)
    out = capsys.readouterr()
    assert "catch_soup/pong scratch" in out.err and "/1.00k" in out.err and "ret=" in out.err
    # the per-point lines are left to the bar; other messages still print
    assert "steps, return" not in out.out
