"""Linear classifiers f(W, X, y, reg): conventions, both gradient checks, agreement, the CLI.

The realistic user files live in tests/userfiles/cs231n (a package, with a sibling
module `cs231n.layers` that they import): correct and buggy variants under both
regularization conventions, and a naive/vectorized pair that disagree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck_cli
from gradcheck_cli import ImplementationError, InputError, check_linear
from gradcheck_cli.cli import main
from gradcheck_cli.linear import (
    BUILT_IN,
    classifier_and_data,
    detect_convention,
    judge_own_loss,
    load_batch,
    load_weights,
    random_batch,
    random_classifier,
    softmax_linear_loss,
    validate_classifier,
)

REPO = Path(__file__).resolve().parents[1]
CLASSIFIERS = Path(__file__).resolve().parent / "userfiles" / "cs231n" / "classifiers"
README = (REPO / "README.md").read_text(encoding="utf-8")


def spec(file, name):
    return f"{CLASSIFIERS / file}:{name}"


def pair(file):
    return [spec(file, "softmax_loss_naive"), spec(file, "softmax_loss_vectorized")]


def toy(seed=0, n=12, d=6, c=4, std=0.3):
    """Seeded random weights and batch, small enough for every entry to be differenced."""
    rng = np.random.default_rng(seed)
    W = random_classifier(d, c, std=std, rng=rng)
    X, y = random_batch(n, d, c, rng=rng)
    return W, X, y


def by_name(result):
    return {r.name.split(":")[-1]: r for r in result.implementations}


def oracle(W, X, y, reg, factor, h=1e-20):
    """Loss and dW by the complex step through X·W, one entry at a time: slow and independent."""
    n = X.shape[0]

    def loss(weights):
        scores = X @ weights
        top = scores.real.max(axis=1, keepdims=True)
        logsumexp = np.log(np.sum(np.exp(scores - top), axis=1)) + top[:, 0]
        return np.mean(logsumexp - scores[np.arange(n), y]) + factor * reg * np.sum(weights**2)

    gradient = np.empty(W.shape)
    for k in range(W.size):
        moved = W.astype(complex)
        moved.flat[k] += 1j * h
        gradient.flat[k] = loss(moved).imag / h
    return float(loss(W).real), gradient


# --- the built-in and its regularization ---------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 9),
    d=st.integers(1, 6),
    c=st.integers(2, 5),
    reg=st.sampled_from([0.0, 1e-3, 0.7]),
)
def test_the_built_in_matches_a_naive_complex_step(seed, n, d, c, reg):
    W, X, y = toy(seed, n, d, c)
    loss, dW = softmax_linear_loss(W, X, y, reg)
    expected_loss, expected = oracle(W, X, y, reg, factor=0.5)
    assert loss == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(dW, expected, rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize(
    ("loss", "convention", "factors", "verdict"),
    [
        (3.0, "full", (1.0,), "pass"),
        (2.5, "half", (0.5,), "pass"),
        (2.0, "missing", (), "fail"),
        (2.7, "neither", (), "fail"),
        (2.5 + 1e-9, "half", (0.5,), "warn"),  # only within the float32 tier
        (None, "unknown", (), "fail"),
        (float("nan"), "unknown", (), "fail"),
    ],
)
def test_the_convention_is_read_from_the_loss(loss, convention, factors, verdict):
    match = detect_convention(loss, 2.0, 10.0, 0.1, [1e-12, 1e-8])
    assert (match.convention, match.factors, match.verdict) == (convention, factors, verdict)
    assert match.reference_loss == (3.0 if convention == "full" else 2.5)


def test_without_regularization_the_conventions_cannot_be_told_apart():
    match = detect_convention(2.0, 2.0, 10.0, 0.0, [1e-12])
    assert (match.convention, match.factors, match.verdict) == ("either", (1.0, 0.5), "pass")
    assert "neither" in detect_convention(2.7, 2.0, 10.0, 0.1, [1e-12]).reason


# --- the realistic user files --------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "convention"), [("softmax.py", "full"), ("softmax_seed.py", "half")]
)
def test_correct_naive_and_vectorized_pass_and_agree(file, convention):
    W, X, y = toy(1)
    result = check_linear(pair(file), W, X, y, reg=0.1)
    assert result.verdict == "pass", result.reason
    for row in result.implementations:
        assert (row.verdict, row.convention, row.loss_verdict) == ("pass", convention, "pass")
        assert row.reference.convention == convention and row.reference.verdict == "pass"
        assert row.own.verdict == "pass"
        assert row.own.method == "black-box central"
        assert row.own.entries_checked == W.size
        assert row.calls == 1 + row.own.calls
        assert row.seconds > 0
    (agreement,) = result.agreements
    assert agreement.agree and agreement.precision == "float64"
    assert agreement.gradient_difference < 1e-14


@pytest.mark.parametrize(("file", "factor"), [("softmax.py", 1.0), ("softmax_seed.py", 0.5)])
def test_the_user_files_agree_with_the_oracle(file, factor):
    from gradcheck_cli.plugins import load_implementation

    W, X, y = toy(2)
    expected_loss, expected = oracle(W, X, y, 0.3, factor)
    for name in ("softmax_loss_naive", "softmax_loss_vectorized"):
        _, function = load_implementation(spec(file, name), arguments=("W", "X", "y", "reg"))
        loss, dW = function(W.copy(), X.copy(), y.copy(), 0.3)
        assert loss == pytest.approx(expected_loss, rel=1e-13)
        np.testing.assert_allclose(dW, expected, rtol=1e-10, atol=1e-14)


def test_a_naive_dW_not_divided_by_N_fails_both_ways():
    W, X, y = toy(3)
    row = by_name(check_linear(spec("softmax_buggy.py", "softmax_loss_naive"), W, X, y, 0.1))
    row = row["softmax_loss_naive"]
    assert (row.verdict, row.convention, row.loss_verdict) == ("fail", "full", "pass")
    assert row.reference.verdict == "fail" and row.reference.failed_entries > 0
    assert row.own.verdict == "fail"
    assert "dW against the exact gradient (+ reg·ΣW²)" in row.reason
    assert "against its own loss" in row.reason


@pytest.mark.parametrize(
    ("file", "loss_term", "wrong"),
    [
        ("softmax_buggy.py", "reg·ΣW²", "dW has reg·W, the gradient of ½·reg·ΣW²"),
        ("softmax_seed_buggy.py", "½·reg·ΣW²", "dW has 2·reg·W, the gradient of reg·ΣW²"),
    ],
)
def test_a_dW_of_the_other_convention_is_named(file, loss_term, wrong):
    W, X, y = toy(4)
    result = check_linear(spec(file, "softmax_loss_vectorized"), W, X, y, reg=0.1)
    (row,) = result.implementations
    assert row.verdict == "fail"
    assert row.loss_verdict == "pass" and f"+ {loss_term})" in row.reason
    assert wrong in row.reason and "the loss and dW mix conventions" in row.reason
    assert row.own.verdict == "fail"  # the numerical gradient of its own loss says so too


def test_a_convention_mix_fails_even_when_as_small_as_float32_rounding():
    # CIFAR-like: pixels in ±128, a bias column, W ~ 1e-4 and reg = 5e-6, as the notebook
    # has it. reg·W is then about 1e-8 of dW: float32-sized, but no rounding.
    rng = np.random.default_rng(5)
    X = np.hstack([rng.uniform(-128, 128, (30, 60)), np.ones((30, 1))])
    y = rng.integers(0, 10, 30)
    W = rng.standard_normal((61, 10)) * 1e-4
    implementations = [spec("softmax.py", "softmax_loss_vectorized")]
    implementations.append(spec("softmax_buggy.py", "softmax_loss_vectorized"))
    right, mixed = check_linear(implementations, W, X, y, reg=5e-6).implementations
    assert (right.verdict, right.convention) == ("pass", "full")
    assert (mixed.verdict, mixed.convention) == ("fail", "full")
    assert "the loss and dW mix conventions" in mixed.reason
    analytic, exact = re.search(r"analytic (\S+), exact (\S+);", mixed.reason).groups()
    assert analytic != exact  # shown with the digits that differ


def test_a_missing_label_term_fails_under_the_seed_convention():
    W, X, y = toy(5)
    (row,) = check_linear(
        spec("softmax_seed_buggy.py", "softmax_loss_naive"), W, X, y, 0.1
    ).implementations
    assert (row.verdict, row.convention) == ("fail", "half")
    assert row.reference.verdict == "fail" and row.own.verdict == "fail"
    assert "mix conventions" not in row.reason


def test_a_loss_following_neither_convention_fails_and_says_so():
    W, X, y = toy(6)
    (row,) = check_linear(
        spec("softmax_buggy.py", "softmax_loss_norm"), W, X, y, 0.1
    ).implementations
    assert (row.verdict, row.convention, row.loss_verdict) == ("fail", "neither", "fail")
    assert "matches neither the softmax loss + reg·ΣW²" in row.loss_reason
    assert row.reference is None  # no convention to take the exact gradient from
    assert row.own.verdict == "fail"  # dW (2·reg·W) is not the gradient of reg·‖W‖ either


def test_naive_and_vectorized_that_disagree_are_reported_with_the_reason():
    W, X, y = toy(7)
    result = check_linear(pair("softmax_mixed.py"), W, X, y, reg=0.2)
    naive, vectorized = result.implementations
    assert (naive.verdict, naive.convention) == ("pass", "full")
    assert (vectorized.verdict, vectorized.convention) == ("pass", "half")
    (agreement,) = result.agreements
    assert not agreement.agree and not agreement.loss_agrees and not agreement.gradient_agrees
    assert agreement.explanation == (
        "they follow different regularization conventions (reg·ΣW² and ½·reg·ΣW²)"
    )
    # The losses differ by ½·reg·ΣW², the gradients by reg·W: what the notebook would print.
    assert agreement.loss_difference == pytest.approx(0.5 * 0.2 * np.sum(W**2), rel=1e-9)
    expected = np.linalg.norm(0.2 * W)
    assert agreement.gradient_difference == pytest.approx(expected, rel=1e-9)
    assert result.verdict == "fail"
    assert "disagree" in result.reason


def test_a_buggy_naive_disagrees_with_a_correct_vectorized_one():
    W, X, y = toy(8)
    implementations = [spec("softmax_buggy.py", "softmax_loss_naive")]
    implementations.append(spec("softmax.py", "softmax_loss_vectorized"))
    result = check_linear(implementations, W, X, y, reg=0.1)
    (agreement,) = result.agreements
    assert not agreement.agree
    assert agreement.explanation == "softmax_buggy.py:softmax_loss_naive fails its check"
    assert agreement.worst is not None and agreement.worst.ratio > 1


def test_a_float32_implementation_warns_and_agrees_to_float32_only():
    W, X, y = toy(9)

    def in_float32(W, X, y, reg):
        loss, dW = softmax_linear_loss(W.astype(np.float32), X.astype(np.float32), y, 0.0)
        return loss + 0.5 * reg * np.sum(W * W), dW + reg * W

    result = check_linear([BUILT_IN, in_float32], W, X, y, reg=0.1)
    built_in, single = result.implementations
    assert built_in.verdict == "pass"
    assert single.verdict == "warn" and "float32 precision only" in single.reason
    (agreement,) = result.agreements
    assert agreement.agree and agreement.precision == "float32"
    assert result.verdict == "warn"


# --- the numerical gradient of its own loss ----------------------------------------------------


def test_a_large_W_is_sampled_with_directions_and_still_fully_checked_exactly():
    W, X, y = toy(10, n=8, d=40, c=15)  # 600 entries: 2400 calls would overrun the budget
    (row,) = check_linear(
        spec("softmax.py", "softmax_loss_vectorized"), W, X, y, 0.1
    ).implementations
    assert row.verdict == "pass"
    assert (row.own.method, row.own.entries_checked, row.own.directions) == (
        "black-box directional",
        40,
        6,
    )
    assert row.own.calls == 4 * (40 + 6)
    assert row.reference.max_error_ratio <= 1  # the exact check judged all 600


def test_samples_force_the_directional_check_reproducibly():
    W, X, y = toy(11)
    first = check_linear(BUILT_IN, W, X, y, 0.1, samples=5, rng=np.random.default_rng(4))
    again = check_linear(BUILT_IN, W, X, y, 0.1, samples=5, rng=np.random.default_rng(4))
    (row,) = first.implementations
    assert (row.own.entries_checked, row.own.directions, row.own.calls) == (5, 6, 44)
    assert row.own.worst == again.implementations[0].own.worst


def test_random_directions_catch_one_wrong_entry_that_no_sample_contains():
    rng = np.random.default_rng(12)
    W = rng.standard_normal((30, 20)) * 0.3
    X = rng.standard_normal((10, 30))
    y = rng.integers(0, 20, size=10)
    loss, dW = softmax_linear_loss(W, X, y, 0.0)
    wrong = dW.copy()
    wrong[17, 3] *= 1.01

    def own_loss(weights):
        return softmax_linear_loss(weights, X, y, 0.0)[0]

    tiers = (np.full(W.shape, 1e-15), np.full(W.shape, 1e-9))
    options = {"name": "dW", "rounding": 1e-15, "curvature": 0.1, "samples": 3}
    for seed in range(3):
        check = judge_own_loss(
            own_loss, W, wrong, tiers, rng=np.random.default_rng(seed), **options
        )
        assert check.verdict == "fail", check.reason
        assert check.directions == 6
        sampled = {(w.row, w.column) for w in check.worst}
        if (17, 3) not in sampled:
            assert "along random direction" in check.reason
        right = judge_own_loss(own_loss, W, dW, tiers, rng=np.random.default_rng(seed), **options)
        assert right.verdict == "pass", right.reason


def test_a_loss_that_fails_at_a_perturbed_point_fails_the_own_check():
    W, X, y = toy(13)
    original = W.copy()

    def fragile(weights, X, y, reg):
        if not np.array_equal(weights, original):
            raise FloatingPointError("diverged")
        return softmax_linear_loss(weights, X, y, reg)

    (row,) = check_linear(fragile, W, X, y, 0.1).implementations
    assert row.verdict == "fail"
    assert row.reference.verdict == "pass"
    assert row.own.verdict == "fail"
    assert "at perturbed W it raised FloatingPointError: diverged" in row.reason
    assert "test_linear.py" in row.user_traceback


# --- calling user code -----------------------------------------------------------------------


def test_an_exception_is_a_fail_with_the_users_traceback():
    W, X, y = toy(0)

    def broken(W, X, y, reg):
        return 1 / 0

    (row,) = check_linear(broken, W, X, y).implementations
    assert (row.verdict, row.problem) == ("fail", "raised ZeroDivisionError: division by zero")
    assert row.convention == "unknown" and row.own is None and row.reference is None
    assert "test_linear.py" in row.user_traceback and "gradcheck_cli" not in row.user_traceback


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        (lambda W: 1.0, "returned float; expected (loss, dW)"),
        (lambda W: (1.0, W.T), "returned a dW of shape (4, 6) (transposed); W has shape (6, 4)"),
        (lambda W: (1.0, W.astype(complex)), "returned a dW of dtype complex128"),
        (lambda W: ("x", W), "returned a loss that is not one number"),
        (lambda W: (1.0, W * np.nan), "24 dW entries are nan or inf (first at (0, 0))"),
    ],
)
def test_a_malformed_return_is_a_fail_that_says_what(returned, problem):
    W, X, y = toy(0)
    (row,) = check_linear(lambda W, X, y, reg: returned(W), W, X, y).implementations
    assert row.verdict == "fail"
    assert row.problem.startswith(problem), row.problem


def test_a_nan_loss_is_a_fail_that_says_so():
    W, X, y = toy(0)

    def nan_loss(W, X, y, reg):
        return float("nan"), softmax_linear_loss(W, X, y, reg)[1]

    (row,) = check_linear(nan_loss, W, X, y).implementations
    assert (row.verdict, row.convention, row.reason) == ("fail", "unknown", "loss: loss is nan")
    assert row.own is None and row.reference is None


def test_writing_to_an_input_is_a_warn_and_the_originals_are_untouched():
    W, X, y = toy(0)
    originals = (W.copy(), X.copy(), y.copy())

    def scribbles(W, X, y, reg):
        loss, dW = softmax_linear_loss(W, X, y, reg)
        X[0, 0] = 42.0
        return loss, dW

    (row,) = check_linear(scribbles, W, X, y, 0.1).implementations
    assert row.verdict == "warn" and row.modified_inputs == ("X",)
    assert "modified its input X" in row.reason
    for before, after in zip(originals, (W, X, y), strict=True):
        assert np.array_equal(before, after)


def test_a_module_missing_when_the_function_first_runs_is_an_implementation_error(tmp_path):
    path = tmp_path / "lazy_import.py"
    path.write_text(
        "def softmax_loss_vectorized(W, X, y, reg):\n"
        "    from past.builtins import xrange\n"
        "    return 0.0, W\n",
        encoding="utf-8",
    )
    W, X, y = toy(0)
    with pytest.raises(ImplementationError) as caught:
        check_linear(f"{path}:softmax_loss_vectorized", W, X, y)
    assert str(caught.value) == (
        "lazy_import.py:softmax_loss_vectorized: calling it failed: no module named 'past' "
        "(imported at lazy_import.py, line 2; pip install future provides it)"
    )


# --- inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda W, X, y: (W[:, :1], X, y), "W: has 1 class"),
        (lambda W, X, y: (W, X[:, :2], y), r"X: has shape \(12, 2\), expected \(N, 6\)"),
        (lambda W, X, y: (W, X, y[:3]), "y: has 3 labels but X has 12 rows"),
        (lambda W, X, y: (W, X, y + 4), r"y: label \d at row 0 is out of range \[0, 4\)"),
        (lambda W, X, y: (W * np.nan, X, y), "W: 24 non-finite value"),
        (lambda W, X, y: (W, X.astype(str), y), "X: has dtype <U"),
        (lambda W, X, y: (W, X, y + 0.5), "y: labels must be whole numbers"),
    ],
)
def test_malformed_inputs_are_named(change, message):
    W, X, y = toy(0)
    with pytest.raises(InputError, match=message):
        validate_classifier(*change(W, X, y))


def test_options_are_validated():
    W, X, y = toy(0)
    with pytest.raises(InputError, match="reg: must be a finite number >= 0"):
        check_linear(BUILT_IN, W, X, y, reg=-1.0)
    with pytest.raises(ValueError, match="`samples` must be a positive integer."):
        check_linear(BUILT_IN, W, X, y, samples=0)
    with pytest.raises(ImplementationError, match="unknown linear classifier 'svm'"):
        check_linear("svm", W, X, y)
    with pytest.raises(ImplementationError, match=r"expected f\(W, X, y, reg\)"):
        check_linear(f"{REPO / 'examples' / 'my_softmax.py'}:softmax_loss", W, X, y)
    with pytest.raises(ImplementationError, match="'np' is not callable"):
        check_linear(spec("softmax.py", "np"), W, X, y)


def test_files_load_and_random_parts_fit_what_is_given(tmp_path):
    W, X, y = toy(14)
    np.save(tmp_path / "W.npy", W)
    np.save(tmp_path / "X.npy", X)
    np.savetxt(tmp_path / "y.csv", y, fmt="%d")
    loaded = validate_classifier(
        load_weights(tmp_path / "W.npy"), *load_batch(tmp_path / "X.npy", tmp_path / "y.csv")
    )
    for given_array, back in zip((W, X, y), loaded, strict=True):
        assert np.array_equal(given_array, back)
    rng = np.random.default_rng(0)
    drawn_W, _, _ = classifier_and_data(None, (X, y), rng=rng)
    assert drawn_W.shape == (6, int(y.max()) + 1)
    _, drawn_X, drawn_y = classifier_and_data(W, None, rng=rng, batch=7)
    assert drawn_X.shape == (7, 6) and drawn_y.max() < 4


def test_results_are_strict_json():
    W, X, y = toy(15)
    result = check_linear(
        [*pair("softmax.py"), spec("softmax_buggy.py", "softmax_loss_norm")], W, X, y, 0.1
    )
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert [r["convention"] for r in document["implementations"]] == ["full", "full", "neither"]
    assert document["implementations"][2]["reference"] is None
    assert "gradient" not in document["implementations"][0]
    assert len(document["agreements"]) == 3
    assert "check_linear" in gradcheck_cli.__all__


# --- gradcheck linear -------------------------------------------------------------------------


def assert_input_error(result, *names):
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error:")
    for name in names:
        assert name in lines[0]


def test_linear_on_the_built_in_passes_within_80_columns(runner):
    result = runner.invoke(main, ["linear"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "Linear classifier check · N=20 D=10 C=5 · reg=0.05 · float64" in result.stdout
    assert "loss follows ½·reg·ΣW² (gradient reg·W, the seed's)" in " ".join(result.stdout.split())
    assert "Summary: 1 implementation checked: 1 pass" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_linear_on_a_correct_vectorized_user_file(runner):
    args = ["linear", "--impl", spec("softmax.py", "softmax_loss_vectorized")]
    result = runner.invoke(main, args, catch_exceptions=False)
    text = " ".join(result.stdout.split())
    assert result.exit_code == 0, result.output
    assert "✓ PASS" in text and "FAIL" not in text
    assert "loss follows reg·ΣW² (gradient 2·reg·W)" in text
    assert "against its own loss (all 50 entries, 200 calls)" in text


def test_linear_on_a_buggy_vectorized_user_file(runner):
    args = ["linear", "--impl", spec("softmax_buggy.py", "softmax_loss_vectorized")]
    result = runner.invoke(main, args, catch_exceptions=False)
    text = " ".join(result.stdout.split())
    assert result.exit_code == 1, result.output
    assert "✗ FAIL softmax_buggy.py:softmax_loss_vectorized: dW against the exact gradient" in text
    assert "the loss and dW mix conventions" in text
    assert re.search(r"worst dW\[\d+, \d+\]", text)
    assert "Summary: 1 implementation checked: 1 fail" in text


def test_linear_reports_a_disagreeing_pair_and_times_both(runner):
    args = ["linear", "--impl", pair("softmax_mixed.py")[0], "--impl", pair("softmax_mixed.py")[1]]
    result = runner.invoke(main, [*args, "--reg", "0.1"], catch_exceptions=False)
    text = " ".join(result.stdout.split())
    assert result.exit_code == 1
    assert "softmax_mixed.py:softmax_loss_vectorized DISAGREE: loss difference" in text
    assert "they follow different regularization conventions (reg·ΣW² and ½·reg·ΣW²)" in text
    assert "Time per call (median): softmax_mixed.py:softmax_loss_naive" in text
    assert "Summary: 2 implementations checked: 2 pass; they disagree" in text


def test_linear_json_from_files_matches_the_library(runner, tmp_path):
    W, X, y = toy(16)
    for name, array in (("W", W), ("X", X), ("y", y)):
        np.save(tmp_path / f"{name}.npy", array)
    files = ["--weights", str(tmp_path / "W.npy"), "--data", str(tmp_path / "X.npy")]
    files += [str(tmp_path / "y.npy"), "--reg", "5e-6", "--json"]
    result = runner.invoke(main, ["linear", *files], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == 1 and document["command"] == "linear"
    assert (document["N"], document["D"], document["C"]) == (12, 6, 4)
    library = check_linear(BUILT_IN, W, X, y, 5e-6)
    assert document["data_loss"] == library.data_loss
    assert document["implementations"][0]["convention"] == "half"
    assert "Summary" in result.stderr


def test_linear_strict_turns_a_warn_into_exit_1(runner, tmp_path):
    path = tmp_path / "single.py"
    path.write_text(
        "import numpy as np\n"
        "from gradcheck_cli.linear import softmax_linear_loss\n\n"
        "def f32(W, X, y, reg):\n"
        "    return softmax_linear_loss(W.astype(np.float32), X.astype(np.float32), y, reg)\n",
        encoding="utf-8",
    )
    assert runner.invoke(main, ["linear", "--impl", f"{path}:f32"]).exit_code == 0
    assert runner.invoke(main, ["linear", "--impl", f"{path}:f32", "--strict"]).exit_code == 1


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--weights", "nowhere.npy"], ["nowhere.npy", "no such file"]),
        (["--impl", "nowhere.py:f"], ["nowhere.py", "no such file"]),
        (["--impl", f"{CLASSIFIERS / 'softmax.py'}:softmax_loss_vectorised"], ["did you mean"]),
        (
            ["--reg", "0.1", "--impl", f"{REPO / 'examples' / 'my_softmax.py'}:softmax_loss"],
            ["takes 2 positional arguments (scores, labels); expected f(W, X, y, reg)"],
        ),
    ],
)
def test_linear_input_errors_are_one_line(runner, args, names):
    assert_input_error(runner.invoke(main, ["linear", *args]), *names)


def test_linear_refuses_what_a_file_fixes_and_unknown_built_ins(runner, tmp_path):
    W, X, y = toy(0)
    np.save(tmp_path / "W.npy", W)
    clash = runner.invoke(main, ["linear", "--weights", str(tmp_path / "W.npy"), "--classes", "3"])
    assert clash.exit_code == 2 and "--classes cannot be combined with --weights" in clash.stderr
    np.save(tmp_path / "X.npy", X[:, :2])
    np.save(tmp_path / "y.npy", y)
    data = ["--data", str(tmp_path / "X.npy"), str(tmp_path / "y.npy")]
    mismatch = runner.invoke(main, ["linear", "--weights", str(tmp_path / "W.npy"), *data])
    assert_input_error(mismatch, "X.npy", "has shape (12, 2), expected (N, 6)")
    np.save(tmp_path / "one_class.npy", W[:, :1])
    one = runner.invoke(main, ["linear", "--weights", str(tmp_path / "one_class.npy")])
    assert_input_error(one, "one_class.npy: has 1 class (shape (6, 1))")
    unknown = runner.invoke(main, ["linear", "--impl", "svm"])
    assert unknown.exit_code == 2 and "unknown linear classifier 'svm'" in unknown.stderr


def test_a_missing_third_party_module_is_one_line_naming_it(runner, tmp_path):
    path = tmp_path / "course" / "softmax.py"
    path.parent.mkdir()
    path.write_text(
        "from builtins import range\n"
        "import numpy as np\n"
        "from past.builtins import xrange\n\n\n"
        "def softmax_loss_naive(W, X, y, reg):\n"
        "    return 0.0, np.zeros_like(W)\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["linear", "--impl", f"{path}:softmax_loss_naive"])
    assert_input_error(
        result,
        "softmax.py:softmax_loss_naive: importing",
        "failed: no module named 'past' (imported at softmax.py, line 3; "
        "pip install future provides it)",
    )


def test_every_linear_option_is_in_the_readme():
    options = [
        name
        for param in main.commands["linear"].params
        for name in getattr(param, "opts", [])
        if name.startswith("--")
    ]
    assert len(options) >= 12
    for option in options:
        assert re.search(re.escape(option) + r"(?![\w-])", README), option
    assert "gradcheck linear --impl cs231n/classifiers/softmax.py:softmax_loss_vectorized" in README
    assert BUILT_IN == "linear" == main.commands["linear"].params[0].callback(None, None, ())[0]
