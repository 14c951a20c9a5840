"""The linear softmax classifier ``f(W, X, y, reg) -> (loss, dW)``, checked as people write it.

CS231n's first softmax assignment asks for ``softmax_loss_naive(W, X, y, reg)``
and ``softmax_loss_vectorized(W, X, y, reg)``: scores ``X·W`` (N×C) from
weights ``W`` (D×C), the mean softmax loss plus a regularization term, and
``dW`` (D×C). `check_linear` takes such functions as they are, one or several.

Regularization conventions
--------------------------
Two are in use: ``R = reg·ΣW²`` with gradient ``2·reg·W`` (CS231n today) and
the seed's ``R = ½·reg·ΣW²`` with gradient ``reg·W``. The returned loss says
which one a function follows (`detect_convention`): it is compared with the
float64 softmax loss of ``X·W`` plus each. The gradient is then judged
against that convention's exact gradient ``Xᵀ·(P − Y)/N + 2·reg·W`` (or
``+ reg·W``), every entry. A loss that is the softmax loss alone
(``missing``) or matches neither fails, and no reference gradient is chosen.

Against its own loss
--------------------
Whatever the convention, ``dW`` is also judged against the numerical
gradient of the function's *own* loss, a black box (`judge_own_loss`): each
evaluation is a call on perturbed copies of ``W``, with black-box central
differences at steps ``h`` and ``2h`` whose spread bounds their error
(`gradcheck_cli.numeric.black_box_error`). Every entry is differenced while
4 calls an entry fit `OWN_CALL_BUDGET`; beyond, a seeded sample of
`OWN_SAMPLE` entries plus `OWN_DIRECTIONS` random unit directions, each
covering every entry at once, as `gradcheck run --against own` does.

The tolerance model
-------------------
Entry ``(d, c)`` of ``dW`` sums N terms ``X[i, d]·D[i, c]``, ``D = (P − Y)/N``,
plus the regularization term. Its *magnitude* is the sum of the absolute
values of those terms, ``m = |X|ᵀ·G + 2k·reg·|W|`` with ``G = (P + Y)/N``
(the label entry ``p − 1`` cancels, so it is held at ``1/N``) and ``k`` the
convention's factor. A correct implementation working in a float type with
machine epsilon ``eps`` gets it to ``SAFETY·eps·κ·m``, with
``κ = 1 + max(|X|·|W|) + √C + √N + √D`` (a score carries rounding of its own
size, which the softmax exponentiates; a sum of n terms rounds like
``√n·eps``). Right only to float32 precision is a ``warn``.

Several implementations are also compared with each other, loss and
gradient, as the course's notebooks do by hand (`Agreement`), and each is
timed: the median of every call the check made.
"""

from __future__ import annotations

import math
import os
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gradcheck_cli import numeric, plugins, softmax
from gradcheck_cli._typing import Float64Array, FloatArray, IntArray
from gradcheck_cli.checker import (
    DIRECTION_SIGMAS,
    OWN_CALL_BUDGET,
    OWN_DIRECTIONS,
    OWN_SAMPLE,
    Probe,
    float32_only,
    format_user_traceback,
    json_ready,
)
from gradcheck_cli.errors import ImplementationError, InputError
from gradcheck_cli.loading import _read_array, load_labels
from gradcheck_cli.verdict import SAFETY, SCORE_CAP, SEVERITY, Verdict, WorstEntry, relative_error

LinearImplementation = Callable[..., Any]
Convention = Literal["full", "half", "either", "missing", "neither", "unknown"]
CONVENTIONS: MappingProxyType[str, str] = MappingProxyType(
    {
        "full": "reg·ΣW² (gradient 2·reg·W)",
        "half": "½·reg·ΣW² (gradient reg·W, the seed's)",
        "either": "reg·ΣW² or ½·reg·ΣW² (too small here to tell apart)",
        "missing": "no regularization term",
        "neither": "neither reg·ΣW² nor ½·reg·ΣW²",
        "unknown": "unknown (no loss to tell)",
    }
)
"""How each regularization convention reads in a report."""
REG_FACTOR: MappingProxyType[str, float] = MappingProxyType({"full": 1.0, "half": 0.5})
"""``k`` in ``R = k·reg·ΣW²``: the gradient's regularization term is ``2k·reg·W``."""
BUILT_IN = "linear"
"""The name of the built-in linear classifier, `softmax_linear_loss`."""
ARGUMENTS = ("W", "X", "y", "reg")
"""How every linear classifier is called."""
EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).tiny)
_MAX_RANDOM_CLASSES = 100_000


# --- regularization conventions -----------------------------------------------------------------


@dataclass(frozen=True)
class ConventionMatch:
    """Which regularization convention a returned loss follows, and the loss's verdict.

    ``convention`` is ``"full"`` (``R = reg·ΣW²``, gradient ``2·reg·W``),
    ``"half"`` (the seed's ``R = ½·reg·ΣW²``, gradient ``reg·W``),
    ``"either"`` (``reg·ΣW²`` too small for the loss to tell them apart, as
    at ``reg = 0``), ``"missing"`` (the loss is the softmax loss alone although
    ``reg·ΣW² > 0``), ``"neither"``, or ``"unknown"`` (no finite loss).
    ``factors`` are the factors ``k`` of ``R = k·reg·ΣW²`` the gradient may be
    judged against: one for ``full`` or ``half``, both for ``either``, none
    otherwise. ``reference_loss`` is the softmax loss plus the detected ``R``
    (the seed's when none is detected); ``verdict`` and ``reason`` judge the loss.
    """

    convention: Convention
    factors: tuple[float, ...]
    reference_loss: float
    verdict: Verdict
    reason: str


def detect_convention(
    loss: float | None, data_loss: float, squares: float, reg: float, allowed: Sequence[float]
) -> ConventionMatch:
    """Tell which regularization convention a returned loss follows.

    Parameters
    ----------
    loss : float or None
        The loss the implementation returned.
    data_loss : float
        The float64 softmax loss of its scores, without regularization.
    squares : float
        ``ΣW²`` over every regularized weight (``ΣW1² + ΣW2²`` for a network).
    reg : float
        The regularization strength it was given.
    allowed : sequence of float
        How far a correct loss may be from its reference: in the
        implementation's own float type, then (for float64) in float32. A match
        only at the second tier is a ``warn``.

    Returns
    -------
    ConventionMatch

    Examples
    --------
    >>> detect_convention(3.0, 2.0, 10.0, 0.1, [1e-12]).convention
    'full'
    >>> detect_convention(2.5, 2.0, 10.0, 0.1, [1e-12]).convention
    'half'
    >>> detect_convention(2.0, 2.0, 10.0, 0.1, [1e-12]).convention
    'missing'
    """
    penalty = reg * squares
    candidates = {"full": data_loss + penalty, "half": data_loss + 0.5 * penalty}
    seed = candidates["half"]
    if loss is None or not math.isfinite(loss):
        reason = "no loss to judge" if loss is None else f"loss is {loss}"
        return ConventionMatch("unknown", (), seed, "fail", reason)
    for tier, tolerance in enumerate(allowed):
        matching = [name for name, value in candidates.items() if abs(loss - value) <= tolerance]
        if not matching:
            continue
        convention: Convention = "either" if len(matching) == 2 else matching[0]  # type: ignore[assignment]
        factors = tuple(REG_FACTOR[name] for name in matching)
        reference = candidates[matching[0]]
        reason = ""
        if tier:
            reason = (
                f"loss {loss:.10g} differs from the reference {reference:.10g} beyond float64 "
                "precision (float32-level agreement)"
            )
        return ConventionMatch(
            convention, factors, reference, "pass" if not tier else "warn", reason
        )
    full, half = candidates["full"], candidates["half"]
    if penalty > 0 and abs(loss - data_loss) <= allowed[-1]:
        reason = (
            f"loss {loss:.10g} is the softmax loss without regularization "
            f"(reg·ΣW² = {penalty:.6g} is missing)"
        )
        return ConventionMatch("missing", (), seed, "fail", reason)
    reason = (
        f"loss {loss:.10g} matches neither the softmax loss + reg·ΣW² ({full:.10g}) "
        f"nor + ½·reg·ΣW² ({half:.10g})"
    )
    return ConventionMatch("neither", (), seed, "fail", reason)


