import json
import re
from dataclasses import replace

import numpy as np
import pytest

from gradcheck_cli import (
    ImplementationError,
    InputError,
    assert_gradient_correct,
    check,
    numeric,
)
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


# --- return values, hardened ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ((True, np.zeros((12, 5))), "returned a loss of type bool, not a number"),
        ((np.zeros((12, 5)), 1.0), r"returned \(dscores, loss\)\? expected \(loss, dscores\)"),
        ((1.0, np.zeros((5, 12))), r"expected \(12, 5\) \(transposed\?\)"),
        ((1.0, np.zeros(60)), r"returned dscores of shape \(60,\), expected \(12, 5\)"),
        ((1.0, np.zeros((12, 5), dtype=bool)), "returned dscores of dtype bool, not real numbers"),
        ((1.0, np.zeros((12, 5), dtype=object)), "returned dscores of dtype object"),
        ((object(), np.zeros((12, 5))), "returned a loss of type object, not a number"),
        ([1.0, 2.0], "returned dscores of type list, not an ndarray"),
    ],
)
def test_more_bad_return_values_fail_with_the_reason(small_batch, returned, message):
    result = check(lambda s, y: returned, *small_batch)
    assert result.verdict == "fail"
    assert re.search(message, result.reason), result.reason


@pytest.mark.parametrize(
    "wrap",
    [
        lambda loss, d: (np.array(loss), d),  # a 0-d array
        lambda loss, d: (np.array([loss]), d),  # a one-element array
        lambda loss, d: (np.array([[loss]]), d),
        lambda loss, d: [loss, d],  # a list of two
        lambda loss, d: (loss, np.asmatrix(d)),  # the seed's np.matrix
        lambda loss, d: (None, d),  # no loss to compare
    ],
)
def test_forgiving_return_values_are_read(small_batch, wrap):
    result = check(lambda s, y: wrap(*stable(s, y)), *small_batch)
    assert result.verdict == "pass", result.reason


def test_a_float32_loss_is_read_and_judged_at_its_precision(small_batch):
    result = check(lambda s, y: (np.float32(stable(s, y)[0]), stable(s, y)[1]), *small_batch)
    assert result.verdict == "warn"
    assert "float32-level agreement" in result.reason
    assert isinstance(result.loss, float)


def test_sys_exit_in_user_code_is_a_fail_not_an_exit(small_batch):
    def quits(scores, labels):
        raise SystemExit(3)

    result = check(quits, *small_batch)
    assert (result.verdict, result.reason) == ("fail", "called sys.exit(3)")


def test_a_multi_line_exception_message_is_one_line_in_the_reason(small_batch):
    def noisy(scores, labels):
        raise RuntimeError("first line\n  second line")

    assert check(noisy, *small_batch).reason == "raised RuntimeError: first line second line"


def test_one_raising_implementation_does_not_stop_the_others(small_batch):
    def raises(scores, labels):
        return {}["missing"]

    _, results = check_all([raises, "stable", "rows"], *small_batch)
    assert [r.verdict for r in results] == ["fail", "pass", "pass"]
    assert results[0].reason == "raised KeyError: 'missing'"
    assert "in raises" in results[0].user_traceback
    assert "gradcheck_cli" not in results[0].user_traceback


def test_a_resolved_pair_keeps_its_display_name(small_batch):
    result = check_all([("mine.py:grad", stable)], *small_batch)[1][0]
    assert result.name == "mine.py:grad"


# --- whose loss: a loss that is not the softmax loss -------------------------------------------


def label_smoothed(scores, labels, smoothing=0.1):
    n, c = scores.shape
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    target = np.full((n, c), smoothing / c)
    target[np.arange(n), labels] += 1 - smoothing
    return float(-np.sum(target * log_probabilities) / n), (np.exp(log_probabilities) - target) / n


def label_smoothed_with_bug(scores, labels):
    loss, dscores = label_smoothed(scores, labels)
    dscores[np.arange(len(labels)), labels] -= 0.1 / len(labels)  # smoothing mass counted twice
    return loss, dscores


def test_a_different_loss_is_named_and_against_own_suggested(small_batch):
    result = check(label_smoothed, *small_batch)
    assert result.verdict == "fail"
    assert result.loss_differs
    assert result.reason.startswith(f"loss {result.loss:.10g} differs from the softmax loss")
    assert "check it with --against own" in result.reason
    with pytest.raises(AssertionError, match=r"check\(\.\.\., against='own'\)"):
        assert_gradient_correct(label_smoothed, *small_batch)
    assert not check("stable", *small_batch).loss_differs


