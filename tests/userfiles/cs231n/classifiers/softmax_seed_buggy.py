"""Softmax classifier with the seed's R = ½·reg·ΣW², and two bugs.

* softmax_loss_naive: the correct class's "- X[i]" is never subtracted from dW.
* softmax_loss_vectorized: dW is regularized with 2·reg·W, the gradient of the
  other convention, although the loss adds ½·reg·ΣW².
"""

import numpy as np


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss function, looping over the samples of the minibatch."""
    num_train = X.shape[0]
    loss = 0.0
    dW = np.zeros_like(W)
    for i in range(num_train):
        scores = X[i].dot(W)
        scores -= scores.max()
        probs = np.exp(scores) / np.sum(np.exp(scores))
        loss += -np.log(probs[y[i]])
        dW += np.outer(X[i], probs)  # BUG: probs[y[i]] -= 1 is missing before this line
    loss = loss / num_train + 0.5 * reg * np.sum(W * W)
    dW = dW / num_train + reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss function, vectorized: no loops."""
    num_train = X.shape[0]
    scores = X.dot(W)
    scores -= scores.max(axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(num_train), y]).mean() + 0.5 * reg * np.sum(W * W)
    dscores = probs
    dscores[np.arange(num_train), y] -= 1
    dW = X.T.dot(dscores) / num_train + 2 * reg * W  # BUG: d/dW of ½·reg·ΣW² is reg·W
    return loss, dW
