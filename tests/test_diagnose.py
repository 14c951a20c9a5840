"""Diagnosis: each classic bug is named first, correct gradients and noise get no diagnosis."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.diagnose import EXPLAINS, Diagnosis, diagnose, error_ratio
from gradcheck_cli.numeric import central_difference, complex_step
from gradcheck_cli.softmax import IMPLEMENTATIONS, loops, stable, vectorized

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
diagnose_module = importlib.import_module("gradcheck_cli.diagnose")  # the module, not the function


def make_batch(n, c, seed):
    """Seeded float64 scores of a half-trained classifier (the label a little ahead)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, size=n)
    scores = rng.normal(0.0, 1.5, size=(n, c))
    scores[np.arange(n), labels] += 1.0
    return scores, labels


def setup(n=40, c=7, seed=5):
    """(scores, labels, exact numerical gradient, correct analytic gradient, one-hot)."""
    scores, labels = make_batch(n, c, seed)
    onehot = np.zeros((n, c))
    onehot[np.arange(n), labels] = 1.0
    return scores, labels, complex_step(scores, labels), stable(scores, labels)[1], onehot


def first(analytic, numerical, scores, labels, **options):
    found = diagnose(analytic, numerical, scores, labels, **options)
    assert found, "no diagnosis"
    return found[0]


def with_row(gradient, row, values):
    broken = gradient.copy()
    broken[row] = values
    return broken


def unit(shape, flat):
    """An array of zeros with a 1 at flat index ``flat``."""
    return (np.arange(np.prod(shape)) == flat).reshape(shape)


OFFSET, PERMUTED = "rows_not_summing_to_zero", "columns_permuted"


def softmax_over_batch(scores, labels):
    """The gradient with softmax normalised down the columns (axis 0)."""
    n = scores.shape[0]
    exp = np.exp(scores - scores.max(axis=0))
    onehot = np.zeros_like(scores)
    onehot[np.arange(n), labels] = 1.0
    return (exp / exp.sum(axis=0) - onehot) / n


# name: (broken gradient from (scores, labels, g, onehot), kind it must be named first, words)
RECTANGULAR = {
    "missing 1/N": (lambda s, y, g, h: g * len(y), "missing_1_over_n", "N = 40"),
    "sign": (lambda s, y, g, h: -g, "sign_flipped", "sign is flipped"),
    "divided by N twice": (lambda s, y, g, h: g / len(y), "constant_factor", "1/N"),
    "divided by C": (lambda s, y, g, h: g * len(y) / 7, "constant_factor", "instead of N"),
    "some factor": (lambda s, y, g, h: g * 1.37, "constant_factor", "1.37 ×"),
    "tiny factor": (lambda s, y, g, h: g * (1 + 1e-6), "constant_factor", "(1 + 1e-06)"),
    "-1 for -1/N": (lambda s, y, g, h: g - h + h / len(y), "label_off_by_one", "−0.975"),
    "no one-hot": (lambda s, y, g, h: g + h / len(y), "missing_one_hot", "never subtracted"),
    "one-hot twice": (lambda s, y, g, h: g - h / len(y), "label_entries", "twice"),
    "label zero": (lambda s, y, g, h: g * (1 - h), "label_entries", "never written"),
    "label offset": (lambda s, y, g, h: g + 0.3 * h, "label_entries", "off by 0.3"),
    "others N×": (lambda s, y, g, h: np.where(h > 0, g, g * len(y)), "non_label_entries", "N ×"),
    "others zero": (lambda s, y, g, h: g * h, "non_label_entries", "are 0"),
    "one row": (lambda s, y, g, h: with_row(g, 7, 3 * g[7]), "one_row", "(7)"),
    "last row": (lambda s, y, g, h: with_row(g, -1, 0.0), "last_row", "one row early"),
    "class 0": (lambda s, y, g, h: np.hstack([0 * g[:, :1], g[:, 1:]]), "class_0", "starts at 1"),
    "one column": (lambda s, y, g, h: g * np.r_[1, 1, 1, 2.0, 1, 1, 1], "one_column", "class 3"),
    "one entry": (lambda s, y, g, h: g + 0.1 * unit(g.shape, 9), "one_entry", "(1, 2)"),
    "label y+1": (lambda s, y, g, h: stable(s, (y + 1) % 7)[1], "shifted_labels", "y + 1"),
    "label y-1": (lambda s, y, g, h: stable(s, (y - 1) % 7)[1], "shifted_labels", "y − 1"),
    "reshaped": (lambda s, y, g, h: g.T.reshape(g.shape), "reshaped", "transpose"),
    "rows swapped": (lambda s, y, g, h: g[np.r_[5, 1:5, 0, 6:40]], "rows_permuted", "holds row 5"),
    "rows reversed": (lambda s, y, g, h: g[::-1], "rows_permuted", "reverse"),
    "classes swapped": (lambda s, y, g, h: g[:, [0, 2, 1, 3, 4, 5, 6]], PERMUTED, "column 1 holds"),
    "axis 0": (lambda s, y, g, h: softmax_over_batch(s, y), "softmax_wrong_axis", "batch"),
    "row offsets": (lambda s, y, g, h: g + np.linspace(-1, 1, 40)[:, None], OFFSET, "rows sum"),
    "constant": (lambda s, y, g, h: g + 1e-3, OFFSET, "every entry is off by 0.001"),
}  # fmt: skip


