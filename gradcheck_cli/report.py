"""Rich renderables and JSON documents built from check results; `cli` prints them."""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from rich import box
from rich.color import Color
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.style import Style
from rich.table import Table
from rich.text import Text

from gradcheck_cli.checker import (
    OWN_CALL_BUDGET,
    OWN_DIRECTIONS,
    OWN_SAMPLE,
    CheckResult,
    ReferenceSet,
)
from gradcheck_cli.diagnose import Diagnosis
from gradcheck_cli.errors import GradcheckError

if TYPE_CHECKING:  # `run` should not pay for importing bench, demo, linear and net
    from gradcheck_cli.bench import BenchRecord, BenchResult
    from gradcheck_cli.demo import Demo
    from gradcheck_cli.linear import Agreement, LinearCheckResult, LinearResult
    from gradcheck_cli.net import NetCheckResult, ParameterResult
from gradcheck_cli.verdict import WorstEntry, relative_error

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
    against = " · against own loss" if reference.against == "own" else ""
    table = Table(
        title=f"Gradient check · N={n} C={c} · {reference.scores.dtype}{against}",
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
    """Build the lines under the table: why each implementation did not pass, and its traceback.

    Against its own loss, each implementation also gets a line saying how the
    black-box gradient was judged and what it cost, and a failed check lists
    its entries out of tolerance, with those found by bisecting a failed
    random direction marked as such. A user's traceback shows only the
    user's own frames.
    """
    lines: list[RenderableType] = []
    for result in results:
        if result.against == "own":
            lines.append(Text(f"{result.name}: {_own_method(result)}", style="dim"))
        if result.coverage:  # a large file, checked block by block: say what was covered
            lines.append(Text(f"{result.name}: {result.coverage}", style="dim"))
        if result.verdict == "pass" and not result.reason:
            continue
        line = Text.assemble(
            verdict_text(result.verdict), " ", (result.name, "bold"), f": {result.reason}"
        )
        lines.append(line)
        if result.diagnosis:
            lines.append(diagnosis_text(result.diagnosis))
        if result.against == "own" and result.verdict != "pass":
            lines += [Text(f"  {_entry_line(w)}") for w in result.worst if w.ratio > 1]
        if result.user_traceback:
            lines.append(Text(result.user_traceback.rstrip(), style="dim"))
    return Group(*lines)


def _own_method(result: CheckResult) -> str:
    """Say how a black-box (against its own loss) check judged, and how many calls it made."""
    calls = f"{result.reference_calls} call{'s' if result.reference_calls != 1 else ''}"
    if result.directions:
        how = (
            f"{result.entries_checked} sampled entries by black-box central differences "
            f"and {result.directions} random directions"
        )
    else:
        how = f"all {result.entries_checked} entries by black-box central differences"
    return f"judged against its own loss: {how} ({calls} of it)"


def _entry_line(entry: WorstEntry) -> str:
    """One worst entry: where, both values, the error against what is allowed."""
    found = "found by bisecting a failed direction" if entry.method == "directional" else ""
    how = found or entry.method
    return (
        f"({entry.row}, {entry.column}): analytic {entry.analytic:.6g}, numerical "
        f"{entry.numerical:.6g}, error {entry.abs_error:.2g} > allowed {entry.tolerance:.2g} "
        f"({how})"
    )


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
    if reference.against == "own":
        n, c = reference.scores.shape
        if not reference.sampled and 4 * n * c > OWN_CALL_BUDGET:
            scope = f"{OWN_SAMPLE} sampled entries and {OWN_DIRECTIONS} random directions"
        return (
            f"Checked {scope} against each implementation's own loss, a black box "
            "(central differences at steps h and 2h, 4 calls an entry or direction)."
        )
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
    if result.against == "own":
        # Black-box entries are judged to the differences' resolution; below it, unresolved.
        lines += [f"{count} black-box" for count in result.judged_by.values()]
        lines += [f"{result.unjudged} unresolved"] if result.unjudged else []
        lines += [f"{result.directions} directions"] if result.directions else []
        lines += [f"{result.reference_calls} calls"] if result.reference_calls else []
        return "\n".join(lines)
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


# The error as a picture (issue 7): a terminal heat map and the same as a PNG.

HEATMAP_LEVELS = 9
"""Glyphs ``1``–``9``: the worst error in a cell is up to ``10**k`` times its tolerance."""
WITHIN_GLYPH, NON_FINITE_GLYPH, UNCHECKED_GLYPH, LABEL_MARK = "·", "!", " ", "•"
_WITHIN_STYLE = Style(color="green")
_NON_FINITE_STYLE = Style(color="white", bgcolor="magenta", bold=True)
_PNG_CELLS = 400
"""The PNG pools to at most this many cells a side; label marks are drawn up to 120."""


class PlotUnavailable(GradcheckError):
    """`heatmap_png` needs matplotlib (the optional ``plot`` extra), which is not installed."""


@dataclass(frozen=True)
class PooledErrors:
    """Error ratios pooled by max into a grid of row bands × class bands, as both pictures draw.

    ``ratio[b, k]`` is the worst ``error / tolerance`` among rows
    ``row_starts[b]…`` and classes ``column_starts[k]…`` (nan: none checked,
    inf: nan/inf in the analytic gradient); ``label_worst[b, k]`` says that
    worst entry is a label entry. ``shape`` is the gradient's (N, C).
    """

    ratio: np.ndarray
    label_worst: np.ndarray
    row_starts: np.ndarray
    column_starts: np.ndarray
    shape: tuple[int, int]

    @property
    def pooled(self) -> bool:
        """Whether any cell holds more than one entry."""
        return self.ratio.shape != self.shape


def pool_errors(ratio: np.ndarray, labels: np.ndarray, rows: int, columns: int) -> PooledErrors:
    """Pool ``ratio`` (N, C) by max into at most ``rows`` × ``columns`` cells of near-equal size."""
    n, c = ratio.shape
    row_starts = (np.arange(min(n, max(1, rows))) * n) // min(n, max(1, rows))
    column_starts = (np.arange(min(c, max(1, columns))) * c) // min(c, max(1, columns))
    on_label = np.zeros((n, c), dtype=bool)
    on_label[np.arange(n), labels] = True

    def pooled(values: np.ndarray) -> np.ndarray:
        """Max over each band, ignoring nan (fmax), first down the rows, then across."""
        by_rows = np.fmax.reduceat(values, row_starts, axis=0)
        result: np.ndarray = np.fmax.reduceat(by_rows, column_starts, axis=1)
        return result

    label = pooled(np.where(on_label, ratio, np.nan))
    other = pooled(np.where(on_label, np.nan, ratio))
    label_worst = (label >= other) | (np.isnan(other) & ~np.isnan(label))
    return PooledErrors(np.fmax(label, other), label_worst, row_starts, column_starts, (n, c))


def heatmap(
    ratio: np.ndarray, labels: np.ndarray, *, width: int = 80, height: int = 24, title: str = ""
) -> RenderableType:
    """Draw ``error / tolerance`` per entry as a grid of glyphs and colours in width × height.

    Each cell is two characters: a level glyph (``·`` within tolerance, ``k``
    = 1…9 for up to ``10**k`` × tolerance, ``!`` nan/inf, blank not checked)
    and ``•`` when its worst entry is a label entry. Rows and classes are
    pooled by max when the grid would not fit, so no error is hidden. The
    glyphs carry the levels, so the map reads the same without colour.
    """
    n, c = ratio.shape
    margin = len(str(n - 1)) + 1
    legend = [
        Text.assemble(
            (WITHIN_GLYPH, _WITHIN_STYLE),
            " within tolerance  ",
            *[(str(k), _heat_cell(10.0**k)[1]) for k in range(1, HEATMAP_LEVELS + 1)],
            f" ≤ 10^k × tolerance ({HEATMAP_LEVELS}: more)",
        ),
        Text.assemble((NON_FINITE_GLYPH, _NON_FINITE_STYLE), f" nan/inf  {LABEL_MARK} label entry"),
    ]
    # Heading, ticks, a line on pooling, and the legend, whose lines fit 60 columns
    # (narrower, each wraps at words: a line more than its length alone needs, at most).
    chrome = 3 + sum(-(-len(line) // max(1, width)) + (len(line) > width) for line in legend)
    grid = pool_errors(ratio, labels, height - chrome, (width - margin) // 2)
    rows, columns = grid.ratio.shape
    notes = []
    if grid.pooled:
        legend[1].append(" (or the worst in its cell)")
        notes.append(f"max-pooled {n}×{c} → {rows}×{columns}")
    if np.isnan(grid.ratio).any():
        notes.append("blank: not checked")
    heading = Text(f"{title}error / tolerance, rows × classes ({n}×{c})", style="bold")
    heading.no_wrap, heading.overflow = True, "ellipsis"
    ticks = Text(" " * margin, style="dim")
    for k in range(0, columns, 5):
        ticks.append(f"{grid.column_starts[k]:<10}"[: 2 * (columns - k)])
    lines = [heading, ticks]
    for b, start in enumerate(grid.row_starts):
        line = Text()
        line.append(f"{start:>{margin - 1}} ", style="dim")
        for k in range(columns):
            glyph, style = _heat_cell(float(grid.ratio[b, k]))
            line.append(glyph + (LABEL_MARK if grid.label_worst[b, k] else " "), style=style)
        lines.append(line)
    if notes:
        legend.append(Text("; ".join(notes), style="dim"))
    return Group(*lines, *legend)


def heatmap_png(
    path: str | os.PathLike[str], ratio: np.ndarray, labels: np.ndarray, *, title: str = ""
) -> None:
    """Draw the same heat map as `heatmap` with matplotlib and save it as a PNG at ``path``.

    Raises
    ------
    PlotUnavailable
        If matplotlib (``pip install 'gradcheck-cli[plot]'``) is not installed.
    """
    try:  # an optional extra: imported only when a picture is asked for
        from matplotlib import colormaps
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(
            "the PNG heat map (--plot) needs matplotlib, which is not installed: "
            "pip install 'gradcheck-cli[plot]'"
        ) from None
    n, c = ratio.shape
    grid = pool_errors(ratio, labels, _PNG_CELLS, _PNG_CELLS)
    with np.errstate(divide="ignore"):
        level = np.log10(grid.ratio)
    finite = level[np.isfinite(level)]
    top = max(1.0, math.ceil(float(finite.max()))) if finite.size else 1.0
    image = np.where(level <= 0, -1.0, level)  # within tolerance: the "under" colour
    image = np.where(np.isposinf(level), top + 1, image)  # nan/inf analytic: the "over" colour
    colormap = colormaps["YlOrRd"].with_extremes(under="#2e7d32", over="#c000c0", bad="#d0d0d0")
    figure = Figure(figsize=(min(12.0, max(6.0, 3 + 0.4 * c)), 6.0), layout="constrained")
    FigureCanvasAgg(figure)  # the Agg canvas, without pyplot's global state
    axes = figure.add_subplot()
    shown = axes.imshow(
        np.ma.masked_invalid(image),
        cmap=colormap,
        vmin=0.0,
        vmax=top,
        aspect="auto",
        interpolation="nearest",
        extent=(0, c, n, 0),
    )
    rows, columns = grid.ratio.shape
    if max(rows, columns) <= 120:  # beyond, the marks would cover the picture
        b, k = np.nonzero(grid.label_worst)
        axes.plot((k + 0.5) * c / columns, (b + 0.5) * n / rows, "k.", markersize=3)
    axes.set_xlabel("class")
    axes.set_ylabel("row")
    if not grid.pooled and max(n, c) <= 20:  # few enough to label each class and row
        axes.set_xticks(np.arange(c) + 0.5, labels=[str(j) for j in range(c)])
        axes.set_yticks(np.arange(n) + 0.5, labels=[str(i) for i in range(n)])
    pooled = f", max-pooled to {rows}×{columns}" if grid.pooled else ""
    marks = "• label entry; " if max(rows, columns) <= 120 else ""
    axes.set_title(
        f"{title}error / tolerance per entry ({n}×{c}{pooled})\n"
        f"green: within tolerance; magenta: nan/inf; {marks}grey: not checked",
        fontsize="medium",
    )
    figure.colorbar(shown, ax=axes, extend="both", label="log10(error / tolerance)")
    figure.savefig(path, dpi=120)


def run_heatmaps(
    results: Sequence[CheckResult], labels: np.ndarray, *, width: int, height: int
) -> RenderableType:
    """Build one heat map per result that kept its error map (`check_all(keep_error_map=True)`)."""
    maps: list[RenderableType] = []
    for result in results:
        if result.error_map is not None:
            title = f"{escape(result.name)}: "
            maps.append(heatmap(result.error_map, labels, width=width, height=height, title=title))
    return Group(*maps)


def diagnosis_text(diagnoses: Sequence[Diagnosis]) -> Text:
    """One line per diagnosis: ``diagnosis: <message> (explains 100.0%)``."""
    text = Text()
    for diagnosis in diagnoses:
        if text:
            text.append("\n")
        text.append("  diagnosis: ", style="bold")
        text.append(diagnosis.message)
        text.append(f" (explains {diagnosis.explained:.1%})", style="dim")
    return text


def _heat_cell(value: float) -> tuple[str, Style]:
    """Return the glyph and style of a pooled ``error / tolerance`` value."""
    if math.isnan(value):
        return UNCHECKED_GLYPH, Style()
    if math.isinf(value):
        return NON_FINITE_GLYPH, _NON_FINITE_STYLE
    if value <= 1:
        return WITHIN_GLYPH, _WITHIN_STYLE
    level = min(HEATMAP_LEVELS, max(1, math.ceil(math.log10(value))))
    # From yellow (just outside tolerance) to dark red (a billion times outside).
    t = (level - 1) / (HEATMAP_LEVELS - 1)
    background = Color.from_rgb(255 - 95 * t, 215 * (1 - t), 0)
    return str(level), Style(color="black", bgcolor=background)


# gradcheck demo and gradcheck net (issue 5): the seed's story, and a network per parameter.

DEMO_IMPLEMENTATIONS = ("loops", "rows", "vectorized", "stable")


def demo_report(demo: Demo, seed: int, saved: Sequence[str] = ()) -> Group:
    """Build the whole demo: four numbered panels and a closing note, readable at 80 columns."""
    return Group(
        _demo_batch_panel(demo, seed),
        _demo_softmax_panel(demo),
        _demo_gradient_panel(demo),
        _demo_controls_panel(demo),
        _demo_closing(demo, saved),
    )


def _demo_batch_panel(demo: Demo, seed: int) -> Panel:
    """Panel 1: the scores, with each row's correct class in brackets, and the labels."""
    n, c = demo.scores.shape
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("i", justify="right")
    for j in range(c):
        table.add_column(escape(f"s[i, {j}]"), justify="right")
    table.add_column("y_i", justify="right")
    for i in range(n):
        cells = [_marked(f"{demo.scores[i, j]:.1f}", j == demo.labels[i]) for j in range(c)]
        table.add_row(str(i), *cells, str(demo.labels[i]))
    intro = Text(
        f"A batch of N = {n} samples and C = {c} classes (--seed {seed}): the network's "
        "scores s (N×C) and each sample's correct class y_i, in [brackets]."
    )
    return Panel(Group(intro, table), title="1 · The batch", title_align="left")


def _demo_softmax_panel(demo: Demo) -> Panel:
    """Panel 2: softmax probabilities, the per-sample losses and the loss."""
    n, c = demo.scores.shape
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("i", justify="right")
    for j in range(c):
        table.add_column(escape(f"p[i, {j}]"), justify="right")
    table.add_column("L_i", justify="right")
    for i in range(n):
        cells = [_marked(f"{demo.probabilities[i, j]:.4f}", j == demo.labels[i]) for j in range(c)]
        table.add_row(str(i), *cells, f"{demo.row_losses[i]:.4f}")
    formula = Text(
        "p[i, j] = exp(s[i, j]) / Σ_k exp(s[i, k])   (softmax of row i)\n"
        "L_i = −log p[i, y_i]   (small when the correct class is likely)"
    )
    loss = Text.assemble("L = (1/N) Σ_i L_i = ", (f"{demo.loss:.6f}", "bold"))
    return Panel(Group(formula, table, loss), title="2 · Softmax and the loss", title_align="left")


def _demo_gradient_panel(demo: Demo) -> Panel:
    """Panel 3: the gradient from each built-in implementation beside the numerical one."""
    n, c = demo.scores.shape
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("(i, j)", no_wrap=True)
    for name in DEMO_IMPLEMENTATIONS:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("numerical", justify="right", no_wrap=True, style="bold")
    for i in range(n):
        for j in range(c):
            values = [demo.gradients[name][i, j] for name in DEMO_IMPLEMENTATIONS]
            mark = "*" if j == demo.labels[i] else " "
            cells = [f"{value:+.6f}" for value in (*values, demo.numerical[i, j])]
            table.add_row(f"({i}, {j}){mark}", *cells, end_section=(j == c - 1 and i == n - 1))
    results = {result.name: result for result in demo.results}
    table.add_row("rel err", *(number(demo.agreement[k]) for k in DEMO_IMPLEMENTATIONS))
    table.add_row("verdict", *(verdict_text(results[k].verdict) for k in DEMO_IMPLEMENTATIONS))
    intro = Text(
        "dL/ds[i, j] = (p[i, j] − [j = y_i]) / N: the seed's formula, written four ways "
        "(two loops, a loop over rows, vectorized, max-shifted). * marks the label entry."
    )
    central = relative_error(demo.central, demo.numerical, 1.0 / n).max()
    note = Text(
        "numerical: the complex step Im L(s + i·h·e_ij)/h with h = 1e-20, exact to a few "
        "ulps; rel err is the largest |a − n| / max(|a|, |n|) (at least 1/N on a label "
        "entry). Central differences, (L(s + h) − L(s − h)) / 2h, lose digits to "
        f"cancellation: here they agree to {central:.1e}. Verdicts come from judging "
        "every entry, as gradcheck run does.",
        style="dim",
    )
    title = "3 · The gradient, four ways and numerically"
    return Panel(Group(intro, table, note), title=title, title_align="left")


def _demo_controls_panel(demo: Demo) -> Panel:
    """Panel 4: deliberately broken gradients, each shown being caught, worst entry named."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("broken gradient", overflow="fold", max_width=28)
    table.add_column("verdict", no_wrap=True)
    table.add_column("worst (i, j)\nanalytic\nnumerical", justify="right", no_wrap=True)
    for control in demo.controls:
        verdict = verdict_text(control.result.verdict)
        verdict.append("\ncaught" if control.caught else "\nMISSED", style="default")
        what = Text.assemble((control.title, "bold"), f"\n{control.bug}")
        table.add_row(what, verdict, _worst_cell(control.result), end_section=True)
    reasons = Text()
    for control in demo.controls:
        if reasons:
            reasons.append("\n")
        reasons.append(f"{control.title}: ", style="bold")
        reasons.append(control.result.reason)
    contrast = Text.assemble(
        "The same large scores through ",
        ("stable", "bold"),
        " (max-shifted): ",
        verdict_text(demo.contrast.verdict),
    )
    intro = Text("A checker earns trust by catching bugs. Three gradients, each wrong on purpose:")
    group = Group(intro, table, reasons, contrast)
    return Panel(group, title="4 · Negative controls", title_align="left")


def _demo_closing(demo: Demo, saved: Sequence[str]) -> Text:
    """Build the closing note: the demo's outcome and what to run next."""
    if demo.as_expected:
        outcome = Text(
            "All four implementations pass; all three broken gradients are caught.",
            style=VERDICT_STYLE["pass"],
        )
    else:
        outcome = Text("The demo did not go as expected (see above).", style=VERDICT_STYLE["fail"])
    lines = [outcome]
    if saved:
        files = " ".join(escape(os.path.basename(path)) for path in saved)
        folder = escape(os.path.dirname(saved[0]) or ".")
        lines.append(Text(f"Saved {files} in {folder}; check them with"))
        lines.append(Text(f"  gradcheck run {saved[0]} {saved[1]}", style="bold"))
    lines.append(Text("Your own code: gradcheck run SCORES LABELS --impl my_softmax.py:NAME"))
    lines.append(Text("A whole two-layer network, every parameter: gradcheck net"))
    return Text("\n").join(lines)


def _marked(text: str, marked: bool) -> Text:
    """Return ``text`` in brackets and bold when ``marked``, padded to line up otherwise."""
    return Text(f"[{text}]", style="bold") if marked else Text(f" {text} ")


def net_table(result: NetCheckResult) -> Table:
    """Build the table of `gradcheck net`: one row per parameter, within 80 columns."""
    sizes = f"N={result.N} D={result.D} H={result.H} C={result.C}"
    table = Table(
        title=f"Network check · {escape(result.name)} · {sizes} · reg={result.reg:g}",
        box=box.SIMPLE_HEAD,
        caption=_net_caption(result),
        caption_justify="left",
    )
    table.add_column("param\nshape", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("rel err max\nabs err max", justify="right", no_wrap=True)
    table.add_column("worst entry\nanalytic\nnumerical", justify="right", no_wrap=True)
    table.add_column("entries\njudged by", justify="right", no_wrap=True)
    for parameter in result.parameters:
        shape = "×".join(str(k) for k in parameter.shape)
        errors = f"{number(parameter.max_rel_error)}\n{number(parameter.max_abs_error)}"
        table.add_row(
            f"{parameter.name}\n{shape}",
            verdict_text(parameter.verdict),
            errors,
            _net_worst_cell(parameter),
            _net_entries_cell(parameter),
            end_section=True,
        )
    return table


def net_details(result: NetCheckResult) -> RenderableType:
    """Build the lines under the table: the loss, why anything did not pass, the traceback."""
    loss = Text.assemble(
        verdict_text(result.loss_verdict),
        " loss ",
        (_loss(result.loss), "bold"),
        f" (reference {_loss(result.reference_loss)})",
    )
    if result.loss_reason and not result.problem:
        loss.append(f": {result.loss_reason}")
    lines: list[RenderableType] = [loss]
    if not result.problem:
        regularization = NET_CONVENTIONS.get(result.convention, NET_CONVENTIONS["half"])
        lines.append(Text(f"regularization: {regularization}", style="dim"))
    owns = [p for p in result.parameters if p.own is not None]
    if owns:
        lines.append(Text(_net_own_line(owns), style="dim"))
    if result.problem:
        lines.append(Text.assemble(verdict_text("fail"), f" {result.name}: {result.problem}"))
    else:
        for parameter in result.parameters:
            if parameter.verdict != "pass" or parameter.reason:
                text = Text.assemble(verdict_text(parameter.verdict), " ")
                text.append(parameter.name, style="bold")
                text.append(f": {parameter.reason}")
                lines.append(text)
    if result.modified_inputs:
        modified = " and ".join(result.modified_inputs)
        lines.append(Text.assemble(verdict_text("warn"), f" modified its input {modified}"))
    if result.user_traceback:
        lines.append(Text(result.user_traceback.rstrip(), style="dim"))
    return Group(*lines)


NET_CONVENTIONS = {
    "half": "reg·½(ΣW1² + ΣW2²), gradients + reg·W (the seed's)",
    "full": "reg·(ΣW1² + ΣW2²), gradients + 2·reg·W (detected from the loss)",
    "either": "reg·½(ΣW1² + ΣW2²) or reg·(ΣW1² + ΣW2²): too small here to tell apart",
}
"""How `gradcheck net` names the regularization the loss follows (others: the seed's assumed)."""


def _net_own_line(parameters: Sequence[ParameterResult]) -> str:
    """Say how a class's gradients were judged against its own loss, and how closely."""
    parts = []
    for p in parameters:
        assert p.own is not None  # the caller keeps only those
        directions = f" + {p.own.directions} dir." if p.own.directions else ""
        count = f"{p.own.entries_checked}{directions}"
        parts.append(f"{p.name} {count}")
    calls = sum(p.own.calls for p in parameters if p.own is not None)
    worst = max((p.own.max_rel_error for p in parameters if p.own is not None), default=math.nan)
    return (
        "against its own loss, model.params perturbed in place (entries: "
        f"{', '.join(parts)}; {calls} calls): largest relative error {number(worst)}"
    )


def net_summary(result: NetCheckResult, strict: bool) -> Text:
    """One line: the network's verdict and how many parameters passed, warned and failed."""
    counts = {v: sum(p.verdict == v for p in result.parameters) for v in ("pass", "warn", "fail")}
    parts = ", ".join(f"{counts[v]} {v}" for v in ("pass", "warn", "fail") if counts[v])
    note = " (warn fails under --strict)" if strict and result.verdict == "warn" else ""
    text = f"Summary: network {result.verdict.upper()}; parameters: {parts}{note}"
    return Text(text, style=VERDICT_STYLE[result.verdict])


def net_document(result: NetCheckResult, **context: Any) -> dict[str, Any]:
    """Build the `--json` document of `gradcheck net` (schema 1)."""
    return {"schema": SCHEMA, "command": "net", **context, **result.to_dict()}


def _net_caption(result: NetCheckResult) -> str:
    """Say which reference the errors are against and how many entries were checked."""
    checked = sum(p.entries_checked for p in result.parameters)
    total = sum(p.entries_total for p in result.parameters)
    scope = f"all {total} entries" if checked == total else f"{checked} of {total} entries"
    reported = {
        "auto": "central differences (the complex step where they cannot resolve)",
        "central": "central differences",
        "complex": "the complex step",
    }[result.method]
    return f"Checked {scope}; errors against {reported}."


def _net_worst_cell(parameter: ParameterResult) -> str:
    """Return the worst entry's name, analytic and numerical value."""
    from gradcheck_cli.net import entry_name

    if not parameter.worst:
        return "—"
    w = parameter.worst[0]
    return f"{entry_name(parameter.name, parameter.shape, w)}\n{w.analytic:.6g}\n{w.numerical:.6g}"


def _net_entries_cell(parameter: ParameterResult) -> str:
    """How many entries were checked, how many each method judged, and how many were not."""
    lines = [f"{parameter.entries_checked}" + (" sampled" if parameter.sampled else "")]
    lines += [f"{count} {method}" for method, count in sorted(parameter.judged_by.items())]
    if parameter.kinks:
        lines.append(f"{parameter.kinks} kinks")
    if parameter.unjudged:
        lines.append(f"{parameter.unjudged} unjudged")
    return "\n".join(lines)


# gradcheck bench (issue 4): the timing table, its progress bar, JSON, CSV and a plot.

BENCH_COMPACT_BELOW = 90
"""Narrower terminals get the bench table without its min and × copy columns."""
BENCH_PLOT_MISSING = (
    "--plot needs matplotlib, which is not installed: pip install '.[plot]' "
    "(or pip install matplotlib)"
)


def bench_table(result: BenchResult, width: int = 80) -> Table:
    """Build the table of `gradcheck bench`: per size, the floor, then every record.

    ``× exp`` and ``× copy`` are each median over the floor's median at that
    size; ``~`` marks figures estimated from smaller sizes, never run.
    """
    compact = width < BENCH_COMPACT_BELOW
    table = Table(
        title=f"Time per call · {result.dtype} · median of up to {result.repeat} runs",
        box=box.SIMPLE_HEAD,
        caption=_bench_caption(result),
        caption_justify="left",
    )
    for column in _bench_columns(compact):
        table.add_column(
            column,
            justify="left" if column in ("N×C", "impl") else "right",
            no_wrap=column != "impl",
            overflow="fold",
            max_width=22 if column == "impl" else None,
        )
    for floor in result.floors:
        size = f"{floor.N}×{floor.C}"
        floors = (
            ("np.exp (floor)", floor.exp),
            ("copy (floor)", floor.copy),
            ("np.exp, out=", floor.exp_inplace),
        )
        for k, (name, timing) in enumerate(floors):
            values: dict[str, RenderableType] = {
                "N×C": size if k == 0 else "",
                "impl": name,
                "median": _duration(timing.median),
                "min": _duration(timing.min),
                "IQR": _spread(timing.iqr, timing.median),
                "× exp": _times(timing.median / floor.exp.median),
                "× copy": _times(timing.median / floor.copy.median),
            }
            table.add_row(*_bench_row(values, compact), style="dim")
        records = [r for r in result.records if (r.N, r.C) == (floor.N, floor.C)]
        for k, record in enumerate(records):
            values = {
                "impl": escape(record.impl),
                "median": _bench_median(record),
                "min": _duration(record.min) if record.min is not None else "",
                "IQR": _spread(record.iqr, record.median),
                "× exp": _times(record.times_exp),
                "× copy": _times(record.times_copy),
                "speed-up": _speedup(record, records),
            }
            table.add_row(*_bench_row(values, compact), end_section=k == len(records) - 1)
    return table


def _bench_columns(compact: bool) -> list[str]:
    """Return the bench table's column headings, without min and × copy when compact."""
    columns = ["N×C", "impl", "median", "min", "IQR", "× exp", "× copy", "speed-up"]
    return [c for c in columns if not (compact and c in ("min", "× copy"))]


def _bench_row(values: dict[str, RenderableType], compact: bool) -> list[RenderableType]:
    """Return one row's cells in column order ('' where ``values`` has none)."""
    return [values.get(column, "") for column in _bench_columns(compact)]


def bench_notes(result: BenchResult) -> RenderableType:
    """List every estimated or skipped cell with the reason, so nothing is dropped silently."""
    lines = [
        Text.assemble(
            (f"{record.N}×{record.C} {escape(record.impl)}: ", "bold"),
            (record.note, "yellow" if record.status == "estimated" else "red"),
        )
        for record in result.records
        if record.status != "measured"
    ]
    return Group(*lines)


def bench_summary(result: BenchResult) -> Text:
    """One line: how many cells were measured, estimated and skipped, and how long it took."""
    counts = {s: sum(r.status == s for r in result.records) for s in ("measured", "estimated")}
    skipped = len(result.records) - sum(counts.values())
    text = (
        f"Bench: {len(result.records)} timings at {len(result.floors)} "
        f"size{'s' if len(result.floors) != 1 else ''}: {counts['measured']} measured, "
        f"{counts['estimated']} estimated, {skipped} skipped, in {result.seconds:.1f} s"
    )
    return Text(text, style="bold red" if skipped else "bold")


def bench_document(result: BenchResult, **context: Any) -> dict[str, Any]:
    """Build the `--json` document of `gradcheck bench` (schema 1): one record per impl and size."""
    return {
        "schema": SCHEMA,
        "command": "bench",
        **context,
        "dtype": result.dtype,
        "repeat": result.repeat,
        "budget": result.budget,
        "estimate": result.estimate,
        "seconds": result.seconds,
        "machine": asdict(result.machine),
        "floors": [asdict(floor) for floor in result.floors],
        "records": [record.to_dict() for record in result.records],
    }


def bench_csv(result: BenchResult) -> str:
    """Return the records as CSV text, one row per impl and size (`bench.CSV_COLUMNS`)."""
    from gradcheck_cli.bench import CSV_COLUMNS

    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in result.records:
        writer.writerow({k: "" if v is None else v for k, v in record.to_dict().items()})
    return stream.getvalue()


@contextmanager
def bench_progress(console: Console, *, enabled: bool) -> Iterator[Callable[[int, int, str], None]]:
    """Show a progress bar on ``console`` while `benchmark` runs; yield its ``on_step`` callback.

    The bar is transient (gone when done) and drawn only when ``enabled``.
    """
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
        transient=True,
        auto_refresh=False,  # redrawn at each step only: a refresh thread would share the CPUs
    )
    task = progress.add_task("bench", total=None)

    def on_step(done: int, total: int, what: str) -> None:
        """Move the bar to ``done`` of ``total`` and say what runs next."""
        description = escape(f"bench {what}")
        progress.update(task, completed=done, total=total, description=description, refresh=True)

    with progress:
        yield on_step


def require_matplotlib() -> None:
    """Raise `PlotUnavailable` unless matplotlib can be imported (checked before any timing)."""
    try:
        import matplotlib  # noqa: F401 - the optional plot extra
    except ImportError:
        raise PlotUnavailable(BENCH_PLOT_MISSING) from None


def bench_plot(result: BenchResult, path: str | os.PathLike[str]) -> None:
    """Draw median time against N·C per implementation on log axes; save it as a PNG at ``path``.

    Filled markers are measured, hollow ones estimated; the floor (np.exp and
    copy) is drawn in grey.

    Raises
    ------
    PlotUnavailable
        If matplotlib (``pip install '.[plot]'``) is not installed.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 5.0), layout="constrained")
    FigureCanvasAgg(figure)  # the Agg canvas, without pyplot's global state
    axes = figure.add_subplot()
    entries = [floor.N * floor.C for floor in result.floors]
    exp, copy = [f.exp.median for f in result.floors], [f.copy.median for f in result.floors]
    axes.plot(entries, exp, "--", color="0.45", label="floor: np.exp")
    axes.plot(entries, copy, ":", color="0.6", label="floor: copy")
    for name in dict.fromkeys(record.impl for record in result.records):
        timed = [(r.N * r.C, r.median, r) for r in result.records if r.impl == name and r.median]
        if not timed:
            continue
        style = "-" if timed[0][2].kind == "implementation" else "-."
        (line,) = axes.plot([x for x, _, _ in timed], [y for _, y, _ in timed], style, label=name)
        for status, face in (("measured", line.get_color()), ("estimated", "none")):
            chosen = [(x, y) for x, y, r in timed if r.status == status]
            xs, ys = [x for x, _ in chosen], [y for _, y in chosen]
            axes.plot(xs, ys, "o", color=line.get_color(), markerfacecolor=face)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("N·C (entries)")
    axes.set_ylabel("seconds per call (median)")
    machine = result.machine
    axes.set_title(
        f"gradcheck bench · {result.dtype} · numpy {machine.numpy} · {machine.cpus} CPUs\n"
        "hollow markers: estimated from smaller sizes, not run",
        fontsize="medium",
    )
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize="small")
    figure.savefig(path, dpi=120, format="png")  # a PNG whatever the file name says


def _bench_caption(result: BenchResult) -> str:
    """Say what the floor is, what the marks mean, and what machine the figures come from."""
    machine = result.machine
    threads = f"{machine.blas_threads} BLAS threads ({machine.threads_source})"
    return (
        "Floor: one np.exp pass and one copy of the N×C scores, each making a new array as "
        "every implementation must; × = median over the floor's median. Speed-up over loops "
        "(rows where loops has no figure). ~ estimated from smaller sizes, not run. "
        f"numpy {machine.numpy}, Python {machine.python}, {machine.cpus} CPUs, {machine.blas}, "
        f"{threads}; np.exp and copies run on one thread."
    )


def _bench_median(record: BenchRecord) -> Text:
    """Format the median, '~'-marked when estimated; 'skipped' when there is none."""
    if record.median is None:
        return Text("skipped", style="red")
    if record.status == "estimated":
        return Text(f"~{_duration(record.median)}", style="yellow")
    return Text(_duration(record.median))


def _spread(iqr: float | None, median: float | None) -> str:
    """Format the interquartile range as a percentage of the median."""
    if iqr is None or not median:
        return ""
    return f"{100 * iqr / median:.0f}%"


def _times(ratio: float | None) -> str:
    """Format a multiple such as '1.44×', '13.1×' or '606×'."""
    if ratio is None:
        return ""
    return f"{ratio:.0f}×" if ratio >= 99.95 else f"{ratio:#.3g}×"


def _speedup(record: BenchRecord, records: Sequence[BenchRecord]) -> str:
    """Format the speed-up over the baseline, '~'-marked when either side is estimated."""
    if record.speedup is None:
        return ""
    baseline = next(r for r in records if r.impl == record.speedup_over)
    estimated = "estimated" in (record.status, baseline.status) and record is not baseline
    over = "" if record.speedup_over == "loops" else f" ({record.speedup_over})"
    return f"{'~' if estimated else ''}{_times(record.speedup)}{over}"


# gradcheck linear (issue 8): f(W, X, y, reg) classifiers, their conventions and agreement.

REG_TERMS = {"full": "reg·ΣW²", "half": "½·reg·ΣW²", "either": "either", "missing": "none"}
"""The regularization column's short form of each convention (others show as '—' or 'neither')."""


def linear_table(result: LinearCheckResult, width: int = 80) -> Table:
    """Build the table of `gradcheck linear`: one row per implementation, fitting ``width``."""
    compact = width < COMPACT_BELOW
    sizes = f"N={result.N} D={result.D} C={result.C}"
    table = Table(
        title=f"Linear classifier check · {sizes} · reg={result.reg:g} · {result.dtype}",
        box=box.SIMPLE_HEAD,
        caption=_linear_caption(result),
        caption_justify="left",
    )
    table.add_column("impl", overflow="fold", min_width=10, max_width=24)
    table.add_column("verdict\ntime", no_wrap=True)
    table.add_column("loss\nreg term", justify="right", no_wrap=True)
    table.add_column("dW vs\nexact\nrel err", justify="right", no_wrap=True)
    table.add_column("dW vs\nown loss\nrel err", justify="right", no_wrap=True)
    if not compact:
        table.add_column("worst\nanalytic\nnumerical", justify="right", no_wrap=True)
    for row in result.implementations:
        verdict = verdict_text(row.verdict)
        verdict.append(f"\n{_duration(row.seconds)}", style="default")
        term = REG_TERMS.get(row.convention, "neither" if row.convention == "neither" else "—")
        exact = number(row.reference.max_rel_error) if row.reference else "—"
        own = number(row.own.max_rel_error) if row.own else "—"
        cells: list[RenderableType] = [escape(row.name), verdict, f"{_loss(row.loss)}\n{term}"]
        cells += [exact, own] + ([] if compact else [_linear_worst_cell(row)])
        table.add_row(*cells, end_section=True)
    return table


def linear_details(result: LinearCheckResult) -> RenderableType:
    """Build the lines under the table: conventions, reasons, agreement and timing."""
    lines: list[RenderableType] = []
    for row in result.implementations:
        lines.append(Text(f"{row.name}: {_linear_judged(row)}", style="dim"))
        if row.verdict != "pass" or row.reason:
            text = Text.assemble(verdict_text(row.verdict), " ", (row.name, "bold"))
            lines.append(text.append(f": {row.reason}"))
        if row.user_traceback:
            lines.append(Text(row.user_traceback.rstrip(), style="dim"))
    for agreement in result.agreements:
        lines.append(_agreement_line(agreement))
    if len(result.implementations) > 1:
        lines.append(_timing_line(result.implementations))
    return Group(*lines)


def linear_summary(result: LinearCheckResult, strict: bool) -> Text:
    """One line: how many implementations passed, warned and failed, and whether they agree."""
    rows = result.implementations
    counts = {v: sum(r.verdict == v for r in rows) for v in ("pass", "warn", "fail")}
    parts = ", ".join(f"{counts[v]} {v}" for v in ("pass", "warn", "fail") if counts[v])
    checked = "implementation" if len(rows) == 1 else "implementations"
    text = f"Summary: {len(rows)} {checked} checked: {parts}"
    if result.agreements:
        apart = sum(not a.agree for a in result.agreements)
        pairs = len(result.agreements)
        if pairs == 1:
            text += "; they disagree" if apart else "; they agree"
        else:
            text += f"; {apart} of {pairs} pairs disagree" if apart else "; they all agree"
    if strict and result.verdict == "warn":
        text += " (warn fails under --strict)"
    return Text(text, style=VERDICT_STYLE[result.verdict])


def linear_document(result: LinearCheckResult, **context: Any) -> dict[str, Any]:
    """Build the `--json` document of `gradcheck linear` (schema 1)."""
    return {"schema": SCHEMA, "command": "linear", **context, **result.to_dict()}


def _linear_caption(result: LinearCheckResult) -> str:
    """Say what the two relative-error columns compare against."""
    whose = "each" if len(result.implementations) > 1 else "the"
    return (
        f"exact: Xᵀ·(P − Y)/N plus the gradient of the regularization {whose} loss follows, "
        "every entry; own loss: black-box central differences of the function's own loss."
    )


def _linear_worst_cell(row: LinearResult) -> str:
    """Return the worst entry of the check that failed (the exact one first), else the exact's."""
    checks = [c for c in (row.reference, row.own) if c is not None and c.worst]
    failing = [c for c in checks if c.verdict != "pass"]
    if not (failing or checks):
        return "—"
    w = (failing or checks)[0].worst[0]
    return f"dW[{w.row}, {w.column}]\n{w.analytic:.6g}\n{w.numerical:.6g}"


def _linear_judged(row: LinearResult) -> str:
    """Say which convention the loss follows and how the gradient was judged."""
    from gradcheck_cli.linear import CONVENTIONS

    if row.loss is None or row.own is None and row.reference is None:
        return f"regularization {CONVENTIONS[row.convention]}; nothing judged"
    parts = [f"loss follows {CONVENTIONS[row.convention]}"]
    if row.reference is not None:
        term = REG_TERMS[row.reference.convention]
        parts.append(f"dW judged against the exact gradient of the softmax loss + {term}")
    if row.own is not None:
        own = row.own
        if own.directions:
            how = f"{own.entries_checked} sampled entries and {own.directions} random directions"
        else:
            how = f"all {own.entries_checked} entries"
        parts.append(f"and against its own loss ({how}, {own.calls} calls)")
    return "; ".join(parts[:2]) + (f" {parts[2]}" if len(parts) > 2 else "")


def _agreement_line(agreement: Agreement) -> Text:
    """One pair: agree or not, with the differences a notebook prints."""
    from gradcheck_cli.linear import distinct_digits

    verdict = "pass" if agreement.agree else "fail"
    verb = "agree" if agreement.agree else "DISAGREE"
    pair = f"{agreement.first} and {agreement.second} {verb}"
    numbers = (
        f"loss difference {number(agreement.loss_difference)}, dW difference "
        f"{number(agreement.gradient_difference)} (Frobenius)"
    )
    if not agreement.agree and agreement.worst is not None:
        w = agreement.worst
        first, second = distinct_digits(w.analytic, w.numerical)
        numbers += f", worst dW[{w.row}, {w.column}]: {first} vs {second}"
    text = Text(f"{VERDICT_MARK[verdict]} ", style=VERDICT_STYLE[verdict])
    text.append(f"{pair}: {numbers}")
    if agreement.explanation:
        text.append(f"; {agreement.explanation}")
    return text


def _timing_line(rows: Sequence[LinearResult]) -> Text:
    """Median time per call of each implementation, as a multiple of the first's."""
    first = rows[0]
    parts = []
    for row in rows:
        part = f"{row.name} {_duration(row.seconds)}"
        if row is not first and row.seconds > 0:
            ratio = first.seconds / row.seconds
            part += f" ({_times(ratio)} faster)" if ratio >= 1 else f" ({_times(1 / ratio)} slower)"
        parts.append(part)
    return Text("Time per call (median): " + ", ".join(parts), style="dim")
