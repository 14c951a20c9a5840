"""Numerical gradients of the softmax loss: complex step and central difference.

The loss is a mean of per-row losses ``L_i``, and ``L_i`` depends on row ``i``
only, so perturbing a whole column at once recovers ``dL_i/ds[i, b]`` for every
row in one evaluation (column grouping, as in Curtis, Powell and Reid 1974).
Better still, perturbing ``s[i, b]`` changes one term of row ``i``'s sum: with
each row's shift and sum kept (`RowStatistics`), every perturbed row loss
costs O(1), and a full check of all N·C entries costs O(N·C), the price of a
few loss evaluations.

Both methods go through one function, `perturbed_row_losses`, that evaluates
``L_i(s + t·e_ib) - M_i`` for real or complex steps ``t``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gradcheck_cli._typing import Float64Array, FloatArray, IntArray

EPS = float(np.finfo(np.float64).eps)
COMPLEX_STEP = 1e-20
"""The complex step: small enough that the O(h²) truncation is far below eps."""
CENTRAL_STEP = float((3 * EPS) ** (1 / 3))
"""Balances central difference's O(h²) truncation against its O(eps/h) rounding."""
_KEEP_NORMAL = 1e-290
_LARGEST_COMPLEX_STEP = 1e-8
BLOCK_ENTRIES = 1 << 18
"""Rows are processed in blocks of about this many entries, so memory stays bounded."""


@dataclass(frozen=True)
class RowStatistics:
    """Per-row quantities from which every perturbed row loss follows in O(1).

    With ``u[i, j] = s[i, j] - s[i, y_i]`` and ``M_i = max_j u[i, j] >= 0``,
    ``L_i = M_i + log1p(excess_i)``. ``terms[i, j] = exp(u[i, j] - M_i)``;
    ``rest_i`` sums the terms off the label, and ``excess_i = terms[i, y_i] - 1
    + rest_i`` is the row sum minus one. When the label holds the row's
    maximum, ``terms[i, y_i] - 1`` is exactly 0, so ``excess_i`` and
    ``rest_i = 1 - p[i, y_i]`` keep full relative precision however small they
    are: that is what makes the label entry exact on a confident row.
    """

    labels: IntArray
    shift: Float64Array
    terms: Float64Array
    rest: Float64Array
    excess: Float64Array


def row_statistics(scores: FloatArray, labels: IntArray) -> RowStatistics:
    """Compute `RowStatistics` for the rows of ``scores`` in float64."""
    s = np.asarray(scores, dtype=np.float64)
    n = s.shape[0]
    u = s - s[np.arange(n), labels][:, None]
    shift = np.max(u, axis=1)
    terms = np.exp(u - shift[:, None])
    label_terms = terms[np.arange(n), labels]
    off_label = terms.copy()
    off_label[np.arange(n), labels] = 0.0
    rest = np.sum(off_label, axis=1)
    excess = (label_terms - 1.0) + rest
    return RowStatistics(labels, shift, terms, rest, excess)


def reference_row_losses(scores: FloatArray, labels: IntArray) -> Float64Array:
    """Return each row's loss ``logsumexp(s[i]) - s[i, y_i]`` in float64, without overflow."""
    stats = row_statistics(scores, labels)
    return stats.shift + np.log1p(stats.excess)


def reference_loss(scores: FloatArray, labels: IntArray) -> float:
    """Return the softmax loss ``mean_i L_i`` in float64, computed blockwise."""
    total = 0.0
    for _, chosen in _row_blocks(scores, None):
        total += float(np.sum(reference_row_losses(scores[chosen], labels[chosen])))
    return total / int(scores.shape[0])


