"""The report's tables as text, and its two documents: ``report.md`` and a
self-contained ``index.html`` (figures inlined), written atomically.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.cells import (
    BASELINE,
    RATIO_MIN_BASELINE,
    AgentSummary,
    CellResult,
    cell_text,
    fmt,
    interval_text,
)
from analysis.figures import caption as fig_caption
from analysis.floors import Floor
from analysis.paper import agent_label
from analysis.results import Run, run_note, shown_state
from analysis.stats import Estimate
from analysis.verdicts import scratch_learned
from runstore.atomic import write_text as atomic_write_text

__all__ = [
    "Document",
    "MATRIX_FIELDS",
    "matrix_csv",
    "matrix_rows",
    "run_rows",
    "floor_rows",
    "forgetting_table",
    "forgetting_note",
    "method_text",
    "answer_lines",
    "write_text",
    "write_markdown",
    "write_html",
    "log_to_wandb",
]

DEN_NOTE = (
    "Units per layer: the feature maps (conv) and units (fc) each task of a DEN run's network "
    "computes with (task 0 is the first source). Added: units that dynamic expansion added "
    "at that task and group sparsity kept. Split: units whose incoming weights drifted more "
    "than sigma while retraining, duplicated for that task (the earlier tasks keep the "
    "originals, so they do not forget). Near-zero weights: the share of the incoming "
    "weights of the task's units below zero_eps (about 14% at initialisation); the L1 of "
    "the first task drives it up, and near 100% almost every weight of the layer is gone "
    "(a first task on Pong after 600k steps: fc 98%). See docs/den.md."
)
FORGETTING_NOTE = (
    "Before: the source run's score on the source task; after: the target run's, played by "
    "the part of its network trained on the source (the source column, path or head). Both "
    "play the same episodes (same count, same seed), so a network that still computes what "
    "the source computed scores the same in every episode: progressive nets and DEN must "
    "show 0 episodes scored differently. Relative: lost / (before - the source's floor), "
    "not shown where the source run never rose above its floor. Every run of a cell is "
    "paired with the source run it started from (its own seed's, or the one shared source "
    "run); lost and relative lost are means over those pairs with n and the interval of a "
    "cell's mean (Student t at the calibrated level of the method section), and the "
    "episode count adds up all pairs' episodes."
)

MATRIX_FIELDS = (
    "agent",
    "source",
    "target",
    "transfer",
    "auc",
    "auc_baseline",
    "floor",
    "jobs",
    "measure",
    "forward_transfer",
    "auc_normalized",
    "auc_normalized_baseline",
    "top",
    "transfer_raw",
    "n",
    "auc_lo",
    "auc_hi",
    "transfer_lo",
    "transfer_hi",
    "forward_transfer_lo",
    "forward_transfer_hi",
    "jumpstart",
    "jumpstart_lo",
    "jumpstart_hi",
    "asymptotic",
    "asymptotic_lo",
    "asymptotic_hi",
    "time_to_threshold",
    "time_to_threshold_lo",
    "time_to_threshold_hi",
    "speed_up",
    "speed_up_lo",
    "speed_up_hi",
)


def _md_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows[1:]]
    return "\n".join(out)


def _html_table(rows: list[list[str]], table_id: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows[1:]
    )
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_text(path: Path, text: str) -> None:
    """Atomically, with the umask's permissions (``runstore.atomic``, the one writer)."""
    atomic_write_text(path, text)


# Marks the page once every figure has decoded (body data-figures-loaded="k/n"): lets a
# headless browser check that the self-contained figures really render.
_LOADED_SCRIPT = (
    "<script>window.addEventListener('load',function(){var i=document.images,k=0;"
    "for(var j=0;j<i.length;j++){if(i[j].complete&&i[j].naturalWidth>0)k++;}"
    "document.body.dataset.figuresLoaded=k+'/'+i.length;"
    "var v=document.getElementById('verdicts');"
    "if(v){document.body.dataset.verdictsTop=Math.round(v.getBoundingClientRect().top);}"
    "});</script>"
)