def test_against_own_passes_a_correct_label_smoothed_loss(small_batch):
    result = check(label_smoothed, *small_batch, against="own")
    assert (result.verdict, result.reason) == ("pass", "")
    assert result.against == "own"
    assert result.method == "black-box central"
    assert result.entries_checked == result.entries_total == 60
    assert result.reference_calls == 4 * 60  # steps h and 2h, both sides, every entry
    assert result.judged_by == {"black-box central": 60}
    assert result.directions == 0
    assert result.max_error_ratio < 1


def test_against_own_fails_its_gradient_with_a_bug_and_names_the_entries(small_batch):
    scores, labels = small_batch
    result = check(label_smoothed_with_bug, scores, labels, against="own")
    assert result.verdict == "fail"
    assert result.reason.startswith("against its own loss: 12 of 60 differenced entries outside")
    assert {(w.row, w.column) for w in result.worst} <= set(enumerate(labels))
    w = result.worst[0]
    assert w.analytic - w.numerical == pytest.approx(-0.1 / 12, rel=1e-6)
    with pytest.raises(AssertionError, match=r"\(\d+, \d+\): analytic .*black-box central"):
        assert_gradient_correct(label_smoothed_with_bug, scores, labels, against="own")


def test_against_own_needs_a_loss(small_batch):
    result = check(lambda s, y: stable(s, y)[1], *small_batch, against="own")
    assert result.verdict == "fail"
    assert result.reason.startswith("returned no loss")


def test_against_own_reports_a_loss_that_breaks_under_perturbation(small_batch):
    scores, labels = small_batch

    def fragile(s, y):
        if not np.array_equal(s, scores):
            raise ValueError("not the batch I was written for")
        return stable(s, y)

    result = check(fragile, scores, labels, against="own")
    assert result.verdict == "fail"
    assert result.reason == (
        "its own loss at perturbed scores raised ValueError: not the batch I was written for"
    )
    assert "in fragile" in result.user_traceback
    assert result.reference_calls == 1


def test_against_own_calls_each_time_on_fresh_copies(small_batch):
    scores, labels = small_batch
    seen = []

    def remembers(s, y):
        seen.append(s)
        return label_smoothed(s, y)

    check(remembers, scores, labels, against="own")
    assert len({id(array) for array in seen}) == len(seen) == 1 + 240


def test_against_own_float32_gradient_is_a_warn(small_batch):
    result = check(lambda s, y: (stable(s, y)[0], stable(s, y)[1].astype(np.float32)), *small_batch)
    assert result.verdict == "warn"
    own = check(
        lambda s, y: (stable(s, y)[0], stable(s, y)[1].astype(np.float32)),
        *small_batch,
        against="own",
    )
    assert own.verdict == "warn" and "float32 precision only" in own.reason


def test_against_own_is_reproducible_and_shares_directions(small_batch):
    rng = np.random.default_rng(9)
    scores, labels = rng.normal(size=(60, 10)), rng.integers(0, 10, 60)
    first = check(label_smoothed, scores, labels, against="own", rng=np.random.default_rng(1))
    again = check(label_smoothed, scores, labels, against="own", rng=np.random.default_rng(1))
    assert first == replace(again, seconds=first.seconds)
    reference, results = check_all([label_smoothed, label_smoothed], scores, labels, against="own")
    assert results[0].max_error_ratio == results[1].max_error_ratio
    assert reference.against == "own" and reference.references == {}


def test_against_own_on_a_large_batch_samples_entries_and_adds_directions():
    rng = np.random.default_rng(2)
    scores, labels = rng.normal(0.0, 2.0, size=(60, 10)), rng.integers(0, 10, 60)
    result = check(label_smoothed, scores, labels, against="own")
    assert result.verdict == "pass", result.reason
    assert result.method == "black-box directional"
    assert (result.entries_checked, result.directions, result.sampled) == (40, 6, True)
    assert result.reference_calls == 4 * (40 + 6)
    sampled = check(label_smoothed, scores, labels, against="own", samples=10)
    assert (sampled.entries_checked, sampled.directions) == (10, 6)


def test_directional_checks_catch_one_wrong_entry_of_a_1000x100_gradient_and_name_it():
    rng = np.random.default_rng(7)
    scores, labels = rng.normal(0.0, 2.0, size=(1000, 100)), rng.integers(0, 100, 1000)

    def one_wrong_entry(s, y):
        loss, dscores = stable(s, y)
        dscores[613, 42] += 1e-6  # one entry of 100000, off by 0.1% of its row's scale 1/N
        return loss, dscores

    result = check(one_wrong_entry, scores, labels, against="own")
    assert result.verdict == "fail"
    assert result.method == "black-box directional"
    assert re.search(
        r"\d of 6 random directions outside tolerance; worst \(613, 42\)", result.reason
    )
    w = result.worst[0]
    assert (w.row, w.column, w.method) == (613, 42, "directional")
    assert w.numerical == pytest.approx(stable(scores, labels)[1][613, 42], rel=1e-6)
    assert [x for x in result.worst if x.ratio > 1] == [w]  # nothing else is blamed
    assert result.reference_calls <= 2000


