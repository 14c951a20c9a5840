"""An independent oracle: the softmax loss and its gradient in 80-digit arithmetic (mpmath)."""

from __future__ import annotations

import mpmath
import numpy as np

mpmath.mp.dps = 80


def exact_loss_and_gradient(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Return the mean softmax loss and its gradient, rounded once from 80 digits.

    Written around the label's score, ``L_i = log1p(R_i)`` with
    ``R_i = sum_{j != y} exp(s_ij - s_iy)`` and ``p_iy - 1 = -R_i / (1 + R_i)``,
    so no step cancels even when the label's probability is within 1e-40 of 1.
    """
    n, c = scores.shape
    total = mpmath.mpf(0)
    gradient = np.empty((n, c))
    for i in range(n):
        # Score differences of 1e300 need 300 more digits to be held exactly.
        digits = 80 + int(np.log10(1.0 + float(np.max(np.abs(scores[i])))))
        with mpmath.workdps(digits):
            label = mpmath.mpf(float(scores[i, labels[i]]))
            ratios = [mpmath.exp(mpmath.mpf(float(x)) - label) for x in scores[i]]
            rest = mpmath.fsum(r for j, r in enumerate(ratios) if j != labels[i])
            total += mpmath.log1p(rest)
            for j in range(c):
                entry = -rest / (1 + rest) if j == labels[i] else ratios[j] / (1 + rest)
                gradient[i, j] = float(entry / n)
    return float(total / n), gradient
