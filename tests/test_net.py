"""The two-layer network: gradients, the check per parameter, kinks, bugs, `gradcheck net`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from gradcheck_cli import ImplementationError, InputError, check_net
from gradcheck_cli import net as net_module
from gradcheck_cli.cli import main
from gradcheck_cli.net import (
    PARAMETER_NAMES,
    load_data,
    load_params,
    network_and_data,
    random_data,
    random_network,
    two_layer_loss,
    validate_network,
)
from gradcheck_cli.plugins import load_implementation

REPO = Path(__file__).resolve().parents[1]
BUGGY = str(REPO / "examples" / "buggy_net.py")
MY_NET = str(REPO / "examples" / "my_net.py")
METHODS = ("auto", "central", "complex")
NET_ARGUMENTS = ("params", "X", "y", "reg")


def toy(seed=0, n=5, d=4, h=10, c=3, std=0.1):
    """A seeded random network and batch."""
    rng = np.random.default_rng(seed)
    params = random_network(d, h, c, std=std, rng=rng)
    X, y = random_data(n, d, c, rng=rng)
    return params, X, y


def verdicts(result):
    return {p.name: p.verdict for p in result.parameters}


def failing(result):
    return {p.name for p in result.parameters if p.verdict == "fail"}


def naive_complex_gradients(params, X, y, reg, h=1e-20):
    """Every entry by its own full complex forward pass: the slow, obvious oracle."""
    n = X.shape[0]
    grads = {}
    for name in PARAMETER_NAMES:
        gradient = np.empty(params[name].size)
        for k in range(gradient.size):
            p = {key: value.astype(complex) for key, value in params.items()}
            p[name].flat[k] += 1j * h
            pre = X @ p["W1"] + p["b1"]
            hidden = np.where(pre.real > 0, pre, 0)
            scores = hidden @ p["W2"] + p["b2"]
            top = scores.real.max(axis=1, keepdims=True)
            logsumexp = np.log(np.sum(np.exp(scores - top), axis=1)) + top[:, 0]
            loss = np.mean(logsumexp - scores[np.arange(n), y])
            loss += reg * 0.5 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
            gradient[k] = loss.imag / h
        grads[name] = gradient.reshape(params[name].shape)
    return grads


def loops_network(params, X, y, reg):
    """An independent implementation: one sample at a time, scalar sums, no matrix products."""
    W1, b1, W2, b2 = (params[k] for k in PARAMETER_NAMES)
    (n, d), h, c = X.shape, W1.shape[1], W2.shape[1]
    grads = {key: np.zeros_like(value) for key, value in params.items()}
    loss = 0.0
    for i in range(n):
        pre = [sum(X[i, k] * W1[k, j] for k in range(d)) + b1[j] for j in range(h)]
        hidden = [max(v, 0.0) for v in pre]
        scores = [sum(hidden[j] * W2[j, m] for j in range(h)) + b2[m] for m in range(c)]
        top = max(scores)
        exps = [np.exp(s - top) for s in scores]
        total = sum(exps)
        loss += np.log(total) + top - scores[y[i]]
        for m in range(c):
            dscore = (exps[m] / total - (m == y[i])) / n
            grads["b2"][m] += dscore
            for j in range(h):
                grads["W2"][j, m] += hidden[j] * dscore
                if pre[j] > 0:
                    grads["b1"][j] += W2[j, m] * dscore
                    for k in range(d):
                        grads["W1"][k, j] += X[i, k] * W2[j, m] * dscore
    grads["W1"] += reg * W1
    grads["W2"] += reg * W2
    return loss / n + 0.5 * reg * (np.sum(W1**2) + np.sum(W2**2)), grads


def returning(grads, loss=None):
    """An implementation that returns fixed gradients (and the right loss unless given)."""

    def implementation(params, X, y, reg):
        right, _ = two_layer_loss(params, X, y, reg)
        return (right if loss is None else loss), {k: v.copy() for k, v in grads.items()}

    return implementation


def buggy(name):
    return load_implementation(f"{BUGGY}:{name}", arguments=NET_ARGUMENTS)[1]


def near_kink(seed=3, units=(0, 2, 4, 7), offsets=(3e-6, -2e-6, 5e-6, -1e-6)):
    """A network whose row-0 pre-activations of some units sit within h of zero."""
    params, X, y = toy(seed)
    pre = X @ params["W1"] + params["b1"]
    for unit, offset in zip(units, offsets, strict=True):
        params["b1"][unit] += offset - pre[0, unit]
    return params, X, y


# --- the analytic gradients against independent references ---------------------------------


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    d=st.integers(1, 4),
    h=st.integers(1, 6),
    c=st.integers(2, 4),
    reg=st.sampled_from([0.0, 0.1]),
)
def test_two_layer_gradients_match_a_naive_complex_step(seed, n, d, h, c, reg):
    params, X, y = toy(seed, n, d, h, c, std=0.5)
    note(f"pre-activations: {X @ params['W1'] + params['b1']}")
    _, grads = two_layer_loss(params, X, y, reg)
    oracle = naive_complex_gradients(params, X, y, reg)
    for name in PARAMETER_NAMES:
        np.testing.assert_allclose(grads[name], oracle[name], rtol=1e-12, atol=1e-15)


def test_two_layer_agrees_with_the_loop_implementation():
    params, X, y = toy(7, n=4, d=3, h=5, c=3)
    loss, grads = two_layer_loss(params, X, y, 0.1)
    loop_loss, loop_grads = loops_network(params, X, y, 0.1)
    assert loss == pytest.approx(loop_loss, rel=1e-14)
    for name in PARAMETER_NAMES:
        np.testing.assert_allclose(grads[name], loop_grads[name], rtol=1e-12, atol=1e-16)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    h=st.integers(1, 8),
    c=st.integers(2, 4),
    reg=st.sampled_from([0.0, 0.05, 1.0]),
    method=st.sampled_from(METHODS),
)
def test_every_parameter_of_a_random_network_passes(seed, n, h, c, reg, method):
    params, X, y = toy(seed, n, 3, h, c, std=0.3)
    result = check_net("two_layer", params, X, y, reg, method=method)
    note(result.reason)
    assert result.verdict in ("pass", "warn")  # warn: every entry at a kink, never here
    assert verdicts(result) == dict.fromkeys(PARAMETER_NAMES, "pass")
    assert result.loss == pytest.approx(result.reference_loss, rel=1e-13)


@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_the_naive_oracle_passes_and_agrees_with_the_reference(reg):
    params, X, y = toy(11, n=4, d=3, h=5, c=3)
    oracle = naive_complex_gradients(params, X, y, reg)
    for method in METHODS:
        result = check_net(returning(oracle), params, X, y, reg, method=method)
        assert result.verdict == "pass", result.reason
        assert all(p.entries_checked == p.entries_total for p in result.parameters)


@pytest.mark.parametrize("name", PARAMETER_NAMES)
@pytest.mark.parametrize("method", METHODS)
def test_one_entry_off_by_1e_4_relative_fails_that_parameter(name, method):
    params, X, y = toy(5)
    _, grads = two_layer_loss(params, X, y, 0.05)
    grads[name].flat[np.argmax(np.abs(grads[name]))] *= 1 + 1e-4
    result = check_net(returning(grads), params, X, y, 0.05, method=method)
    assert failing(result) == {name}
    worst = next(p for p in result.parameters if p.name == name).worst[0]
    assert worst.ratio > 1


def test_a_loop_implementation_passes_under_every_method():
    params, X, y = toy(2, n=4, d=3, h=6, c=3)
    for method in METHODS:
        result = check_net(loops_network, params, X, y, 0.1, method=method)
        assert result.verdict == "pass", result.reason


def test_float32_gradients_warn_and_fail_under_strict_reading():
    params, X, y = toy(1)

    def in_float32(params, X, y, reg):
        return two_layer_loss({k: v.astype(np.float32) for k, v in params.items()}, X, y, reg)

    result = check_net(in_float32, params, X, y, 0.05)
    assert result.verdict == "warn"
    assert "float32 precision only" in result.reason
    assert set(verdicts(result).values()) <= {"warn", "pass"}


def test_float32_network_is_judged_at_float32_precision():
    params, X, y = toy(1)
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    result = check_net("two_layer", params32, X.astype(np.float32), y, 0.05)
    assert result.dtype == "float32"
    assert result.verdict == "pass", result.reason


# --- kinks ------------------------------------------------------------------------------------


def test_near_kink_network_passes_under_central_with_kinks_not_judged():
    params, X, y = near_kink()
    result = check_net("two_layer", params, X, y, 0.05, method="central")
    assert result.verdict == "pass", result.reason
    kinks = {p.name: p.kinks for p in result.parameters}
    assert kinks["b1"] == 4  # each near-zero unit's bias moves its input across 0
    assert kinks["W1"] > 0
    assert kinks["W2"] == kinks["b2"] == 0  # they do not move a ReLU input
    b1 = next(p for p in result.parameters if p.name == "b1")
    assert "kink crossed — not judged" in b1.reason
    assert b1.judged_by == {"central": b1.entries_checked - 4}


@pytest.mark.parametrize("method", ["complex", "auto"])
def test_near_kink_network_is_fully_judged_by_the_complex_step(method):
    params, X, y = near_kink()
    result = check_net("two_layer", params, X, y, 0.05, method=method)
    assert result.verdict == "pass", result.reason
    assert all(p.kinks == 0 for p in result.parameters)
    b1 = next(p for p in result.parameters if p.name == "b1")
    assert sum(b1.judged_by.values()) == b1.entries_checked
    assert b1.judged_by.get("complex", 0) >= 4


def test_central_differences_across_a_kink_are_wrong_so_not_judging_them_matters():
    params, X, y = near_kink()
    clean = validate_network(params, X, y, 0.05)
    network = net_module._prepare(*clean, 0.05)
    entries = np.arange(params["b1"].size)
    central = net_module._references(network, "b1", entries, "central", 8.7e-6)["central"]
    _, grads = two_layer_loss(params, X, y, 0.05)
    miss = np.abs(central.gradient - grads["b1"]) > central.error
    assert np.array_equal(central.kink, np.isin(entries, [0, 2, 4, 7]))
    assert miss[central.kink].all() and not miss[~central.kink].any()


def test_a_buggy_network_near_kinks_still_fails_under_central():
    params, X, y = near_kink()
    result = check_net(buggy("missing_reg_in_dW1"), params, X, y, 0.05, method="central")
    assert failing(result) == {"W1"}


def test_a_pre_activation_exactly_at_zero_is_a_kink_under_every_method():
    params, X, y = toy(4)
    X[1] = 0.0
    params["b1"][:] = 0.0  # row 1's pre-activations are exactly 0: no derivative in b1
    for method in METHODS:
        result = check_net("two_layer", params, X, y, 0.05, method=method)
        by_name = {p.name: p for p in result.parameters}
        assert by_name["b1"].kinks == 10
        assert by_name["b1"].verdict == "warn"  # nothing of b1 could be judged
        assert by_name["W1"].kinks == 0  # X[1] = 0: W1 does not move row 1
        assert by_name["W1"].verdict == by_name["W2"].verdict == "pass"


# --- the five bugs, each failing on its own parameter --------------------------------------


@pytest.mark.parametrize(
    ("bug", "expected"),
    [
        ("missing_reg_in_dW1", {"W1"}),
        ("reg_half_twice", {"W1", "W2"}),
        ("db2_wrong_axis", {"b2"}),
        ("mask_before_bias", {"W1", "b1"}),
    ],
)
@pytest.mark.parametrize("method", METHODS)
def test_each_bug_fails_on_the_right_parameter(bug, expected, method):
    params, X, y = toy(0)
    result = check_net(buggy(bug), params, X, y, 0.05, method=method)
    assert result.verdict == "fail"
    assert failing(result) == expected
    assert result.loss_verdict == "pass"  # the forward pass is right: only gradients fail


@pytest.mark.parametrize("method", METHODS)
def test_dW2_transposed_on_a_square_layer_fails_on_W2(method):
    params, X, y = toy(0, h=3, c=3)
    result = check_net(buggy("dW2_transposed"), params, X, y, 0.05, method=method)
    assert failing(result) == {"W2"}
    w2 = next(p for p in result.parameters if p.name == "W2")
    assert "outside tolerance" in w2.reason


def test_db2_wrong_axis_is_caught_numerically_when_N_equals_C():
    params, X, y = toy(0, n=3, c=3)
    result = check_net(buggy("db2_wrong_axis"), params, X, y, 0.05)
    b2 = next(p for p in result.parameters if p.name == "b2")
    assert failing(result) == {"b2"}
    assert "outside tolerance" in b2.reason
    params, X, y = toy(0, n=5, c=3)
    result = check_net(buggy("db2_wrong_axis"), params, X, y, 0.05)
    b2 = next(p for p in result.parameters if p.name == "b2")
    assert b2.reason == "gradient has shape (5,), but b2 has shape (3,)"


def test_missing_reg_passes_without_reg_and_fails_with_it():
    params, X, y = toy(0)
    assert check_net(buggy("missing_reg_in_dW1"), params, X, y, 0.0).verdict == "pass"
    assert failing(check_net(buggy("missing_reg_in_dW1"), params, X, y, 1e-3)) == {"W1"}


def test_the_shipped_user_network_passes():
    name, function = load_implementation(f"{MY_NET}:two_layer_loss", arguments=NET_ARGUMENTS)
    params, X, y = toy(9, n=8, d=5, h=7, c=4)
    assert check_net(function, params, X, y, 0.3).verdict == "pass"


# --- calling user code --------------------------------------------------------------------


def test_an_exception_is_a_fail_with_the_users_traceback():
    params, X, y = toy(0)

    def broken(params, X, y, reg):
        return 1 / 0

    result = check_net(broken, params, X, y)
    assert result.verdict == "fail"
    assert result.problem == "raised ZeroDivisionError: division by zero"
    assert result.reason == result.problem
    assert "test_net.py" in result.user_traceback
    assert "gradcheck_cli" not in result.user_traceback
    assert all(p.verdict == "fail" for p in result.parameters)


def test_a_malformed_return_is_a_fail():
    params, X, y = toy(0)
    result = check_net(lambda params, X, y, reg: 1.0, params, X, y)
    assert result.problem == "returned float; expected a pair (loss, grads)"
    result = check_net(lambda params, X, y, reg: (1.0, [1, 2]), params, X, y)
    assert result.problem == "returned grads as list; expected a dict"


def test_a_missing_or_non_finite_gradient_fails_that_parameter_only():
    params, X, y = toy(0)
    _, grads = two_layer_loss(params, X, y, 0.05)
    without_b2 = {k: v for k, v in grads.items() if k != "b2"}
    result = check_net(returning(without_b2), params, X, y, 0.05)
    assert failing(result) == {"b2"}
    assert "no key 'b2'" in result.reason
    grads["W1"][1, 2] = np.nan
    result = check_net(returning(grads), params, X, y, 0.05)
    assert failing(result) == {"W1"}
    assert "nan or inf (first at (1, 2))" in result.reason


def test_modifying_an_input_is_a_warn_and_the_originals_are_untouched():
    params, X, y = toy(0)
    original = X.copy()

    def scribbles(params, X, y, reg):
        loss, grads = two_layer_loss(params, X, y, reg)
        X[0, 0] = 99.0
        params["W1"][0, 0] = 99.0
        return loss, grads

    result = check_net(scribbles, params, X, y, 0.05)
    assert result.verdict == "warn"
    assert result.modified_inputs == ("params['W1']", "X")
    assert np.array_equal(X, original)


def test_a_loss_without_R_fails_the_loss_not_the_gradients():
    params, X, y = toy(0)
    _, grads = two_layer_loss(params, X, y, 0.05)
    data_loss, _ = two_layer_loss(params, X, y, 0.0)
    result = check_net(returning(grads, loss=data_loss), params, X, y, 0.05)
    assert result.verdict == "fail"
    assert result.loss_verdict == "fail"
    assert "differs from the reference" in result.loss_reason
    assert verdicts(result) == dict.fromkeys(PARAMETER_NAMES, "pass")


# --- sampling, results as data -------------------------------------------------------------


def test_samples_touch_every_parameter_and_are_reproducible():
    params, X, y = toy(0, d=6, h=20, c=5)
    first = check_net("two_layer", params, X, y, samples=7, rng=np.random.default_rng(3))
    again = check_net("two_layer", params, X, y, samples=7, rng=np.random.default_rng(3))
    checked = {p.name: (p.entries_checked, p.entries_total, p.sampled) for p in first.parameters}
    assert checked == {
        "W1": (7, 120, True),
        "b1": (7, 20, True),
        "W2": (7, 100, True),
        "b2": (5, 5, False),
    }
    assert first.verdict == "pass"
    assert [p.worst for p in first.parameters] == [p.worst for p in again.parameters]


def test_to_dict_is_strict_json_with_one_entry_per_parameter():
    params, X, y = toy(0)
    document = check_net(buggy("mask_before_bias"), params, X, y, 0.05).to_dict()
    text = json.dumps(document, allow_nan=False)
    parsed = json.loads(text)
    assert [p["name"] for p in parsed["parameters"]] == list(PARAMETER_NAMES)
    w1 = parsed["parameters"][0]
    assert w1["verdict"] == "fail" and w1["shape"] == [4, 10]
    assert {"row", "column", "analytic", "numerical", "method"} <= set(w1["worst"][0])
    assert {"max_rel_error", "entries_checked", "judged_by", "kinks"} <= set(w1)


# --- validation and files -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, X, y: p.pop("b2"), r"params: missing b2 \(needs W1, b1, W2, b2\)"),
        (
            lambda p, X, y: p.update(b1=np.zeros(3)),
            r"params: b1 has shape \(3,\), W1 needs \(10,\)",
        ),
        (
            lambda p, X, y: p.update(W2=np.zeros((4, 3))),
            r"W2 has shape \(4, 3\), W1 needs \(10, C\)",
        ),
        (lambda p, X, y: p.update(W2=np.zeros((10, 1)), b2=np.zeros(1)), "needs 2 or more"),
        (lambda p, X, y: p["W1"].__setitem__((0, 0), np.inf), r"params: W1: 1 non-finite"),
        (lambda p, X, y: p.update(W1=np.array(["a"])), "params: W1: has dtype <U1"),
    ],
)
def test_malformed_parameters_are_named(change, message):
    params, X, y = toy(0)
    change(params, X, y)
    with pytest.raises(InputError, match=message):
        check_net("two_layer", params, X, y)


def test_data_that_does_not_fit_is_named():
    params, X, y = toy(0)
    with pytest.raises(InputError, match=r"X: has shape \(5, 3\), expected \(N, 4\)"):
        check_net("two_layer", params, X[:, :3], y)
    with pytest.raises(InputError, match=r"y: label 3 at row 1 is out of range \[0, 3\)"):
        check_net("two_layer", params, X, np.array([0, 3, 1, 1, 2]))
    with pytest.raises(InputError, match="y: has 4 labels but X has 5 rows"):
        check_net("two_layer", params, X, y[:4])
    with pytest.raises(InputError, match="reg: must be a finite number >= 0"):
        check_net("two_layer", params, X, y, reg=-1.0)


def test_options_are_validated():
    params, X, y = toy(0)
    with pytest.raises(ValueError, match="`samples` must be a positive integer"):
        check_net("two_layer", params, X, y, samples=0)
    with pytest.raises(ValueError, match="`method` must be one of"):
        check_net("two_layer", params, X, y, method="forward")
    with pytest.raises(net_module.ImplementationError, match="unknown network 'three_layer'"):
        check_net("three_layer", params, X, y)


def test_params_and_data_files_load(tmp_path):
    params, X, y = toy(0)
    np.savez(tmp_path / "params.npz", **params)
    np.save(tmp_path / "X.npy", X)
    np.savetxt(tmp_path / "y.csv", y, fmt="%d")
    loaded = load_params(tmp_path / "params.npz")
    inputs, labels = load_data(tmp_path / "X.npy", tmp_path / "y.csv")
    from_files = check_net("two_layer", loaded, inputs, labels, 0.05).to_dict()
    in_memory = check_net("two_layer", params, X, y, 0.05).to_dict()
    assert from_files["parameters"] == in_memory["parameters"]
    np.testing.assert_array_equal(labels, y)


def test_params_file_errors_name_the_file(tmp_path):
    params, _, _ = toy(0)
    np.save(tmp_path / "params.npy", params["W1"])
    with pytest.raises(InputError, match=r"params.npy: parameters must be an .npz file"):
        load_params(tmp_path / "params.npy")
    np.savez(tmp_path / "partial.npz", W1=params["W1"], b1=params["b1"])
    with pytest.raises(InputError, match=r"partial.npz: has no array named 'W2'"):
        load_params(tmp_path / "partial.npz")
    with pytest.raises(InputError, match="missing.npz: no such file"):
        load_params(tmp_path / "missing.npz")


def test_network_and_data_fit_whatever_is_drawn():
    rng = np.random.default_rng(0)
    params, _, _ = toy(0, d=6, h=4, c=5)
    fitted, X, y = network_and_data(params, None, rng=rng, batch=9)
    assert X.shape == (9, 6) and y.max() < 5
    X = rng.standard_normal((7, 3))
    y = np.array([0, 1, 6, 2, 0, 1, 1])
    drawn, X2, y2 = network_and_data(None, (X, y), rng=rng, hidden=8)
    assert drawn["W1"].shape == (3, 8) and drawn["W2"].shape == (8, 7)
    with pytest.raises(InputError, match="too large for a random network"):
        network_and_data(None, (X, y * 10**6), rng=rng)


# --- gradcheck net ----------------------------------------------------------------------------


def assert_input_error(result, *names):
    """Exit 2, nothing on stdout, exactly one ``Error:`` line on stderr naming ``names``."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error:")
    for name in names:
        assert name in lines[0]