# --- inputs ---------------------------------------------------------------------------------------


def softmax_linear_loss(
    W: FloatArray, X: FloatArray, y: IntArray, reg: float
) -> tuple[float, FloatArray]:
    """Loss and gradient of the linear softmax classifier, the seed's way (the built-in ``linear``).

    Parameters
    ----------
    W : ndarray, shape (D, C)
        Weights.
    X : ndarray, shape (N, D)
        Inputs, one row per sample.
    y : ndarray of int, shape (N,)
        Correct classes, in ``[0, C)``.
    reg : float
        Regularization strength of the seed's ``R = ½·reg·ΣW²``.

    Returns
    -------
    loss : float
        The mean softmax loss of ``X·W`` plus ``R``.
    dW : ndarray, shape (D, C)
        ``Xᵀ·(P − Y)/N + reg·W``.

    Examples
    --------
    >>> import numpy as np
    >>> W, X, y = np.zeros((2, 3)), np.ones((4, 2)), np.array([0, 1, 2, 0])
    >>> loss, dW = softmax_linear_loss(W, X, y, 0.1)
    >>> round(loss, 6), dW.shape
    (1.098612, (2, 3))
    """
    data_loss, dscores = softmax.stable(X @ W, y)
    penalty = 0.5 * reg * float(np.sum(W * W))
    gradient: FloatArray = X.T @ dscores + reg * W
    return data_loss + penalty, gradient


def random_classifier(
    inputs: int, classes: int, *, std: float = 0.1, rng: np.random.Generator
) -> Float64Array:
    """Draw weights ``W`` (D, C) from ``std·N(0, 1)``.

    With unit inputs, scores are about ``std·√D``: of order 1 for the
    default sizes, so the softmax is far from uniform and a bug that only
    shows on confident rows is not hidden.
    """
    _check_sizes(inputs=inputs, classes=classes)
    if not (math.isfinite(std) and std > 0):
        raise ValueError("`std` must be a positive number.")
    weights: Float64Array = std * rng.standard_normal((inputs, classes))
    return weights


def random_batch(
    batch: int, inputs: int, classes: int, *, rng: np.random.Generator
) -> tuple[Float64Array, IntArray]:
    """Draw inputs ``X`` (N, D) from ``N(0, 1)`` and labels ``y`` (N,) uniformly from ``[0, C)``."""
    _check_sizes(batch=batch, inputs=inputs, classes=classes)
    X: Float64Array = rng.standard_normal((batch, inputs))
    y: IntArray = rng.integers(0, classes, size=batch).astype(np.intp)
    return X, y


def load_weights(path: str | os.PathLike[str]) -> FloatArray:
    """Read weights ``W`` (D, C) from a ``.npy``, an ``.npz`` (array ``W`` or its only one) or text.

    Whether they fit the data is checked by `validate_classifier`.
    """
    raw: FloatArray = _read_array(path, "W")
    return raw


def load_batch(
    inputs_path: str | os.PathLike[str], labels_path: str | os.PathLike[str]
) -> tuple[FloatArray, IntArray]:
    """Read inputs ``X`` (N, D) and labels ``y`` (N,) from files, as `gradcheck net --data` does.

    ``X`` is a ``.npy``, an ``.npz`` (array ``X`` or its only array) or a
    text file; ``y`` as for `gradcheck_cli.loading.load_labels`. Whether they
    fit the weights is checked by `validate_classifier`.
    """
    raw: FloatArray = _read_array(inputs_path, "X")
    return raw, load_labels(labels_path)


