"""Build the agents by name: the paper's four baselines, progressive nets, PathNet, DEN."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import torch

from agents.base import Agent, load_weights
from agents.den import DENConfig, DENNet
from agents.pathnet import PathNet, PathNetConfig
from agents.progressive import ColumnConfig, ProgressiveNet

__all__ = ["AGENT_NAMES", "build_agent", "load_agent"]

AGENT_NAMES = (
    "scratch",
    "finetune-head",
    "finetune-all",
    "random-column",
    "progressive",
    "pathnet",
    "den",
)


def load_agent(path: str | Path) -> Agent:
    """Load any saved agent (``weights_only=True``) with its trainable flags."""
    kind = load_weights(path)["kind"]
    if kind == "progressive":
        return ProgressiveNet.load(str(path), trainable=True)
    if kind == "pathnet":
        return PathNet.load(str(path))
    if kind == "den":
        return DENNet.load(str(path), trainable=True)
    raise ValueError(f"{path}: unknown agent kind {kind!r}")


def build_agent(
    name: str,
    num_actions: int,
    in_channels: int = 4,
    sources: Sequence[str | Path] = (),
    num_columns: int = 2,
    alpha_init: float = ColumnConfig.alpha_init,
    seed: int | None = None,
    input_size: int = 84,
    den: DENConfig | None = None,
) -> Agent:
    """Build agent ``name`` for a task with ``num_actions`` actions.

    Args:
        name: one of :data:`AGENT_NAMES`.
        num_actions: the target task's action count (new heads where it differs).
        in_channels: input channels of the observation.
        sources: saved agent files of the source runs. ``finetune-*`` use the newest
            column of the single source; ``progressive`` loads every column of the last
            source (a chain: source k was itself trained with sources < k) and adds one;
            ``pathnet`` continues from the source's PathNet (its fixed path frozen).
        num_columns: columns of a ``progressive`` net built without a source (random,
            frozen earlier columns); ignored with sources.
        alpha_init: initial lateral scale alpha.
        seed: seeds the initial weights.
        input_size: input height = width.
        den: DEN's constants (``den`` only; default ``DENConfig()``). ``den`` without a
            source is a fresh network on its first task (trained with the L1 penalty);
            with one, the source's DEN gets a new task (``DENNet.add_task``).

    Baselines (paper): 1 ``scratch``, 2 ``finetune-head``, 3 ``finetune-all``,
    4 ``random-column`` (first column random and frozen).
    """
    if name not in AGENT_NAMES:
        raise ValueError(f"unknown agent {name!r}; choose from {', '.join(AGENT_NAMES)}")
    if seed is not None:
        torch.manual_seed(seed)
    sources = [str(s) for s in sources]
    # a gymnasium action count is a numpy integer, which a weights_only load refuses
    num_actions = int(num_actions)
    config = ColumnConfig(in_channels=in_channels, input_size=input_size, alpha_init=alpha_init)
    needs_source = name in ("finetune-head", "finetune-all")
    if needs_source and len(sources) != 1:
        raise ValueError(f"{name} needs exactly one source run, got {len(sources)}")
    if name in ("scratch", "random-column") and sources:
        raise ValueError(f"{name} takes no source run")
    if name == "scratch":
        return ProgressiveNet(config, num_actions)
    if name == "random-column":
        net = ProgressiveNet(config, num_actions)
        net.add_column(num_actions)
        return net
    if name == "den":
        if not sources:
            return DENNet(config, num_actions, den)
        net = DENNet.load(sources[-1], trainable=True)
        if net.config.in_channels != in_channels or net.config.input_size != input_size:
            raise ValueError(
                f"source {sources[-1]} expects {net.config.in_channels}x"
                f"{net.config.input_size}x{net.config.input_size} inputs, the task gives "
                f"{in_channels}x{input_size}x{input_size}"
            )
        if den is not None:
            net.den = den
        net.add_task(num_actions)
        return net
    if name == "pathnet":
        pconfig = PathNetConfig(in_channels=in_channels, input_size=input_size)
        if not sources:
            return PathNet(pconfig, num_actions)
        net = PathNet.load(sources[-1])
        if net.config.in_channels != in_channels:
            raise ValueError(
                f"source {sources[-1]} has {net.config.in_channels} input channels, "
                f"the task has {in_channels}"
            )
        if len(net.fixed_paths) != len(net.readouts) - 1:
            raise ValueError(f"source {sources[-1]} has no fixed path; finish its task first")
        if net.num_actions != num_actions:
            net.reset_readout(num_actions)
        return net
    if name == "progressive":
        if not sources:
            net = ProgressiveNet(config, num_actions)
            for _ in range(num_columns - 1):
                net.add_column(num_actions)
            return net
        net = ProgressiveNet.load(sources[-1])
        _check_input(net, config, sources[-1])
        net.config = dataclasses.replace(net.config, alpha_init=alpha_init)
        net.add_column(num_actions)
        return net
    # finetune-head / finetune-all: one column from the source's newest column
    source = ProgressiveNet.load(sources[0])
    _check_input(source, config, sources[0])
    net = ProgressiveNet(source.config, source.columns[-1].num_actions)
    column_state = {
        k.split(".", 2)[2]: v
        for k, v in source.state_dict().items()
        if k.startswith(f"columns.{source.num_columns - 1}.")
    }
    net.columns[0].load_state_dict(column_state)
    if net.num_actions != num_actions:
        net.reset_heads(num_actions)
    if name == "finetune-head":
        net.freeze_trunk()
    return net


def _check_input(net: ProgressiveNet, config: ColumnConfig, path: str) -> None:
    if net.config.in_channels != config.in_channels or net.config.input_size != config.input_size:
        raise ValueError(
            f"source {path} expects {net.config.in_channels}x{net.config.input_size}x"
            f"{net.config.input_size} inputs, the task gives {config.in_channels}x"
            f"{config.input_size}x{config.input_size}"
        )
