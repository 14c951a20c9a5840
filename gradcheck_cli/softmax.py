"""The softmax loss and its gradient with respect to the scores, four ways.

`loops`, `rows` and `vectorized` are the seed's three implementations in
modern numpy: two nested loops, a loop over samples, and no loop. They keep
the seed's unshifted ``exp(scores)``, so scores above ~709.78 overflow; that
is on purpose, and the checker must say so. `stable` is the one to use:
max-shifted, computed in place in one N×C buffer, in the input's dtype.

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
    """Max-shifted loss and gradient in one N×C buffer, in the input's dtype.

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
    Subtracting each row's maximum leaves softmax unchanged and keeps every
    ``exp`` argument at or below 0, so nothing overflows and the largest term
    of each row sum is exactly 1 (the sum cannot underflow either).

    Examples
    --------
    >>> import numpy as np
    >>> loss, dscores = stable(np.array([[1000.0, 1000.0]]), np.array([0]))
    >>> loss, dscores.tolist()
    (0.6931471805599453, [[-0.5, 0.5]])
    """
    N = scores.shape[0]
    at_labels = (np.arange(N), labels)
    dscores = np.max(scores, axis=1, keepdims=True)
    dscores = np.subtract(scores, dscores)  # the one N×C buffer; reused in place below
    shifted_label = dscores[at_labels]  # fancy indexing copies: safe to keep
    np.exp(dscores, out=dscores)
    sums = np.sum(dscores, axis=1, keepdims=True)
    loss = float(np.mean(np.log(sums[:, 0], dtype=np.float64) - shifted_label))
    sums *= N
    np.divide(dscores, sums, out=dscores)
    dscores[at_labels] -= dscores.dtype.type(1.0 / N)
    return loss, dscores


IMPLEMENTATIONS: Mapping[str, GradientImplementation] = MappingProxyType(
    {"loops": loops, "rows": rows, "vectorized": vectorized, "stable": stable}
)
"""The built-in implementations by name, in the order the seed introduces them."""
