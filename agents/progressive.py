"""The paper's column and progressive networks with lateral adapters (Rusu et al. 2016).

A :class:`ProgressiveNet` with one column is the paper's Atari column (baselines 1-3);
with two columns and a random frozen first column it is baseline 4.

Lateral adapter (paper, eq. 2): column k at layer i gets
``U_i^(k) f(V_i^(k) (alpha_{i-1} * h_{i-1}^(<k)))`` added to its own pre-activation.
Choices where the paper is open:

- ``alpha``: one learned scalar per (layer, earlier column), initial value
  ``ColumnConfig.alpha_init`` (the paper samples {1, 0.1, 0.01}; default 1: at 0.1 a
  trained column's laterals were about 3% of a layer's own input, see
  ``analysis.laterals`` and docs/pong_learning.md section 6).
- ``V``'s width is ``n_{i-1}``, the width of *one* column's layer i-1 (12 maps for conv
  inputs, 256 units for the dense input of the heads), whatever the number of earlier
  columns. For conv inputs V is a 1x1 convolution (also for the conv->fc step, whose
  V output is flattened); for dense inputs V is a linear layer, so V + f + U is the
  one-hidden-layer MLP of the paper.
- ``U`` has the shape of the layer it feeds (same kernel and stride for conv layers) and
  no bias (the layer has one).
- The first layer has no laterals. The output layer (policy logits and value, A + 1
  units) has one adapter whose U produces both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from agents.base import (
    INPUT_MEAN,
    INPUT_STD,
    Agent,
    AgentOutput,
    check_state_dict,
    init_orthogonal,
    to_float_input,
)

__all__ = ["ColumnConfig", "Column", "LateralAdapter", "ProgressiveNet", "LAYERS"]

LAYERS = ("conv1", "conv2", "conv3", "fc", "policy", "value")


@dataclass(frozen=True)
class ColumnConfig:
    """Shape of one column (defaults: the paper's Atari column).

    Attributes:
        in_channels: stacked input frames (4 grayscale; 12 for 4 RGB frames).
        input_size: input height = width in pixels.
        conv_channels: feature maps of conv1..conv3 (paper: 12, 12, 12).
        kernels: (kernel, stride) of conv1..conv3 (paper: 8/4, 4/2, 3/1).
        hidden: units of the fully connected layer (paper: 256).
        alpha_init: initial value of every lateral scale alpha.
        input_mean: observations in [0, 1] are standardised to ``(x - input_mean) /
            input_std`` before the first layer (see ``agents.base.INPUT_MEAN``).
        input_std: see ``input_mean``.
    """

    in_channels: int = 4
    input_size: int = 84
    conv_channels: tuple[int, int, int] = (12, 12, 12)
    kernels: tuple[tuple[int, int], ...] = ((8, 4), (4, 2), (3, 1))
    hidden: int = 256
    alpha_init: float = 1.0
    input_mean: float = INPUT_MEAN
    input_std: float = INPUT_STD

    def __post_init__(self) -> None:
        if not self.input_std > 0:
            raise ValueError(f"input_std must be positive, got {self.input_std}")
        if self.in_channels < 1 or self.hidden < 1 or min(self.conv_channels) < 1:
            raise ValueError(f"widths must be positive: {self}")
        if len(self.conv_channels) != 3 or len(self.kernels) != 3:
            raise ValueError("a column has exactly three conv layers")
        if self.conv_output_size < 1:
            raise ValueError(f"input_size {self.input_size} is too small for the kernels")

    @property
    def conv_output_size(self) -> int:
        size = self.input_size
        for kernel, stride in self.kernels:
            size = (size - kernel) // stride + 1
        return size

    @property
    def flat_size(self) -> int:
        return self.conv_channels[2] * self.conv_output_size**2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnConfig:
        data = dict(data)
        data["conv_channels"] = tuple(data["conv_channels"])
        data["kernels"] = tuple(tuple(k) for k in data["kernels"])
        return cls(**data)


class Column(nn.Module):
    """One column: conv 8x8/4, conv 4x4/2, conv 3x3/1, fc, policy and value heads."""

    def __init__(self, config: ColumnConfig, num_actions: int) -> None:
        super().__init__()
        if num_actions < 1:
            raise ValueError(f"num_actions must be positive, got {num_actions}")
        c = config.conv_channels
        (k1, s1), (k2, s2), (k3, s3) = config.kernels
        self.conv1 = nn.Conv2d(config.in_channels, c[0], k1, s1)
        self.conv2 = nn.Conv2d(c[0], c[1], k2, s2)
        self.conv3 = nn.Conv2d(c[1], c[2], k3, s3)
        self.fc = nn.Linear(config.flat_size, config.hidden)
        init_orthogonal(self)
        self.to(memory_format=torch.channels_last)
        self.num_actions = num_actions
        self.reset_heads(num_actions)

    def reset_heads(self, num_actions: int) -> None:
        """New policy and value heads (for a task with another action set)."""
        hidden = self.fc.out_features
        self.policy = nn.Linear(hidden, num_actions)
        self.value = nn.Linear(hidden, 1)
        init_orthogonal(self.policy, gain=0.01)
        init_orthogonal(self.value, gain=1.0)
        self.num_actions = num_actions

    def trunk_parameters(self) -> list[nn.Parameter]:
        return [p for m in (self.conv1, self.conv2, self.conv3, self.fc) for p in m.parameters()]


class LateralAdapter(nn.Module):
    """``U f(V (alpha * h_earlier))`` from the earlier columns' layer i-1 into layer i.

    Args:
        kind: ``conv`` (V 1x1 conv, U conv like the layer), ``conv_to_dense`` (V 1x1
            conv then flatten, U linear) or ``dense`` (V and U linear).
        in_width: width of one column's layer i-1 (channels or units).
        num_earlier: number of earlier columns (one alpha each).
        out_width: width of layer i.
        alpha_init: initial alpha.
        kernel: (kernel, stride) of layer i, for ``conv``.
        spatial: side of layer i-1's maps, for ``conv_to_dense``.
    """

    def __init__(
        self,
        kind: str,
        in_width: int,
        num_earlier: int,
        out_width: int,
        alpha_init: float,
        kernel: tuple[int, int] = (1, 1),
        spatial: int = 1,
    ) -> None:
        super().__init__()
        if num_earlier < 1:
            raise ValueError("a lateral adapter needs at least one earlier column")
        self.kind = kind
        self.alpha = nn.Parameter(torch.full((num_earlier,), float(alpha_init)))
        if kind == "conv":
            self.V = nn.Conv2d(in_width * num_earlier, in_width, 1)
            self.U = nn.Conv2d(in_width, out_width, kernel[0], kernel[1], bias=False)
        elif kind == "conv_to_dense":
            self.V = nn.Conv2d(in_width * num_earlier, in_width, 1)
            self.U = nn.Linear(in_width * spatial * spatial, out_width, bias=False)
        elif kind == "dense":
            self.V = nn.Linear(in_width * num_earlier, in_width)
            self.U = nn.Linear(in_width, out_width, bias=False)
        else:
            raise ValueError(f"unknown adapter kind {kind!r}")
        init_orthogonal(self)
        self.to(memory_format=torch.channels_last)

    def forward(self, earlier: list[torch.Tensor]) -> torch.Tensor:
        # V(cat_j(alpha_j h_j)) == V'(cat_j h_j) with V's input slices scaled by alpha_j:
        # whichever of weight and activations is smaller gets scaled (exact either way).
        x = earlier[0] if len(earlier) == 1 else torch.cat(earlier, dim=1)
        scale = self.alpha.repeat_interleave(x.shape[1] // self.alpha.numel())
        weight = self.V.weight.flatten(1)
        if x.numel() < weight.numel():  # dense V over a small batch
            x, scale = x * scale.view(1, -1, *([1] * (x.dim() - 2))), None
        if scale is not None:
            weight = weight * scale.view(1, -1)
        if isinstance(self.V, nn.Conv2d):
            # a 1x1 convolution is a matrix product over the channels of a channels-last
            # tensor (permute gives a view); oneDNN's 1x1 backward is slower than the mm
            hidden = F.linear(x.permute(0, 2, 3, 1), weight, self.V.bias).permute(0, 3, 1, 2)
        else:
            hidden = F.linear(x, weight, self.V.bias)
        hidden = F.relu(hidden)
        if self.kind == "conv_to_dense":
            hidden = hidden.flatten(1)
        return self.U(hidden)


class _SharedInputConv(torch.autograd.Function):
    """``relu(conv2d)`` of one input with frozen and trainable filters stacked.

    Every column's first layer reads the same observation, so the K conv1 layers run as
    one convolution with ``K * c1`` filters (better vectorised on CPU than K narrow
    ones). Returns ``(frozen_maps, trainable_maps)``, both contiguous; the frozen maps
    carry no gradient, and the backward pass computes gradients for the trainable
    filters only.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, frozen_weight, frozen_bias, stride):  # noqa: ANN001
        out = F.relu_(
            F.conv2d(x, torch.cat([frozen_weight, weight]), torch.cat([frozen_bias, bias]), stride)
        )
        split = frozen_weight.shape[0]
        cl = torch.channels_last
        frozen = out[:, :split].contiguous(memory_format=cl)
        trainable = out[:, split:].contiguous(memory_format=cl)
        ctx.save_for_backward(x, weight, trainable)
        ctx.stride = stride
        ctx.mark_non_differentiable(frozen)
        ctx.set_materialize_grads(False)  # no zero gradient for the frozen maps
        return frozen, trainable

    @staticmethod
    def backward(ctx, _grad_frozen, grad):  # noqa: ANN001
        x, weight, out = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if grad is None or not (need_x or need_w or need_b):
            return None, None, None, None, None, None
        grad = torch.ops.aten.threshold_backward(grad, out, 0.0)  # through the ReLU
        gx, gw, gb = torch.ops.aten.convolution_backward(
            grad.contiguous(memory_format=torch.channels_last),
            x,
            weight,
            [weight.shape[0]],
            [ctx.stride, ctx.stride],
            [0, 0],
            [1, 1],
            False,
            [0, 0],
            1,
            [need_x, need_w, need_b],
        )
        return gx, gw, gb, None, None, None


