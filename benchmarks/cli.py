"""The one command-line interface of xfer-bench: ``xfer <subcommand>``.

Imports are lazy so that ``xfer tasks`` or ``xfer report`` never start Ray.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
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
    from benchmarks.contact_sheet import save_contact_sheet

    domain = args.suite.replace("-", "_")
    out = save_contact_sheet(domain, Path(args.out), seed=args.seed)
    print(f"wrote {out}")
    return 0


def _cmd_agents(args: argparse.Namespace) -> int:
    from methods import build_agent

    agent = build_agent(
        args.agent, num_actions=args.actions, in_channels=args.channels, num_columns=args.columns
    )
    print(agent.describe())
    return 0


# RunConfig fields under the names users and the README know them by
TRAIN_ALIASES: dict[str, list[str]] = {
    "sources": ["--source"],
    "stall_timeout_s": ["--stall-timeout-s", "--stall-timeout"],
    "checkpoint_every_s": ["--checkpoint-every-s", "--checkpoint-every"],
}


def _train_parser(sub: argparse._SubParsersAction) -> None:
    from benchmarks.config_cli import add_config_options
    from runstore.config import RunConfig

    p = sub.add_parser(
        "train",
        help="train one run (sources first when missing)",
        description="Train one run. Every RunConfig field is an option (see its docstring); "
        "the step count comes from --steps or --budget.",
    )
    add_config_options(p, RunConfig, aliases=TRAIN_ALIASES, required=["task"])
    p.add_argument(
        "--budget",
        default=None,
        help="named budget (smoke, laptop, gpu, paper) giving the step count",
    )
    p.add_argument("--out", default="results", help="results root (default results/)")
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "gpu"],
        default="cpu",
        help="gpu: GPU learner (error if none); auto: GPU learner if the cluster "
        "has one; cpu (default). --gpus-per-learner overrides the GPU count.",
    )
    p.add_argument(
        "--train-sources",
        action="store_true",
        help="train missing source runs even where a shipped zoo column matches",
    )
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
    p.add_argument(
        "--as-source",
        action="store_true",
        help="play TASK with the part trained on it as a source (forgetting), also where "
        "TASK is the run's own task (pong after pong); default: the run's own task is played "
        "by its newest part",
    )
    p.set_defaults(func=_cmd_evaluate)


def _run_config_from_args(args: argparse.Namespace) -> RunConfig:  # noqa: F821
    """The RunConfig of ``xfer train``'s options: fields given, else the dataclass's defaults."""
    from benchmarks.budgets import get_budget
    from benchmarks.config_cli import given_fields
    from envs import get_task
    from runstore.config import RunConfig

    fields = given_fields(RunConfig, args)
    if "steps" not in fields:
        if args.budget is None:
            raise CLIError("give --budget NAME or --steps N")
        fields["steps"] = get_budget(args.budget).steps_for(get_task(fields["task"]).domain)
    return RunConfig(**_resolve(fields, args.device))


def _resolve(fields: dict, device: str) -> dict:
    """Given config fields with the CLI's conveniences applied: ``--reward-clip 0``
    learns from raw rewards; ``--device gpu|auto`` sets one GPU learner unless
    ``--gpus-per-learner`` says otherwise."""
    fields = dict(fields)
    if fields.get("reward_clip") == 0:
        fields["reward_clip"] = None
    if "gpus_per_learner" not in fields:
        if device == "gpu":
            fields["gpus_per_learner"] = 1.0
        elif device == "auto":
            fields["gpus_per_learner"] = _auto_gpus(fields.get("address"))
    if fields.get("gpus_per_learner", 0) > 0 and fields.get("num_learners", 0) == 0:
        fields["num_learners"] = 1
    return fields


def _auto_gpus(address: str | None) -> float:
    from benchmarks.rllib.algo import ensure_ray

    return 1.0 if ensure_ray(address or os.environ.get("RAY_ADDRESS")).get("GPU", 0) >= 1 else 0.0


def _cmd_train(args: argparse.Namespace) -> int:
    from benchmarks.runner import train_with_sources
    from benchmarks.runsetup import TrainingError

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
        source=args.as_source,
    )
    print(
        f"{result['task']}: mean {result['mean']:.3f} +- {result['std']:.3f} "
        f"over {result['episodes']} episodes"
    )
    return 0


def _suite_parsers(sub: argparse._SubParsersAction) -> None:

    # no abbreviations: "--seed 3" must not pass for "--seeds 3" (a suite sets each seed)
    p = sub.add_parser(
        "bench", help="run a suite's transfer matrix, then write the report", allow_abbrev=False
    )
    _suite_run_options(p)
    p.add_argument("--out", default="results", help="results root (default results/)")
    p.add_argument(
        "--eval-episodes",
        type=int,
        default=None,
        help="episodes for the forgetting evaluations (default 50 Catch, 3 else)",
    )
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

    p = sub.add_parser(
        "plan", help="runs, steps, frames and estimated wall time of a sweep", allow_abbrev=False
    )
    _suite_run_options(p)
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
    p.add_argument(
        "--out",
        default=None,
        help="the results folder xfer bench would train into: its finished runs that the "
        "sweep reuses are not counted, and any it would refuse are named",
    )
    p.set_defaults(func=_cmd_plan)


def _results_parsers(sub: argparse._SubParsersAction) -> None:
    """Commands that read a results root: report, analyze, learnability, ship-column,
    export, floors."""
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

    p = sub.add_parser(
        "learnability",
        help="does scratch leave each task's random floor, when, how far (docs/learnability.md)",
    )
    p.add_argument("results_dirs", nargs="+", help="results roots with scratch runs")
    p.add_argument("--out", default=None, help="also write the Markdown table to this file")
    p.add_argument(
        "--figure", default=None, help="also draw every curve against its floor (PNG path)"
    )
    p.set_defaults(func=_cmd_learnability)

    p = sub.add_parser(
        "ship-column",
        help="ship a finished scratch run as a zoo column (plateau check, 20 greedy "
        "episodes, replay bar)",
    )
    p.add_argument("run_dir", help="a finished scratch run directory")
    p.add_argument("--floors", required=True, help="results root whose floors.json to use")
    p.add_argument("--zoo", default=None, help="zoo folder (default: zoo/ or $XFER_ZOO)")
    p.set_defaults(func=_cmd_ship_column)

    p = sub.add_parser(
        "export",
        help="copy a suite's finished runs without weights, checkpoints or logs (what a "
        "committed report holds)",
    )
    p.add_argument("results_dir", help="a suite's results root (holds plan.json)")
    p.add_argument("dest", help="a new folder (refused when it exists and is not empty)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("floors", help="measure random-policy floors into RESULTS/floors.json")
    p.add_argument("results_dir", help="a results root (where floors.json lives)")
    p.add_argument("--task", dest="tasks", action="append", required=True, help="task id; repeat")
    p.set_defaults(func=_cmd_floors)


# RunConfig fields a suite sets itself for each of its runs
SUITE_SET_FIELDS = ("task", "agent", "sources", "steps", "seed", "tag")


def _suite_run_options(p: argparse.ArgumentParser) -> None:
    """xfer bench/plan: the suite, its budget, every RunConfig field a suite does not
    set, and --device."""
    from benchmarks.budgets import BUDGETS
    from benchmarks.config_cli import add_config_options
    from benchmarks.suites import SUITES
    from runstore.config import RunConfig

    p.add_argument("suite", choices=list(SUITES), help="which matrix")
    p.add_argument(
        "--budget", default="laptop", choices=list(BUDGETS), help="named budget (default laptop)"
    )
    add_config_options(p, RunConfig, skip=SUITE_SET_FIELDS, aliases=TRAIN_ALIASES)
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "gpu"],
        default="cpu",
        help="every run's learner: gpu (error if none), auto (GPU if the cluster has "
        "one) or cpu (default)",
    )
    p.add_argument(
        "--seeds",
        default=None,
        metavar="N",
        help="seeds per cell (default: the budget's; laptop: 5 on Catch Soup, 1 elsewhere)",
    )


def _suite_base(args: argparse.Namespace, wandb: bool | None = None) -> dict:
    """RunConfig settings every run of a suite shares, from xfer bench/plan options.

    Only what the user gave: the rest keeps RunConfig's defaults (and the budget's
    PathNet settings and the paper's sampled hyperparameters for jobs 1..). An
    ``--address`` is also exported as ``RAY_ADDRESS`` for the suite's driver (Tune).
    """
    from benchmarks.config_cli import given_fields
    from runstore.config import RunConfig

    base = _resolve(given_fields(RunConfig, args), args.device)
    if wandb is not None:
        base["wandb"] = wandb
    if base.get("address"):  # the suite's driver (Tune) connects where its runs do
        os.environ["RAY_ADDRESS"] = base["address"]
    return base


def _seeds(args: argparse.Namespace) -> int | None:
    """``--seeds`` as a positive integer (None: the budget's); one clear error else."""
    if args.seeds is None:
        return None
    text = str(args.seeds).strip()
    if not text.isdigit() or int(text) < 1:
        raise CLIError(f"--seeds must be a positive whole number, got {args.seeds!r}")
    return int(text)


def _cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks.runner import SuiteIncompleteError, run_suite

    seeds = _seeds(args)
    base = _suite_base(args)
    try:
        run_suite(
            args.suite,
            args.budget,
            args.out,
            base=base,
            eval_episodes=args.eval_episodes,
            parallel=args.parallel,
            use_zoo=not args.train_sources,
            seeds=seeds,
        )
    except SuiteIncompleteError as err:
        print(
            f"xfer: {len(err.problems)} run(s) failed or unfinished; the report leaves them "
            "out. Rerun the same command to retry them:",
            file=sys.stderr,
        )
        for line in err.problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from benchmarks.plan import plan_text

    seeds = _seeds(args)
    base = _suite_base(args, wandb=False)
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise CLIError(f"{args.out} is a file, not a results directory")
    print(
        plan_text(
            args.suite,
            args.budget,
            base=base,
            calibrate=not args.no_calibrate,
            parallel=args.parallel,
            use_zoo=not args.train_sources,
            seeds=seeds,
            out=args.out,
        )
    )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from analysis.report import build_report

    out = build_report(args.results_dir, top_k=args.top_k, allow_damaged=args.allow_damaged)
    print((out / "table1.txt").read_text())
    print(f"report: {out / 'index.html'}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from runstore.export import KEPT_FILES, export_results

    try:
        count = export_results(args.results_dir, args.dest)
    except ValueError as err:
        raise CLIError(str(err)) from None
    print(
        f"exported {count} run directories ({KEPT_FILES}) and the plan into {args.dest}; "
        f"`xfer report {args.dest}` builds its report"
    )
    return 0


def _cmd_floors(args: argparse.Namespace) -> int:
    from benchmarks.runner import measure_floors
    from envs import get_task

    for task in args.tasks:
        get_task(task)  # an unknown task id is one clear error, before anything is played
    root = Path(args.results_dir)
    if root.exists() and not root.is_dir():
        raise CLIError(f"{root} is a file, not a results directory")
    # the first step of training into a new root (zoo/README.md): it is created here
    root.mkdir(parents=True, exist_ok=True)
    measure_floors(list(args.tasks), root)
    return 0


def _cmd_ship_column(args: argparse.Namespace) -> int:
    from benchmarks.zoo import ship_column

    if not Path(args.run_dir).is_dir():
        raise CLIError(f"no run directory at {args.run_dir}")
    try:
        dest = ship_column(args.run_dir, args.floors, args.zoo)
    except (ValueError, FileExistsError) as err:
        raise CLIError(str(err)) from None
    print(f"shipped {dest}")
    return 0


def _cmd_learnability(args: argparse.Namespace) -> int:
    from analysis.learnability import (
        learnability_figure,
        learnability_markdown,
        learnability_rows,
    )
    from runstore.atomic import write_text

    for root in args.results_dirs:
        if not Path(root).is_dir():
            raise CLIError(f"no results directory at {root}")
    rows = learnability_rows(args.results_dirs)
    if not rows:
        raise CLIError(f"no finished scratch run under {', '.join(args.results_dirs)}")
    text = learnability_markdown(rows)
    print(text, end="")
    if args.out:
        write_text(args.out, text)
        print(f"wrote {args.out}")
    if args.figure:
        print(f"wrote {learnability_figure(rows, args.figure)}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from benchmarks.sensitivity_runs import afs_for_run, aps_for_run

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
    from methods import method_names

    d.add_argument("agent", help="a method: " + ", ".join(method_names()))
    d.add_argument("--actions", type=int, default=6, help="number of actions (default 6)")
    d.add_argument("--channels", type=int, default=4, help="input channels (default 4)")
    d.add_argument(
        "--columns", type=int, default=2, help="columns of a progressive net (default 2)"
    )
    d.set_defaults(func=_cmd_agents)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


def _tune_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune",
        help="tune every agent alike on a held-out task and seeds (benchmarks/tuning.py)",
        description="Train the suite's tuning grid (the same number of runs per agent, on a "
        "target and seeds no report uses; finished runs are reused, interrupted ones "
        "resumed), then write tuning.json and tuning.md with each agent's choice.",
    )
    p.add_argument("suite", help="a suite with a tuning protocol: pong-soup")
    p.add_argument("--out", default=None, help="tuning root (default docs/tuning/SUITE)")
    p.add_argument(
        "--record-only",
        action="store_true",
        help="train nothing: score the finished runs and write the record",
    )
    p.set_defaults(func=_cmd_tune)


def _cmd_tune(args: argparse.Namespace) -> int:
    from benchmarks.tuning import TUNING, held_out_problems, tuning_record, tuning_runs

    spec = TUNING.get(args.suite)
    if spec is None:
        raise CLIError(f"no tuning protocol for {args.suite!r}; protocols: {', '.join(TUNING)}")
    problems = held_out_problems(spec, Path("docs/results"))
    if problems:
        raise CLIError("the tuning task is not held out: " + "; ".join(problems))
    root = Path(args.out or f"docs/tuning/{args.suite}")
    if root.exists() and not root.is_dir():
        raise CLIError(f"{root} is a file, not a tuning directory")
    if not args.record_only:
        from benchmarks.runner import measure_floors, train_with_sources
        from benchmarks.runsetup import TrainingError

        root.mkdir(parents=True, exist_ok=True)
        measure_floors([spec.target], root)
        for cfg in tuning_runs(spec):
            try:
                train_with_sources(cfg, root)
            except TrainingError as err:
                raise CLIError(str(err)) from err
    record = tuning_record(spec, root)
    print((root / "tuning.md").read_text())
    if record["missing"]:
        print(f"xfer: {len(record['missing'])} tuning run(s) missing", file=sys.stderr)
        return 1
    return 0


_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _train_parser,
    _suite_parsers,
    _results_parsers,
    _perf_parser,
    _tune_parser,
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
    except SystemExit as err:
        from benchmarks import interrupts

        # Ray's driver exits with the signal's number, or with 1 when the signal came
        # while actors were starting (then the handler noted it)
        if not interrupts.terminated(err.code):
            raise
        print("xfer: terminated (SIGTERM); rerun the same command to resume", file=sys.stderr)
        return 128 + signal.SIGTERM
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
