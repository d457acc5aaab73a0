"""What a transfer method is, and the registry that names them.

A :class:`Method` holds everything that varies by method: which run-config fields it
uses (and their validation), the source run it is seeded from, how its network is built
from the sources' saved weights, which part of the network plays task ``i`` (evaluation,
forgetting), which analyses the suite runs on it, and its hooks into the training loop
(:class:`TrainingHooks`, called at named points, as Sample Factory's ``AlgoObserver``;
:class:`RunnerHooks` in the env runners). Outside ``methods/`` no code compares a
method's name: it asks :func:`get_method` instead, so a new method is one new module
that calls :func:`register_method`.

This module imports neither torch nor Ray: building and checking a run config needs
only the registry. Networks are built (and torch imported) in :meth:`Method.build_network`.

Example:
    >>> get_method("finetune-all").label(["pong_soup/pong"])
    'baseline3-finetune-all'
    >>> get_method("progressive").source_agent(["a/b", "a/c"])
    'progressive'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Method",
    "NetworkSpec",
    "TaskPart",
    "TrainingHooks",
    "RunnerHooks",
    "register_method",
    "unregister_method",
    "registered",
    "get_method",
    "method_names",
    "method_fields",
    "build_agent",
    "build_from_model_config",
    "check_task_actions",
]


@dataclass(frozen=True)
class NetworkSpec:
    """What a network is built for: the task's shapes and the run's initial values.

    Attributes:
        num_actions: the target task's action count (new heads where a source's differs).
        in_channels: input channels of the observation.
        input_size: input height = width.
        alpha_init: initial lateral scale alpha (lateral adapters only).
        seed: seeds the initial weights (None: torch's current state).
        num_columns: columns of a progressive net built without a source.
        den: DEN's constants (``agents.den_config.DENConfig``; DEN only).
    """

    num_actions: int
    in_channels: int = 4
    input_size: int = 84
    alpha_init: float = 1.0
    seed: int | None = None
    num_columns: int = 2
    den: Any = None


@dataclass(frozen=True)
class TaskPart:
    """Which task of a run's chain is played, and how (``Method.task_policy``).

    Attributes:
        index: the task's place in the chain: the sources in order, then the run's own.
        as_source: it is played as one of the sources (forgetting), also on the diagonal.
        num_sources: the run's source count.
        column: a column net's column asked for (None: the task's own).
        num_actions: the task's action count.
    """

    index: int
    as_source: bool
    num_sources: int
    column: int | None
    num_actions: int


class TrainingHooks:
    """A method's hooks into one run's training loop (``benchmarks.training``).

    The loop calls them at named points; the default does nothing. ``trainer`` is the
    loop's trainer (``benchmarks.trainer.Trainer``): hooks reach the learners' networks
    with ``trainer.on_learner_nets(fn)`` and the env runners with
    ``trainer.on_runners(fn)`` (and count them with ``trainer.num_runners()``).
    """

    def on_start(self, trainer: Any) -> None:
        """After the algorithm is built (and restored, when resuming)."""

    def on_iteration(self, trainer: Any, env_steps: float, score: float | None) -> list[str]:
        """After every training iteration. ``score``: the newest curve point's mean
        (None before the first). Returns lines for the run's log."""
        return []

    def state(self) -> dict[str, Any] | None:
        """What a resumed run needs back (saved with every checkpoint)."""
        return None

    def finish(self, net: Any) -> dict[str, Any]:
        """Before the trained network is saved: change ``net`` in place (fix a path,
        compact a grown net) and return the files to write beside it
        (``{file name: JSON data}``)."""
        return {}


class RunnerHooks:
    """A method's hooks inside an env runner (the RLlib adapter calls them per episode).

    ``store`` is a dict the runner keeps for the method (set by ``Trainer.on_runners``);
    ``net_module`` the runner's module (``set_row_path`` for PathNet).
    """

    def on_episode_start(self, store: dict, module: Any, env_index: int, episode_id: str) -> None:
        """A sub-env starts an episode."""

    def on_episode_end(
        self,
        store: dict,
        env_index: int,
        episode_id: str,
        score: float,
        outputs: Callable[[str], Any],
    ) -> None:
        """A sub-env finished an episode with raw ``score``; ``outputs(name)`` gives a
        model output recorded with every step of it (all its chunks)."""


