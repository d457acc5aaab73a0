"""PathNet's evolution bookkeeping, driven by episodes that span many rollout fragments.

The simulation below plays the part of RLlib's env runners without Ray: R runners of E
sub-envs each; every sub-env plays episodes of 100 steps (its first 60-140); every 20
steps per sub-env (one rollout fragment) the driver collects finished episodes and
pushes a new table, as ``methods.pathnet.EvolutionHooks`` does each iteration. A
step's reward depends on the path *that computed the step* (plus a little noise), so a
score mixes paths exactly when an episode was played by more than one.
"""

from __future__ import annotations

import numpy as np
import pytest

from agents import PathNetConfig
from methods.pathnet import Population, RunnerPaths

CFG = PathNetConfig()  # the paper's Atari shape: L=4 layers, M=10 modules, N=4 active
GENES = CFG.num_layers * CFG.active_per_layer
# the best path: a known gene at every position
TARGET = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [9, 8, 7, 6], [2, 4, 6, 8]])


def distance(path: np.ndarray) -> int:
    """Sum of |gene - best gene| over the path: 0 exactly at the optimum."""
    return int(np.abs(np.asarray(path) - TARGET).sum())


def quality(path: np.ndarray) -> float:
    """Expected reward per step of a path: 1 at the optimum, falling with the distance."""
    return 1.0 - distance(path) / (GENES * (CFG.modules_per_layer - 1))


