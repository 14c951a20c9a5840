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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

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

    With ``m_i = max_j s[i, j]``, ``terms[i, j] = exp(s[i, j] - m_i)`` and
    ``shift_i = M_i = m_i - s[i, y_i] >= 0``, ``L_i = M_i + log1p(excess_i)``;
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
    # Exponents are taken from the row maximum directly: fl(s - m) is rounded relative
    # to |s - m| itself, so no term with a probability above underflow loses digits,
    # even at scores of 1e300 (going through s - s_y first would round twice).
    row_max = np.max(s, axis=1)
    terms = np.exp(s - row_max[:, None])
    shift = row_max - s[np.arange(n), labels]
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
    in each exponent ``s - max(s)``, ``eps·|s - max(s)|`` relative to its
    term (at most ~745 before the term underflows), and in the row sum,
    ``sqrt(C)·eps``. Entries below ~1e-300 are subnormal-limited: they get an
    absolute floor of one subnormal spacing over the largest step.
    """
    rows, columns = scores.shape
    s = np.asarray(scores, dtype=np.float64)
    distance = np.minimum(np.max(s, axis=1)[:, None] - s, 746.0)
    kappa = 2.0 + np.max(distance, axis=1) + np.sqrt(columns)
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


# --- black boxes: a loss known only by calling it ---------------------------------------------

BlackBoxLoss = Callable[[FloatArray], float]
"""A loss known only by calling it on (perturbed) scores, e.g. a user's own loss."""
_STEP_SPACINGS = 4
"""A step is at least this many float spacings of the entry it moves, so it cannot vanish."""


@dataclass(frozen=True)
class BlackBoxDifference:
    """Central differences of a black-box loss along some directions, at two steps.

    ``derivative[k]`` is ``(L(s + h·w_k) - L(s - h·w_k)) / 2h`` along the
    direction ``w_k`` the step actually took (an entry's unit vector, or a
    rounded random direction). ``projection[k]`` is the analytic gradient
    contracted with that same ``w_k`` (for entries: the entry itself).
    ``spread[k]`` is how much the difference at step ``2h`` disagrees with
    the one at ``h`` (after the projection of the tiny change of direction
    between them): the raw material of the error bound (`black_box_error`).
    ``step[k]`` is ``h``; ``calls`` counts the loss evaluations, four per
    direction.
    """

    derivative: Float64Array
    projection: Float64Array
    spread: Float64Array
    step: Float64Array
    calls: int


def black_box_rounding(loss: float, scores: FloatArray, dtype: np.dtype[Any]) -> float:
    """Model the rounding error of one evaluation of a softmax-like loss working in ``dtype``.

    A loss built from ``logsumexp`` rounds scores of size ``max|s|`` with
    ``eps·max|s|`` absolute error, and its own value with ``eps·|L|``; the
    factor 4 covers the subtraction and the mean. This is a floor: the error
    bound also measures the noise the loss actually shows (`black_box_noise`).
    """
    eps = float(np.finfo(dtype).eps)
    scale = 1.0 + abs(float(loss)) + float(np.max(np.abs(scores)))
    return 4.0 * eps * scale


def black_box_step(rounding: float, curvature: float) -> float:
    """Return the central-difference step that balances truncation against rounding.

    The error of ``(L(x+h) - L(x-h)) / 2h`` is ``h²/6·|L'''| + rounding/h``,
    smallest at ``h = (3·rounding / |L'''|)^(1/3)``. ``curvature`` stands in for
    ``|L'''|``: for a mean over N rows it has the size of the gradient's
    entries, ``1/N``, which is what callers pass.

    Examples
    --------
    >>> f"{black_box_step(1e-15, 1.0):.3g}"
    '1.44e-05'
    """
    return float((3.0 * rounding / max(curvature, 1e-300)) ** (1.0 / 3.0))


def black_box_central_difference(
    loss: BlackBoxLoss, scores: FloatArray, entries: IntArray, *, h: float
) -> BlackBoxDifference:
    """Differentiate a black-box loss entry by entry, at steps ``h`` and ``2h``.

    Parameters
    ----------
    loss : callable
        ``loss(scores) -> float``; each call gets an array it may keep.
    scores : ndarray, shape (N, C)
        The point, in the dtype the loss expects (perturbed in that dtype).
    entries : ndarray of int, shape (K,)
        Flat indices into ``scores`` of the entries to differentiate.
    h : float
        The step. Each entry's step is at least 4 spacings of its value, and
        the quotient divides by the step actually taken after rounding to
        ``scores.dtype``, so a float32 batch or a score of 1e300 is
        differenced exactly as it was perturbed.

    Returns
    -------
    BlackBoxDifference
        With ``projection`` left at 0: the caller compares ``derivative``
        with its own gradient entries. ``calls`` is ``4·K``.

    Examples
    --------
    >>> import numpy as np
    >>> cube = lambda s: float(np.sum(s**3))
    >>> result = black_box_central_difference(cube, np.array([[1.0, 2.0]]), np.array([1]), h=1e-4)
    >>> round(float(result.derivative[0]), 6), result.calls
    (12.0, 4)
    """
    work = np.array(scores, copy=True)
    flat = work.reshape(-1)
    count = len(entries)
    quotients = np.empty((2, count))
    steps = np.empty(count)
    for n, k in enumerate(entries):
        original = flat[k]
        spacing = float(np.spacing(np.abs(original)))
        for level, t in enumerate((h, 2.0 * h)):
            t_k = max(t, _STEP_SPACINGS * spacing)
            flat[k] = original + t_k
            up = float(flat[k])
            above = loss(work)
            flat[k] = original - t_k
            down = float(flat[k])
            below = loss(work)
            flat[k] = original
            quotients[level, n] = (above - below) / (up - down)
            if level == 0:
                steps[n] = (up - down) / 2.0
    return BlackBoxDifference(
        derivative=quotients[0],
        projection=np.zeros(count),
        spread=np.abs(quotients[0] - quotients[1]),
        step=steps,
        calls=4 * count,
    )