def perturbed_row_losses(stats: RowStatistics, steps: np.ndarray) -> np.ndarray:
    """Evaluate ``L_i(s + t_ij·e_ij) - M_i`` for every entry, each with its own step.

    Parameters
    ----------
    stats : RowStatistics
        The statistics of n rows.
    steps : ndarray, shape (n, C), float64 or complex128
        ``steps[i, j]`` is the perturbation of ``s[i, j]``.

    Returns
    -------
    ndarray, shape (n, C)
        The perturbed row losses less the row shift ``M_i``, which no step changes.

    Notes
    -----
    Moving ``s[i, b]`` off the label by ``t`` scales one term:
    ``excess + terms[i, b]·expm1(t)``. Moving the label's own score by ``t``
    moves every other ``u[i, j]`` by ``-t``: ``excess + rest·expm1(-t)``.
    Both stay in ``log1p`` form, so no cancellation against 1 is introduced.
    """
    coefficient, direction = _coefficients(stats)
    result: np.ndarray = np.log1p(stats.excess[:, None] + coefficient * np.expm1(direction * steps))
    return result


def _coefficients(stats: RowStatistics) -> tuple[Float64Array, Float64Array]:
    """Return, per entry, the term a step scales and the sign it scales it with."""
    n = stats.terms.shape[0]
    is_label = np.zeros(stats.terms.shape, dtype=bool)
    is_label[np.arange(n), stats.labels] = True
    coefficient: Float64Array = np.where(is_label, stats.rest[:, None], stats.terms)
    direction: Float64Array = np.where(is_label, -1.0, 1.0)
    return coefficient, direction


def complex_step(
    scores: FloatArray, labels: IntArray, *, h: float = COMPLEX_STEP, rows: IntArray | None = None
) -> Float64Array:
    """Gradient of the mean softmax loss by the complex step, exact to machine precision.

    Parameters
    ----------
    scores : ndarray, shape (N, C)
        Class scores (any real float dtype; evaluated in float64).
    labels : ndarray of int, shape (N,)
        Correct classes, in ``[0, C)``.
    h : float, optional
        The imaginary step. Default 1e-20.
    rows : ndarray of int, shape (K,), optional
        Compute only these rows (still of the mean over all N rows).

    Returns
    -------
    ndarray, shape (N, C) or (K, C), float64
        ``Im L(s + i·h·e_ij) / h`` for every entry (of the chosen rows).

    Notes
    -----
    ``Im f(x + ih)/h = f'(x) + O(h²)`` involves no subtraction, so there is no
    cancellation and ``h`` can be tiny (Squire and Trapp 1998); the error is a
    few ulps of each entry. All N·C entries cost O(N·C) in total.

    Examples
    --------
    >>> import numpy as np
    >>> complex_step(np.array([[0.0, 0.0]]), np.array([0])).tolist()
    [[-0.5, 0.5]]
    """
    gradient = np.empty(_selected_shape(scores, rows), dtype=np.float64)
    for block, chosen in _row_blocks(scores, rows):
        stats = row_statistics(scores[chosen], labels[chosen])
        # The imaginary part carries term·h: for a term below ~1e-288 that would fall into
        # the subnormal range and lose digits, so such entries take a larger step (their
        # O(h²) truncation stays far below eps up to h = 1e-8).
        coefficient, _ = _coefficients(stats)
        with np.errstate(divide="ignore"):
            step = np.clip(_KEEP_NORMAL / coefficient, h, _LARGEST_COMPLEX_STEP)
        gradient[block] = perturbed_row_losses(stats, 1j * step).imag / step
    gradient /= scores.shape[0]
    return gradient


def complex_step_error(scores: FloatArray, gradient: Float64Array) -> Float64Array:
    """Bound the error of `complex_step`'s ``gradient`` of the rows ``scores``.

    The step itself adds O(h²), nothing at h = 1e-20; what is left is rounding
    in the shifted score differences, ``eps·|s|`` relative each, and in the
    row sum, ``sqrt(C)·eps``. Entries below ~1e-300 are subnormal-limited:
    they get an absolute floor of one subnormal spacing over the largest step.
    """
    rows, columns = scores.shape
    kappa = 1.0 + 2.0 * np.max(np.abs(scores), axis=1) + np.sqrt(columns)
    floor = float(np.finfo(np.float64).smallest_subnormal) / _LARGEST_COMPLEX_STEP
    bound: Float64Array = 4.0 * EPS * kappa[:, None] * np.abs(gradient) + floor
    return bound


