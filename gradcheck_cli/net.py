"""The seed's two-layer network, its analytic gradients, and their check parameter by parameter.

The network
-----------
``Z1 = X·W1 + b1``, ``H1 = max(0, Z1)``, ``scores = H1·W2 + b2``, and the loss
``L = (1/N) Σ_i L_i + R`` with the softmax loss ``L_i`` of each row and
``R = reg·½(ΣW1² + ΣW2²)``, exactly as the seed defines them. With
``D = dL/dscores = (softmax − onehot)/N`` the seed's step back gives
``dW2 = H1ᵀ·D + reg·W2`` and ``db2 = 1ᵀ·D``; then ``dZ1 = (D·W2ᵀ)·[Z1 > 0]``,
``dW1 = Xᵀ·dZ1 + reg·W1`` and ``db1 = 1ᵀ·dZ1``.

The numerical reference
-----------------------
The loss is a scalar, so every entry of every parameter needs its own
evaluation. Each one recomputes what the perturbed entry touches — a column
of ``Z1`` and then the scores for ``W1`` and ``b1``, a column of the scores
for ``W2`` and ``b2`` — and the change of each row loss in the
cancellation-free form ``L_i(s + Δs) − L_i(s) = log1p(Σ_k p_ik·expm1(Δs_ik))
− Δs[i, y_i]``, with ``p`` the max-shifted softmax. The unperturbed loss,
the same in every evaluation, never enters, so nothing of its size is lost
to cancellation. Evaluations are stacked along a leading axis and run in
blocks of about `BLOCK_ENTRIES` numbers.

* **complex step**: ``Im L(θ + i·h·e_k)/h`` with ``h = 1e-20``. The ReLU mask
  comes from the real part (which the step leaves exactly equal to ``Z1``)
  and is applied to the complex value; the regularization uses the complex
  value ``(w + ih)²``, never ``|w + ih|²``. Exact to a few ulps.
* **central differences**: ``(L(θ + h·e_k) − L(θ − h·e_k))/2h``. An entry whose
  ``±h`` moves a ReLU input across 0 (the masks of the perturbed passes differ
  from the unperturbed one) has crossed a kink: its estimate is not a
  derivative, so it is reported as *kink crossed — not judged*. Elsewhere the
  error is bounded by the truncation ``h²/6·|f'''|`` — the row loss along a
  score direction ``v_i`` has ``|f'''| <= R_i³``, ``R_i = max v_i − min v_i`` —
  plus rounding.
* A ReLU input within its own rounding error of 0 (``|Z1| <= 8·eps·(1 + √D)
  ·(|X|·|W1| + |b1|)``, exactly 0 included) has no derivative to check:
  entries that move it are kinks under every method.

The tolerance model
-------------------
A correct implementation working in a float type with machine epsilon
``eps`` gets an entry right to about ``eps·κ`` of its *magnitude*, the sum of
the absolute values of the terms that make it. With ``G = (P + Y)/N`` (the
scale of ``D``: its label entry ``(p − 1)/N`` cancels) and ``A1 = (|X|·|W1| +
|b1|)·[Z1 > 0]`` (the scale of ``H1``: ``Z1`` may cancel)::

    m(W2) = A1ᵀ·G + reg·|W2|          m(b2) = 1ᵀ·G
    G1 = (G·|W2|ᵀ)·[Z1 > 0]
    m(W1) = |X|ᵀ·G1 + reg·|W1|        m(b1) = 1ᵀ·G1

and ``κ = 1 + max(A1·|W2| + |b2|) + √C + √N + √H + √D``: a score carries
rounding of its own size, which the softmax exponentiates, and a dot product
of n terms rounds like ``√n·eps``. The tolerance is ``SAFETY·eps·κ·m`` plus
the reference's own error bound; a gradient correct only to float32
precision is a ``warn``, as for `gradcheck_cli.checker.check`.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gradcheck_cli import numeric, plugins, softmax
from gradcheck_cli._typing import Float64Array, FloatArray, IntArray
from gradcheck_cli.checker import (
    METHODS,
    OWN_CALL_BUDGET,
    Method,
    format_user_traceback,
    json_ready,
)
from gradcheck_cli.errors import ImplementationError, InputError
from gradcheck_cli.linear import (
    Convention,
    LossFailure,
    OwnLossCheck,
    _check_sizes,
    _classes_in,
    _real_array,
    _validate_data,
    _width,
    detect_convention,
    judge_own_loss,
)
from gradcheck_cli.loading import _read_array, load_labels
from gradcheck_cli.plugins import user_output_to_stderr
from gradcheck_cli.verdict import SAFETY, SEVERITY, Verdict, WorstEntry

PARAMETER_NAMES: tuple[str, ...] = ("W1", "b1", "W2", "b2")
"""The network's parameters, in the order of the forward pass."""
BUILT_IN = "two_layer"
"""The name of the built-in network implementation, `two_layer_loss`."""
BLOCK_ENTRIES = 1 << 18
"""Perturbed evaluations are stacked in blocks of about this many numbers."""
EPS = float(np.finfo(np.float64).eps)
NetImplementation = Callable[..., Any]
Parameters = dict[str, FloatArray]
ARGUMENTS = ("params", "X", "y", "reg")
"""How a network function is called."""
CONSTRUCTOR = ("input_size", "hidden_size", "output_size")
"""How a network class is constructed (plus ``std`` when it takes one)."""
EXPECTED_CLASS = (
    "expected a TwoLayerNet-style class: __init__(self, input_size, hidden_size, output_size"
    "[, std]) setting self.params = {'W1', 'b1', 'W2', 'b2'}, and loss(self, X, y, reg) "
    "-> (loss, grads)"
)
OWN_PARAMETER_BUDGET = OWN_CALL_BUDGET // 4
"""Calls a class's own-loss check may spend per parameter (every entry while 4 each fit)."""
_TINY = float(np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class Forward:
    """One forward pass: pre-activations ``Z1`` (N, H), activations ``H1`` (N, H), scores (N, C)."""

    pre_activation: FloatArray
    hidden: FloatArray
    scores: FloatArray


@dataclass(frozen=True)
class ParameterResult:
    """The check of one parameter's gradient (``W1``, ``b1``, ``W2`` or ``b2``).

    How to read it:

    * ``verdict`` and ``reason`` as in `gradcheck_cli.checker.CheckResult`.
    * ``max_rel_error`` and ``median_rel_error`` are ``|a − n| / max(|a|, |n|, m)``
      with ``m`` the entry's magnitude (module docstring), so an entry that
      cancels to almost 0 does not report a rounding-sized difference as a
      relative error of 1; ``max_abs_error`` and ``median_abs_error`` are
      ``|a − n|``. Both are against the reported reference (central
      differences under ``auto`` and ``central`` wherever they resolve the
      entry, the complex step otherwise) over the judged entries.
    * ``max_error_ratio``: the largest error over its tolerance; at most 1 passes.
    * ``worst`` entries: ``(row, column)`` index the parameter, ``(0, j)`` for
      a bias, read as the seed's row vector.
    * ``judged_by`` counts the entries each method decided; ``kinks`` counts
      entries whose perturbation moved a ReLU input across 0 (or one that sits
      at 0): *not judged*; ``unjudged`` counts entries too small for central
      differences to judge (``method="central"`` only).
    * ``entries_checked`` of ``entries_total``; ``sampled`` for a spot check.
    * ``own`` (a class only): the gradient judged against black-box
      differences of the model's own loss, its ``params`` perturbed in place
      (`gradcheck_cli.linear.OwnLossCheck`); its verdict counts in ``verdict``.
    """

    name: str
    shape: tuple[int, ...]
    verdict: Verdict
    reason: str
    max_rel_error: float
    median_rel_error: float
    max_abs_error: float
    median_abs_error: float
    max_error_ratio: float
    worst: tuple[WorstEntry, ...]
    method: str
    judged_by: dict[str, int]
    kinks: int
    unjudged: int
    entries_checked: int
    entries_total: int
    sampled: bool
    own: OwnLossCheck | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data."""
        document = asdict(self)
        document["worst"] = [asdict(entry) for entry in self.worst]
        return {key: json_ready(value) for key, value in document.items()}


@dataclass(frozen=True)
class NetCheckResult:
    """The check of a whole two-layer network's loss and gradients.

    ``verdict`` is the worst of the parameters' verdicts, the loss's and the
    call's (an exception or a malformed return fails; modifying an input
    warns); ``reason`` says why, empty on a clean pass. ``loss`` is what the
    implementation returned, ``reference_loss`` the float64 loss including
    ``R``, and ``loss_verdict``/``loss_reason`` the loss's own judgement.
    ``problem`` is what went wrong with the call itself (an exception, a
    malformed return), empty if nothing did. ``parameters`` holds one
    `ParameterResult` per parameter, in the order ``W1, b1, W2, b2``.
    ``N, D, H, C`` are the batch, input, hidden and class sizes; ``seconds``
    is the implementation's own run time. ``convention`` is the regularization
    the loss follows (`gradcheck_cli.linear.detect_convention`): ``"half"``
    (the seed's ``reg·½(ΣW1² + ΣW2²)``, gradients ``reg·W``), ``"full"``
    (``reg·(ΣW1² + ΣW2²)``, gradients ``2·reg·W``), ``"either"`` (too small to
    tell), or ``"missing"``, ``"neither"``, ``"unknown"`` (then the gradients
    are judged against the seed's). The reference loss and gradients are
    those of the convention found.
    """

    name: str
    verdict: Verdict
    reason: str
    loss: float | None
    reference_loss: float
    loss_verdict: Verdict
    loss_reason: str
    problem: str
    parameters: tuple[ParameterResult, ...]
    method: str
    reg: float
    N: int
    D: int
    H: int
    C: int
    seconds: float
    dtype: str
    floating_point_warnings: tuple[str, ...] = ()
    modified_inputs: tuple[str, ...] = ()
    user_traceback: str = ""
    convention: Convention = "half"

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data (``parameters`` as a list of dicts)."""
        document = {key: json_ready(value) for key, value in asdict(self).items()}
        document["parameters"] = [parameter.to_dict() for parameter in self.parameters]
        return document


def forward(params: Mapping[str, FloatArray], X: FloatArray) -> Forward:
    """Run the network forward: ``Z1 = X·W1 + b1``, ``H1 = max(0, Z1)``, ``scores = H1·W2 + b2``."""
    pre_activation = X @ params["W1"] + params["b1"]
    hidden = np.maximum(pre_activation, 0)
    return Forward(pre_activation, hidden, hidden @ params["W2"] + params["b2"])


def regularization(params: Mapping[str, FloatArray], reg: float) -> float:
    """Return the seed's ``R = reg·½(ΣW1² + ΣW2²)`` in float64."""
    squares = sum(float(np.sum(np.square(params[key], dtype=np.float64))) for key in ("W1", "W2"))
    return reg * 0.5 * squares


def two_layer_loss(
    params: Mapping[str, FloatArray], X: FloatArray, y: IntArray, reg: float
) -> tuple[float, Parameters]:
    """Loss and analytic gradients of the seed's two-layer network (the built-in ``two_layer``).

    Parameters
    ----------
    params : mapping
        ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C) and ``b2`` (C,).
    X : ndarray, shape (N, D)
        The inputs, one row per sample.
    y : ndarray of int, shape (N,)
        Correct classes, in ``[0, C)``.
    reg : float
        The regularization strength of ``R = reg·½(ΣW1² + ΣW2²)``.

    Returns
    -------
    loss : float
        ``(1/N) Σ_i L_i + R``.
    grads : dict
        ``dL/dW1``, ``dL/db1``, ``dL/dW2``, ``dL/db2`` under the parameters' names.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> params = random_network(4, 10, 3, rng=rng)
    >>> X, y = random_data(5, 4, 3, rng=rng)
    >>> loss, grads = two_layer_loss(params, X, y, 0.05)
    >>> {name: grad.shape for name, grad in grads.items()}
    {'W1': (4, 10), 'b1': (10,), 'W2': (10, 3), 'b2': (3,)}
    """
    W1, W2 = params["W1"], params["W2"]
    passed = forward(params, X)
    data_loss, dscores = softmax.stable(passed.scores, y)
    grads: Parameters = {}
    dhidden = dscores @ W2.T
    dhidden[passed.pre_activation <= 0] = 0  # the ReLU passes gradient only where it was active
    grads["W1"] = X.T @ dhidden + reg * W1
    grads["b1"] = np.sum(dhidden, axis=0)
    grads["W2"] = passed.hidden.T @ dscores + reg * W2
    grads["b2"] = np.sum(dscores, axis=0)
    return data_loss + regularization(params, reg), grads


def random_network(
    inputs: int, hidden: int, classes: int, *, std: float = 0.1, rng: np.random.Generator
) -> Parameters:
    """Draw a network's parameters, every one (biases too) from ``std·N(0, 1)``.

    Random biases, unlike CS231n's zeros, keep a bug that only shows with a
    nonzero bias (a ReLU mask taken before ``b1`` is added) from hiding.

    Parameters
    ----------
    inputs, hidden, classes : int
        D, H and C: ``W1`` is (D, H) and ``W2`` is (H, C); C is at least 2.
    std : float
        Standard deviation of every entry.
    rng : numpy.random.Generator
        The source of randomness.

    Returns
    -------
    dict
        Float64 ``W1``, ``b1``, ``W2``, ``b2``.
    """
    _check_sizes(inputs=inputs, hidden=hidden, classes=classes)
    if not (math.isfinite(std) and std > 0):
        raise ValueError("`std` must be a positive number.")
    shapes = {"W1": (inputs, hidden), "b1": (hidden,), "W2": (hidden, classes), "b2": (classes,)}
    return {name: std * rng.standard_normal(shape) for name, shape in shapes.items()}


def random_data(
    batch: int, inputs: int, classes: int, *, rng: np.random.Generator
) -> tuple[Float64Array, IntArray]:
    """Draw inputs ``X`` (N, D) from ``N(0, 1)`` and labels ``y`` (N,) uniformly from ``[0, C)``.

    Unit inputs keep ``X·W1`` about as large as a random ``b1``, so the sign of
    many pre-activations depends on the bias: a ReLU mask taken before ``b1``
    is added gets caught.
    """
    _check_sizes(batch=batch, inputs=inputs, classes=classes)
    X: Float64Array = rng.standard_normal((batch, inputs))
    y: IntArray = rng.integers(0, classes, size=batch).astype(np.intp)
    return X, y


def load_params(path: str | os.PathLike[str]) -> Parameters:
    """Read a network's ``W1``, ``b1``, ``W2``, ``b2`` from an ``.npz`` file (never unpickling).

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` archive holding the four arrays under those names.

    Returns
    -------
    dict
        The raw arrays, to be checked by `validate_network`.

    Raises
    ------
    InputError
        If the file is not a readable ``.npz`` or lacks one of the arrays.
    """
    name = os.fspath(path)
    if os.path.splitext(name)[1].lower() != ".npz":
        raise InputError(f"{name}: parameters must be an .npz file holding W1, b1, W2 and b2")
    return {key: _read_array(path, key, exact=True) for key in PARAMETER_NAMES}


def load_data(
    inputs_path: str | os.PathLike[str], labels_path: str | os.PathLike[str]
) -> tuple[FloatArray, IntArray]:
    """Read the inputs ``X`` (N, D) and the labels ``y`` (N,) from files.

    ``X`` is a ``.npy``, an ``.npz`` (array ``X`` or its only array) or a
    text file; ``y`` as for `gradcheck_cli.loading.load_labels`. Whether they
    fit the network is checked by `validate_network`.
    """
    return _read_array(inputs_path, "X"), load_labels(labels_path)


def validate_network(
    params: Mapping[str, ArrayLike],
    X: ArrayLike,
    y: ArrayLike,
    reg: float = 0.0,
    *,
    params_name: str = "params",
    data_names: tuple[str, str] = ("X", "y"),
) -> tuple[Parameters, FloatArray, IntArray]:
    """Check a network and its data against each other and return clean copies.

    Parameters
    ----------
    params : mapping
        ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,): finite real
        numbers (float16/32/64 kept, integers promoted to float64), C >= 2.
    X : array_like, shape (N, D)
        Finite real inputs.
    y : array_like of int, shape (N,)
        Labels in ``[0, C)``.
    reg : float
        Must be finite and at least 0.
    params_name, data_names : str
        What messages call the parameters and the two data arrays (file names, say).

    Returns
    -------
    params : dict
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)

    Raises
    ------
    InputError
        With a one-line message naming the input and the first problem found.
    """
    clean = _validate_params(params, params_name)
    sizes = (clean["W1"].shape[0], clean["W2"].shape[1])
    fits = f"W1 {clean['W1'].shape}"
    inputs, labels = _validate_data(X, y, reg, sizes, fits, data_names)
    return clean, inputs, labels


def network_and_data(
    params: Mapping[str, ArrayLike] | None,
    data: tuple[ArrayLike, ArrayLike] | None,
    *,
    rng: np.random.Generator,
    hidden: int = 10,
    std: float = 0.1,
    batch: int = 5,
    inputs: int = 4,
    classes: int | None = None,
    params_name: str = "params",
    data_names: tuple[str, str] = ("X", "y"),
) -> tuple[Parameters, FloatArray, IntArray]:
    """Complete a network and its data, drawing what is not given, and validate them together.

    Parameters
    ----------
    params : mapping, optional
        ``W1``, ``b1``, ``W2``, ``b2``; None draws `random_network` with
        ``hidden`` units and ``std``, its D and C fitted to ``data`` if given
        (C is ``classes``, or the largest label + 1).
    data : (X, y), optional
        Inputs and labels; None draws `random_data` with ``batch`` samples,
        fitted to the network.
    rng : numpy.random.Generator
        Source of whatever is drawn.
    hidden, std, batch, inputs, classes
        Sizes of what is drawn (``inputs`` and ``classes`` only when neither
        network nor data fixes them).
    params_name, data_names : str
        What messages call the inputs, as for `validate_network`.

    Returns
    -------
    params, X, y
        As `validate_network` returns them.

    Raises
    ------
    InputError
        If what is given is malformed or does not fit together.
    """
    if params is None:
        if data is not None:
            inputs = _width(data[0], data_names[0])
            classes = classes or _classes_in(data[1], data_names[1], "a random network")
        params = random_network(inputs, hidden, classes or 3, std=std, rng=rng)
    if data is None:
        clean = _validate_params(params, params_name)
        data = random_data(batch, clean["W1"].shape[0], clean["W2"].shape[1], rng=rng)
    return validate_network(params, *data, params_name=params_name, data_names=data_names)


def check_net(
    implementation: str | NetImplementation,
    params: Mapping[str, ArrayLike],
    X: ArrayLike,
    y: ArrayLike,
    reg: float = 0.0,
    *,
    method: Method = "auto",
    samples: int | None = None,
    h: float | None = None,
    rng: np.random.Generator | None = None,
    top: int = 5,
) -> NetCheckResult:
    """Check a two-layer network's loss and the gradient of every parameter.

    Parameters
    ----------
    implementation : str, callable or class
        ``"two_layer"`` (the seed's network, `two_layer_loss`),
        ``f(params, X, y, reg) -> (loss, grads)`` with ``grads`` a dict of
        arrays keyed ``W1``, ``b1``, ``W2``, ``b2`` (called once, on copies of
        its inputs), a ``TwoLayerNet``-style class (below), or a
        ``FILE.py:NAME`` / ``package.module:NAME`` spec of either.
        A class is constructed as ``cls(D, H, C)`` (``std=`` the standard
        deviation of ``W1`` too, when it takes one), ``params`` is put into
        ``model.params`` and ``model.loss(X, y, reg)`` gives the gradients;
        then each parameter's gradient is also judged against the model's own
        loss, its arrays in ``model.params`` perturbed in place and restored
        exactly after each evaluation (`ParameterResult.own`).
    params : mapping
        ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,).
    X : array_like, shape (N, D)
        Inputs.
    y : array_like of int, shape (N,)
        Correct classes, in ``[0, C)``.
    reg : float
        Regularization strength.
    method : {"auto", "central", "complex"}
        ``complex``: the complex step judges every entry; ``central``: central
        differences alone, kinks crossed and entries too small for them not
        judged; ``auto``: central differences where they are conclusive, the
        complex step everywhere else (kinks included).
    samples : int, optional
        Check this many random entries of each parameter (every parameter is
        always checked); None checks every entry.
    h : float, optional
        Central-difference step (default ``(3·eps)**(1/3)``).
    rng : numpy.random.Generator, optional
        Source of the sample (default seed 0).
    top : int
        How many worst entries to keep per parameter.

    Returns
    -------
    NetCheckResult
        One `ParameterResult` per parameter; see their docstrings.

    Raises
    ------
    InputError
        If the network and data do not fit together.
    ImplementationError
        If ``implementation`` names no built-in network; if a class cannot be
        constructed or called as described (the message says what was
        expected); or if its first call needs a module that is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> params = random_network(4, 10, 3, rng=rng)
    >>> X, y = random_data(5, 4, 3, rng=rng)
    >>> result = check_net("two_layer", params, X, y, reg=0.05)
    >>> [(p.name, p.verdict) for p in result.parameters]
    [('W1', 'pass'), ('b1', 'pass'), ('W2', 'pass'), ('b2', 'pass')]
    """
    _check_options(method, samples, h, top)
    name, function = resolve(implementation)
    clean, inputs, labels = validate_network(params, X, y, reg)
    if inspect.isclass(function):
        function = _Model.construct(name, function, clean)
    network = _prepare(clean, inputs, labels, reg)
    call = _call(function, clean, inputs, labels, reg)
    if call.missing_module:
        raise ImplementationError(f"{name}: calling it failed: {call.missing_module}")
    tier = _expected_dtype(clean, inputs)
    match = detect_convention(
        call.loss,
        numeric.reference_loss(network.passed.scores, labels),
        2.0 * regularization(network.params, 1.0),
        reg,
        _loss_allowed(network, tier),
    )
    if match.convention == "full":  # reg·ΣW² is the seed's ½·reg'·ΣW² with reg' = 2·reg
        network = _prepare(clean, inputs, labels, 2.0 * reg)
    generator = rng or np.random.default_rng(0)
    step = numeric.CENTRAL_STEP if h is None else float(h)
    parameters = tuple(
        _check_parameter(key, call.grads[key], network, method, samples, step, generator, tier, top)
        if key not in call.problems
        else _unjudged_parameter(key, clean[key].shape, call.problems[key], method, samples)
        for key in PARAMETER_NAMES
    )
    if isinstance(function, _Model) and not call.problem and math.isfinite(call.loss or math.nan):
        data = (clean, inputs, labels, reg)
        options = {"h": h, "samples": samples, "top": top}
        parameters = _judged_by_own_loss(function, parameters, call, data, network, tier, options)
    loss_verdict, loss_reason = _judge_loss(call.loss, network, tier)
    if loss_verdict != "pass" and match.convention in ("missing", "neither"):
        loss_reason += f" ({CONVENTION_NOTES[match.convention]})"
    verdicts: list[tuple[Verdict, str]] = [(loss_verdict, loss_reason)]
    verdicts += [(p.verdict, f"{p.name}: {p.reason}") for p in parameters if p.verdict != "pass"]
    if call.problem:  # then no gradient could be judged: the call's problem is the reason
        verdicts = [("fail", call.problem)]
    if call.modified:
        verdicts.append(("warn", f"modified its input {' and '.join(call.modified)}"))
    verdict: Verdict = max((v for v, _ in verdicts), key=SEVERITY.__getitem__, default="pass")
    reason = "; ".join(text for v, text in verdicts if v != "pass" and text)
    n, d = inputs.shape
    return NetCheckResult(
        name=name,
        verdict=verdict,
        reason=reason,
        loss=call.loss,
        reference_loss=network.reference_loss,
        loss_verdict=loss_verdict,
        loss_reason=loss_reason,
        problem=call.problem,
        parameters=parameters,
        method=method,
        reg=float(reg),
        N=n,
        D=d,
        H=clean["W1"].shape[1],
        C=clean["W2"].shape[1],
        seconds=call.seconds,
        dtype=str(tier),
        floating_point_warnings=call.warnings,
        modified_inputs=call.modified,
        user_traceback=call.traceback,
        convention=match.convention,
    )


def resolve(implementation: str | NetImplementation) -> tuple[str, NetImplementation]:
    """Return ``(name, callable or class)`` for ``"two_layer"``, a spec, a function or a class.

    Raises
    ------
    ImplementationError
        For an unknown name, a spec that cannot be loaded, a function that
        cannot take ``(params, X, y, reg)``, or a class that cannot be
        constructed as ``cls(input_size, hidden_size, output_size)`` or whose
        ``loss`` cannot take ``(X, y, reg)``; one line saying what was expected.
    """
    if isinstance(implementation, str) and plugins.is_plugin_spec(implementation):
        name, found = plugins.load_object(implementation)
        if not inspect.isclass(found):
            return plugins.load_implementation(implementation, arguments=ARGUMENTS)
        implementation = found
    else:
        name = getattr(implementation, "__name__", repr(implementation))
    if inspect.isclass(implementation):
        _check_class(name, implementation)
        return name, implementation
    if callable(implementation):
        return name, implementation
    if implementation == BUILT_IN:
        return BUILT_IN, two_layer_loss
    raise ImplementationError(
        f"unknown network {implementation!r} (built-in: {BUILT_IN}; or FILE.py:NAME)"
    )


# --- TwoLayerNet-style classes ------------------------------------------------------------------

CONVENTION_NOTES = {
    "missing": "it has no regularization term",
    "neither": "it follows neither reg·½(ΣW1² + ΣW2²) nor reg·(ΣW1² + ΣW2²)",
}
"""What a loss that follows no regularization convention is told."""


def _check_class(name: str, owner: type) -> None:
    """Raise unless ``owner(D, H, C)`` and ``owner(...).loss(X, y, reg)`` can be called."""
    title = owner.__name__
    try:
        signature: inspect.Signature | None = inspect.signature(owner)
    except (TypeError, ValueError):  # some classes have no signature: let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(*([None] * len(CONSTRUCTOR)))
        except TypeError:
            shown = f"{title}({', '.join(CONSTRUCTOR)})"
            raise ImplementationError(
                f"{name}: {title}{signature} cannot be constructed as {shown}; {EXPECTED_CLASS}"
            ) from None
    method = getattr(owner, "loss", None)
    if not callable(method):
        raise ImplementationError(f"{name}: {title} has no loss method; {EXPECTED_CLASS}")
    static = isinstance(inspect.getattr_static(owner, "loss"), (staticmethod, classmethod))
    try:
        loss_signature = inspect.signature(method)
    except (TypeError, ValueError):
        return
    try:
        loss_signature.bind(*([None] * (3 if static else 4)))  # self, then X, y, reg
    except TypeError:
        raise ImplementationError(
            f"{name}: {title}.loss{loss_signature} cannot be called as loss(X, y, reg); "
            f"{EXPECTED_CLASS}"
        ) from None


class _Model:
    """A TwoLayerNet-style class constructed for the network, called as ``f(params, X, y, reg)``.

    Each call puts the given arrays into ``model.params`` and returns
    ``model.loss(X, y, reg)``; `own_loss` evaluates the model's loss with one
    parameter perturbed in place, for the black-box check.
    """

    def __init__(self, name: str, owner: type, model: Any) -> None:
        self.__name__ = name
        self.owner = owner
        self.model = model
        self.installed: Parameters | None = None

    @classmethod
    def construct(cls, name: str, owner: type, params: Parameters) -> _Model:
        """Build ``owner(D, H, C[, std=...])`` and check that its ``params`` fit the network."""
        (d, hidden), classes = params["W1"].shape, params["W2"].shape[1]
        keywords: dict[str, float] = {}
        with contextlib.suppress(TypeError, ValueError):
            if "std" in inspect.signature(owner).parameters:
                keywords["std"] = float(np.std(params["W1"])) or 1e-4
        shown = f"{owner.__name__}({d}, {hidden}, {classes}{', std=' if keywords else ''}"
        shown += f"{keywords['std']:.3g})" if keywords else ")"
        state = np.random.get_state()  # the course's constructor draws from numpy's global RNG
        try:
            with plugins.user_import_paths(owner), user_output_to_stderr():
                model = owner(d, hidden, classes, **keywords)
        except Exception as exc:  # noqa: BLE001 - a class that cannot be built cannot be checked
            message = " ".join(str(exc).split())
            raise ImplementationError(
                f"{name}: {shown} raised {type(exc).__name__}: {message}; {EXPECTED_CLASS}"
            ) from None
        finally:
            np.random.set_state(state)
        found = getattr(model, "params", None)
        if not isinstance(found, MutableMapping):
            raise ImplementationError(f"{name}: {shown} has no params dict; {EXPECTED_CLASS}")
        for key in PARAMETER_NAMES:
            shape = np.shape(found[key]) if key in found else None
            if shape != params[key].shape:
                what = "has no" if shape is None else f"has shape {shape} for"
                raise ImplementationError(
                    f"{name}: {shown}.params {what} '{key}', expected {params[key].shape}; "
                    f"{EXPECTED_CLASS}"
                )
        return cls(name, owner, model)

    def __call__(self, params: Parameters, X: FloatArray, y: IntArray, reg: float) -> Any:
        """Put ``params`` into ``model.params`` and return ``model.loss(X, y, reg)``."""
        for key in PARAMETER_NAMES:
            self.model.params[key] = params[key]
        with plugins.user_import_paths(self.owner):
            return self.model.loss(X, y, reg)

    def own_loss(
        self, key: str, params: Parameters, X: FloatArray, y: IntArray, reg: float
    ) -> Callable[[FloatArray], float]:
        """Return the model's loss as a function of ``params[key]``, evaluated in place.

        The arrays in ``model.params`` are ours: each evaluation copies the
        perturbed values into ``model.params[key]`` itself, calls
        ``model.loss`` on fresh copies of ``X`` and ``y``, and then restores
        every parameter exactly (whatever the model wrote to them).
        """
        if self.installed is None:  # one set of arrays for every parameter's evaluations
            self.installed = {k: np.array(params[k], copy=True) for k in PARAMETER_NAMES}
        installed = self.installed
        originals = {k: np.array(params[k], copy=True) for k in PARAMETER_NAMES}

        def loss(values: FloatArray) -> float:
            """Return the model's loss with ``model.params[key]`` set to ``values`` in place."""
            for k in PARAMETER_NAMES:
                if self.model.params.get(k) is not installed[k]:
                    self.model.params[k] = installed[k]
            np.copyto(installed[key], values)
            try:
                with (
                    warnings.catch_warnings(record=True),
                    np.errstate(all="warn"),
                    user_output_to_stderr(),
                    plugins.user_import_paths(self.owner),
                ):
                    warnings.simplefilter("always")
                    output = self.model.loss(X.copy(), y.copy(), reg)
            except Exception as exc:  # noqa: BLE001 - reported as the black-box check's failure
                problem = f"raised {type(exc).__name__}: {exc}"
                raise LossFailure(problem, format_user_traceback(exc)) from None
            finally:
                for k in PARAMETER_NAMES:
                    np.copyto(installed[k], originals[k])  # restored exactly
            value, problem = _as_loss(output[0] if isinstance(output, (tuple, list)) else output)
            if value is None or not math.isfinite(value):
                raise LossFailure(problem or f"returned a loss of {value}", "")
            return value

        return loss


def _judged_by_own_loss(
    model: _Model,
    parameters: tuple[ParameterResult, ...],
    call: _Call,
    data: tuple[Parameters, FloatArray, IntArray, float],
    network: _Network,
    tier: np.dtype[Any],
    options: dict[str, Any],
) -> tuple[ParameterResult, ...]:
    """Judge each parameter's gradient against the model's own loss too, and merge the verdicts."""
    params, X, y, reg = data
    assert call.loss is not None  # the caller checked the call
    rounding = numeric.black_box_rounding(call.loss, network.passed.scores, tier)
    tiers = [tier] + ([np.dtype(np.float32)] if tier == np.float64 else [])
    judged = []
    for k, parameter in enumerate(parameters):
        key = parameter.name
        if key not in call.grads:
            judged.append(parameter)
            continue
        curvature = max(float(np.max(network.truncation[key])), 1e-300)
        step = options["h"] or numeric.black_box_step(rounding, curvature)
        # A step may grow to a few spacings of the entry: stay clear of kinks by a margin.
        reach = 3.0 * step
        try:
            own = judge_own_loss(
                model.own_loss(key, params, X, y, reg),
                params[key],
                np.asarray(call.grads[key], dtype=np.float64),
                tuple(_tolerance(network.magnitude[key], network.kappa, t) for t in tiers),
                name=key,
                rounding=rounding,
                curvature=curvature,
                rng=np.random.default_rng(k),
                h=step,
                samples=options["samples"],
                budget=OWN_PARAMETER_BUDGET,
                top=options["top"],
                skip=_kinks_within(network, key, reach),
                crosses=_crossing(network, key) if key in ("W1", "b1") else None,
            )
        except LossFailure as failure:
            problem, _ = failure.args
            own = _failed_own(f"against its own loss: at perturbed {key} it {problem}", parameter)
        verdict = max(parameter.verdict, own.verdict, key=SEVERITY.__getitem__)
        # When both checks fail, the own-loss one only confirms: keep it short.
        both = parameter.verdict == "fail" and own.verdict == "fail"
        short = f"{own.reason.split('; ')[0]} too" if both else own.reason
        reasons = [parameter.reason] + ([short] if own.verdict != "pass" else [])
        reason = "; ".join(text for text in reasons if text)
        judged.append(replace(parameter, verdict=verdict, reason=reason, own=own))
    return tuple(judged)


def _kinks_within(network: _Network, key: str, reach: float) -> NDArray[np.bool_]:
    """Entries of ``key`` whose move by up to ``reach`` would take a ReLU input across 0."""
    Z = np.abs(network.passed.pre_activation)
    if key == "b1":
        result: NDArray[np.bool_] = np.any((Z <= reach) | network.at_kink, axis=0)
        return result
    if key != "W1":
        return np.zeros(network.params[key].shape, dtype=bool)
    X = np.abs(network.X)
    moves = X > 0
    kinks = np.zeros(network.params["W1"].shape, dtype=bool)
    for j in range(Z.shape[1]):  # one hidden unit at a time keeps memory at N·D
        near = (Z[:, j : j + 1] <= reach * X) | network.at_kink[:, j : j + 1]
        kinks[:, j] = np.any(near & moves, axis=0)
    return kinks


def _crossing(network: _Network, key: str) -> Callable[[Float64Array, float], bool]:
    """Return whether a step along a direction of W1 or b1 takes a ReLU input across 0."""

    def crosses(direction: Float64Array, reach: float) -> bool:
        """Whether moving ``key`` by ``reach·direction`` crosses (or starts at) a kink."""
        move = reach * (network.X @ direction if key == "W1" else direction[None, :])
        moved = np.abs(move) > 0
        near = np.abs(network.passed.pre_activation) <= 1.5 * np.abs(move)
        return bool(np.any((near | network.at_kink) & moved))

    return crosses


def _failed_own(reason: str, parameter: ParameterResult) -> OwnLossCheck:
    """Return an own-loss check that stopped: the model's loss failed at a perturbed point."""
    return OwnLossCheck(
        verdict="fail",
        reason=reason,
        max_rel_error=math.nan,
        median_rel_error=math.nan,
        max_abs_error=math.nan,
        max_error_ratio=math.nan,
        worst=(),
        method="black-box central",
        entries_checked=0,
        entries_total=int(np.prod(parameter.shape)),
        unresolved=0,
        skipped=0,
        directions=0,
        calls=0,
    )


@dataclass(frozen=True)
class _Network:
    """The network in float64 with everything the references and tolerances share."""

    params: dict[str, Float64Array]
    X: Float64Array
    y: IntArray
    reg: float
    passed: Forward
    probabilities: Float64Array
    active: NDArray[np.bool_]
    at_kink: NDArray[np.bool_]
    magnitude: dict[str, Float64Array]
    truncation: dict[str, Float64Array]
    kappa: float
    reference_loss: float


@dataclass(frozen=True)
class _Reference:
    """One method's numerical gradient over the checked entries, its error bound and its kinks."""

    method: str
    gradient: Float64Array
    error: Float64Array
    kink: NDArray[np.bool_]


def _prepare(params: Parameters, X: FloatArray, y: IntArray, reg: float) -> _Network:
    """Run the float64 forward pass and compute every entry's magnitude and truncation scale."""
    p64 = {key: np.asarray(value, dtype=np.float64) for key, value in params.items()}
    x64 = np.asarray(X, dtype=np.float64)
    W1, b1, W2, b2 = (p64[key] for key in PARAMETER_NAMES)
    (n, d), classes = x64.shape, W2.shape[1]
    passed = forward(p64, x64)
    shifted = passed.scores - np.max(passed.scores, axis=1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= np.sum(probabilities, axis=1, keepdims=True)
    active = passed.pre_activation > 0
    raw = np.abs(x64) @ np.abs(W1) + np.abs(b1)  # the size of the terms each Z1 sums
    at_kink = np.abs(passed.pre_activation) <= SAFETY * EPS * (1 + math.sqrt(d)) * raw
    hidden_scale = raw * active
    # G = (P + Y)/N: the scale of dL/dscores, held at 1/N on the label where p − 1 cancels.
    scale = probabilities.copy()
    scale[np.arange(n), y] += 1.0
    scale /= n
    scale_hidden = (scale @ np.abs(W2).T) * active
    magnitude = {
        "W1": np.abs(x64).T @ scale_hidden + reg * np.abs(W1),
        "b1": np.sum(scale_hidden, axis=0),
        "W2": hidden_scale.T @ scale + reg * np.abs(W2),
        "b2": np.sum(scale, axis=0),
    }
    spread = np.ptp(W2, axis=1) ** 3  # range of each W2 row: how far one hidden unit moves scores
    truncation = {
        "W1": (np.abs(x64) ** 3).T @ active / n * spread,
        "b1": np.sum(active, axis=0) / n * spread,
        "W2": np.repeat((np.sum(np.abs(passed.hidden) ** 3, axis=0) / n)[:, None], classes, 1),
        "b2": np.ones(classes),
    }
    score_size = float(np.max(hidden_scale @ np.abs(W2) + np.abs(b2)))
    kappa = 1 + score_size + sum(math.sqrt(k) for k in (classes, n, W1.shape[1], d))
    return _Network(
        params=p64,
        X=x64,
        y=y,
        reg=float(reg),
        passed=passed,
        probabilities=probabilities,
        active=active,
        at_kink=at_kink,
        magnitude=magnitude,
        truncation=truncation,
        kappa=kappa,
        reference_loss=numeric.reference_loss(passed.scores, y) + regularization(p64, reg),
    )


def _loss_changes(
    network: _Network, name: str, entries: IntArray, step: complex
) -> tuple[np.ndarray, NDArray[np.bool_]]:
    """Return ``L(θ + step·e_k) − L(θ)`` for each entry k, and whether it moved a ReLU kink."""
    n, classes = network.passed.scores.shape
    changes = np.empty(len(entries), dtype=np.result_type(step, np.float64))
    kinks = np.zeros(len(entries), dtype=bool)
    per_block = max(1, BLOCK_ENTRIES // (n * classes))
    for start in range(0, len(entries), per_block):
        block = slice(start, start + per_block)
        chosen = entries[block]
        if name in ("W1", "b1"):
            rows, kinks[block] = _hidden_unit_changes(network, name, chosen, step)
        else:
            rows = _score_column_changes(network, name, chosen, step)
        changes[block] = np.mean(rows, axis=1)
        if name in ("W1", "W2"):
            weight = network.params[name].ravel()[chosen]
            # R changes by reg·½((w + t)² − w²) = reg·t·(w + t/2): complex-safe, and R itself,
            # the same in every evaluation, is never subtracted from itself.
            changes[block] += network.reg * step * (weight + step / 2)
    return changes, kinks


def _hidden_unit_changes(
    network: _Network, name: str, chosen: IntArray, step: complex
) -> tuple[np.ndarray, NDArray[np.bool_]]:
    """Row-loss changes (B, N) when W1 or b1 entries move one column of Z1 each, and kinks (B,)."""
    n = network.X.shape[0]
    if name == "W1":
        d, j = np.unravel_index(chosen, network.params["W1"].shape)
        direction = network.X[:, d].T  # Z1[:, j] moves by step·X[:, d]
    else:
        j = chosen
        direction = np.ones((len(chosen), n))
    base = network.passed.pre_activation[:, j].T
    moved = base + step * direction
    before, after = network.active[:, j].T, moved.real > 0  # the mask comes from the real part
    # On a linear piece of the ReLU the change is exactly step·direction: no need to round
    # Z1 + t·x and subtract Z1 again. Only a crossed kink needs the two ReLUs evaluated.
    delta = np.where(
        before & after, step * direction, np.where(after, moved, 0) - np.where(before, base, 0)
    )
    at_kink = network.at_kink[:, j].T & (direction != 0)
    kinks = np.any(before != after, axis=1) | np.any(at_kink, axis=1)
    weights = network.params["W2"][j]  # (B, C): how the moved hidden unit feeds the scores
    moves = delta[:, :, None] * weights[:, None, :]
    terms = np.sum(network.probabilities * np.expm1(moves), axis=2)
    return np.log1p(terms) - delta * weights[:, network.y], kinks


def _score_column_changes(
    network: _Network, name: str, chosen: IntArray, step: complex
) -> np.ndarray:
    """Row-loss changes (B, N) when W2 or b2 entries move one column of the scores each."""
    n = network.X.shape[0]
    if name == "W2":
        j, c = np.unravel_index(chosen, network.params["W2"].shape)
        moves = step * network.passed.hidden[:, j].T  # scores[:, c] moves by step·H1[:, j]
    else:
        c = chosen
        moves = np.full((len(chosen), n), step)
    probability = network.probabilities[:, c].T
    on_label = network.y[None, :] == c[:, None]
    changes: np.ndarray = np.log1p(probability * np.expm1(moves)) - np.where(on_label, moves, 0)
    return changes


def _references(
    network: _Network, name: str, entries: IntArray, method: Method, step: float
) -> dict[str, _Reference]:
    """Compute the references ``method`` needs for the chosen entries of one parameter."""
    magnitude = network.magnitude[name].ravel()[entries]
    rounding = EPS * network.kappa * magnitude
    references: dict[str, _Reference] = {}
    if method in ("auto", "complex"):
        changes, kinks = _loss_changes(network, name, entries, 1j * numeric.COMPLEX_STEP)
        gradient = changes.imag / numeric.COMPLEX_STEP
        references["complex"] = _Reference("complex", gradient, 4 * rounding, kinks)
    if method in ("auto", "central"):
        forward_changes, forward_kinks = _loss_changes(network, name, entries, step)
        backward_changes, backward_kinks = _loss_changes(network, name, entries, -step)
        gradient = (forward_changes - backward_changes) / (2 * step)
        truncation = step**2 / 6 * network.truncation[name].ravel()[entries]
        error = 2 * (2 * rounding + truncation)
        references["central"] = _Reference(
            "central", gradient, error, forward_kinks | backward_kinks
        )
    return references


def _check_parameter(
    name: str,
    analytic: np.ndarray,
    network: _Network,
    method: Method,
    samples: int | None,
    step: float,
    rng: np.random.Generator,
    tier: np.dtype[Any],
    top: int,
) -> ParameterResult:
    """Judge one parameter's analytic gradient against the numerical references."""
    shape = network.params[name].shape
    size = int(np.prod(shape))
    entries = _sample(size, samples, rng)
    a = np.asarray(analytic, dtype=np.float64).ravel()[entries]
    references = _references(network, name, entries, method, step)
    magnitude = network.magnitude[name].ravel()[entries]
    tolerance = _tolerance(magnitude, network.kappa, tier)
    by_central, value, bound = _choose_judge(a, references, method, tolerance)
    kink = references["central" if method == "central" else "complex"].kink
    error = np.abs(a - value)
    allowed = tolerance + bound
    ratio = error / allowed
    unjudged = np.zeros(a.shape, dtype=bool)
    if method == "central":
        # Central differences cannot tell such an entry from 0 at the tolerance's scale.
        unjudged = ~kink & (np.abs(value) <= bound) & (bound > tolerance) & (ratio <= 1)
    judged = ~kink & ~unjudged
    failing = judged & (ratio > 1)
    checked = len(entries)
    verdict: Verdict = "pass"
    reason = ""
    if failing.any():
        verdict, reason = "fail", f"{int(failing.sum())} of {checked} entries outside tolerance"
        if tier == np.float64:
            loose = _tolerance(magnitude, network.kappa, np.dtype(np.float32)) + bound
            if bool(np.all(error[judged] <= loose[judged])):
                verdict = "warn"
                reason = (
                    f"{int(failing.sum())} of {checked} entries are correct to float32 precision "
                    f"only (worst {float(ratio[judged].max()):.3g}× the float64 tolerance)"
                )
    worst = _worst_entries(name, shape, entries, a, value, error, allowed, by_central, judged, top)
    if verdict != "pass" and worst:
        w = worst[0]
        reason += f"; worst {entry_name(name, shape, w)}: analytic {w.analytic:.6g}, "
        reason += f"numerical {w.numerical:.6g}"
    notes = []
    if kink.any():
        crossed = "kink crossed" if method == "central" else "at a ReLU kink"
        notes.append(f"{int(kink.sum())} of {checked} entries {crossed} — not judged")
    if unjudged.any():
        notes.append(
            f"{int(unjudged.sum())} of {checked} entries too small to judge by central "
            "differences (use --method auto)"
        )
    if verdict == "pass" and not judged.any():
        verdict = "warn"
    if notes:
        reason = "; ".join([reason, *notes]) if reason else "; ".join(notes)
    reported = _reported_reference(references, method)
    shown = judged if judged.any() else np.ones(a.shape, dtype=bool)
    difference = np.abs(a - reported)[shown]
    denominator = np.maximum(np.maximum(np.abs(a), np.abs(reported)), magnitude)[shown]
    relative = np.divide(
        difference, denominator, out=np.zeros_like(difference), where=denominator > 0
    )
    central_count = int(np.count_nonzero(by_central & judged))
    counts = {"central": central_count, "complex": int(judged.sum()) - central_count}
    return ParameterResult(
        name=name,
        shape=tuple(shape),
        verdict=verdict,
        reason=reason,
        max_rel_error=float(relative.max()),
        median_rel_error=float(np.median(relative)),
        max_abs_error=float(difference.max()),
        median_abs_error=float(np.median(difference)),
        max_error_ratio=float(np.max(ratio, where=judged, initial=0.0)),
        worst=worst,
        method=method,
        judged_by={key: count for key, count in counts.items() if count},
        kinks=int(kink.sum()),
        unjudged=int(unjudged.sum()),
        entries_checked=checked,
        entries_total=size,
        sampled=checked < size,
    )


def _unjudged_parameter(
    name: str, shape: tuple[int, ...], problem: str, method: str, samples: int | None
) -> ParameterResult:
    """Fail a parameter whose gradient is missing or unusable, with the reason."""
    size = int(np.prod(shape))
    return ParameterResult(
        name=name,
        shape=tuple(shape),
        verdict="fail",
        reason=problem,
        max_rel_error=math.nan,
        median_rel_error=math.nan,
        max_abs_error=math.nan,
        median_abs_error=math.nan,
        max_error_ratio=math.nan,
        worst=(),
        method=method,
        judged_by={},
        kinks=0,
        unjudged=0,
        entries_checked=min(size, samples or size),
        entries_total=size,
        sampled=samples is not None and samples < size,
    )


def _tolerance(magnitude: Float64Array, kappa: float, dtype: np.dtype[Any]) -> Float64Array:
    """``SAFETY·eps·κ·m`` per entry, as the module docstring explains."""
    tolerance: Float64Array = SAFETY * float(np.finfo(dtype).eps) * kappa * magnitude + _TINY
    return tolerance


def _choose_judge(
    analytic: Float64Array,
    references: dict[str, _Reference],
    method: Method,
    tolerance: Float64Array,
) -> tuple[NDArray[np.bool_], Float64Array, Float64Array]:
    """Return, per entry, whether central differences judge it, and the judge's value and bound."""
    if method != "auto":
        ref = references[method]
        return np.full(analytic.shape, method == "central"), ref.gradient, ref.error
    central, exact = references["central"], references["complex"]
    # Central differences decide an entry only when their verdict is conclusive (a miss
    # beyond their own error, or an error bound inside the tolerance) and no kink was crossed.
    outside = np.abs(analytic - central.gradient) > tolerance + central.error
    resolves = (central.error <= tolerance) & (np.abs(central.gradient) > central.error)
    by_central = (outside | resolves) & ~central.kink
    value = np.where(by_central, central.gradient, exact.gradient)
    bound = np.where(by_central, central.error, exact.error)
    return by_central, value, bound


def _reported_reference(references: dict[str, _Reference], method: Method) -> Float64Array:
    """Return the reference whose errors are reported (central where it resolves the value)."""
    if method != "auto":
        return references[method].gradient
    central, exact = references["central"], references["complex"]
    resolved = (np.abs(central.gradient) > central.error) & ~central.kink
    reported: Float64Array = np.where(resolved, central.gradient, exact.gradient)
    return reported


def _worst_entries(
    name: str,
    shape: tuple[int, ...],
    entries: IntArray,
    analytic: Float64Array,
    value: Float64Array,
    error: Float64Array,
    allowed: Float64Array,
    by_central: NDArray[np.bool_],
    judged: NDArray[np.bool_],
    top: int,
) -> tuple[WorstEntry, ...]:
    """Return the ``top`` judged entries with the largest error-to-tolerance ratio."""
    ratio = error / allowed
    ranked = np.where(judged, ratio, -1.0)
    count = min(top, int(np.count_nonzero(judged)))
    order = np.argsort(-ranked, kind="stable")[:count]
    matrix_shape = shape if len(shape) == 2 else (1, shape[0])
    worst = []
    for k in order:
        row, column = np.unravel_index(int(entries[k]), matrix_shape)
        worst.append(
            WorstEntry(
                row=int(row),
                column=int(column),
                analytic=float(analytic[k]),
                numerical=float(value[k]),
                abs_error=float(error[k]),
                tolerance=float(allowed[k]),
                ratio=float(ratio[k]),
                method="central" if by_central[k] else "complex",
            )
        )
    return tuple(worst)


def entry_name(name: str, shape: tuple[int, ...], entry: WorstEntry) -> str:
    """Name a parameter's entry as numpy indexes it: ``W1[2, 3]``, or ``b1[3]`` for a bias."""
    if len(shape) == 1:
        return f"{name}[{entry.column}]"
    return f"{name}[{entry.row}, {entry.column}]"


def _judge_loss(loss: float | None, network: _Network, tier: np.dtype[Any]) -> tuple[Verdict, str]:
    """Judge the returned loss against the float64 reference (R included)."""
    reference = network.reference_loss
    if loss is None:
        return "fail", "no loss to judge"
    if not math.isfinite(loss):
        return "fail", f"loss is {loss}"
    allowed = _loss_allowed(network, tier)
    difference = abs(loss - reference)
    if difference <= allowed[0]:
        return "pass", ""
    message = f"loss {loss:.10g} differs from the reference {reference:.10g}"
    if len(allowed) > 1 and difference <= allowed[1]:
        return "warn", message + " beyond float64 precision (float32-level agreement)"
    return "fail", message


def _loss_allowed(network: _Network, tier: np.dtype[Any]) -> list[float]:
    """How far a correct loss may be from the reference: in ``tier``, then (float64) float32."""
    reference = network.reference_loss
    sizes = sum(network.params[key].size for key in ("W1", "W2"))
    scale = network.kappa * max(1.0, abs(reference)) + math.sqrt(sizes) * abs(reference)
    tiers = [tier] + ([np.dtype(np.float32)] if tier == np.float64 else [])
    return [SAFETY * float(np.finfo(t).eps) * scale for t in tiers]


@dataclass(frozen=True)
class _Call:
    """What one call of a network implementation gave back, and per-parameter problems."""

    loss: float | None
    grads: dict[str, np.ndarray]
    problem: str
    problems: dict[str, str]
    seconds: float
    warnings: tuple[str, ...]
    modified: tuple[str, ...]
    traceback: str = field(default="")
    missing_module: str = field(default="")


def _call(
    function: NetImplementation, params: Parameters, X: FloatArray, y: IntArray, reg: float
) -> _Call:
    """Call ``function`` on copies, recording floating-point warnings, mutation and errors."""
    params_copy = {key: value.copy() for key, value in params.items()}
    X_copy, y_copy = X.copy(), y.copy()
    output: Any = None
    problem, user_traceback, missing = "", "", ""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            with user_output_to_stderr():  # stdout belongs to the report (or the JSON)
                output = function(params_copy, X_copy, y_copy, reg)
        except Exception as exc:  # noqa: BLE001 - any failure of the implementation is its verdict
            problem = f"raised {type(exc).__name__}: {exc}"
            user_traceback = format_user_traceback(exc)
            if isinstance(exc, ModuleNotFoundError) and exc.name:
                missing = plugins.missing_module(exc)
        seconds = time.perf_counter() - start
    messages = tuple(dict.fromkeys(str(w.message) for w in caught))
    modified = tuple(
        label
        for label, before, after in [
            *((f"params['{k}']", params[k], params_copy.get(k)) for k in PARAMETER_NAMES),
            ("X", X, X_copy),
            ("y", y, y_copy),
        ]
        if not _unchanged(before, after)
    )
    unusable = {key: "no gradient (see the call's problem)" for key in PARAMETER_NAMES}
    base = _Call(None, {}, problem, unusable, seconds, messages, modified, user_traceback, missing)
    if problem:
        return base
    if not (isinstance(output, (tuple, list)) and len(output) == 2):
        what = type(output).__name__
        return replace(base, problem=f"returned {what}; expected a pair (loss, grads)")
    raw_loss, raw_grads = output
    loss, loss_problem = _as_loss(raw_loss)
    if not isinstance(raw_grads, Mapping):
        what = type(raw_grads).__name__
        return replace(base, loss=loss, problem=f"returned grads as {what}; expected a dict")
    grads: dict[str, np.ndarray] = {}
    problems: dict[str, str] = {}
    for key in PARAMETER_NAMES:
        gradient, gradient_problem = _as_gradient(raw_grads, key, params[key].shape, messages)
        if gradient_problem:
            problems[key] = gradient_problem
        else:
            grads[key] = gradient
    return replace(base, loss=loss, grads=grads, problem=loss_problem, problems=problems)


def _as_loss(value: Any) -> tuple[float | None, str]:
    """Turn a returned loss into a float, or say why it is not one."""
    try:
        return float(np.asarray(value, dtype=np.float64).item()), ""
    except (TypeError, ValueError) as exc:
        return None, f"returned a loss that is not a number ({exc})"


def _as_gradient(
    grads: Mapping[str, Any], key: str, shape: tuple[int, ...], messages: tuple[str, ...]
) -> tuple[np.ndarray, str]:
    """Turn ``grads[key]`` into a float array of the parameter's shape, or say what is wrong."""
    empty = np.empty(0)
    if key not in grads:
        return empty, f"no gradient: grads has no key '{key}'"
    try:
        array = np.asarray(grads[key])
    except (TypeError, ValueError) as exc:
        return empty, f"gradient is not an array ({exc})"
    if array.dtype.kind not in "iuf":
        return empty, f"gradient has dtype {array.dtype}; expected real numbers"
    if array.shape != shape:
        return empty, f"gradient has shape {array.shape}, but {key} has shape {shape}"
    finite = np.isfinite(array)
    if not finite.all():
        first = tuple(int(k) for k in np.argwhere(~finite)[0])
        cause = "; ".join(messages)
        text = f"{int((~finite).sum())} gradient entries are nan or inf (first at {first})"
        return empty, f"{cause}: {text}" if cause else text
    return array, ""


def _unchanged(before: np.ndarray, after: np.ndarray | None) -> bool:
    """Whether the implementation left its copy of an input as it was given."""
    if not isinstance(after, np.ndarray) or after.shape != before.shape:
        return False
    return bool(np.array_equal(before, after, equal_nan=True))


def _expected_dtype(params: Parameters, X: FloatArray) -> np.dtype[Any]:
    """Return the float type a correct implementation works in: the parameters' and inputs'."""
    dtype = np.result_type(*params.values(), X)
    return dtype if dtype in (np.float16, np.float32) else np.dtype(np.float64)


def _sample(size: int, samples: int | None, rng: np.random.Generator) -> IntArray:
    """Return the flat indices to check: all of them, or ``samples`` random ones, sorted."""
    if samples is None or samples >= size:
        return np.arange(size)
    chosen: IntArray = np.sort(rng.choice(size, size=samples, replace=False))
    return chosen


def _validate_params(params: Mapping[str, ArrayLike], name: str) -> Parameters:
    """Return float copies of ``W1``, ``b1``, ``W2``, ``b2`` after checking their shapes fit."""
    if not isinstance(params, Mapping):
        raise InputError(f"{name}: must map W1, b1, W2, b2 to arrays")
    missing = [key for key in PARAMETER_NAMES if key not in params]
    if missing:
        raise InputError(f"{name}: missing {', '.join(missing)} (needs W1, b1, W2, b2)")
    clean = {key: _real_array(params[key], f"{name}: {key}") for key in PARAMETER_NAMES}
    W1, b1, W2, b2 = (clean[key] for key in PARAMETER_NAMES)
    if W1.ndim != 2 or 0 in W1.shape:
        raise InputError(f"{name}: W1 must be a non-empty (D, H) matrix, got shape {W1.shape}")
    hidden = W1.shape[1]
    if b1.shape != (hidden,):
        raise InputError(f"{name}: b1 has shape {b1.shape}, W1 needs ({hidden},)")
    if W2.ndim != 2 or W2.shape[0] != hidden:
        raise InputError(f"{name}: W2 has shape {W2.shape}, W1 needs ({hidden}, C)")
    classes = W2.shape[1]
    if classes < 2:
        raise InputError(f"{name}: W2 has {classes} class; the softmax loss needs 2 or more")
    if b2.shape != (classes,):
        raise InputError(f"{name}: b2 has shape {b2.shape}, W2 needs ({classes},)")
    return clean


def _check_options(method: str, samples: int | None, h: float | None, top: int) -> None:
    """Validate the options of `check_net`, naming each one."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(METHODS)}, not {method!r}.")
    if samples is not None and samples < 1:
        raise ValueError("`samples` must be a positive integer.")
    if h is not None and not (0 < h < 1):
        raise ValueError("`h` must be a step between 0 and 1.")
    if top < 1:
        raise ValueError("`top` must be a positive integer.")
