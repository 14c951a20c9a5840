"""Layers shared by the course's classifiers and networks: a module they import from the package."""

import numpy as np


def affine_forward(x, w, b):
    """Compute x·w + b; return it and a cache for the backward pass."""
    out = x.dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Return dx, dw, db for the affine layer, given the upstream derivative dout."""
    x, w, b = cache
    dx = dout.dot(w.T)
    dw = x.T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    """Compute max(0, x); the cache is x."""
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """Pass dout through where the ReLU's input was positive."""
    x = cache
    dx = dout * (x > 0)
    return dx


def softmax_loss(x, y):
    """Compute the softmax loss and its gradient for class scores x (N, C) and labels y (N,)."""
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
