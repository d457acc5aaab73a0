"""Dynamically Expandable Networks (Yoon et al., ICLR 2018) on the paper's column, for RL.

A :class:`DENNet` is the paper's Atari column (conv 8x8/4, conv 4x4/2, conv 3x3/1, fc
256) that grows across a sequence of tasks, with one policy+value head per task. The
supervised method of the paper is adapted to actor-critic RL as described in
``docs/den.md``; this module holds the network and DEN's three operations, each a
separate method with its own tests:

- :meth:`DENNet.select_subnetwork`: selective retraining's breadth-first search from the
  new task's (sparse) head down to every unit with a non-zero path to it;
- :meth:`DENNet.expand` and :meth:`DENNet.prune_expansion`: dynamic expansion by ``k``
  units (feature maps in conv layers) per layer, and removal of the added units whose
  group (incoming weights and bias) went to zero under group sparsity;
- :meth:`DENNet.split_drifted`: split/duplicate by drift; a retrained old unit whose
  incoming weights moved more than ``sigma`` is duplicated (the copy keeps the new
  weights and serves the new task), every other old unit gets its old weights back.

**Units, rows and timestamps.** Each layer has *slots* (the units a layer presents to the
next one, in order of birth; a slot never moves) and *rows* (weight vectors: a row is one
unit's incoming weights and bias). ``slot_row[t, s]`` is the row that plays slot ``s``
for task ``t`` (-1: task ``t`` does not use the slot). A split adds a row, not a slot: the
duplicate plays the original's slot for the new task and every later one, the original
keeps playing it for the earlier tasks (DEN's duplicate takes over the original's
connections for the new task). Every slot carries the task at which it was born and every
row the task from which it exists (``row_from``); a row reads only slots born at or before
its own task, so units of task ``j`` never see units added later, and task ``j`` computes
with exactly the slots born up to ``j`` (a prefix: slots are appended). After a task's
run, every row of an earlier task holds its old weights bit for bit (the split restores
them), so earlier tasks' outputs are bit-identical (tested).

**Fixed shapes within a run.** RLlib syncs weights between the learner and the env
runners by state dict, so a run's tensors cannot change shape: :meth:`DENNet.add_task`
allocates, up front, ``k`` new rows and slots per layer (the expansion) and one spare row
per old slot (the most splits a layer can have). The phases switch masks (``slot_row``,
``train_rows``), never shapes; :meth:`DENNet.compact` drops what the task did not use
before the network is saved.

Example:
    >>> net = DENNet(ColumnConfig(), num_actions=6)
    >>> net.add_task(num_actions=3)
    >>> net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).logits.shape
    torch.Size([2, 3])
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from agents.base import Agent, AgentOutput, to_float_input
from agents.den_config import EXPAND, FINAL, HEAD, PHASES, SELECTIVE, SOURCE, DENConfig
from agents.progressive import ColumnConfig

__all__ = ["DENConfig", "DENNet", "PHASES", "LAYERS"]

LAYERS = ("conv1", "conv2", "conv3", "fc")


def _orthogonal(shape: tuple[int, ...], gain: float) -> torch.Tensor:
    return nn.init.orthogonal_(torch.empty(shape[0], math.prod(shape[1:])), gain=gain).view(shape)


class DENNet(Agent):
    """The paper's column, grown by DEN across tasks; one policy+value head per task.

    Args:
        config: the column's shape (``conv_channels`` and ``hidden`` are task 0's widths;
            ``alpha_init`` is unused).
        num_actions: task 0's action count.
        den: DEN's constants.
    """

    kind = "den"

    def __init__(self, config: ColumnConfig, num_actions: int, den: DENConfig | None = None):
        super().__init__()
        self.config = config
        self.den = den or DENConfig()
        widths = [*config.conv_channels, config.hidden]
        self._allocate(
            slot_born=[[0] * w for w in widths],
            row_from=[[0] * w for w in widths],
            task_actions=[num_actions],
        )
        with torch.no_grad():
            for name in LAYERS:
                w = self.weights[name]
                w.copy_(_orthogonal(tuple(w.shape), 2**0.5))
                self.biases[name].zero_()
                self._slot_row(name)[0] = torch.arange(w.shape[0])
            self._init_head(0)
        self._set_phase(SOURCE)
        self.train_rows_all(True)
        self.snapshot()

    # -- allocation ----------------------------------------------------------------------
    def _allocate(
        self, slot_born: list[list[int]], row_from: list[list[int]], task_actions: list[int]
    ) -> None:
        """Zero tensors of the given structure (slots, rows, tasks); no initialisation."""
        cfg = self.config
        self.task_actions = list(task_actions)
        self.slot_born = [list(map(int, b)) for b in slot_born]
        self.row_from = [list(map(int, r)) for r in row_from]
        tasks = len(task_actions)
        self.weights = nn.ParameterDict()
        self.biases = nn.ParameterDict()
        self.spatial = cfg.conv_output_size
        in_slots = cfg.in_channels
        for i, name in enumerate(LAYERS):
            rows, slots = len(self.row_from[i]), len(self.slot_born[i])
            if name == "fc":
                shape: tuple[int, ...] = (rows, in_slots * self.spatial**2)
            else:
                kernel = cfg.kernels[i][0]
                shape = (rows, in_slots, kernel, kernel)
            self.weights[name] = nn.Parameter(torch.zeros(shape))
            self.biases[name] = nn.Parameter(torch.zeros(rows))
            # persistent: what changes within a run (RLlib syncs and checkpoints them)
            self.register_buffer(f"slot_row_{name}", torch.full((tasks, slots), -1))
            self.register_buffer(f"train_rows_{name}", torch.zeros(rows, dtype=torch.bool))
            self.register_buffer(f"selected_{name}", torch.zeros(slots, dtype=torch.bool))
            # constants of the structure, as tensors for the masks
            self.register_buffer(
                f"born_{name}", torch.tensor(self.slot_born[i], dtype=torch.long), persistent=False
            )
            self.register_buffer(
                f"from_{name}", torch.tensor(self.row_from[i], dtype=torch.long), persistent=False
            )
            in_slots = slots
        # head j reads the top-layer slots task j computes with
        self.heads = nn.ModuleList(
            nn.Linear(self._prefix(len(LAYERS) - 1, j), a + 1) for j, a in enumerate(task_actions)
        )
        for head in self.heads:
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.register_buffer("phase", torch.zeros((), dtype=torch.long))
        # per task: [expanded (1/0, nan before the test), score at the expansion test]
        self.register_buffer("decisions", torch.full((tasks, 2), float("nan")))

    def _init_head(self, task: int) -> None:
        head, actions = self.heads[task], self.task_actions[task]
        with torch.no_grad():
            width = head.weight.shape[1]
            head.weight[:actions] = _orthogonal((actions, width), 0.01)
            head.weight[actions:] = _orthogonal((1, width), 1.0)
            head.bias.zero_()

    def snapshot(self) -> None:
        """Remember every weight as it is now: the "before" of drift, split and reset."""
        for name in LAYERS:
            self.register_buffer(
                f"old_w_{name}", self.weights[name].detach().clone(), persistent=False
            )
            self.register_buffer(
                f"old_b_{name}", self.biases[name].detach().clone(), persistent=False
            )

    # -- phase -----------------------------------------------------------------------------
    @property
    def phase_index(self) -> int:
        """The current phase (index into :data:`PHASES`), without reading a tensor (the
        ``phase`` buffer is its persistent copy, synced and checkpointed by RLlib)."""
        return self._phase

    def _set_phase(self, phase: int) -> None:
        self._phase = int(phase)
        self.phase.fill_(phase)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + "phase" in state_dict:
            self._phase = int(state_dict[prefix + "phase"])

    # -- structure accessors ---------------------------------------------------------------
    @property
    def num_tasks(self) -> int:
        return len(self.task_actions)

    @property
    def num_actions(self) -> int:
        return self.task_actions[-1]

    @property
    def task(self) -> int:
        """The task being trained (the newest)."""
        return self.num_tasks - 1

    def _slot_row(self, name: str) -> torch.Tensor:
        return getattr(self, f"slot_row_{name}")

    def _train_rows(self, name: str) -> torch.Tensor:
        return getattr(self, f"train_rows_{name}")

    def _selected(self, name: str) -> torch.Tensor:
        return getattr(self, f"selected_{name}")

    def train_rows_all(self, value: bool) -> None:
        for name in LAYERS:
            self._train_rows(name).fill_(value)

    def _prefix(self, index: int, task: int) -> int:
        """Slots of layer ``index`` that task ``task`` computes with (born <= task)."""
        if task == self.task:
            return len(self.slot_born[index])
        return sum(1 for b in self.slot_born[index] if b <= task)

    # -- forward -------------------------------------------------------------------------
    def _task_weight(self, i: int, task: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Layer ``i``'s weight, bias and active-slot mask as task ``task`` uses them."""
        name = LAYERS[i]
        n = self._prefix(i, task)
        rows = self._slot_row(name)[task, :n]
        active = rows >= 0
        idx = rows.clamp(min=0)
        w, b = self.weights[name], self.biases[name]
        if task == self.task and torch.is_grad_enabled():
            # only the rows being trained get gradients; the rest are read as constants
            # (zero gradients leave RMSProp without momentum bit-exact on them)
            train = self._train_rows(name)
            w = torch.where(train.view(-1, *([1] * (w.dim() - 1))), w, w.detach())
            b = torch.where(train, b, b.detach())
        w, b = w[idx], b[idx]
        if i > 0:
            m = self._prefix(i - 1, task)
            conn = self._weight_mask(name, self._allowed(i)[idx, :m])
            w = w[:, : conn.shape[1]] * conn.to(w.dtype)
        return w, b, active

    def _allowed(self, i: int) -> torch.Tensor:
        """(rows, slots below) bool: the timestamps let row r of layer ``i`` read slot s of
        layer ``i - 1`` (born at or before the row's task)."""
        born_in = getattr(self, f"born_{LAYERS[i - 1]}")
        return born_in.unsqueeze(0) <= getattr(self, f"from_{LAYERS[i]}").unsqueeze(1)

    def _weight_mask(self, name: str, allowed: torch.Tensor) -> torch.Tensor:
        """A (rows, slots) mask in the layout of ``name``'s weight: each slot's
        ``spatial**2`` flattened inputs for fc, a broadcast over the kernel for convs."""
        if name == "fc":
            return allowed.repeat_interleave(self.spatial**2, dim=1)
        return allowed[:, :, None, None]

    def hidden(self, obs: torch.Tensor, task: int = -1) -> dict[str, torch.Tensor]:
        """Post-ReLU activations of every layer for ``task`` (units it does not use: 0)."""
        task = task % self.num_tasks
        h = to_float_input(obs, self.config.input_mean, self.config.input_std)
        out: dict[str, torch.Tensor] = {}
        for i, name in enumerate(LAYERS):
            w, b, active = self._task_weight(i, task)
            if name == "fc":
                h = F.linear(h.flatten(1), w, b)
                mask = active
            else:
                stride = self.config.kernels[i][1]
                h = F.conv2d(h, w, b, stride)
                mask = active.view(1, -1, 1, 1)
            h = out[name] = F.relu(h) * mask.to(h.dtype)
        return out

    def forward(self, obs: torch.Tensor, task: int = -1) -> AgentOutput:
        """Policy logits and value of ``task`` (default: the newest)."""
        task = task % self.num_tasks
        h = self.hidden(obs, task)["fc"]
        out = self.heads[task](h)
        actions = self.task_actions[task]
        return AgentOutput(out[:, :actions], out[:, actions])

    # -- a new task ----------------------------------------------------------------------
    def add_task(self, num_actions: int | None = None) -> None:
        """Start a new task: allocate its head, ``k`` new units per layer and one spare row
        per old slot (for splits), and snapshot the weights. Phase: fitting the head.

        Earlier heads are frozen (``requires_grad`` False); the layer weights stay
        trainable, with only the rows of :attr:`train_rows` getting gradients.
        """
        num_actions = num_actions or self.num_actions
        t = self.num_tasks
        k = self.den.k
        old = {n: (self.weights[n].detach(), self.biases[n].detach()) for n in LAYERS}
        old_slot_row = {n: self._slot_row(n).clone() for n in LAYERS}
        old_heads = [(h.weight.detach(), h.bias.detach()) for h in self.heads]
        old_slots = [len(b) for b in self.slot_born]
        old_rows = [len(r) for r in self.row_from]
        decisions = self.decisions.clone()
        slot_born = [b + [t] * k for b in self.slot_born]
        row_from = [r + [t] * (k + s) for r, s in zip(self.row_from, old_slots, strict=True)]
        device = self.weights["conv1"].device
        self._allocate(slot_born, row_from, [*self.task_actions, num_actions])
        self.to(device)
        with torch.no_grad():
            in_old = self.config.in_channels
            for i, name in enumerate(LAYERS):
                w_old, b_old = old[name]
                w, b = self.weights[name], self.biases[name]
                r, s = old_rows[i], old_slots[i]
                cols = in_old * (self.spatial**2 if name == "fc" else 1)
                w[:r, :cols] = w_old
                b[:r] = b_old
                # the k new units: fresh orthogonal rows over every slot below
                w[r : r + k] = _orthogonal((k, *w.shape[1:]), 2**0.5).to(w)
                sr = self._slot_row(name)
                sr[:t, :s] = old_slot_row[name]
                sr[t, :s] = old_slot_row[name][t - 1]  # the newest versions of old units
                in_old = s
            for j, (hw, hb) in enumerate(old_heads):
                self.heads[j].weight.copy_(hw)
                self.heads[j].bias.copy_(hb)
                self.heads[j].requires_grad_(False)
            self._init_head(t)
            self.decisions[:t] = decisions
        self._set_phase(HEAD)
        self.train_rows_all(False)
        self.snapshot()

    # -- the three operations ------------------------------------------------------------
    def select_subnetwork(self) -> dict[str, int]:
        """Selective retraining's breadth-first search (from the head down).

        A slot of the top layer is selected when the new head has a weight of magnitude
        above ``zero_eps`` from it; a slot of a lower layer when a selected unit above has
        such a weight from it (any kernel position, for conv layers). Only units the task
        uses, and only connections the timestamps allow, count. Sets the selection and
        makes the selected units' current rows (and the head) the trainable ones.

        Returns:
            Selected units per layer.
        """
        t, eps = self.task, self.den.zero_eps
        with torch.no_grad():
            head = self.heads[t].weight
            rows_fc = self._slot_row("fc")[t]
            selected = (head.abs() > eps).any(0) & (rows_fc >= 0)
            self._selected("fc").copy_(selected)
            for i in range(len(LAYERS) - 1, 0, -1):
                name, below = LAYERS[i], LAYERS[i - 1]
                w, _, _ = self._task_weight(i, t)  # masked by the timestamps
                w = w[selected]
                if name == "fc":
                    w = w.view(w.shape[0], w.shape[1] // self.spatial**2, self.spatial**2)
                # a unit below is reached through any weight (kernel position) above eps
                reach = (w.abs() > eps).flatten(2).any(2).any(0)
                selected = reach & (self._slot_row(below)[t] >= 0)
                self._selected(below).copy_(selected)
            self.train_rows_all(False)
            for name in LAYERS:
                rows = self._slot_row(name)[t][self._selected(name)]
                self._train_rows(name)[rows] = True
        return {name: int(self._selected(name).sum()) for name in LAYERS}

    def expand(self) -> dict[str, int]:
        """Dynamic expansion: the task starts using its ``k`` new units per layer, which
        join the selected units among the trainable rows.

        Returns:
            Units added per layer.
        """
        t = self.task
        with torch.no_grad():
            for i, name in enumerate(LAYERS):
                new_slots = [s for s, b in enumerate(self.slot_born[i]) if b == t]
                first = self._first_new_row(i)
                rows = torch.arange(first, first + len(new_slots), device=self.phase.device)
                self._slot_row(name)[t, new_slots] = rows
                self._train_rows(name)[rows] = True
        return {name: self.den.k for name in LAYERS}

    def unit_norms(self, name: str) -> torch.Tensor:
        """Root-mean-square of each row's incoming weights and bias (its group)."""
        i = LAYERS.index(name)
        w = self.weights[name].detach().flatten(1)
        if i > 0:  # only the connections its timestamp allows
            conn = self._weight_mask(name, self._allowed(i)).expand(self.weights[name].shape)
            conn = conn.flatten(1)
            w = w * conn.to(w.dtype)
            count = conn.sum(1).clamp(min=1) + 1
        else:
            count = torch.full_like(w[:, 0], w.shape[1]) + 1
        total = w.pow(2).sum(1) + self.biases[name].detach().pow(2)
        return (total / count).sqrt()

    def prune_expansion(self) -> dict[str, int]:
        """Remove the added units whose group went to zero (RMS below ``zero_eps``).

        Returns:
            Units removed per layer.
        """
        t, removed = self.task, {}
        with torch.no_grad():
            for i, name in enumerate(LAYERS):
                rows = self._slot_row(name)[t]
                norms = self.unit_norms(name)
                count = 0
                for s, b in enumerate(self.slot_born[i]):
                    r = int(rows[s])
                    if b == t and r >= 0 and float(norms[r]) < self.den.zero_eps:
                        rows[s] = -1
                        self._train_rows(name)[r] = False
                        count += 1
                removed[name] = count
        return removed

    def drift(self, name: str) -> torch.Tensor:
        """Per row: L2 distance of its incoming weights and bias from the snapshot."""
        w = self.weights[name].detach() - getattr(self, f"old_w_{name}")
        b = self.biases[name].detach() - getattr(self, f"old_b_{name}")
        return (w.flatten(1).pow(2).sum(1) + b.pow(2)).sqrt()

    def split_drifted(self) -> dict[str, int]:
        """Split/duplicate: every retrained old unit whose drift exceeds ``sigma`` gets a
        duplicate row holding its new weights, which plays its slot for this task (and
        later ones); every old row (split or not) gets its snapshot weights back, so the
        earlier tasks compute exactly what they did. Afterwards only this task's own rows
        (added units and duplicates) and its head are trainable.

        Returns:
            Units split per layer.
        """
        t, splits = self.task, {}
        with torch.no_grad():
            for i, name in enumerate(LAYERS):
                w, b = self.weights[name], self.biases[name]
                rows = self._slot_row(name)[t]
                drift = self.drift(name)
                # spare rows: this task's rows past its k expansion rows
                first = self._first_new_row(i)
                spare = list(range(first + self.den.k, len(self.row_from[i])))
                count = 0
                for s in torch.nonzero(self._selected(name)).flatten().tolist():
                    r = int(rows[s])
                    if self.row_from[i][r] >= t or float(drift[r]) <= self.den.sigma:
                        continue
                    copy = spare[count]
                    w[copy] = w[r]
                    b[copy] = b[r]
                    rows[s] = copy
                    count += 1
                splits[name] = count
                old = getattr(self, f"from_{name}") < t
                w[old] = getattr(self, f"old_w_{name}")[old]
                b[old] = getattr(self, f"old_b_{name}")[old]
                own = torch.zeros_like(self._train_rows(name))
                used = rows[rows >= 0]
                own[used] = ~old[used]
                self._train_rows(name).copy_(own)
        return splits

    def _first_new_row(self, i: int) -> int:
        return next(r for r, f in enumerate(self.row_from[i]) if f == self.task)

    # -- phases --------------------------------------------------------------------------
    def advance(self, to_phase: int, score: float | None = None) -> list[dict[str, Any]]:
        """Run the phase transitions up to ``to_phase`` (idempotent; a later task only).

        head -> selective: :meth:`select_subnetwork`; selective -> expansion: the
        expansion test (``tau`` against ``score``, the mean score of the last curve
        window) and :meth:`expand`; expansion -> final: :meth:`prune_expansion` and
        :meth:`split_drifted`.

        Returns:
            One record per transition made (phase reached and what it did).
        """
        done: list[dict[str, Any]] = []
        if self.phase_index == SOURCE:
            return done
        while self.phase_index < to_phase:
            phase = self.phase_index + 1
            record: dict[str, Any] = {"phase": PHASES[phase]}
            if phase == SELECTIVE:
                record["selected"] = self.select_subnetwork()
            elif phase == EXPAND:
                tau = self.den.tau
                grow = tau is None or score is None or not math.isfinite(score) or score < tau
                self.decisions[self.task, 0] = float(grow)
                self.decisions[self.task, 1] = float("nan") if score is None else float(score)
                record.update(score=score, expanded=grow)
                if grow:
                    record["added"] = self.expand()
            elif phase == FINAL:
                record["pruned"] = self.prune_expansion()
                record["split"] = self.split_drifted()
            self._set_phase(phase)
            done.append(record)
        return done

    def penalty(self) -> torch.Tensor:
        """DEN's regularisers for the current phase (added to the learner's loss).

        source: ``l1 * |W|`` on every weight (the sparse first network). head:
        ``l1 * |head|``. selective: ``l2 * |W_S|^2 + drift * |W_S - W_old|^2`` on the
        selected rows and ``l2`` on the head. expansion: the same, plus ``l1 * |W_N| +
        group * sum_g |W_g|_2`` on the added rows. final: ``l2`` on the task's own rows
        and head.
        """
        phase = self.phase_index
        t, cfg = self.task, self.den
        head = self.heads[t].weight
        if phase == SOURCE:
            return cfg.l1 * (sum(w.abs().sum() for w in self.weights.values()) + head.abs().sum())
        if phase == HEAD:
            return cfg.l1 * head.abs().sum()
        total = cfg.l2 * head.pow(2).sum()
        for name in LAYERS:
            w, b = self.weights[name], self.biases[name]
            train = self._train_rows(name).to(w.dtype)
            from_t = getattr(self, f"from_{name}") == t
            shape = (-1, *([1] * (w.dim() - 1)))
            if phase in (SELECTIVE, EXPAND):
                old = train * (~from_t).to(w.dtype)  # retrained old rows
                moved = (w - getattr(self, f"old_w_{name}")) * old.view(shape)
                total = total + cfg.l2 * (w * old.view(shape)).pow(2).sum()
                total = total + cfg.drift * moved.pow(2).sum()
                if phase == EXPAND:
                    new = (train * from_t.to(w.dtype)).view(shape)
                    wn = w * new
                    total = total + cfg.l1 * wn.abs().sum()
                    groups = wn.flatten(1).pow(2).sum(1) + (b * new.flatten()).pow(2)
                    total = total + cfg.group * (groups + 1e-12).sqrt().mul(new.flatten()).sum()
            else:  # FINAL
                total = total + cfg.l2 * (w * train.view(shape)).pow(2).sum()
        return total

    # -- growth, compaction, save/load ---------------------------------------------------
    def near_zero(self, name: str, task: int) -> float:
        """The share of the incoming weights of the units ``task`` computes with (the
        connections their timestamps allow) whose magnitude is below ``zero_eps``: how
        sparse L1 left the layer, and how little of it the breadth-first search reaches."""
        i = LAYERS.index(name)
        rows = self._slot_row(name)[task]
        rows = rows[rows >= 0]
        w = self.weights[name].detach()[rows]
        if i > 0:
            m = self._prefix(i - 1, task)
            conn = self._weight_mask(name, self._allowed(i)[rows, :m])
            w = w[:, : conn.shape[1]]
            w = w[conn.expand_as(w)]
        if w.numel() == 0:
            return 0.0
        return float((w.abs() < self.den.zero_eps).double().mean())

    def growth(self) -> list[dict[str, Any]]:
        """Per task: units per layer, units added and units split at that task, the
        expansion test's decision, and the share of near-zero weights per layer
        (:meth:`near_zero`)."""
        out = []
        for t in range(self.num_tasks):
            row: dict[str, Any] = {"task": t, "units": {}, "added": {}, "split": {}}
            row["near_zero"] = {name: self.near_zero(name, t) for name in LAYERS}
            for i, name in enumerate(LAYERS):
                rows = self._slot_row(name)[t].tolist()
                used = [(s, r) for s, r in enumerate(rows) if r >= 0]
                row["units"][name] = len(used)
                row["added"][name] = sum(1 for s, _ in used if self.slot_born[i][s] == t and t > 0)
                row["split"][name] = sum(
                    1 for s, r in used if self.slot_born[i][s] < t and self.row_from[i][r] == t
                )
            expanded, score = self.decisions[t].tolist()
            row["expanded"] = None if math.isnan(expanded) else bool(expanded)
            row["score_at_test"] = None if math.isnan(score) else score
            out.append(row)
        return out

    def compact(self) -> None:
        """Drop the rows and slots no task uses (unused spare rows, pruned or unused new
        units), keeping every remaining tensor's order: outputs do not change."""
        keep_slots, keep_rows = [], []
        for i, name in enumerate(LAYERS):
            sr = self._slot_row(name)
            keep_slots.append([s for s in range(sr.shape[1]) if bool((sr[:, s] >= 0).any())])
            used = set(sr[sr >= 0].tolist())
            keep_rows.append([r for r in range(len(self.row_from[i])) if r in used])
        state = {k: v.detach().clone() for k, v in self.state_dict().items()}
        phase, heads_grad = self.phase_index, [h.weight.requires_grad for h in self.heads]
        device = self.weights["conv1"].device
        slot_born = [[self.slot_born[i][s] for s in ks] for i, ks in enumerate(keep_slots)]
        row_from = [[self.row_from[i][r] for r in kr] for i, kr in enumerate(keep_rows)]
        self._allocate(slot_born, row_from, self.task_actions)
        self.to(device)
        ss = self.spatial**2
        with torch.no_grad():
            prev: list[int] | None = None
            for i, name in enumerate(LAYERS):
                rows_idx = torch.tensor(keep_rows[i], dtype=torch.long, device=device)
                w = state[f"weights.{name}"][rows_idx]
                if prev is not None:
                    cols = torch.tensor(prev, dtype=torch.long, device=device)
                    if name == "fc":
                        cols = (cols.unsqueeze(1) * ss + torch.arange(ss, device=device)).flatten()
                    w = w[:, cols]
                self.weights[name].copy_(w)
                self.biases[name].copy_(state[f"biases.{name}"][rows_idx])
                new_index = {r: n for n, r in enumerate(keep_rows[i])}
                old_sr = state[f"slot_row_{name}"][:, keep_slots[i]].tolist()
                remapped = [[new_index[r] if r >= 0 else -1 for r in task] for task in old_sr]
                self._slot_row(name).copy_(torch.tensor(remapped))
                self._train_rows(name).copy_(state[f"train_rows_{name}"][rows_idx])
                self._selected(name).copy_(state[f"selected_{name}"][keep_slots[i]])
                prev = keep_slots[i]
            hidden_keep = torch.tensor(keep_slots[-1], dtype=torch.long, device=device)
            for j, head in enumerate(self.heads):
                hw = state[f"heads.{j}.weight"]
                head.weight.copy_(hw[:, hidden_keep[hidden_keep < hw.shape[1]]])
                head.bias.copy_(state[f"heads.{j}.bias"])
                head.requires_grad_(heads_grad[j])
            self.decisions.copy_(state["decisions"])
        self._set_phase(phase)
        self.snapshot()

    def structure(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "den": self.den.to_dict(),
            "task_actions": list(self.task_actions),
            "slot_born": [list(b) for b in self.slot_born],
            "row_from": [list(r) for r in self.row_from],
        }

    @classmethod
    def from_structure(cls, structure: dict[str, Any]) -> DENNet:
        net = cls.__new__(cls)
        Agent.__init__(net)
        net.config = ColumnConfig.from_dict(structure["config"])
        net.den = DENConfig.from_dict(structure["den"])
        net._allocate(structure["slot_born"], structure["row_from"], structure["task_actions"])
        net._set_phase(SOURCE if net.num_tasks == 1 else FINAL)
        net.snapshot()
        return net

    @classmethod
    def load(cls, path: str, trainable: bool = False) -> DENNet:
        """Load a saved DEN (``weights_only=True``); ``trainable=False`` freezes it all."""
        net = cls.load_file(path, "a DEN", trainable)
        net.snapshot()
        return net

    def describe(self) -> str:
        lines = [f"DENNet: {self.num_tasks} task(s), phase {PHASES[self.phase_index]}"]
        for g in self.growth():
            units = ", ".join(f"{n} {g['units'][n]}" for n in LAYERS)
            added = sum(g["added"].values())
            split = sum(g["split"].values())
            lines.append(f"  task {g['task']}: {units} (added {added}, split {split})")
        return "\n".join(lines)
