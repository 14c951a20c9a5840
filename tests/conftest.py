"""Small fixtures shared by the test modules: a CLI runner, a tiny batch, and files holding it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner


@pytest.fixture
def runner():
    """A CliRunner with stdout and stderr kept apart (click >= 8.2) and a fixed environment.

    Rich reads the terminal's size from the real file descriptors and honours
    FORCE_COLOR / TTY_COMPATIBLE, so pin an 80-column, colourless console: the
    output then depends only on the code under test, not on where pytest runs.
    """
    environment = {"COLUMNS": "80", "LINES": "25", "NO_COLOR": None, "FORCE_COLOR": None}
    environment |= {"TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
    return CliRunner(env=environment)


@pytest.fixture
def tiny_batch():
    """Seeded float64 scores of shape (6, 4) and their int labels."""
    rng = np.random.default_rng(20240611)
    scores = rng.normal(0.0, 2.0, size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    return scores, labels


def _write_batch(directory: Path, scores: np.ndarray, labels: np.ndarray) -> SimpleNamespace:
    """Save a batch as .npy and .csv files in ``directory``; return their paths as strings."""
    np.save(directory / "scores.npy", scores)
    np.save(directory / "labels.npy", labels)
    np.savetxt(directory / "scores.csv", scores, delimiter=",", fmt="%.17g")
    np.savetxt(directory / "labels.csv", labels, fmt="%d")
    names = ("scores.npy", "labels.npy", "scores.csv", "labels.csv")
    scores_npy, labels_npy, scores_csv, labels_csv = (str(directory / name) for name in names)
    return SimpleNamespace(
        scores_npy=scores_npy,
        labels_npy=labels_npy,
        scores_csv=scores_csv,
        labels_csv=labels_csv,
        scores=scores,
        labels=labels,
    )


@pytest.fixture
def batch_files(tmp_path, tiny_batch):
    """The tiny batch as scores.npy/labels.npy and scores.csv/labels.csv (paths as str)."""
    return _write_batch(tmp_path, *tiny_batch)


@pytest.fixture
def large_scores_files(tmp_path, tiny_batch):
    """The tiny batch with two scores near 1000, as files: exp overflows without a max shift."""
    scores, labels = tiny_batch
    scores = scores.copy()
    scores[0, 1] = 1000.0
    scores[3, 2] = 995.0
    directory = tmp_path / "large"
    directory.mkdir()
    return _write_batch(directory, scores, labels)
