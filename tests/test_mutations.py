"""A mutation corpus: realistic wrong gradients must fail, differently written right ones pass.

Every implementation runs under DEFAULT settings (``check(f, scores, labels)``)
on every input. Whether a bug changes the output on an input is decided by
the 80-digit oracle, not by the tool: an entry changes when it moves by more
than ``1e4·eps`` of its scale (its own size off the label, ``1/N`` on it,
where ``(p - 1)/N`` cancels), far beyond any rounding.

Decided in advance, and asserted:

* a correct implementation always passes (no false alarms, not even a warn);
* a bug that changes the gradient or the loss on an input fails there; the
  only exceptions are `PRECISION_BUGS` (float32/float16 arithmetic on a
  float64 batch), where the float32 tier's ``warn`` is also accepted;
* a bug that only writes to its input is a ``warn`` ("modified its input");
* a bug that changes nothing on an input (no max shift on small scores,
  ``·C`` for ``·N`` when N == C, softmax over the batch when N == 1) passes;
* on scores of ~1e300 every probability is exactly 0 or 1 and correct code
  is exact there; the tolerance model caps the growth of its allowance with
  the scores' size, so a bug whose finite output is wrong at 1e300 fails
  there too (`test_huge_inputs_hold_every_bug`).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from oracle import exact_loss_and_gradient

from gradcheck_cli import check

# --- helpers the implementations share (each written the obvious, correct way) ----------------


def _probabilities(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    return exp_scores / exp_scores.sum(axis=1, keepdims=True)


def _loss(scores, labels):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_sums = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_sums - shifted[np.arange(n), labels]))


def _onehot(labels, columns):
    return np.eye(columns)[labels]


# --- six (seven) differently written correct implementations ---------------------------------


def log_softmax_based(scores, labels):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.mean(log_probs[np.arange(n), labels])
    dscores = np.exp(log_probs)
    dscores[np.arange(n), labels] -= 1
    return float(loss), dscores / n


def logsumexp_by_hand(scores, labels):
    n = scores.shape[0]
    top = np.max(scores, axis=1, keepdims=True)
    lse = top + np.log(np.sum(np.exp(scores - top), axis=1, keepdims=True))
    loss = np.sum(lse[:, 0] - scores[np.arange(n), labels]) / n
    dscores = np.exp(scores - lse)
    dscores[np.arange(n), labels] -= 1.0
    dscores /= n
    return float(loss), dscores


def einsum_onehot(scores, labels):
    n, c = scores.shape
    onehot = _onehot(labels, c)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.einsum("ij,ij->", onehot, log_probs) / n
    return float(loss), (np.exp(log_probs) - onehot) / n


def loop_over_classes(scores, labels):
    n, c = scores.shape
    top = scores.max(axis=1)
    sums = np.zeros(n)
    for j in range(c):
        sums += np.exp(scores[:, j] - top)
    dscores = np.empty_like(scores)
    for j in range(c):
        dscores[:, j] = np.exp(scores[:, j] - top) / sums
        dscores[labels == j, j] -= 1.0
    loss = np.mean(np.log(sums) + top - scores[np.arange(n), labels])
    return float(loss), dscores / n


def dtype_preserving(scores, labels):
    """Works in the input's own float type: the float32 input path stays float32."""
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    sums = exp_scores.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(sums[:, 0]) - shifted[np.arange(n), labels])
    dscores = exp_scores / sums
    dscores[np.arange(n), labels] -= scores.dtype.type(1)
    return float(loss), dscores / scores.dtype.type(n)


def logaddexp_loss(scores, labels):
    n = scores.shape[0]
    lse = np.logaddexp.reduce(scores, axis=1)
    loss = np.mean(lse - scores[np.arange(n), labels])
    dscores = np.exp(scores - lse[:, None])
    dscores[np.arange(n), labels] -= 1.0
    return float(loss), dscores / n