def simulate(
    population: Population,
    episodes: int,
    runners: int = 2,
    envs: int = 4,
    fragment: int = 20,
    switch_every: int | None = None,
    seed: int = 0,
):
    """Play ``episodes`` episodes; returns the per-episode log.

    ``switch_every``: the old bug, for the bookkeeping test: a sub-env's path is replaced
    by the runner's next member every so many steps, whatever the episode.
    """
    rng = np.random.default_rng(seed)
    sides = [RunnerPaths() for _ in range(runners)]
    for i, side in enumerate(sides):
        side.update(population.table(), population.members_for_runner(i, runners))
    subs = []
    for i in range(runners):
        for e in range(envs):
            subs.append({"runner": i, "env": e, "id": None, "t": 0, "length": 0})
    counter = iter(range(10**9))
    finished, pending, log = 0, [], []
    step = 0
    while finished < episodes:
        for s in subs:
            side = sides[s["runner"]]
            if s["id"] is None:  # an episode starts: the callback assigns a path
                s["id"] = f"ep{next(counter)}"
                s["path"] = side.start(s["env"], s["id"])
                # 100 steps (5 fragments); a sub-env's first episode is 60-140 steps long,
                # so episode ends never line up with the driver's iterations
                length = 100 if s["length"] else int(rng.integers(60, 141))
                s["t"], s["length"], s["score"], s["played"] = 0, length, 0.0, []
            if switch_every and s["t"] and s["t"] % switch_every == 0:
                members = side.members
                s["path"] = side.paths[members[(s["t"] // switch_every) % len(members)]][1]
            s["played"].append(s["path"].ravel())
            s["score"] += quality(s["path"]) + 0.05 * float(rng.standard_normal())
            s["t"] += 1
            if s["t"] == s["length"]:
                result = side.end(s["env"], s["id"], s["played"])
                assert result is not None
                member, generation, whole = result
                played = {tuple(r) for r in s["played"]}
                pending.append((member, generation, s["score"], whole))
                log.append(
                    {
                        "member": member,
                        "whole": whole,
                        "paths_played": len(played),
                        "played_member_path": played == {tuple(population.paths[member].ravel())}
                        if generation == population.generation[member]
                        else None,
                        "score": s["score"],
                    }
                )
                s["id"] = None
                finished += 1
        step += 1
        if step % fragment == 0:  # the driver's iteration
            for member, generation, score, whole in pending:
                log_status = population.record(member, generation, score, whole)
                assert log_status in ("credited", "partial", "stale")
            pending = []
            for i, side in enumerate(sides):
                side.update(population.table(), population.members_for_runner(i, runners))
    for member, generation, score, whole in pending:  # the last iteration
        population.record(member, generation, score, whole)
    return log


def test_evolution_selects_the_known_best_path():
    pop = Population(CFG, size=8, episodes_per_fitness=3, seed=1)
    start = min(distance(p) for p in pop.paths)
    simulate(pop, episodes=4_000)
    best = pop.best_path()
    # the optimum, or next to it (one gene one module away)
    assert distance(best) <= 1, (best, distance(best), start)
    assert pop.tournaments > 100
    # every member was scored, on whole episodes only
    state = pop.state()
    assert all(n >= 3 for n in state["whole_episodes"]), state["whole_episodes"]
    assert state["discarded"]["partial"] == 0


def test_every_member_plays_with_more_runners_than_members_and_the_reverse():
    for size, runners in ((8, 2), (8, 3), (3, 5), (2, 2)):
        pop = Population(CFG, size=size, episodes_per_fitness=2, seed=0)
        covered = set()
        for i in range(runners):
            covered.update(pop.members_for_runner(i, runners))
        assert covered == set(range(size)), (size, runners)
        simulate(pop, episodes=40 * size, runners=runners)
        assert all(n > 0 for n in pop.state()["whole_episodes"]), (size, runners)


def test_no_return_is_credited_to_a_path_that_did_not_play_the_whole_episode():
    # the old scheme: paths switch every 20 steps inside 60-140-step episodes
    pop = Population(CFG, size=8, episodes_per_fitness=2, seed=0)
    log = simulate(pop, episodes=300, switch_every=20)
    assert all(entry["paths_played"] > 1 for entry in log)
    assert not any(entry["whole"] for entry in log)
    state = pop.state()
    assert state["discarded"]["partial"] == 300
    assert sum(state["whole_episodes"]) == 0 and pop.tournaments == 0


def test_whole_episodes_are_credited_to_the_path_that_played_them():
    pop = Population(CFG, size=8, episodes_per_fitness=2, seed=0)
    log = simulate(pop, episodes=400)
    assert all(entry["paths_played"] == 1 and entry["whole"] for entry in log)
    # an episode whose member still has the same path was played by exactly that path
    current = [e for e in log if e["played_member_path"] is not None]
    assert current and all(e["played_member_path"] for e in current)
    # a member that lost a tournament mid-episode: that episode is stale, not credited
    state = pop.state()
    assert state["discarded"]["stale"] > 0
    assert sum(state["whole_episodes"]) + state["discarded"]["stale"] == 400


def test_fitness_is_the_mean_of_the_last_T_whole_episodes():
    pop = Population(CFG, size=2, episodes_per_fitness=3, seed=0)
    for score in (1.0, 2.0):
        assert pop.record(0, 0, score, whole=True) == "credited"
    assert pop.fitness(0) is None  # fewer than T episodes
    assert pop.record(0, 0, 100.0, whole=False) == "partial"
    assert pop.record(0, 0, 6.0, whole=True) == "credited"
    assert pop.fitness(0) == pytest.approx(3.0)  # (1 + 2 + 6) / 3
    assert pop.record(0, 0, 10.0, whole=True) == "credited"
    assert pop.fitness(0) == pytest.approx(6.0)  # (2 + 6 + 10) / 3: the last three
    assert pop.record(0, 5, 10.0, whole=True) == "stale"  # another generation


def test_tournament_loser_copies_the_winner_and_is_evaluated_afresh():
    pop = Population(CFG, size=2, episodes_per_fitness=1, seed=3)
    winner_path = pop.paths[1].copy()
    pop.record(1, 0, 5.0, whole=True)  # member 1 evaluated; no other to meet yet
    assert pop.tournaments == 0
    pop.record(0, 0, -5.0, whole=True)  # member 0 evaluated: meets member 1 and loses
    assert pop.tournaments == 1
    assert pop.generation == [1, 0] and pop.fitness(0) is None
    moved = np.abs(pop.paths[0] - winner_path)
    assert moved.max() <= 2  # a mutated copy of the winner: genes moved by at most 2
    assert np.array_equal(pop.paths[1], winner_path)
    assert pop.best_member() == 1


def test_state_round_trip_resumes_the_same_evolution():
    pop = Population(CFG, size=4, episodes_per_fitness=2, seed=0)
    simulate(pop, episodes=100)
    state = pop.state()
    again = Population(CFG, size=4, episodes_per_fitness=2, seed=99, state=state)
    assert again.state() == state
    with pytest.raises(ValueError, match="4 paths"):
        Population(CFG, size=8, state=state)


def test_runner_keeps_a_running_episodes_path_across_table_updates():
    pop = Population(CFG, size=2, episodes_per_fitness=1, seed=0)
    side = RunnerPaths()
    side.update(pop.table(), [0])
    path = side.start(0, "a").copy()
    pop.paths[0] = (pop.paths[0] + 1) % CFG.modules_per_layer
    pop.generation[0] += 1
    side.update(pop.table(), [0])
    member, generation, whole = side.end(0, "a", [path.ravel()] * 5)
    assert (member, generation, whole) == (0, 0, True)  # the old generation: stale later
    assert pop.record(member, generation, 1.0, whole) == "stale"
    assert side.end(0, "never-started", [path.ravel()]) is None
    with pytest.raises(ValueError, match="not all in the table"):
        side.update(pop.table(), [5])