@pytest.mark.parametrize("name", RECTANGULAR)
def test_each_pattern_is_named_first(name):
    scores, labels, numerical, gradient, onehot = setup()
    make, kind, words = RECTANGULAR[name]
    found = first(make(scores, labels, gradient, onehot), numerical, scores, labels)
    assert found.kind == kind, found
    assert words in found.message
    assert EXPLAINS <= found.explained <= 1.0


def test_transposed_and_wrongly_broadcast_sums_on_a_square_batch():
    scores, labels, numerical, gradient, onehot = setup(8, 8)
    assert first(gradient.T, numerical, scores, labels).kind == "transposed"
    # The seed's np.matrix(sums).T forgotten: exp / sums divides column j by row j's sum.
    exp = np.exp(scores)
    broadcast = exp / (8 * exp.sum(axis=1)) - onehot / 8
    assert first(broadcast, numerical, scores, labels).kind == "sums_broadcast_wrong"
    assert first(softmax_over_batch(scores, labels), numerical, scores, labels).kind == (
        "softmax_wrong_axis"
    )


def test_a_bug_is_named_against_central_differences_and_in_float32_too():
    scores, labels, _, gradient, onehot = setup()
    central = central_difference(scores, labels).gradient
    found = first(gradient - onehot + onehot / 40, central, scores, labels)
    assert found.kind == "label_off_by_one"
    f32 = stable(scores.astype(np.float32), labels)[1] * np.float32(40)
    assert first(f32, complex_step(scores, labels), scores, labels).kind == "missing_1_over_n"


def test_large_scores_without_the_max_shift_are_placed():
    scores, labels, *_ = setup(6, 4, seed=3)
    scores[1, 2], scores[4, 0] = 1000.0, 995.0
    numerical = complex_step(scores, labels)
    with np.errstate(all="ignore"):
        broken = [loops(scores, labels)[1], vectorized(scores, labels)[1]]
    for gradient in broken:
        found = diagnose(gradient, numerical, scores, labels)
        assert [d.kind for d in found] == ["missing_max_shift"]
        assert "in the 2 rows whose largest score exceeds 709.78" in found[0].message
        assert "first at (1, 2), row max 1000" in found[0].message
        assert found[0].explained == 1.0