def row_loop_stable(scores, labels):
    n = scores.shape[0]
    dscores = np.empty_like(scores)
    loss = 0.0
    for i in range(n):
        row = scores[i] - np.max(scores[i])
        exp_row = np.exp(row)
        total = np.sum(exp_row)
        loss += np.log(total) - row[labels[i]]
        dscores[i] = exp_row / total
        dscores[i, labels[i]] -= 1.0
    return float(loss / n), dscores / n


CORRECT = [
    log_softmax_based,
    logsumexp_by_hand,
    einsum_onehot,
    loop_over_classes,
    dtype_preserving,
    logaddexp_loss,
    row_loop_stable,
]


# --- realistic bugs ---------------------------------------------------------------------------


def missing_one_over_n(scores, labels):
    n, c = scores.shape
    return _loss(scores, labels), _probabilities(scores) - _onehot(labels, c)


def sign_flipped(scores, labels):
    n, c = scores.shape
    return _loss(scores, labels), (_onehot(labels, c) - _probabilities(scores)) / n


def label_entry_minus_one(scores, labels):
    n = scores.shape[0]
    dscores = _probabilities(scores) / n
    dscores[np.arange(n), labels] -= 1.0  # should be 1/N
    return _loss(scores, labels), dscores


def no_max_shift(scores, labels):
    n = scores.shape[0]
    exp_scores = np.exp(scores)
    sums = exp_scores.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(sums[:, 0]) - scores[np.arange(n), labels])
    dscores = exp_scores / sums
    dscores[np.arange(n), labels] -= 1
    return float(loss), dscores / n


def sum_over_wrong_axis(scores, labels):
    n = scores.shape[0]
    exp_scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    dscores = exp_scores / exp_scores.sum(axis=0, keepdims=True)  # axis=1 intended
    dscores[np.arange(n), labels] -= 1
    return _loss(scores, labels), dscores / n


def softmax_over_batch(scores, labels):
    n = scores.shape[0]
    exp_scores = np.exp(scores - scores.max())
    dscores = exp_scores / exp_scores.sum()  # normalizes over the whole batch
    dscores[np.arange(n), labels] -= 1
    return _loss(scores, labels), dscores / n


def labels_plus_one(scores, labels):
    n, c = scores.shape
    wrong = (labels + 1) % c
    return _loss(scores, labels), (_probabilities(scores) - _onehot(wrong, c)) / n


def previous_rows_label(scores, labels):
    n, c = scores.shape
    shifted = np.roll(labels, 1)  # off by one row
    return _loss(scores, labels), (_probabilities(scores) - _onehot(shifted, c)) / n


def transposed(scores, labels):
    n, c = scores.shape
    return _loss(scores, labels), ((_probabilities(scores) - _onehot(labels, c)) / n).T


def forgot_label_subtraction(scores, labels):
    n = scores.shape[0]
    return _loss(scores, labels), _probabilities(scores) / n


def subtracted_at_prediction(scores, labels):
    n = scores.shape[0]
    dscores = _probabilities(scores)
    dscores[np.arange(n), np.argmax(scores, axis=1)] -= 1  # the predicted class, not the label
    return _loss(scores, labels), dscores / n


def divided_by_c(scores, labels):
    n, c = scores.shape
    return _loss(scores, labels), (_probabilities(scores) - _onehot(labels, c)) / c


def last_row_skipped(scores, labels):
    n = scores.shape[0]
    probabilities = _probabilities(scores)
    dscores = np.zeros_like(scores)
    for i in range(n - 1):  # off by one
        dscores[i] = probabilities[i]
        dscores[i, labels[i]] -= 1
    return _loss(scores, labels), dscores / n


def exp_in_place(scores, labels):
    n = scores.shape[0]
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)  # the caller's scores now hold exponentials
    sums = scores.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(sums[:, 0]) - scores[np.arange(n), labels])  # reads exp, not score
    dscores = scores / sums
    dscores[np.arange(n), labels] -= 1
    return float(loss), dscores / n


def shift_in_place(scores, labels):
    n = scores.shape[0]
    scores -= scores.max(axis=1, keepdims=True)  # harmless here, but the caller's array changes
    exp_scores = np.exp(scores)
    sums = exp_scores.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(sums[:, 0]) - scores[np.arange(n), labels])
    dscores = exp_scores / sums
    dscores[np.arange(n), labels] -= 1
    return float(loss), dscores / n