@dataclass(frozen=True)
class CentralDifference:
    """Central-difference gradient with a bound on each entry's own error.

    ``gradient[i, j]`` estimates ``dL/ds[i, j]``; ``error[i, j]`` bounds its
    distance from the true derivative (rounding plus truncation, with a
    factor 2 of margin). An entry whose ``|gradient|`` is below its ``error``
    cannot be told apart from zero by this method.
    """

    gradient: Float64Array
    error: Float64Array
    h: float


def central_difference(
    scores: FloatArray, labels: IntArray, *, h: float | None = None, rows: IntArray | None = None
) -> CentralDifference:
    """Gradient of the mean softmax loss by central differences, with error bounds.

    Parameters
    ----------
    scores : ndarray, shape (N, C)
        Class scores (evaluated in float64).
    labels : ndarray of int, shape (N,)
        Correct classes, in ``[0, C)``.
    h : float, optional
        The step. Default ``(3·eps)**(1/3) ≈ 8.7e-6``, close to the 1e-5 that
        CS231n uses.
    rows : ndarray of int, shape (K,), optional
        Compute only these rows (still of the mean over all N rows).

    Returns
    -------
    CentralDifference
        The estimate, the per-entry error bound and the step used, of shape
        (N, C), or (K, C) when ``rows`` is given.

    Notes
    -----
    ``(L(s + h) - L(s - h)) / 2h`` has truncation error ``h²/6·|f'''|`` and
    rounding error about ``eps·|f|/h``. For one row's loss ``f''' =
    p(1-p)(1-2p)`` with ``p`` the entry's softmax probability, which the
    bound uses directly. The step is not scaled by ``|s|``, as a generic
    method would: the row loss depends only on score differences, so its
    derivatives have scale 1 in score units whatever the scores' size.

    Examples
    --------
    >>> import numpy as np
    >>> result = central_difference(np.array([[0.0, 0.0]]), np.array([0]))
    >>> result.gradient.round(9).tolist()
    [[-0.5, 0.5]]
    """
    step = CENTRAL_STEP if h is None else float(h)
    gradient = np.empty(_selected_shape(scores, rows), dtype=np.float64)
    error = np.empty_like(gradient)
    for block, chosen in _row_blocks(scores, rows):
        stats = row_statistics(scores[chosen], labels[chosen])
        steps = np.full(stats.terms.shape, step)
        forward = perturbed_row_losses(stats, steps)
        backward = perturbed_row_losses(stats, -steps)
        gradient[block] = (forward - backward) / (2 * step)
        probability = _probabilities(stats)
        third = np.abs(probability * (1 - probability) * (1 - 2 * probability))
        rounding = EPS * (np.abs(forward) + np.abs(backward) + 2 * np.abs(stats.excess)[:, None])
        error[block] = 2 * (rounding / (2 * step) + step**2 / 6 * (third + step))
    n = scores.shape[0]
    gradient /= n
    error /= n
    return CentralDifference(gradient, error, step)


def _probabilities(stats: RowStatistics) -> Float64Array:
    """Return the softmax probabilities of the rows in ``stats``."""
    probability: Float64Array = stats.terms / (1.0 + stats.excess)[:, None]
    return probability


def _selected_shape(scores: FloatArray, rows: IntArray | None) -> tuple[int, int]:
    """Return the shape of a result for ``rows`` of ``scores`` (all rows when None)."""
    count = scores.shape[0] if rows is None else len(rows)
    return count, scores.shape[1]


def _row_blocks(
    scores: FloatArray, rows: IntArray | None
) -> Iterator[tuple[slice, slice | IntArray]]:
    """Yield (where in the result, which rows of ``scores``) in blocks of about `BLOCK_ENTRIES`."""
    count, columns = _selected_shape(scores, rows)
    per_block = max(1, BLOCK_ENTRIES // max(columns, 1))
    for start in range(0, count, per_block):
        block = slice(start, min(start + per_block, count))
        yield block, (block if rows is None else rows[block])