def validate_classifier(
    W: ArrayLike,
    X: ArrayLike,
    y: ArrayLike,
    reg: float = 0.0,
    *,
    weights_name: str = "W",
    data_names: tuple[str, str] = ("X", "y"),
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Check weights, inputs and labels against each other and return clean copies.

    Parameters
    ----------
    W : array_like, shape (D, C)
        Finite real weights (float16/32/64 kept, integers promoted), C >= 2.
    X : array_like, shape (N, D)
        Finite real inputs.
    y : array_like of int, shape (N,)
        Labels in ``[0, C)`` (integral floats accepted).
    reg : float
        Must be finite and at least 0.
    weights_name, data_names : str
        What messages call the weights and the two data arrays (file names, say).

    Returns
    -------
    W : ndarray, shape (D, C)
    X : ndarray, shape (N, D)
    y : ndarray of int, shape (N,)

    Raises
    ------
    InputError
        With a one-line message naming the input and the first problem found.
    """
    weights = _weights(W, weights_name)
    fits = f"W {weights.shape}"
    inputs, labels = _validate_data(X, y, reg, weights.shape, fits, data_names)
    return weights, inputs, labels


def _validate_data(
    X: ArrayLike,
    y: ArrayLike,
    reg: float,
    sizes: tuple[int, int],
    fits: str,
    data_names: tuple[str, str],
) -> tuple[FloatArray, IntArray]:
    """Check inputs (N, D), labels in [0, C) and reg, for ``sizes`` (D, C) taken from ``fits``."""
    d, classes = sizes
    inputs_name, labels_name = data_names
    inputs = _real_array(X, inputs_name)
    if inputs.ndim != 2 or inputs.shape[0] == 0 or inputs.shape[1] != d:
        expected = f"(N, {d}) to fit {fits}"
        raise InputError(f"{inputs_name}: has shape {inputs.shape}, expected {expected}")
    labels = _labels(y, labels_name, inputs.shape[0], classes, inputs_name)
    if not (math.isfinite(reg) and reg >= 0):
        raise InputError(f"reg: must be a finite number >= 0, not {reg}")
    return inputs, labels


def classifier_and_data(
    weights: ArrayLike | None,
    data: tuple[ArrayLike, ArrayLike] | None,
    *,
    rng: np.random.Generator,
    std: float = 0.1,
    batch: int = 20,
    inputs: int = 10,
    classes: int | None = None,
    weights_name: str = "W",
    data_names: tuple[str, str] = ("X", "y"),
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Complete weights and data, drawing what is not given, and validate them together.

    Parameters
    ----------
    weights : array_like, optional
        ``W`` (D, C); None draws `random_classifier` with ``std``, its D and
        C fitted to ``data`` if given (C is ``classes``, or the largest label + 1).
    data : (X, y), optional
        Inputs and labels; None draws `random_batch` of ``batch`` samples,
        fitted to the weights.
    rng : numpy.random.Generator
        Source of whatever is drawn.
    std, batch, inputs, classes
        Sizes of what is drawn (``inputs`` and ``classes`` only when neither
        weights nor data fix them; ``classes`` defaults to 5).
    weights_name, data_names : str
        What messages call the inputs, as for `validate_classifier`.

    Returns
    -------
    W, X, y
        As `validate_classifier` returns them.

    Raises
    ------
    InputError
        If what is given is malformed or does not fit together.
    """
    if weights is None:
        if data is not None:
            inputs = _width(data[0], data_names[0])
            classes = classes or _classes_in(data[1], data_names[1])
        weights = random_classifier(inputs, classes or 5, std=std, rng=rng)
    if data is None:
        d, classes = _weights(weights, weights_name).shape
        data = random_batch(batch, d, classes, rng=rng)
    return validate_classifier(weights, *data, weights_name=weights_name, data_names=data_names)


def resolve(implementation: str | LinearImplementation) -> tuple[str, LinearImplementation]:
    """Return ``(name, callable)`` for ``"linear"``, a ``FILE.py:NAME`` spec, or a callable.

    Raises
    ------
    ImplementationError
        For an unknown name, or a spec that cannot be loaded or called as
        ``f(W, X, y, reg)`` (one line saying why).
    """
    if callable(implementation):
        return getattr(implementation, "__name__", repr(implementation)), implementation
    if implementation == BUILT_IN:
        return BUILT_IN, softmax_linear_loss
    if plugins.is_plugin_spec(implementation):
        return plugins.load_implementation(implementation, arguments=ARGUMENTS)
    raise ImplementationError(
        f"unknown linear classifier {implementation!r} (built-in: {BUILT_IN}; or FILE.py:NAME)"
    )


# --- a parameter judged against its owner's own loss, as a black box ----------------------------


class LossFailure(Exception):
    """The owner's own loss failed at a perturbed point; ``args`` are (problem, traceback)."""


@dataclass(frozen=True)
class OwnLossCheck:
    """A gradient judged against black-box differences of its owner's own loss.

    How to read it:

    * ``verdict``/``reason`` as elsewhere; the reason starts "against its own loss".
    * ``method`` is ``"black-box central"`` (every entry differenced) or
      ``"black-box directional"`` (``entries_checked`` sampled entries plus
      ``directions`` random unit directions, each covering every entry).
    * Errors compare the analytic entries with the differences over the
      entries they resolve; ``unresolved`` counts differenced entries whose
      value is below the differences' own error bound.
    * ``skipped`` counts entries not differenced because a step would move a
      ReLU input across 0 (a kink: the difference would not be a derivative).
    * ``calls`` counts the loss evaluations (4 per entry or direction).
    """

    verdict: Verdict
    reason: str
    max_rel_error: float
    median_rel_error: float
    max_abs_error: float
    max_error_ratio: float
    worst: tuple[WorstEntry, ...]
    method: str
    entries_checked: int
    entries_total: int
    unresolved: int
    skipped: int
    directions: int
    calls: int

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data."""
        document: dict[str, Any] = json_ready(asdict(self))
        return document


def judge_own_loss(
    loss: Callable[[FloatArray], float],
    point: FloatArray,
    analytic: Float64Array,
    tiers: tuple[Float64Array, ...],
    *,
    name: str,
    rounding: float,
    curvature: float,
    rng: np.random.Generator,
    h: float | None = None,
    samples: int | None = None,
    budget: int = OWN_CALL_BUDGET,
    top: int = 5,
    skip: NDArray[np.bool_] | None = None,
    crosses: Callable[[Float64Array, float], bool] | None = None,
) -> OwnLossCheck:
    """Judge ``analytic`` against black-box central differences of ``loss`` around ``point``.

    Parameters
    ----------
    loss : callable
        ``loss(array) -> float``, the owner's own loss at a perturbed copy of
        ``point``; raises `LossFailure` when there is none.
    point : ndarray
        The parameter (``W``, ``W1``, ``b1``...), perturbed in its own dtype.
    analytic : ndarray, same shape
        The gradient under test.
    tiers : tuple of ndarray, same shape
        Rounding a correct implementation may show per entry: in its own
        float type, then (for float64) in float32, which makes a ``warn``.
    name : str
        The parameter's name, for entries in the reason (``dW[2, 1]``).
    rounding, curvature : float
        The model of one loss evaluation's rounding (a floor under the
        measured noise) and the size of the loss's third derivative, which
        choose the step (`gradcheck_cli.numeric.black_box_step`).
    rng : numpy.random.Generator
        Source of the sample and the directions.
    h : float, optional
        The step, instead of the one chosen.
    samples : int, optional
        Difference this many sampled entries plus random directions even when
        every entry would fit ``budget``.
    budget : int
        Every entry is differenced while ``4·size`` calls fit.
    top : int
        How many worst entries to keep.
    skip : ndarray of bool, optional
        Entries not to difference (a step would cross a kink).
    crosses : callable, optional
        ``crosses(direction, step) -> bool``: whether a step along a
        direction would cross a kink; such directions are dropped.

    Returns
    -------
    OwnLossCheck

    Raises
    ------
    LossFailure
        From ``loss``.

    Examples
    --------
    >>> import numpy as np
    >>> cube = lambda w: float(np.sum(w**3))
    >>> w = np.array([[1.0, 2.0]])
    >>> tiers = (np.full((1, 2), 1e-12),)
    >>> check = judge_own_loss(cube, w, 3 * w**2, tiers, name="w", rounding=1e-15,
    ...                        curvature=6.0, rng=np.random.default_rng(0))
    >>> check.verdict, check.method, check.calls
    ('pass', 'black-box central', 8)
    """
    size = point.size
    skipped = np.zeros(size, dtype=bool) if skip is None else skip.reshape(-1)
    usable = np.flatnonzero(~skipped)
    every = samples is None and 4 * size <= budget
    if every:
        entries: IntArray = usable
    else:
        count = min(samples or OWN_SAMPLE, usable.size)
        entries = np.sort(rng.choice(usable, size=count, replace=False))
    step = h or numeric.black_box_step(rounding, curvature)
    directions = [] if every else _directions(rng, point.shape, skipped, step, crosses)
    differences = []
    if entries.size:
        differences.append(numeric.black_box_central_difference(loss, point, entries, h=step))
    along = [numeric.directional_derivative(loss, point, v, analytic, h=step) for v in directions]
    noise = numeric.black_box_noise([*differences, *along], rounding)
    entry_probes = (
        _entry_probes(differences[0], entries, analytic, tiers, noise) if entries.size else []
    )
    direction_probes = [
        _direction_probe(d, v, analytic, tiers, noise)
        for d, v in zip(along, directions, strict=True)
    ]
    shape = point.shape
    worst = _own_worst(entry_probes, entries, shape, top)
    verdict, reason = _own_verdict(entry_probes, direction_probes, analytic, point.dtype)
    if verdict == "fail":
        bad = [w for w in worst if w.ratio > 1]
        if bad:
            w = bad[0]
            where = _entry_label(name, shape, w.row, w.column)
            pair = distinct_digits(w.analytic, w.numerical)
            reason += f"; worst {where}: analytic {pair[0]}, numerical {pair[1]}"
        else:
            k = next(k for k, p in enumerate(direction_probes) if p.ratio > 1)
            p = direction_probes[k]
            reason += (
                f"; along random direction {k + 1}: analytic {p.analytic:.6g}, "
                f"numerical {p.numerical:.6g} (no sampled entry stands out)"
            )
    numerical = np.array([p.numerical for p in entry_probes])
    values = np.array([p.analytic for p in entry_probes])
    resolved = np.array([p.resolved for p in entry_probes], dtype=bool)
    shown = resolved if resolved.any() else np.ones_like(resolved)
    rel = relative_error(values, numerical)[shown] if values.size else np.zeros(1)
    difference = np.abs(values - numerical) if values.size else np.zeros(1)
    return OwnLossCheck(
        verdict=verdict,
        reason=reason,
        max_rel_error=float(rel.max()),
        median_rel_error=float(np.median(rel)),
        max_abs_error=float(difference.max()),
        max_error_ratio=max((p.ratio for p in entry_probes + direction_probes), default=0.0),
        worst=worst,
        method="black-box central" if every else "black-box directional",
        entries_checked=int(entries.size),
        entries_total=size,
        unresolved=int((~resolved).sum()),
        skipped=int(skipped.sum()),
        directions=len(directions),
        calls=sum(d.calls for d in [*differences, *along]),
    )


def _directions(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    skipped: NDArray[np.bool_],
    step: float,
    crosses: Callable[[Float64Array, float], bool] | None,
) -> list[Float64Array]:
    """Draw `OWN_DIRECTIONS` random unit directions that leave skipped entries and kinks alone."""
    directions = []
    for _ in range(OWN_DIRECTIONS):
        v: Float64Array = rng.standard_normal(shape)
        v.reshape(-1)[skipped] = 0.0
        norm = math.sqrt(float(np.sum(v * v)))
        if norm == 0:
            continue
        v /= norm
        # The difference at 2h moves the point furthest: that is the step that must not cross.
        if crosses is not None and crosses(v, 2.0 * step):
            continue
        directions.append(v)
    return directions


def _entry_probes(
    difference: numeric.BlackBoxDifference,
    entries: IntArray,
    analytic: Float64Array,
    tiers: tuple[Float64Array, ...],
    noise: float,
) -> list[Probe]:
    """Judge differenced entries: the black-box error bound plus the implementation's rounding."""
    error = numeric.black_box_error(difference, noise)
    values = analytic.reshape(-1)[entries]
    strict, loose = (tier.reshape(-1)[entries] for tier in (tiers[0], tiers[-1]))
    return [
        Probe(
            numerical=float(difference.derivative[n]),
            analytic=float(values[n]),
            allowed=float(error[n] + strict[n]),
            loose=float(error[n] + loose[n]),
            resolved=bool(abs(difference.derivative[n]) > error[n]),
        )
        for n in range(len(entries))
    ]


