"""Training throughput against the raw env, in one run (issue 5's benchmark).

Usage: python scripts/bench_training.py [--task pong_soup/pong] [--agent scratch]
       [--steps 20000] [--env-runners N] [--envs-per-runner N] [--device cpu|gpu]
       python scripts/bench_training.py --compare-pipelines [--steps 20000]
       python scripts/bench_training.py --compute-bound

Times the task's env alone (one core, random actions), trains the agent with the
default local settings, times the env again, and prints env agent steps/s (mean of the
two), training agent steps/s and frames/s, and their ratio. Goal on the 2-core machine:
ratio >= 0.5 for scratch on pong_soup/pong.

``--compute-bound`` prints the ceiling no sampler can pass: the work each agent step
needs (env, runner forward, learner update), timed on one core against raw ALE, and the
ratio to raw ALE that 2 cores would reach with no other cost. ``--compare-pipelines``
prints it after the pipelines.
"""

from __future__ import annotations

import argparse

from benchmarks.perf import bracketed_training_throughput


def print_compute_bound(cores: int) -> dict:
    """Print and return :func:`benchmarks.perf.compute_bound` for the pipeline agents."""
    from benchmarks.perf import compute_bound

    print(
        "compute bound: work per agent step on one core, as a multiple of raw ALE's "
        f"(1 column = scratch; 8 envs; learner batch 160); ideal = {cores} cores, no other cost"
    )
    print(f"{'agent':<12}{'env':>7}{'forward':>9}{'learn':>7}{'total':>7}{'ideal ratio':>13}")
    bound = compute_bound(cores=cores)
    for label, b in bound.items():
        print(
            f"{label:<12}{b['env_x_raw']:>7.2f}{b['forward_x_raw']:>9.2f}{b['learn_x_raw']:>7.2f}"
            f"{b['total_x_raw']:>7.2f}{b['ideal_ratio_to_raw']:>13.2f}"
        )
    return bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="pong_soup/pong")
    parser.add_argument("--agent", default="scratch")
    parser.add_argument("--steps", type=int, default=20_000, help="agent steps to train")
    parser.add_argument("--env-runners", type=int, default=None)
    parser.add_argument("--envs-per-runner", type=int, default=None)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument(
        "--compare-pipelines",
        action="store_true",
        help="issue 16's benchmark: raw ALE on one core, then the sampling pipelines "
        "(Python envs, C++ vector env, + lean connectors, the defaults, + queued requests) "
        "back to back for 1-, 2- and 4-column nets and PathNet (see "
        "benchmarks.perf.pipeline_comparison); --task and --agent are ignored",
    )
    parser.add_argument(
        "--compute-bound",
        action="store_true",
        help="only the compute bound: the work per agent step of each pipeline agent, and "
        "the ratio to raw ALE that --cores cores would reach with no other cost",
    )
    parser.add_argument("--cores", type=int, default=2, help="cores of the compute bound")
    args = parser.parse_args()
    if args.cores < 1:
        parser.error(f"--cores must be >= 1, got {args.cores}")
    overrides = {}
    if args.env_runners is not None:
        overrides["env_runners"] = args.env_runners
    if args.envs_per_runner is not None:
        overrides["envs_per_runner"] = args.envs_per_runner
    if args.device == "gpu":
        overrides.update(num_learners=1, gpus_per_learner=1.0)
    if args.compute_bound:
        bound = print_compute_bound(args.cores)
        if args.json:
            from runstore.atomic import write_json

            write_json(args.json, {"args": vars(args), "compute_bound": bound})
        return
    if args.compare_pipelines:
        from benchmarks.perf import PIPELINE_HEADER, PIPELINES, pipeline_comparison

        print(f"{args.steps} agent steps per run, overrides {overrides or 'none'}; agent steps/s")
        print(
            "pipelines: python = SyncVectorEnv of Python envs with RLlib's connectors and "
            "sampler settings, native = ale-py's C++ vector env with RLlib's, lean = the "
            "C++ env + the suite's one-pass connectors, default = lean + weights pushed "
            "by the driver, queued = default + 2 requests in flight per runner; ratio: to "
            "raw ALE Pong on one core; tr/sa: learner-trained / sampled steps (RLlib's "
            "bootstrap step removed); lag: policy lag in learner updates"
        )
        print(PIPELINE_HEADER)
        rows = pipeline_comparison(args.steps, **overrides)
        print()
        bound = print_compute_bound(args.cores)
        # a pipeline can only approach its ceiling: above it, a figure is wrong
        print("\nmeasured ratio / ideal ratio (share of the ceiling each pipeline reached)")
        for label, row in rows.items():
            if label not in bound:
                continue
            ideal = bound[label]["ideal_ratio_to_raw"]
            shares = {name: row[f"{name}_ratio_to_raw"] / ideal for name, _ in PIPELINES}
            print(f"{label:<12}" + "".join(f"{k:>9} {v:4.2f}" for k, v in shares.items()))
            if max(shares.values()) > 1.05:
                print(f"  WARNING: {label} ran above its compute bound: a timing is wrong")
        if args.json:
            from runstore.atomic import write_json

            write_json(args.json, {"args": vars(args), "pipelines": rows, "compute_bound": bound})
        return
    t = bracketed_training_throughput(args.task, args.agent, args.steps, **overrides)
    print(f"{args.agent} on {args.task}, {args.steps} steps, overrides {overrides or 'none'}")
    print(
        f"env alone       {t['env_steps_per_s']:8.0f} agent steps/s "
        f"(before {t['env_before']:.0f}, after {t['env_after']:.0f})"
    )
    print(
        f"training        {t['steps_per_s']:8.0f} agent steps/s  ({t['frames_per_s']:.0f} frames/s)"
    )
    print(f"ratio           {t['ratio_to_env']:8.3f}  (goal >= 0.5 on 2 cores)")
    if args.json:
        from runstore.atomic import write_json

        write_json(args.json, {"args": vars(args), **t})


if __name__ == "__main__":
    main()
