"""How many of a network's units are dead before any training (issue 42: are the dead
units behind the AFS page's zero shares made by training, or there from the start?).

For each target of the committed Pong Soup and Atari reports, a progressive net (the
shipped pong column, seed 0, and a new column at seeds 0-2, as the laptop runs build it)
and a scratch column (seeds 0-2) play ``--states`` states over ``--episodes`` episodes
of the target with their own untrained policy (``collect_states``, the AFS's sampler);
a unit is dead when its activation does not vary over those states (standard deviation
at most ``analysis.sensitivity.DEAD_STD``, the AFS's rule). Writes
``docs/experiments/dead_units_at_init.json`` and ``.md``.

    python scripts/dead_units_at_init.py --states 300 --episodes 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from analysis.sensitivity import DEAD_STD, HIDDEN_LAYERS
from benchmarks.sensitivity_runs import collect_states
from envs import make_env
from methods.base import build_agent
from runstore.atomic import write_json, write_text

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "zoo/pong_soup-pong/scratch/seed0/agent.pt"
TASKS = ("pong_soup/hflip", "pong_soup/noisy", "atari/road_runner", "atari/krull")
SEEDS = (0, 1, 2)


def dead_units(
    net: torch.nn.Module, task: str, states: int, episodes: int
) -> dict[str, tuple[int, int]]:
    """Per hidden layer of the newest column, how many units are constant over the
    states the net's own policy visits, of how many."""
    obs, _ = collect_states(net, task, states, episodes=episodes)
    with torch.no_grad():
        h = net.column_activations(obs)[-1]
    out = {}
    for layer in HIDDEN_LAYERS:
        x = h[layer].float()
        dims = (0, 2, 3) if x.dim() == 4 else (0,)
        out[layer] = (int((x.std(dim=dims) <= DEAD_STD).sum()), int(x.shape[1]))
    return out


def markdown(data: dict) -> str:
    """The page, from the JSON the run writes (its every number comes from there)."""
    rows, states = data["rows"], data["states"]
    lines = [
        "# Dead units before any training (generated)",
        "",
        f"`python scripts/dead_units_at_init.py --states {states} --episodes "
        f"{data['episodes']}`: untrained networks as the laptop runs build them "
        "(progressive: the shipped pong column, seed 0, and a new column at seeds 0-2; "
        "scratch: one column at seeds 0-2) play the target with their own policy; a unit "
        f"of the newest column is dead when it does not vary over those {states} states. "
        "Compare with the trained runs' zero-Fisher counts in "
        "[afs_vs_paper.md](afs_vs_paper.md).",
        "",
        "| target | network | "
        + " | ".join(f"{lay} dead (per seed)" for lay in HIDDEN_LAYERS)
        + " |",
        "|---|---|" + "---|" * len(HIDDEN_LAYERS),
    ]
    for task in dict.fromkeys(r["task"] for r in rows):
        for agent, name in (("progressive", "progressive (new column)"), ("scratch", "scratch")):
            mine = [r for r in rows if r["task"] == task and r["agent"] == agent]
            cells = [
                ", ".join(str(r["dead"][lay]) for r in mine) + f" of {mine[0]['units'][lay]}"
                for lay in HIDDEN_LAYERS
            ]
            lines.append(f"| {task} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--states", type=int, default=300)
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "docs/experiments/dead_units_at_init"))
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    for task in TASKS:
        env = make_env(task)
        actions, channels = int(env.action_space.n), int(env.observation_space.shape[-1])
        env.close()
        for agent, sources in (("progressive", [str(SOURCE)]), ("scratch", [])):
            for seed in SEEDS:
                net = build_agent(
                    agent, actions, in_channels=channels, sources=sources, seed=seed
                ).eval()
                counts = dead_units(net, task, args.states, args.episodes)
                dead = {lay: d for lay, (d, _) in counts.items()}
                units = {lay: n for lay, (_, n) in counts.items()}
                rows.append(
                    {"task": task, "agent": agent, "seed": seed, "dead": dead, "units": units}
                )
                print(task, agent, seed, dead, flush=True)
    out = Path(args.out)
    data = {"states": args.states, "episodes": args.episodes, "rows": rows}
    write_json(out.with_suffix(".json"), data)
    write_text(out.with_suffix(".md"), markdown(data))
    print(f"wrote {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
