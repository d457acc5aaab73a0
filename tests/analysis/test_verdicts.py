"""The generated verdicts (analysis.verdicts): an FT interval above 0 reads 'transfers'
only where scratch learned the target; where scratch stays near the floor it reads as
an earlier take-off, with the caveat, as the overnight row's unlearned targets need."""

from __future__ import annotations

from analysis.cells import BASELINE, CellResult
from analysis.stats import Estimate
from analysis.verdicts import TAKE_OFF, verdict_rows

T = "pong_soup/white"


def _cells(scratch_end: float, ft: Estimate) -> list[CellResult]:
    """Scratch ending at ``scratch_end`` on a Pong-scaled target (floor -20.2, top 21),
    and progressive with forward transfer ``ft``."""
    base = CellResult(BASELINE, (), T, floor=-20.2, top=21.0, aucs=[0.0] * 3)
    base.asymptotic = Estimate(scratch_end, scratch_end - 1, scratch_end + 1, 3)
    prog = CellResult("progressive-2col", ("pong_soup/pong",), T, floor=-20.2, top=21.0)
    prog.aucs, prog.ft_ci = [0.2] * 3, ft
    return [base, prog]


def _row(cells: list[CellResult]) -> dict[str, str]:
    rows = verdict_rows(cells)
    return dict(zip(rows[0], rows[2], strict=True))  # progressive's row


def test_an_ft_above_zero_is_transfer_only_where_scratch_learned():
    up = Estimate(0.20, 0.05, 0.35, 3)
    # floor + 0.1 x (top - floor) = -16.08: scratch at -19 has not learned, at -10 has
    unlearned = _row(_cells(-19.0, up))
    assert unlearned["vs scratch"] == TAKE_OFF
    assert unlearned["caveat"].startswith("scratch stays near the floor")
    learned = _row(_cells(-10.0, up))
    assert learned["vs scratch"] == "transfers" and learned["caveat"] == ""
    # an interval over 0 is 'not supported' either way; below 0 is worse either way
    assert _row(_cells(-19.0, Estimate(0.1, -0.1, 0.3, 3)))["vs scratch"] == "not supported"
    worse = Estimate(-0.2, -0.3, -0.1, 3)
    assert _row(_cells(-19.0, worse))["vs scratch"] == "worse than scratch"
    assert _row(_cells(-10.0, worse))["vs scratch"] == "worse than scratch"


def test_the_matrix_figure_flags_a_target_scratch_did_not_learn():
    from analysis.figures import target_tick

    up = Estimate(0.20, 0.05, 0.35, 3)
    assert target_tick(_cells(-19.0, up), T) == "white\n(scratch did not\nlearn: FT is\ntake-off)"
    # each line fits its column (1.9 inches at 10 pt: about 16 characters)
    assert max(map(len, target_tick(_cells(-19.0, up), T).splitlines())) <= 16
    assert target_tick(_cells(-10.0, up), T) == "white"


def test_the_glance_lists_a_target_two_folders_share_once(tmp_path):
    """The overnight row holds the laptop report's hflip and noisy runs: the top README's
    table lists such a target once; a target whose figures differ is listed per folder."""
    import csv

    from analysis.verdicts import DIFF, FINE_TUNE, glance_markdown

    def write(folder: str, rows: dict[str, str]) -> None:
        path = tmp_path / folder / "report" / "verdicts.csv"
        path.parent.mkdir(parents=True)
        cols = ["target", "agent", "n", "FT vs scratch [CI]", "vs scratch", DIFF]
        cols += ["vs fine-tune-all", "caveat"]
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, cols)
            w.writeheader()
            for target, ft in rows.items():
                for agent in ("progressive-2col", FINE_TUNE):
                    w.writerow(
                        {
                            "target": target,
                            "agent": agent,
                            "n": "3",
                            "FT vs scratch [CI]": ft,
                            "vs scratch": "not supported",
                            DIFF: "+0.1 [-0.1, +0.3]",
                            "vs fine-tune-all": "not supported",
                            "caveat": "",
                        }
                    )

    write("pong-soup", {"pong_soup/hflip": "+0.2 [-0.1, +0.5]"})
    write(
        "pong-soup-row",
        {"pong_soup/hflip": "+0.2 [-0.1, +0.5]", "pong_soup/black": "+0.4 [+0.1, +0.7]"},
    )
    lines = glance_markdown(tmp_path).splitlines()[2:]
    assert [line.split(" | ")[1] for line in lines] == ["hflip", "black"]
    assert "(docs/results/pong-soup/README.md) | hflip" in lines[0]
    # the same target with other figures (other runs) is listed under each folder
    (tmp_path / "pong-soup-row").rename(tmp_path / "row")
    write("pong-soup-row", {"pong_soup/hflip": "+0.3 [+0.1, +0.5]"})
    lines = glance_markdown(tmp_path).splitlines()[2:]
    assert [line.split(" | ")[1] for line in lines] == ["hflip", "hflip"]


def test_the_reports_answer_says_where_scratch_did_not_learn():
    """An agent's opening line: 'better than baseline 1' over targets scratch never
    learned is take-off; the line counts them (and says nothing where scratch learned)."""
    from analysis.cells import AgentSummary
    from analysis.render import answer_lines

    up = Estimate(0.20, 0.05, 0.35, 3)
    summary = AgentSummary(
        "progressive-2col", 1, "3", ft_mean=up, ft_iqm=up, p_improve=Estimate(0.9, 0.6, 1, 3)
    )
    base_only = AgentSummary("baseline1-scratch", 1, "3", None, None, None)
    unlearned = answer_lines([base_only, summary], _cells(-19.0, up))
    assert len(unlearned) == 1 and "better than baseline 1" in unlearned[0]
    assert "Scratch did not learn 1 of its 1 targets within the budget" in unlearned[0]
    learned = answer_lines([base_only, summary], _cells(-10.0, up))
    assert "Scratch did not learn" not in learned[0]
    assert answer_lines([summary]) == [learned[0]]  # without cells: no count
