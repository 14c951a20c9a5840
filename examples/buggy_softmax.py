"""Classic mistakes in a softmax gradient, each caught by gradcheck with the entries it gets wrong.

Try ``gradcheck run SCORES LABELS --impl examples/buggy_softmax.py:missing_one_over_n``.
"""

from __future__ import annotations

import numpy as np


def _loss_and_probabilities(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Return the correct loss and softmax probabilities: every bug below is in the gradient."""
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    sums = exp_scores.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(sums[:, 0]) - shifted[np.arange(n), labels]))
    return loss, exp_scores / sums


def missing_one_over_n(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Forget to average the gradient over the batch: every entry N times too large."""
    n = scores.shape[0]
    loss, dscores = _loss_and_probabilities(scores, labels)
    dscores[np.arange(n), labels] -= 1.0
    return loss, dscores  # should be dscores / n


def wrong_label_entry(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Subtract 1 at the label after dividing by N, instead of 1/N."""
    n = scores.shape[0]
    loss, dscores = _loss_and_probabilities(scores, labels)
    dscores /= n
    dscores[np.arange(n), labels] -= 1.0  # should be 1.0 / n
    return loss, dscores


def no_max_shift(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Exponentiate the raw scores: right for small scores, nan once exp overflows (~710)."""
    n = scores.shape[0]
    exp_scores = np.exp(scores)  # should be np.exp(scores - scores.max(axis=1, keepdims=True))
    sums = exp_scores.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(sums[:, 0]) - scores[np.arange(n), labels]))
    dscores = exp_scores / sums
    dscores[np.arange(n), labels] -= 1.0
    return loss, dscores / n


def wrong_axis(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Normalize the exponentials over the batch (axis 0) instead of over the classes."""
    n = scores.shape[0]
    loss, _ = _loss_and_probabilities(scores, labels)
    exp_scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    dscores = exp_scores / exp_scores.sum(axis=0, keepdims=True)  # should be axis=1
    dscores[np.arange(n), labels] -= 1.0
    return loss, dscores / n


def smoothed_loss_plain_gradient(
    scores: np.ndarray, labels: np.ndarray, smoothing: float = 0.1
) -> tuple[float, np.ndarray]:
    """Smooth the labels in the loss but forget them in the gradient (fails --against own)."""
    n, c = scores.shape
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    target = np.full((n, c), smoothing / c)
    target[np.arange(n), labels] += 1.0 - smoothing
    loss = -np.sum(target * log_probabilities) / n
    dscores = np.exp(log_probabilities)
    dscores[np.arange(n), labels] -= 1.0  # should subtract the smoothed target
    return float(loss), dscores / n
