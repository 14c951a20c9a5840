"""The data behind `gradcheck demo`: the seed's story on a tiny batch, and broken gradients caught.

`run_demo` builds everything the demo shows and returns it; `report` draws it.
The batch is tiny (4 samples, 3 classes) so that every number fits on screen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradcheck_cli import numeric, softmax
from gradcheck_cli._typing import Float64Array, FloatArray, IntArray
from gradcheck_cli.checker import CheckResult, Implementation, check
from gradcheck_cli.errors import InputError
from gradcheck_cli.verdict import relative_error

BATCH_SHAPE = (4, 3)
"""N samples and C classes of the demo batch."""
LARGE_SCORE = 1000.0
"""Added to one row for the overflow control: ``exp(1000)`` overflows, the loss does not change."""


@dataclass(frozen=True)
class NegativeControl:
    """A deliberately broken gradient and its check, which must fail.

    ``title`` names the bug, ``bug`` says what the code does wrong, ``scores``
    is the batch it was checked on (the demo batch, or a shifted copy), and
    ``result`` is the check.
    """

    title: str
    bug: str
    scores: FloatArray
    result: CheckResult

    @property
    def caught(self) -> bool:
        """Whether the check failed it, as it must."""
        return self.result.verdict == "fail"


@dataclass(frozen=True)
class Demo:
    """Everything `gradcheck demo` shows, in the order it shows it.

    ``probabilities`` (N, C) are the softmax of each row, ``row_losses`` (N,)
    the per-sample losses ``-log p[i, y_i]`` and ``loss`` their mean.
    ``numerical`` is the complex-step gradient and ``central`` the
    central-difference one; ``gradients`` holds each built-in
    implementation's ``dscores``, ``agreement`` its largest relative
    difference from ``numerical`` (label entries measured against at least
    ``1/N``, as `gradcheck_cli.verdict` does) and ``results`` its check.
    ``controls`` are the broken gradients; ``contrast`` is `stable` checked
    on the large scores of the overflow control.
    """

    scores: Float64Array
    labels: IntArray
    probabilities: Float64Array
    row_losses: Float64Array
    loss: float
    numerical: Float64Array
    central: Float64Array
    gradients: dict[str, FloatArray]
    agreement: dict[str, float]
    results: tuple[CheckResult, ...]
    controls: tuple[NegativeControl, ...]
    contrast: CheckResult

    @property
    def as_expected(self) -> bool:
        """Whether every implementation passed and every broken gradient was caught."""
        passed = all(result.verdict == "pass" for result in (*self.results, self.contrast))
        return passed and all(control.caught for control in self.controls)


def demo_batch(rng: np.random.Generator) -> tuple[Float64Array, IntArray]:
    """Draw the demo's scores (4, 3), rounded to one decimal so they print exactly, and labels.

    Examples
    --------
    >>> scores, labels = demo_batch(np.random.default_rng(0))
    >>> scores.shape, labels.shape
    ((4, 3), (4,))
    """
    n, c = BATCH_SHAPE
    scores: Float64Array = np.round(rng.normal(0.0, 2.0, size=(n, c)), 1)
    labels: IntArray = rng.integers(0, c, size=n).astype(np.intp)
    return scores, labels


def missing_one_over_n(scores: FloatArray, labels: IntArray) -> tuple[float, FloatArray]:
    """Return the right loss with a gradient that forgot the ``1/N``: each entry N times too big."""
    loss, dscores = softmax.stable(scores, labels)
    return loss, dscores * scores.shape[0]


def wrong_label_entry(scores: FloatArray, labels: IntArray) -> tuple[float, FloatArray]:
    """Return the right loss with ``-1/N`` subtracted at the next class instead of the label."""
    loss, dscores = softmax.stable(scores, labels)
    n, c = scores.shape
    rows = np.arange(n)
    dscores[rows, labels] += 1.0 / n
    dscores[rows, (labels + 1) % c] -= 1.0 / n
    return loss, dscores


def run_demo(rng: np.random.Generator) -> Demo:
    """Build the demo: the batch, softmax, losses, four gradients, and three negative controls.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the batch (`demo_batch`).

    Returns
    -------
    Demo

    Examples
    --------
    >>> demo = run_demo(np.random.default_rng(0))
    >>> [r.verdict for r in demo.results], [c.caught for c in demo.controls]
    (['pass', 'pass', 'pass', 'pass'], [True, True, True])
    """
    scores, labels = demo_batch(rng)
    n = scores.shape[0]
    row_losses = numeric.reference_row_losses(scores, labels)
    shifted = np.exp(scores - np.max(scores, axis=1, keepdims=True))
    probabilities = shifted / np.sum(shifted, axis=1, keepdims=True)
    numerical = numeric.complex_step(scores, labels)
    gradients = {
        name: f(scores.copy(), labels.copy())[1] for name, f in softmax.IMPLEMENTATIONS.items()
    }
    floor = np.zeros_like(scores)
    floor[np.arange(n), labels] = 1.0 / n
    agreement = {
        name: float(np.max(relative_error(gradient, numerical, floor)))
        for name, gradient in gradients.items()
    }
    results = tuple(check(name, scores, labels) for name in softmax.IMPLEMENTATIONS)
    # Softmax ignores a constant added to a row, so the large batch has the same loss
    # and gradient; only code without the max shift sees exp(1000) overflow.
    large = scores.copy()
    large[0] += LARGE_SCORE
    broken: list[tuple[str, str, FloatArray, Implementation]] = [
        ("missing 1/N", "dscores not divided by N", scores, missing_one_over_n),
        ("wrong label entry", "-1/N at class y+1, not y", scores, wrong_label_entry),
        ("no max-shift", f"seed's code, row 0 + {LARGE_SCORE:g}", large, softmax.vectorized),
    ]
    controls = tuple(
        NegativeControl(title, bug, batch, check(function, batch, labels))
        for title, bug, batch, function in broken
    )
    return Demo(
        scores=scores,
        labels=labels,
        probabilities=probabilities,
        row_losses=row_losses,
        loss=float(np.sum(row_losses) / n),
        numerical=numerical,
        central=numeric.central_difference(scores, labels).gradient,
        gradients=gradients,
        agreement=agreement,
        results=results,
        controls=controls,
        contrast=check("stable", large, labels),
    )


def save_batch(
    directory: str | os.PathLike[str], scores: FloatArray, labels: IntArray
) -> tuple[Path, ...]:
    """Write the batch as ``scores.npy``, ``labels.npy``, ``scores.csv`` and ``labels.csv``.

    Parameters
    ----------
    directory : str or os.PathLike
        Created if missing (with its parents).
    scores : ndarray, shape (N, C)
    labels : ndarray of int, shape (N,)

    Returns
    -------
    tuple of Path
        The four files written, in that order.

    Raises
    ------
    InputError
        If ``directory`` is a file or cannot be written to.
    """
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{os.fspath(directory)}: is a file, not a directory")
    paths = tuple(
        folder / name for name in ("scores.npy", "labels.npy", "scores.csv", "labels.csv")
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(paths[0], scores)
        np.save(paths[1], labels)
        # %.17g keeps every bit of a float64, so the .csv checks exactly like the .npy.
        np.savetxt(paths[2], scores, delimiter=",", fmt="%.17g")
        np.savetxt(paths[3], labels, fmt="%d")
    except OSError as exc:
        raise InputError(
            f"{os.fspath(directory)}: cannot write there ({exc.strerror or exc})"
        ) from exc
    return paths
