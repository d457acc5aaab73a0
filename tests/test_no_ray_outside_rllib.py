"""Ray is imported only under benchmarks/rllib (when RLlib's API moves, one folder moves).

Two checks: no source file outside ``benchmarks/rllib`` mentions a Ray import, not even
lazily inside a function; and importing every other module in a fresh interpreter
leaves ``ray`` unloaded.
"""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "analysis", "benchmarks", "envs", "methods", "runstore")
RAY_IMPORT = re.compile(r"^\s*(import ray\b|from ray\b)", re.MULTILINE)


def _modules() -> list[Path]:
    files = [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")]
    return [p for p in files if "rllib" not in p.relative_to(REPO).parts]


def test_no_source_outside_rllib_imports_ray():
    offenders = [str(p.relative_to(REPO)) for p in _modules() if RAY_IMPORT.search(p.read_text())]
    assert offenders == []
    # the check can fail: the RLlib package itself does import Ray
    assert RAY_IMPORT.search((REPO / "benchmarks" / "rllib" / "algo.py").read_text())


def test_importing_every_other_module_loads_no_ray():
    names = []
    for path in _modules():
        rel = path.relative_to(REPO).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        names.append(".".join(parts))
    code = (
        "import importlib, sys\n"
        f"for name in {sorted(names)!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.'))\n"
        "print(len(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "0"
