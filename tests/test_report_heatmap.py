"""The error as a picture: a terminal heat map at 60 and 120 columns, without colour, as PNG."""

from __future__ import annotations

import io
import re
import sys

import numpy as np
import pytest
from rich.console import Console

from gradcheck_cli import report
from gradcheck_cli.diagnose import Diagnosis, error_ratio
from gradcheck_cli.numeric import complex_step
from gradcheck_cli.softmax import stable

HEIGHT = 20


def batch(n, c, seed=4):
    """(scores, labels, correct gradient, exact numerical gradient) of a seeded batch."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.0, 2.0, size=(n, c))
    labels = rng.integers(0, c, size=n)
    return scores, labels, stable(scores, labels)[1], complex_step(scores, labels)


def render(renderable, width, **console_options):
    """Print to a console of ``width`` columns and return the text."""
    options = {"color_system": None} | console_options
    console = Console(file=io.StringIO(), width=width, height=HEIGHT, **options)
    console.print(renderable)
    return console.file.getvalue()


@pytest.fixture
def large():
    """A 500×10 gradient: within tolerance but for one entry (row 301) and the last row."""
    scores, labels, gradient, numerical = batch(500, 10)
    gradient[301, 4] *= 1 + 1e-9
    gradient[-1] = 0.0
    return error_ratio(gradient, numerical, scores, labels), labels


@pytest.fixture
def small():
    """A 6×4 gradient with its row 2 label entry off by 0.5 and one nan entry."""
    scores, labels, gradient, numerical = batch(6, 4)
    gradient[2, labels[2]] -= 0.5
    gradient[4, 1] = np.nan
    return error_ratio(gradient, numerical, scores, labels), labels


def grid(text, n):
    """(first row, cells) of each grid line of a map of ``n`` rows; a cell is two characters."""
    margin = len(str(n - 1)) + 1
    lines = [(line[:margin], line[margin:]) for line in text.splitlines()]
    return [(int(head), cells) for head, cells in lines if head.strip().isdigit()]


@pytest.mark.parametrize("width", [60, 120])
def test_a_large_batch_is_pooled_to_fit_width_and_height(large, width):
    ratio, labels = large
    text = render(report.heatmap(ratio, labels, width=width, height=HEIGHT), width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert len(lines) <= HEIGHT
    rows = grid(text, 500)
    assert 5 <= len(rows) < 500  # pooled, and still a picture
    assert f"max-pooled 500×10 → {len(rows)}×10" in text
    # Max pooling hides nothing: the band holding (301, 4) shows its level, 1e-9 relative
    # being about 1e5 times the float64 tolerance; the last band holds the zeroed last row.
    bad_band = max(k for k, (start, _) in enumerate(rows) if start <= 301)
    for k, (start, cells) in enumerate(rows):
        glyphs = cells[::2].rstrip()
        if k == bad_band:
            assert glyphs == "····5·····", (start, cells)
        elif k == len(rows) - 1:
            assert glyphs == "9" * 10
        else:
            assert glyphs == "·" * 10


@pytest.mark.parametrize("width", [60, 120])
def test_a_small_batch_shows_every_entry_with_label_marks(small, width):
    ratio, labels = small
    text = render(report.heatmap(ratio, labels, width=width, title="mine: "), width)
    assert text.splitlines()[0] == "mine: error / tolerance, rows × classes (6×4)"
    rows = grid(text, 6)
    assert [start for start, _ in rows] == list(range(6))
    for i, (_, cells) in enumerate(rows):
        assert cells[2 * labels[i] + 1] == report.LABEL_MARK  # the label entry, marked
        assert cells.count(report.LABEL_MARK) == 1
    assert rows[2][1][2 * labels[2]].isdigit()  # the wrong label entry has a level
    assert rows[4][1][2 * 1] == report.NON_FINITE_GLYPH
    assert "pooled" not in text
    assert "within tolerance" in text and "label entry" in text


def test_levels_are_orders_of_magnitude_over_tolerance():
    ratio = np.array([[0.5, 1.0, 5.0, 50.0, 1e20, np.inf, np.nan]])
    text = render(report.heatmap(ratio, np.array([0]), width=60), 60)
    [(_, cells)] = grid(text, 1)
    assert cells[::2] == "··129! "
    assert "blank: not checked" in text


def strip_ansi(text):
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_without_colour_the_characters_still_carry_the_levels(small, monkeypatch):
    ratio, labels = small
    coloured = render(report.heatmap(ratio, labels, width=60), 60, color_system="truecolor")
    assert "48;2;" in coloured  # levels as background colours
    plain = render(report.heatmap(ratio, labels, width=60), 60, color_system=None)
    assert "\x1b" not in plain
    assert grid(strip_ansi(coloured), 6) == grid(plain, 6)  # colour adds nothing the glyphs lack
    monkeypatch.setenv("NO_COLOR", "1")
    no_color = render(report.heatmap(ratio, labels, width=60), 60, force_terminal=True)
    assert "48;2;" not in no_color and "\x1b[32m" not in no_color
    assert grid(strip_ansi(no_color), 6) == grid(plain, 6)
    assert any(cells[2 * labels[2]].isdigit() for _, cells in grid(plain, 6)[2:3])


def test_pool_errors_keeps_each_cells_maximum_and_whose_it_is():
    ratio = np.arange(24, dtype=float).reshape(6, 4)
    labels = np.array([0, 0, 3, 0, 0, 0])  # (2, 3) holds 11, a label entry
    grid = report.pool_errors(ratio, labels, rows=2, columns=2)
    assert grid.ratio.tolist() == [[9.0, 11.0], [21.0, 23.0]]
    assert grid.label_worst.tolist() == [[False, True], [False, False]]
    assert grid.pooled and grid.shape == (6, 4)
    assert grid.row_starts.tolist() == [0, 3] and grid.column_starts.tolist() == [0, 2]
    same = report.pool_errors(ratio, labels, rows=10, columns=10)
    assert not same.pooled and np.array_equal(same.ratio, ratio)


def test_heatmap_png_is_written(tmp_path, small, large):
    pytest.importorskip("matplotlib")
    for name, (ratio, labels) in {"small": small, "large": large}.items():
        path = tmp_path / f"{name}.png"
        report.heatmap_png(path, ratio, labels, title="mine: ")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5000


def test_heatmap_png_without_matplotlib_says_how_to_get_it(tmp_path, small, monkeypatch):
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    with pytest.raises(report.PlotUnavailable, match=r"pip install 'gradcheck-cli\[plot\]'"):
        report.heatmap_png(tmp_path / "x.png", *small)
    assert not (tmp_path / "x.png").exists()


def test_diagnosis_text_gives_one_line_each_with_how_sure():
    diagnoses = [
        Diagnosis("missing_1_over_n", "analytic ≈ 500 × numerical on every entry", 1.0),
        Diagnosis("one_row", "the error is all in one row (7)", 0.995),
    ]
    text = render(report.diagnosis_text(diagnoses), 120)
    assert text.splitlines() == [
        "  diagnosis: analytic ≈ 500 × numerical on every entry (explains 100.0%)",
        "  diagnosis: the error is all in one row (7) (explains 99.5%)",
    ]
    assert render(report.diagnosis_text([]), 60).strip() == ""
