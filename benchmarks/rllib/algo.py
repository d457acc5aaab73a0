"""Build and drive an RLlib algorithm for one run (the only Ray-facing training code).

The A3C-style default is IMPALA (asynchronous actor-critic; with little policy lag its
V-trace targets are A3C's n-step returns, n = rollout length) with the paper's RMSProp.
``algo="ppo"`` gives PPO with one epoch, one minibatch and no KL term (a synchronous
A2C up to PPO's clipping), with the same optimizer.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import ray  # noqa: E402
from ray.rllib.algorithms.impala import IMPALAConfig  # noqa: E402
from ray.rllib.algorithms.ppo import PPOConfig  # noqa: E402
from ray.rllib.callbacks.callbacks import RLlibCallback  # noqa: E402
from ray.rllib.core.rl_module.rl_module import RLModuleSpec  # noqa: E402
from ray.tune.registry import register_env  # noqa: E402

from benchmarks import interrupts  # noqa: E402 - bound here for the SIGTERM handler
from benchmarks.rllib.learners import RMSPropIMPALALearner, RMSPropPPOLearner  # noqa: E402
from benchmarks.rllib.module import XferModule  # noqa: E402

if TYPE_CHECKING:
    from runstore.config import RunConfig

ENV_NAME = "xfer_task"
RETURN_SUM = "xfer_return_sum"
RETURN_SQ_SUM = "xfer_return_sq_sum"
LEARN_RETURN_SUM = "xfer_learn_return_sum"
EPISODES = "xfer_episodes"
# RLlib learner metric: updates between the sampling and the training weights of a batch
LAG_KEY = "diff_num_grad_updates_vs_sampler_policy"


def _make_env(env_config: Any) -> Any:
    os.environ.setdefault("PYGLET_HEADLESS", "true")
    import torch

    from envs import make_env
    from envs.wrappers import ClipReward, RecordEpisodeScore

    torch.set_num_threads(1)
    if "num_envs" in env_config:  # gym_env_vectorize_mode="vector_entry_point"
        from envs import make_native_vector_env

        # the C++ env records raw scores and clips learning rewards itself; RLlib seeds
        # its first reset (config seed + runner index, then one per sub-env)
        return make_native_vector_env(
            env_config["task_id"],
            int(env_config["num_envs"]),
            reward_clip=float(env_config["reward_clip"]) if env_config.get("reward_clip") else None,
            num_threads=1,
        )
    seed = int(env_config.get("seed", 0))
    worker = getattr(env_config, "worker_index", 0)
    vector = getattr(env_config, "vector_index", 0)
    # distinct, reproducible seeds for every sub-env of every runner
    env = make_env(env_config["task_id"], seed=seed * 100_003 + worker * 1_009 + vector)
    # the raw score is summed inside the env, before any clipping (curves keep it)
    env = RecordEpisodeScore(env)
    clip = env_config.get("reward_clip")
    return ClipReward(env, float(clip)) if clip else env


def episode_scores(episode: Any, prev_episode_chunks: list | None) -> tuple[float, float]:
    """(raw game score, learning return) of a finished episode, over all its chunks.

    RLlib hands ``on_episode_end`` only the episode's last chunk (one rollout fragment);
    the earlier chunks come as ``prev_episode_chunks``. The learning return (clipped
    rewards) is the sum over every chunk; the raw score is what the env itself summed
    (``RecordEpisodeScore``), read from the info of the episode's last step.
    """
    from envs.wrappers import SCORE_KEY

    chunks = [*(prev_episode_chunks or []), episode]
    learn = float(sum(float(chunk.get_return()) for chunk in chunks))
    info = episode.get_infos(-1)
    if SCORE_KEY not in info:
        raise RuntimeError(
            f"the finished episode's last info has no {SCORE_KEY!r}: the training env "
            "must be wrapped in envs.wrappers.RecordEpisodeScore"
        )
    return float(info[SCORE_KEY]), learn


# the attribute of an env runner that holds a method's per-runner store (Trainer.on_runners)
STORE_ATTR = "xfer_store"


def runner_store(env_runner: Any) -> dict:
    """The dict an env runner keeps for the run's method (made on first use)."""
    store = getattr(env_runner, STORE_ATTR, None)
    if store is None:
        store = {}
        setattr(env_runner, STORE_ATTR, store)
    return store


def episode_outputs(chunks: list[Any]) -> Any:
    """``outputs(name)``: the model output ``name`` recorded with every step of an
    episode's chunks, as rows ``(steps, -1)`` (``methods.RunnerHooks.on_episode_end``)."""

    def outputs(name: str) -> np.ndarray:
        rows = []
        for chunk in chunks:
            if len(chunk) == 0:
                continue
            recorded = chunk.get_extra_model_outputs(name)
            rows.append(np.asarray(recorded, dtype=np.int64).reshape(len(chunk), -1))
        return np.concatenate(rows) if rows else np.zeros((0, 0), dtype=np.int64)

    return outputs


