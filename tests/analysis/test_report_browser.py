"""The HTML report opened in headless Chromium (marker slow: needs Debian's chromium)."""

import shutil
import subprocess

import pytest

from analysis.report import build_report

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium chromium-driver")
def test_report_renders_with_every_figure(tree, tmp_path):
    out = build_report(tree)
    page = (out / "index.html").resolve().as_uri()
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, *profile, "--virtual-time-budget=5000", "--dump-dom", page],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    n_images = (out / "index.html").read_text().count("<img ")
    assert n_images >= 3
    assert f'data-figures-loaded="{n_images}/{n_images}"' in dom.stdout
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *FLAGS, *profile, "--window-size=1200,2400", f"--screenshot={shot}", page],
        capture_output=True,
        timeout=120,
        check=True,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
