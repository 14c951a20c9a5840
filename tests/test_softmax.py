import numpy as np
import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from oracle import exact_loss_and_gradient

from gradcheck_cli.softmax import IMPLEMENTATIONS, loops, rows, stable, vectorized

EPS = np.finfo(np.float64).eps


@st.composite
def batches(draw, max_abs=30.0, max_n=6, max_c=6):
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(2, max_c))
    elements = st.floats(-max_abs, max_abs, allow_nan=False, allow_infinity=False)
    scores = draw(arrays(np.float64, (n, c), elements=elements))
    labels = draw(arrays(np.intp, (n,), elements=st.integers(0, c - 1)))
    return scores, labels


def assert_matches_oracle(loss, dscores, scores, labels, rtol):
    exact_loss, exact = exact_loss_and_gradient(scores, labels)
    n = scores.shape[0]
    kappa = 1 + np.abs(scores).max()
    assert loss == pytest.approx(exact_loss, rel=rtol * kappa, abs=rtol * kappa)
    # Off the label: relative to the entry itself. On the label: to the row scale 1/N.
    off_label = np.ones(scores.shape, dtype=bool)
    off_label[np.arange(n), labels] = False
    np.testing.assert_allclose(dscores[off_label], exact[off_label], rtol=rtol * kappa, atol=0)
    np.testing.assert_allclose(
        dscores[~off_label], exact[~off_label], rtol=0, atol=rtol * kappa / n
    )


def test_registry_names_the_seeds_three_and_stable_in_order():
    assert list(IMPLEMENTATIONS) == ["loops", "rows", "vectorized", "stable"]
    assert IMPLEMENTATIONS["stable"] is stable
    with pytest.raises(TypeError):
        IMPLEMENTATIONS["mine"] = stable  # read-only


@pytest.mark.parametrize("implementation", [loops, rows, vectorized, stable])
@settings(max_examples=40, deadline=None)
@given(batch=batches())
@example(batch=(np.array([[0.0, 0.0]]), np.array([1])))
@example(batch=(np.array([[30.0, -30.0, 0.0]]), np.array([0])))  # label entry p - 1 ~ 1e-13
def test_every_implementation_matches_the_60_digit_oracle(implementation, batch):
    scores, labels = batch
    note(f"scores={scores.tolist()} labels={labels.tolist()}")
    loss, dscores = implementation(scores.copy(), labels.copy())
    assert dscores.shape == scores.shape
    assert_matches_oracle(loss, dscores, scores, labels, rtol=64 * EPS)


@pytest.mark.parametrize("implementation", [loops, rows, vectorized, stable])
@settings(max_examples=30, deadline=None)
@given(batch=batches(max_n=8, max_c=12))
def test_rows_of_dscores_sum_to_zero(implementation, batch):
    scores, labels = batch
    _, dscores = implementation(scores, labels)
    n, c = scores.shape
    np.testing.assert_allclose(dscores.sum(axis=1), 0.0, atol=4 * c * EPS / n)


@settings(max_examples=30, deadline=None)
@given(batch=batches(max_abs=1e300))
@example(batch=(np.array([[1e300, -1e300], [-1e300, 1e300]]), np.array([0, 0])))
def test_stable_matches_the_oracle_on_huge_scores(batch):
    scores, labels = batch
    _, dscores = stable(scores, labels)
    assert np.all(np.isfinite(dscores))
    _, exact = exact_loss_and_gradient(scores, labels)
    n = scores.shape[0]
    # At scores of 1e300 every probability is 0 or 1 (or tied), so absolute agreement suffices.
    np.testing.assert_allclose(dscores, exact, rtol=0, atol=4 * EPS / n)


@pytest.mark.parametrize("implementation", [loops, rows, vectorized])
def test_the_seeds_unshifted_exp_overflows_near_1000(implementation):
    scores = np.array([[1000.0, 999.0, 0.0]])
    with np.errstate(all="ignore"):
        loss, dscores = implementation(scores, np.array([0]))
    assert not np.all(np.isfinite(dscores))
    assert not np.isfinite(loss)


def test_stable_survives_scores_near_1000():
    loss, dscores = stable(np.array([[1000.0, 999.0, 0.0]]), np.array([0]))
    p = 1 / (1 + np.exp(-1.0))
    assert loss == pytest.approx(-np.log(p))
    np.testing.assert_allclose(dscores, [[p - 1, 1 - p, 0.0]], atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_stable_keeps_the_input_dtype(dtype):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(5, 3)).astype(dtype)
    labels = rng.integers(0, 3, 5)
    _, dscores = stable(scores, labels)
    assert dscores.dtype == dtype
    _, exact = exact_loss_and_gradient(scores.astype(np.float64), labels)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(dscores, exact, rtol=0, atol=16 * eps / 5)