class ReturnCallback(RLlibCallback):
    """Logs lifetime sums of whole-episode raw scores (and their squares) and counts.

    The driver turns their per-iteration differences into the paper's curve points
    (mean score of all episodes finished in a window). The sum of learning returns
    (clipped rewards, every chunk) is logged too, so tests can compare both.

    A method with per-runner work (PathNet: which path each sub-env plays) puts a
    ``methods.RunnerHooks`` in the runner's store (``Trainer.on_runners``); this callback
    calls it when an episode starts and ends, with the episode's raw score and its
    recorded model outputs over every chunk.
    """

    def on_episode_start(  # noqa: ANN001
        self, *, episode, env_runner=None, env_index=None, **kwargs
    ):
        store = getattr(env_runner, STORE_ATTR, None)
        hooks = store.get("runner_hooks") if store else None
        if hooks is None or env_index is None:
            return
        hooks.on_episode_start(store, env_runner.module, env_index, episode.id_)

    def on_episode_end(  # noqa: ANN001
        self,
        *,
        episode,
        prev_episode_chunks=None,
        env_runner=None,
        metrics_logger=None,
        env_index=None,
        **kwargs,
    ):
        ret, learn = episode_scores(episode, prev_episode_chunks)
        metrics_logger.log_value(RETURN_SUM, ret, reduce="lifetime_sum")
        metrics_logger.log_value(RETURN_SQ_SUM, ret * ret, reduce="lifetime_sum")
        metrics_logger.log_value(LEARN_RETURN_SUM, learn, reduce="lifetime_sum")
        metrics_logger.log_value(EPISODES, 1, reduce="lifetime_sum")
        store = getattr(env_runner, STORE_ATTR, None)
        hooks = store.get("runner_hooks") if store else None
        if hooks is None or env_index is None:
            return
        chunks = [*(prev_episode_chunks or []), episode]
        hooks.on_episode_end(store, env_index, episode.id_, ret, episode_outputs(chunks))


def policy_lag(result: dict[str, Any]) -> float | None:
    """The policy lag of one ``algo.train()`` result, in learner updates (None if unreported).

    RLlib's ``diff_num_grad_updates_vs_sampler_policy``: how many learner updates the
    weights that sampled a train batch are behind the weights that train on it, per
    module, as RLlib's metrics logger smooths it. The mean over modules is returned. A
    NaN (which the logger reports for an iteration without a value) counts as
    unreported: one NaN summed into a run's mean made its status.json say NaN.

    Example:
        >>> policy_lag({"learners": {"default_policy": {
        ...     "diff_num_grad_updates_vs_sampler_policy": 4.5}, "__all_modules__": {}}})
        4.5
        >>> policy_lag({"learners": {}}) is None
        True
        >>> policy_lag({"learners": {"default_policy": {
        ...     "diff_num_grad_updates_vs_sampler_policy": float("nan")}}}) is None
        True
    """
    values = [
        float(module[LAG_KEY])
        for mid, module in result.get("learners", {}).items()
        if mid != "__all_modules__" and isinstance(module, dict) and LAG_KEY in module
    ]
    values = [v for v in values if math.isfinite(v)]
    return sum(values) / len(values) if values else None


