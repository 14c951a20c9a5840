"""A user's own pytest file: gradcheck's assertion helper guarding my_softmax.py's gradients."""

from __future__ import annotations

import numpy as np
import pytest
from my_softmax import label_smoothed_loss, softmax_loss

from gradcheck_cli import assert_gradient_correct


@pytest.fixture
def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(0.0, 3.0, size=(16, 10)), rng.integers(0, 10, size=16)


def test_softmax_gradient(batch: tuple[np.ndarray, np.ndarray]) -> None:
    assert_gradient_correct(softmax_loss, *batch)


def test_softmax_gradient_on_huge_scores(batch: tuple[np.ndarray, np.ndarray]) -> None:
    scores, labels = batch
    assert_gradient_correct(softmax_loss, scores * 100 + 1000, labels)


def test_label_smoothed_gradient_against_its_own_loss(
    batch: tuple[np.ndarray, np.ndarray],
) -> None:
    assert_gradient_correct(label_smoothed_loss, *batch, against="own", strict=True)
