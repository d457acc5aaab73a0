"""One home per transfer method: a module each, registered by name.

- :mod:`methods.baselines`: the paper's baselines 1-4 (scratch, fine-tuning, a random
  frozen column);
- :mod:`methods.progressive`: progressive nets;
- :mod:`methods.pathnet`: PathNet, its evolution and hooks;
- :mod:`methods.den`: DEN, its phases;
- :mod:`methods.base`: what a method is (:class:`Method`, :class:`TrainingHooks`) and
  the registry (:func:`get_method`, :func:`register_method`).

No module here imports torch or Ray at import time, so the run config checks a method's
fields without loading either. A new method is a module that subclasses
:class:`Method` and calls :func:`register_method`.
"""

# isort: skip_file
# registered in this order (the paper's baselines first): the CLI and errors list them so
import methods.baselines  # noqa: F401
import methods.progressive  # noqa: F401
import methods.pathnet  # noqa: F401
import methods.den  # noqa: F401
from methods.base import (
    Method,
    NetworkSpec,
    RunnerHooks,
    TrainingHooks,
    build_agent,
    get_method,
    method_fields,
    method_names,
    register_method,
    registered,
    unregister_method,
)

__all__ = [
    "Method",
    "NetworkSpec",
    "RunnerHooks",
    "TrainingHooks",
    "build_agent",
    "get_method",
    "method_fields",
    "method_names",
    "register_method",
    "registered",
    "unregister_method",
]
