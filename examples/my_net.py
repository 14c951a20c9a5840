"""A user's two-layer network in the CS231n `TwoLayerNet.loss` shape: `gradcheck net --impl`."""

from __future__ import annotations

import numpy as np


def two_layer_loss(params, X, y, reg):
    """Return the loss and the gradients of W1, b1, W2, b2 for inputs X and labels y."""
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    N = X.shape[0]

    # forward pass
    hidden_in = X.dot(W1) + b1
    hidden = np.maximum(0, hidden_in)
    scores = hidden.dot(W2) + b2

    # softmax loss, shifted so that exp cannot overflow
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    data_loss = -np.log(probs[np.arange(N), y]).mean()
    loss = data_loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

    # backward pass
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    grads = {}
    grads["W2"] = hidden.T.dot(dscores) + reg * W2
    grads["b2"] = dscores.sum(axis=0)
    dhidden = dscores.dot(W2.T)
    dhidden[hidden_in <= 0] = 0
    grads["W1"] = X.T.dot(dhidden) + reg * W1
    grads["b1"] = dhidden.sum(axis=0)
    return loss, grads
