"""The softmax loss and its gradient with respect to the scores, four ways.

`loops`, `rows` and `vectorized` are the seed's three implementations in
modern numpy: two nested loops, a loop over samples, and no loop. They keep
the seed's unshifted ``exp(scores)``, so scores above ~709.78 overflow; that
is on purpose, and the checker must say so. `stable` is the one to use:
overflow-proof (max-shifted wherever the unshifted ``exp`` would overflow or
lose digits), computed in place in one N×C buffer, in the input's dtype.

Every implementation follows the contract ``f(scores, labels) -> (loss,
dscores)`` with ``loss = mean_i(logsumexp(scores[i]) - scores[i, labels[i]])``
and ``dscores[i, j] = (softmax(scores[i])[j] - [j == labels[i]]) / N``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from gradcheck_cli._typing import FloatArray, GradientImplementation, IntArray


def loops(scores: FloatArray, labels: IntArray) -> tuple[float, FloatArray]:
    """Fill the gradient entry by entry with two loops, as the seed's first listing does."""
    N, C = scores.shape
    exp_scores = np.exp(scores)
    sums = np.sum(exp_scores, axis=1)
    loss = 0.0
    dscores = np.zeros_like(exp_scores)
    for i in range(N):  # for each sample
        loss += -np.log(exp_scores[i, labels[i]] / sums[i])
        for j in range(C):  # for each class
            if j == labels[i]:  # the correct class
                dscores[i, j] = (-1.0 / N) * (1 - exp_scores[i, j] / sums[i])
            else:
                dscores[i, j] = (-1.0 / N) * (0 - exp_scores[i, j] / sums[i])
    return float(loss / N), dscores


def rows(scores: FloatArray, labels: IntArray) -> tuple[float, FloatArray]:
    """Loop over samples, vectorized over classes, as the seed's second listing does."""
    N = scores.shape[0]
    exp_scores = np.exp(scores)
    sums = np.sum(exp_scores, axis=1)
    losses = -np.log(exp_scores[np.arange(N), labels] / sums)
    dscores = np.zeros_like(exp_scores)
    for i in range(N):
        dscores[i] = (1.0 / N) * (exp_scores[i] / sums[i])
        dscores[i, labels[i]] -= 1.0 / N
    return float(np.mean(losses)), dscores


def vectorized(scores: FloatArray, labels: IntArray) -> tuple[float, FloatArray]:
    """No loops: broadcast the row sums as a column, as the seed's third listing does."""
    N = scores.shape[0]
    exp_scores = np.exp(scores)
    sums = np.sum(exp_scores, axis=1)
    losses = -np.log(exp_scores[np.arange(N), labels] / sums)
    # The seed's np.matrix(sums).T is a column vector; sums[:, None] is the same broadcast.
    dscores = exp_scores / (N * sums[:, None])
    dscores[np.arange(N), labels] -= 1.0 / N
    return float(np.mean(losses)), dscores


def stable(scores: FloatArray, labels: IntArray) -> tuple[float, FloatArray]:
    """Overflow-proof loss and gradient in one N×C buffer, in the input's dtype.

    Parameters
    ----------
    scores : ndarray, shape (N, C)
        Class scores, float16, float32 or float64; the result keeps the dtype.
    labels : ndarray of int, shape (N,)
        The correct class of each sample, in ``[0, C)``.

    Returns
    -------
    loss : float
        ``mean_i(logsumexp(scores[i]) - scores[i, labels[i]])``.
    dscores : ndarray, shape (N, C)
        ``(softmax(scores[i]) - onehot(labels[i])) / N``.

    Notes
    -----
    Softmax is unchanged by subtracting a constant from a row, and the usual
    guard against overflow subtracts each row's maximum. That costs a
    broadcast pass over all N·C entries, as much as the ``exp`` itself, and
    most rows do not need it. So every row is first exponentiated as it is,
    and only the blocks of rows where that is not exact are redone
    max-shifted (every exponent at or below 0, the largest term exactly 1).
    Row ``i`` is exact when ``1 <= N·S_i <= 1/tiny``, with ``S_i`` its sum
    of exponentials and ``tiny`` the dtype's smallest normal number: the
    upper bound keeps the sum finite and ``1/(N·S_i)`` normal; the lower one
    means a term that underflowed into the subnormal range has a gradient
    entry ``term/(N·S_i)`` that is subnormal too, so the digits it lost are
    below any tolerance. The unshifted rows are, if anything, more accurate:
    they skip the rounding of ``scores - max``.

    The result is the only N×C array (rows are redone in it, in blocks of
    about 65536 entries); the loss is accumulated in float64.

    Examples
    --------
    >>> import numpy as np
    >>> loss, dscores = stable(np.array([[1000.0, 1000.0]]), np.array([0]))
    >>> loss, dscores.tolist()
    (0.6931471805599453, [[-0.5, 0.5]])
    """
    N, C = scores.shape
    dtype = np.result_type(scores, 1.0)  # float16/32/64 kept; integers computed in float64
    tiny = float(np.finfo(dtype).tiny)
    at_labels = (np.arange(N), labels)
    label_scores = scores[at_labels].astype(np.float64)
    per_block = max(1, 65536 // C)
    with np.errstate(over="ignore", under="ignore"):
        # np.exp is many times slower where it overflows or underflows: when a sample of rows
        # holds scores outside [log(tiny), -log(tiny)], every row goes the shifted way at once.
        sample = scores[:: max(1, N // per_block)]
        if -np.log(tiny) >= max(-sample.min(), sample.max()):
            dscores = np.exp(scores, dtype=dtype)  # the one N×C buffer; all below works in it
            sums = np.add.reduce(dscores, axis=1)
            row_scale = np.multiply(sums, N, dtype=np.float64)  # N·S_i, float64 for float16/32
            blocks = []
            if not (row_scale.min() >= 1 and row_scale.max() <= 1 / tiny):  # nan: redo too
                redo = np.flatnonzero(~((row_scale >= 1) & (row_scale <= 1 / tiny)))
                blocks = np.unique(redo // per_block).tolist()
        else:
            dscores = np.empty(scores.shape, dtype)
            sums = np.empty(N, dtype)
            row_scale = np.empty(N)
            blocks = list(range(-(-N // per_block)))
        for block_index in blocks:
            rows = slice(block_index * per_block, (block_index + 1) * per_block)
            block = dscores[rows]
            row_max = np.max(scores[rows], axis=1, keepdims=True)
            np.subtract(scores[rows], row_max, out=block)
            np.exp(block, out=block)
            sums[rows] = np.add.reduce(block, axis=1)
            row_scale[rows] = np.multiply(sums[rows], N, dtype=np.float64)
            label_scores[rows] -= row_max[:, 0]
    loss = float((np.log(sums, dtype=np.float64) - label_scores).sum()) / N
    dscores *= np.reciprocal(row_scale).astype(dscores.dtype)[:, None]
    dscores[at_labels] -= dscores.dtype.type(1.0 / N)
    return loss, dscores


IMPLEMENTATIONS: Mapping[str, GradientImplementation] = MappingProxyType(
    {"loops": loops, "rows": rows, "vectorized": vectorized, "stable": stable}
)
"""The built-in implementations by name, in the order the seed introduces them."""