def ensure_ray(address: str | None, num_cpus: int | None = None) -> dict:
    """Start embedded Ray (or connect to ``address``); return the cluster's resources."""
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,
        }
        if address:
            ray.init(address=address, **kwargs)
        else:
            # "local": always a fresh embedded Ray, never a cluster named by a (possibly
            # stale) /tmp/ray/ray_current_cluster that some earlier `ray start` left
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), **kwargs)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
    return ray.cluster_resources()


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM (``kill PID``) ends the driver with ``SystemExit(15)``, as ray.init's own
    handler does, so the run records "interrupted" and Ray shuts down. Set after ray.init,
    it displaces the abseil failure handler that Ray's core worker chains in front of
    Python's: that one logs a stack and arms a 3-second alarm that aborts the process
    (exit 134, a core dump) while the run is still closing (ray-project/ray PR 64830).
    The signal is noted first (:mod:`benchmarks.interrupts`): during actor start-up Ray
    can turn this exit into ``SystemExit(1)``. The handler imports nothing: a second
    SIGTERM (a process group killed, Ray's raylet going down) can run it again while the
    first is still importing, and the nested one found ``benchmarks.interrupts`` half
    initialised (an AttributeError, recorded as the run's failure, and the suite went on
    to its next run)."""
    interrupts.note(signum)
    sys.exit(signum)


def build_algorithm(s: RunConfig, model_config: dict[str, Any]) -> Any:
    """An RLlib algorithm for run ``s``; a clear error instead of waiting on resources."""
    resources = ray.cluster_resources()
    if s.gpus_per_learner > 0 and resources.get("GPU", 0) < s.gpus_per_learner * max(
        1, s.num_learners
    ):
        raise RuntimeError(
            f"a GPU learner was asked for ({s.gpus_per_learner} GPU per learner) but the "
            f"Ray cluster has {resources.get('GPU', 0)} GPU(s); use --device cpu"
        )
    need_cpus = s.env_runners + (s.num_learners or 0) + 1
    if resources.get("CPU", 0) < need_cpus - 1:
        raise RuntimeError(
            f"{s.env_runners} env runner(s) and {s.num_learners} learner(s) need about "
            f"{need_cpus} CPUs; the cluster has {resources.get('CPU', 0)}"
        )
    register_env(ENV_NAME, _make_env)
    return algorithm_config(s, model_config).build_algo()


def algorithm_config(s: RunConfig, model_config: dict[str, Any]) -> Any:
    """The RLlib ``AlgorithmConfig`` of run ``s`` (not built; needs no running Ray)."""
    common = {
        "lr": s.lr,
        "entropy_coeff": s.entropy_coeff,
        "grad_clip": s.grad_clip,
        "gamma": s.gamma,
        "train_batch_size_per_learner": s.train_batch,
        "vf_loss_coeff": 0.5,
    }
    if s.algo == "impala":
        config = (
            IMPALAConfig()
            .training(
                **common,
                # RLlib's default 0.0 makes the driver poll its env runners in a busy loop
                # (~85% of a core); waiting (10 ms by default) frees that core for
                # sampling. Measured on 2 cores: 1.4x training steps/s with 2 env runners
                # for 20 ms against 0; 1.02-1.08x more for 10 ms against 20 ms.
                timeout_s_sampler_manager=s.sampler_wait_s,
            )
            .learners(learner_class=RMSPropIMPALALearner)
            .env_runners(max_requests_in_flight_per_env_runner=s.requests_in_flight)
        )
        # RLlib 2.60's pull-based weight sync for IMPALA: one more actor process
        config.use_env_runner_state_server = s.state_server
        config = config.reporting(min_time_s_per_iteration=1)
    elif s.algo == "ppo":
        # PPO samples synchronously: its batch must be a whole number of sampling rounds
        # (runners x envs x rollout); round train_batch up to one
        common["train_batch_size_per_learner"] = ppo_train_batch(s)
        # one epoch, one minibatch, no KL term, no value clipping: a synchronous A2C
        config = (
            PPOConfig()
            .training(
                **common,
                num_epochs=1,
                minibatch_size=None,
                use_kl_loss=False,
                kl_coeff=0.0,
                vf_clip_param=1e6,
                lambda_=1.0,
            )
            .learners(learner_class=RMSPropPPOLearner)
        )
    else:
        raise ValueError(f"unknown algorithm {s.algo!r}; choose impala or ppo")
    config = (
        config.environment(
            ENV_NAME, env_config={"task_id": s.task, "seed": s.seed, "reward_clip": s.reward_clip}
        )
        .framework("torch")
        .env_runners(
            num_env_runners=s.env_runners,
            num_envs_per_env_runner=s.envs_per_runner,
            rollout_fragment_length=s.rollout_length,
            num_cpus_per_env_runner=1,
            gym_env_vectorize_mode=env_vectorize_mode(s),
            **runner_connectors(s),
        )
        .learners(num_learners=s.num_learners, num_gpus_per_learner=s.gpus_per_learner)
        .rl_module(
            rl_module_spec=RLModuleSpec(module_class=XferModule, model_config=dict(model_config))
        )
        .callbacks(ReturnCallback)
        .debugging(seed=s.seed, log_level="ERROR")
    )
    return config


def runner_connectors(s: RunConfig) -> dict[str, Any]:
    """``config.env_runners`` settings for the env runners' connector pipelines.

    With ``s.lean_connectors``: the two one-pass pieces of
    :mod:`benchmarks.rllib.connectors` replace RLlib's default pipelines (same data;
    about 1.5 ms less per vector step of 8 envs on 2 cores). Else RLlib's defaults.
    """
    if not s.lean_connectors:
        return {}
    from benchmarks.rllib.connectors import env_to_module, module_to_env

    return {
        "env_to_module_connector": env_to_module,
        "module_to_env_connector": module_to_env,
        "add_default_connectors_to_env_to_module_pipeline": False,
        "add_default_connectors_to_module_to_env_pipeline": False,
    }


def env_vectorize_mode(s: RunConfig) -> str:
    """``vector_entry_point`` (ale-py's C++ vector env) for ALE tasks when
    ``s.native_env``; else ``sync`` (gymnasium's SyncVectorEnv of Python envs)."""
    from envs import get_task

    native = s.native_env and get_task(s.task).native is not None
    return "vector_entry_point" if native else "sync"


def ppo_train_batch(s: RunConfig) -> int:
    """``s.train_batch`` rounded up to a multiple of one PPO sampling round.

    A round is ``parallel_envs * rollout_length`` agent steps (RLlib refuses a PPO batch
    that is not within 10% of a multiple of it).

    Example:
        >>> from runstore.config import RunConfig
        >>> ppo_train_batch(RunConfig(task="catch_soup/pong", algo="ppo"))
        320
    """
    round_ = s.parallel_envs * s.rollout_length
    per_learner = max(s.num_learners, 1)
    rounds = -(-s.train_batch // round_)
    return max(1, rounds) * round_ // per_learner


def shutdown() -> None:
    if ray.is_initialized():
        ray.shutdown()
