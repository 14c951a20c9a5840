"""Errors per entry, the tolerance model, and the pass / warn / fail verdict.

The tolerance model
-------------------
A correct implementation working in a float type with machine epsilon
``eps`` computes entry ``(i, j)`` of the gradient to within about
``eps·kappa_i`` of its scale, with ``kappa_i = 1 + max_j |s[i, j]| + sqrt(C)``:
exponentiating a rounded score difference costs ``eps·|s|`` relative, and a
row sum of C terms costs up to ``sqrt(C)·eps`` in practice. The scale of an
entry depends on its kind:

* off the label, ``p/N`` involves no cancellation, so it is held to its own
  size, ``|p/N|``, down to the float type's smallest normal number;
* on the label, ``(p - 1)/N`` cancels, so it is held to the row's scale ``1/N``.

The tolerance is ``SAFETY·eps·kappa_i·scale_ij`` plus the reference method's
own error bound.

The ``max |s|`` term allows for implementations that shift by the row's
logsumexp, whose own rounding is ``eps·|s|``. It is capped at ``SCORE_CAP``
(1e6, a relative allowance of about 2e-9): a max-shifted computation loses
nothing to the scores' size, since two scores far enough apart to round badly
leave one probability at exactly 0. So at scores of 1e300 a gradient is still
held to about 1e-9 relative rather than to nothing. The float32 tier of a
float64 batch never accepts a relative error above ``LOOSEST`` (5e-5), so a
float64 gradient off by 1e-4 always fails; float16 and float32 batches are
held to their own precision, but never more loosely than ``COARSEST`` (10%).

With float64 (eps 2.2e-16), C = 10 and scores of size 5 the tolerance
is about 1.6e-14 relative: a gradient scaled by (1 + 1e-4) fails by ten orders
of magnitude, and a gradient computed in float32 (eps 1.2e-7) misses it and
is judged against the float32 tier instead, which gives ``warn``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import DTypeLike

from gradcheck_cli._typing import Float64Array, FloatArray, IntArray

Verdict = Literal["pass", "warn", "fail"]
SAFETY = 8.0
"""Margin over the rounding analysis in the module docstring."""
SEVERITY: dict[Verdict, int] = {"pass": 0, "warn": 1, "fail": 2}
LOOSEST = 5e-5
"""The float32 tier of a float64 batch accepts no more than this: off by 1e-4 must fail."""
COARSEST = 0.1
"""No tier accepts more: float16 scores of 1e4 (spacing 8) still fail a sign or a factor."""
SCORE_CAP = 1e6
"""Score size above which rounding is no longer allowed to grow (see the module docstring)."""


@dataclass(frozen=True)
class WorstEntry:
    """One gradient entry, with how far it is from the numerical reference.

    ``ratio`` is ``abs_error / tolerance``: above 1 the entry is out of tolerance.
    ``method`` names the reference that judged it (``"central"`` or ``"complex"``).
    """

    row: int
    column: int
    analytic: float
    numerical: float
    abs_error: float
    tolerance: float
    ratio: float
    method: str


@dataclass(frozen=True)
class GradientJudgement:
    """The verdict on one gradient and the numbers behind it.

    Errors (``max_rel_error``, ``median_rel_error``, ``max_abs_error``,
    ``median_abs_error``) are
    measured against the reported reference; relative error is
    ``|a - n| / max(|a|, |n|)``, with the label entry measured against at
    least the row scale ``1/N`` since ``(p - 1)/N`` cancels. Under ``auto`` the
    reported reference is central differences wherever they resolve the
    entry's value and the complex step elsewhere. ``max_error_ratio`` is the
    largest ``|a - n| / tolerance`` over judged entries: above 1 fails.
    ``judged_by`` counts the
    entries each reference method decided; ``unjudged`` counts entries too
    small for central differences to judge (``--method central`` only).
    """

    verdict: Verdict
    reason: str
    max_rel_error: float
    median_rel_error: float
    max_abs_error: float
    median_abs_error: float
    worst: tuple[WorstEntry, ...]
    judged_by: dict[str, int]
    unjudged: int
    failed_entries: int
    max_error_ratio: float


@dataclass(frozen=True)
class Reference:
    """A numerical gradient over the checked entries with its own error bound per entry."""

    method: str
    gradient: Float64Array
    error: Float64Array


def relative_error(
    analytic: FloatArray, numerical: FloatArray, floor: FloatArray | float = 0.0
) -> Float64Array:
    """Return ``|a - n| / max(|a|, |n|, floor)`` per entry, 0 where all three are 0."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    denominator = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    difference = np.abs(a - n)
    result: Float64Array = np.divide(
        difference, denominator, out=np.zeros_like(difference), where=denominator > 0
    )
    return result


