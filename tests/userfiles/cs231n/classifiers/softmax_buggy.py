"""Softmax classifier with the bugs students write (R = reg·ΣW²).

* softmax_loss_naive: dW is never divided by num_train (the loss is).
* softmax_loss_vectorized: the loss is regularized with reg·ΣW² but dW with
  reg·W, the gradient of the other convention.
* softmax_loss_norm: the loss adds reg·‖W‖ (the norm, not its square), so it
  follows no regularization convention at all.
"""

import numpy as np

from cs231n.layers import softmax_loss


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss function, naive implementation (with loops)."""
    loss = 0.0
    dW = np.zeros_like(W)
    num_train = X.shape[0]
    num_classes = W.shape[1]
    for i in range(num_train):
        scores = X[i].dot(W)
        scores -= np.max(scores)
        exp_scores = np.exp(scores)
        total = np.sum(exp_scores)
        loss += np.log(total) - scores[y[i]]
        for j in range(num_classes):
            p = exp_scores[j] / total
            dW[:, j] += (p - (j == y[i])) * X[i]
    loss /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W  # BUG: dW was never divided by num_train
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss function, vectorized version."""
    scores = X.dot(W)
    loss, dscores = softmax_loss(scores, y)
    loss += reg * np.sum(W * W)
    dW = X.T.dot(dscores) + reg * W  # BUG: d/dW of reg·ΣW² is 2·reg·W
    return loss, dW


def softmax_loss_norm(W, X, y, reg):
    """Softmax loss function, vectorized, regularized with the wrong norm."""
    scores = X.dot(W)
    loss, dscores = softmax_loss(scores, y)
    loss += reg * np.linalg.norm(W)  # BUG: the norm, not the squared norm np.sum(W * W)
    dW = X.T.dot(dscores) + 2 * reg * W
    return loss, dW
