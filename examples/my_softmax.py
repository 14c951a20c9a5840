"""A correct user implementation of the softmax loss and its gradient, ready for gradcheck.

Check it with ``gradcheck run SCORES LABELS --impl examples/my_softmax.py:softmax_loss``
(``label_smoothed_loss`` with ``--against own``), or from a test suite, as
``examples/test_my_softmax.py`` does.
"""

from __future__ import annotations

import numpy as np


def softmax_loss(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Return the mean softmax loss of ``scores`` (N, C) and its gradient ``dL/dscores``."""
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)  # exp cannot overflow
    exp_scores = np.exp(shifted)
    sums = exp_scores.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(sums[:, 0]) - shifted[np.arange(n), labels])
    dscores = exp_scores / sums
    dscores[np.arange(n), labels] -= 1.0
    return float(loss), dscores / n


def label_smoothed_loss(
    scores: np.ndarray, labels: np.ndarray, smoothing: float = 0.1
) -> tuple[float, np.ndarray]:
    """Return the cross-entropy against labels smoothed by ``smoothing``, and its gradient.

    The target puts ``1 - smoothing`` on the label and spreads ``smoothing``
    over all C classes. This is not the softmax loss, so its gradient is
    checked against its own loss: ``--against own`` (``against="own"``).
    """
    n, c = scores.shape
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    target = np.full((n, c), smoothing / c)
    target[np.arange(n), labels] += 1.0 - smoothing
    loss = -np.sum(target * log_probabilities) / n
    return float(loss), (np.exp(log_probabilities) - target) / n