def _direction_probe(
    difference: numeric.BlackBoxDifference,
    direction: Float64Array,
    analytic: Float64Array,
    tiers: tuple[Float64Array, ...],
    noise: float,
) -> Probe:
    """Judge ``vᵀa`` against the difference quotient along ``v``, as `gradcheck run` does."""
    error = float(numeric.black_box_error(difference, noise)[0])
    touched = direction != 0
    count = max(int(np.count_nonzero(touched)), 1)
    # The projection is itself a sum of n products: sqrt(n)·eps of their magnitudes.
    summing = EPS * math.sqrt(count) * float(np.sum(np.abs(direction * analytic)))
    # A correct implementation's rounding projects onto a random unit v as ‖e‖/√n.
    allowed = [
        error + summing + DIRECTION_SIGMAS * math.sqrt(float(np.sum(tier[touched] ** 2)) / count)
        for tier in (tiers[0], tiers[-1])
    ]
    return Probe(
        numerical=float(difference.derivative[0]),
        analytic=float(difference.projection[0]),
        allowed=allowed[0],
        loose=allowed[1],
        resolved=bool(abs(difference.derivative[0]) > error),
    )


def _own_worst(
    probes: list[Probe], entries: IntArray, shape: tuple[int, ...], top: int
) -> tuple[WorstEntry, ...]:
    """Return the ``top`` differenced entries furthest outside their allowance."""
    matrix = shape if len(shape) == 2 else (1, int(np.prod(shape)))
    order = sorted(range(len(probes)), key=lambda k: -probes[k].ratio)[:top]
    worst = []
    for k in order:
        row, column = np.unravel_index(int(entries[k]), matrix)
        worst.append(
            WorstEntry(
                row=int(row),
                column=int(column),
                analytic=probes[k].analytic,
                numerical=probes[k].numerical,
                abs_error=abs(probes[k].analytic - probes[k].numerical),
                tolerance=probes[k].allowed,
                ratio=probes[k].ratio,
                method="black-box central",
            )
        )
    return tuple(worst)


def _own_verdict(
    entries: list[Probe], directions: list[Probe], analytic: Float64Array, dtype: np.dtype[Any]
) -> tuple[Verdict, str]:
    """Return the verdict of a black-box check and its reason (the worst entry is added after)."""
    failing = sum(p.ratio > 1 for p in entries)
    failing_directions = sum(p.ratio > 1 for p in directions)
    if not failing and not failing_directions:
        unresolved = sum(not p.resolved for p in entries)
        if entries + directions and not any(p.resolved for p in entries + directions):
            return "warn", (
                "against its own loss: black-box differences resolve no entry and no direction "
                "(its rounding is as large as what the steps change)"
            )
        if unresolved:
            return "pass", (
                f"against its own loss: {unresolved} of {len(entries)} entries below what "
                "black-box differences resolve"
            )
        return "pass", ""
    parts = []
    if failing:
        parts.append(f"{failing} of {len(entries)} differenced entries outside tolerance")
    if failing_directions:
        parts.append(
            f"{failing_directions} of {len(directions)} random directions outside tolerance"
        )
    reason = "against its own loss: " + ", ".join(parts)
    if dtype == np.float64 and float32_only(entries, directions, analytic):
        return "warn", reason + " at float64 precision; correct to float32 precision only"
    return "fail", reason


def distinct_digits(a: float, b: float) -> tuple[str, str]:
    """Format two values with as many significant digits (6 to 17) as show how they differ.

    Parameters
    ----------
    a, b : float
        An analytic and a numerical value, say.

    Returns
    -------
    tuple of str
        Both, formatted alike: ``.6g`` unless that would print them equal.

    Examples
    --------
    >>> distinct_digits(0.0682211234, 0.0682211267)
    ('0.0682211234', '0.0682211267')
    """
    scale = max(abs(a), abs(b))
    gap = abs(a - b)
    digits = 6 if gap == 0 or scale == 0 else int(math.ceil(math.log10(scale / gap))) + 1
    digits = min(max(digits, 6), 17)
    return f"{a:.{digits}g}", f"{b:.{digits}g}"


def _term(convention: Convention) -> str:
    """Return a convention's regularization term alone: ``reg·ΣW²`` or ``½·reg·ΣW²``."""
    return CONVENTIONS[convention].split(" (")[0]


def _entry_label(name: str, shape: tuple[int, ...], row: int, column: int) -> str:
    """Name a parameter's entry as numpy indexes it: ``dW[2, 3]``, or ``b1[3]`` for a vector."""
    return f"{name}[{column}]" if len(shape) == 1 else f"{name}[{row}, {column}]"