def divided_by_n_twice(scores, labels):
    n, c = scores.shape
    dscores = (_probabilities(scores) - _onehot(labels, c)) / n
    return _loss(scores, labels), dscores / n


def reg_added_to_dscores(scores, labels, reg=1e-3):
    n, c = scores.shape
    dscores = (_probabilities(scores) - _onehot(labels, c)) / n
    return _loss(scores, labels), dscores + reg * scores  # reg·W belongs to dW, not dscores


def float16_arithmetic(scores, labels):
    n, c = scores.shape
    low = scores.astype(np.float16)
    exp_scores = np.exp(low - low.max(axis=1, keepdims=True))
    dscores = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    dscores[np.arange(n), labels] -= np.float16(1)
    return _loss(scores, labels), (dscores / np.float16(n)).astype(scores.dtype)


def float32_arithmetic(scores, labels):
    n, c = scores.shape
    low = scores.astype(np.float32)
    exp_scores = np.exp(low - low.max(axis=1, keepdims=True))
    dscores = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    dscores[np.arange(n), labels] -= np.float32(1)
    return _loss(scores, labels), (dscores / np.float32(n)).astype(scores.dtype)


def clipped_probabilities(scores, labels):
    n, c = scores.shape
    probabilities = np.clip(_probabilities(scores), 1e-12, 1.0)  # "to be safe"
    return _loss(scores, labels), (probabilities - _onehot(labels, c)) / n


def global_max_shift(scores, labels):
    n, c = scores.shape
    exp_scores = np.exp(scores - scores.max())  # the batch's max, not each row's
    probabilities = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    return _loss(scores, labels), (probabilities - _onehot(labels, c)) / n


def loss_summed_not_averaged(scores, labels):
    n, c = scores.shape
    loss = _loss(scores, labels) * n
    return loss, (_probabilities(scores) - _onehot(labels, c)) / n


BUGS = [
    missing_one_over_n,
    sign_flipped,
    label_entry_minus_one,
    no_max_shift,
    sum_over_wrong_axis,
    softmax_over_batch,
    labels_plus_one,
    previous_rows_label,
    transposed,
    forgot_label_subtraction,
    subtracted_at_prediction,
    divided_by_c,
    last_row_skipped,
    exp_in_place,
    shift_in_place,
    divided_by_n_twice,
    reg_added_to_dscores,
    float16_arithmetic,
    float32_arithmetic,
    clipped_probabilities,
    global_max_shift,
    loss_summed_not_averaged,
]
PRECISION_BUGS = {"float16_arithmetic", "float32_arithmetic"}
"""Arithmetic in a lower precision: the float32 tier may call these a warn instead of a fail."""


# --- inputs -----------------------------------------------------------------------------------


def _inputs():
    rng = np.random.default_rng(20240611)
    typical = rng.normal(0.0, 2.0, size=(7, 5))
    typical_labels = rng.integers(0, 5, size=7)
    # Every non-maximal score ~70 below its row's maximum: probabilities of 1e-30.
    tiny = rng.normal(0.0, 1.0, size=(5, 6)) - 70.0
    tiny[np.arange(5), [0, 2, 3, 5, 1]] += 70.0
    tiny_labels = np.array([0, 2, 4, 5, 0])  # rows 2 and 4: the label's probability is 1e-30
    huge = 1000.0 + rng.normal(0.0, 3.0, size=(5, 4))
    huge[4] -= 1000.0  # a row near 0 beside rows near 1000
    enormous = rng.uniform(-1.0, 1.0, size=(3, 4)) * 1e300
    return {
        "typical": (typical, typical_labels),
        "typical float32": (typical.astype(np.float32), typical_labels),
        "tiny probabilities": (tiny, tiny_labels),
        "scores ~1e3": (huge, rng.integers(0, 4, size=5)),
        "scores ~1e300": (enormous, rng.integers(0, 4, size=3)),
        "N=1": (rng.normal(0.0, 3.0, size=(1, 5)), np.array([2])),
        "C=2": (rng.normal(0.0, 3.0, size=(6, 2)), rng.integers(0, 2, size=6)),
        "N=C": (rng.normal(0.0, 3.0, size=(4, 4)), np.array([1, 3, 0, 2])),
    }


