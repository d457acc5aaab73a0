"""PathNet (Fernando et al. 2017): modules, paths, and its genetic operators.

L layers of M modules (Atari: 3 conv layers of 8-kernel modules 8x8/4, 4x4/2, 3x3/1 and
one linear layer of 50-unit modules). A path picks at most N modules per layer; the
ReLU outputs of a layer's active modules are summed. Policy and value readouts are
unique to each task. A path is an integer array of shape (L, N); duplicate genes in a
layer select one module once (so "at most N distinct").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.base import (
    INPUT_MEAN,
    INPUT_STD,
    Agent,
    AgentOutput,
    init_orthogonal,
    to_float_input,
)

__all__ = [
    "PathNetConfig",
    "PathNet",
    "random_path",
    "mutate",
    "binary_tournament",
    "tournament_step",
]


@dataclass(frozen=True)
class PathNetConfig:
    """PathNet shape (defaults: the paper's Atari setting).

    Attributes:
        in_channels: stacked input frames.
        input_size: input height = width.
        modules_per_layer: M.
        active_per_layer: N, genes per layer of a path.
        conv_channels: kernels per conv module (paper: 8).
        kernels: (kernel, stride) of the three conv layers.
        linear_units: units per module of the last layer (paper: 50).
        input_mean: observations in [0, 1] are standardised to ``(x - input_mean) /
            input_std`` (see ``agents.base.INPUT_MEAN``).
        input_std: see ``input_mean``.
    """

    in_channels: int = 4
    input_size: int = 84
    modules_per_layer: int = 10
    active_per_layer: int = 4
    conv_channels: int = 8
    kernels: tuple[tuple[int, int], ...] = ((8, 4), (4, 2), (3, 1))
    linear_units: int = 50
    input_mean: float = INPUT_MEAN
    input_std: float = INPUT_STD

    def __post_init__(self) -> None:
        if not self.input_std > 0:
            raise ValueError(f"input_std must be positive, got {self.input_std}")
        if not 1 <= self.active_per_layer <= self.modules_per_layer:
            raise ValueError(
                f"need 1 <= N <= M, got N={self.active_per_layer}, M={self.modules_per_layer}"
            )

    @property
    def num_layers(self) -> int:
        return len(self.kernels) + 1

    @property
    def conv_output_size(self) -> int:
        size = self.input_size
        for kernel, stride in self.kernels:
            size = (size - kernel) // stride + 1
        return size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PathNetConfig:
        data = dict(data)
        data["kernels"] = tuple(tuple(k) for k in data["kernels"])
        return cls(**data)


class PathNet(Agent):
    """Modules in layers, routed per sample by paths; readouts per task.

    Example:
        >>> net = PathNet(PathNetConfig(), num_actions=6)
        >>> rng = np.random.default_rng(0)
        >>> paths = np.stack([random_path(rng, net.config) for _ in range(2)])
        >>> out = net(torch.zeros(2, 4, 84, 84), torch.as_tensor(paths))
        >>> out.logits.shape
        torch.Size([2, 6])
    """

    kind = "pathnet"

    def __init__(self, config: PathNetConfig, num_actions: int) -> None:
        super().__init__()
        self.config = config
        c, m = config.conv_channels, config.modules_per_layer
        layers = []
        in_ch = config.in_channels
        for kernel, stride in config.kernels:
            layers.append(nn.ModuleList([nn.Conv2d(in_ch, c, kernel, stride) for _ in range(m)]))
            in_ch = c
        flat = c * config.conv_output_size**2
        layers.append(nn.ModuleList([nn.Linear(flat, config.linear_units) for _ in range(m)]))
        self.layers = nn.ModuleList(layers)
        init_orthogonal(self.layers)
        self.layers.to(memory_format=torch.channels_last)
        self.readouts = nn.ModuleList()
        self.register_buffer("frozen", torch.zeros(config.num_layers, m, dtype=torch.bool))
        self.task_actions: list[int] = []
        self.fixed_paths: list[list[list[int]]] = []
        self.new_task(num_actions)

    @property
    def task(self) -> int:
        """Index of the current task (its readouts are used and trained)."""
        return len(self.readouts) - 1

    @property
    def num_actions(self) -> int:
        return self.task_actions[-1]

    def _readout(self, num_actions: int) -> nn.ModuleDict:
        if num_actions < 1:
            raise ValueError(f"num_actions must be positive, got {num_actions}")
        policy = init_orthogonal(nn.Linear(self.config.linear_units, num_actions), gain=0.01)
        value = init_orthogonal(nn.Linear(self.config.linear_units, 1), gain=1.0)
        return nn.ModuleDict({"policy": policy, "value": value})

    def new_task(self, num_actions: int) -> None:
        """Add fresh policy and value readouts for a new task and make it current."""
        readout = self._readout(num_actions)
        for old in self.readouts:
            old.requires_grad_(False)
        self.readouts.append(readout)
        self.task_actions.append(num_actions)

    def reset_readout(self, num_actions: int) -> None:
        """Replace the current task's readouts (e.g. the next task has another action set)."""
        self.readouts[-1] = self._readout(num_actions)
        self.task_actions[-1] = num_actions

    def check_paths(self, paths: torch.Tensor) -> torch.Tensor:
        """(L, N) or (B, L, N) integer paths -> (B or 1, L, N) long tensor, range-checked."""
        paths = torch.as_tensor(paths, dtype=torch.long)
        if paths.dim() == 2:
            paths = paths.unsqueeze(0)
        cfg = self.config
        if paths.dim() != 3 or paths.shape[1:] != (cfg.num_layers, cfg.active_per_layer):
            raise ValueError(
                f"paths must have shape (L, N) or (B, L, N) with L={cfg.num_layers}, "
                f"N={cfg.active_per_layer}; got {tuple(paths.shape)}"
            )
        if paths.min() < 0 or paths.max() >= cfg.modules_per_layer:
            raise ValueError(f"path genes must be in [0, {cfg.modules_per_layer - 1}]")
        return paths

    def forward(self, obs: torch.Tensor, paths: torch.Tensor, task: int = -1) -> AgentOutput:
        """Route each row of ``obs`` through its own path.

        Args:
            obs: (B, C, H, W) uint8 or float observations.
            paths: one (L, N) path for the whole batch, or (B, L, N), one per row; on
                any device (they are copied to the host once per call).
            task: whose readouts to use (default: the current task).

        Each module runs once on exactly the rows whose path uses it: a loop over the
        M modules of a layer, never over the rows.
        """
        x = to_float_input(obs, self.config.input_mean, self.config.input_std)
        # Routing is decided on the host, from one copy of the paths: no per-module
        # device sync (bool()/nonzero() on a CUDA tensor), and the row indices are moved
        # to the observations' device, so the forward pass runs on any device.
        paths = self.check_paths(torch.as_tensor(paths).cpu())
        shared = paths.shape[0] == 1
        if not shared and paths.shape[0] != x.shape[0]:
            raise ValueError(f"{paths.shape[0]} paths for a batch of {x.shape[0]}")
        h = x
        for layer_index, layer in enumerate(self.layers):
            if layer_index == len(self.layers) - 1:
                h = h.flatten(1)
            genes = paths[:, layer_index, :]  # (B or 1, N), on the host
            out = None
            for m, module in enumerate(layer):
                use = (genes == m).any(dim=1)
                if shared:
                    if bool(use[0]):
                        y = F.relu(module(h))
                        out = y if out is None else out + y
                    continue
                rows = use.nonzero().squeeze(1)
                if rows.numel() == 0:
                    continue
                rows = rows.to(h.device, non_blocking=True)
                y = F.relu(module(h.index_select(0, rows)))
                if out is None:
                    out = h.new_zeros((h.shape[0], *y.shape[1:]))
                out = out.index_add(0, rows, y)
            h = out
        readout = self.readouts[task]
        return AgentOutput(readout["policy"](h), readout["value"](h).squeeze(-1))

    def fix_path(
        self, path: np.ndarray | torch.Tensor, next_num_actions: int | None = None
    ) -> None:
        """End a task: freeze ``path``'s modules, re-initialise every other free module.

        New readouts are added for the next task (``next_num_actions``, default the
        current count). Frozen modules stay usable by later paths; modules frozen by
        earlier tasks stay frozen and are not re-initialised.
        """
        path_t = self.check_paths(torch.as_tensor(path))[0]
        for layer_index, layer in enumerate(self.layers):
            for m in path_t[layer_index].unique().tolist():
                self.frozen[layer_index, m] = True
            for m, module in enumerate(layer):
                if bool(self.frozen[layer_index, m]):
                    module.requires_grad_(False)
                else:
                    init_orthogonal(module)
        self.fixed_paths.append(path_t.tolist())
        self.new_task(next_num_actions or self.num_actions)

    def module_parameters(self, path: np.ndarray | torch.Tensor) -> list[nn.Parameter]:
        """The trainable parameters on ``path`` plus the current readouts."""
        path_t = self.check_paths(torch.as_tensor(path))[0]
        params = []
        for layer_index, layer in enumerate(self.layers):
            for m in path_t[layer_index].unique().tolist():
                params += [p for p in layer[m].parameters() if p.requires_grad]
        return params + list(self.readouts[-1].parameters())

    def structure(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "task_actions": list(self.task_actions),
            "fixed_paths": self.fixed_paths,
        }

    @classmethod
    def from_structure(cls, structure: dict[str, Any]) -> PathNet:
        actions = list(structure["task_actions"])
        net = cls(PathNetConfig.from_dict(structure["config"]), actions[0])
        for n in actions[1:]:
            net.new_task(n)
        net.fixed_paths = [list(map(list, p)) for p in structure.get("fixed_paths", [])]
        return net

    @classmethod
    def load(cls, path: str) -> PathNet:
        """Load a saved PathNet; frozen modules and old readouts come back frozen."""
        return cls.load_file(path, "a PathNet")

    def describe(self) -> str:
        cfg = self.config
        lines = [
            f"PathNet: L={cfg.num_layers} M={cfg.modules_per_layer} N={cfg.active_per_layer}, "
            f"{len(self.readouts)} task readout(s), {len(self.fixed_paths)} fixed path(s)"
        ]
        for layer_index, layer in enumerate(self.layers):
            per = sum(p.numel() for p in layer[0].parameters())
            frozen = int(self.frozen[layer_index].sum())
            lines.append(
                f"  layer {layer_index}: {len(layer)} modules x {per:,} params, {frozen} frozen"
            )
        for t, readout in enumerate(self.readouts):
            n = sum(p.numel() for p in readout.parameters())
            state = "trainable" if t == self.task else "frozen"
            lines.append(f"  readout {t}: {n:,} params ({state}), actions={self.task_actions[t]}")
        t = sum(p.numel() for p in self.trainable_parameters())
        f = sum(p.numel() for p in self.frozen_parameters())
        lines.append(f"  total trainable {t:,}  frozen {f:,}")
        return "\n".join(lines)


# -- genetic operators -------------------------------------------------------------------


def random_path(rng: np.random.Generator, config: PathNetConfig) -> np.ndarray:
    """A path of N distinct modules per layer, drawn uniformly: shape (L, N)."""
    return np.stack(
        [
            rng.choice(config.modules_per_layer, size=config.active_per_layer, replace=False)
            for _ in range(config.num_layers)
        ]
    ).astype(np.int64)


def mutate(path: np.ndarray, rng: np.random.Generator, modules_per_layer: int) -> np.ndarray:
    """Each gene, with probability 1/(N*L), moves by a random integer in [-2, 2], clipped.

    Returns a new array; ``path`` is not modified.
    """
    path = np.asarray(path)
    num_layers, active = path.shape
    flip = rng.random(path.shape) < 1.0 / (active * num_layers)
    shift = rng.integers(-2, 3, size=path.shape)
    return np.clip(path + flip * shift, 0, modules_per_layer - 1).astype(np.int64)


def binary_tournament(fitness: Sequence[float], rng: np.random.Generator) -> tuple[int, int]:
    """Pick two distinct members at random; return (winner, loser) by fitness (ties: first)."""
    if len(fitness) < 2:
        raise ValueError("a tournament needs at least two members")
    a, b = rng.choice(len(fitness), size=2, replace=False)
    return (int(a), int(b)) if fitness[a] >= fitness[b] else (int(b), int(a))


def tournament_step(
    population: list[np.ndarray],
    fitness: Sequence[float],
    rng: np.random.Generator,
    modules_per_layer: int,
) -> tuple[list[np.ndarray], int, int]:
    """One binary tournament: the loser's path becomes a mutated copy of the winner's.

    Returns:
        (new population, winner index, loser index).
    """
    winner, loser = binary_tournament(fitness, rng)
    new = [p.copy() for p in population]
    new[loser] = mutate(population[winner], rng, modules_per_layer)
    return new, winner, loser