# --- the check ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceCheck:
    """``dW`` judged, every entry, against the exact gradient of the convention its loss follows.

    ``convention`` is ``"full"`` (``Xᵀ·(P − Y)/N + 2·reg·W``) or ``"half"``
    (``+ reg·W``); when the loss cannot tell them apart, the one ``dW`` is
    closer to. Relative errors are ``|a − r| / max(|a|, |r|, m)`` with ``m``
    the entry's magnitude (module docstring), so an entry that cancels to
    almost 0 does not report rounding as a relative error of 1.
    ``max_error_ratio`` is the largest error over its tolerance: at most 1 passes.
    """

    convention: Convention
    verdict: Verdict
    reason: str
    max_rel_error: float
    median_rel_error: float
    max_abs_error: float
    max_error_ratio: float
    failed_entries: int
    worst: tuple[WorstEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data."""
        document: dict[str, Any] = json_ready(asdict(self))
        return document


@dataclass(frozen=True)
class LinearResult:
    """The check of one linear classifier ``f(W, X, y, reg) -> (loss, dW)``.

    How to read it:

    * ``verdict`` is the worst of the loss's, the two gradient checks' and the
      call's (an exception or a malformed return fails, writing to an input
      warns); ``reason`` says why, empty on a clean pass.
    * ``loss`` is what it returned; ``convention`` the regularization its loss
      follows (`ConventionMatch`), ``reference_loss`` the float64 softmax loss
      of ``X·W`` plus that ``R``, and ``loss_verdict``/``loss_reason`` the
      loss's own judgement (a loss that follows no convention fails).
    * ``reference`` judges ``dW`` against the exact gradient of that
      convention (`ReferenceCheck`; None when the loss follows none).
    * ``own`` judges ``dW`` against the numerical gradient of its own loss
      (`OwnLossCheck`; None when the call gave no usable loss and gradient).
    * ``seconds`` is the median time of one call over ``calls`` calls (the
      first, plus every call the black-box check made).
    * ``problem`` is what went wrong with the call itself, empty if nothing did;
      ``user_traceback`` its own traceback (gradcheck's frames removed).
    * ``gradient`` (not in ``to_dict``) is the returned ``dW`` in float64.
    """

    name: str
    verdict: Verdict
    reason: str
    loss: float | None
    reference_loss: float
    convention: Convention
    loss_verdict: Verdict
    loss_reason: str
    reference: ReferenceCheck | None
    own: OwnLossCheck | None
    seconds: float
    calls: int
    dtype: str
    problem: str = ""
    floating_point_warnings: tuple[str, ...] = ()
    modified_inputs: tuple[str, ...] = ()
    user_traceback: str = ""
    gradient: Float64Array | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data (without the gradient itself)."""
        document = {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("gradient", "reference", "own")
        }
        document["convention_text"] = CONVENTIONS[self.convention]
        document["reference"] = None if self.reference is None else self.reference.to_dict()
        document["own"] = None if self.own is None else self.own.to_dict()
        plain: dict[str, Any] = json_ready(document)
        return plain


@dataclass(frozen=True)
class Agreement:
    """Whether two implementations agree, loss and gradient, as a notebook checks by hand.

    ``loss_difference`` is ``|L_first − L_second|``; ``gradient_difference``
    the Frobenius norm of ``dW_first − dW_second`` (what the course's notebooks
    print); ``max_rel_difference`` the largest entry's ``|a − b| / max(|a|,
    |b|, m)``. Each agrees when within the sum of both implementations'
    rounding allowances (module docstring); ``precision`` says at which tier
    they agree (``"float64"``, or ``"float32"`` when one of them computes in
    float32; empty when they do not). ``worst`` is the entry furthest
    apart (``analytic`` is the first's value, ``numerical`` the second's).
    ``explanation`` names a likely cause when they disagree: different
    regularization conventions, or one of them failing its own check.
    """

    first: str
    second: str
    agree: bool
    precision: str
    loss_agrees: bool
    gradient_agrees: bool
    loss_difference: float
    gradient_difference: float
    max_rel_difference: float
    worst: WorstEntry | None
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data."""
        document: dict[str, Any] = json_ready(asdict(self))
        return document


@dataclass(frozen=True)
class LinearCheckResult:
    """The check of one or more linear classifiers on one ``W``, ``X``, ``y`` and ``reg``.

    ``verdict`` is the worst of the implementations' verdicts, and a fail when
    two of them disagree; ``reason`` lists why. ``implementations`` holds one
    `LinearResult` each, ``agreements`` one `Agreement` per pair (in the order
    given). ``data_loss`` is the float64 softmax loss of ``X·W`` and
    ``squares`` is ``ΣW²``; ``N, D, C`` the sizes; ``dtype`` the float type a
    correct implementation is expected to work in.
    """

    verdict: Verdict
    reason: str
    implementations: tuple[LinearResult, ...]
    agreements: tuple[Agreement, ...]
    reg: float
    N: int
    D: int
    C: int
    dtype: str
    data_loss: float
    squares: float

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data."""
        document = {
            key: value
            for key, value in self.__dict__.items()
            if key not in ("implementations", "agreements")
        }
        document["implementations"] = [result.to_dict() for result in self.implementations]
        document["agreements"] = [agreement.to_dict() for agreement in self.agreements]
        plain: dict[str, Any] = json_ready(document)
        return plain


def check_linear(
    implementations: str | LinearImplementation | Sequence[str | LinearImplementation],
    W: ArrayLike,
    X: ArrayLike,
    y: ArrayLike,
    reg: float = 0.0,
    *,
    samples: int | None = None,
    h: float | None = None,
    rng: np.random.Generator | None = None,
    top: int = 5,
) -> LinearCheckResult:
    """Check linear softmax classifiers ``f(W, X, y, reg) -> (loss, dW)``, and their agreement.

    Parameters
    ----------
    implementations : str, callable, or a sequence of them
        ``"linear"`` (the seed's, `softmax_linear_loss`), a ``FILE.py:NAME``
        or ``package.module:NAME`` spec, or ``f(W, X, y, reg) -> (loss, dW)``.
        Each call gets its own copies of the inputs.
    W : array_like, shape (D, C)
        Weights.
    X : array_like, shape (N, D)
        Inputs.
    y : array_like of int, shape (N,)
        Correct classes, in ``[0, C)``.
    reg : float
        Regularization strength.
    samples : int, optional
        Difference this many sampled entries (plus random directions) of
        each implementation's own loss; by default every entry while that
        fits `OWN_CALL_BUDGET` calls. The reference check is always complete.
    h : float, optional
        The black-box step (default: chosen from the loss's rounding).
    rng : numpy.random.Generator, optional
        Source of the sample and the directions (default seed 0); every
        implementation gets the same ones.
    top : int
        How many worst entries to keep.

    Returns
    -------
    LinearCheckResult

    Raises
    ------
    InputError
        If the weights and data do not fit together.
    ImplementationError
        If an implementation cannot be resolved, or its first call needs a
        module that is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> W = random_classifier(4, 3, rng=rng)
    >>> X, y = random_batch(6, 4, 3, rng=rng)
    >>> result = check_linear("linear", W, X, y, reg=0.1)
    >>> result.verdict, result.implementations[0].convention
    ('pass', 'half')
    """
    _check_options(samples, h, top)
    given = (
        [implementations]
        if isinstance(implementations, str) or callable(implementations)
        else implementations
    )
    resolved = [resolve(implementation) for implementation in given]
    if not resolved:
        raise ValueError("`implementations` must name at least one implementation.")
    weights, inputs, labels = validate_classifier(W, X, y, reg)
    model = _prepare(weights, inputs, labels, reg)
    seed = int((rng or np.random.default_rng(0)).integers(2**63))
    results = tuple(
        _check_one(name, function, model, samples=samples, h=h, top=top, seed=seed)
        for name, function in resolved
    )
    agreements = tuple(
        _agreement(results[a], results[b], model)
        for a in range(len(results))
        for b in range(a + 1, len(results))
    )
    verdicts = [(r.verdict, f"{r.name}: {r.reason}") for r in results]
    verdicts += [("fail", f"{g.first} and {g.second} disagree") for g in agreements if not g.agree]
    verdict: Verdict = max((v for v, _ in verdicts), key=SEVERITY.__getitem__)
    reason = "; ".join(text for v, text in verdicts if v != "pass")
    n, d = inputs.shape
    return LinearCheckResult(
        verdict=verdict,
        reason=reason,
        implementations=results,
        agreements=agreements,
        reg=float(reg),
        N=n,
        D=d,
        C=weights.shape[1],
        dtype=str(model.dtype),
        data_loss=model.data_loss,
        squares=model.squares,
    )


@dataclass(frozen=True)
class _Classifier:
    """The classifier in float64 with everything the references and tolerances share."""

    W: FloatArray
    X: FloatArray
    y: IntArray
    reg: float
    dtype: np.dtype[Any]
    data_loss: float
    squares: float
    data_gradient: Float64Array
    data_magnitude: Float64Array
    weights64: Float64Array
    kappa: float
    max_score: float

    def gradient(self, factor: float) -> Float64Array:
        """Return the exact ``dW`` of ``R = factor·reg·ΣW²``."""
        result: Float64Array = self.data_gradient + 2.0 * factor * self.reg * self.weights64
        return result

    def magnitude(self, factor: float) -> Float64Array:
        """Return the magnitude of each entry of ``dW`` (module docstring) for that convention."""
        result: Float64Array = self.data_magnitude + 2.0 * factor * self.reg * np.abs(
            self.weights64
        )
        return result

    def tiers(self, factor: float) -> tuple[Float64Array, ...]:
        """Per-entry rounding a correct ``dW`` may show: own float type, then float32."""
        types = [self.dtype] + ([np.dtype(np.float32)] if self.dtype == np.float64 else [])
        magnitude = self.magnitude(factor)
        return tuple(
            SAFETY * float(np.finfo(t).eps) * self.kappa * magnitude + _TINY for t in types
        )

    def loss_allowed(self) -> tuple[float, ...]:
        """How far a correct loss may be from its reference: own float type, then float32."""
        d, c = self.W.shape
        scale = (
            self.kappa * max(1.0, abs(self.data_loss)) + math.sqrt(d * c) * self.reg * self.squares
        )
        types = [self.dtype] + ([np.dtype(np.float32)] if self.dtype == np.float64 else [])
        return tuple(SAFETY * float(np.finfo(t).eps) * scale for t in types)


def _prepare(W: FloatArray, X: FloatArray, y: IntArray, reg: float) -> _Classifier:
    """Compute the float64 scores, softmax, data loss, gradient and magnitudes."""
    w64 = np.asarray(W, dtype=np.float64)
    x64 = np.asarray(X, dtype=np.float64)
    n, d = x64.shape
    classes = w64.shape[1]
    scores = x64 @ w64
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= np.sum(probabilities, axis=1, keepdims=True)
    dscores = probabilities.copy()
    dscores[np.arange(n), y] -= 1.0
    dscores /= n
    # G = (P + Y)/N: the scale of dL/dscores, held at 1/N on the label where p − 1 cancels.
    scale = probabilities.copy()
    scale[np.arange(n), y] += 1.0
    scale /= n
    score_size = float(np.max(np.abs(x64) @ np.abs(w64)))
    kappa = 1 + min(score_size, SCORE_CAP) + sum(math.sqrt(k) for k in (classes, n, d))
    dtype = np.result_type(W, X)
    return _Classifier(
        W=W,
        X=X,
        y=y,
        reg=float(reg),
        dtype=dtype if dtype in (np.float16, np.float32) else np.dtype(np.float64),
        data_loss=numeric.reference_loss(scores, y),
        squares=float(np.sum(np.square(w64))),
        data_gradient=x64.T @ dscores,
        data_magnitude=np.abs(x64).T @ scale,
        weights64=w64,
        kappa=kappa,
        max_score=float(np.max(np.abs(scores))),
    )


@dataclass(frozen=True)
class _Call:
    """What one call of a linear classifier gave back."""

    loss: float | None
    gradient: Float64Array | None
    problem: str
    seconds: float
    warnings: tuple[str, ...]
    modified: tuple[str, ...]
    traceback: str
    missing_module: str


def _call(
    function: LinearImplementation,
    W: FloatArray,
    X: FloatArray,
    y: IntArray,
    reg: float,
    *,
    with_gradient: bool = True,
) -> _Call:
    """Call ``function`` on copies, recording floating-point warnings, mutation and errors.

    With ``with_gradient=False`` (the black-box evaluations) only the loss is
    read, and writing to the copies is not looked for: the first call did.
    """
    copies = (W.copy(), X.copy(), y.copy())
    output: Any = None
    problem, user_traceback, missing = "", "", ""
    with (
        warnings.catch_warnings(record=True) as caught,
        np.errstate(all="warn"),
        plugins.user_output_to_stderr(),
    ):
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            output = function(*copies, reg)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure is its verdict
            problem = f"raised {type(exc).__name__}: {' '.join(str(exc).split())}".rstrip(": ")
            user_traceback = format_user_traceback(exc)
            if isinstance(exc, ModuleNotFoundError) and exc.name:
                missing = plugins.missing_module(exc)
        seconds = time.perf_counter() - start
    messages = tuple(dict.fromkeys(str(w.message) for w in caught))
    modified = tuple(
        label
        for label, before, after in zip(ARGUMENTS[:3], (W, X, y), copies, strict=True)
        if with_gradient and not np.array_equal(before, after, equal_nan=True)
    )
    base = _Call(None, None, problem, seconds, messages, modified, user_traceback, missing)
    if problem:
        return base
    if not (isinstance(output, (tuple, list)) and len(output) == 2):
        return replace(base, problem=f"returned {type(output).__name__}; expected (loss, dW)")
    raw_loss, raw_gradient = output
    try:
        loss = float(np.asarray(raw_loss, dtype=np.float64).item())
    except (TypeError, ValueError) as exc:
        return replace(base, problem=f"returned a loss that is not one number ({exc})")
    if not with_gradient:
        return replace(base, loss=loss)
    gradient, gradient_problem = _as_gradient(raw_gradient, W.shape, messages)
    return replace(base, loss=loss, gradient=gradient, problem=gradient_problem)


def _as_gradient(
    value: Any, shape: tuple[int, ...], messages: tuple[str, ...]
) -> tuple[Float64Array | None, str]:
    """Turn a returned ``dW`` into a float64 array of W's shape, or say what is wrong with it."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        return None, f"returned a dW that is not an array ({exc})"
    if array.dtype.kind not in "iuf":
        return None, f"returned a dW of dtype {array.dtype}; expected real numbers"
    if array.shape != shape:
        transposed = " (transposed)" if array.shape == shape[::-1] else ""
        return None, f"returned a dW of shape {array.shape}{transposed}; W has shape {shape}"
    finite = np.isfinite(array)
    if not finite.all():
        first = tuple(int(k) for k in np.argwhere(~finite)[0])
        text = f"{int((~finite).sum())} dW entries are nan or inf (first at {first})"
        cause = "; ".join(messages)
        return None, f"{cause}: {text}" if cause else text
    gradient: Float64Array = array.astype(np.float64)
    return gradient, ""


def _check_one(
    name: str,
    function: LinearImplementation,
    model: _Classifier,
    *,
    samples: int | None,
    h: float | None,
    top: int,
    seed: int,
) -> LinearResult:
    """Call one implementation, detect its convention, and judge its dW both ways."""
    first = _call(function, model.W, model.X, model.y, model.reg)
    if first.missing_module:
        raise ImplementationError(f"{name}: calling it failed: {first.missing_module}")
    durations = [first.seconds]
    match = detect_convention(
        first.loss, model.data_loss, model.squares, model.reg, model.loss_allowed()
    )
    base = LinearResult(
        name=name,
        verdict="fail",
        reason=first.problem,
        loss=first.loss,
        reference_loss=match.reference_loss,
        convention=match.convention,
        loss_verdict=match.verdict,
        loss_reason=match.reason,
        reference=None,
        own=None,
        seconds=first.seconds,
        calls=1,
        dtype=str(model.dtype),
        problem=first.problem,
        floating_point_warnings=first.warnings,
        modified_inputs=first.modified,
        user_traceback=first.traceback,
        gradient=first.gradient,
    )
    if first.problem or first.gradient is None or first.loss is None:
        return base
    if not math.isfinite(first.loss):  # nothing to difference, no convention to judge against
        return replace(base, reason=f"loss: {match.reason}")
    gradient = first.gradient
    reference = _reference_check(gradient, model, match, top) if match.factors else None
    factor = match.factors[0] if match.factors else 1.0

    def own_loss(weights: FloatArray) -> float:
        """Return the implementation's own loss at perturbed weights: one more call."""
        call = _call(function, weights, model.X, model.y, model.reg, with_gradient=False)
        durations.append(call.seconds)
        if call.problem:
            raise LossFailure(call.problem, call.traceback)
        if call.loss is None or not math.isfinite(call.loss):
            raise LossFailure(f"returned a loss of {call.loss}", "")
        return call.loss

    user_traceback = ""
    try:
        own = judge_own_loss(
            own_loss,
            model.W,
            gradient,
            model.tiers(factor),
            name="dW",
            rounding=numeric.black_box_rounding(
                first.loss, np.array([model.max_score]), model.dtype
            ),
            curvature=_curvature(model),
            rng=np.random.default_rng(seed),
            h=h,
            samples=samples,
            top=top,
        )
    except LossFailure as failure:
        problem, user_traceback = failure.args
        own = _failed_own(
            f"against its own loss: at perturbed W it {problem}", model.W.size, len(durations) - 1
        )
    verdicts: list[tuple[Verdict, str]] = [(match.verdict, f"loss: {match.reason}")]
    if reference is not None:
        label = f"dW against the exact gradient (+ {_term(reference.convention)})"
        verdicts.append((reference.verdict, f"{label}: {reference.reason}"))
    if reference is not None and reference.verdict == "fail" and own.verdict == "fail":
        # Both say the same: keep the second short.
        verdicts.append(("fail", f"dW {own.reason.split('; ')[0]} too"))
    else:
        verdicts.append((own.verdict, f"dW {own.reason}"))
    if first.modified:
        verdicts.append(("warn", f"modified its input {' and '.join(first.modified)}"))
    verdict: Verdict = max((v for v, _ in verdicts), key=SEVERITY.__getitem__)
    reason = "; ".join(text for v, text in verdicts if v != "pass")
    return replace(
        base,
        verdict=verdict,
        reason=reason,
        reference=reference,
        own=own,
        seconds=statistics.median(durations),
        calls=len(durations),
        user_traceback=user_traceback,
    )


def _curvature(model: _Classifier) -> float:
    """Return the size of the loss's third derivative along one entry of W, to choose the step.

    Moving ``W[d, c]`` moves column c of the scores by ``X[:, d]``; a row
    loss's third derivative along a score is at most ``|p(1-p)(1-2p)| <= 0.1``.
    """
    x64 = np.asarray(model.X, dtype=np.float64)
    cubes = np.mean(np.abs(x64) ** 3, axis=0)
    return max(0.1 * float(np.max(cubes)), 1e-300)


def _reference_check(
    gradient: Float64Array, model: _Classifier, match: ConventionMatch, top: int
) -> ReferenceCheck:
    """Judge every entry of dW against the exact gradient of the convention(s) the loss allows."""
    checks = [_judge_reference(gradient, model, factor, top) for factor in match.factors]
    best = min(checks, key=lambda check: check.max_error_ratio)
    if best.verdict != "pass" and len(match.factors) == 1:
        # The commonest mix-up: the loss follows one convention, dW the other's gradient. When
        # dW is that gradient to full precision, this is the cause, whatever the error's size
        # (with reg = 5e-6 it can be as small as float32 rounding, yet it is no rounding).
        other = REG_FACTOR["half"] if match.factors[0] == REG_FACTOR["full"] else REG_FACTOR["full"]
        if _judge_reference(gradient, model, other, top).verdict == "pass":
            term = "reg·W" if other == REG_FACTOR["half"] else "2·reg·W"
            wrong = _term("half" if other == REG_FACTOR["half"] else "full")
            w = best.worst[0]
            analytic, exact = distinct_digits(w.analytic, w.numerical)
            reason = (
                f"{best.failed_entries} of {gradient.size} entries outside tolerance; worst "
                f"dW[{w.row}, {w.column}]: analytic {analytic}, exact {exact}; "
                f"dW has {term}, the gradient of {wrong}: the loss and dW mix conventions"
            )
            best = replace(best, verdict="fail", reason=reason)
    return best


def _judge_reference(
    gradient: Float64Array, model: _Classifier, factor: float, top: int
) -> ReferenceCheck:
    """Judge dW against ``Xᵀ·(P − Y)/N + 2·factor·reg·W``, its tolerance and float32 tier."""
    exact = model.gradient(factor)
    magnitude = model.magnitude(factor)
    tiers = model.tiers(factor)
    own_error = 4.0 * EPS * model.kappa * magnitude  # the float64 reference's own rounding
    error = np.abs(gradient - exact)
    allowed = tiers[0] + own_error
    ratio = error / allowed
    failing = ratio > 1
    size = gradient.size
    verdict: Verdict = "pass"
    reason = ""
    if failing.any():
        verdict, reason = "fail", f"{int(failing.sum())} of {size} entries outside tolerance"
        if len(tiers) > 1 and bool(np.all(error <= tiers[-1] + own_error)):
            verdict = "warn"
            reason = (
                f"{int(failing.sum())} of {size} entries are correct to float32 precision only "
                f"(worst {float(ratio.max()):.3g}× the float64 tolerance)"
            )
    order = np.argsort(-ratio, axis=None, kind="stable")[:top]
    worst = []
    for flat in order:
        row, column = np.unravel_index(int(flat), gradient.shape)
        worst.append(
            WorstEntry(
                row=int(row),
                column=int(column),
                analytic=float(gradient[row, column]),
                numerical=float(exact[row, column]),
                abs_error=float(error[row, column]),
                tolerance=float(allowed[row, column]),
                ratio=float(ratio[row, column]),
                method="reference",
            )
        )
    if verdict != "pass":
        w = worst[0]
        analytic, reference = distinct_digits(w.analytic, w.numerical)
        reason += f"; worst dW[{w.row}, {w.column}]: analytic {analytic}, exact {reference}"
    rel = relative_error(gradient, exact, magnitude)
    convention: Convention = "full" if factor == REG_FACTOR["full"] else "half"
    return ReferenceCheck(
        convention=convention,
        verdict=verdict,
        reason=reason,
        max_rel_error=float(rel.max()),
        median_rel_error=float(np.median(rel)),
        max_abs_error=float(error.max()),
        max_error_ratio=float(ratio.max()),
        failed_entries=int(failing.sum()),
        worst=tuple(worst),
    )


def _failed_own(reason: str, size: int, calls: int) -> OwnLossCheck:
    """Return an own-loss check that could not finish: its loss failed at a perturbed point."""
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
        entries_total=size,
        unresolved=0,
        skipped=0,
        directions=0,
        calls=calls,
    )


