"""Rich renderables and JSON documents built from check results; `cli` prints them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from gradcheck_cli.checker import CheckResult, ReferenceSet

SCHEMA = 1
VERDICT_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}
VERDICT_MARK = {"pass": "✓", "warn": "!", "fail": "✗"}


def number(value: float | None, digits: int = 2) -> str:
    """Format a float compactly: scientific for errors, '—' for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value == 0:
        return "0"
    return f"{value:.{digits}e}"


def verdict_text(verdict: str) -> Text:
    """Return the coloured verdict word, with a mark so it reads without colour too."""
    return Text(f"{VERDICT_MARK[verdict]} {verdict.upper()}", style=VERDICT_STYLE[verdict])


COMPACT_BELOW = 80
"""Narrower terminals get the table without its loss and entries columns."""


def run_table(results: Sequence[CheckResult], reference: ReferenceSet, width: int = 80) -> Table:
    """Build the table of `gradcheck run`: one row per implementation, fitting ``width``."""
    compact = width < COMPACT_BELOW
    n, c = reference.scores.shape
    table = Table(
        title=f"Gradient check · N={n} C={c} · {reference.scores.dtype}",
        box=box.SIMPLE_HEAD,
        caption=_method_caption(reference),
        caption_justify="left",
    )
    table.add_column("impl", overflow="fold", min_width=10, max_width=24)
    table.add_column("verdict\ntime", no_wrap=True)
    table.add_column("rel err max\nrel err med\nabs err max", justify="right", no_wrap=True)
    table.add_column("worst (i, j)\nanalytic\nnumerical", justify="right", no_wrap=True)
    if not compact:
        table.add_column("loss\nreference", justify="right", no_wrap=True)
        table.add_column("entries\njudged by", justify="right", no_wrap=True)
    for result in results:
        verdict = verdict_text(result.verdict)
        verdict.append(f"\n{_duration(result.seconds)}", style="default")
        errors = (result.max_rel_error, result.median_rel_error, result.max_abs_error)
        cells: list[RenderableType] = [escape(result.name), verdict]
        cells.append("\n".join(number(x) for x in errors))
        cells.append(_worst_cell(result))
        if not compact:
            cells.append(f"{_loss(result.loss)}\n{_loss(result.reference_loss)}")
            cells.append(_judged_cell(result))
        table.add_row(*cells, end_section=True)
    return table


def run_details(results: Sequence[CheckResult]) -> RenderableType:
    """Build the lines under the table: why each implementation did not pass, and its traceback."""
    lines: list[RenderableType] = []
    for result in results:
        if result.verdict == "pass" and not result.reason:
            continue
        line = Text.assemble(
            verdict_text(result.verdict), " ", (result.name, "bold"), f": {result.reason}"
        )
        lines.append(line)
        if result.user_traceback:
            lines.append(Text(result.user_traceback.rstrip(), style="dim"))
    return Group(*lines)


def summary_line(results: Sequence[CheckResult], strict: bool) -> Text:
    """One line saying how many implementations passed, warned and failed."""
    counts = {v: sum(r.verdict == v for r in results) for v in ("pass", "warn", "fail")}
    parts = [f"{counts[v]} {v}" for v in ("pass", "warn", "fail") if counts[v]]
    worst = "fail" if counts["fail"] else "warn" if counts["warn"] else "pass"
    note = " (warn fails under --strict)" if strict and counts["warn"] else ""
    checked = "implementation" if len(results) == 1 else "implementations"
    text = f"Summary: {len(results)} {checked} checked: {', '.join(parts)}{note}"
    return Text(text, style=VERDICT_STYLE[worst])


def run_document(
    results: Sequence[CheckResult], reference: ReferenceSet, **context: Any
) -> dict[str, Any]:
    """Build the `--json` document of `gradcheck run` (schema 1)."""
    n, c = reference.scores.shape
    return {
        "schema": SCHEMA,
        "command": "run",
        **context,
        "N": n,
        "C": c,
        "dtype": str(reference.scores.dtype),
        "method": reference.method,
        "sampled": reference.sampled,
        "reference_seconds": reference.seconds,
        "implementations": [result.to_dict() for result in results],
    }


def _method_caption(reference: ReferenceSet) -> str:
    """Say which reference produced the reported errors and how the entries were judged."""
    checked = int(reference.checked.sum())
    scope = f"{checked} sampled entries" if reference.sampled else f"all {checked} entries"
    reported = {
        "auto": "central differences (complex step where they cannot resolve the value)",
        "central": "central differences",
        "complex": "the complex step",
    }[reference.method]
    return f"Checked {scope}; errors against {reported}."


def _worst_cell(result: CheckResult) -> str:
    """Return the worst entry's index, analytic and numerical value."""
    if not result.worst:
        return "—"
    w = result.worst[0]
    return f"({w.row}, {w.column})\n{w.analytic:.6g}\n{w.numerical:.6g}"


def _judged_cell(result: CheckResult) -> str:
    """How many entries were checked, and how many each method (or nobody) judged."""
    lines = [f"{result.entries_checked}"]
    lines += [f"{count} {method}" for method, count in sorted(result.judged_by.items())]
    if result.unjudged:
        lines.append(f"{result.unjudged} unjudged")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    """Format a run time in the unit that keeps it short."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _loss(value: float | None) -> str:
    """Format a loss value, '—' when there is none."""
    return "—" if value is None else f"{value:.6g}"  # a nan loss shows as nan: it was returned
