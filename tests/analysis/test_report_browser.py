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


COMMITTED = sorted(
    p
    for p in (__import__("pathlib").Path(__file__).resolve().parents[2] / "docs/results").iterdir()
    if (p / "report" / "index.html").is_file()
)


@pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium chromium-driver")
@pytest.mark.parametrize("results", COMMITTED, ids=lambda p: p.name)
def test_each_committed_report_opens_with_its_verdicts_on_the_first_screen(results, tmp_path):
    """At 1400 x 900 every figure decodes and the per-target verdict table starts within
    the first 900 pixels; the screenshot is left in the test's temp dir."""
    page = (results / "report" / "index.html").resolve().as_uri()
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    size = ["--window-size=1400,900"]
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, *profile, *size, "--virtual-time-budget=5000", "--dump-dom", page],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    n_images = (results / "report" / "index.html").read_text().count("<img ")
    assert f'data-figures-loaded="{n_images}/{n_images}"' in dom.stdout
    import re

    top = re.search(r'data-verdicts-top="(-?\d+)"', dom.stdout)
    assert top is not None and 0 <= int(top.group(1)) < 900, top
    subprocess.run(
        [CHROMIUM, *FLAGS, *profile, *size, f"--screenshot={tmp_path / 'first.png'}", page],
        capture_output=True,
        timeout=120,
        check=True,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium chromium-driver")
def test_the_first_screen_check_fails_on_a_table_pushed_down(tmp_path):
    from analysis.render import _LOADED_SCRIPT

    page = tmp_path / "pushed.html"
    page.write_text(
        '<html><body><div style="height:1500px">intro</div><table id="verdicts"><tr><td>x'
        "</td></tr></table>" + _LOADED_SCRIPT + "</body></html>"
    )
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, "--user-data-dir=" + str(tmp_path / "p"), "--window-size=1400,900"]
        + ["--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    import re

    top = re.search(r'data-verdicts-top="(-?\d+)"', dom.stdout)
    assert top is not None and int(top.group(1)) >= 900
