"""A naive and a vectorized softmax loss that are each right, and still disagree.

The naive version was written from this year's notes (R = reg·ΣW², dW gets
2·reg·W), the vectorized one from an older handout (R = ½·reg·ΣW², dW gets
reg·W). Each gradient is the gradient of its own loss, but the notebook's
"difference" between them is not zero.
"""

import numpy as np

from cs231n.layers import softmax_loss


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss function, naive implementation (with loops)."""
    loss = 0.0
    dW = np.zeros_like(W)
    num_train = X.shape[0]
    for i in range(num_train):
        scores = X[i].dot(W)
        scores -= np.max(scores)
        exp_scores = np.exp(scores)
        total = np.sum(exp_scores)
        loss += np.log(total) - scores[y[i]]
        for j in range(W.shape[1]):
            dW[:, j] += (exp_scores[j] / total - (j == y[i])) * X[i]
    loss = loss / num_train + reg * np.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss function, vectorized version."""
    loss, dscores = softmax_loss(X.dot(W), y)
    loss += 0.5 * reg * np.sum(W * W)
    dW = X.T.dot(dscores) + reg * W
    return loss, dW
