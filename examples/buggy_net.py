"""Five two-layer networks, each with one classic backward-pass bug, for `gradcheck net --impl`.

Each function is a complete `loss(params, X, y, reg) -> (loss, grads)`, as a
student would write it; the comment `# BUG` marks the one wrong line. The
forward pass and the loss are right in all five, so only the gradients can
give them away, and each should fail on its own parameter only:

* `missing_reg_in_dW1`   -> W1
* `reg_half_twice`       -> W1 and W2
* `db2_wrong_axis`       -> b2
* `mask_before_bias`     -> W1 and b1
* `dW2_transposed`       -> W2 (on a square layer, H == C, where the shapes still match)
"""

from __future__ import annotations

import numpy as np


def _forward(params, X, y, reg):
    """Return the loss, the layer values and dscores, shared by every network here."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    hidden_in = X.dot(W1) + b1
    hidden = np.maximum(0, hidden_in)
    scores = hidden.dot(W2) + b2
    exp_scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(N), y]).mean()
    loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return loss, hidden_in, hidden, dscores


def missing_reg_in_dW1(params, X, y, reg):
    W2 = params["W2"]
    loss, hidden_in, hidden, dscores = _forward(params, X, y, reg)
    dhidden = dscores.dot(W2.T)
    dhidden[hidden_in <= 0] = 0
    grads = {
        "W2": hidden.T.dot(dscores) + reg * W2,
        "b2": dscores.sum(axis=0),
        "W1": X.T.dot(dhidden),  # BUG: the regularization term reg * W1 is missing
        "b1": dhidden.sum(axis=0),
    }
    return loss, grads


def reg_half_twice(params, X, y, reg):
    W1, W2 = params["W1"], params["W2"]
    loss, hidden_in, hidden, dscores = _forward(params, X, y, reg)
    dhidden = dscores.dot(W2.T)
    dhidden[hidden_in <= 0] = 0
    grads = {
        "W2": hidden.T.dot(dscores) + 0.5 * reg * W2,  # BUG: d/dW of reg·½W² is reg·W
        "b2": dscores.sum(axis=0),
        "W1": X.T.dot(dhidden) + 0.5 * reg * W1,  # BUG: the same ½ again
        "b1": dhidden.sum(axis=0),
    }
    return loss, grads


def db2_wrong_axis(params, X, y, reg):
    W1, W2 = params["W1"], params["W2"]
    loss, hidden_in, hidden, dscores = _forward(params, X, y, reg)
    dhidden = dscores.dot(W2.T)
    dhidden[hidden_in <= 0] = 0
    grads = {
        "W2": hidden.T.dot(dscores) + reg * W2,
        "b2": dscores.sum(axis=1),  # BUG: sums over classes; b2 needs the sum over samples
        "W1": X.T.dot(dhidden) + reg * W1,
        "b1": dhidden.sum(axis=0),
    }
    return loss, grads


def mask_before_bias(params, X, y, reg):
    W1, W2 = params["W1"], params["W2"]
    loss, _, hidden, dscores = _forward(params, X, y, reg)
    dhidden = dscores.dot(W2.T)
    dhidden[X.dot(W1) <= 0] = 0  # BUG: the ReLU saw X·W1 + b1, not X·W1
    grads = {
        "W2": hidden.T.dot(dscores) + reg * W2,
        "b2": dscores.sum(axis=0),
        "W1": X.T.dot(dhidden) + reg * W1,
        "b1": dhidden.sum(axis=0),
    }
    return loss, grads


def dW2_transposed(params, X, y, reg):
    W1, W2 = params["W1"], params["W2"]
    loss, hidden_in, hidden, dscores = _forward(params, X, y, reg)
    dhidden = dscores.dot(W2.T)
    dhidden[hidden_in <= 0] = 0
    grads = {
        "W2": dscores.T.dot(hidden) + reg * W2,  # BUG: (H1ᵀ·D)ᵀ; same shape when H == C
        "b2": dscores.sum(axis=0),
        "W1": X.T.dot(dhidden) + reg * W1,
        "b1": dhidden.sum(axis=0),
    }
    return loss, grads