def directional_derivative(
    loss: BlackBoxLoss, scores: FloatArray, direction: FloatArray, analytic: FloatArray, *, h: float
) -> BlackBoxDifference:
    """Differentiate a black-box loss along one direction, at steps ``h`` and ``2h``.

    Parameters
    ----------
    loss : callable
        ``loss(scores) -> float``.
    scores : ndarray, shape (N, C)
        The point, perturbed in its own dtype.
    direction : ndarray, shape (N, C)
        The direction ``v`` (a unit vector, typically random).
    analytic : ndarray, shape (N, C)
        The gradient under test; its projection on the direction actually
        taken is returned beside the difference quotient.
    h : float
        The step along ``v``; at least 4 spacings of the largest score times
        ``sqrt(n)`` for the ``n`` entries ``v`` moves, so that they do move.

    Returns
    -------
    BlackBoxDifference
        Of length 1: ``derivative ≈ ∇Lᵀw`` and ``projection = analyticᵀw`` for
        ``w = (rounded(s + h·v) - rounded(s - h·v)) / 2h``, the direction the
        step took after rounding to ``scores.dtype``. Comparing them checks
        ``vᵀ∇L`` against ``(L(s + hv) - L(s - hv)) / 2h`` exactly as evaluated.
        ``calls`` is 4.

    Examples
    --------
    >>> import numpy as np
    >>> square = lambda s: float(np.sum(s**2))
    >>> s, v = np.array([[1.0, 2.0]]), np.array([[0.6, 0.8]])
    >>> result = directional_derivative(square, s, v, 2 * s, h=1e-5)
    >>> round(float(result.derivative[0]), 8), round(float(result.projection[0]), 8)
    (4.4, 4.4)
    """
    base = np.asarray(scores)
    wide = base.astype(np.float64)
    # Each entry moves by h·|v_k|, about h/sqrt(n): keep that above a few spacings of the scores.
    moved = max(int(np.count_nonzero(direction)), 1)
    spacing = float(np.spacing(np.max(np.abs(base)).astype(base.dtype)))
    h = max(h, _STEP_SPACINGS * spacing * float(np.sqrt(moved)))
    derivatives, projections = [], []
    for t in (h, 2.0 * h):
        up = (wide + t * direction).astype(base.dtype)
        down = (wide - t * direction).astype(base.dtype)
        taken = (up.astype(np.float64) - down.astype(np.float64)) / (2.0 * t)
        derivatives.append((loss(up) - loss(down)) / (2.0 * t))
        projections.append(float(np.sum(analytic * taken)))
    # The two steps take slightly different rounded directions; compare like with like.
    spread = abs((derivatives[0] - projections[0]) - (derivatives[1] - projections[1]))
    return BlackBoxDifference(
        derivative=np.array([derivatives[0]]),
        projection=np.array([projections[0]]),
        spread=np.array([spread]),
        step=np.array([h]),
        calls=4,
    )


def black_box_noise(differences: Sequence[BlackBoxDifference], rounding: float) -> float:
    """Estimate the rounding noise of one loss evaluation from the spread it shows.

    The spread between steps ``h`` and ``2h`` holds the rounding of four
    evaluations divided by steps of ``h`` and ``2h``: for independent errors
    of size ``σ`` it is about ``0.8·σ/h``, so ``spread·h`` measures ``σ``
    directly. The estimate is the 90th percentile of ``spread·h`` over every
    direction tried (the noise is a property of the loss, not of the
    direction), times 2.5 to turn a typical size into a bound; it is never
    below the ``rounding`` model. A loss computed internally in float32 shows
    up here even when its inputs and output are float64.
    """
    pooled = [d.spread * d.step for d in differences]
    spreads = np.concatenate(pooled) if pooled else np.zeros(0)
    measured = 2.5 * float(np.quantile(spreads, 0.9)) if spreads.size else 0.0
    return max(rounding, measured)


def black_box_error(difference: BlackBoxDifference, noise: float) -> Float64Array:
    """Bound the error of each ``difference.derivative`` from its spread and the noise.

    With ``D(h) = L' + c·h² + r/h`` (truncation and rounding, ``|r| <=
    noise``), the spread ``|D(h) - D(2h)|`` is ``3c·h²`` give or take
    ``1.5·noise/h`` of rounding, so the truncation of ``D(h)`` is at most
    ``(spread + 1.5·noise/h)/3`` and the whole error at most
    ``spread/3 + 1.5·noise/h``. The bound doubles that.
    """
    bound: Float64Array = 2.0 * (difference.spread / 3.0 + 1.5 * noise / difference.step)
    return bound