def log_to_wandb(out_dir: Path, figures: dict, matrix_rows: list, table_rows: list) -> None:
    """Log figures and tables to the active wandb run, if there is one."""
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is None or getattr(wandb, "run", None) is None:
        return
    payload: dict[str, Any] = {
        "transfer_matrix": wandb.Table(columns=matrix_rows[0], data=matrix_rows[1:]),
        "table1": wandb.Table(columns=table_rows[0], data=table_rows[1:]),
    }
    for names in figures.values():
        for name in names:
            payload[f"report/{name}"] = wandb.Image(str(out_dir / name))
    wandb.run.log(payload)


def matrix_csv(cells: list[CellResult]) -> str:
    """``transfer_matrix.csv``: one row per cell (:data:`MATRIX_FIELDS`)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MATRIX_FIELDS)
    for c in cells:
        writer.writerow(
            [
                c.label,
                c.source_label,
                c.target,
                fmt(c.transfer, 2),
                fmt(c.auc, 4),
                fmt(c.auc_baseline, 4),
                fmt(c.floor, 4),
                len(c.finished),
                c.measure,
                fmt(c.forward_transfer, 4),
                fmt(c.auc_norm, 4),
                fmt(c.auc_norm_baseline, 4),
                fmt(c.top, 4),
                fmt(c.transfer_raw, 2),
                c.n,
                *_bounds(c.auc_ci, 4),
                *_bounds(c.transfer_ci, 2),
                *_bounds(c.ft_ci, 4),
                *_with_bounds(c.jumpstart, 4),
                *_with_bounds(c.asymptotic, 4),
                *_with_bounds(c.time, 0),
                *_with_bounds(c.speed_up, 3),
            ]
        )
    return buf.getvalue()


def _with_bounds(est: Estimate | None, digits: int) -> list[str]:
    """An estimate and its bounds for the CSV (``inf``: a time never reached)."""
    return [fmt_inf(est.value, digits) if est else "n/a", *_bounds(est, digits)]


def fmt_inf(x: float, digits: int) -> str:
    return "inf" if x == math.inf else fmt(x, digits)


def _bounds(est: Estimate | None, digits: int) -> list[str]:
    """An interval's bounds for the CSV; ``n/a`` where there is none (one run)."""
    if est is None or not est.has_interval:
        return ["n/a", "n/a"]
    return [fmt_inf(est.lo, digits), fmt_inf(est.hi, digits)]


def _est(est: Estimate | None, digits: int, scale: float = 1.0, unit: str = "") -> str:
    """A table entry: ``value [lo, hi] (n=3)``, ``(n=1, no interval)``, or ``n/a``."""
    return est.text(digits, scale, unit) if est is not None else "n/a"


def _censored_text(est: Estimate | None, show: Callable[[float], str]) -> str:
    """An estimate that may be ``inf`` (a censored time), each number through ``show``:
    ``value [lo, hi] (n=3)``, ``value (n=1, no interval)`` or ``n/a``."""
    if est is None:
        return "n/a"
    if math.isnan(est.value):
        return f"n/a (n={est.n})"
    if not est.has_interval:
        # several runs, but resamples without a value (both medians censored): no interval
        why = "no interval" if est.n < 2 else "interval undefined"
        return f"{show(est.value)} (n={est.n}, {why})"
    return f"{show(est.value)} [{show(est.lo)}, {show(est.hi)}] (n={est.n})"


def _steps_text(est: Estimate | None) -> str:
    """Median steps to the threshold, in thousands; ``never`` for a median not reached."""
    return _censored_text(est, lambda x: "never" if x == math.inf else f"{x / 1000:.0f}k")