class Method:
    """One transfer method. Subclasses set the class attributes and build networks.

    Attributes:
        name: the ``--agent`` name.
        table_label: Table 1's row name (default: ``name``).
        min_sources, max_sources: how many ``--source`` tasks it takes (None: any).
        fields: run-config fields that only some methods use: a run of a method that
            does not list a field is the same run whatever its value (identity), and with
            ``exclusive_fields`` no other method may change it from its default.
        exclusive_fields: see ``fields``.
        checks_curve: its curve measures the network that is saved (PathNet's averages
            a population of paths, so it is not checked against the saved path).
        analyses: the suite's analyses of a finished run (``"afs"``: Fisher
            sensitivity, ``"aps"``: perturbation sensitivity; each writes ``<name>.json``).
    """

    name: str = ""
    table_label: str | None = None
    min_sources: int = 0
    max_sources: int | None = None
    fields: frozenset[str] = frozenset()
    exclusive_fields: bool = False
    checks_curve: bool = True
    analyses: tuple[str, ...] = ()

    def label(self, sources: Sequence[str]) -> str:
        """Table 1's row name for this method after ``sources``."""
        return self.table_label or self.name

    def validate(self, cfg: Any) -> None:
        """Raise ValueError for a run config this method cannot train."""
        n = len(cfg.sources)
        if self.max_sources == 0 and n:
            raise ValueError(f"{self.name} takes no --source")
        if self.min_sources == self.max_sources and n != self.min_sources:
            raise ValueError(f"{self.name} needs exactly one --source")
        if n < self.min_sources:
            raise ValueError(f"{self.name} needs at least {self.min_sources} --source")

    def check_sources(self, sources: Sequence[str]) -> None:
        """Raise ValueError when ``sources`` (saved weights) cannot seed this method."""
        n = len(sources)
        if self.max_sources == 0 and n:
            raise ValueError(f"{self.name} takes no source run")
        if self.min_sources == self.max_sources and n != self.min_sources:
            raise ValueError(f"{self.name} needs exactly one source run, got {n}")

    def source_agent(self, sources: Sequence[str]) -> str:
        """The method of the run whose weights seed a run after ``sources``."""
        return "scratch"

    def source_settings(self, cfg: Any) -> dict[str, Any]:
        """Run-config fields the source run takes from ``cfg`` (beyond the defaults)."""
        return {}

    def model_config(self, cfg: Any) -> dict[str, Any]:
        """Extra entries of the RLModule's model config (plain JSON)."""
        return {}

    def network_extras(self, model_config: dict[str, Any]) -> dict[str, Any]:
        """:class:`NetworkSpec` fields read back from this method's own entries of the
        model config (what :meth:`model_config` wrote)."""
        return {}

    def build_network(self, spec: NetworkSpec, sources: Sequence[str]) -> Any:
        """The network of a new run, seeded from the saved weights ``sources``."""
        raise NotImplementedError(f"{type(self).__name__} builds no network")

    def task_policy(self, net: Any, part: TaskPart) -> tuple[Callable[[Any], Any], int | None]:
        """``(policy, column)``: the part of ``net`` that plays the task ``part`` asks
        for and, for column nets, which column that is (a part whose action count is
        not the task's is an error)."""
        raise NotImplementedError(f"{type(self).__name__} cannot evaluate")

    def training_hooks(
        self, cfg: Any, trainer: Any, in_channels: int, state: dict[str, Any] | None
    ) -> TrainingHooks:
        """The hooks of one run (``state``: what :meth:`TrainingHooks.state` saved)."""
        return TrainingHooks()

    def plan_speed_key(self, cfg: Any) -> int | str:
        """The key of ``benchmarks.plan.SPEED_FACTORS`` that scales this run's speed."""
        return 1


