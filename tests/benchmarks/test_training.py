"""Smoke tests of training through RLlib (embedded Ray, 2 CPUs): artifacts, transfer, resume."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from agents import load_agent
from benchmarks.runner import train_with_sources
from benchmarks.runsetup import TrainingError
from benchmarks.training import train
from methods.den import den_config
from runstore.config import RunConfig, run_dir_for
from runstore.rundir import RunDir, latest_checkpoint

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[2]

# one env runner: these tests check artifacts, not parallel sampling (faster start)
SMOKE = dict(steps=1_500, wandb=False, env_runners=1, envs_per_runner=4, curve_window=500)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("results")


def check_artifacts(run_dir: Path) -> None:
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "done"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["packages"]["torch"] and "git_commit" in config
    rows = RunDir(run_dir).read_curve()
    assert rows and rows[-1]["env_steps"] >= 1_500
    steps = [r["env_steps"] for r in rows]
    assert steps == sorted(set(steps))
    with (run_dir / "curve.csv").open() as f:
        assert csv.DictReader(f).fieldnames == [
            "env_steps",
            "frames",
            "episodes",
            "episode_return_mean",
            "episode_return_std",
            "wall_time",
        ]
    payload = torch.load(run_dir / "agent.pt", weights_only=True)
    assert payload["format"].startswith("xfer-agent")


@pytest.mark.parametrize(
    "agent",
    ["scratch", "finetune-head", "finetune-all", "random-column", "progressive", "pathnet", "den"],
)
def test_every_agent_on_catch_soup(root, agent):
    sources = () if agent in ("scratch", "random-column") else ("catch_soup/pong",)
    # PathNet with the default two env runners: two paths sample at once
    settings = {**SMOKE, "env_runners": 2} if agent == "pathnet" else SMOKE
    cfg = RunConfig(task="catch_soup/hflip", agent=agent, sources=sources, **settings)
    run_dir = train_with_sources(cfg, root, log=lambda *_: None)
    check_artifacts(run_dir)
    net = load_agent(run_dir / "agent.pt")
    if sources:
        src_dir = run_dir_for(
            root,
            RunConfig(
                task="catch_soup/pong",
                agent=agent if agent in ("pathnet", "den") else "scratch",
                **settings,
            ),
        )
        check_artifacts(src_dir)
        src = torch.load(src_dir / "agent.pt", weights_only=True)["state_dict"]
        new = net.state_dict()
        if agent == "progressive":  # the source column is bit-identical after training
            for k, v in src.items():
                assert torch.equal(new[k], v), k
        if agent == "finetune-head":  # trunk unchanged, heads trained
            assert torch.equal(new["columns.0.conv1.weight"], src["columns.0.conv1.weight"])
            assert not torch.equal(new["columns.0.policy.weight"], src["columns.0.policy.weight"])
        if agent == "finetune-all":
            assert not torch.equal(new["columns.0.conv1.weight"], src["columns.0.conv1.weight"])
        if agent == "pathnet":  # modules fixed on the source's path are unchanged
            fixed = json.loads((src_dir / "pathnet.json").read_text())["best_path"]
            for layer, genes in enumerate(fixed):
                for m in set(genes):
                    key = f"layers.{layer}.{m}.weight"
                    assert torch.equal(new[key], src[key]), key
            assert len(net.fixed_paths) == 2
    if agent == "den":
        _check_den_target(run_dir, src_dir, net)
    if agent == "random-column":
        assert not any(p.requires_grad for p in net.columns[0].parameters())


def _check_den_target(run_dir: Path, src_dir: Path, net) -> None:
    """A DEN target run: its phases ran in order, its growth record matches the saved
    network, and the source task's outputs and scores are exactly the source run's."""
    from benchmarks.evaluate import evaluate_run

    record = json.loads((run_dir / "den.json").read_text())
    assert [t["phase"] for t in record["transitions"]] == ["selective", "expand", "final"]
    assert record["growth"] == net.growth()
    assert net.num_tasks == 2 and net.growth()[1]["expanded"] is True
    source = load_agent(src_dir / "agent.pt")
    obs = torch.randint(0, 256, (8, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        before, after = source(obs), net(obs, task=0)
    assert torch.equal(before.logits, after.logits) and torch.equal(before.value, after.value)
    # forgetting, measured as the report does: the same episodes score the same
    a = evaluate_run(src_dir, episodes=5, task="catch_soup/pong")
    b = evaluate_run(run_dir, episodes=5, task="catch_soup/pong")
    assert a["scores"] == b["scores"]


def test_killed_den_run_resumes_in_its_phase(tmp_path):
    """A DEN target killed after its expansion resumes there: no phase runs twice."""
    cfg = RunConfig(task="catch_soup/pong", agent="den", **{**SMOKE, "steps": 600})
    train(cfg, tmp_path / "results", log=lambda *_: None)  # the DEN source (first task)
    cmd = [
        sys.executable, "-m", "benchmarks.cli", "train", "--task", "catch_soup/hflip",
        "--agent", "den", "--source", "catch_soup/pong", "--no-wandb", "--steps", "8000",
        "--out", "results", "--env-runners", "1", "--envs-per-runner", "4",
        "--curve-window", "500", "--checkpoint-every", "1",
    ]  # fmt: skip
    run_dir = tmp_path / "results" / "catch_soup-hflip" / "den_from_catch_soup-pong" / "seed0"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # the expansion starts at 10% + 30% of 8000 steps
    _kill_after_checkpoint(cmd, run_dir, 4000, cwd=tmp_path, env=env)
    saved = latest_checkpoint(run_dir)[1]["method"]["transitions"]  # DEN's hook state
    assert [t["phase"] for t in saved] == ["selective", "expand"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resumed at" in out.stdout
    assert out.stdout.count("DEN phase") == 1  # only the final phase was left
    record = json.loads((run_dir / "den.json").read_text())
    assert [t["phase"] for t in record["transitions"]] == ["selective", "expand", "final"]
    assert record["transitions"][:2] == saved


def test_den_on_pong_tests_expansion_on_whole_episode_scores_and_does_not_forget(tmp_path):
    """DEN on Pong, where rewards come throughout long episodes and scores are negative:
    the expansion test reads the curve's whole-episode score (a random policy's is about
    -20; one rollout chunk's is about -1) and decides against tau on it, and the source
    task's outputs and evaluation scores are exactly the source run's."""
    from benchmarks.evaluate import evaluate_run
    from benchmarks.sensitivity_runs import collect_states

    # one env: a random Pong episode is about 800 agent steps, so the curve point before
    # the expansion test (40% of the steps) holds whole episodes
    settings = {**SMOKE, "steps": 6_000, "envs_per_runner": 1, "curve_window": 2_000}
    cfg = RunConfig(
        task="pong_soup/hflip", agent="den", sources=("pong_soup/pong",), den_tau=-10.0,
        check_episodes=0, **settings,
    )  # fmt: skip
    run_dir = train_with_sources(cfg, tmp_path, log=lambda *_: None, use_zoo=False)
    src_dir = run_dir_for(tmp_path, RunConfig(task="pong_soup/pong", agent="den", **settings))
    record = json.loads((run_dir / "den.json").read_text())
    test = next(t for t in record["transitions"] if t["phase"] == "expand")
    rows = RunDir(run_dir).read_curve()
    before_test = [r for r in rows if r["env_steps"] < test["env_steps"]]
    assert before_test, "no curve point before the expansion test"
    assert test["score"] == pytest.approx(before_test[-1]["episode_return_mean"])
    assert test["score"] < -15  # whole episodes of a near-random policy, not one chunk
    assert test["expanded"] is True  # below tau -10
    net = load_agent(run_dir / "agent.pt")
    assert net.growth()[1]["score_at_test"] == pytest.approx(test["score"])
    source = load_agent(src_dir / "agent.pt")
    obs, _ = collect_states(source, "pong_soup/pong", 64, episodes=1)  # one whole game
    with torch.no_grad():
        a, b = source(obs), net(obs, task=0)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.value, b.value)
    a = evaluate_run(src_dir, episodes=2, task="pong_soup/pong")
    b = evaluate_run(run_dir, episodes=2, task="pong_soup/pong")
    assert a["scores"] == b["scores"] and max(a["scores"]) < 0


def test_pong_soup_smoke_with_offline_wandb(root, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = RunConfig(
        task="pong_soup/white",
        agent="progressive",
        sources=("pong_soup/pong",),
        **{**SMOKE, "wandb": True},
    )
    run_dir = train_with_sources(cfg, root, log=lambda *_: None)
    check_artifacts(run_dir)
    rows = RunDir(run_dir).read_curve()
    assert rows[-1]["frames"] == 4 * rows[-1]["env_steps"]
    assert list((run_dir / "wandb").glob("offline-run-*")), "wandb logged nothing offline"


@pytest.mark.miniworld
def test_labyrinth_smoke_rgb_columns(root):
    cfg = RunConfig(task="labyrinth/seek_track_1", agent="scratch", **{**SMOKE, "steps": 800})
    run_dir = train(cfg, root, log=lambda *_: None)
    check_artifacts_steps = RunDir(run_dir).read_curve()
    assert check_artifacts_steps[-1]["env_steps"] >= 800
    net = load_agent(run_dir / "agent.pt")
    assert net.config.in_channels == 12  # four stacked RGB frames


def test_finished_run_is_left_alone_and_config_clash_is_refused(root):
    cfg = RunConfig(task="catch_soup/hflip", agent="scratch", **SMOKE)
    run_dir = train(cfg, root, log=lambda *_: None)
    before = (run_dir / "curve.csv").read_text()
    messages = []
    train(cfg, root, log=messages.append)
    assert "already done" in messages[-1] and (run_dir / "curve.csv").read_text() == before
    other = RunConfig(task="catch_soup/hflip", agent="scratch", **{**SMOKE, "steps": 2_000})
    os.rename(run_dir / "status.json", run_dir / "status.bak")
    try:
        with pytest.raises(TrainingError, match="another config"):
            train(other, root, log=lambda *_: None)
    finally:
        os.rename(run_dir / "status.bak", run_dir / "status.json")
    assert (run_dir / "curve.csv").read_text() == before
    # a finished run is not reused for another config either (e.g. a smoke run when the
    # suite now asks for laptop steps); execution settings may differ
    with pytest.raises(TrainingError, match=r"finished run with another config.*'steps'"):
        train(other, root, log=lambda *_: None)
    same_but_executed_differently = RunConfig(
        task="catch_soup/hflip", agent="scratch", **{**SMOKE, "env_runners": 2}
    )
    messages = []
    train(same_but_executed_differently, root, log=messages.append)
    assert "already done" in messages[-1]
    # nor a field scratch does not use (a default alpha_init that changed since)
    messages = []
    train(replace(cfg, alpha_init=0.01), root, log=messages.append)
    assert "already done" in messages[-1]


def test_gpu_asked_for_and_absent_fails_fast(root):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    cfg = RunConfig(
        task="catch_soup/pong",
        agent="scratch",
        gpus_per_learner=1.0,
        num_learners=1,
        tag="gpu",
        **SMOKE,
    )
    start = time.time()
    with pytest.raises(TrainingError, match="GPU"):
        train(cfg, root, log=lambda *_: None)
    assert time.time() - start < 60
    status = json.loads((run_dir_for(root, cfg) / "status.json").read_text())
    assert status["state"] == "failed" and "GPU" in status["reason"]
    # the same run on the CPU may reuse the directory: the failed run left nothing to keep
    cpu = RunConfig(task="catch_soup/pong", agent="scratch", tag="gpu", **SMOKE)
    assert run_dir_for(root, cpu) == run_dir_for(root, cfg)
    train(cpu, root, log=lambda *_: None)
    assert json.loads((run_dir_for(root, cpu) / "status.json").read_text())["state"] == "done"


def _kill_after_checkpoint(cmd, run_dir, steps, cwd, env, timeout=240.0):
    """Start ``cmd`` and SIGKILL its process group once ``run_dir`` holds a checkpoint
    past ``steps`` env steps (fails the test if none comes within ``timeout``)."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=cwd,
        env=env,
    )
    deadline = time.time() + timeout
    while time.time() < deadline:
        progress = run_dir / "checkpoint" / "xfer_progress.json"
        if progress.is_file() and json.loads(progress.read_text())["window"]["env_steps"] >= steps:
            break
        time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"no checkpoint past {steps} env steps within {timeout:.0f} s")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _train_cli(options: str) -> list[str]:
    """``xfer train`` on catch_soup/pong without wandb, as a subprocess command line."""
    base = [sys.executable, "-m", "benchmarks.cli", "train", "--task", "catch_soup/pong"]
    return [*base, "--no-wandb", *options.split()]