def _speed_text(est: Estimate | None) -> str:
    """PathNet's speed-up; where baseline 1's median never reached the threshold it is
    undefined (a finite time over never), and says so with "-" instead of "inf [inf,
    inf]"."""
    if est is not None and est.value == math.inf:
        return "- (baseline 1 never got there)"
    return _censored_text(est, lambda v: "inf" if v == math.inf else f"{v:.2f}x")


def _ratio_text(c: CellResult) -> str:
    """The paper's ratio where it is the cell's measure; elsewhere "-" and why (a ratio
    over a baseline near the floor reads like -3083% [-17038, 45561]: noise over noise;
    the CSV keeps the number)."""
    if c.measure == "ratio":
        return _est(c.transfer_ci, 0, unit="%")
    if not math.isfinite(c.transfer):
        return "-"
    return f"- (baseline 1 under AUC_n {RATIO_MIN_BASELINE} in a run)"


def matrix_rows(cells: list[CellResult]) -> list[list[str]]:
    """The report's transfer-matrix table (header first): every measure of a cell with
    its 95% interval and n (:data:`MATRIX_NOTE` says what each is)."""
    header = [
        "agent",
        "source",
        "target",
        "transfer",
        "AUC",
        "AUC_n",
        "ratio %",
        "FT",
        "jumpstart",
        "asymptotic",
        "steps to threshold",
        "speed-up (PathNet's)",
        "jobs done/planned",
    ]
    return [header] + [
        [
            c.label,
            c.source_label,
            c.target,
            cell_text(c),
            _est(c.auc_ci, 3),
            _est(c.auc_norm_ci, 3),
            _ratio_text(c),
            _est(c.ft_ci, 2),
            _est(c.jumpstart, 2),
            _est(c.asymptotic, 2),
            _steps_text(c.time),
            _speed_text(c.speed_up),
            f"{len(c.finished)}/{max(c.expected_jobs, len(c.runs))}",
        ]
        for c in cells
    ]


MATRIX_NOTE = (
    "Each entry: the mean over the cell's finished runs (seeds) with its interval and n; "
    "AUC, AUC_n, FT and asymptotic have the calibrated intervals (How the numbers are made "
    "gives their measured coverage), ratio %, jumpstart and steps to threshold a 95% "
    "stratified percentile bootstrap (lower coverage at 3 seeds); one run has no interval "
    "and says so. transfer: the cell's "
    "measure (the paper's ratio where baseline 1 clearly left the floor, else FT). AUC: "
    "mean score over training; AUC_n: the same mapped to [0, 1] between the floor and the "
    "top. ratio %: the paper's floor-shifted ratio over baseline 1, shown for every cell "
    "(it explodes where baseline 1 sits at the floor: read its interval). FT: forward "
    "transfer. Taylor and Stone (2009): jumpstart = the first curve point minus baseline "
    "1's; asymptotic = the mean score over the last 10% of the curve; steps to threshold "
    "= the median env steps until the curve first reaches half way from the floor to the "
    "top ('never' for a run that did not: a censored time, sorted last). speed-up: "
    "PathNet's measure (Fernando et al. 2017), baseline 1's median steps to that threshold "
    "over the cell's ('inf': baseline 1's median never reached it)."
)


def run_rows(
    runs: list[Run], plan: dict[str, Any], root: Path, floors: dict[str, Floor] | None = None
) -> list[list[str]]:
    """Every run with its state, steps, AUC and notes; planned cells with no run yet.
    ``floors`` (by task) lets a note say when a final evaluation is no better than holding
    one action."""
    floors = floors or {}
    planned = {(m["label"], tuple(m["sources"]), m["target"]) for m in plan.get("cells", [])}
    have = {
        (
            agent_label(r.config["agent"], r.config["sources"]),
            tuple(r.config["sources"]),
            r.config["task"],
        )
        for r in runs
    }
    return (
        [["run", "state", "env steps", "AUC", "note"]]
        + [
            [
                str(r.path.relative_to(root)),
                shown_state(r),
                fmt(r.curve[-1]["env_steps"], 0) if r.curve else "0",
                fmt(r.auc, 3),
                run_note(r, floors.get(r.config.get("task", ""))),
            ]
            for r in runs
        ]
        + [
            [f"{lab} {'>'.join(src)} -> {t}", "missing", "0", "n/a", "not started"]
            for lab, src, t in sorted(planned - have)
        ]
    )