def entry_tolerance(
    reference: Float64Array,
    scores: FloatArray,
    labels: IntArray,
    n_total: int,
    dtype: DTypeLike,
    loosest: float = COARSEST,
) -> Float64Array:
    """Tolerance per entry for a correct implementation working in ``dtype``.

    Parameters
    ----------
    reference : ndarray, shape (K, C)
        The (exact) numerical gradient of the checked rows.
    scores : ndarray, shape (K, C)
        The scores of the checked rows.
    labels : ndarray of int, shape (K,)
        Their labels.
    n_total : int
        N, the number of rows the loss averages over.
    dtype : numpy floating dtype
        The float type the implementation is expected to work in.
    loosest : float
        The largest relative tolerance allowed, however large the scores.

    Returns
    -------
    ndarray, shape (K, C)
        ``SAFETY·eps·kappa_i·scale_ij``, as the module docstring explains.
    """
    info = np.finfo(dtype)
    rows, columns = reference.shape
    size = np.max(np.abs(scores), axis=1).astype(np.float64)  # float16 scores: no overflow
    kappa = 1.0 + np.minimum(size, SCORE_CAP) + np.sqrt(columns)
    scale = np.maximum(np.abs(reference), float(info.tiny))
    scale[np.arange(rows), labels] = 1.0 / n_total
    relative = np.minimum(SAFETY * float(info.eps) * kappa, loosest)
    tolerance: Float64Array = relative[:, None] * scale
    return tolerance


def judge_gradient(
    analytic: FloatArray,
    references: dict[str, Reference],
    *,
    method: Literal["auto", "central", "complex"],
    scores: FloatArray,
    labels: IntArray,
    rows: IntArray,
    checked: np.ndarray,
    n_total: int,
    top: int = 5,
) -> GradientJudgement:
    """Judge a finite analytic gradient against the numerical references.

    Parameters
    ----------
    analytic : ndarray, shape (K, C)
        The implementation's gradient on the checked rows.
    references : dict
        ``"central"`` and/or ``"complex"`` `Reference` over the same rows.
    method : {"auto", "central", "complex"}
        ``auto`` reports central-difference errors and lets the complex step
        judge every entry central differences cannot resolve; ``central``
        judges with central differences alone and leaves entries below their
        error unjudged; ``complex`` judges everything with the complex step.
    scores, labels : ndarray
        The checked rows' scores (K, C) and labels (K,).
    rows : ndarray of int, shape (K,)
        Their indices in the full batch, for naming entries.
    checked : ndarray of bool, shape (K, C)
        Which entries of those rows to judge (all, unless sampling).
    n_total : int
        N, the number of rows the loss averages over.
    top : int
        How many worst entries to keep.

    Returns
    -------
    GradientJudgement
    """
    expected = np.dtype(scores.dtype) if np.issubdtype(scores.dtype, np.floating) else None
    expected = expected or np.dtype(np.float64)
    a = np.asarray(analytic, dtype=np.float64)
    # Tolerances scale with the exact reference where there is one.
    scale_source = references["complex" if "complex" in references else "central"].gradient
    tolerance = entry_tolerance(scale_source, scores, labels, n_total, expected)
    by_central, value, bound = _choose_judge(a, references, method, tolerance)
    error = np.abs(a - value)
    allowed = tolerance + bound
    ratio = error / allowed
    unjudged = np.zeros(a.shape, dtype=bool)
    if method == "central":
        unjudged = checked & (np.abs(value) <= bound) & (ratio <= 1)
    judged = checked & ~unjudged
    failing = (ratio > 1) & judged
    size = int(checked.sum())
    verdict: Verdict = "pass"
    reason = ""
    if failing.any():
        verdict, reason = "fail", f"{int(failing.sum())} of {size} entries outside tolerance"
        if expected == np.float64:
            # The float32 tier: would the gradient pass as a float32 computation?
            loose = entry_tolerance(
                scale_source, scores, labels, n_total, np.float32, loosest=LOOSEST
            )
            loose += bound
            if bool(np.all(error[judged] <= loose[judged])):
                verdict = "warn"
                reason = (
                    f"{int(failing.sum())} of {size} entries are correct to float32 precision "
                    f"only (worst {float(ratio[judged].max()):.3g}× the float64 tolerance)"
                )
    worst = _worst_entries(a, value, error, allowed, by_central, judged, rows, top)
    count_unjudged = int(unjudged.sum())
    if verdict == "pass" and count_unjudged:
        verdict = "warn" if count_unjudged == size else "pass"
        reason = (
            f"{count_unjudged} of {size} entries too small to judge by central differences "
            "(use --method auto)"
        )
    if verdict != "pass" and worst:
        w = worst[0]
        reason += (
            f"; worst ({w.row}, {w.column}): analytic {w.analytic:.6g}, numerical {w.numerical:.6g}"
        )
    shown = judged if judged.any() else checked
    reported = _reported_reference(references, method)
    label_floor = np.zeros(a.shape)
    label_floor[np.arange(a.shape[0]), labels] = 1.0 / n_total
    difference = np.abs(a - reported)
    rel = relative_error(a, reported, label_floor)
    if not shown.all():
        rel, difference = rel[shown], difference[shown]
    central_count = int(np.count_nonzero(by_central & judged))
    judged_count = int(np.count_nonzero(judged))
    judged_by = {"central": central_count, "complex": judged_count - central_count}
    return GradientJudgement(
        verdict=verdict,
        reason=reason,
        max_rel_error=float(rel.max()),
        median_rel_error=float(np.median(rel)),
        max_abs_error=float(difference.max()),
        median_abs_error=float(np.median(difference)),
        max_error_ratio=float(np.max(ratio, where=judged, initial=0.0)),
        worst=worst,
        judged_by={name: count for name, count in judged_by.items() if count},
        unjudged=count_unjudged,
        failed_entries=int(failing.sum()),
    )