@pytest.mark.parametrize("implementation", [loops, rows, vectorized, stable])
def test_implementations_leave_their_inputs_alone(implementation):
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(4, 3))
    labels = rng.integers(0, 3, 4)
    before = scores.copy(), labels.copy()
    implementation(scores, labels)
    np.testing.assert_array_equal(scores, before[0])
    np.testing.assert_array_equal(labels, before[1])


def test_implementations_agree_with_each_other_on_a_larger_batch():
    rng = np.random.default_rng(2)
    scores = rng.normal(0, 3, size=(60, 11))
    labels = rng.integers(0, 11, 60)
    results = [f(scores, labels) for f in IMPLEMENTATIONS.values()]
    for loss, dscores in results[1:]:
        assert loss == pytest.approx(results[0][0], rel=1e-13)
        np.testing.assert_allclose(dscores, results[0][1], rtol=1e-12, atol=1e-16)


# stable exponentiates rows as they are where that is exact, and redoes the others max-shifted.


def textbook_shifted(scores, labels):
    """Max-shifted loss and gradient in float64, written independently of `stable`."""
    s = scores.astype(np.float64)
    shifted = s - s.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    sums = p.sum(axis=1, keepdims=True)
    p /= sums
    n = s.shape[0]
    loss = float(np.mean(np.log(sums[:, 0]) - shifted[np.arange(n), labels]))
    p[np.arange(n), labels] -= 1
    return loss, p / n


def wide_batch(bad_row, seed=3):
    """12 rows of 16384 classes (so stable samples every third row) with one unusual row 1."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.0, 2.0, size=(12, 16384))
    scores[1] = bad_row(rng)
    return scores, rng.integers(0, 16384, size=12)


@pytest.mark.parametrize(
    "bad_row",
    [
        pytest.param(lambda rng: 800 + rng.normal(0, 1, 16384), id="exp-overflows"),
        pytest.param(lambda rng: -690 - rng.uniform(0, 40, 16384), id="terms-go-subnormal"),
        pytest.param(lambda rng: -30 + rng.normal(0, 1, 16384), id="sum-below-1/N"),
    ],
)
def test_stable_is_right_on_rows_its_sample_missed(bad_row):
    scores, labels = wide_batch(bad_row)
    loss, dscores = stable(scores, labels)  # filterwarnings=error: no overflow warning escapes
    expected_loss, expected = textbook_shifted(scores, labels)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    n = scores.shape[0]
    off_label = np.ones(scores.shape, dtype=bool)
    off_label[np.arange(n), labels] = False
    normal = np.abs(expected) >= np.finfo(np.float64).tiny
    kappa = 1 + np.abs(scores).max(axis=1, keepdims=True) + np.sqrt(scores.shape[1])
    tolerance = 8 * EPS * kappa * np.abs(expected)  # off the label: to its own size
    assert np.all(np.abs(dscores - expected)[off_label & normal] <= tolerance[off_label & normal])
    np.testing.assert_allclose(dscores[~off_label], expected[~off_label], rtol=0, atol=1e-13 / n)


def test_stable_redoes_a_row_whose_sum_is_near_the_largest_float():
    # e^700 · 5000 ≈ 5e307 is finite, but N·sum overflows: unshifted, the row's gradient is 0.
    rng = np.random.default_rng(4)
    scores = rng.normal(0, 2, size=(4, 5000))
    scores[2] = 700 + rng.normal(0, 0.1, size=5000)
    labels = np.array([7, 0, 4999, 12])
    loss, dscores = stable(scores, labels)
    expected_loss, expected = textbook_shifted(scores, labels)
    assert loss == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(dscores, expected, rtol=1e-12, atol=1e-17)


def test_stable_float32_beyond_exp_range_stays_float32():
    rng = np.random.default_rng(5)
    scores = (100 + rng.normal(0, 3, size=(7, 5))).astype(np.float32)  # exp(100) overflows float32
    labels = rng.integers(0, 5, 7)
    loss, dscores = stable(scores, labels)
    assert dscores.dtype == np.float32
    expected_loss, expected = textbook_shifted(scores, labels)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    np.testing.assert_allclose(dscores, expected, rtol=0, atol=16 * np.finfo(np.float32).eps / 7)


def test_stable_computes_integer_scores_in_float64():
    scores = np.array([[1, 2, 3], [4, 1, 0]])
    loss, dscores = stable(scores, np.array([2, 0]))
    expected_loss, expected = stable(scores.astype(np.float64), np.array([2, 0]))
    assert dscores.dtype == np.float64 and loss == expected_loss
    np.testing.assert_array_equal(dscores, expected)