def floor_rows(floors: dict[str, Floor]) -> list[list[str]]:
    """Each task's floor and, where measured, the best score of holding one action."""

    def constant(f: Floor) -> str:
        if f.constant is None:
            return "not measured"
        return f"{fmt(f.constant, 3)} ({f.constant_action})"

    return [["task", "floor", "source", "best single action held"]] + [
        [t, fmt(floors[t].value, 3), floors[t].describe(), constant(floors[t])]
        for t in sorted(floors)
    ]


def forgetting_table(forget: list[dict]) -> list[list[str]]:
    """The forgetting table (header first); [] without rows. Lost and relative lost are
    means over the cell's runs with their 95% interval and n."""
    if not forget:
        return []
    header = [
        "agent",
        "source",
        "target",
        "source score before (mean)",
        "after (mean)",
        "lost",
        "lost (relative)",
        "episodes scored differently",
    ]

    def lost(value: float, est: Estimate | None, n: int, digits: int) -> str:
        if not n or not math.isfinite(value):
            return "n/a"
        return f"{value:.{digits}f} {interval_text(est, f'.{digits}f', n)}"

    return [header] + [
        [
            f["label"],
            f["source"],
            f["target"],
            fmt(f["before"], 3),
            fmt(f["after"], 3),
            lost(f["absolute"], f["absolute_ci"], f["n"], 3),
            lost(f["relative"], f["relative_ci"], f["relative_n"], 2),
            f"{f['changed']} of {f['episodes']}",
        ]
        for f in forget
    ]


def forgetting_note(shown: int, omitted: int, unplayable: list[str] | None = None) -> str:
    """The forgetting section's text ("" when it has nothing to say). ``unplayable``:
    a line per cell whose runs cannot play the source task, so nothing is measured."""
    unplayable = unplayable or []
    if not shown and not omitted and not unplayable:
        return ""
    return (
        FORGETTING_NOTE
        + (
            f" {omitted} transferred cell(s) not shown: their source and target runs were "
            "not evaluated on the same episodes (results made before this protocol); `xfer "
            "bench` on the same results evaluates them, where the runs' weights are kept."
            if omitted
            else ""
        )
        + (" Not measured, so not shown: " + "; ".join(unplayable) + "." if unplayable else "")
    )