def check_task_actions(net: Any, index: int, num_actions: int, part: str) -> None:
    """A clear error when task ``index``'s ``part`` (head, readout) of a multi-task
    network (``net.task_actions``) has another action count than the task."""
    if net.task_actions[index] != num_actions:
        raise ValueError(
            f"{part} {index} has {net.task_actions[index]} actions, the task has {num_actions}"
        )


_REGISTRY: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Add ``method`` to the registry under ``method.name`` (a name is registered once)."""
    if not method.name:
        raise ValueError(f"{type(method).__name__} has no name")
    if method.name in _REGISTRY and _REGISTRY[method.name] is not method:
        raise ValueError(f"a method named {method.name!r} is registered already")
    _REGISTRY[method.name] = method
    return method


def unregister_method(name: str) -> None:
    """Remove a method (tests register toy methods for a while)."""
    _REGISTRY.pop(name, None)


@contextmanager
def registered(method: Method) -> Iterator[Method]:
    """``with registered(Toy()):`` the method is known inside the block only."""
    register_method(method)
    try:
        yield method
    finally:
        unregister_method(method.name)


def get_method(name: str) -> Method:
    """The method called ``name``; a clear error lists the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; choose from {', '.join(_REGISTRY)}") from None


def method_names() -> tuple[str, ...]:
    """Every registered method, in registration order (the paper's baselines first)."""
    return tuple(_REGISTRY)


def method_fields() -> frozenset[str]:
    """Every run-config field some method owns (:attr:`Method.fields`)."""
    out: set[str] = set()
    for method in _REGISTRY.values():
        out |= method.fields
    return frozenset(out)


def build_agent(
    name: str,
    num_actions: int,
    in_channels: int = 4,
    sources: Sequence[Any] = (),
    num_columns: int = 2,
    alpha_init: float = 1.0,
    seed: int | None = None,
    input_size: int = 84,
    den: Any = None,
) -> Any:
    """Build the network of method ``name`` for a task with ``num_actions`` actions.

    Args:
        name: a registered method (:func:`method_names`).
        num_actions: the target task's action count (new heads where it differs).
        in_channels: input channels of the observation.
        sources: saved agent files of the source runs (see each method's
            ``build_network``: a chain's last source carries every earlier part).
        num_columns: columns of a ``progressive`` net built without a source.
        alpha_init: initial lateral scale alpha.
        seed: seeds the initial weights.
        input_size: input height = width.
        den: DEN's constants (``den`` only).

    Baselines (paper): 1 ``scratch``, 2 ``finetune-head``, 3 ``finetune-all``,
    4 ``random-column`` (first column random and frozen).
    """
    method = get_method(name)
    sources = [str(s) for s in sources]
    method.check_sources(sources)
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    spec = NetworkSpec(
        # a gymnasium action count is a numpy integer, which a weights_only load refuses
        num_actions=int(num_actions),
        in_channels=in_channels,
        input_size=input_size,
        alpha_init=alpha_init,
        seed=seed,
        num_columns=num_columns,
        den=den,
    )
    return method.build_network(spec, sources)


def build_from_model_config(
    model_config: dict[str, Any], num_actions: int, in_channels: int, input_size: int = 84
) -> Any:
    """The network a model config describes (the training loop's, as the trainer's
    RLModule and the saved network are built from the same one): method, source files,
    ``num_columns``, ``alpha_init``, ``seed`` and the method's own entries."""
    name = model_config.get("agent", "scratch")
    return build_agent(
        name,
        num_actions,
        in_channels=in_channels,
        sources=list(model_config.get("sources", [])),
        num_columns=int(model_config.get("num_columns", 2)),
        alpha_init=float(model_config.get("alpha_init", NetworkSpec.alpha_init)),
        seed=model_config.get("seed"),
        input_size=input_size,
        **get_method(name).network_extras(model_config),
    )
