"""The answer per target, generated: what each transfer agent's interval supports
against baseline 1 (scratch) and against fine-tuning, with the caveat that matters.

Every number here comes from the run directories (curves, ``status.json``,
``curve_check.json``) through :mod:`analysis.cells`; ``xfer report`` writes it to
``report/summary.md``, puts it at the top of the report, and copies it between the
markers of the results folder's ``README.md`` (:func:`sync_writeup`), so a write-up's
numbers are this file's and cannot drift (``tests/analysis/test_writeups.py``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from analysis.cells import BASELINE, CellResult
from analysis.results import Run, read_json
from analysis.stats import Estimate, difference_interval
from runstore.atomic import write_text
from runstore.config import settings_label
from runstore.rundir import RunDir, read_json_file

__all__ = [
    "verdict_rows",
    "scratch_learned",
    "summary_markdown",
    "sync_writeup",
    "rows_csv",
    "glance_markdown",
    "BEGIN",
    "END",
]

BEGIN = "<!-- begin generated: report/summary.md (xfer report rewrites this block) -->"
END = "<!-- end generated -->"
FINE_TUNE = "baseline3-finetune-all"
DIFF = "AUC_n minus fine-tune-all [CI]"
# scratch "does not learn" a target within the budget when its mean score over the last
# 10% of its steps stays under this share of the way from the floor to the top
LEARNED_SHARE = 0.1
TAKE_OFF = "takes off sooner, not transfer"


def _ci(est: Estimate | None, digits: int = 3, sign: bool = True) -> str:
    if est is None or not math.isfinite(est.value):
        return "-"
    form = f"+.{digits}f" if sign else f".{digits}f"
    if not est.has_interval:
        return f"{est.value:{form}} (n={est.n}, no interval)"
    return f"{est.value:{form}} [{est.lo:{form}}, {est.hi:{form}}]"


def _side(est: Estimate | None, better: str, worse: str) -> str:
    if est is None or not est.has_interval:
        return "no interval"
    if est.lo > 0:
        return better
    if est.hi < 0:
        return worse
    return "not supported"


def _digits(cell: CellResult | None) -> int:
    """Decimals for scores: 2 on small scales (Catch's -1 to 1), else 1."""
    if cell is None or not math.isfinite(cell.top - cell.floor):
        return 1
    return 2 if cell.top - cell.floor < 5 else 1


def _evaluations(runs: list[Run], digits: int = 1) -> str:
    values = []
    for r in sorted(runs, key=lambda r: int(r.config.get("seed", 0))):
        data = read_json(RunDir(r.path).curve_check) or {}  # the report's own reader
        if data.get("eval_mean") is not None:
            values.append(f"{float(data['eval_mean']):+.{digits}f}")
    return ", ".join(values) or "-"


def scratch_learned(base: CellResult | None) -> bool | None:
    """Whether baseline 1 learned its target within the budget: its score over the last
    10% of its steps at least :data:`LEARNED_SHARE` of the way from the floor to the top
    (None where that cannot be said: no scratch cell, or no top)."""
    if base is None or base.asymptotic is None or not math.isfinite(base.top - base.floor):
        return None
    return base.asymptotic.value >= base.floor + LEARNED_SHARE * (base.top - base.floor)


def verdict_rows(cells: list[CellResult]) -> list[list[str]]:
    """Header and one row per (target, transfer agent): n, FT against baseline 1 with its
    interval and verdict, the difference in normalised AUC against fine-tune-all (for
    other agents) with its interval and verdict, the asymptotic score, each seed's final
    evaluation (played without RLlib), and the caveat."""
    header = [
        "target",
        "agent",
        "n",
        "FT vs scratch [CI]",
        "vs scratch",
        DIFF,
        "vs fine-tune-all",
        "asymptotic score [CI]",
        "final evaluation per seed",
        "caveat",
    ]
    rows = [header]
    targets = sorted({c.target for c in cells})
    for target in targets:
        here = [c for c in cells if c.target == target and c.label != BASELINE]
        base = next((c for c in cells if c.target == target and c.label == BASELINE), None)
        tune = next((c for c in cells if c.target == target and c.label == FINE_TUNE), None)
        learned = scratch_learned(base)
        caveat = "scratch stays near the floor: FT measures take-off" if learned is False else ""
        # where scratch never learned the target, a positive FT is an earlier take-off,
        # not transfer as the paper measures it: the verdict says so
        gain = TAKE_OFF if learned is False else "transfers"
        if base is not None and base.n:
            rows.append(
                [
                    target,
                    BASELINE,
                    str(base.n),
                    "0 (reference)",
                    "-",
                    "-",
                    "-",
                    _ci(base.asymptotic, _digits(base), sign=False),
                    _evaluations(base.counted, _digits(base)),
                    caveat,
                ]
            )
        for c in here:
            versus, versus_text = None, "-"
            if tune is not None and c is not tune and c.aucs_norm and tune.aucs_norm:
                versus = difference_interval(np.array(c.aucs_norm), np.array(tune.aucs_norm))
                versus_text = _side(versus, "better", "worse")
            rows.append(
                [
                    target,
                    c.label,
                    str(c.n),
                    _ci(c.ft_ci, 3),
                    _side(c.ft_ci, gain, "worse than scratch"),
                    _ci(versus, 3) if versus is not None else "-",
                    versus_text,
                    _ci(c.asymptotic, _digits(c), sign=False),
                    _evaluations(c.counted, _digits(c)),
                    caveat,
                ]
            )
    return rows


def rows_csv(rows: list[list[str]]) -> str:
    """Rows as CSV text (``report/verdicts.csv``: what the README's glance table reads)."""
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _table(rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return out


def _run_accounting(cells: list[CellResult]) -> str:
    runs = [r for c in cells for r in c.counted]
    walls = [float(r.status["wall_time"]) for r in runs if r.status.get("wall_time") is not None]
    if not walls:
        return f"{len(runs)} target runs."
    return (
        f"{len(runs)} target runs; training wall time per run (status.json) "
        f"{min(walls):,.0f}-{max(walls):,.0f} s, {sum(walls):,.0f} s together."
    )


def summary_markdown(cells: list[CellResult], coverage: str = "") -> str:
    """The generated answer: the verdict table, what the intervals are, the runs."""
    lines = [
        "Per target, each transfer agent against baseline 1 (scratch) and against "
        "fine-tune-all, on normalised AUCs (0 at the random floor, 1 at the top). A verdict "
        "needs the interval to exclude 0; 'not supported' means it does not. Caveat "
        "'scratch stays near the floor': baseline 1's score over the last 10% of its steps "
        "is under a tenth of the way from the floor to the top, so FT measures how soon an "
        "agent takes off, not transfer as the paper measures it, and an FT interval above 0 "
        f"there reads '{TAKE_OFF}'. Intervals: "
        "Welch t at calibrated levels (the report's method section gives their coverage "
        "measured at this n). Final evaluation: 20 sampled episodes of each seed's final "
        "weights, played without RLlib.",
        "",
        *_table(verdict_rows(cells)),
        "",
        _run_accounting(cells),
    ]
    if coverage:
        lines += ["", coverage]
    return "\n".join(lines) + "\n"


def sync_writeup(readme: Path, summary: str) -> bool:
    """Put ``summary`` between the markers of ``readme`` (atomically); False when the
    file has no markers (nothing written)."""
    return sync_block(readme, summary, BEGIN)


DOMAINS = {
    "pong-soup": "Pong Soup",
    "pong-soup-row": "Pong Soup row (overnight)",
    "atari": "Atari",
    "labyrinth": "Labyrinth",
    "catch-soup": "Catch Soup (proxy)",
}


def glance_markdown(results: Path) -> str:
    """The top README's results table, from every ``results/*/report/verdicts.csv``:
    per domain and target, progressive-2col's and fine-tune-all's FT against scratch
    with their verdicts, progressive minus fine-tune-all, n and the caveat.

    A target a later folder repeats with the same figures (the overnight row holds the
    laptop report's hflip and noisy runs) is listed once, under the first folder; with
    different figures it is listed under each."""
    import csv

    lines = [
        "| domain | target | n | progressive FT vs scratch | fine-tune-all FT vs scratch | "
        "progressive minus fine-tune-all (AUC_n) | caveat |",
        "|---|---|---|---|---|---|---|",
    ]
    shown: dict[str, set[str]] = {}
    for folder, name in DOMAINS.items():
        path = results / folder / "report" / "verdicts.csv"
        if not path.is_file():
            continue
        with path.open() as f:
            rows = list(csv.DictReader(f))
        for target in sorted({r["target"] for r in rows}):
            here = {r["agent"]: r for r in rows if r["target"] == target}
            prog, tune = here.get("progressive-2col"), here.get(FINE_TUNE)
            if prog is None or tune is None:
                continue

            def ft(r: dict) -> str:
                return f"{r['FT vs scratch [CI]']}: {r['vs scratch']}"

            cells = (
                f"{prog['n']} | {ft(prog)} | {ft(tune)} | "
                f"{prog[DIFF]}: {prog['vs fine-tune-all']} | {prog['caveat'] or '-'} |"
            )
            if cells in shown.get(target, set()):
                continue
            shown.setdefault(target, set()).add(cells)
            lines.append(
                f"| [{name}](docs/results/{folder}/README.md) | {target.split('/', 1)[1]} | "
                + cells
            )
    return "\n".join(lines) + "\n"


def sync_block(path: Path, text: str, begin: str, end: str = END) -> bool:
    """Put ``text`` between ``begin`` and ``end`` in ``path`` (atomically); False when
    the markers are missing."""
    if not path.is_file():
        return False
    old = path.read_text()
    if begin not in old or end not in old:
        return False
    head, rest = old.split(begin, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{begin}\n{text}{end}{tail}"
    if new != old:
        write_text(path, new)
    return True


GLANCE_BEGIN = (
    "<!-- begin generated: docs/results/*/report/verdicts.csv (python -m analysis.verdicts) -->"
)


TUNING_BEGIN = "<!-- begin generated: docs/tuning/*/tuning.json (python -m analysis.verdicts) -->"


def tuning_glance(tuning: Path) -> str:
    """The top README's tuning table, from every committed ``tuning/*/tuning.json``
    (written by ``xfer tune``): per suite and agent, the grid with each value's mean
    normalised AUC over the tuning seeds, the choice and today's default."""
    lines = [
        "| suite | agent | mean AUC_n per grid point (seeds) | chosen | default |",
        "|---|---|---|---|---|",
    ]
    for path in sorted(tuning.glob("*/tuning.json")):
        record = read_json_file(path)
        link = f"[{record['suite']}]({path.parent.relative_to(tuning.parent.parent)}/tuning.md)"
        for agent, a in record["agents"].items():
            grid = "; ".join(
                f"{row['label']}: "
                + (
                    "-"
                    if row["mean_auc_normalized"] is None
                    else f"{row['mean_auc_normalized']:.4f}"
                )
                + f" ({len(row['runs'])})"
                for row in a["grid"]
            )
            if a["chosen"] is None and a.get("provisional"):
                chosen = f"*{settings_label(a['provisional'])}* (provisional: runs missing)"
            elif a["chosen"] is None:
                chosen = "not yet (runs missing)"
            else:
                chosen = f"**{settings_label(a['chosen'])}**" + (
                    f" (grid edge: {', '.join(a['at_grid_edge'])})" if a["at_grid_edge"] else ""
                )
            lines.append(
                f"| {link} | {agent} | {grid} | {chosen} | {settings_label(a['default'])} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    """Rewrite the top README's results and tuning tables from the committed files."""
    root = Path(__file__).resolve().parents[1]
    ok = sync_block(root / "README.md", glance_markdown(root / "docs" / "results"), GLANCE_BEGIN)
    tuned = sync_block(root / "README.md", tuning_glance(root / "docs" / "tuning"), TUNING_BEGIN)
    print("README.md results table " + ("synced" if ok else "has no markers"))
    print("README.md tuning table " + ("synced" if tuned else "has no markers"))
    return 0 if ok and tuned else 1


if __name__ == "__main__":
    raise SystemExit(main())
