import json
import re

import numpy as np
import pytest

from gradcheck_cli import ImplementationError, InputError, assert_gradient_correct, check
from gradcheck_cli.checker import check_all, prepare_reference
from gradcheck_cli.softmax import stable


@pytest.fixture
def small_batch():
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(12, 5))
    labels = rng.integers(0, 5, 12)
    return scores, labels


def test_built_in_name_and_callable_give_the_same_answer(small_batch):
    by_name = check("stable", *small_batch)
    by_callable = check(stable, *small_batch)
    assert by_name.name == by_callable.name == "stable"
    assert by_name.verdict == by_callable.verdict == "pass"
    assert by_name.loss == by_callable.loss
    assert by_name.entries_checked == by_name.entries_total == 60


def test_unknown_name_is_an_implementation_error(small_batch):
    with pytest.raises(ImplementationError, match="unknown implementation 'fast'"):
        check("fast", *small_batch)


def test_bad_arrays_are_input_errors():
    with pytest.raises(InputError, match="scores"):
        check("stable", np.zeros(3), np.zeros(3, dtype=int))


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ((1.0, 2.0, 3.0), "returned a tuple of 3 items"),
        (("one", np.zeros((12, 5))), "returned a loss of type str"),
        ((np.zeros(2), np.zeros((12, 5))), "returned a loss of type ndarray"),
        ((1j, np.zeros((12, 5))), "returned a complex loss"),
        ((1.0, [[0.0] * 5] * 12), "returned dscores of type list"),
        ((1.0, np.zeros((5, 12))), r"returned dscores of shape \(5, 12\), expected \(12, 5\)"),
        ((1.0, np.zeros((12, 5), dtype=complex)), "returned dscores of dtype complex128"),
        ((1.0, np.full((12, 5), "x")), "returned dscores of dtype <U1"),
        (None, "returned dscores of type NoneType"),
    ],
)
def test_bad_return_values_fail_with_the_reason(small_batch, returned, message):
    result = check(lambda s, y: returned, *small_batch)
    assert result.verdict == "fail"
    assert re.search(message, result.reason), result.reason


def test_gradient_alone_is_accepted_without_a_loss(small_batch):
    result = check(lambda s, y: stable(s, y)[1], *small_batch)
    assert result.verdict == "pass"
    assert result.loss is None


def test_an_exception_is_a_fail_with_the_users_own_frames(small_batch):
    def user_gradient(scores, labels):
        return helper_that_breaks(scores)

    def helper_that_breaks(scores):
        raise ValueError("shapes do not line up")

    result = check(user_gradient, *small_batch)
    assert result.verdict == "fail"
    assert result.reason == "raised ValueError: shapes do not line up"
    assert "helper_that_breaks" in result.user_traceback
    assert "user_gradient" in result.user_traceback
    assert "gradcheck_cli" not in result.user_traceback


def test_modifying_the_inputs_is_reported_and_the_callers_arrays_are_untouched(small_batch):
    scores, labels = small_batch
    before = scores.copy()

    def in_place(s, y):
        s -= s.max(axis=1, keepdims=True)
        return stable(s, y)

    result = check(in_place, scores, labels)
    assert result.verdict == "warn"
    assert result.modified_inputs == ("scores",)
    assert "modified its input scores" in result.reason
    np.testing.assert_array_equal(scores, before)


def test_floating_point_warnings_are_recorded_not_raised():
    scores = np.array([[1000.0, 0.0]])
    result = check("vectorized", scores, np.array([0]))
    assert "overflow in exp" in result.floating_point_warnings
    assert result.verdict == "fail"


def test_samples_check_that_many_entries_with_each_rows_label_entry(small_batch):
    scores, labels = small_batch
    reference = prepare_reference(scores, labels, samples=9, rng=np.random.default_rng(4))
    assert reference.checked.sum() == 9
    assert reference.sampled
    assert np.all(reference.checked[np.arange(len(reference.rows)), labels[reference.rows]])
    again = prepare_reference(scores, labels, samples=9, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(again.rows, reference.rows)
    np.testing.assert_array_equal(again.checked, reference.checked)


def test_a_sampled_check_still_catches_a_wrong_gradient(small_batch):
    result = check(lambda s, y: (stable(s, y)[0], stable(s, y)[1] * 2), *small_batch, samples=4)
    assert result.verdict == "fail"
    assert result.entries_checked == 4


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"method": "forward"}, "`method` must be one of auto, central, complex"),
        ({"samples": 0}, "`samples` must be a positive integer"),
        ({"h": 0.0}, "`h` must be a step between 0 and 1"),
        ({"h": 2.0}, "`h` must be a step between 0 and 1"),
    ],
)
def test_options_are_validated_with_their_names(small_batch, option, message):
    with pytest.raises(ValueError, match=message):
        check("stable", *small_batch, **option)


def test_check_all_shares_one_reference(small_batch):
    reference, results = check_all(["loops", "stable"], *small_batch, method="complex")
    assert [r.name for r in results] == ["loops", "stable"]
    assert all(r.reference_loss == reference.reference_loss for r in results)
    assert all(r.judged_by == {"complex": 60} for r in results)


def test_to_dict_is_plain_json_ready_data(small_batch):
    result = check("vectorized", np.array([[1000.0, 0.0]]), np.array([0]))
    document = result.to_dict()
    text = json.dumps(document, allow_nan=False)
    assert json.loads(text)["max_rel_error"] is None
    good = check("stable", *small_batch).to_dict()
    assert isinstance(good["worst"][0]["row"], int)


def test_assert_gradient_correct_passes_quietly_and_fails_loudly(small_batch):
    assert assert_gradient_correct("stable", *small_batch).verdict == "pass"
    with pytest.raises(AssertionError, match=r"gradient check fail: .*\n  \(\d+, \d+\): analytic"):
        assert_gradient_correct(lambda s, y: stable(s, y)[1] * 1.01, *small_batch)


def test_assert_gradient_correct_strict_rejects_a_warn(small_batch):
    def float32(s, y):
        return stable(s, y)[1].astype(np.float32)

    assert assert_gradient_correct(float32, *small_batch).verdict == "warn"
    with pytest.raises(AssertionError, match="gradient check warn"):
        assert_gradient_correct(float32, *small_batch, strict=True)


def test_a_non_finite_gradient_names_its_first_bad_entry_as_the_worst():
    scores = np.array([[0.0, 1.0], [1000.0, 0.0]])
    result = check("rows", scores, np.array([0, 1]))
    assert result.verdict == "fail"
    worst = result.worst[0]
    assert (worst.row, worst.column) == (1, 0)
    assert np.isnan(worst.analytic)
    assert worst.numerical == pytest.approx(0.5, rel=1e-12)
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["worst"][0]["analytic"] is None