def test_a_spread_out_error_is_not_pinned_on_one_entry():
    rng = np.random.default_rng(8)
    scores, labels = rng.normal(0.0, 2.0, size=(60, 10)), rng.integers(0, 10, 60)

    def tilted(s, y):
        loss, dscores = stable(s, y)
        return loss, dscores + 1e-7 * rng_direction  # a tiny error on every entry

    rng_direction = np.random.default_rng(0).standard_normal((60, 10))
    result = check(tilted, scores, labels, against="own")
    assert result.verdict == "fail"
    assert "random directions outside tolerance" in result.reason


@pytest.mark.parametrize("against", ["own", "reference"])
def test_huge_gradients_give_verdicts_not_overflow_warnings(against):
    # pytest turns warnings into errors here: a 1e300-sized mistake must not crash the check.
    scores = np.array([[1e300, -1e300, 3e299], [2e299, 5e299, -7e299]])
    result = check(lambda s, y: (0.0, s * 1e-3), scores, np.array([0, 2]), against=against)
    assert result.verdict in ("fail", "warn")


def test_against_is_validated_by_name(small_batch):
    with pytest.raises(ValueError, match="`against` must be one of reference, own"):
        check("stable", *small_batch, against="mine")


# --- black-box numerics -----------------------------------------------------------------------


def test_black_box_entry_differences_meet_their_own_error_bound():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4))

    def loss(s):
        return float(np.sum(np.sin(s) * s**2))

    exact = (np.cos(x) * x**2 + 2 * x * np.sin(x)).ravel()
    entries = np.arange(12)
    rounding = numeric.black_box_rounding(loss(x), x, np.dtype(np.float64))
    difference = numeric.black_box_central_difference(loss, x, entries, h=1e-4)
    error = numeric.black_box_error(difference, numeric.black_box_noise([difference], rounding))
    assert difference.calls == 48
    assert np.all(np.abs(difference.derivative - exact) <= error)
    assert np.all(error < 1e-6)  # and is not vacuous: the values are of size 1


def test_a_loss_computed_in_float32_inside_shows_its_noise():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 5))

    def float32_inside(s):
        return float(np.sum(np.exp(s.astype(np.float32))))

    rounding = numeric.black_box_rounding(float32_inside(x), x, np.dtype(np.float64))
    difference = numeric.black_box_central_difference(float32_inside, x, np.arange(20), h=1e-4)
    noise = numeric.black_box_noise([difference], rounding)
    assert noise > 1e3 * rounding  # measured, not assumed
    error = numeric.black_box_error(difference, noise)
    assert np.all(np.abs(difference.derivative - np.exp(x).ravel()) <= error)


def test_a_directional_derivative_projects_on_the_direction_taken():
    x = np.array([[1.0, 2.0], [3.0, -1.0]], dtype=np.float32)
    v = np.array([[0.5, 0.5], [0.5, -0.5]])

    def loss(s):
        return float(np.sum(np.asarray(s, dtype=np.float64) ** 2))

    result = numeric.directional_derivative(loss, x, v, 2.0 * x.astype(np.float64), h=1e-2)
    assert result.calls == 4
    assert result.derivative[0] == pytest.approx(result.projection[0], rel=1e-6)
    assert result.projection[0] == pytest.approx(float(np.sum(2 * x * v)), rel=1e-3)


def test_a_failed_full_check_carries_its_diagnosis(small_batch):
    scores, labels = small_batch
    result = check(lambda s, y: (stable(s, y)[0], stable(s, y)[1] * s.shape[0]), scores, labels)
    assert result.verdict == "fail"
    assert result.diagnosis[0].kind == "missing_1_over_n"
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert document["diagnosis"][0]["kind"] == "missing_1_over_n"
    assert document["diagnosis"][0]["explained"] > 0.99
    assert "error_map" not in document


def test_a_pass_or_a_sample_gets_no_diagnosis(small_batch):
    scores, labels = small_batch
    assert check("stable", scores, labels).diagnosis == ()
    sampled = check(lambda s, y: stable(s, y)[1] * 12, scores, labels, samples=10)
    assert sampled.verdict == "fail" and sampled.diagnosis == ()


def test_the_error_map_is_kept_only_when_asked(small_batch):
    scores, labels = small_batch
    _, [kept] = check_all(["stable"], scores, labels, keep_error_map=True)
    _, [plain] = check_all(["stable"], scores, labels)
    assert plain.error_map is None
    assert kept.error_map.shape == scores.shape
    assert np.all(kept.error_map <= 1)
    _, [sampled] = check_all(["stable"], scores, labels, samples=5, keep_error_map=True)
    assert np.isnan(sampled.error_map).sum() == scores.size - 5
