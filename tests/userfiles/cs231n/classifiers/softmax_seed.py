"""Softmax classifier with the seed's regularization, R = ½·reg·ΣW², so dW gets reg·W.

Both versions are correct: the "naive" one loops over samples only, the
vectorized one uses no loops at all.
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
        probs[y[i]] -= 1
        dW += np.outer(X[i], probs)
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
    dW = X.T.dot(dscores) / num_train + reg * W
    return loss, dW