def judge_loss(
    loss: float, reference_loss: float, scores: FloatArray, dtype: np.dtype[Any]
) -> tuple[Verdict, str]:
    """Judge an implementation's loss against the float64 reference loss.

    Each row loss ``logsumexp(s_i) - s[i, y_i]`` carries about
    ``eps·(1 + max|s| + sqrt(C))`` of rounding, and a naive sum of N row
    losses adds up to ``sqrt(N)·eps·|L|``. The terms are added, not
    multiplied, so the bound stays finite for scores of 1e300.
    """
    largest = float(np.max(np.abs(scores)))
    return judge_loss_of_size(loss, reference_loss, scores.shape, largest, dtype)


def judge_loss_of_size(
    loss: float,
    reference_loss: float,
    shape: tuple[int, ...],
    max_abs_score: float,
    dtype: np.dtype[Any],
) -> tuple[Verdict, str]:
    """Judge a loss as `judge_loss` does, knowing only the batch's shape and largest |score|.

    A file checked block by block (`gradcheck_cli.blockwise`) is never whole,
    so it passes these two instead of the scores; the rule is the same.
    """
    if not np.isfinite(loss):
        return "fail", f"loss is {loss}"
    n, columns = shape
    size = min(max_abs_score, SCORE_CAP)
    scale = 1.0 + size + np.sqrt(columns) + np.sqrt(n) * abs(reference_loss)
    difference = abs(loss - reference_loss)
    tiers = [dtype] + ([np.dtype(np.float32)] if dtype == np.float64 else [])
    loosest = [COARSEST * (1.0 + abs(reference_loss)), LOOSEST * (1.0 + abs(reference_loss))]
    allowed = [
        min(SAFETY * float(np.finfo(t).eps) * scale, cap)
        for t, cap in zip(tiers, loosest, strict=False)
    ]
    if difference <= allowed[0]:
        return "pass", ""
    message = f"loss {loss:.10g} differs from the reference {reference_loss:.10g}"
    if len(allowed) > 1 and difference <= allowed[1]:
        return "warn", message + " beyond float64 precision (float32-level agreement)"
    return "fail", message


def _reported_reference(references: dict[str, Reference], method: str) -> Float64Array:
    """Return the reference whose errors are reported (central where it resolves the value)."""
    if method == "complex":
        return references["complex"].gradient
    central = references["central"]
    if method == "central":
        return central.gradient
    resolved = np.abs(central.gradient) > central.error
    reported: Float64Array = np.where(resolved, central.gradient, references["complex"].gradient)
    return reported


def _choose_judge(
    analytic: Float64Array, references: dict[str, Reference], method: str, tolerance: Float64Array
) -> tuple[np.ndarray, Float64Array, Float64Array]:
    """Return, per entry, whether central differences judge it, and the judge's value and bound."""
    if method != "auto":
        ref = references[method]
        return np.full(analytic.shape, method == "central"), ref.gradient, ref.error
    central, exact = references["central"], references["complex"]
    # Central differences decide an entry only when their verdict is conclusive:
    # a miss beyond their own error, or an error bound inside the tolerance.
    outside = np.abs(analytic - central.gradient) > tolerance + central.error
    resolves = (central.error <= tolerance) & (np.abs(central.gradient) > central.error)
    by_central = outside | resolves
    if not by_central.any():
        return by_central, exact.gradient, exact.error
    value = np.where(by_central, central.gradient, exact.gradient)
    bound = np.where(by_central, central.error, exact.error)
    return by_central, value, bound


def _worst_entries(
    analytic: Float64Array,
    value: Float64Array,
    error: Float64Array,
    allowed: Float64Array,
    by_central: np.ndarray,
    judged: np.ndarray,
    rows: IntArray,
    top: int,
) -> tuple[WorstEntry, ...]:
    """Return the ``top`` judged entries with the largest error-to-tolerance ratio."""
    ratio = error / allowed
    ranked = np.where(judged, ratio, -1.0).ravel()
    count = min(top, int(np.count_nonzero(judged)))
    if count == 0:
        return ()
    candidates = np.argpartition(-ranked, count - 1)[:count]
    order = candidates[np.argsort(-ranked[candidates], kind="stable")]
    entries = []
    for flat in order:
        i, j = np.unravel_index(flat, analytic.shape)
        entries.append(
            WorstEntry(
                row=int(rows[i]),
                column=int(j),
                analytic=float(analytic[i, j]),
                numerical=float(value[i, j]),
                abs_error=float(error[i, j]),
                tolerance=float(allowed[i, j]),
                ratio=float(ratio[i, j]),
                method="central" if by_central[i, j] else "complex",
            )
        )
    return tuple(entries)