class ProgressiveNet(Agent):
    """K columns with lateral adapters; the newest column is the one being trained.

    Example:
        >>> net = ProgressiveNet(ColumnConfig(), num_actions=6)
        >>> net.add_column(num_actions=3)
        >>> out = net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8))
        >>> out.logits.shape, out.value.shape
        (torch.Size([2, 3]), torch.Size([2]))
    """

    kind = "progressive"

    def __init__(self, config: ColumnConfig, num_actions: int) -> None:
        super().__init__()
        self.config = config
        self.columns = nn.ModuleList([Column(config, num_actions)])
        self.adapters = nn.ModuleList([nn.ModuleDict()])

    # -- structure -----------------------------------------------------------------------
    @property
    def num_columns(self) -> int:
        return len(self.columns)

    @property
    def num_actions(self) -> int:
        return self.columns[-1].num_actions

    def _make_adapters(self, num_earlier: int, num_actions: int) -> nn.ModuleDict:
        c, cfg = self.config.conv_channels, self.config
        a = cfg.alpha_init
        return nn.ModuleDict(
            {
                "conv2": LateralAdapter("conv", c[0], num_earlier, c[1], a, cfg.kernels[1]),
                "conv3": LateralAdapter("conv", c[1], num_earlier, c[2], a, cfg.kernels[2]),
                "fc": LateralAdapter(
                    "conv_to_dense", c[2], num_earlier, cfg.hidden, a, spatial=cfg.conv_output_size
                ),
                # the output layer (policy logits and value together) gets one adapter
                "heads": LateralAdapter("dense", cfg.hidden, num_earlier, num_actions + 1, a),
            }
        )

    def freeze(self) -> None:
        """Freeze every existing parameter (columns and adapters)."""
        for p in self.parameters():
            p.requires_grad_(False)

    def add_column(self, num_actions: int | None = None) -> None:
        """Freeze everything that exists and add a new trainable column with its adapters."""
        num_actions = num_actions or self.num_actions
        self.freeze()
        k = self.num_columns
        self.columns.append(Column(self.config, num_actions))
        self.adapters.append(self._make_adapters(k, num_actions))

    def freeze_trunk(self, column: int = -1) -> None:
        """Freeze a column's conv and fc layers, keep its heads trainable (baseline 2)."""
        for p in self.columns[column].trunk_parameters():
            p.requires_grad_(False)

    def reset_heads(self, num_actions: int) -> None:
        """New heads for the newest column (and its head adapters)."""
        self.columns[-1].reset_heads(num_actions)
        if self.num_columns > 1:
            fresh = self._make_adapters(self.num_columns - 1, num_actions)
            self.adapters[-1]["heads"] = fresh["heads"]

    # -- forward -------------------------------------------------------------------------
    def column_activations(
        self,
        obs: torch.Tensor,
        upto: int | None = None,
        hook: Callable[[int, str, torch.Tensor], torch.Tensor] | None = None,
    ) -> list[dict[str, torch.Tensor]]:
        """Per column (0..upto), the post-activation outputs of every layer and the heads.

        Keys: ``conv1``, ``conv2``, ``conv3``, ``fc`` (after ReLU), ``policy`` (logits),
        ``value`` (B, 1). Earlier columns whose parameters are frozen build no autograd
        graph (their inputs and weights need no gradient).

        ``hook(column, layer, h)``, if given, may replace each hidden activation (conv1..fc)
        before it is used by its own column and by the laterals: the analysis uses it to
        read gradients (AFS) and to inject noise (APS).
        """
        x = to_float_input(obs, self.config.input_mean, self.config.input_std)
        upto = self.num_columns - 1 if upto is None else upto % self.num_columns
        acts: list[dict[str, torch.Tensor]] = []
        for k in range(upto + 1):
            col, ad = self.columns[k], self.adapters[k]

            def lateral(name: str, prev: str, ad=ad) -> torch.Tensor:
                return ad[name]([a[prev] for a in acts])

            def out(layer: str, value: torch.Tensor, k=k) -> torch.Tensor:
                return hook(k, layer, value) if hook is not None else value

            def layer(pre: torch.Tensor, name: str, prev: str) -> torch.Tensor:
                # in place: a fresh pre-activation, not needed by any backward formula
                return F.relu_(pre.add_(lateral(name, prev)) if acts else pre)

            h: dict[str, torch.Tensor] = {}
            h["conv1"] = out("conv1", F.relu_(col.conv1(x)))
            h["conv2"] = out("conv2", layer(col.conv2(h["conv1"]), "conv2", "conv1"))
            h["conv3"] = out("conv3", layer(col.conv3(h["conv2"]), "conv3", "conv2"))
            h["fc"] = out("fc", layer(col.fc(h["conv3"].flatten(1)), "fc", "conv3"))
            h["policy"] = col.policy(h["fc"])
            h["value"] = col.value(h["fc"])
            if acts:
                heads = ad["heads"]([a["fc"] for a in acts])
                h["policy"] = h["policy"] + heads[:, : col.num_actions]
                h["value"] = h["value"] + heads[:, col.num_actions :]
            acts.append(h)
        return acts

    def forward(
        self,
        obs: torch.Tensor,
        column: int = -1,
        hook: Callable[[int, str, torch.Tensor], torch.Tensor] | None = None,
    ) -> AgentOutput:
        """Policy logits and value of ``column`` (default: the newest).

        The newest column of a net whose earlier columns are frozen (or any net when
        gradients are off) goes through :meth:`_forward_newest`, which computes the same
        numbers faster; ``hook`` and earlier columns use :meth:`column_activations`.
        """
        newest = column in (-1, self.num_columns - 1)
        if hook is None and newest and self.num_columns > 1 and self._earlier_frozen():
            return self._forward_newest(obs)
        h = self.column_activations(obs, upto=column, hook=hook)[-1]
        return AgentOutput(h["policy"], h["value"].squeeze(-1))

    def _earlier_frozen(self) -> bool:
        if not torch.is_grad_enabled():
            return True
        earlier = [*self.columns[:-1], *self.adapters[:-1]]
        return not any(p.requires_grad for m in earlier for p in m.parameters())

    def _forward_newest(self, obs: torch.Tensor) -> AgentOutput:
        """The newest column's output, with the frozen columns computed without autograd.

        Equal to ``column_activations(obs)[-1]`` up to float rounding (tested), but:
        all conv1 layers run as one convolution (:class:`_SharedInputConv`); the earlier
        columns build no graph, skip their own heads (only their hidden layers feed the
        newest column) and run layer by layer, all earlier columns at once
        (:meth:`_frozen_layers`); the newest column's laterals read those stacked maps
        directly, with no concatenation.
        """
        x = to_float_input(obs, self.config.input_mean, self.config.input_std)
        k = self.num_columns - 1
        new, ad = self.columns[k], self.adapters[k]
        fused = self._fused_frozen_weights()
        frozen_h1, new_h1 = _SharedInputConv.apply(
            x, new.conv1.weight, new.conv1.bias, *fused["conv1"], new.conv1.stride[0]
        )
        with torch.no_grad():
            frozen = self._frozen_layers(frozen_h1, fused)
        h2 = F.relu_(new.conv2(new_h1).add_(ad["conv2"]([frozen["conv1"]])))
        h3 = F.relu_(new.conv3(h2).add_(ad["conv3"]([frozen["conv2"]])))
        hfc = F.relu_(new.fc(h3.flatten(1)).add_(ad["fc"]([frozen["conv3"]])))
        heads = ad["heads"]([frozen["fc"]])
        logits = new.policy(hfc) + heads[:, : new.num_actions]
        value = new.value(hfc) + heads[:, new.num_actions :]
        return AgentOutput(logits, value.squeeze(-1))

    def _frozen_layers(
        self, h1: torch.Tensor, fused: dict[str, tuple[torch.Tensor | None, ...]]
    ) -> dict[str, torch.Tensor]:
        """All earlier columns' hidden layers at once, from their stacked conv1 maps.

        Layer i of every column depends only on layer i-1 of the columns, so each layer is
        a grouped convolution (own weights, one group per column) plus the laterals: one
        1x1 convolution with a block-lower-triangular V (column j reads columns < j),
        ReLU, a grouped U. The dense layer is the same with batched matrix products.
        Returns the stacked maps per layer, columns in order along channels (``fc``:
        (B, k * hidden)).
        """
        k = self.num_columns - 1
        out = {"conv1": h1}
        prev = h1
        for name in ("conv2", "conv3"):
            w, b, v_w, v_b, u_w = fused[name]
            conv = self.columns[0]
            stride = getattr(conv, name).stride
            pre = F.conv2d(prev, w, b, stride, groups=k)
            if k > 1:
                lat = F.conv2d(F.relu_(F.conv2d(prev, v_w, v_b)), u_w, None, stride, groups=k - 1)
                width = pre.shape[1] // k
                pre[:, width:].add_(lat)
            prev = out[name] = F.relu_(pre)
        w, b, v_w, v_b, u_w = fused["fc"]
        batch = prev.shape[0]
        flat = prev.reshape(batch, k, -1).transpose(0, 1)  # (k, B, c3 * s * s), NCHW order
        pre = torch.baddbmm(b, flat, w)  # (k, B, hidden)
        if k > 1:
            hidden = F.relu_(F.conv2d(prev, v_w, v_b)).reshape(batch, k - 1, -1)
            pre[1:].add_(torch.bmm(hidden.transpose(0, 1), u_w))
        out["fc"] = F.relu_(pre).transpose(0, 1).reshape(batch, -1)
        return out

    def _fused_frozen_weights(self) -> dict[str, tuple[torch.Tensor | None, ...]]:
        """The earlier columns' weights stacked for :meth:`_frozen_layers` (cached).

        The cache key is every earlier parameter's identity and version counter, so any
        in-place change (``load_state_dict``, an optimizer step) rebuilds it.
        """
        k = self.num_columns - 1
        cols, ads = self.columns[:k], self.adapters[:k]
        params = [p for m in (*cols, *ads) for p in m.parameters()]
        key = tuple((id(p), p.data_ptr(), p._version) for p in params)
        cache = self.__dict__.get("_fused_cache")
        if cache is not None and cache[0] == key:
            return cache[1]
        cl = torch.channels_last
        fused: dict[str, tuple[torch.Tensor | None, ...]] = {}
        with torch.no_grad():
            fused["conv1"] = (
                torch.cat([c.conv1.weight for c in cols]),
                torch.cat([c.conv1.bias for c in cols]),
            )
            for name, prev in (("conv2", "conv1"), ("conv3", "conv2"), ("fc", "conv3")):
                width = getattr(cols[0], prev).out_channels
                v_w = v_b = u_w = None
                if k > 1:
                    # on the device and dtype of the weights (a CUDA learner, a meta test)
                    v_w = cols[0].conv1.weight.new_zeros(width * (k - 1), width * k, 1, 1)
                    for j in range(1, k):
                        adapter = ads[j][name]
                        scale = adapter.alpha.repeat_interleave(width).view(1, -1, 1, 1)
                        v_w[(j - 1) * width : j * width, : j * width] = adapter.V.weight * scale
                    v_w = v_w.contiguous(memory_format=cl)
                    v_b = torch.cat([ads[j][name].V.bias for j in range(1, k)])
                if name == "fc":
                    w = torch.stack([c.fc.weight.t() for c in cols])
                    b = torch.stack([c.fc.bias for c in cols]).unsqueeze(1)
                    if k > 1:
                        u_w = torch.stack([ads[j]["fc"].U.weight.t() for j in range(1, k)])
                else:
                    w = torch.cat([getattr(c, name).weight for c in cols]).contiguous(
                        memory_format=cl
                    )
                    b = torch.cat([getattr(c, name).bias for c in cols])
                    if k > 1:
                        u_w = torch.cat([ads[j][name].U.weight for j in range(1, k)])
                        u_w = u_w.contiguous(memory_format=cl)
                fused[name] = (w, b, v_w, v_b, u_w)
        self.__dict__["_fused_cache"] = (key, fused)
        return fused

    # -- save / load / describe ----------------------------------------------------------
    def structure(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "column_actions": [c.num_actions for c in self.columns],
        }

    @classmethod
    def from_structure(cls, structure: dict[str, Any]) -> ProgressiveNet:
        actions = list(structure["column_actions"])
        net = cls(ColumnConfig.from_dict(structure["config"]), actions[0])
        for n in actions[1:]:
            net.add_column(n)
        return net

    @classmethod
    def load(cls, path: str, trainable: bool = False) -> ProgressiveNet:
        """Load a saved progressive net / column file (``weights_only=True``).

        With ``trainable=False`` every loaded parameter is frozen; otherwise the
        trainable flags saved in the file are restored.
        """
        return cls.load_file(path, "a progressive net", trainable)

    def load_columns(self, path: str) -> None:
        """Copy the weights of ``path``'s columns into this net's first columns (frozen).

        Raises:
            ShapeMismatchError: when a tensor does not fit (wrong input channels, or a
                column whose action count differs), naming the tensor.
        """
        source = ProgressiveNet.load(path)
        if source.num_columns >= self.num_columns:
            raise ValueError(
                f"{path} has {source.num_columns} columns; this net has {self.num_columns}, "
                "so no column would be left to train"
            )
        check_state_dict(self.state_dict(), source.state_dict(), f"file {path}", allow_missing=True)
        self.load_state_dict(source.state_dict(), strict=False)
        for k in range(source.num_columns):
            for p in list(self.columns[k].parameters()) + list(self.adapters[k].parameters()):
                p.requires_grad_(False)

    def describe(self) -> str:
        lines = [f"ProgressiveNet: {self.num_columns} column(s), config {self.config}"]
        total_t = total_f = 0
        for k in range(self.num_columns):
            for label, mod in (("column", self.columns[k]), ("adapters", self.adapters[k])):
                params = list(mod.parameters())
                if not params:
                    continue
                t = sum(p.numel() for p in params if p.requires_grad)
                f = sum(p.numel() for p in params if not p.requires_grad)
                total_t, total_f = total_t + t, total_f + f
                extra = f" actions={self.columns[k].num_actions}" if label == "column" else ""
                lines.append(f"  {label:<8} {k}: trainable {t:>9,}  frozen {f:>9,}{extra}")
        lines.append(f"  total      trainable {total_t:>9,}  frozen {total_f:>9,}")
        return "\n".join(lines)
