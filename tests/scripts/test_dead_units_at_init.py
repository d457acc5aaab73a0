"""scripts/dead_units_at_init.py: units forced dead are counted, units that vary are not."""

from __future__ import annotations

from pathlib import Path

import torch
from scriptload import load_script

from envs import make_env
from methods.base import build_agent

ROOT = Path(__file__).resolve().parents[2]


def test_units_forced_dead_are_counted_and_the_widths_are_the_layers():
    script = load_script("dead_units_at_init")
    env = make_env("catch_soup/pong")
    actions, channels = int(env.action_space.n), int(env.observation_space.shape[-1])
    env.close()
    net = build_agent("scratch", actions, in_channels=channels, seed=0).eval()
    before = script.dead_units(net, "catch_soup/pong", 60, 3)
    assert {lay: n for lay, (_, n) in before.items()} == {
        "conv1": 12,
        "conv2": 12,
        "conv3": 12,
        "fc": 256,
    }
    assert before["fc"][0] < 256  # some units vary over the states
    column = net.columns[-1]
    with torch.no_grad():  # every fc unit's input now stays far below zero: all dead
        column.fc.bias.fill_(-1e6)
    after = script.dead_units(net, "catch_soup/pong", 60, 3)
    assert after["fc"] == (256, 256)
    assert after["conv1"] == before["conv1"]  # the layers below are untouched


def test_the_committed_page_is_its_json():
    """docs/experiments/dead_units_at_init.md is what its JSON gives (4 targets x 2
    networks x 3 seeds), byte for byte."""
    import json

    script = load_script("dead_units_at_init")
    base = ROOT / "docs" / "experiments" / "dead_units_at_init"
    data = json.loads(base.with_suffix(".json").read_text())
    assert len(data["rows"]) == len(script.TASKS) * 2 * len(script.SEEDS)
    assert base.with_suffix(".md").read_text() == script.markdown(data)
