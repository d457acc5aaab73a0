"""The shipped cluster set-ups: Ray's launcher config and the SLURM batch script.

The launcher config is validated with Ray's own schema (what `ray up` checks first).
The SLURM script's Ray start-up runs on this machine with ``scontrol`` and ``srun``
replaced by stubs, in a private Ray temp dir (``RAY_TMPDIR``), so it never touches Ray
processes that other work on the machine started.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "cluster"


def test_ray_up_config_is_valid_for_ray():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((CLUSTER / "aws.yaml").read_text())
    validate_config(prepare_config(copy.deepcopy(config)))
    head = config["available_node_types"][config["head_node_type"]]
    assert head["node_config"]["InstanceType"].startswith(("g", "p"))  # a GPU head
    workers = [
        v for k, v in config["available_node_types"].items() if k != config["head_node_type"]
    ]
    assert workers and all(w["node_config"]["InstanceType"].startswith("c") for w in workers)
    assert any("make setup" in c for c in config["setup_commands"])
    # the validation can fail: a misspelled field is refused
    broken = copy.deepcopy(config)
    broken["max_worker"] = broken.pop("max_workers")
    with pytest.raises(Exception, match="max_worker"):
        validate_config(prepare_config(broken))


def test_slurm_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(CLUSTER / "slurm.sbatch")], check=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.ray
def test_slurm_script_starts_ray_on_localhost_and_runs_the_sweep_command(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # scontrol lists one node (this machine); srun runs its command here, dropping options
    (bin_dir / "scontrol").write_text("#!/bin/bash\necho localhost\n")
    (bin_dir / "srun").write_text(
        textwrap.dedent(
            """\
            #!/bin/bash
            while [[ "$1" == -* ]]; do
                case "$1" in -w|--nodelist) shift 2 ;; *) shift ;; esac
            done
            exec "$@"
            """
        )
    )
    for stub in ("scontrol", "srun"):
        (bin_dir / stub).chmod(0o755)
    ray_tmp = Path(tempfile.mkdtemp(prefix="xr", dir="/tmp"))  # short: socket paths
    report = tmp_path / "resources.txt"
    probe = (
        f'{sys.executable} -c "import ray; ray.init(); '
        f"open('{report}', 'w').write(str(ray.cluster_resources().get('CPU')))\""
    )
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SLURM_JOB_NODELIST": "localhost",
        "SLURM_CPUS_PER_TASK": "2",
        "RAY_PORT": str(_free_port()),
        "RAY_TMPDIR": str(ray_tmp),
        "REPO": str(REPO),
        "OUT": str(tmp_path / "results"),
        "XFER_SWEEP_COMMAND": probe,
    }
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(
        ["bash", str(CLUSTER / "slurm.sbatch")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"the SLURM script did not finish:\n{out[-3000:]}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything the script left behind
        except ProcessLookupError:
            pass
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert proc.returncode == 0, out[-3000:]
    assert "1 of 1 node(s) joined" in out
    # the sweep command ran on the cluster the script started (RAY_ADDRESS was set)
    assert float(report.read_text()) == 2.0
