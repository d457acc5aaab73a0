"""A synthetic results tree (no training) for the report tests."""

import json
from pathlib import Path

import pytest


def write_run(root: Path, task, agent, sources, curve, state="done", seed=0, tag=""):
    src = "+".join(s.replace("/", "-") for s in sources)
    name = agent + (f"_from_{src}" if sources else "")
    d = root / task.replace("/", "-") / name / (f"seed{seed}" + (f"_{tag}" if tag else ""))
    d.mkdir(parents=True)
    (d / "config.json").write_text(
        json.dumps({"run": {"task": task, "agent": agent, "sources": list(sources), "seed": seed}})
    )
    (d / "status.json").write_text(
        json.dumps({"state": state, "reason": "boom" if state == "failed" else ""})
    )
    with (d / "curve.csv").open("w") as f:
        f.write("env_steps,frames,episodes,episode_return_mean,wall_time\n")
        for step, score in curve:
            f.write(f"{step},{step},1,{score},1.0\n")
    return d


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    (root / "floors.json").write_text(
        json.dumps(
            {
                "pong_soup/white": {"floor": -21.0},
                "pong_soup/hflip": {"floor": -20.0},
                "pong_soup/pong": {"floor": -21.0},
                "pong_soup/noisy": {"floor": -21.0},
            }
        )
    )
    cells = []
    for target in ("pong_soup/white", "pong_soup/hflip", "pong_soup/noisy"):
        cells.append(
            {
                "label": "baseline1-scratch",
                "agent": "scratch",
                "target": target,
                "sources": [],
                "job": 0,
            }
        )
        cells.append(
            {
                "label": "progressive-2col",
                "agent": "progressive",
                "target": target,
                "sources": ["pong_soup/pong"],
                "job": 0,
            }
        )
    (root / "plan.json").write_text(
        json.dumps(
            {
                "suite": "pong-soup",
                "domain": "pong_soup",
                "budget": "smoke",
                "top_k": 1,
                "cells": cells,
            }
        )
    )
    # white: scratch AUC -13 (8 above floor -21), progressive AUC -5 (16 above): 200%
    write_run(root, "pong_soup/white", "scratch", (), [(0, -13), (100, -13)])
    write_run(
        root, "pong_soup/white", "progressive", ("pong_soup/pong",), [(0, -9), (50, -5), (100, -1)]
    )
    # hflip: progressive failed, scratch fine
    write_run(root, "pong_soup/hflip", "scratch", (), [(0, -20), (100, -10)])
    write_run(
        root, "pong_soup/hflip", "progressive", ("pong_soup/pong",), [(0, -20)], state="failed"
    )
    write_run(root, "pong_soup/pong", "scratch", (), [(0, -21), (100, -5)])  # a source run
    # noisy: baseline 1 barely leaves the floor (normalised AUC 0.84 / 42 = 0.02 < 0.1):
    # the ratio would be noise over noise, the cell shows forward transfer instead
    write_run(root, "pong_soup/noisy", "scratch", (), [(0, -20.16), (100, -20.16)])
    write_run(root, "pong_soup/noisy", "progressive", ("pong_soup/pong",), [(0, -21), (100, 0)])
    return root
