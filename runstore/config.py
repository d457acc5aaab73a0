"""What a run is: :class:`RunConfig`, its experiment identity and where it lives.

No heavy imports (no torch, no Ray): the CLI, the planner, the report and the zoo read
configs without starting anything (a test builds every method's config and checks
``sys.modules``). What varies by method (its fields, their validation, its source run)
is asked of its module in ``methods``.

- **Experiment identity**: the fields that define a run's result (task, agent, sources,
  algorithm, hyperparameters, seed, step count...). :func:`identity` gives them; a run
  directory is reused only by a config with the same identity (and step count), checked
  by :func:`finished_run_clash` and, for interrupted runs, by the trainer.
- **Execution settings** (:data:`EXECUTION_FIELDS`): how a run is executed (runners,
  envs, learners, devices, timeouts, wandb, address). They never change a run's
  identity; an interrupted run may resume with other ones.
- **Where**: :func:`run_dir_for` names a run's directory (:class:`runstore.rundir.
  RunDir` owns what is inside); :func:`source_config` is the run whose weights seed
  another (the runner trains it first).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.den_config import DENConfig
from methods import get_method, method_fields, method_names
from methods.pathnet import DEFAULT_EPISODES_PER_FITNESS
from runstore.rundir import RunDir

__all__ = [
    "RunConfig",
    "EXECUTION_FIELDS",
    "identity",
    "run_dir_for",
    "source_agent",
    "source_config",
    "source_seed_for",
    "finished_run_clash",
    "pending_evaluations",
    "settings_label",
]

# RunConfig fields that say how a run was executed, not what it is
EXECUTION_FIELDS = frozenset(
    {
        "steps",
        "source_steps",
        "env_runners",
        "envs_per_runner",
        "native_env",
        "lean_connectors",
        "requests_in_flight",
        "state_server",
        "sampler_wait_s",
        "num_learners",
        "gpus_per_learner",
        "curve_window",
        "checkpoint_every_s",
        "stall_timeout_s",
        "check_episodes",
        "plateau_floors",
        "plateau_min_steps",
        "wandb",
        "address",
    }
)


def _unused_fields(run: dict[str, Any]) -> set[str]:
    """The method-specific fields (``Method.fields``) that ``run``'s method ignores: for
    it they cannot change the result, so they are not part of its identity (a scratch
    column stays the same run, and the zoo's columns keep matching, whatever alpha_init
    is)."""
    try:
        own = get_method(run.get("agent", "scratch")).fields
    except ValueError:  # a method this version does not know: every field counts
        return set()
    return set(method_fields() - own)


def identity(run: dict[str, Any]) -> dict[str, Any]:
    """The fields of a run config (``RunConfig.to_dict()``) that define its result: all
    but the execution settings (and the step count: a zoo column trained longer
    matches) and the fields its method does not use (``methods.Method.fields``).

    Example:
        >>> a = RunConfig("pong_soup/pong", alpha_init=0.1).to_dict()
        >>> identity(a) == identity({**a, "alpha_init": 1.0, "steps": 5})
        True
    """
    skip = EXECUTION_FIELDS | _unused_fields(run)
    out = {k: v for k, v in run.items() if k not in skip}
    out["sources"] = list(out.get("sources", []))
    return out


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run.

    Attributes:
        task: target task id.
        agent: a registered method (``methods.method_names()``): scratch, finetune-head,
            finetune-all, random-column, progressive, pathnet, den.
        sources: source task ids, in column order (progressive: one column each).
        steps: agent (env) steps to train.
        seed: seeds envs, initial weights and RLlib.
        source_steps: agent steps of the source run when it is trained for this run
            (None: this run's own ``steps``). Suites set the budget's source budget
            (``Budget.source_steps``): a source must be trained to be a source, not for
            the target's step count. An execution setting: it names no other run.
        source_seed: the seed of the source run this run starts from (None: its own
            seed, and so with ``seed``; ignored without sources). A suite sets it to let
            one source run, a shipped zoo column, seed every seed of a cell: the target's
            seeds then vary its own training, not its source's.
        algo: ``impala`` (A3C-style, default) or ``ppo``.
        lr: learning rate (paper space: 1e-3, 5e-4, 1e-4).
        entropy_coeff: entropy cost (paper space: 1e-2, 1e-3, 1e-4).
        grad_clip: global gradient-norm clip (paper space: 20, 40).
        alpha_init: initial lateral scale alpha (paper space: 1, 0.1, 0.01; 1 by default,
            see docs/pong_learning.md section 6: at 0.1 the laterals are 3% of a
            layer's input).
        gamma: discount (A3C: 0.99).
        reward_clip: rewards are clipped to ``[-reward_clip, reward_clip]`` for learning
            (the A3C/DQN Atari protocol; None or 0 learns from raw rewards). Curves,
            evaluations and reports always record raw game scores.
        rollout_length: env steps per rollout fragment (A3C's n-step; paper 5 or 20).
        train_batch: agent steps per learner update.
        env_runners: RLlib env runner processes (0 = sample in the driver). Two by
            default: on 2 cores the runners sample on both while the learner thread
            takes the gaps (0.64x the env's own rate vs 0.45x with one runner).
        envs_per_runner: vectorised sub-envs per runner.
        native_env: sample the ALE tasks (Pong Soup, Atari) through ale-py's C++ vector
            env, one per env runner, with the suite's own per-frame effects on its RGB
            frames (:mod:`envs.native`): the same observations as the Python envs, which
            ``tests/envs/test_native.py`` checks step by step. False: gymnasium's
            SyncVectorEnv over the Python envs. Other domains always use the latter.
        lean_connectors: the env runners pass observations to the module and actions
            to the env through two one-pass connectors
            (:mod:`benchmarks.rllib.connectors`) instead of RLlib's default pipelines
            (eleven pieces); same data, tested against the defaults. False: RLlib's.
        requests_in_flight: sample requests queued at each env runner (IMPALA). With 2
            a runner starts its next rollout as soon as it returns one instead of idling
            until the driver asks again: on 2 cores 1.05-1.25x the steps/s in short
            runs (1.03x in a 1.6M-step one), and the behaviour policy lags the learner
            by about 2 more updates. Pong learnt no slower with it over seeds 1 and 2
            (docs/performance.md). 1 (RLlib's default) keeps the lag every learning
            figure and shipped column was measured with.
        state_server: weights reach the env runners through RLlib's
            ``EnvRunnerStateServer`` (an extra actor the runners pull from before every
            rollout; RLlib's default for IMPALA, meant for many runners) instead of
            being pushed by the driver after each update. On 2 cores the extra process
            costs about 13% of the steps/s, so it is off by default.
        sampler_wait_s: how long the driver waits for sample results before it goes on
            with its loop (IMPALA; RLlib's ``timeout_s_sampler_manager``). RLlib waits
            for *every* in-flight request up to this long, so a runner that finished
            first idles meanwhile; RLlib's default 0 makes the driver poll in a busy loop
            instead (about 85% of a core on 2 cores). 10 ms trained 1.02-1.08x faster
            than 20 ms in alternating 1-column runs, at the same policy lag
            (docs/performance.md).
        num_learners: remote learners (0 = learn in the driver; needed on 2 cores).
        gpus_per_learner: GPUs per learner (``--device gpu`` sets 1).
        curve_window: env steps per curve point (None: steps / 40, within [1k, 250k]).
        checkpoint_every_s: seconds between resumable checkpoints.
        stall_timeout_s: a training iteration that takes longer, or makes no env-step
            progress for this long, fails the run with that reason.
        pathnet_population: paths in PathNet's population (the paper: 64; the small
            budgets use 8). Every member is evaluated: env runners split the members
            and each sub-env plays one member's path for a whole episode.
        pathnet_episodes: T, the whole episodes a PathNet fitness averages (the paper:
            "the last T episodes", no value given for A3C; our choice, see
            ``methods.pathnet``). A member meets a random other in a binary
            tournament after every T new whole episodes.
        den_k: DEN: units (feature maps in conv layers) added per layer by an expansion
            (the paper: 10). The ``den_*`` fields apply to ``--agent den`` only
            (``agents.den.DENConfig``, ``docs/den.md``).
        den_tau: DEN: expand when the mean score of the last curve window of selective
            retraining is below this score; none: always expand (group sparsity prunes
            what the task did not need). The paper's tau is a loss threshold (0.01).
        den_sigma: DEN: a retrained unit whose incoming weights drifted more than this
            (L2) is split (the paper: 0.05).
        den_l1: DEN: mu, the L1 penalty (the paper: 1e-5).
        den_l2: DEN: lambda, the L2 penalty on retrained weights (the paper: 1e-4).
        den_group: DEN: gamma, the group-lasso penalty on added units (the paper: 1e-3).
        den_drift: DEN: the L2 drift penalty on retrained old units (the paper: 0.5).
        den_zero_eps: DEN: weights below this magnitude count as zero in the
            breadth-first search; added units whose RMS incoming weight is below it are
            pruned (our choice: RMSProp never gives exact zeros).
        den_phases: DEN: fractions of a later task's steps spent fitting its head alone,
            in selective retraining and in expansion; the rest trains the task's own
            units after the split.
        check_episodes: episodes of the independent evaluation that every finished run's
            last curve point is checked against (``benchmarks.evaluate.check_curve``);
            a disagreement fails the run. 0 skips the check.
        plateau_floors: a results root whose ``floors.json`` holds this task's random
            floor (``xfer floors``): the run then ends at the first curve point, from
            ``plateau_min_steps`` on, at which it has learned and plateaued by the zoo's
            rule (``analysis.learnability``: the last 10% of its steps at least floor +
            margin, and the last 20% gained under 5% of best - floor over the 20%
            before), with ``steps`` as its cap; status.json says where and why it ended.
            None: it trains for ``steps``. For source columns (``xfer ship-column``
            asks the same rule).
        plateau_min_steps: the steps before which ``plateau_floors`` ends no run (a
            curve can sit flat for a while and climb again: River Raid did from 1.25M
            to 3.76M steps).
        tag: free suffix of the run directory (jobs of a sweep).
        wandb: log config and curve to wandb (offline unless the user configured it).
        address: Ray cluster address (None: embedded Ray; also read from RAY_ADDRESS).
    """

    task: str
    agent: str = "scratch"
    sources: tuple[str, ...] = ()
    steps: int = 100_000
    seed: int = 0
    source_seed: int | None = None
    source_steps: int | None = None
    algo: str = "impala"
    lr: float = 7e-4
    entropy_coeff: float = 1e-2
    grad_clip: float = 40.0
    alpha_init: float = 1.0
    gamma: float = 0.99
    reward_clip: float | None = 1.0
    rollout_length: int = 20
    train_batch: int = 160
    env_runners: int = 2
    envs_per_runner: int = 8
    native_env: bool = True
    lean_connectors: bool = True
    requests_in_flight: int = 1
    state_server: bool = False
    sampler_wait_s: float = 0.01
    num_learners: int = 0
    gpus_per_learner: float = 0.0
    curve_window: int | None = None
    checkpoint_every_s: float = 60.0
    stall_timeout_s: float = 300.0
    pathnet_population: int = 8
    pathnet_episodes: int = DEFAULT_EPISODES_PER_FITNESS
    den_k: int = DENConfig.k
    den_tau: float | None = DENConfig.tau
    den_sigma: float = DENConfig.sigma
    den_l1: float = DENConfig.l1
    den_l2: float = DENConfig.l2
    den_group: float = DENConfig.group
    den_drift: float = DENConfig.drift
    den_zero_eps: float = DENConfig.zero_eps
    den_phases: tuple[float, ...] = DENConfig.phases
    check_episodes: int = 20
    plateau_floors: str | None = None
    plateau_min_steps: int = 0
    tag: str = ""
    wandb: bool = True
    address: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        from envs import get_task

        get_task(self.task)
        for s in self.sources:
            get_task(s)
        method = get_method(self.agent)
        method.validate(self)
        if self.source_seed is not None:
            if self.source_seed < 0:
                raise ValueError(f"source_seed must be >= 0, got {self.source_seed}")
            if not self.sources or self.source_seed == self.seed:  # one spelling per run
                object.__setattr__(self, "source_seed", None)
        if self.steps < 1:
            raise ValueError(f"steps must be positive, got {self.steps}")
        # hyperparameters out of their range would train anyway and report nonsense
        for name, ok, rule in (
            ("lr", self.lr > 0, "> 0"),
            ("gamma", 0 < self.gamma <= 1, "in (0, 1]"),
            ("entropy_coeff", self.entropy_coeff >= 0, ">= 0"),
            ("grad_clip", self.grad_clip > 0, "> 0"),
            ("alpha_init", self.alpha_init > 0, "> 0"),
            ("rollout_length", self.rollout_length >= 1, ">= 1"),
            ("train_batch", self.train_batch >= 1, ">= 1"),
            ("env_runners", self.env_runners >= 0, ">= 0"),
            ("envs_per_runner", self.envs_per_runner >= 1, ">= 1"),
        ):
            if not ok:  # NaN fails every comparison, so it is refused too
                raise ValueError(f"{name} must be {rule}, got {getattr(self, name)}")
        if self.source_steps is not None and self.source_steps < 1:
            raise ValueError(f"source_steps must be positive, got {self.source_steps}")
        if self.reward_clip is not None and not self.reward_clip > 0:
            raise ValueError(
                f"reward_clip must be positive (or None to learn from raw rewards), "
                f"got {self.reward_clip}"
            )
        if self.plateau_min_steps < 0:
            raise ValueError(f"plateau_min_steps must be >= 0, got {self.plateau_min_steps}")
        if self.check_episodes < 0:
            raise ValueError(f"check_episodes must be >= 0, got {self.check_episodes}")
        if self.requests_in_flight < 1:
            raise ValueError(f"requests_in_flight must be >= 1, got {self.requests_in_flight}")
        if not self.sampler_wait_s >= 0:
            raise ValueError(f"sampler_wait_s must be >= 0, got {self.sampler_wait_s}")
        if self.algo not in ("impala", "ppo"):
            raise ValueError(f"unknown algo {self.algo!r}; choose impala or ppo")
        if self.pathnet_population < 2:
            raise ValueError(f"pathnet_population must be >= 2, got {self.pathnet_population}")
        if self.pathnet_episodes < 1:
            raise ValueError(f"pathnet_episodes must be >= 1, got {self.pathnet_episodes}")
        for name in method_names():  # another method's own fields keep their defaults
            other = get_method(name)
            if other is method or not other.exclusive_fields:
                continue
            changed = sorted(f for f in other.fields if getattr(self, f) != _DEFAULTS[f])
            if changed:
                raise ValueError(f"{', '.join(changed)} only apply to --agent {name}")

    @property
    def parallel_envs(self) -> int:
        """Envs sampling side by side: ``envs_per_runner`` in each env runner (in the
        driver when ``env_runners`` is 0).

        Example:
            >>> RunConfig("pong_soup/pong", env_runners=0, envs_per_runner=8).parallel_envs
            8
        """
        return max(self.env_runners, 1) * self.envs_per_runner

    @property
    def window(self) -> int:
        if self.curve_window:
            return int(self.curve_window)
        return int(min(max(self.steps // 40, 1_000), 250_000))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["sources"] = list(self.sources)
        data["den_phases"] = list(self.den_phases)
        data.pop("address")
        return data

    def identity(self) -> dict[str, Any]:
        """What this run is: the fields that define its result (:func:`identity`)."""
        return identity(self.to_dict())

    def execution(self) -> dict[str, Any]:
        """How it is executed: its :data:`EXECUTION_FIELDS` (never part of its identity)."""
        return {k: v for k, v in self.to_dict().items() if k in EXECUTION_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        clean = {k: v for k, v in data.items() if k in names}
        clean["sources"] = tuple(clean.get("sources", ()))
        if "den_phases" in clean:
            clean["den_phases"] = tuple(clean["den_phases"])
        return cls(**clean)


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunConfig)}


def settings_label(settings: dict[str, float]) -> str:
    """Settings as the tuning record and the README print them.

    Example:
        >>> settings_label({"alpha_init": 1.0, "lr": 0.0014})
        'alpha_init 1, lr 0.0014'
    """
    return ", ".join(f"{field} {value:g}" for field, value in settings.items())


def run_dir_for(root: str | Path, cfg: RunConfig) -> Path:
    """``<root>/<target>/<agent>[_from_<src>+...]/seed<N>[_<tag>]`` (:meth:`RunDir.for_run`)."""
    return RunDir.for_run(root, cfg).path


def source_agent(agent: str, sources: tuple[str, ...] | list[str]) -> str:
    """The method of the run that seeds a run of ``agent`` after ``sources`` (the rule of
    :func:`source_config`; the report finds source runs by it).

    Example:
        >>> source_agent("progressive", ["pong_soup/pong"]), source_agent("den", ["a/b"])
        ('scratch', 'den')
    """
    return get_method(agent).source_agent(sources)


def source_seed_for(seed: int, source_seed: int | None) -> int:
    """The seed of a target run's source run: ``source_seed`` when the target has one (one
    source run for every seed of a cell), else the target's own seed. The one rule that
    :func:`source_config` and the report's pairing of runs with their sources follow.

    >>> source_seed_for(2, None), source_seed_for(2, 0)
    (2, 0)
    """
    return int(seed if source_seed is None else source_seed)


def source_config(cfg: RunConfig) -> RunConfig | None:
    """The run whose weights seed ``cfg`` (trained first when missing), or None.

    Its method is ``Method.source_agent`` (finetune-*: scratch on the source;
    progressive after S1..Sk: progressive on Sk from S1..Sk-1, scratch on S1 when k = 1;
    pathnet and den: the same method on Sk from S1..Sk-1), with the fields
    ``Method.source_settings`` carries over (PathNet's population, DEN's constants).
    Sources use the default hyperparameters and no tag, so every target shares them;
    they run with the target's execution settings (:data:`EXECUTION_FIELDS`; their steps
    are its ``source_steps`` when set, else its own), its algorithm and its seed
    (``source_seed`` when set: one source run for every seed of a cell; the chain below
    it then has that seed too).
    """
    if not cfg.sources:
        return None
    *earlier, last = cfg.sources
    method = get_method(cfg.agent)
    execution = {name: getattr(cfg, name) for name in EXECUTION_FIELDS}
    if cfg.source_steps is not None:
        execution["steps"] = cfg.source_steps
    return dataclasses.replace(
        RunConfig(task=last),
        agent=method.source_agent(cfg.sources),
        sources=tuple(earlier),
        seed=source_seed_for(cfg.seed, cfg.source_seed),
        algo=cfg.algo,
        **method.source_settings(cfg),
        **execution,
    )


def pending_evaluations(
    run_dir: str | Path, cfg: RunConfig, eval_episodes: int | None = None
) -> list[str]:
    """What the suite writes after training that the run in ``run_dir`` still lacks:
    its evaluation on its own task (``eval``), for a transfer run its forgetting
    evaluation on its last source (``forgetting``: the forgetting protocol's, with
    ``eval_episodes`` episodes when given, see :meth:`RunDir.has_forgetting_eval`), and
    its method's analyses (``afs``, ``aps``). Whether they can still be written (the
    weights on disk) is the caller's question: the suite writes them
    (``benchmarks.runner``), an export refuses a run that could still get them
    (:mod:`runstore.export`).

    Example:
        >>> import tempfile
        >>> cfg = RunConfig("pong_soup/hflip", "finetune-all", ("pong_soup/pong",))
        >>> pending_evaluations(tempfile.mkdtemp(), cfg)
        ['eval', 'forgetting']
    """
    run = RunDir(run_dir)
    missing = [] if run.eval(cfg.task).is_file() else ["eval"]
    if cfg.sources and not run.has_forgetting_eval(cfg.sources[-1], eval_episodes):
        missing.append("forgetting")
    missing += [a for a in get_method(cfg.agent).analyses if not (run.path / f"{a}.json").is_file()]
    return missing


def finished_run_clash(run_dir: str | Path, cfg: RunConfig) -> list[str]:
    """The fields in which the run stored in ``run_dir`` differs from ``cfg`` ([]: same).

    Execution settings (env runners, devices, timeouts, wandb...) and fields the agent
    does not use (``methods.Method.fields``) do not count; the step count does, except for a
    shipped zoo column (it matches on everything but its own, longer, step count:
    ``benchmarks.zoo``).
    """
    run = RunDir(run_dir)
    try:
        saved = RunConfig.from_dict(run.read_run_config()).to_dict()
    except (OSError, KeyError, TypeError, ValueError):
        return ["config.json (missing or unreadable)"]
    mine = cfg.to_dict()
    if run.zoo_marker.is_file():
        a, b = identity(saved), identity(mine)
    else:
        ignore = (EXECUTION_FIELDS - {"steps"}) | _unused_fields(saved) | _unused_fields(mine)
        a = {k: v for k, v in saved.items() if k not in ignore}
        b = {k: v for k, v in mine.items() if k not in ignore}
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