def _agreement(first: LinearResult, second: LinearResult, model: _Classifier) -> Agreement:
    """Compare two implementations' losses and gradients within both their rounding."""
    names = (first.name, second.name)
    if (
        first.gradient is None
        or second.gradient is None
        or first.loss is None
        or second.loss is None
    ):
        missing = first.name if first.gradient is None or first.loss is None else second.name
        return Agreement(
            *names,
            agree=False,
            precision="",
            loss_agrees=False,
            gradient_agrees=False,
            loss_difference=math.nan,
            gradient_difference=math.nan,
            max_rel_difference=math.nan,
            worst=None,
            explanation=f"{missing} returned no usable loss and dW",
        )
    loss_difference = abs(first.loss - second.loss)
    error = np.abs(first.gradient - second.gradient)
    # Each may round by its own allowance; the larger convention's magnitude covers both. Within
    # the float32 tier they still agree (one of them computes in float32), and the result says so.
    tiers, losses = model.tiers(REG_FACTOR["full"]), model.loss_allowed()
    if not (_computes_in_float32(first) or _computes_in_float32(second)):
        tiers, losses = tiers[:1], losses[:1]  # a float64 pair must agree to float64 precision
    loss_agrees = loss_difference <= 2 * losses[-1]
    gradient_agrees = bool(np.all(error <= 2 * tiers[-1]))
    agree = loss_agrees and gradient_agrees
    strictly = loss_difference <= 2 * losses[0] and bool(np.all(error <= 2 * tiers[0]))
    precision = str(model.dtype) if strictly else "float32" if agree else ""
    ratio = error / (2 * tiers[0])
    flat = int(np.argmax(ratio))
    row, column = np.unravel_index(flat, error.shape)
    worst = WorstEntry(
        row=int(row),
        column=int(column),
        analytic=float(first.gradient[row, column]),
        numerical=float(second.gradient[row, column]),
        abs_error=float(error[row, column]),
        tolerance=float(2 * tiers[0][row, column]),
        ratio=float(ratio[row, column]),
        method="agreement",
    )
    rel = relative_error(first.gradient, second.gradient, model.magnitude(REG_FACTOR["full"]))
    explanation = "they agree to float32 precision only" if agree and not strictly else ""
    conventions = {first.convention, second.convention}
    if not agree and conventions == {"full", "half"}:
        terms = f"{_term(first.convention)} and {_term(second.convention)}"
        explanation = f"they follow different regularization conventions ({terms})"
    elif not agree and (first.verdict == "fail") != (second.verdict == "fail"):
        failing = first.name if first.verdict == "fail" else second.name
        explanation = f"{failing} fails its check"
    return Agreement(
        *names,
        agree=agree,
        precision=precision,
        loss_agrees=loss_agrees,
        gradient_agrees=gradient_agrees,
        loss_difference=loss_difference,
        gradient_difference=float(np.sqrt(np.sum(error**2))),
        max_rel_difference=float(rel.max()),
        worst=worst,
        explanation=explanation,
    )


