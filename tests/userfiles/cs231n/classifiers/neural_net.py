"""A two-layer fully-connected network, shaped like assignment 1's TwoLayerNet (R = reg·ΣW²)."""

import numpy as np

from cs231n.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


class TwoLayerNet:
    """
    A two-layer fully-connected neural network. The net has an input dimension of
    N, a hidden layer dimension of H, and performs classification over C classes.
    We train the network with a softmax loss function and L2 regularization on the
    weight matrices. The network uses a ReLU nonlinearity after the first fully
    connected layer.

    input - fully connected layer - ReLU - fully connected layer - softmax
    """

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        """Initialize small random weights and zero biases, stored in self.params."""
        self.params = {}
        self.params["W1"] = std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        """
        Compute the loss and gradients for a two layer fully connected neural network.

        Returns the scores if y is None, else (loss, grads) with grads a dict
        mapping parameter names to gradients of the loss.
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        hidden, affine1_cache = affine_forward(X, W1, b1)
        relu, relu_cache = relu_forward(hidden)
        scores, affine2_cache = affine_forward(relu, W2, b2)
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

        grads = {}
        drelu, grads["W2"], grads["b2"] = affine_backward(dscores, affine2_cache)
        dhidden = relu_backward(drelu, relu_cache)
        _, grads["W1"], grads["b1"] = affine_backward(dhidden, affine1_cache)
        grads["W2"] += 2 * reg * W2
        grads["W1"] += 2 * reg * W1
        return loss, grads

    def predict(self, X):
        """Predict the class of each row of X."""
        return np.argmax(self.loss(X), axis=1)
