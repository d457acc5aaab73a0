"""Named budgets, in one place: agent steps per run and jobs per cell, per domain.

A budget is data: ``steps[domain]`` agent (env) steps per run, ``jobs`` per matrix cell
(seeds x sampled hyperparameters; the paper reports the mean of the top 3 of 25), and
which part of a suite's matrix to run.

- ``smoke``: a few thousand steps per run, for tests; learns nothing.
- ``laptop``: the make targets' default; a reduced matrix that finishes on a 2-core
  machine in about two hours (see ``notes``).
- ``gpu``: one GPU node for hours.
- ``paper``: 40M agent steps (160M frames) per job, 25 jobs per cell, top 3 reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Budget", "BUDGETS", "get_budget", "PAPER_SPACE"]

# The paper's hyperparameter sampling space (A3C, Rusu et al. 2016), defined once.
PAPER_SPACE: dict[str, tuple[float, ...]] = {
    "lr": (1e-3, 5e-4, 1e-4),
    "entropy_coeff": (1e-2, 1e-3, 1e-4),
    "grad_clip": (20.0, 40.0),
    "alpha_init": (1.0, 0.1, 0.01),
}


# APS episodes per noise level in the paper (Rusu et al. 2016: "10 episodes per point")
APS_EPISODES = 10
# APS bisection steps (log space over [1e-3, 1e3]: 6 pin sigma^2 within 1.12x, 4 within 1.54x)
APS_ITERATIONS = 6


@dataclass(frozen=True)
class Budget:
    """One named budget.

    Attributes:
        name: the budget's name.
        steps: agent steps per run, by domain.
        jobs: jobs per matrix cell: 1 = the suite's settings (defaults, or tuned); more (the paper
            budget: 25) sample the paper's hyperparameter space, job j with seed j.
        top_k: jobs averaged per cell in the report (the paper: 3 of 25); with one job
            per cell every seed is averaged.
        seeds: seeds per cell, by domain (1 where not given): each seed is a run with
            the suite's settings, its sources trained (or taken from the zoo) at
            the same seed. ``xfer bench --seeds N`` overrides it.
        reduced: if True the suite runs its reduced matrix (``Suite.reduced``).
        row: if True the suite runs its row matrix (``Suite.row``: Pong Soup's row from
            pong to all 7 other variants), which takes precedence over ``reduced``.
        notes: what the budget leaves out and how to scale up.
        method_settings: RunConfig settings of methods' own fields (``Method.fields``),
            applied to the cells of the methods that own them: the gpu and paper budgets
            evolve PathNet's paper population of 64 paths (the smaller ones keep 8).
        source_steps: agent steps of a suite's source runs, by domain (a source is
            trained to be a source; where not given, the targets' steps, and the plan
            and the log say so). A shipped zoo column stands in for a source run
            whatever its steps.
        source_seed: by domain, the one seed whose source runs (the shipped zoo columns)
            seed every seed of a cell (``RunConfig.source_seed``); a domain not given
            trains (or takes from the zoo) the sources of each seed at that seed.
        aps_episodes: episodes per noise level of APS, the suite's perturbation analysis
            of every finished progressive run, by domain (the paper's 10 where not given).
            APS plays 65 such noise levels a run (4 layers x 2 columns x (2 bracket + 6
            bisection steps) + the clean score), so long games get fewer at the laptop
            budget; the report gives each cell's episodes.
        aps_iterations: APS's bisection steps per (layer, column), by domain (6 where
            not given: sigma^2 within a factor of 1.12 in [1e-3, 1e3]; 4: 1.54).
    """

    name: str
    steps: dict[str, int] = field(default_factory=dict)
    jobs: int = 1
    top_k: int = 1
    reduced: bool = False
    notes: str = ""
    method_settings: dict[str, int] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)
    aps_episodes: dict[str, int] = field(default_factory=dict)
    source_seed: dict[str, int] = field(default_factory=dict)
    source_steps: dict[str, int] = field(default_factory=dict)
    aps_iterations: dict[str, int] = field(default_factory=dict)
    row: bool = False

    def aps_iterations_for(self, domain: str) -> int:
        """APS bisection steps in ``domain`` (6 unless set)."""
        return int(self.aps_iterations.get(domain, APS_ITERATIONS))

    def aps_episodes_for(self, domain: str) -> int:
        """APS episodes per noise level in ``domain`` (the paper's 10 unless set)."""
        return int(self.aps_episodes.get(domain, APS_EPISODES))

    def seeds_for(self, domain: str) -> int:
        """Seeds per cell in ``domain`` (1 unless the budget says more)."""
        return int(self.seeds.get(domain, 1))

    def source_steps_for(self, domain: str) -> int:
        """Agent steps of a source run in ``domain`` (the targets' unless set)."""
        return int(self.source_steps.get(domain, self.steps_for(domain)))

    def steps_for(self, domain: str) -> int:
        if domain not in self.steps:
            raise KeyError(f"budget {self.name!r} has no step count for domain {domain!r}")
        return self.steps[domain]


BUDGETS: dict[str, Budget] = {
    "smoke": Budget(
        "smoke",
        steps={"catch_soup": 3_000, "pong_soup": 2_000, "atari": 2_000, "labyrinth": 2_000},
        reduced=True,
        aps_episodes={"catch_soup": 2, "pong_soup": 1, "atari": 1, "labyrinth": 1},
        aps_iterations={"catch_soup": 1, "pong_soup": 1, "atari": 1, "labyrinth": 1},
        notes="a few thousand steps per run: checks the plumbing, learns nothing",
    ),
    "laptop": Budget(
        "laptop",
        steps={
            "catch_soup": 150_000,
            "pong_soup": 600_000,
            "atari": 400_000,
            "labyrinth": 250_000,
        },
        reduced=True,
        seeds={"catch_soup": 5, "pong_soup": 3, "atari": 3, "labyrinth": 3},
        source_seed={"pong_soup": 0, "atari": 0, "labyrinth": 0},
        # Pong, Atari and Labyrinth: the zoo column's steps (it stands in); Catch learns
        # its source in 40-60k
        source_steps={
            "catch_soup": 150_000,
            "pong_soup": 2_000_000,
            "atari": 2_000_000,
            "labyrinth": 2_000_000,
        },
        aps_episodes={"pong_soup": 1, "atari": 2, "labyrinth": 3},
        aps_iterations={"pong_soup": 4},
        notes=(
            "reduced matrix at each suite's settings (the library defaults, or the tuned ones "
            "where a suite has a tuning record: Pong Soup): 5 seeds per cell on Catch Soup, 3 on "
            "Pong Soup, Atari and Labyrinth (--seeds N for more); 600k agent steps per Pong Soup "
            "target run (150k Catch, 400k Atari, 250k Labyrinth), about 7 minutes a Pong run on 2 "
            "cores. Pong Soup's first column is the shipped zoo column (seed 0, trained to >= +18) "
            "for every seed, so targets transfer from a column that plays Pong and the seeds vary "
            "the target's training. Scratch Pong leaves the random floor only after 300-500k "
            "steps, so 300k showed no transfer at all and 400k separated no agent; 600k is where "
            "progressive on hflip pulls away. Its matrix (2 targets x 3 agents x 3 seeds = 18 "
            "runs, APS on 1 episode per noise level) is sized for 2.5 to 3 hours on 2 cores. "
            "Atari's and Labyrinth's are the same shape: the zoo column on pong (Pong Soup's, "
            "seed 0, 2M steps) or seek_track_1 (seed 0, 2M steps) for every seed, targets "
            "road_runner and krull or seek_track_2 and seek_avoid_1 (scratch learns each within "
            "the budget: docs/learnability.md), 3 agents x 3 seeds. Scale up with BUDGET=gpu or "
            "BUDGET=paper on a cluster."
        ),
    ),
    "overnight": Budget(
        "overnight",
        steps={"pong_soup": 600_000},
        row=True,
        seeds={"pong_soup": 3},
        source_seed={"pong_soup": 0},
        source_steps={"pong_soup": 2_000_000},
        aps_episodes={"pong_soup": 1},
        aps_iterations={"pong_soup": 4},
        notes=(
            "the paper's Pong Soup row from pong: the shipped pong column (seed 0) to all 7 "
            "other variants, baseline 1 (scratch), baseline 3 (fine-tune all) and "
            "progressive-2col, 3 seeds per cell, 600k steps a run (the suite's tuned "
            "settings): 63 target runs, of which the laptop report's 18 (hflip, noisy) are "
            "the same runs, reused when the suite runs on a copy of docs/results/pong-soup "
            "holding them, so 45 are trained (5-18 minutes each on 2 cores; measured: 7 h 29 "
            "min to 7 h 59 min with every evaluation, docs/results/pong-soup-row). The same "
            "steps as the laptop budget, so targets that scratch does not learn within 600k "
            "steps are flagged in the report, not scaled up. Pong Soup only "
            "(`make bench-pong BUDGET=overnight`)."
        ),
    ),
    "long": Budget(
        "long",
        steps={"pong_soup": 2_000_000, "labyrinth": 1_000_000},
        reduced=True,
        seeds={"pong_soup": 3, "labyrinth": 3},
        source_seed={"pong_soup": 0, "labyrinth": 0},
        source_steps={"pong_soup": 2_000_000, "labyrinth": 2_000_000},
        aps_episodes={"pong_soup": 1, "labyrinth": 3},
        aps_iterations={"pong_soup": 4},
        notes=(
            "the laptop matrix's agents and seeds at longer runs, for the experiments on "
            "where we disagree with the paper: 2M agent steps a Pong Soup target run "
            "(`xfer bench pong-white --budget long`: is white learnable at all, and does "
            "anything transfer to it) and 1M a Labyrinth one (`xfer bench labyrinth "
            "--budget long`: does progressive catch up with fine-tuning given 4x the "
            "laptop's steps). The same cells, seeds and zoo columns as the laptop budget, "
            "at the suite's tuned settings (tuned at 600k steps). A run's step count is "
            "part of its identity, so these runs go into their own results folder."
        ),
    ),
    "gpu": Budget(
        "gpu",
        steps={
            "catch_soup": 500_000,
            "pong_soup": 10_000_000,
            "atari": 10_000_000,
            "labyrinth": 10_000_000,
        },
        seeds={"catch_soup": 3, "pong_soup": 3, "atari": 3, "labyrinth": 3},
        notes="full matrices, 3 seeds per cell at each suite's settings, 10M steps",
        method_settings={"pathnet_population": 64},
    ),
    "paper": Budget(
        "paper",
        steps={
            "catch_soup": 1_000_000,
            "pong_soup": 40_000_000,
            "atari": 40_000_000,
            "labyrinth": 40_000_000,
        },
        jobs=25,
        top_k=3,
        notes="the paper's protocol: 40M agent steps per job, 25 jobs per cell, top 3",
        method_settings={"pathnet_population": 64},
    ),
}


def get_budget(name: str) -> Budget:
    """The budget called ``name``; a clear error lists the valid names."""
    try:
        return BUDGETS[name]
    except KeyError:
        raise KeyError(f"unknown budget {name!r}; choose from {', '.join(BUDGETS)}") from None
