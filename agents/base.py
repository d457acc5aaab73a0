"""What every agent shares: the typed output, parameter listing, save/load of weights."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

__all__ = [
    "AgentOutput",
    "Agent",
    "ShapeMismatchError",
    "check_state_dict",
    "save_weights",
    "load_weights",
    "to_float_input",
    "init_orthogonal",
    "INPUT_MEAN",
    "INPUT_STD",
]

# Input standardisation: observations in [0, 1] are mapped to (x - INPUT_MEAN) / INPUT_STD.
# The constants are the pixel statistics of plain Pong under a random policy (mean 0.4165,
# std 0.1853 of the 84x84 grayscale frames, rounded); one pair for the whole suite, so a
# column sees every task through the same fixed affine map (colour variants stay distinct).
# Without it the frames sit on a near-constant background around 0.35-0.42 and the
# narrow columns spend a long plateau at the random score: on catch_soup/pong an
# independent A2C first reached 0.8 after 224k steps with x / 255 and after about 40k
# with standardised inputs (docs/pong_learning.md).
INPUT_MEAN = 0.42
INPUT_STD = 0.19

FORMAT = "xfer-agent/1"


class AgentOutput(NamedTuple):
    """What an agent's forward pass returns.

    Attributes:
        logits: (B, num_actions) unnormalised log-probabilities of the policy.
        value: (B,) state-value estimates.
    """

    logits: torch.Tensor
    value: torch.Tensor


class ShapeMismatchError(ValueError):
    """A saved tensor does not fit the network it is loaded into."""


def init_orthogonal(module: nn.Module, gain: float = 2**0.5) -> nn.Module:
    """Orthogonal weights with ``gain`` (ReLU: sqrt 2) and zero biases, in place.

    PyTorch's default init shrinks the signal layer by layer in these narrow (12-map)
    columns: with it a column cannot even fit Catch's optimal action by supervised
    learning. Orthogonal init (as in A2C/PPO reference implementations) keeps the scale.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            # drawn contiguous, then copied: works whatever the weight's memory format
            weight = nn.init.orthogonal_(torch.empty(m.weight.shape), gain=gain)
            with torch.no_grad():
                m.weight.copy_(weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def to_float_input(
    obs: torch.Tensor, mean: float = INPUT_MEAN, std: float = INPUT_STD
) -> torch.Tensor:
    """(B, C, H, W) observations -> standardised float ``(x - mean) / std``.

    uint8 observations are first divided by 255; float observations are taken to be in
    [0, 1] already. ``mean=0, std=1`` gives the plain [0, 1] scaling.
    """
    if obs.dim() != 4:
        raise ValueError(f"expected observations of shape (B, C, H, W), got {tuple(obs.shape)}")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    # channels-last is how the envs deliver frames (H, W, C) and what oneDNN convolves
    # fastest on CPU (the 4-column net runs ~20% faster than with NCHW)
    obs = obs.contiguous(memory_format=torch.channels_last)
    scale = 255.0 if obs.dtype == torch.uint8 else 1.0
    x = obs.float()
    if mean == 0.0 and std == 1.0:
        return x.div_(scale) if scale != 1.0 else x
    return x.sub_(mean * scale).mul_(1.0 / (std * scale)) if scale != 1.0 else (x - mean) / std


def check_state_dict(
    expected: dict[str, torch.Tensor],
    state: dict[str, torch.Tensor],
    source: str = "file",
    allow_missing: bool = False,
) -> None:
    """Raise a clear error when ``state`` does not fit a network whose state is ``expected``.

    Args:
        expected: the receiving network's ``state_dict()``.
        state: the tensors to load.
        source: how to name where ``state`` came from in messages.
        allow_missing: accept a ``state`` that fills only part of the network.

    Raises:
        ShapeMismatchError: naming the tensor, both shapes and the likely cause.
    """
    missing = [] if allow_missing else sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ShapeMismatchError(
            f"the {source} does not match the network: missing tensors {missing[:5]}, "
            f"tensors with no place in the network {unexpected[:5]}"
        )
    for name, tensor in state.items():
        want = tuple(expected[name].shape)
        if tuple(tensor.shape) == want:
            continue
        why = "shapes differ"
        if ".policy." in name:
            why = f"action counts differ ({source}: {tensor.shape[0]}, network: {want[0]})"
        elif name.endswith("conv1.weight") or name.startswith("layers.0."):
            why = f"input channels differ ({source}: {tensor.shape[1]}, network: {want[1]})"
        raise ShapeMismatchError(
            f"tensor {name!r}: {source} has shape {tuple(tensor.shape)}, the network expects "
            f"{want}: {why}"
        )


class Agent(nn.Module):
    """Base class: a network with a typed output, trainable/frozen listing and save/load."""

    kind: str = "agent"

    def forward(self, obs: torch.Tensor) -> AgentOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimizer should update."""
        return [p for p in self.parameters() if p.requires_grad]

    def frozen_parameters(self) -> list[nn.Parameter]:
        """Parameters that never change (earlier columns, fixed PathNet modules)."""
        return [p for p in self.parameters() if not p.requires_grad]

    def structure(self) -> dict[str, Any]:
        """Everything needed to rebuild an empty agent of the same shape (JSON-able)."""
        raise NotImplementedError

    @classmethod
    def from_structure(cls, structure: dict[str, Any]) -> Agent:
        raise NotImplementedError

    @classmethod
    def load_file(cls, path: str | Path, what: str, trainable: bool = True) -> Agent:
        """Load a file written by :meth:`save` into a new agent of this class.

        Args:
            path: the saved agent file (read with ``weights_only=True``).
            what: how to name this class in the wrong-kind error ("a PathNet").
            trainable: restore the trainable flags saved in the file; False freezes every
                parameter.

        Raises:
            ValueError: the file holds another kind of agent.
            ShapeMismatchError: a tensor does not fit the structure saved with it.
        """
        payload = load_weights(path)
        if payload["kind"] != cls.kind:
            raise ValueError(f"{path} holds a {payload['kind']} agent, not {what}")
        net = cls.from_structure(payload["structure"])
        check_state_dict(net.state_dict(), payload["state_dict"], f"file {path}")
        net.load_state_dict(payload["state_dict"])
        saved = set(payload.get("trainable", []))
        for name, p in net.named_parameters():
            p.requires_grad_(trainable and name in saved)
        return net

    def describe(self) -> str:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write structure + weights atomically (loadable with ``weights_only=True``)."""
        return save_weights(self, path)


def save_weights(agent: Agent, path: str | Path) -> Path:
    """Atomically save ``agent`` to ``path`` as a plain dict of primitives and tensors."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "kind": agent.kind,
        "structure": agent.structure(),
        "trainable": [name for name, p in agent.named_parameters() if p.requires_grad],
        "state_dict": {k: v.detach().cpu() for k, v in agent.state_dict().items()},
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; honour the umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_weights(path: str | Path) -> dict[str, Any]:
    """Load a file written by :func:`save_weights` with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no agent weights at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise ValueError(f"{path} is not a readable agent file: {str(err)[:200]}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not an xfer-bench agent file (format {FORMAT})")
    return payload