def _computes_in_float32(row: LinearResult) -> bool:
    """Whether an implementation shows float32 arithmetic: float32 values, or a float32 warn."""
    gradient = row.gradient
    if gradient is not None and bool(np.array_equal(gradient, gradient.astype(np.float32))):
        return True
    checks = [row.reference, row.own]
    return row.loss_verdict == "warn" or any(c is not None and c.verdict == "warn" for c in checks)


# --- validation helpers (shared with `gradcheck_cli.net`) ----------------------------------------


def _real_array(data: ArrayLike, name: str) -> FloatArray:
    """Return a C-contiguous float copy of finite real data, naming ``name`` in any error."""
    try:
        array = np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: cannot be turned into an array ({exc})") from exc
    if array.dtype.kind in "iu":
        array = array.astype(np.float64)
    elif array.dtype.type not in (np.float16, np.float32, np.float64):
        raise InputError(f"{name}: has dtype {array.dtype}; expected real numbers")
    result: FloatArray = np.array(array, dtype=array.dtype.newbyteorder("="), order="C")
    bad = np.argwhere(~np.isfinite(result))
    if bad.size:
        where = tuple(int(k) for k in bad[0])
        raise InputError(f"{name}: {len(bad)} non-finite value(s), the first at {where}")
    return result


def _weights(W: ArrayLike, name: str) -> FloatArray:
    """Return weights as a finite real (D, C) float array with C >= 2, naming ``name`` if not."""
    weights = _real_array(W, name)
    if weights.ndim != 2 or 0 in weights.shape:
        raise InputError(f"{name}: must be a non-empty (D, C) matrix, got shape {weights.shape}")
    classes = weights.shape[1]
    if classes < 2:
        problem = f"has {classes} class (shape {weights.shape}); the softmax loss needs 2 or more"
        raise InputError(f"{name}: {problem}")
    return weights


