"""The one command-line interface of xfer-bench: ``xfer <subcommand>``.

Imports are lazy so that ``xfer tasks`` or ``xfer report`` never start Ray.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("PYGLET_HEADLESS", "true")


class CLIError(Exception):
    """A user error: printed without a traceback, exit code 2."""


def _cmd_tasks(args: argparse.Namespace) -> int:
    from envs import TASKS
    from envs.tasks import UNAVAILABLE

    for domain, why in UNAVAILABLE.items():
        print(f"xfer: note: the {domain} tasks are unavailable here ({why})", file=sys.stderr)

    rows = [t for t in TASKS.values() if not args.domain or t.domain == args.domain]
    if not rows:
        domains = sorted({t.domain for t in TASKS.values()})
        raise CLIError(f"no tasks in domain {args.domain!r}; domains: {', '.join(domains)}")
    if args.json:
        print(
            json.dumps(
                [
                    {"task_id": t.task_id, "gym_id": t.gym_id, "description": t.description}
                    for t in rows
                ],
                indent=2,
            )
        )
        return 0
    width = max(len(t.task_id) for t in rows)
    gym_width = max(len(t.gym_id) for t in rows)
    for t in rows:
        print(f"{t.task_id:<{width}}  {t.gym_id:<{gym_width}}  {t.description}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from benchmarks.figures import save_contact_sheet

    domain = args.suite.replace("-", "_")
    out = save_contact_sheet(domain, Path(args.out), seed=args.seed)
    print(f"wrote {out}")
    return 0


def _cmd_agents(args: argparse.Namespace) -> int:
    from agents import build_agent

    agent = build_agent(
        args.agent, num_actions=args.actions, in_channels=args.channels, num_columns=args.columns
    )
    print(agent.describe())
    return 0


def _train_parser(sub: argparse._SubParsersAction) -> None:
    from benchmarks.training import RunConfig

    d = RunConfig(task="catch_soup/pong")
    p = sub.add_parser("train", help="train one run (sources first when missing)")
    p.add_argument("--task", required=True, help="target task id (see `xfer tasks`)")
    p.add_argument(
        "--agent",
        default="scratch",
        help="scratch, finetune-head, finetune-all, random-column, progressive, pathnet",
    )
    p.add_argument(
        "--source",
        action="append",
        default=[],
        dest="sources",
        help="source task id; repeat for a progressive chain, in column order",
    )
    p.add_argument(
        "--budget",
        default=None,
        help="named budget (smoke, laptop, gpu, paper) giving the step count",
    )
    p.add_argument("--steps", type=int, default=None, help="agent steps (overrides --budget)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--out", default="results", help="results root (default results/)")
    p.add_argument(
        "--algo",
        default=d.algo,
        choices=["impala", "ppo"],
        help="impala (A3C-style, default) or ppo",
    )
    p.add_argument("--lr", type=float, default=d.lr, help=f"learning rate (default {d.lr})")
    p.add_argument(
        "--entropy-coeff",
        type=float,
        default=d.entropy_coeff,
        help=f"entropy cost (default {d.entropy_coeff})",
    )
    p.add_argument(
        "--grad-clip",
        type=float,
        default=d.grad_clip,
        help=f"gradient norm clip (default {d.grad_clip})",
    )
    p.add_argument(
        "--alpha-init",
        type=float,
        default=d.alpha_init,
        help=f"initial lateral alpha (default {d.alpha_init})",
    )
    p.add_argument(
        "--rollout-length",
        type=int,
        default=d.rollout_length,
        help=f"env steps per rollout fragment (default {d.rollout_length})",
    )
    p.add_argument(
        "--train-batch",
        type=int,
        default=d.train_batch,
        help=f"agent steps per update (default {d.train_batch})",
    )
    p.add_argument(
        "--env-runners",
        type=int,
        default=d.env_runners,
        help=f"env runner processes (default {d.env_runners})",
    )
    p.add_argument(
        "--envs-per-runner",
        type=int,
        default=d.envs_per_runner,
        help=f"sub-envs per runner (default {d.envs_per_runner})",
    )
    p.add_argument(
        "--python-envs",
        dest="native_env",
        action="store_false",
        help="sample ALE tasks through gymnasium's SyncVectorEnv of Python envs instead "
        "of ale-py's C++ vector env (same observations; slower)",
    )
    p.add_argument(
        "--num-learners",
        type=int,
        default=d.num_learners,
        help="remote learners (default 0: learn in the driver)",
    )
    p.add_argument(
        "--gpus-per-learner",
        type=float,
        default=None,
        help="GPUs per learner (default: 1 with --device gpu, else 0)",
    )
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "gpu"],
        default="cpu",
        help="gpu: GPU learner (error if none); auto: GPU learner if the cluster "
        "has one; cpu (default)",
    )
    p.add_argument(
        "--curve-window",
        type=int,
        default=None,
        help="env steps per curve point (default steps/40 in [1k, 250k])",
    )
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=d.stall_timeout_s,
        help=f"fail a run that makes no progress this long, s (default {d.stall_timeout_s:.0f})",
    )
    p.add_argument(
        "--checkpoint-every",
        type=float,
        default=d.checkpoint_every_s,
        help=f"seconds between resumable checkpoints (default {d.checkpoint_every_s:.0f})",
    )
    p.add_argument(
        "--reward-clip",
        type=float,
        default=d.reward_clip,
        help=f"clip learning rewards to [-c, c]; 0 learns from raw rewards (default "
        f"{d.reward_clip}); curves always record raw scores",
    )
    p.add_argument(
        "--check-episodes",
        type=int,
        default=d.check_episodes,
        help="episodes of the independent evaluation the final curve point is checked "
        f"against; 0 skips (default {d.check_episodes})",
    )
    p.add_argument(
        "--pathnet-population",
        type=int,
        default=d.pathnet_population,
        help=f"PathNet: paths in the population (default {d.pathnet_population}; paper 64)",
    )
    p.add_argument(
        "--pathnet-episodes",
        type=int,
        default=d.pathnet_episodes,
        help="PathNet: T, whole episodes a fitness averages and between a member's "
        f"tournaments (default {d.pathnet_episodes})",
    )
    p.add_argument(
        "--train-sources",
        action="store_true",
        help="train missing source runs even where a shipped zoo column matches",
    )
    p.add_argument("--tag", default="", help="suffix of the run directory")
    p.add_argument("--address", default=None, help="Ray cluster address (or set RAY_ADDRESS)")
    p.add_argument("--no-wandb", action="store_true", help="do not log to wandb")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="score a trained run, on its task or another")
    p.add_argument("run_dir", help="a finished run directory")
    p.add_argument("--episodes", type=int, default=10, help="episodes (default 10)")
    p.add_argument("--task", default=None, help="task to play (default: the run's task)")
    p.add_argument(
        "--column",
        type=int,
        default=None,
        help="progressive nets: which column to play (default: the task's column)",
    )
    p.add_argument("--greedy", action="store_true", help="argmax actions instead of sampling")
    p.add_argument("--seed", type=int, default=12345, help="env seed (default 12345)")
    p.set_defaults(func=_cmd_evaluate)


def _run_config_from_args(args: argparse.Namespace) -> RunConfig:  # noqa: F821
    from benchmarks.budgets import get_budget
    from benchmarks.training import RunConfig
    from envs import get_task

    if args.steps is None and args.budget is None:
        raise CLIError("give --budget NAME or --steps N")
    steps = args.steps
    if steps is None:
        steps = get_budget(args.budget).steps_for(get_task(args.task).domain)
    gpus = args.gpus_per_learner
    if gpus is None:
        gpus = 1.0 if args.device == "gpu" else 0.0
    if args.device == "auto":
        gpus = _auto_gpus(args.address)
    num_learners = args.num_learners
    if gpus > 0 and num_learners == 0:
        num_learners = 1
    return RunConfig(
        task=args.task,
        agent=args.agent,
        sources=tuple(args.sources),
        steps=steps,
        seed=args.seed,
        algo=args.algo,
        lr=args.lr,
        entropy_coeff=args.entropy_coeff,
        grad_clip=args.grad_clip,
        alpha_init=args.alpha_init,
        rollout_length=args.rollout_length,
        train_batch=args.train_batch,
        reward_clip=args.reward_clip or None,
        check_episodes=args.check_episodes,
        pathnet_population=args.pathnet_population,
        pathnet_episodes=args.pathnet_episodes,
        env_runners=args.env_runners,
        envs_per_runner=args.envs_per_runner,
        num_learners=num_learners,
        gpus_per_learner=gpus,
        curve_window=args.curve_window,
        native_env=args.native_env,
        stall_timeout_s=args.stall_timeout,
        checkpoint_every_s=args.checkpoint_every,
        tag=args.tag,
        wandb=not args.no_wandb,
        address=args.address,
    )


def _auto_gpus(address: str | None) -> float:
    from benchmarks.rllib.algo import ensure_ray

    return 1.0 if ensure_ray(address or os.environ.get("RAY_ADDRESS")).get("GPU", 0) >= 1 else 0.0


def _cmd_train(args: argparse.Namespace) -> int:
    from benchmarks.runner import train_with_sources
    from benchmarks.training import TrainingError

    cfg = _run_config_from_args(args)
    if cfg.task in cfg.sources:
        print(
            f"xfer: note: the target {cfg.task} is also a source (the diagonal of the "
            "paper's transfer matrix: transfer to the same task)",
            file=sys.stderr,
        )
    try:
        run_dir = train_with_sources(cfg, args.out, use_zoo=not args.train_sources)
    except TrainingError as err:
        raise CLIError(str(err)) from err
    print(f"done: {run_dir}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from benchmarks.evaluate import evaluate_run

    result = evaluate_run(
        args.run_dir,
        episodes=args.episodes,
        task=args.task,
        column=args.column,
        greedy=args.greedy,
        seed=args.seed,
    )
    print(
        f"{result['task']}: mean {result['mean']:.3f} +- {result['std']:.3f} "
        f"over {result['episodes']} episodes"
    )
    return 0


def _suite_parsers(sub: argparse._SubParsersAction) -> None:
    from benchmarks.budgets import BUDGETS
    from benchmarks.suites import SUITES

    p = sub.add_parser("bench", help="run a suite's transfer matrix, then write the report")
    p.add_argument("suite", choices=list(SUITES), help="which matrix")
    p.add_argument(
        "--budget", default="laptop", choices=list(BUDGETS), help="named budget (default laptop)"
    )
    p.add_argument("--out", default="results", help="results root (default results/)")
    p.add_argument("--env-runners", type=int, default=None, help="env runners per run")
    p.add_argument("--envs-per-runner", type=int, default=None, help="sub-envs per runner")
    p.add_argument(
        "--eval-episodes",
        type=int,
        default=None,
        help="episodes for the forgetting evaluations (default 50 Catch, 3 else)",
    )
    p.add_argument("--no-wandb", action="store_true", help="do not log runs to wandb")
    p.add_argument(
        "--parallel",
        type=int,
        default=None,
        help="runs at a time through Ray Tune (default: 1 locally; with "
        "RAY_ADDRESS, what the cluster has room for)",
    )
    p.add_argument(
        "--train-sources",
        action="store_true",
        help="train the source columns even where a shipped zoo column matches",
    )
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("plan", help="runs, steps, frames and estimated wall time of a sweep")
    p.add_argument("suite", choices=list(SUITES), help="which matrix")
    p.add_argument(
        "--budget", default="laptop", choices=list(BUDGETS), help="named budget (default laptop)"
    )
    p.add_argument("--env-runners", type=int, default=None, help="env runners per run")
    p.add_argument("--envs-per-runner", type=int, default=None, help="sub-envs per runner")
    p.add_argument("--parallel", type=int, default=None, help="runs at a time (as xfer bench)")
    p.add_argument(
        "--no-calibrate",
        action="store_true",
        help="do not run the short calibration run when no speed is cached for this cluster",
    )
    p.add_argument(
        "--train-sources",
        action="store_true",
        help="count source runs a shipped zoo column would stand in for (as xfer bench)",
    )
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser("report", help="build the report from a results directory alone")
    p.add_argument("results_dir", help="results root (holds plan.json and run directories)")
    p.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="jobs averaged per cell (default: the budget's, else 3)",
    )
    p.add_argument(
        "--allow-damaged",
        action="store_true",
        help="build even when result files are damaged (they are listed in the report)",
    )
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("analyze", help="sensitivity analyses of a trained progressive net")
    p.add_argument("analysis", choices=["afs", "aps"], help="afs: Fisher; aps: perturbation")
    p.add_argument("run_dir", help="a finished progressive-net run directory")
    p.add_argument("--states", type=int, default=10_000, help="AFS: states (default 10000)")
    p.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="AFS: episodes the states are drawn from, an equal share from each (default "
        "20); APS: episodes per noise level (default 10)",
    )
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("floors", help="measure random-policy floors into RESULTS/floors.json")
    p.add_argument("results_dir", help="a results root (where floors.json lives)")
    p.add_argument("--task", dest="tasks", action="append", required=True, help="task id; repeat")
    p.set_defaults(func=_cmd_floors)


def _suite_base(args: argparse.Namespace, wandb: bool) -> dict:
    """RunConfig settings every run of a suite shares, from xfer bench/plan options."""
    base: dict = {"wandb": wandb}
    if args.env_runners is not None:
        base["env_runners"] = args.env_runners
    if args.envs_per_runner is not None:
        base["envs_per_runner"] = args.envs_per_runner
    return base


def _cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks.runner import run_suite

    base = _suite_base(args, wandb=not args.no_wandb)
    run_suite(
        args.suite,
        args.budget,
        args.out,
        base=base,
        eval_episodes=args.eval_episodes,
        parallel=args.parallel,
        use_zoo=not args.train_sources,
    )
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from benchmarks.plan import plan_text

    base = _suite_base(args, wandb=False)
    print(
        plan_text(
            args.suite,
            args.budget,
            base=base,
            calibrate=not args.no_calibrate,
            parallel=args.parallel,
            use_zoo=not args.train_sources,
        )
    )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import build_report

    out = build_report(args.results_dir, top_k=args.top_k, allow_damaged=args.allow_damaged)
    print((out / "table1.txt").read_text())
    print(f"report: {out / 'index.html'}")
    return 0


def _cmd_floors(args: argparse.Namespace) -> int:
    from benchmarks.runner import measure_floors
    from envs import get_task

    for task in args.tasks:
        get_task(task)  # an unknown task id is one clear error, before anything is played
    root = Path(args.results_dir)
    if not root.is_dir():
        raise CLIError(f"no results directory at {root}")
    measure_floors(list(args.tasks), root)
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from benchmarks.analyze import afs_for_run, aps_for_run

    if args.analysis == "afs":
        result = afs_for_run(args.run_dir, states=args.states, episodes=args.episodes or 20)
    else:
        result = aps_for_run(args.run_dir, episodes=args.episodes or 10)
    for layer, data in result["layers"].items():
        shares = [("n/a" if v is None else f"{v:.3f}") for v in data["columns"]]
        print(f"{layer:<6} " + "  ".join(f"col{k + 1} {v}" for k, v in enumerate(shares)))
    print(f"wrote {Path(args.run_dir) / (args.analysis + '.json')}")
    return 0


def _perf_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("perf", help="performance benchmark: env, network, training, AFS speed")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    p.add_argument(
        "--train-steps",
        type=int,
        default=20_000,
        help="agent steps per training-throughput run (default 20000)",
    )
    p.add_argument("--quick", action="store_true", help="shorter timings, fewer agents")
    p.set_defaults(func=_cmd_perf)


def _cmd_perf(args: argparse.Namespace) -> int:
    from benchmarks.perf import run_perf

    run_perf(args.json, train_steps=args.train_steps, quick=args.quick)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``xfer`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="xfer",
        description="xfer-bench: transfer RL benchmarks (progressive nets, PathNet, baselines).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("tasks", help="list every task id with its gymnasium id")
    p.add_argument("--domain", help="only this domain (pong_soup, catch_soup, atari, labyrinth)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_tasks)

    p = sub.add_parser("show", help="draw a contact sheet of a suite's tasks to a PNG")
    p.add_argument(
        "suite", choices=["pong-soup", "catch-soup", "labyrinth"], help="which tasks to draw"
    )
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--seed", type=int, default=0, help="env and action seed (default 0)")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("agents", help="inspect agents")
    agents_sub = p.add_subparsers(dest="agents_command", required=True, metavar="ACTION")
    d = agents_sub.add_parser("describe", help="parameter counts per column / module")
    d.add_argument(
        "agent", help="scratch, finetune-head, finetune-all, random-column, progressive or pathnet"
    )
    d.add_argument("--actions", type=int, default=6, help="number of actions (default 6)")
    d.add_argument("--channels", type=int, default=4, help="input channels (default 4)")
    d.add_argument(
        "--columns", type=int, default=2, help="columns of a progressive net (default 2)"
    )
    d.set_defaults(func=_cmd_agents)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _train_parser,
    _suite_parsers,
    _perf_parser,
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xfer`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("xfer: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except CLIError as err:
        print(f"xfer: error: {err}", file=sys.stderr)
        return 2
    except (KeyError, ValueError, TypeError, OSError, RuntimeError) as err:
        if os.environ.get("XFER_DEBUG"):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"xfer: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
