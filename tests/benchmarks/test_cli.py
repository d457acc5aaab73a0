"""The command line is generated from RunConfig: every field reachable, defaults kept."""

import dataclasses
import typing

import pytest

from benchmarks.cli import (
    SUITE_SET_FIELDS,
    _run_config_from_args,
    _suite_base,
    build_parser,
    main,
)
from benchmarks.config_cli import field_docs, option_name
from methods.den import den_config
from runstore.config import RunConfig


def _non_default(f, tp):
    """A value for field f that differs from its default, with its command-line text."""
    special = {
        "task": ("pong_soup/hflip", "pong_soup/hflip"),
        "agent": ("den", "den"),  # the den_* fields are refused for other agents
        "den_phases": ((0.2, 0.25, 0.3), None),
        "sources": (("pong_soup/noisy", "pong_soup/pong"), None),
        "algo": ("ppo", "ppo"),
        "address": ("127.0.0.1:6379", "127.0.0.1:6379"),
        "tag": ("job7", "job7"),
        "source_seed": (5, "5"),  # not the seed (3): the same seed is spelt None
        "gamma": (0.95, "0.95"),  # in (0, 1]
    }
    if f.name in special:
        return special[f.name]
    base = (
        typing.get_args(tp)[0] if typing.get_origin(tp) in (typing.Union, type(int | None)) else tp
    )
    if base is bool:
        return (not f.default, None)
    default = f.default if f.default is not None else 0
    value = base(default) + base(3)
    return value, str(value)


def test_every_run_config_field_round_trips_through_xfer_train():
    hints = typing.get_type_hints(RunConfig)
    argv, expected = ["train"], {}
    for f in dataclasses.fields(RunConfig):
        value, text = _non_default(f, hints[f.name])
        expected[f.name] = value
        if f.name == "sources":
            for s in value:
                argv += ["--source", s]
        elif f.name == "den_phases":  # a number tuple: its values after one option
            argv += [option_name(f.name), *map(str, value)]
        elif isinstance(value, bool):
            argv.append(option_name(f.name) if value else "--no-" + f.name.replace("_", "-"))
        else:
            argv += [option_name(f.name), text]
    args = build_parser().parse_args(argv)
    cfg = _run_config_from_args(args)
    for name, value in expected.items():
        assert getattr(cfg, name) == value, name
    # nothing was left at its default: the test covered every field
    defaults = RunConfig(task="catch_soup/pong")
    assert all(
        getattr(cfg, f.name) != getattr(defaults, f.name) for f in dataclasses.fields(RunConfig)
    )


def test_number_tuples_take_their_values_after_one_option_as_the_docs_write_them():
    """docs/den.md writes ``--den-phases 0.1 0.3 0.3``; repeating the option adds values."""
    base = ["train", "--task", "catch_soup/hflip", "--agent", "den", "--steps", "9"]
    base += ["--source", "catch_soup/pong"]
    for form in (
        ["--den-phases", "0.2", "0.25", "0.3"],
        ["--den-phases", "0.2", "--den-phases", "0.25", "0.3"],
    ):
        cfg = _run_config_from_args(build_parser().parse_args([*base, *form]))
        assert cfg.den_phases == (0.2, 0.25, 0.3)
        assert den_config(cfg).phases == (0.2, 0.25, 0.3)
    # sources stay one value per --source: a target after them is not swallowed
    args = build_parser().parse_args([*base, "--source", "catch_soup/noisy"])
    assert _run_config_from_args(args).sources == ("catch_soup/pong", "catch_soup/noisy")
    helptext = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "default 0.1 0.3 0.3" in " ".join(helptext.split())


def test_options_not_given_keep_the_dataclass_defaults():
    args = build_parser().parse_args(["train", "--task", "catch_soup/pong", "--steps", "50"])
    assert _run_config_from_args(args) == RunConfig(task="catch_soup/pong", steps=50)
    args = build_parser().parse_args(
        ["train", "--task", "catch_soup/pong", "--budget", "smoke", "--reward-clip", "0"]
    )
    cfg = _run_config_from_args(args)
    assert cfg.steps == 3_000 and cfg.reward_clip is None
    args = build_parser().parse_args(
        ["train", "--task", "pong_soup/pong", "--steps", "9", "--device", "gpu"]
    )
    cfg = _run_config_from_args(args)
    assert (cfg.gpus_per_learner, cfg.num_learners) == (1.0, 1)


def test_the_old_option_spellings_still_work():
    args = build_parser().parse_args(
        [
            "train",
            "--task",
            "catch_soup/pong",
            "--steps",
            "5",
            "--stall-timeout",
            "7",
            "--checkpoint-every",
            "8",
            "--no-wandb",
        ]
    )
    cfg = _run_config_from_args(args)
    assert (cfg.stall_timeout_s, cfg.checkpoint_every_s, cfg.wandb) == (7.0, 8.0, False)


def test_bench_takes_every_field_a_suite_does_not_set():
    parser = build_parser()
    args = parser.parse_args(
        [
            "bench",
            "catch-soup",
            "--algo",
            "ppo",
            "--lr",
            "0.001",
            "--no-native-env",
            "--device",
            "gpu",
            "--env-runners",
            "3",
            "--no-wandb",
        ]
    )
    base = _suite_base(args)
    assert base == {
        "algo": "ppo",
        "lr": 0.001,
        "native_env": False,
        "env_runners": 3,
        "wandb": False,
        "gpus_per_learner": 1.0,
        "num_learners": 1,
    }
    for name in SUITE_SET_FIELDS:
        with pytest.raises(SystemExit):
            parser.parse_args(["bench", "catch-soup", option_name(name), "1"])


def test_every_field_has_help_from_the_docstring():
    docs = field_docs(RunConfig)
    assert set(docs) == {f.name for f in dataclasses.fields(RunConfig)}
    assert docs["lr"].startswith("learning rate")


def test_missing_step_count_and_bad_field_values_are_one_line_errors(capsys):
    # (test_training.py covers agent/source, output-path and evaluate errors)
    assert main(["train", "--task", "catch_soup/pong"]) == 2
    assert capsys.readouterr().err == "xfer: error: give --budget NAME or --steps N\n"
    assert main(["train", "--task", "catch_soup/pong", "--steps", "5", "--algo", "sac"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown algo 'sac'" in err


@pytest.mark.parametrize(
    "option, value, says",
    [
        ("--lr", "-1", "lr must be > 0"),
        ("--lr", "nan", "lr must be > 0"),
        ("--gamma", "1.5", "gamma must be in (0, 1]"),
        ("--entropy-coeff", "-0.1", "entropy_coeff must be >= 0"),
        ("--grad-clip", "0", "grad_clip must be > 0"),
        ("--alpha-init", "-1", "alpha_init must be > 0"),
        ("--envs-per-runner", "0", "envs_per_runner must be >= 1"),
    ],
)
def test_out_of_range_hyperparameters_are_refused_before_anything_is_written(
    tmp_path, capsys, option, value, says
):
    from benchmarks.cli import main as xfer

    out = tmp_path / "results"
    code = xfer(
        ["train", "--task", "catch_soup/pong", option, value, "--steps", "10", "--out", str(out)]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and says in err[0]
    assert not out.exists()


def test_plan_refuses_an_out_that_is_a_file(tmp_path, capsys):
    from benchmarks.cli import main as xfer

    out = tmp_path / "results.txt"
    out.write_text("not a folder")
    code = xfer(["plan", "catch-soup", "--budget", "smoke", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is a file, not a results directory" in err[0]
    assert out.read_text() == "not a folder"