def _labels(y: ArrayLike, name: str, n: int, classes: int, inputs_name: str) -> IntArray:
    """Return labels as intp after checking they are N integers in ``[0, C)``."""
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or array.dtype.kind not in "iuf":
        raise InputError(f"{name}: labels must be integers of shape (N,), got {array.shape}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array) & (array == np.round(array))):
        raise InputError(f"{name}: labels must be whole numbers")
    if array.shape[0] != n:
        raise InputError(f"{name}: has {array.shape[0]} labels but {inputs_name} has {n} rows")
    bad = np.flatnonzero((array < 0) | (array >= classes))
    if bad.size:
        row = int(bad[0])
        raise InputError(f"{name}: label {array[row]} at row {row} is out of range [0, {classes})")
    return array.astype(np.intp)


def _width(X: ArrayLike, name: str) -> int:
    """Return D of inputs (N, D), to fit random weights to them."""
    shape = _real_array(X, name).shape
    if len(shape) != 2 or 0 in shape:
        raise InputError(f"{name}: inputs must be a non-empty 2-D (N, D) array, got shape {shape}")
    return int(shape[1])


def _classes_in(y: ArrayLike, name: str, drawn: str = "random weights") -> int:
    """Return the largest label + 1 (at least 2), to fit what is ``drawn`` to the labels."""
    array = np.asarray(y)
    if array.dtype.kind not in "iuf" or array.size == 0 or not np.all(np.isfinite(array)):
        return 2  # the validation reports what is wrong with them
    classes = max(2, int(np.max(array)) + 1)
    if classes > _MAX_RANDOM_CLASSES:
        raise InputError(f"{name}: largest label {classes - 1} is too large for {drawn}")
    return classes


def _check_sizes(**sizes: int) -> None:
    """Validate the sizes of random weights or a random batch, naming each one."""
    for key, value in sizes.items():
        if value < 1:
            raise ValueError(f"`{key}` must be a positive integer.")
    if sizes.get("classes", 2) < 2:
        raise ValueError("`classes` must be at least 2.")


def _check_options(samples: int | None, h: float | None, top: int) -> None:
    """Validate the options of `check_linear`, naming each one."""
    if samples is not None and samples < 1:
        raise ValueError("`samples` must be a positive integer.")
    if h is not None and not (0 < h < 1):
        raise ValueError("`h` must be a step between 0 and 1.")
    if top < 1:
        raise ValueError("`top` must be a positive integer.")
