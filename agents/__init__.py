"""Pure PyTorch networks of xfer-bench (no Ray): columns, progressive nets, PathNet, DEN."""

from agents.base import AgentOutput, ShapeMismatchError, load_weights
from agents.den import DENConfig, DENNet
from agents.factory import AGENT_NAMES, build_agent, load_agent
from agents.pathnet import (
    PathNet,
    PathNetConfig,
    binary_tournament,
    mutate,
    random_path,
    tournament_step,
)
from agents.progressive import Column, ColumnConfig, LateralAdapter, ProgressiveNet

__all__ = [
    "AGENT_NAMES",
    "AgentOutput",
    "Column",
    "ColumnConfig",
    "DENConfig",
    "DENNet",
    "LateralAdapter",
    "PathNet",
    "PathNetConfig",
    "ProgressiveNet",
    "ShapeMismatchError",
    "binary_tournament",
    "build_agent",
    "load_agent",
    "load_weights",
    "mutate",
    "random_path",
    "tournament_step",
]