def method_text(
    domain: str,
    top_k: int,
    seeds: int = 1,
    source_seed: int | None = None,
    coverage: str = "",
) -> str:
    """How the numbers are computed, in the report's words (``seeds``: per cell, from
    ``plan.json``; more than one adds how the intervals are made; ``source_seed``: the
    one source seed every seed starts from, None when each seed has its own sources;
    ``coverage``: :func:`analysis.coverage.coverage_text` at the report's n)."""
    sources = (
        "Every seed trains its own source runs at that seed, or takes the shipped zoo "
        "column of that seed, so the intervals cover the sources' training too. "
        if source_seed is None
        else f"Every seed starts from the same source run (seed {source_seed}, the shipped "
        "zoo column where one matches), so the intervals cover the target's training only, "
        "not how another source run would have come out. "
    )
    return (
        "AUC = area under the learning curve over env steps / steps spanned (mean score over "
        "training). Transfer = (AUC(agent) - floor) / (AUC(baseline 1) - floor) x 100, floor = "
        "mean score of a uniformly random policy on the target. The paper's ratio is shown "
        "only where baseline 1 clearly left the floor: the normalised AUC (scores mapped to "
        "[0, 1] between the floor and the top: the game's maximum, 21 for Pong, 1 for Catch, "
        f"else the best curve point on the target) of every one of its runs is at least "
        f"{RATIO_MIN_BASELINE}. "
        "Elsewhere the cell shows Continual World's forward transfer "
        "FT = (AUC_n(agent) - AUC_n(baseline 1)) / (1 - AUC_n(baseline 1)) on the normalised "
        "AUCs (0 = as baseline 1, 1 = solved from the start, < 0 = worse than baseline 1; "
        "coloured as 100 + 100 x FT). Table 1 summarises each measure over the cells that "
        + (
            f"show it. Each cell: the mean over its finished seeds (up to {seeds}, n given "
            "per cell), with its interval; a cell with one finished seed has no interval "
            "and says so. " + sources + (coverage + " " if coverage else "")
            if seeds > 1
            else f"show it. Each cell: mean of the top {top_k} finished jobs by AUC. "
        )
        + "Positive/negative transfer: above 110% / below 90%. "
        "The paper's own ratio is raw AUC over raw AUC, with no floor; where a target's "
        "scores cannot be negative (floor and every curve point >= 0, most Atari games) "
        "Table 1 and transfer_matrix.csv (transfer_raw) also give that raw ratio, the one "
        "to compare with the paper's numbers. Floors are measured over a few random "
        "episodes; their standard errors are in the floors table."
        + (
            " Catch Soup is a small proxy task built for this suite: its Table 1 sits beside "
            "the paper's Pong Soup row for orientation only, not as a like-for-like comparison."
            if domain == "catch_soup"
            else ""
        )
    )


def answer_lines(summaries: list[AgentSummary], cells: list[CellResult] | None = None) -> list[str]:
    """The report's opening: per agent, its forward transfer, the paper's ratio where
    cells show it, and its probability of beating baseline 1, with their intervals, and
    whether the intervals support a difference from baseline 1 (the probability's
    interval clear of 0.5). Where scratch did not learn some of the agent's targets
    within the budget (``cells`` given), the line says on how many: there FT measures
    take-off, so "better than baseline 1" on those targets is not transfer."""
    bases = {c.target: c for c in cells or [] if c.label == BASELINE and not c.sources}
    lines = []
    for s in summaries:
        if s.label == BASELINE:
            continue
        mine = {c.target for c in cells or [] if c.label == s.label}
        unlearned = sum(scratch_learned(bases.get(t)) is False for t in mine)
        if s.ft_mean is None or s.p_improve is None:
            lines.append(f"{s.label}: no cell with a forward transfer yet.")
            continue
        ratio = (
            f"the paper's ratio {s.ratio_mean.text(0, unit='%')} over {s.ratio_targets} target(s), "
            if s.ratio_mean is not None
            else ""
        )
        head = (
            f"{s.label}: forward transfer {s.ft_mean.text(2)}, {ratio}P(a run beats "
            f"baseline 1) {s.p_improve.text(2)}, over {s.targets} target(s), seeds per cell "
            f"{s.seeds}: "
        )
        p, ft = s.p_improve, s.ft_mean
        if not p.has_interval:
            text = "one seed per cell, no interval: an anecdote, not a result."
        elif p.lo > 0.5 and ft.has_interval and ft.lo > 0:
            text = "better than baseline 1 (both intervals clear of no difference)."
        elif p.hi < 0.5 and ft.has_interval and ft.hi < 0:
            text = "worse than baseline 1 (both intervals clear of no difference)."
        elif p.lo > 0.5 or p.hi < 0.5:
            side = "beats" if p.lo > 0.5 else "loses to"
            text = (
                f"a run of it {side} a run of baseline 1 more often than not (P's interval "
                "is clear of 0.5), but the size of the difference is not established (FT's "
                "interval spans 0)."
            )
        else:
            text = "the intervals do not support a difference from baseline 1."
        if unlearned and p.has_interval:  # an anecdote claims nothing to qualify
            text += (
                f" Scratch did not learn {unlearned} of its {len(mine)} targets within the "
                "budget (the per-target caveat): there FT measures how soon an agent takes "
                "off, not transfer as the paper measures it."
            )
        lines.append(head + text)
    return lines


