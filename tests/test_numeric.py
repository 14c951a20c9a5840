import numpy as np
import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from oracle import exact_loss_and_gradient

from gradcheck_cli import numeric

EPS = np.finfo(np.float64).eps


@st.composite
def batches(draw, max_abs=50.0, max_n=6, max_c=6):
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(2, max_c))
    elements = st.floats(-max_abs, max_abs, allow_nan=False, allow_infinity=False)
    scores = draw(arrays(np.float64, (n, c), elements=elements))
    labels = draw(arrays(np.intp, (n,), elements=st.integers(0, c - 1)))
    return scores, labels


def confident_batch():
    """Rows whose label probability is within 1e-17 of 1, and rows with 1e-30 probabilities."""
    scores = np.array([[40.0, 0.0, 0.0], [0.0, -69.0, 0.0], [28.0, 0.0, 1.0]])
    return scores, np.array([0, 0, 0])


@settings(max_examples=60, deadline=None)
@given(batch=batches())
@example(batch=confident_batch())
def test_complex_step_is_exact_to_a_few_ulps_on_every_entry(batch):
    scores, labels = batch
    note(f"scores={scores.tolist()} labels={labels.tolist()}")
    gradient = numeric.complex_step(scores, labels)
    _, exact = exact_loss_and_gradient(scores, labels)
    # Relative to each entry itself, the label entry included: no cancellation anywhere.
    bound = numeric.complex_step_error(scores, exact)
    assert np.all(np.abs(gradient - exact) <= bound + 1e-300)


def test_complex_step_keeps_the_label_entry_of_a_confident_row():
    scores, labels = confident_batch()
    gradient = numeric.complex_step(scores, labels)
    _, exact = exact_loss_and_gradient(scores, labels)
    assert exact[0, 0] == pytest.approx(-2 * np.exp(-40.0) / 3, rel=1e-15)
    np.testing.assert_allclose(gradient, exact, rtol=1e-14, atol=0)


@settings(max_examples=60, deadline=None)
@given(batch=batches(), step=st.sampled_from([None, 1e-3, 1e-5, 1e-7]))
@example(batch=confident_batch(), step=None)
def test_central_difference_stays_within_its_own_error_bound(batch, step):
    scores, labels = batch
    result = numeric.central_difference(scores, labels, h=step)
    _, exact = exact_loss_and_gradient(scores, labels)
    assert np.all(np.abs(result.gradient - exact) <= result.error)


def test_central_difference_error_bound_is_informative():
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 2, size=(20, 5))
    labels = rng.integers(0, 5, 20)
    result = numeric.central_difference(scores, labels)
    _, exact = exact_loss_and_gradient(scores, labels)
    actual = np.abs(result.gradient - exact)
    # The bound is an over-estimate, but not by more than a few orders of magnitude,
    # and central differences really do lose 5-6 digits at h ~ 1e-5.
    assert result.error.max() < 1e3 * actual.max()
    assert 1e-12 < actual.max() / np.abs(exact).max() < 1e-7
    assert result.h == pytest.approx(8.7e-6, rel=0.01)


@pytest.mark.parametrize("method", ["complex", "central"])
def test_selected_rows_match_the_full_grid(method):
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(30, 4))
    labels = rng.integers(0, 4, 30)
    rows = np.array([0, 7, 29])
    if method == "complex":
        full, part = (
            numeric.complex_step(scores, labels),
            numeric.complex_step(scores, labels, rows=rows),
        )
    else:
        full = numeric.central_difference(scores, labels).gradient
        part = numeric.central_difference(scores, labels, rows=rows).gradient
    np.testing.assert_array_equal(part, full[rows])


def test_blocks_do_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(37, 5))
    labels = rng.integers(0, 5, 37)
    whole = numeric.complex_step(scores, labels), numeric.reference_loss(scores, labels)
    monkeypatch.setattr(numeric, "BLOCK_ENTRIES", 12)  # blocks of 2 rows
    blocked = numeric.complex_step(scores, labels), numeric.reference_loss(scores, labels)
    np.testing.assert_array_equal(blocked[0], whole[0])
    assert blocked[1] == pytest.approx(whole[1], rel=1e-15)


@settings(max_examples=40, deadline=None)
@given(batch=batches(max_abs=800.0), t=st.floats(-3, 3))
def test_perturbed_row_losses_equal_a_direct_evaluation(batch, t):
    scores, labels = batch
    stats = numeric.row_statistics(scores, labels)
    perturbed = numeric.perturbed_row_losses(stats, np.full(scores.shape, t)) + stats.shift[:, None]
    n, c = scores.shape
    for i in range(n):
        for j in range(c):
            moved = scores[i].copy()
            moved[j] += t
            direct = np.logaddexp.reduce(moved) - moved[labels[i]]
            assert perturbed[i, j] == pytest.approx(direct, rel=1e-12, abs=1e-12 * (1 + abs(t)))


@settings(max_examples=40, deadline=None)
@given(batch=batches(max_abs=700.0))
def test_reference_loss_matches_the_oracle(batch):
    scores, labels = batch
    exact_loss, _ = exact_loss_and_gradient(scores, labels)
    assert numeric.reference_loss(scores, labels) == pytest.approx(
        exact_loss, rel=1e-13, abs=1e-300
    )


def test_float32_scores_are_referenced_in_float64():
    scores = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    gradient = numeric.complex_step(scores, np.array([2]))
    assert gradient.dtype == np.float64
    _, exact = exact_loss_and_gradient(scores.astype(np.float64), np.array([2]))
    np.testing.assert_allclose(gradient, exact, rtol=1e-14)
