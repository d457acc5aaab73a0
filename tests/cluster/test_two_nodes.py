"""A real two-node Ray cluster on this machine: a suite through Tune, then a node lost.

The head and the second node are started by ``ray.cluster_utils.Cluster`` (their own
raylets and ports; 2 logical CPUs each) and stopped by it: the test never calls ``ray
stop``, which would end every Ray process on the machine. ``xfer bench`` runs as a
separate process with ``RAY_ADDRESS`` set, as a user would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _bench(root: Path, address: str, **popen: object) -> subprocess.Popen:
    env = {**os.environ, "RAY_ADDRESS": address, "XFER_PROGRESS": "0"}
    argv = [sys.executable, "-m", "benchmarks.cli", "bench", "catch-soup", "--budget", "smoke"]
    # one env runner per run: a trial takes 2 CPUs (driver + runner), one node's worth
    argv += ["--out", str(root), "--parallel", "2", "--env-runners", "1", "--no-wandb"]
    return subprocess.Popen(argv, cwd=REPO, env=env, text=True, **popen)


def _statuses(root: Path) -> dict[Path, dict]:
    out = {}
    for path in root.glob("*/*/*/status.json"):
        try:
            out[path.parent] = json.loads(path.read_text())
        except json.JSONDecodeError:  # being replaced right now (atomic rename)
            continue
    return out


def _check_complete(root: Path) -> dict[Path, dict]:
    plan = json.loads((root / "plan.json").read_text())
    statuses = _statuses(root)
    assert len(statuses) >= len(plan["cells"])
    assert all(s["state"] == "done" for s in statuses.values()), statuses
    assert (root / "report" / "index.html").is_file()
    for run_dir in statuses:
        assert not (run_dir / ".lock").exists(), run_dir
        steps = [
            float(line.split(",")[0])
            for line in (run_dir / "curve.csv").read_text().splitlines()[1:]
        ]
        # one writer at a time: the curve never repeats or goes back
        assert steps == sorted(set(steps)) and steps[-1] >= 3_000, run_dir
    return statuses


@pytest.fixture
def cluster():
    from ray.cluster_utils import Cluster

    c = Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={"num_cpus": 2, "include_dashboard": False},
    )
    try:
        yield c
    finally:
        c.shutdown()


def test_suite_on_two_nodes_survives_losing_one(cluster, tmp_path):
    second = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()

    # 1. the whole smoke suite through Tune, two runs at a time, on both nodes
    first = tmp_path / "first"
    proc = _bench(first, cluster.address)
    assert proc.wait(timeout=1_500) == 0
    statuses = _check_complete(first)
    nodes = {s.get("ray_node") for s in statuses.values()} - {None}
    assert len(nodes) == 2, nodes

    # 2. kill the second node in the middle of a wave, then rerun the same command
    root = tmp_path / "killed"
    proc = _bench(root, cluster.address, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline:
        running = [
            s
            for s in _statuses(root).values()
            if s["state"] == "running" and s.get("ray_node") == second.node_id
        ]
        if running:
            break
        time.sleep(0.5)
    assert running, "no run started on the second node"
    cluster.remove_node(second, allow_graceful=False)
    proc.wait(timeout=1_500)
    cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    proc = _bench(root, cluster.address)
    assert proc.wait(timeout=1_500) == 0
    _check_complete(root)