@dataclass
class Document:
    """Everything the two documents show, in order."""

    title: str
    answer: list[str]
    method: str
    notes: str
    domain: str
    table1: list[list[str]]
    matrix: list[list[str]]
    figures: dict[str, list[str]]
    forgetting: list[list[str]] = field(default_factory=list)  # [] when no cell has a pair
    forgetting_note: str = ""  # "" when the section is not shown
    den_growth: list[list[str]] = field(default_factory=list)
    sensitivity: list[list[str]] = field(default_factory=list)  # [] when no analysis
    versus: list[list[str]] = field(default_factory=list)  # progressive vs each baseline
    floors: list[list[str]] = field(default_factory=list)
    runs: list[list[str]] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    verdicts: list[list[str]] = field(default_factory=list)  # per target (analysis.verdicts)


SENSITIVITY_NOTE = (
    "How much the target column's own features matter, per layer, against the columns "
    "transferred from the sources (Rusu et al. 2016). AFS: the newest column's share of "
    "the average Fisher sensitivity of the policy to each layer's features, over states the "
    "trained policy visits. APS: the newest column's share of 1 / sigma^2, where sigma^2 is "
    "the variance of Gaussian noise (relative to each feature's own variance) injected into "
    "that layer of that column which halves the score towards the random floor, found by "
    "bisection; every noise level is scored over the episodes given. A share near 1: the "
    "target column does the work at that layer; near 0: the transferred columns do. Each "
    "entry is the mean over a cell's analysed runs with n and the interval of a cell's mean "
    "(Student t at the calibrated level of the method section, clipped to [0, 1])."
)


def write_markdown(doc: Document, path: Path) -> None:
    f = doc.figures
    md = [f"# {doc.title}", "", "## The answer", ""]
    if doc.verdicts:
        md += ["Per target (`summary.md`):", "", _md_table(doc.verdicts), ""]
        md += ["Per agent over its targets:", ""]
    md += [f"- {line}" for line in doc.answer] + [""]
    md += [f"![{name}]({name})" for name in f["summary"]] + ([""] if f["summary"] else [])
    if doc.versus:
        md += ["Progressive nets against each baseline:", "", _md_table(doc.versus), ""]
    md += [
        "## How the numbers are made",
        "",
        doc.method,
        "",
        f"Budget and matrix: {doc.notes or 'n/a'}",
        "",
        f"## Table 1 ({doc.domain})",
        "",
        _md_table(doc.table1),
        "",
        "## Transfer matrix",
        "",
        MATRIX_NOTE,
        "",
        _md_table(doc.matrix),
        "",
    ]
    for name in f["matrix"] + f["curves"] + f["forgetting"]:  # summary: above
        md += [f"![{name}]({name})", ""]
    if doc.sensitivity:
        md += ["## Sensitivity of the new column (AFS and APS)", "", SENSITIVITY_NOTE, ""]
        md += [_md_table(doc.sensitivity), ""]
        md += [f"![{name}]({name})" for name in f["sensitivity"]] + [""]
    if doc.forgetting_note:
        md += ["## Forgetting", "", doc.forgetting_note, ""]
        md += [_md_table(doc.forgetting), ""] if doc.forgetting else []
    if doc.den_growth:
        md += ["## DEN growth", "", DEN_NOTE, "", _md_table(doc.den_growth), ""]
    md += ["## Floors", "", _md_table(doc.floors), "", "## Runs", "", _md_table(doc.runs), ""]
    if doc.damaged:
        md += ["## Damaged files (built with --allow-damaged)", ""]
        md += [f"- {d}" for d in doc.damaged] + [""]
    write_text(path, "\n".join(md))


