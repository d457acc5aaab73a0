"""scripts/finetune_first_updates.py: the committed page and its JSON are what the
committed runs' curves give (each window's own episodes from the cumulative count), so
the page cannot drift from the runs; an edited curve changes the page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from scriptload import load_script

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "docs/experiments/runs/finetune-first-updates"
PAGE = ROOT / "docs/experiments/finetune_first_updates"


def test_the_committed_page_is_the_committed_runs(tmp_path):
    s = load_script("finetune_first_updates")
    record = json.loads(PAGE.with_suffix(".json").read_text())
    curves = {arm: s.read_curve(RUNS / f"arm{i}") for i, (arm, _, _) in enumerate(s.ARMS)}
    assert json.dumps(curves, sort_keys=True) == json.dumps(record["curves"], sort_keys=True)
    played = {k: record["step0"][k] for k in ("zoo column", "fine-tune-all at step 0")}
    page = s.markdown(played, curves, record["steps"], 3)
    assert page == PAGE.with_suffix(".md").read_text()
    # each window's own episodes: the cumulative count's differences
    first = next(c for c in curves["lr 2e-4, stock RMSProp"] if c["episodes"])
    assert (first["env_steps"], first["episodes"], first["episode_return_mean"]) == (
        24_966.0,
        2.0,
        20.0,
    )
    # an edited curve changes the page
    copy = tmp_path / "arm3"
    shutil.copytree(RUNS / "arm3", copy)
    (curve,) = copy.glob("pong_soup-black/*/seed0/curve.csv")
    curve.write_text(curve.read_text().replace(",20.0,", ",-20.0,", 1))
    edited = dict(curves, **{"lr 2e-4, stock RMSProp": s.read_curve(copy)})
    assert s.markdown(played, edited, record["steps"], 3) != page