def run_json(runner, *args):
    result = runner.invoke(main, ["net", *args, "--json"], catch_exceptions=False)
    return result, json.loads(result.stdout)


def test_net_on_the_built_in_network_passes(runner):
    result = runner.invoke(main, ["net"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stderr == ""
    for name in PARAMETER_NAMES:
        assert f"\n  {name} " in result.stdout
    assert "N=5 D=4 H=10 C=3" in result.stdout
    assert "Summary: network PASS; parameters: 4 pass" in result.stdout
    assert "FAIL" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_net_json_document(runner):
    result, document = run_json(runner, "--seed", "2", "--samples", "6")
    assert result.exit_code == 0
    assert document["schema"] == 1 and document["command"] == "net"
    assert document["verdict"] == "pass" and document["seed"] == 2
    assert [p["name"] for p in document["parameters"]] == list(PARAMETER_NAMES)
    assert [p["entries_checked"] for p in document["parameters"]] == [6, 6, 6, 3]
    assert "Summary" in result.stderr


@pytest.mark.parametrize(
    ("bug", "options", "expected"),
    [
        ("missing_reg_in_dW1", [], {"W1"}),
        ("reg_half_twice", [], {"W1", "W2"}),
        ("db2_wrong_axis", [], {"b2"}),
        ("mask_before_bias", [], {"W1", "b1"}),
        ("dW2_transposed", ["--hidden", "3"], {"W2"}),
    ],
)
def test_net_catches_each_bug_file_on_its_parameter(runner, bug, options, expected):
    result, document = run_json(runner, "--impl", f"{BUGGY}:{bug}", *options)
    assert result.exit_code == 1
    assert document["name"].endswith(f"buggy_net.py:{bug}")
    assert {p["name"] for p in document["parameters"] if p["verdict"] == "fail"} == expected


def test_net_table_names_the_failing_parameter_and_its_worst_entry(runner):
    args = ["net", "--impl", f"{BUGGY}:missing_reg_in_dW1"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 1
    assert "✗ FAIL W1: 40 of 40 entries outside tolerance; worst W1[" in result.stdout
    assert "Summary: network FAIL; parameters: 3 pass, 1 fail" in result.stdout


def test_net_from_files_matches_the_library(runner, tmp_path):
    params, X, y = toy(6, n=7, d=3, h=5, c=4)
    np.savez(tmp_path / "params.npz", **params)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    files = ["--params", str(tmp_path / "params.npz"), "--data"]
    files += [str(tmp_path / "X.npy"), str(tmp_path / "y.npy"), "--reg", "0.1"]
    result, document = run_json(runner, *files)
    assert result.exit_code == 0
    library = check_net("two_layer", params, X, y, 0.1)
    assert (document["N"], document["D"], document["H"], document["C"]) == (7, 3, 5, 4)
    assert document["reference_loss"] == library.reference_loss


def test_net_strict_turns_a_float32_warn_into_exit_1(runner, tmp_path):
    path = tmp_path / "f32_net.py"
    path.write_text(
        "import numpy as np\n"
        "from gradcheck_cli.net import two_layer_loss\n\n"
        "def f32(params, X, y, reg):\n"
        "    p = {k: v.astype(np.float32) for k, v in params.items()}\n"
        "    return two_layer_loss(p, X, y, reg)\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["net", "--impl", f"{path}:f32"], catch_exceptions=False)
    assert result.exit_code == 0 and "WARN" in result.stdout
    strict = runner.invoke(main, ["net", "--impl", f"{path}:f32", "--strict"])
    assert strict.exit_code == 1


def test_user_prints_do_not_break_the_json(runner, tmp_path):
    path = tmp_path / "chatty.py"
    path.write_text(
        "from gradcheck_cli.net import two_layer_loss\n\n"
        "def chatty(params, X, y, reg):\n"
        "    print('hello from the network')\n"
        "    return two_layer_loss(params, X, y, reg)\n",
        encoding="utf-8",
    )
    result, document = run_json(runner, "--impl", f"{path}:chatty")
    assert document["verdict"] == "pass"
    assert "hello from the network" in result.stderr


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--params", "nowhere.npz"], ["nowhere.npz", "no such file"]),
        (["--impl", "nowhere.py:f"], ["nowhere.py", "no such file"]),
        (["--impl", "three_layer"], ["unknown network 'three_layer'"]),
        (["--impl", f"{BUGGY}:no_such_function"], ["no_such_function"]),
    ],
)
def test_net_input_errors_are_one_line(runner, args, names):
    assert_input_error(runner.invoke(main, ["net", *args]), *names)


def test_net_refuses_sizes_a_file_fixes(runner, tmp_path):
    params, X, y = toy(0)
    np.savez(tmp_path / "params.npz", **params)
    result = runner.invoke(main, ["net", "--params", str(tmp_path / "params.npz"), "--hidden", "3"])
    assert result.exit_code == 2
    assert "--hidden cannot be combined with --params" in result.stderr
    np.savez(tmp_path / "short.npz", W1=params["W1"], b1=params["b1"], W2=params["W2"])
    short = runner.invoke(main, ["net", "--params", str(tmp_path / "short.npz")])
    assert_input_error(short, "short.npz", "has no array named 'b2'")
    np.save(tmp_path / "X.npy", X[:, :2])
    np.save(tmp_path / "y.npy", y)
    data = ["--data", str(tmp_path / "X.npy"), str(tmp_path / "y.npy")]
    mismatch = runner.invoke(main, ["net", "--params", str(tmp_path / "params.npz"), *data])
    assert_input_error(mismatch, "X.npy", "has shape (5, 2), expected (N, 4)")


# --- TwoLayerNet-style classes and regularization conventions (issue 8) ---------------------

USERFILES = Path(__file__).resolve().parent / "userfiles" / "cs231n" / "classifiers"
NET_CLASS = f"{USERFILES / 'neural_net.py'}:TwoLayerNet"
BUGGY_CLASS = f"{USERFILES / 'neural_net_buggy.py'}:TwoLayerNet"


def full_convention(params, X, y, reg):
    """The seed's network regularized as today's course does: reg·ΣW², gradients 2·reg·W."""
    loss, grads = two_layer_loss(params, X, y, 2 * reg)
    return loss, grads


def test_a_function_following_reg_sum_of_squares_passes_and_is_named():
    params, X, y = toy(0)
    result = check_net(full_convention, params, X, y, 0.05)
    assert (result.verdict, result.convention) == ("pass", "full")
    expected = two_layer_loss(params, X, y, 0.1)[0]
    assert result.reference_loss == pytest.approx(expected, rel=1e-14)
    assert check_net("two_layer", params, X, y, 0.05).convention == "half"
    assert check_net("two_layer", params, X, y, 0.0).convention == "either"


def test_a_loss_of_one_convention_with_gradients_of_the_other_fails_w1_and_w2():
    params, X, y = toy(1)

    def mixed(params, X, y, reg):
        loss, _ = two_layer_loss(params, X, y, 2 * reg)  # reg·ΣW² in the loss...
        _, grads = two_layer_loss(params, X, y, reg)  # ...but reg·W in the gradients
        return loss, grads

    result = check_net(mixed, params, X, y, 0.1)
    assert result.convention == "full" and result.loss_verdict == "pass"
    assert failing(result) == {"W1", "W2"}


def test_a_loss_following_neither_convention_says_so():
    params, X, y = toy(2)
    _, grads = two_layer_loss(params, X, y, 0.05)
    result = check_net(returning(grads, loss=3.0), params, X, y, 0.05)
    assert result.convention == "neither" and result.loss_verdict == "fail"
    assert "it follows neither reg·½(ΣW1² + ΣW2²) nor reg·(ΣW1² + ΣW2²)" in result.loss_reason


def test_the_course_class_passes_with_its_own_loss_checked_in_place():
    params, X, y = toy(3)
    result = check_net(NET_CLASS, params, X, y, 0.05)
    assert result.name == "neural_net.py:TwoLayerNet"
    assert (result.verdict, result.convention) == ("pass", "full"), result.reason
    for parameter in result.parameters:
        own = parameter.own
        assert own is not None and own.verdict == "pass", own
        assert own.method == "black-box central"
        assert own.entries_checked + own.skipped == own.entries_total
        assert own.calls == 4 * own.entries_checked
        assert own.max_rel_error < 1e-6


def test_the_buggy_class_fails_exactly_where_the_relu_is_skipped():
    params, X, y = toy(4)
    result = check_net(BUGGY_CLASS, params, X, y, 0.05)
    assert failing(result) == {"W1", "b1"}
    w1 = next(p for p in result.parameters if p.name == "W1")
    assert w1.own.verdict == "fail"  # its own loss disagrees with its gradient too
    assert "against its own loss: " in w1.reason and w1.reason.endswith("too")
    assert all(p.own.verdict == "pass" for p in result.parameters if p.name in ("W2", "b2"))


class Recording:
    """A TwoLayerNet that records, at every loss call, which W1 array it sees and its values."""

    calls: list = []

    def __init__(self, input_size, hidden_size, output_size):
        self.params = {
            "W1": np.zeros((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": np.zeros((hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }

    def loss(self, X, y, reg):
        Recording.calls.append((id(self.params["W1"]), self.params["W1"].copy()))
        return two_layer_loss(self.params, X, y, reg)


def test_params_are_perturbed_in_place_and_restored_exactly():
    params, X, y = toy(5)
    Recording.calls = []
    result = check_net(Recording, params, X, y, 0.05)
    assert result.verdict == "pass"
    w1 = next(p for p in result.parameters if p.name == "W1")
    first, *black_box = Recording.calls
    assert np.array_equal(first[1], params["W1"])
    perturbing = black_box[: w1.own.calls]
    # The W1 phase: always the same array object, one entry moved at a time.
    assert len({identity for identity, _ in perturbing}) == 1
    for _, seen in perturbing:
        assert np.count_nonzero(seen != params["W1"]) == 1
    # Every later evaluation (b1, W2, b2) sees W1 restored bit for bit.
    later = black_box[w1.own.calls :]
    assert later and all(np.array_equal(seen, params["W1"]) for _, seen in later)
    assert all(identity == perturbing[0][0] for identity, _ in later)


def test_constructing_a_class_leaves_numpys_global_random_state_alone():
    params, X, y = toy(6)
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    assert check_net(NET_CLASS, params, X, y, 0.05).verdict == "pass"
    assert np.array_equal(np.random.get_state()[1], before)


CLASS_ERRORS = [
    (
        "class Net:\n    def __init__(self, input_size, hidden_size):\n        pass\n",
        "Net(input_size, hidden_size) cannot be constructed as "
        "Net(input_size, hidden_size, output_size)",
    ),
    (
        "class Net:\n    def __init__(self, a, b, c):\n        self.params = {}\n"
        "    def loss(self, X):\n        pass\n",
        "Net.loss(self, X) cannot be called as loss(X, y, reg)",
    ),
    (
        "class Net:\n    def __init__(self, a, b, c):\n        pass\n",
        "Net has no loss method",
    ),
    (
        "class Net:\n    def __init__(self, a, b, c, std=1e-4):\n"
        "        raise ValueError('no GPU')\n"
        "    def loss(self, X, y=None, reg=0.0):\n        pass\n",
        "Net(4, 10, 3, std=0.0",
    ),
    (
        "class Net:\n    def __init__(self, a, b, c):\n        self.weights = {}\n"
        "    def loss(self, X, y=None, reg=0.0):\n        pass\n",
        "Net(4, 10, 3) has no params dict",
    ),
    (
        "import numpy as np\n\nclass Net:\n    def __init__(self, a, b, c):\n"
        "        self.params = {'W1': np.zeros((b, a)), 'b1': np.zeros(b),\n"
        "                       'W2': np.zeros((b, c)), 'b2': np.zeros(c)}\n"
        "    def loss(self, X, y=None, reg=0.0):\n        pass\n",
        "Net(4, 10, 3).params has shape (10, 4) for 'W1', expected (4, 10)",
    ),
]


@pytest.mark.parametrize(("source", "message"), CLASS_ERRORS)
def test_a_class_that_cannot_be_used_says_what_was_expected(tmp_path, source, message):
    path = tmp_path / "net_class.py"
    path.write_text(source, encoding="utf-8")
    params, X, y = toy(0)
    with pytest.raises(ImplementationError) as caught:
        check_net(f"{path}:Net", params, X, y)
    text = str(caught.value)
    assert message in text and "\n" not in text
    assert text.startswith("net_class.py:Net: ")
    assert text.endswith("and loss(self, X, y, reg) -> (loss, grads)")


def test_net_checks_the_course_class_from_the_command_line(runner):
    result = runner.invoke(
        main, ["net", "--impl", NET_CLASS, "--reg", "0.05"], catch_exceptions=False
    )
    text = " ".join(result.stdout.split())
    assert result.exit_code == 0, result.output
    assert "Network check · neural_net.py:TwoLayerNet" in text
    assert "regularization: reg·(ΣW1² + ΣW2²), gradients + 2·reg·W (detected from the loss)" in text
    assert "against its own loss, model.params perturbed in place" in text
    assert "Summary: network PASS; parameters: 4 pass" in text
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_net_fails_the_buggy_class_on_w1_and_b1(runner):
    result, document = run_json(runner, "--impl", BUGGY_CLASS, "--hidden", "10")
    assert result.exit_code == 1
    assert document["convention"] == "full"
    assert {p["name"] for p in document["parameters"] if p["verdict"] == "fail"} == {"W1", "b1"}
    assert all(p["own"]["method"] == "black-box central" for p in document["parameters"])


def test_net_refuses_a_class_it_cannot_build_in_one_line(runner, tmp_path):
    path = tmp_path / "two_args.py"
    path.write_text(CLASS_ERRORS[0][0], encoding="utf-8")
    result = runner.invoke(main, ["net", "--impl", f"{path}:Net"])
    assert_input_error(result, "two_args.py:Net", "expected a TwoLayerNet-style class")