def test_killed_run_resumes_without_gaps_and_may_be_extended(tmp_path):
    # --out relative, run from tmp_path: checkpoints need absolute paths inside
    cmd = _train_cli("--steps 12000 --out results --envs-per-runner 4 --curve-window 500")
    cmd += ["--checkpoint-every", "1"]
    run_dir = tmp_path / "results" / "catch_soup-pong" / "scratch" / "seed0"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    _kill_after_checkpoint(cmd, run_dir, 3000, cwd=tmp_path, env=env)
    # the newest complete checkpoint, wherever the kill stopped its swap
    killed_at = latest_checkpoint(run_dir)[1]["window"]["env_steps"]
    before = [r for r in RunDir(run_dir).read_curve() if r["env_steps"] <= killed_at]
    assert json.loads((run_dir / "status.json").read_text())["state"] == "running"
    # another learning rate is another run: refused, nothing touched
    clash = [*cmd, "--lr", "0.001"]
    out = subprocess.run(clash, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert out.returncode == 2 and "only be given other --steps" in out.stderr, out.stderr[-500:]
    # more steps for an interrupted run, and another way to execute it (one env runner):
    # it resumes and trains on to the new total
    cmd[cmd.index("12000")] = "14000"
    cmd += ["--env-runners", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"resumed at {int(killed_at)} env steps" in out.stdout
    assert "extending the run from 12000 to 14000 steps" in out.stdout
    assert "resuming with other execution settings (env_runners)" in out.stdout
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["run"]["steps"] == 14000 and saved["extended"][0]["steps"] == 12000
    rows = RunDir(run_dir).read_curve()
    steps = [r["env_steps"] for r in rows]
    assert steps == sorted(set(steps)), steps  # no duplicate points
    gaps = [b - a for a, b in zip(steps, steps[1:], strict=False)]
    # a point can only be taken once per training iteration (>= 1 s: 1-3k steps on an
    # idle machine), so gaps follow the iteration size; the gap across the resume must be
    # no larger than the run's ordinary gaps plus one window
    i = next(k for k, s in enumerate(steps) if s > killed_at)
    ordinary = [g for k, g in enumerate(gaps) if k != i - 1]
    assert gaps[i - 1] <= max(ordinary) + 500, steps
    assert steps[-1] >= 14_000 and any(s > killed_at for s in steps)
    assert rows[: len(before)] == before  # the points before the kill are kept as they were
    assert json.loads((run_dir / "status.json").read_text())["state"] == "done"
    assert not (run_dir / "checkpoint").exists()


def test_ppo_batch_is_rounded_up_to_whole_sampling_rounds():
    """PPO with the defaults used to fail at start-up: 160 is not a multiple of 2x8x20."""
    from benchmarks.rllib.algo import ppo_train_batch

    assert ppo_train_batch(RunConfig(task="catch_soup/pong", algo="ppo")) == 320
    cfg = RunConfig(task="catch_soup/pong", algo="ppo", train_batch=700, env_runners=3)
    assert ppo_train_batch(cfg) == 960  # 3 x 8 x 20 = 480 per round, two rounds
    assert ppo_train_batch(RunConfig(task="catch_soup/pong", algo="ppo", env_runners=0)) == 160


def test_bad_reward_clip_and_check_episodes_fail_at_once(capsys):
    with pytest.raises(ValueError, match="reward_clip must be positive"):
        RunConfig(task="catch_soup/pong", reward_clip=-1.0)
    with pytest.raises(ValueError, match="check_episodes"):
        RunConfig(task="catch_soup/pong", check_episodes=-3)
    with pytest.raises(ValueError, match="requests_in_flight must be >= 1"):
        RunConfig(task="catch_soup/pong", requests_in_flight=0)
    with pytest.raises(ValueError, match="sampler_wait_s must be >= 0"):
        RunConfig(task="catch_soup/pong", sampler_wait_s=-0.01)
    from benchmarks.cli import main

    code = main(["train", "--task", "catch_soup/pong", "--steps", "10", "--reward-clip", "-2"])
    err = capsys.readouterr().err
    assert code == 2 and "reward_clip must be positive" in err


def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    from benchmarks.cli import main

    cases = [
        (
            ["train", "--task", "catch_soup/pong", "--agent", "progressive", "--steps", "10"],
            "progressive needs at least one --source",
        ),
        (
            [
                "train",
                "--task",
                "catch_soup/pong",
                "--steps",
                "10",
                "--no-wandb",
                "--out",
                "/dev/null/x",
            ],
            "Not a directory",
        ),
        (
            [
                "evaluate",
                str(REPO / "zoo" / "pong_soup-pong" / "scratch" / "seed0"),
                "--column",
                "5",
                "--episodes",
                "1",
            ],
            "--column 5: this net has 1 column(s)",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1, err


def test_embedded_ray_ignores_a_stale_cluster_address(tmp_path):
    # a dead `ray start` leaves ray_current_cluster behind; without RAY_ADDRESS a run must
    # still start its own embedded Ray (RAY_TMPDIR keeps this away from real Ray files)
    ray_tmp = Path(tempfile.mkdtemp(prefix="xs", dir="/tmp"))
    try:
        (ray_tmp / "ray").mkdir()
        (ray_tmp / "ray" / "ray_current_cluster").write_text("127.0.0.1:1")
        env = {**os.environ, "RAY_TMPDIR": str(ray_tmp)}
        env.pop("RAY_ADDRESS", None)
        cmd = _train_cli("--steps 600 --env-runners 0 --envs-per-runner 2 --check-episodes 0")
        cmd += ["--out", str(tmp_path)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
        assert out.returncode == 0, out.stderr[-2000:]
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


# Ctrl-C signals the foreground process group; `kill PID` sends SIGTERM to xfer alone
@pytest.mark.parametrize(
    ("sig", "group", "code"), [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)]
)
def test_ctrl_c_or_kill_leaves_a_resumable_run_and_exits_within_seconds(tmp_path, sig, group, code):
    cmd = _train_cli("--steps 200000 --envs-per-runner 2 --checkpoint-every 1")
    cmd += ["--out", str(tmp_path)]
    run_dir = tmp_path / "catch_soup-pong" / "scratch" / "seed0"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
    )
    try:
        deadline = time.time() + 240
        while not (run_dir / "checkpoint" / "xfer_progress.json").is_file():
            assert time.time() < deadline, "no checkpoint within 240 s"
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            time.sleep(0.5)
        (os.killpg if group else os.kill)(proc.pid, sig)
        sent = time.time()
        _, err = proc.communicate(timeout=60)
        took = time.time() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert took < 30, f"exit took {took:.0f} s after {sig.name}"
    assert proc.returncode == code and "rerun the same command to resume" in err, err[-2000:]
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and "interrupted" in status["reason"]
    assert latest_checkpoint(run_dir) is not None  # resumable
    assert not (run_dir / ".lock").exists()


def test_sampler_settings_reach_rllibs_config():
    """The lean connectors and push weight sync are what RLlib builds by default, one
    sample request in flight unless asked; each can be set back to RLlib's behaviour."""
    from benchmarks.rllib.algo import algorithm_config
    from benchmarks.rllib.connectors import ObservationsToModule, SampleActionsToEnv

    def pieces(pipeline):
        return [type(c) for c in pipeline.connectors]

    ours = algorithm_config(RunConfig(task="catch_soup/pong"), {"agent": "scratch"})
    assert ours.max_requests_in_flight_per_env_runner == 1
    assert ours.timeout_s_sampler_manager == 0.01
    waits = RunConfig(task="catch_soup/pong", sampler_wait_s=0.005)
    assert algorithm_config(waits, {}).timeout_s_sampler_manager == 0.005
    queued = RunConfig(task="catch_soup/pong", requests_in_flight=2)
    assert algorithm_config(queued, {}).max_requests_in_flight_per_env_runner == 2
    assert ours.use_env_runner_state_server is False
    assert pieces(ours.build_env_to_module_connector(env=None)) == [ObservationsToModule]
    assert pieces(ours.build_module_to_env_connector(env=None)) == [SampleActionsToEnv]
    rllib = algorithm_config(
        RunConfig(task="catch_soup/pong", lean_connectors=False, state_server=True),
        {"agent": "scratch"},
    )
    assert rllib.max_requests_in_flight_per_env_runner == 1
    assert rllib.use_env_runner_state_server is True
    default_in = pieces(rllib.build_env_to_module_connector(env=None))
    default_out = pieces(rllib.build_module_to_env_connector(env=None))
    assert ObservationsToModule not in default_in and len(default_in) >= 4
    assert SampleActionsToEnv not in default_out and len(default_out) >= 5


def test_policy_lag_is_the_mean_over_modules_of_rllibs_learner_metric():
    from benchmarks.rllib.algo import LAG_KEY, policy_lag

    result = {
        "learners": {
            "__all_modules__": {LAG_KEY: 99.0},  # not a module: ignored
            "a": {LAG_KEY: 4.0, "total_loss": 1.0},
            "b": {LAG_KEY: 7.0},
            "c": {"total_loss": 1.0},  # a module that did not report it
        }
    }
    assert policy_lag(result) == 5.5
    assert policy_lag({"learners": {"a": {"total_loss": 1.0}}}) is None
    assert policy_lag({}) is None
    # RLlib's logger reports NaN for an iteration without a value: unreported, not NaN
    result["learners"]["b"][LAG_KEY] = float("nan")
    assert policy_lag(result) == 4.0
    assert policy_lag({"learners": {"a": {LAG_KEY: float("nan")}}}) is None


def test_env_runners_build_the_native_vector_env_for_ale_tasks():
    from benchmarks.rllib.algo import _make_env, env_vectorize_mode
    from envs.native import NativeAtariVectorEnv
    from envs.wrappers import SCORE_KEY

    assert env_vectorize_mode(RunConfig(task="pong_soup/hflip")) == "vector_entry_point"
    assert env_vectorize_mode(RunConfig(task="pong_soup/hflip", native_env=False)) == "sync"
    assert env_vectorize_mode(RunConfig(task="catch_soup/hflip")) == "sync"
    # what RLlib's vector entry point passes: the env config plus num_envs
    env = _make_env({"task_id": "pong_soup/hflip", "seed": 0, "reward_clip": 0.5, "num_envs": 3})
    assert isinstance(env, NativeAtariVectorEnv) and env.num_envs == 3
    assert env.reward_clip == 0.5
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 84, 84, 4)
    env.close()
    single = _make_env({"task_id": "pong_soup/hflip", "seed": 0, "reward_clip": 1.0})
    _, info = single.reset()
    assert SCORE_KEY not in info and single.observation_space.shape == (84, 84, 4)


def test_env_runners_play_the_learners_den_phase(tmp_path):
    """A phase transition happens in the learner; RLlib's weight sync must carry the
    DEN's masks (buffers) to the env runners, or they would sample another policy."""
    from agents import ColumnConfig, DENNet
    from benchmarks.rllib import algo as rl
    from benchmarks.rllib.trainer import RLlibTrainer
    from methods.den import PhaseHooks

    # the first task's network, untrained (no RLlib run before this one in the process)
    source_file = DENNet(ColumnConfig(), 3).save(tmp_path / "den_source.pt")
    cfg = RunConfig(
        task="catch_soup/hflip",
        agent="den",
        sources=("catch_soup/pong",),
        **{**SMOKE, "steps": 10_000, "envs_per_runner": 2},
    )
    model_config = {
        "agent": "den",
        "sources": [str(source_file)],
        "seed": 0,
        "den": den_config(cfg).to_dict(),
    }
    rl.ensure_ray(None, num_cpus=2)
    algo = rl.build_algorithm(cfg, model_config)
    try:
        algo.train()
        trainer = RLlibTrainer(algo)
        phases = PhaseHooks(cfg, None)
        phases.on_start(trainer)
        lines = phases.on_iteration(trainer, 5_000, 0.0)  # 50%: selective, then expansion
        assert [r["phase"] for r in phases.transitions] == ["selective", "expand"]
        assert len(lines) == 2 and lines[0].startswith("DEN phase selective at 5000 steps")

        def read(runner):
            net = runner.module.net  # a single-agent env runner holds the RLModule itself
            return int(net.phase), net._slot_row("fc")[1].tolist()

        learner = trainer.on_learner_nets(
            lambda net: (int(net.phase), net._slot_row("fc")[1].tolist())
        )[0]
        assert learner[0] == 3 and learner[1][-1] >= 0  # the expansion's units are in use
        # IMPALA broadcasts the learner's state only after an update returns it, and a
        # runner pulls it at the start of its next sample: a lag of a few iterations,
        # longer on a busy machine. The buffers must arrive within that lag.
        runners: list = []
        for _ in range(30):
            algo.train()
            runners = algo.env_runner_group.foreach_env_runner(read, local_env_runner=False)
            if runners and all(r == learner for r in runners):
                break
        assert runners and all(r == learner for r in runners), (runners, learner)
    finally:
        algo.stop()
