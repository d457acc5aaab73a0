"""The transfer-matrix report, built from a results directory alone (no Ray, no training).

``build_report(root)`` writes ``root/report/``: ``index.html`` (self-contained, figures
inlined), ``report.md``, the figures as PNG, ``transfer_matrix.csv`` (columns
:data:`analysis.render.MATRIX_FIELDS`) and ``table1.txt``. Missing, running and failed
runs are listed as such and their cells drawn as missing.

The report in parts: :mod:`analysis.results` reads the run directories,
:mod:`analysis.cells` aggregates them into cells and tables (pure functions),
:mod:`analysis.figures` draws, :mod:`analysis.render` writes the documents; this module
puts them together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from analysis import figures as fig
from analysis.cells import (
    CellResult,
    agent_summaries,
    den_growth_rows,
    forgetting_rows,
    group_cells,
    progressive_against_baselines,
    score_cells,
    sensitivities,
    sensitivity_rows,
    table1,
)
from analysis.coverage import coverage_text
from analysis.floors import Floor, load_floors
from analysis.render import (
    Document,
    answer_lines,
    floor_rows,
    forgetting_note,
    forgetting_table,
    log_to_wandb,
    matrix_csv,
    matrix_rows,
    method_text,
    run_rows,
    write_html,
    write_markdown,
    write_text,
)
from analysis.results import DamagedResultsError, Run, collect_runs, read_json, scan_damage
from analysis.verdicts import rows_csv, summary_markdown, sync_writeup, verdict_rows

__all__ = [
    "build_report",
    "report_cells",
    "collect_runs",
    "scan_damage",
    "CellResult",
    "DamagedResultsError",
]


def _check_damage(root: Path, allow_damaged: bool) -> list[str]:
    damaged = scan_damage(root)
    if damaged and not allow_damaged:
        raise DamagedResultsError(
            f"{len(damaged)} damaged result file(s): "
            + "; ".join(damaged)
            + ". Repair or delete them (a rerun retrains a run whose files are gone), or "
            "build the report anyway with --allow-damaged"
        )
    return damaged


def _notes(plan: dict) -> str:
    return " ".join(
        f"{label}: {text.rstrip('.')}."
        for label, text in (
            ("Budget", plan.get("budget_notes", "")),
            ("Matrices of this suite", plan.get("suite_notes", "")),
        )
        if text
    )


def _write_tables(
    out_dir: Path,
    plan: dict[str, Any],
    cells: list[Any],
    summaries: Any,
    domain: str,
    top_k: int,
) -> tuple[int, list[Any]]:
    """Write ``transfer_matrix.csv`` and ``table1.txt``; return the seeds per cell (1
    when the plan sampled jobs: the paper's top-k protocol) and Table 1's rows."""
    write_text(out_dir / "transfer_matrix.csv", matrix_csv(cells))
    table_text, table_rows = table1(cells, domain, summaries)
    # a cell's runs are seeds unless the plan sampled jobs; without a plan, the most runs
    # any cell has
    jobs = int(plan.get("jobs", 1))
    seeds = int(plan.get("seeds") or max((c.n for c in cells), default=1)) if jobs == 1 else 1
    runs_per_cell = (
        f"mean over up to {seeds} seeds per cell" if seeds > 1 else f"top-{top_k} jobs by AUC"
    )
    write_text(
        out_dir / "table1.txt",
        f"Table 1 ({domain}, transfer %, {runs_per_cell})\n" + table_text + "\n",
    )
    return seeds, table_rows


class _Scored(NamedTuple):
    runs: list[Run]
    plan: dict[str, Any]
    top_k: int
    floors: dict[str, Floor]
    cells: list[CellResult]


def _score(root: Path, top_k: int | None) -> _Scored:
    runs = collect_runs(root)
    if not runs:  # an empty report with exit 0 would pass for a result
        raise FileNotFoundError(
            f"no run directories under {root} (a results root holds "
            "<target>/<agent>[_from_<sources>]/seed<N>/ with config.json)"
        )
    plan = read_json(root / "plan.json") or {}
    top_k = top_k or int(plan.get("top_k", 3))
    grouped = group_cells(runs, plan)
    targets = {c.target for c in grouped.values()}
    loaded = load_floors(root, targets | {s for c in grouped.values() for s in c.sources})
    cells = score_cells(grouped, {t: f.value for t, f in loaded.items()}, top_k)
    return _Scored(runs, plan, top_k, loaded, cells)


def report_cells(root: str | Path) -> list[CellResult]:
    """The scored cells of the results under ``root``, as the report computes them
    (same floors, same runs), without writing anything.

    Raises:
        FileNotFoundError: when ``root`` holds no run.
    """
    return _score(Path(root), None).cells


def build_report(root: str | Path, top_k: int | None = None, allow_damaged: bool = False) -> Path:
    """Write the report for the results under ``root``; returns ``root/report``.

    Damaged result files (a truncated ``status.json``, a corrupt ``curve.csv``...) stop
    the build before anything is written, naming each file; with ``allow_damaged`` the
    report is built and lists them (their runs show as missing or empty).

    Raises:
        FileNotFoundError: when ``root`` is not a directory or holds no run.
        DamagedResultsError: damaged files, unless ``allow_damaged``.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no results directory at {root}")
    damaged = _check_damage(root, allow_damaged)
    runs, plan, top_k, loaded, cells = _score(root, top_k)
    floors = {t: f.value for t, f in loaded.items()}
    out_dir = root / "report"
    out_dir.mkdir(exist_ok=True)
    domain = plan.get("domain") or (cells[0].target.split("/")[0] if cells else "unknown")
    summaries = agent_summaries(cells)
    seeds, table_rows = _write_tables(out_dir, plan, cells, summaries, domain, top_k)
    forget, omitted, unplayable = forgetting_rows(cells, runs, floors)
    sens = {kind: sensitivities(cells, kind) for kind in ("afs", "aps")}
    position = {id(c): i for i, c in enumerate(cells)}
    figures = {
        "summary": fig.summary_figure(summaries, out_dir),
        "matrix": fig.matrix_figure(cells, out_dir) if cells else [],
        "curves": fig.curves(cells, out_dir) if cells else [],
        "sensitivity": fig.sensitivity_figures(sens, out_dir),
        "forgetting": fig.forgetting_figure(forget, out_dir),
    }
    targets = len({c.target for c in cells})
    coverage = coverage_text(seeds, targets=targets) if seeds > 1 else ""
    summary = summary_markdown(cells, coverage)
    write_text(out_dir / "summary.md", summary)
    write_text(out_dir / "verdicts.csv", rows_csv(verdict_rows(cells)))
    sync_writeup(root / "README.md", summary)
    doc = Document(
        title=f"xfer-bench report: {plan.get('suite', root.name)} "
        f"(budget {plan.get('budget', '?')})",
        answer=answer_lines(summaries, cells),
        versus=progressive_against_baselines(cells),
        method=method_text(domain, top_k, seeds, plan.get("source_seed"), coverage),
        notes=_notes(plan),
        domain=domain,
        table1=table_rows,
        matrix=matrix_rows(cells),
        figures=figures,
        forgetting=forgetting_table(forget),
        forgetting_note=forgetting_note(len(forget), omitted, unplayable),
        den_growth=den_growth_rows(runs),
        sensitivity=sensitivity_rows(
            sorted(sens["afs"] + sens["aps"], key=lambda s: (position[id(s.cell)], s.kind))
        ),
        floors=floor_rows(loaded),
        runs=run_rows(runs, plan, root, loaded),
        damaged=damaged,
        verdicts=verdict_rows(cells),
    )
    write_markdown(doc, out_dir / "report.md")
    write_html(doc, out_dir)
    made = {name for names in figures.values() for name in names}
    for stale in out_dir.glob("*.png"):  # a figure of a cell or target no longer there
        if stale.name not in made:
            stale.unlink()
    log_to_wandb(out_dir, figures, doc.matrix, doc.table1)
    return out_dir
