"""Numerical hostility (issue 6): each case has a defined outcome, pinned here and in the README."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli import InputError, check
from gradcheck_cli.softmax import IMPLEMENTATIONS, stable

SEED_THREE = ["loops", "rows", "vectorized"]


def batch(n=6, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, c)), rng.integers(0, c, n)


def test_scores_of_plus_and_minus_1e300_stable_passes_the_seeds_three_fail_with_the_reason():
    scores = np.array([[1e300, -1e300, 0.0], [-1e300, 1e300, 5.0], [3.0, 1e300, -1e300]])
    labels = np.array([0, 2, 1])
    assert check("stable", scores, labels).verdict == "pass"
    for name in SEED_THREE:
        result = check(name, scores, labels)
        assert result.verdict == "fail"
        assert "overflow in exp" in result.reason


@pytest.mark.parametrize("name", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("value", [0.0, 7.5, -300.0])
def test_all_equal_scores_every_implementation_passes(name, value):
    scores = np.full((5, 4), value)
    labels = np.array([0, 1, 2, 3, 0])
    result = check(name, scores, labels)
    assert result.verdict == "pass", result.reason
    assert result.loss == pytest.approx(np.log(4), rel=1e-14)


def test_a_single_class_is_refused_with_the_reason():
    with pytest.raises(InputError, match="1 class; the softmax loss needs at least 2"):
        check("stable", np.zeros((3, 1)), np.zeros(3, dtype=int))


def test_integer_scores_are_promoted_to_float64_and_checked():
    scores = np.array([[3, 1, 0], [0, 2, 2]], dtype=np.int32)
    result = check("stable", scores, np.array([0, 2]))
    assert result.verdict == "pass"
    assert result.dtype == "float64"


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_low_precision_inputs_are_computed_in_their_own_type_and_judged_at_it(dtype):
    scores, labels = batch(50, 10)
    low = scores.astype(dtype)
    result = check("stable", low, labels)
    assert result.verdict == "pass", result.reason
    assert result.dtype == np.dtype(dtype).name
    assert stable(low, labels)[1].dtype == dtype  # computed in its own type


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_low_precision_inputs_still_catch_a_real_bug(dtype):
    scores, labels = batch(50, 10)

    def missing_one_over_n(s, y):
        loss, dscores = stable(s, y)
        return loss, dscores * s.shape[0]

    assert check(missing_one_over_n, scores.astype(dtype), labels).verdict == "fail"


def test_the_reference_is_float64_whatever_the_input():
    from gradcheck_cli.numeric import complex_step

    scores, labels = batch()
    assert complex_step(scores.astype(np.float16), labels).dtype == np.float64