def test_overflow_threshold_follows_the_float_type_and_underflow_is_named_too():
    scores, labels, *_ = setup(6, 4, seed=3)
    scores32 = scores.astype(np.float32)
    scores32[2, 1] = 100.0  # exp(100) overflows float32 (88.72), not float64
    with np.errstate(all="ignore"):
        found = first(
            vectorized(scores32, labels)[1], complex_step(scores32, labels), scores32, labels
        )
        low = scores - 2000.0  # every exp rounds to 0: 0/0
        underflow = first(vectorized(low, labels)[1], complex_step(low, labels), low, labels)
    assert found.kind == "missing_max_shift" and "88.72" in found.message
    assert underflow.kind == "missing_max_shift" and "underflows" in underflow.message


def test_non_finite_entries_elsewhere_are_located_without_blaming_exp():
    scores, labels, numerical, gradient, _ = setup()
    broken = gradient.copy()
    broken[:, 2] = np.nan
    found = first(broken, numerical, scores, labels)
    assert found.kind == "non_finite"
    assert "40 gradient entries are nan or inf, all in column 2 (first at (0, 2))" in found.message


@pytest.mark.parametrize("name", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("shape", [(40, 7), (8, 8), (3, 2)])
def test_correct_gradients_get_no_diagnosis(name, shape):
    scores, labels, numerical, *_ = setup(*shape)
    analytic = IMPLEMENTATIONS[name](scores, labels)[1]
    assert diagnose(analytic, numerical, scores, labels) == ()
    central = central_difference(scores, labels).gradient  # outside tolerance, but no pattern
    assert diagnose(analytic, central, scores, labels) == ()


def test_a_float32_gradient_is_judged_at_float32_and_gets_no_diagnosis():
    scores, labels, numerical, gradient, _ = setup()
    assert diagnose(gradient.astype(np.float32), numerical, scores, labels) == ()


@pytest.mark.parametrize("shape", [(6, 4), (8, 8), (50, 10), (30, 3)])
def test_random_noise_gets_no_diagnosis(shape):
    scores, labels, numerical, gradient, _ = setup(*shape, seed=11)
    rng = np.random.default_rng(12)
    size = float(np.abs(numerical).mean())
    for scale in (1e-15, 1e-6, 1.0, 1e3):  # float64 rounding up to noise swamping the gradient
        for _ in range(10):
            noisy = gradient + scale * size * rng.standard_normal(shape)
            assert diagnose(noisy, numerical, scores, labels) == (), scale


def test_noise_explains_little_by_any_pattern(monkeypatch):
    """The threshold's margin: the best explanation of noise stays far below EXPLAINS."""
    monkeypatch.setattr(diagnose_module, "EXPLAINS", 0.0)  # let every candidate through
    scores, labels, numerical, gradient, _ = setup(50, 10, seed=2)
    rng = np.random.default_rng(3)
    best = 0.0
    for _ in range(20):
        noisy = gradient + rng.standard_normal(gradient.shape)
        residual = noisy - numerical
        onehot = np.zeros(noisy.shape, dtype=bool)
        onehot[np.arange(50), labels] = True
        context = diagnose_module._Residual(
            noisy, numerical, residual, float(np.sum(residual**2)), scores, labels, onehot
        )
        best = max([best] + [c.diagnosis.explained for c in diagnose_module._candidates(context)])
    assert 0 < best < 0.75


def test_a_pattern_needs_enough_entries_that_could_contradict_it():
    # Only the non-label entries wrong: on a 1×5 batch one label entry vouches for it, a bet
    # noise wins 7% of the time; on 8×8 eight label entries do.
    for shape, expected in (((1, 5), ()), ((8, 8), ("non_label_entries",))):
        scores, labels, numerical, gradient, onehot = setup(*shape, seed=9)
        noise = np.random.default_rng(1).standard_normal(shape) * (1 - onehot)
        found = diagnose(gradient + noise, numerical, scores, labels)
        assert tuple(d.kind for d in found[:1]) == expected


def test_within_tolerance_gets_nothing_and_tolerance_can_be_given():
    scores, labels, numerical, gradient, _ = setup()
    assert diagnose(numerical, numerical, scores, labels) == ()
    broken = gradient * 40
    assert diagnose(broken, numerical, scores, labels, tolerance=np.full((40, 7), 10.0)) == ()
    assert diagnose(broken, numerical, scores, labels, tolerance=np.zeros((40, 7)))


def test_limit_and_plain_data():
    scores, labels, numerical, gradient, _ = setup()
    broken = gradient + 0.1 * unit(gradient.shape, 9)
    found = diagnose(broken, numerical, scores, labels, limit=5)
    assert [d.kind for d in found] == ["one_entry", "one_row", "one_column", "non_label_entries"]
    assert len(diagnose(broken, numerical, scores, labels, limit=2)) == 2
    assert found[0].to_dict() == {
        "kind": "one_entry",
        "message": found[0].message,
        "explained": found[0].explained,
    }
    assert isinstance(found[0], Diagnosis)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"numerical": np.zeros((3, 4))}, "`numerical` must have the shape"),
        ({"analytic": np.zeros(7)}, "`analytic` must have the shape"),
        ({"numerical": np.full((40, 7), np.nan)}, "`numerical` must be finite"),
        ({"labels": np.full(40, 7)}, "`labels` must lie in [0, 7)"),
        ({"labels": np.zeros(40)}, "`labels` must be 40 integers"),
        ({"limit": 0}, "`limit` must be a positive integer"),
    ],
)
def test_misuse_names_the_parameter(change, words):
    scores, labels, numerical, gradient, _ = setup()
    arguments = {"analytic": gradient, "numerical": numerical, "scores": scores, "labels": labels}
    arguments |= change
    limit = arguments.pop("limit", 3)
    with pytest.raises(ValueError, match=re.escape(words)):
        diagnose(**arguments, limit=limit)


