"""The shape of the code, checked: one home per method, and packages that import
downwards only.

- Outside ``methods/`` no source file compares a method's name (``agent == "pathnet"``,
  ``agent in ("scratch", ...)``): it asks ``methods.get_method`` instead.
- ``methods`` imports neither the run store, the analysis nor the orchestration;
  ``runstore`` imports neither ``analysis`` nor ``benchmarks``; ``analysis`` never imports
  ``benchmarks``; nothing under ``benchmarks/rllib`` imports the training loop or the
  runner (the loop talks to RLlib through ``benchmarks.trainer.Trainer`` only).
- RLlib's result keys are named under ``benchmarks/rllib`` only.
- Building a ``RunConfig`` of every method imports neither torch nor Ray.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from methods import method_names

REPO = Path(__file__).resolve().parents[1]
SOURCE_PACKAGES = ("agents", "analysis", "benchmarks", "envs", "methods", "runstore", "scripts")


def _sources(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (REPO / pkg).rglob("*.py"))


def _strings(node: ast.AST) -> list[str]:
    """The string constants of ``node`` itself, or of a tuple/list/set literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for elt in node.elts for s in _strings(elt)]
    return []


def name_comparisons(source: str, names: set[str]) -> list[int]:
    """Lines of ``source`` where a comparison (==, !=, in, not in) involves one of
    ``names`` as a string literal, alone or in a literal collection."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(s in names for operand in operands for s in _strings(operand)):
                lines.append(node.lineno)
    return lines


def test_the_comparison_finder_finds_comparisons_and_nothing_else():
    names = {"pathnet", "den"}
    code = (
        'a = cfg.agent == "pathnet"\n'
        'b = agent in ("scratch", "den")\n'
        'c = "den" != x\n'
        'd = build("pathnet")\n'
        'e = ("pathnet", "den")\n'
        'f = agent == "progressive-3col"\n'
    )
    assert name_comparisons(code, names) == [1, 2, 3]


def test_no_source_outside_methods_compares_a_method_name():
    names = set(method_names())
    assert {"scratch", "progressive", "pathnet", "den"} <= names
    offenders = {
        str(path.relative_to(REPO)): lines
        for path in _sources(*(p for p in SOURCE_PACKAGES if p != "methods"))
        if (lines := name_comparisons(path.read_text(), names))
    }
    assert offenders == {}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _importers(files: list[Path], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in files:
        bad = sorted(m for m in _imports(path) if m.split(".")[0] in forbidden or m in forbidden)
        if bad:
            found[str(path.relative_to(REPO))] = bad
    return found


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("methods", ("runstore", "analysis", "benchmarks")),
        ("runstore", ("analysis", "benchmarks")),
        ("analysis", ("benchmarks",)),
        ("agents", ("methods", "runstore", "analysis", "benchmarks")),
        ("envs", ("agents", "methods", "runstore", "analysis", "benchmarks")),
    ],
)
def test_packages_import_downwards_only(package, forbidden):
    assert _importers(_sources(package), forbidden) == {}


def test_the_rllib_adapter_never_imports_the_loop():
    rllib = _sources("benchmarks/rllib")
    assert rllib
    loop = ("benchmarks.training", "benchmarks.runsetup", "benchmarks.runner", "benchmarks.cli")
    assert _importers(rllib, loop) == {}
    # and the loop reaches RLlib only through the default trainer factory, lazily
    assert "benchmarks.rllib.trainer" in _imports(REPO / "benchmarks" / "runsetup.py")
    assert "benchmarks.rllib.trainer" not in _imports(REPO / "benchmarks" / "training.py")


RLLIB_RESULT_KEYS = (
    "num_env_steps_sampled_lifetime",
    "num_env_steps_trained_lifetime",
    "__all_modules__",
    "diff_num_grad_updates_vs_sampler_policy",
)


def test_rllib_result_keys_are_named_under_benchmarks_rllib_only():
    outside = [p for p in _sources(*SOURCE_PACKAGES) if "rllib" not in p.parts]
    offenders = {
        str(p.relative_to(REPO)): sorted(k for k in RLLIB_RESULT_KEYS if f'"{k}"' in p.read_text())
        for p in outside
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    trainer = (REPO / "benchmarks" / "rllib" / "trainer.py").read_text()
    assert '"num_env_steps_sampled_lifetime"' in trainer  # the check can fail


def test_building_every_methods_run_config_imports_neither_torch_nor_ray():
    code = (
        "import sys\n"
        "from methods import get_method, method_names\n"
        "from runstore.config import RunConfig, identity, source_config\n"
        "for name in method_names():\n"
        "    none = get_method(name).max_sources == 0\n"
        "    sources = () if none else ('catch_soup/pong',)\n"
        "    cfg = RunConfig(task='catch_soup/hflip', agent=name, sources=sources)\n"
        "    identity(cfg.to_dict()); source_config(cfg)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'ray'))\n"
        "print(len(method_names()), heavy[:5])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == f"{len(method_names())} []"
