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

    rows = [t for t in TASKS.values() if not args.domain or t.domain == args.domain]
    if not rows:
        domains = sorted({t.domain for t in TASKS.values()})
        raise CLIError(f"no tasks in domain {args.domain!r}; domains: {', '.join(domains)}")
    if args.json:
        print(json.dumps([{"task_id": t.task_id, "gym_id": t.gym_id,
                           "description": t.description} for t in rows], indent=2))  # fmt: skip
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

    agent = build_agent(args.agent, num_actions=args.actions, in_channels=args.channels,
                        num_columns=args.columns)  # fmt: skip
    print(agent.describe())
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
    p.add_argument("suite", choices=["pong-soup", "catch-soup", "labyrinth"],
                   help="which tasks to draw")  # fmt: skip
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--seed", type=int, default=0, help="env and action seed (default 0)")
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("agents", help="inspect agents")
    agents_sub = p.add_subparsers(dest="agents_command", required=True, metavar="ACTION")
    d = agents_sub.add_parser("describe", help="parameter counts per column / module")
    d.add_argument("agent", help="scratch, finetune-head, finetune-all, random-column, "
                   "progressive or pathnet")  # fmt: skip
    d.add_argument("--actions", type=int, default=6, help="number of actions (default 6)")
    d.add_argument("--channels", type=int, default=4, help="input channels (default 4)")
    d.add_argument("--columns", type=int, default=2,
                   help="columns of a progressive net (default 2)")  # fmt: skip
    d.set_defaults(func=_cmd_agents)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xfer`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CLIError as err:
        print(f"xfer: error: {err}", file=sys.stderr)
        return 2
    except (KeyError, ValueError, TypeError, FileNotFoundError) as err:
        if os.environ.get("XFER_DEBUG"):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"xfer: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