INPUTS = _inputs()
HUGE = "scores ~1e300"


# --- what each implementation does to each input, by the oracle --------------------------------


@dataclass(frozen=True)
class Outcome:
    verdict: str
    reason: str
    changes_output: bool  # gradient or loss moved beyond rounding, raised, or not finite
    not_finite: bool
    writes_input: bool


def _changed(value, exact, labels, dtype):
    """Whether ``value`` differs from the exact gradient by far more than rounding."""
    n = exact.shape[0]
    scale = np.maximum(np.abs(exact), np.finfo(np.float64).tiny)
    scale[np.arange(n), labels] = 1.0 / n
    return bool(np.any(np.abs(value - exact) > 1e4 * np.finfo(dtype).eps * scale))


@functools.cache
def _exact(input_name):
    scores, labels = INPUTS[input_name]
    return exact_loss_and_gradient(scores.astype(np.float64), labels)


@functools.cache
def outcome(function, input_name):
    scores, labels = INPUTS[input_name]
    exact_loss, exact_gradient = _exact(input_name)
    dtype = scores.dtype
    copy = scores.copy()
    with np.errstate(all="ignore"):
        try:
            loss, dscores = function(copy, labels.copy())
        except Exception:
            loss, dscores = None, None
    writes_input = not np.array_equal(copy, scores)
    if dscores is None or dscores.shape != scores.shape:
        changes, not_finite = True, False
    else:
        not_finite = not (np.all(np.isfinite(dscores)) and np.isfinite(loss))
        loss_moved = abs(loss - exact_loss) > 1e4 * np.finfo(dtype).eps * (1 + abs(exact_loss))
        changes = not_finite or loss_moved or _changed(dscores, exact_gradient, labels, dtype)
    result = check(function, scores, labels)
    return Outcome(result.verdict, result.reason, changes, not_finite, writes_input)


def expected_verdicts(function, input_name):
    """The verdicts the corpus's rules (module docstring) allow for this pair."""
    name = function.__name__
    o = outcome(function, input_name)
    if function in CORRECT:
        return {"pass"}
    if o.changes_output:
        return {"fail", "warn"} if name in PRECISION_BUGS else {"fail"}
    if o.writes_input:
        return {"warn"}
    return {"pass"}


def confusion():
    """Count (kind, verdict) over every implementation and input."""
    counts = Counter()
    for function in CORRECT + BUGS:
        for input_name in INPUTS:
            o = outcome(function, input_name)
            if function in CORRECT:
                kind = "correct"
            elif o.changes_output and function.__name__ in PRECISION_BUGS:
                kind = "precision bug changes output"
            elif o.changes_output:
                kind = "bug changes output"
            elif o.writes_input:
                kind = "bug writes its input only"
            else:
                kind = "bug changes nothing here"
            counts[kind, o.verdict] += 1
    return counts


# --- the tests --------------------------------------------------------------------------------


def test_the_corpus_is_big_enough():
    assert len(CORRECT) >= 6
    assert len(BUGS) >= 15
    assert len({f.__name__ for f in CORRECT + BUGS}) == len(CORRECT + BUGS)


@pytest.mark.parametrize("function", CORRECT, ids=lambda f: f.__name__)
def test_correct_implementations_pass_on_every_input(function):
    verdicts = {name: outcome(function, name) for name in INPUTS}
    bad = {name: (o.verdict, o.reason) for name, o in verdicts.items() if o.verdict != "pass"}
    assert bad == {}


@pytest.mark.parametrize("function", BUGS, ids=lambda f: f.__name__)
def test_bugs_fail_wherever_they_change_the_output(function):
    wrong = {
        name: (outcome(function, name).verdict, outcome(function, name).reason)
        for name in INPUTS
        if outcome(function, name).verdict not in expected_verdicts(function, name)
    }
    assert wrong == {}


