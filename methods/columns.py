"""What every method whose network is a column net (:class:`agents.ProgressiveNet`) shares:
building from a task's shapes, checking a source's input, and which column plays task i.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from methods.base import Method, NetworkSpec, TaskPart

__all__ = ["ColumnNetMethod", "check_input", "column_config"]


def check_input(net: Any, spec: NetworkSpec, path: str) -> None:
    """A clear error when source ``path``'s network expects other input than the task's."""
    c = net.config
    if c.in_channels != spec.in_channels or c.input_size != spec.input_size:
        raise ValueError(
            f"source {path} expects {c.in_channels}x{c.input_size}x{c.input_size} inputs, "
            f"the task gives {spec.in_channels}x{spec.input_size}x{spec.input_size}"
        )


def column_config(spec: NetworkSpec) -> Any:
    from agents.progressive import ColumnConfig

    return ColumnConfig(
        in_channels=spec.in_channels, input_size=spec.input_size, alpha_init=spec.alpha_init
    )


class ColumnNetMethod(Method):
    """A method whose network is a :class:`agents.ProgressiveNet` (one or more columns).

    Task ``i`` of a run after ``n`` sources is played by column ``offset + i`` where
    ``offset = columns - 1 - n`` (a random frozen column has no task); the run's own
    task by the newest column.
    """

    def task_policy(self, net: Any, part: TaskPart) -> tuple[Callable[[Any], Any], int | None]:
        column = part.column
        if column is None:
            offset = net.num_columns - 1 - part.num_sources
            column = offset + part.index if part.as_source and offset >= 0 else -1
        if not -net.num_columns <= column < net.num_columns:
            raise ValueError(
                f"--column {column}: this net has {net.num_columns} column(s) "
                f"(0..{net.num_columns - 1})"
            )
        col_actions = net.columns[column].num_actions
        if col_actions != part.num_actions:
            raise ValueError(
                f"column {column} has {col_actions} actions, the task has {part.num_actions}"
            )
        chosen = column

        def policy(x: Any) -> Any:
            return net(x, column=chosen)

        return policy, column
