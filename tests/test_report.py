"""The report's renderables at 80 columns, and its JSON document."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from rich.console import Console

from gradcheck_cli import check_all, report, stable

WIDTH = 80


def render(*renderables):
    """Print ``renderables`` to a plain 80-column console and return the text."""
    console = Console(file=io.StringIO(), width=WIDTH, color_system=None)
    for renderable in renderables:
        console.print(renderable)
    return console.file.getvalue()


def scaled(scores, labels):
    """Right loss, gradient 1% too large: fails with finite errors."""
    loss, dscores = stable(scores, labels)
    return loss, dscores * 1.01


def as_f32(scores, labels):
    """Right loss, gradient rounded to float32: a warn on float64 scores."""
    loss, dscores = stable(scores, labels)
    return loss, dscores.astype(np.float32)


def raises_markup(scores, labels):
    raise ValueError("[bold]oops[/bold] " + "a long message " * 10)


def renamed(function, name):
    def implementation(scores, labels):
        return function(scores, labels)

    implementation.__name__ = name
    return implementation


@pytest.fixture
def mixed(tiny_batch):
    """(reference, results) with every verdict, a raising implementation and a long name."""
    implementations = [
        "stable",
        "vectorized",
        scaled,
        as_f32,
        raises_markup,
        renamed(stable, "a_very_very_long_implementation_name_indeed"),
    ]
    return check_all(implementations, *tiny_batch)


@pytest.fixture
def overflowing(tiny_batch):
    """(reference, results) where `loops` overflows (nan errors) and `stable` passes."""
    scores, labels = tiny_batch
    scores = scores.copy()
    scores[0, 1] = 1000.0
    return check_all(["loops", "stable"], scores, labels)


def test_mixed_results_cover_every_verdict(mixed):
    _, results = mixed
    assert [r.verdict for r in results] == ["pass", "pass", "fail", "warn", "fail", "pass"]


def test_table_details_and_summary_fit_80_columns(mixed, overflowing):
    for reference, results in (mixed, overflowing):
        text = render(
            report.run_table(results, reference),
            report.run_details(results),
            report.summary_line(results, strict=True),
        )
        widths = [len(line) for line in text.splitlines()]
        assert widths and max(widths) <= WIDTH, text


def test_table_shows_names_verdicts_worst_entry_and_reference_loss(mixed):
    reference, results = mixed
    text = render(report.run_table(results, reference))
    for name in ("stable", "vectorized", "scaled", "as_f32"):
        assert name in text
    assert "PASS" in text and "WARN" in text and "FAIL" in text
    for result in results:
        if result.worst:
            w = result.worst[0]
            assert f"({w.row}, {w.column})" in text
    assert f"{reference.reference_loss:.6g}" in text
    assert f"N={reference.scores.shape[0]} C={reference.scores.shape[1]}" in text
    assert "float64" in text


def test_table_folds_a_long_name_instead_of_widening(mixed):
    reference, results = mixed
    text = render(report.run_table(results, reference))
    assert "a_very_very_long_implementation_name_indeed" not in text
    assert "a_very" in text
    assert max(len(line) for line in text.splitlines()) <= WIDTH


def test_table_says_how_entries_were_judged(mixed):
    reference, results = mixed
    text = render(report.run_table(results, reference))
    assert f"all {reference.scores.size} entries" in text
    for result in results:
        for method, count in result.judged_by.items():
            assert f"{count} {method}" in text


def test_details_give_each_non_passing_reason(mixed):
    _, results = mixed
    text = " ".join(render(report.run_details(results)).split())
    for result in results:
        if result.verdict != "pass":
            assert " ".join(f"{result.name}: {result.reason}".split()) in text


def test_details_skip_clean_passes(mixed):
    _, results = mixed
    text = render(report.run_details(results))
    assert "stable:" not in text
    assert "vectorized:" not in text


def test_details_show_the_overflow_reason(overflowing):
    _, results = overflowing
    text = render(report.run_details(results))
    assert "FAIL loops: overflow in exp" in text
    assert "stable" not in text


def test_details_show_the_users_traceback_without_markup_interpretation(mixed):
    _, results = mixed
    text = render(report.run_details(results))
    assert "Traceback (most recent call last):" in text
    assert "in raises_markup" in text
    assert "ValueError: [bold]oops[/bold]" in text


def test_markup_in_a_name_is_shown_literally(tiny_batch):
    short = renamed(stable, "[b]x[/b]")  # fits the table's name column unfolded
    long = renamed(stable, "[bold]x[/bold]")
    failing = renamed(scaled, "[red]y[/red]")
    reference, results = check_all([short, long, failing], *tiny_batch)
    table = render(report.run_table(results, reference))
    assert "[b]x[/b]" in table
    assert "[bold]x[/b" in table  # folded over two lines, but not swallowed as markup
    details = render(report.run_details(results))
    assert "FAIL [red]y[/red]:" in details


def test_summary_line_counts_and_strict_note(mixed, overflowing):
    _, results = mixed
    assert render(report.summary_line(results, strict=False)).strip() == (
        "Summary: 6 implementations checked: 3 pass, 1 warn, 2 fail"
    )
    strict = " ".join(render(report.summary_line(results, strict=True)).split())
    assert strict.endswith("(warn fails under --strict)")
    _, results = overflowing
    assert render(report.summary_line(results, strict=True)).strip() == (
        "Summary: 2 implementations checked: 1 pass, 1 fail"
    )


def test_summary_line_style_follows_the_worst_verdict(mixed, overflowing):
    _, results = mixed
    assert report.summary_line(results[:2], strict=False).style == report.VERDICT_STYLE["pass"]
    assert report.summary_line(results[:4], strict=False).style == report.VERDICT_STYLE["fail"]
    assert report.summary_line(results[3:4], strict=False).style == report.VERDICT_STYLE["warn"]


def test_run_document_is_strict_json_even_with_nan_errors(overflowing):
    reference, results = overflowing
    loops = results[0]
    assert loops.verdict == "fail" and math.isnan(loops.max_rel_error)
    document = report.run_document(results, reference, scores="s.npy", labels=None, seed=0)
    text = json.dumps(document, allow_nan=False)
    parsed = json.loads(text)
    assert parsed["schema"] == report.SCHEMA == 1
    assert parsed["scores"] == "s.npy" and parsed["labels"] is None
    assert parsed["implementations"][0]["max_rel_error"] is None
    first_nan = parsed["implementations"][0]["worst"][0]  # named, with nan/inf as null
    assert first_nan["analytic"] is None and first_nan["ratio"] is None
    assert isinstance(first_nan["numerical"], float)
    assert parsed["implementations"][1]["verdict"] == "pass"
    assert parsed["implementations"][1]["worst"][0].keys() >= {"row", "column", "analytic"}


def test_run_document_of_every_verdict_is_strict_json(mixed):
    reference, results = mixed
    document = report.run_document(results, reference)
    parsed = json.loads(json.dumps(document, allow_nan=False))
    assert [entry["verdict"] for entry in parsed["implementations"]] == [r.verdict for r in results]
    assert (parsed["N"], parsed["C"]) == reference.scores.shape
    assert parsed["method"] == "auto" and parsed["sampled"] is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "—"),
        (math.nan, "—"),
        (np.float64("nan"), "—"),
        (0, "0"),
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1.00e+00"),
        (3.14159e-7, "3.14e-07"),
        (-2.5e10, "-2.50e+10"),
    ],
)
def test_number(value, expected):
    assert report.number(value) == expected


def test_number_digits():
    assert report.number(1.23456e-3, digits=4) == "1.2346e-03"


@pytest.mark.parametrize("width", [60, 70, 79])
def test_narrow_terminals_get_a_compact_table_that_still_names_each_row(mixed, width):
    reference, results = mixed
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(report.run_table(results, reference, width=width))
    text = console.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width
    for name in ("stable", "vectorized", "scaled", "as_f32"):
        assert name in text
    assert "reference" not in text  # the loss column is the one left out
