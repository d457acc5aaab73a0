"""Load any saved agent by the network kind its file records.

Building a network for a transfer method is the method's job (``methods.build_agent``,
one module per method); this module only reads saved files back.
"""

from __future__ import annotations

from pathlib import Path

from agents.base import Agent, load_weights
from agents.den import DENNet
from agents.pathnet import PathNet
from agents.progressive import ProgressiveNet

__all__ = ["load_agent"]

# saved network kind -> how to load it with its trainable flags
_LOADERS = {
    "progressive": lambda path: ProgressiveNet.load(path, trainable=True),
    "pathnet": PathNet.load,
    "den": lambda path: DENNet.load(path, trainable=True),
}


def load_agent(path: str | Path) -> Agent:
    """Load any saved agent (``weights_only=True``) with its trainable flags."""
    kind = load_weights(path)["kind"]
    if kind not in _LOADERS:
        raise ValueError(f"{path}: unknown agent kind {kind!r}")
    return _LOADERS[kind](str(path))
