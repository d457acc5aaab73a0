"""Pure PyTorch networks of xfer-bench (no Ray): columns, progressive nets, PathNet, DEN.

Names are loaded on first use (PEP 562), so ``from agents.den_config import DENConfig``
(plain Python) does not import torch; ``from agents import ProgressiveNet`` does.
Building a network *by method name* is :func:`methods.build_agent` (one module per
transfer method).
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the submodule that defines it
_EXPORTS = {
    "AgentOutput": "agents.base",
    "ShapeMismatchError": "agents.base",
    "load_weights": "agents.base",
    "DENConfig": "agents.den_config",
    "DENNet": "agents.den",
    "load_agent": "agents.factory",
    "PathNet": "agents.pathnet",
    "PathNetConfig": "agents.pathnet",
    "binary_tournament": "agents.pathnet",
    "mutate": "agents.pathnet",
    "random_path": "agents.pathnet",
    "tournament_step": "agents.pathnet",
    "Column": "agents.progressive",
    "ColumnConfig": "agents.progressive",
    "LateralAdapter": "agents.progressive",
    "ProgressiveNet": "agents.progressive",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