def _with_contents(parts: list[str], writeup: bool) -> list[str]:
    """``parts`` with an id on every ``<h2>`` and, after the title, one line of links to
    them (and to the suite's write-up, ``../README.md``, when there is one)."""
    out, links = [], []
    for part in parts:
        if part.startswith("<h2>"):
            title = part[4 : part.index("</h2>")]
            anchor = re.sub(r"[^a-z0-9]+", "-", html.unescape(title).lower()).strip("-")
            part = f'<h2 id="{anchor}">' + part[4:]
            links.append(f'<a href="#{anchor}">{title}</a>')
        out.append(part)
    if writeup:
        links.append('<a href="../README.md">the write-up (README.md)</a>')
    return out[:1] + ["<nav>Contents: " + " &middot; ".join(links) + "</nav>"] + out[1:]


def write_html(doc: Document, out_dir: Path) -> None:
    """``index.html`` with every figure of ``out_dir`` inlined."""

    def img(name: str) -> str:
        data = base64.b64encode((out_dir / name).read_bytes()).decode()
        src = f"data:image/png;base64,{data}"
        text = html.escape(fig_caption(name))
        return f'<figure><img alt="{name}" src="{src}"><figcaption>{text}</figcaption></figure>'

    f = doc.figures
    parts = [
        f"<h1>{html.escape(doc.title)}</h1>",
        "<h2>The answer</h2>",
        *(["<p>Per target:</p>", _html_table(doc.verdicts, "verdicts")] if doc.verdicts else []),
        "<p>Per agent over its targets:</p><ul>"
        + "".join(f"<li>{html.escape(line)}</li>" for line in doc.answer)
        + "</ul>",
        *map(img, f["summary"]),
        *(
            ["<p>Progressive nets against each baseline:</p>", _html_table(doc.versus)]
            if doc.versus
            else []
        ),
        "<h2>How the numbers are made</h2>",
        f"<p>{html.escape(doc.method)}</p>",
        f"<p><b>Budget and matrix:</b> {html.escape(doc.notes or 'n/a')}</p>",
        f"<h2>Table 1 ({html.escape(doc.domain)})</h2>",
        _html_table(doc.table1),
        "<h2>Transfer matrix</h2>",
        *map(img, f["matrix"]),
        f"<p>{html.escape(MATRIX_NOTE)}</p>",
        _html_table(doc.matrix),
        "<h2>Learning curves</h2>",
        *map(img, f["curves"]),
    ]
    if doc.sensitivity:
        parts += [
            "<h2>Sensitivity of the new column (AFS and APS)</h2>",
            f"<p>{html.escape(SENSITIVITY_NOTE)}</p>",
            _html_table(doc.sensitivity),
            *map(img, f["sensitivity"]),
        ]
    if doc.forgetting_note:
        parts += ["<h2>Forgetting</h2>", f"<p>{html.escape(doc.forgetting_note)}</p>"]
        if doc.forgetting:
            parts += [*map(img, f["forgetting"]), _html_table(doc.forgetting)]
    if doc.den_growth:
        parts += [
            "<h2>DEN growth</h2>",
            f"<p>{html.escape(DEN_NOTE)}</p>",
            _html_table(doc.den_growth),
        ]
    parts += ["<h2>Floors</h2>", _html_table(doc.floors), "<h2>Runs</h2>", _html_table(doc.runs)]
    if doc.damaged:
        parts += [
            "<h2>Damaged files (built with --allow-damaged)</h2><ul>"
            + "".join(f"<li>{html.escape(d)}</li>" for d in doc.damaged)
            + "</ul>"
        ]
    parts = _with_contents(parts, writeup=(out_dir.parent / "README.md").is_file())
    style = (
        "nav{font-size:13px;margin:0.5em 0;}"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
        "table{border-collapse:collapse;font-size:13px;margin:1em 0;}"
        "td,th{border:1px solid #ccc;padding:3px 6px;}img{max-width:100%;}"
    )
    write_text(
        out_dir / "index.html",
        f"<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(doc.title)}</title><style>{style}</style></head><body>"
        + "\n".join(parts)
        + _LOADED_SCRIPT
        + "</body></html>\n",
    )
