"""Every docstring example in the packages runs and prints what it says (the Ray layer,
``benchmarks.rllib``, is left to its own tests: importing it starts nothing, but its
examples would need a Ray session)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("analysis", "runstore", "envs", "agents", "methods", "benchmarks")


def _modules() -> list[str]:
    names = []
    for pkg in PACKAGES:
        root = importlib.import_module(pkg)
        names.append(pkg)
        for info in pkgutil.walk_packages(root.__path__, f"{pkg}."):
            if not info.name.startswith("benchmarks.rllib"):
                names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