@pytest.mark.parametrize("function", BUGS, ids=lambda f: f.__name__)
def test_every_bug_changes_the_output_somewhere_and_is_caught_there(function):
    caught_as = {"fail", "warn"} if function.__name__ in PRECISION_BUGS else {"fail"}
    caught = [
        name
        for name in INPUTS
        if name != HUGE
        and outcome(function, name).changes_output
        and outcome(function, name).verdict in caught_as
    ]
    if function.__name__ == "shift_in_place":  # writes its input, computes the right thing
        assert all(outcome(function, name).verdict == "warn" for name in INPUTS)
    else:
        assert caught, f"{function.__name__} is caught on no input"


def test_bugs_that_change_nothing_on_an_input_pass_there():
    """The verdict is about the numbers, not the code: these bugs are harmless on these inputs."""
    harmless = {
        (no_max_shift, "typical"),
        (divided_by_c, "N=C"),
        (softmax_over_batch, "N=1"),
        (previous_rows_label, "N=1"),
        (divided_by_n_twice, "N=1"),
        (clipped_probabilities, "typical"),
    }
    for function, name in harmless:
        o = outcome(function, name)
        assert not o.changes_output, (function.__name__, name)
        assert o.verdict == "pass", (function.__name__, name, o.reason)


def test_overflow_bugs_fail_on_huge_scores_with_the_reason():
    for name in ("scores ~1e3", HUGE):
        o = outcome(no_max_shift, name)
        assert o.not_finite and o.verdict == "fail"
        assert "overflow" in o.reason


def test_tiny_probabilities_are_judged_to_full_relative_precision():
    # Clipping at 1e-12 changes only entries of 1e-30: still a fail.
    o = outcome(clipped_probabilities, "tiny probabilities")
    assert o.changes_output and o.verdict == "fail"


def test_huge_inputs_hold_every_bug():
    changed = [f for f in BUGS if outcome(f, HUGE).changes_output]
    assert len(changed) >= 12  # the input really exercises the corpus
    slipped = sorted(
        f.__name__ for f in changed if outcome(f, HUGE).verdict not in expected_verdicts(f, HUGE)
    )
    assert slipped == []


def test_confusion_counts():
    assert dict(confusion()) == EXPECTED_CONFUSION
    correct = sum(v for (kind, _), v in EXPECTED_CONFUSION.items() if kind == "correct")
    false_alarms = sum(
        v
        for (kind, verdict), v in EXPECTED_CONFUSION.items()
        if kind == "correct" and verdict != "pass"
    )
    assert (correct, false_alarms) == (len(CORRECT) * len(INPUTS), 0)


# --- the same corpus against each implementation's own loss (black box) -----------------------

OWN_INPUTS = ("typical", "N=1", "C=2", "N=C", "scores ~1e3")
"""Float64 inputs of moderate size, where black-box differences resolve every realistic bug."""


@functools.cache
def own_verdict(function, input_name):
    return check(function, *INPUTS[input_name], against="own").verdict


@pytest.mark.parametrize("function", CORRECT, ids=lambda f: f.__name__)
def test_against_own_correct_implementations_pass(function):
    names = (*OWN_INPUTS, "tiny probabilities", "typical float32")
    assert {name: own_verdict(function, name) for name in names} == dict.fromkeys(names, "pass")


def test_against_own_bugs_fail_where_they_change_the_output():
    wrong = {
        (function.__name__, name): own_verdict(function, name)
        for function in BUGS
        for name in OWN_INPUTS
        if own_verdict(function, name) not in expected_verdicts(function, name)
    }
    assert wrong == {}


EXPECTED_CONFUSION = {
    ("correct", "pass"): 56,
    ("bug changes output", "fail"): 127,
    ("precision bug changes output", "fail"): 9,
    ("precision bug changes output", "warn"): 6,
    ("bug writes its input only", "warn"): 8,
    ("bug changes nothing here", "pass"): 26,
}
"""(kind, verdict) counts over 7 correct and 22 buggy implementations on 8 inputs (232 checks)."""
