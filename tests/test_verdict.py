"""The verdict cases of DESIGN.md, each pinned: no false alarms, no misses."""

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gradcheck_cli import check
from gradcheck_cli.softmax import IMPLEMENTATIONS, stable
from gradcheck_cli.verdict import entry_tolerance, judge_loss, relative_error

BUILT_INS = list(IMPLEMENTATIONS)
EPS = np.finfo(np.float64).eps
METHODS = ["auto", "central", "complex"]


def cifar_batch(n=500, c=10, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    scores = rng.normal(0, 1.5, size=(n, c))
    scores[np.arange(n), labels] += 1.0
    return scores, labels


def with_gradient(change):
    """An implementation returning stable's loss and ``change(dscores, scores, labels)``."""

    def implementation(scores, labels):
        loss, dscores = stable(scores, labels)
        return loss, change(dscores, scores, labels)

    return implementation


def tiny_probability_batch():
    """Probabilities of 1e-30 and label entries with p - 1 within 1e-12 (and 1e-17) of 0."""
    rng = np.random.default_rng(3)
    n, c = 40, 6
    labels = rng.integers(0, c, n)
    scores = rng.normal(size=(n, c))
    scores[:10, :] = 0.0
    scores[np.arange(10), (labels[:10] + 1) % c] = -69.0  # p = e^-69 / ~5 ≈ 1e-30
    scores[10:20, :] = 0.0
    scores[np.arange(10, 20), labels[10:20]] = 29.0  # 1 - p ≈ 5 e^-29 ≈ 1.3e-12
    scores[np.arange(20, 30), labels[20:30]] += 40.0  # 1 - p ≈ 1e-17
    return scores, labels


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", BUILT_INS)
def test_no_false_alarm_on_tiny_probabilities_and_p_near_1(name, method):
    scores, labels = tiny_probability_batch()
    result = check(name, scores, labels, method=method)
    assert result.verdict == "pass", result.reason
    assert result.entries_checked == scores.size


def test_central_alone_leaves_tiny_entries_unjudged_never_passed():
    scores, labels = tiny_probability_batch()
    result = check("stable", scores, labels, method="central")
    assert result.unjudged > 0
    assert result.judged_by == {"central": scores.size - result.unjudged}
    assert "too small to judge" in result.reason


def test_auto_confirms_with_the_complex_step_what_central_cannot_resolve():
    scores, labels = tiny_probability_batch()
    result = check("stable", scores, labels, method="auto")
    assert result.unjudged == 0
    assert result.judged_by["complex"] > 0
    assert sum(result.judged_by.values()) == scores.size


def test_central_alone_with_nothing_judgeable_warns():
    # One row, label certain: every entry is below central differences' error.
    scores = np.array([[0.0, -80.0, -80.0]])
    result = check("stable", scores, np.array([0]), method="central")
    assert result.verdict == "warn"
    assert result.unjudged == 3


@pytest.mark.parametrize("method", METHODS)
def test_gradient_scaled_by_1_plus_1e_4_fails(method):
    scores, labels = cifar_batch()
    result = check(with_gradient(lambda g, s, y: g * (1 + 1e-4)), scores, labels, method=method)
    assert result.verdict == "fail"
    assert result.max_rel_error == pytest.approx(1e-4, rel=0.05)


@pytest.mark.parametrize("method", METHODS)
def test_constant_1e_8_on_a_500_by_10_batch_fails(method):
    scores, labels = cifar_batch()
    result = check(with_gradient(lambda g, s, y: g + 1e-8), scores, labels, method=method)
    assert result.verdict == "fail"
    assert "outside tolerance" in result.reason


def test_constant_1e_8_on_a_cifar_sized_batch_fails():
    scores, labels = cifar_batch(n=49000, c=10)
    result = check(with_gradient(lambda g, s, y: g + 1e-8), scores, labels)
    assert result.verdict == "fail"


def test_factor_n_on_a_confident_row_fails():
    n = 100
    scores = np.zeros((n, 5))
    scores[:, 0] = 28.0  # every gradient entry of every row is about 1e-12 / N
    labels = np.zeros(n, dtype=int)

    def wrong(g, s, y):
        g[7] *= n
        return g

    result = check(with_gradient(wrong), scores, labels)
    assert result.verdict == "fail"
    assert {w.row for w in result.worst if w.ratio > 1} == {7}


def test_float32_precision_gradient_warns():
    scores, labels = cifar_batch()
    result = check(with_gradient(lambda g, s, y: g.astype(np.float32)), scores, labels)
    assert result.verdict == "warn"
    assert "float32 precision" in result.reason


def test_float32_computation_on_float64_input_warns():
    scores, labels = cifar_batch()

    def in_float32(s, y):
        return stable(s.astype(np.float32), y)

    assert check(in_float32, scores, labels).verdict == "warn"


def test_float32_input_computed_in_float32_passes():
    scores, labels = cifar_batch()
    assert check("stable", scores.astype(np.float32), labels).verdict == "pass"


@pytest.mark.parametrize("name", ["loops", "rows", "vectorized"])
def test_seed_implementations_fail_with_overflow_in_exp_near_1000(name):
    scores, labels = cifar_batch(n=50)
    scores += 1000.0
    result = check(name, scores, labels)
    assert result.verdict == "fail"
    assert "overflow in exp" in result.reason


def test_stable_passes_near_1000():
    scores, labels = cifar_batch(n=50)
    assert check("stable", scores + 1000.0, labels).verdict == "pass"


def test_a_single_nan_entry_fails_with_its_place():
    def one_nan(g, s, y):
        g[2, 1] = np.nan
        return g

    scores, labels = cifar_batch(n=10)
    result = check(with_gradient(one_nan), scores, labels)
    assert result.verdict == "fail"
    assert "1 gradient entry is nan or inf (first at (2, 1))" in result.reason


def test_a_wrong_loss_fails_even_with_a_right_gradient():
    scores, labels = cifar_batch(n=20)
    result = check(lambda s, y: (stable(s, y)[0] * 1.001, stable(s, y)[1]), scores, labels)
    assert result.verdict == "fail"
    assert "loss" in result.reason


def test_loss_judgement_tiers():
    scores, _ = cifar_batch(n=20)
    f64 = np.dtype(np.float64)
    assert judge_loss(2.0, 2.0, scores, f64) == ("pass", "")
    assert judge_loss(2.0 * (1 + 1e-9), 2.0, scores, f64)[0] == "warn"
    assert judge_loss(2.001, 2.0, scores, f64)[0] == "fail"
    assert judge_loss(float("nan"), 2.0, scores, f64) == ("fail", "loss is nan")
    assert judge_loss(2.0 * (1 + 1e-9), 2.0, scores, np.dtype(np.float32))[0] == "pass"


def test_relative_error_definition():
    a = np.array([1.0, 0.0, -2.0, 1e-20])
    n = np.array([1.0, 0.0, 2.0, 0.0])
    np.testing.assert_array_equal(relative_error(a, n), [0.0, 0.0, 2.0, 1.0])
    assert relative_error(np.array([1e-20]), np.array([0.0]), 0.1)[0] == pytest.approx(1e-19)


def test_entry_tolerance_scales_off_label_by_the_entry_and_the_label_by_1_over_n():
    reference = np.array([[-0.5, 1e-30, 0.25]])
    scores = np.zeros((1, 3))
    tolerance = entry_tolerance(reference, scores, np.array([0]), 4, np.float64)
    eps = np.finfo(np.float64).eps
    kappa = 1 + np.sqrt(3)
    np.testing.assert_allclose(tolerance, 8 * eps * kappa * np.array([[1 / 4, 1e-30, 0.25]]))


@st.composite
def hard_batches(draw):
    n = draw(st.integers(1, 12))
    c = draw(st.integers(2, 12))
    scale = draw(st.sampled_from([1.0, 10.0, 100.0, 700.0]))
    elements = st.floats(-scale, scale, allow_nan=False, allow_infinity=False)
    scores = draw(arrays(np.float64, (n, c), elements=elements))
    labels = draw(arrays(np.intp, (n,), elements=st.integers(0, c - 1)))
    return scores, labels


@settings(max_examples=60, deadline=None)
@given(batch=hard_batches(), name=st.sampled_from(BUILT_INS), method=st.sampled_from(METHODS))
def test_correct_implementations_never_fail(batch, name, method):
    scores, labels = batch
    note(f"scores={scores.tolist()} labels={labels.tolist()}")
    with np.errstate(all="ignore"):
        exps = np.exp(scores)
        label_probability = exps[np.arange(len(labels)), labels] / exps.sum(axis=1)
    # The seed's unshifted exp really is wrong once exp(s) overflows or the label's
    # probability leaves the normal range (its loss then loses digits): not a false alarm.
    seed_in_range = np.all(np.isfinite(exps)) and np.all(
        label_probability >= np.finfo(np.float64).tiny
    )
    result = check(name, scores, labels, method=method)
    note(result.reason)
    if name != "stable" and not seed_in_range:
        return
    assert result.verdict != "fail"
    assert result.verdict == "pass" or method == "central"


@settings(max_examples=60, deadline=None)
@given(
    batch=hard_batches(),
    where=st.tuples(st.integers(0, 11), st.integers(0, 11)),
    factor=st.sampled_from([1 + 1e-6, 1 - 1e-4, 1.5, -1.0, 0.0]),
)
def test_a_perturbed_entry_always_fails(batch, where, factor):
    scores, labels = batch
    i, j = where[0] % scores.shape[0], where[1] % scores.shape[1]
    _, exact = stable(scores, labels)
    n, c = scores.shape
    change = abs(exact[i, j] * (1 - factor))
    # A bug is a change float64 can resolve: for the label entry (p - 1)/N, which
    # cancels, that means well beyond eps·kappa at the row scale 1/N.
    kappa = 1 + np.abs(scores[i]).max() + np.sqrt(c)
    if j == labels[i] and change <= 64 * EPS * kappa / n:
        return
    if exact[i, j] == 0.0 or abs(exact[i, j]) < 1e-290:
        return

    def broken(g, s, y):
        g[i, j] *= factor
        return g

    result = check(with_gradient(broken), scores, labels, method="complex")
    note(result.reason)
    # Never a pass. Measured at the entry's scale (1/N for the label entry), a change of
    # 1e-6 is float32-sized: a warn; one of 1e-4 or more is a fail wherever scores are of
    # ordinary size (huge scores widen the float32 tier).
    assert result.verdict != "pass"
    relative = change / (1 / n if j == labels[i] else abs(exact[i, j]))
    if np.abs(scores).max() <= 10 and relative >= 1e-4:
        assert result.verdict == "fail"
    if relative <= 1.01e-6:
        assert result.verdict == "warn"
    assert (result.worst[0].row, result.worst[0].column) == (i, j)


def test_loss_tolerance_stays_finite_for_scores_of_1e300():
    scores = np.array([[1e300, -1e300, 0.0], [-1e300, 1e300, 5.0]])
    labels = np.array([0, 2])
    reference = 0.5e300  # row 2's loss is 1e300 - 5
    assert judge_loss(reference, reference, scores, np.dtype(np.float64))[0] == "pass"
    assert judge_loss(reference * 1.001, reference, scores, np.dtype(np.float64))[0] == "fail"
    assert check("stable", scores, labels).verdict == "pass"


def test_float16_batches_are_held_to_float16_precision_not_the_float32_cap():
    rng = np.random.default_rng(0)
    scores = rng.uniform(-1e4, 1e4, size=(6, 9)).astype(np.float16)  # spacing 8 at 1e4
    labels = rng.integers(0, 9, 6)
    assert check("stable", scores, labels).verdict == "pass"
    wrong = check(with_gradient(lambda g, s, y: -g), scores, labels)
    assert wrong.verdict == "fail"  # 10% is the loosest any tier goes: a sign still fails