def test_error_ratio_marks_non_finite_and_unchecked_entries():
    scores, labels, numerical, gradient, _ = setup()
    ratio = error_ratio(gradient, numerical, scores, labels)
    assert ratio.shape == (40, 7) and np.all(ratio <= 1)
    broken, partial = gradient.copy(), numerical.copy()
    broken[0, 0], broken[1, 1] = np.nan, 2 * broken[1, 1]
    partial[2, 2] = np.nan
    ratio = error_ratio(broken, partial, scores, labels)
    assert ratio[0, 0] == np.inf and ratio[1, 1] > 1e10 and np.isnan(ratio[2, 2])


def test_the_three_classic_bugs_on_the_shipped_batch():
    scores, labels = np.load(EXAMPLES / "scores.npy"), np.load(EXAMPLES / "labels.npy")
    n = scores.shape[0]
    numerical = complex_step(scores, labels)
    gradient = stable(scores, labels)[1]
    onehot = np.zeros_like(gradient)
    onehot[np.arange(n), labels] = 1.0
    missing = diagnose(gradient * n, numerical, scores, labels)
    assert [d.kind for d in missing] == ["missing_1_over_n"]
    assert "analytic ≈ 500 × numerical on every entry (N = 500)" in missing[0].message
    label = diagnose(gradient - onehot + onehot / n, numerical, scores, labels)
    assert [d.kind for d in label] == ["label_off_by_one"]
    large = scores + 1000.0
    with np.errstate(all="ignore"):
        overflow = diagnose(
            vectorized(large, labels)[1], complex_step(large, labels), large, labels
        )
    assert [d.kind for d in overflow] == ["missing_max_shift"]
    assert "5000 gradient entries are nan or inf" in overflow[0].message


def test_errors_whose_squares_underflow_get_no_diagnosis_and_no_crash():
    from gradcheck_cli.diagnose import diagnose
    from gradcheck_cli.numeric import complex_step

    scores = np.array([[0.0, 0.0, 360.0]])
    labels = np.array([0])
    numerical = complex_step(scores, labels)
    analytic = numerical.copy()
    analytic[0, 1] *= 1 + 1e-6  # an error of 4.5e-163: its square underflows
    assert diagnose(analytic, numerical, scores, labels) == ()
