"""Name the likely bug in a wrong softmax gradient from the shape of its error.

A wrong gradient is rarely wrong at random. A missing ``1/N`` scales every
entry; a ``-1`` written for ``-1/N`` moves the label entries only; a label
shifted by one moves two entries per row. `diagnose` holds such explanations
against the residual ``r = analytic - numerical`` and keeps the ones that
account for most of it. An explanation is one of two things:

* a **model**: the whole wrong gradient ``m`` a known bug produces
  (``k·numerical`` with ``k`` fitted, the gradient for labels ``y + 1``,
  softmax over the batch axis, ``numerical.T``, the rows in another order).
  It explains ``1 - ‖a - m‖² / ‖r‖²`` of the error;
* a **mask**: a set of entries (the label entries, one row, one column, the
  per-row mean). Its share of ``‖r‖²`` is measured beyond what chance would
  put there, ``(share - f) / (1 - f)`` where ``f`` is the mask's fraction of
  the entries, so that "the non-label entries hold 90% of the error" means
  nothing when they are 90% of the entries.

Both read as the fraction of the squared error explained: 1 for a bug that is
exactly the pattern, about ``p/(N·C)`` for noise and a model with ``p`` fitted
numbers. An explanation counts only when it explains at least `EXPLAINS` and
enough entries lie outside what it fits (`MIN_SUPPORT`) to have contradicted
it; the survivors are ranked most specific first. Non-finite analytic entries
are diagnosed apart: they have no size, only a place, and the place usually is
the rows whose scores make ``exp`` overflow.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from gradcheck_cli._typing import Float64Array, FloatArray, IntArray
from gradcheck_cli.softmax import stable
from gradcheck_cli.verdict import entry_tolerance

EXPLAINS = 0.99
"""Least explained fraction worth saying. A real bug's exact pattern leaves
only the reference's own error and the implementation's rounding unexplained,
far below 1e-6 of the squared error even against central differences. Random
noise has no pattern, but a mask over few entries can catch a lucky share of
it: over 1000 seeded draws of noise (1e-15 to 1e3 times the gradient's size)
the best explanation reached 0.93 on a 6×4 batch, 0.89 on 8×8 and 0.48 on
50×10, each time "only the non-label entries", a bet on just N label entries.
0.99 keeps chance out even on tiny batches."""
MIN_SUPPORT = 6
"""Least number of entries an explanation must get right beyond those it leaves free (fitted
or masked). Noise fits a pattern by chance when few entries can contradict it: "only the
non-label entries are wrong" on a 1×5 batch rests on one label entry, and one entry is
small by chance 7% of the time at the 0.99 threshold (a Beta(1/2, 2) tail); with six, the
chance is below 1e-5. Smaller batches than that get no diagnosis."""
MATCH = 1e-3
"""Relative distance at which a fitted number is taken to be a named one (N, 1/N, -1, ...)."""


@dataclass(frozen=True)
class Diagnosis:
    """One likely bug behind a wrong gradient.

    ``kind`` names the pattern (``"missing_1_over_n"``, ``"label_off_by_one"``,
    ``"shifted_labels"``, ``"missing_max_shift"``, ...; see `diagnose`), ``message``
    says it in one line with the fitted numbers, and ``explained`` is the
    fraction of the squared error the pattern accounts for, in [0, 1] (for
    non-finite entries: the fraction of them it places).
    """

    kind: str
    message: str
    explained: float

    def to_dict(self) -> dict[str, Any]:
        """Return the diagnosis as JSON-ready plain data."""
        return asdict(self)


@dataclass(frozen=True)
class _Candidate:
    """A diagnosis, its specificity rank (lower is more specific) and the entries it leaves free."""

    rank: int
    diagnosis: Diagnosis
    free: int = 0


@dataclass(frozen=True)
class _Residual:
    """The arrays every explanation reads, computed once."""

    analytic: Float64Array
    numerical: Float64Array
    residual: Float64Array
    energy: float
    scores: Float64Array
    labels: IntArray
    on_label: np.ndarray


def default_tolerance(
    numerical: FloatArray, scores: FloatArray, labels: IntArray, dtype: Any = np.float64
) -> Float64Array:
    """Tolerance per entry for a correct gradient in ``dtype`` (see `gradcheck_cli.verdict`)."""
    n = np.asarray(numerical, dtype=np.float64)
    return entry_tolerance(n, np.asarray(scores), labels, n.shape[0], dtype)


def error_ratio(
    analytic: FloatArray,
    numerical: FloatArray,
    scores: FloatArray,
    labels: IntArray,
    *,
    tolerance: FloatArray | None = None,
) -> Float64Array:
    """Return ``|analytic - numerical| / tolerance`` per entry, the heat map's numbers.

    Parameters
    ----------
    analytic, numerical : ndarray, shape (N, C)
        The implementation's gradient and the numerical one; ``nan`` in
        ``numerical`` marks an entry that was not checked.
    scores : ndarray, shape (N, C)
        The scores both were computed at.
    labels : ndarray of int, shape (N,)
        The labels.
    tolerance : ndarray, shape (N, C), optional
        Tolerance per entry; default `default_tolerance` in the analytic dtype.

    Returns
    -------
    ndarray, shape (N, C), float64
        At most 1 within tolerance; ``inf`` where ``analytic`` is nan or inf;
        ``nan`` where ``numerical`` is (not checked).
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    if tolerance is None:
        tolerance = default_tolerance(np.nan_to_num(n), scores, labels, _float_type(analytic))
    with np.errstate(invalid="ignore", over="ignore"):
        ratio: Float64Array = np.abs(a - n) / np.asarray(tolerance, dtype=np.float64)
    ratio[~np.isfinite(a)] = math.inf
    ratio[np.isnan(n)] = math.nan
    return ratio


def diagnose(
    analytic: FloatArray,
    numerical: FloatArray,
    scores: FloatArray,
    labels: IntArray,
    *,
    tolerance: FloatArray | None = None,
    limit: int = 3,
) -> tuple[Diagnosis, ...]:
    """Name the likely bugs behind a wrong gradient, most specific first.

    Parameters
    ----------
    analytic : ndarray, shape (N, C)
        The implementation's gradient (any real dtype; nan/inf allowed).
    numerical : ndarray, shape (N, C)
        The numerical gradient of every entry, finite (the complex step is best).
    scores : ndarray, shape (N, C)
        The scores both were computed at.
    labels : ndarray of int, shape (N,)
        The labels, in ``[0, C)``.
    tolerance : ndarray, shape (N, C), optional
        Tolerance per entry, e.g. the verdict's plus the reference's error
        bound; default `default_tolerance` in the analytic dtype. A gradient
        within it everywhere gets no diagnosis.
    limit : int
        Most diagnoses to return.

    Returns
    -------
    tuple of Diagnosis
        Every explanation that explains at least `EXPLAINS` of the error
        and leaves at least `MIN_SUPPORT` entries to contradict it, the most
        specific first; empty when the gradient is within tolerance or
        nothing explains it well.

    Raises
    ------
    ValueError
        If the shapes disagree, ``numerical`` is not finite, a label is out
        of range or ``limit`` is not positive.

    Notes
    -----
    Kinds, roughly from most to least specific: ``missing_max_shift`` and
    ``non_finite``; the models ``missing_1_over_n``, ``sign_flipped``,
    ``shifted_labels``, ``transposed``, ``reshaped``,
    ``softmax_wrong_axis``, ``sums_broadcast_wrong``, ``rows_permuted``,
    ``columns_permuted``; ``label_off_by_one`` and ``missing_one_hot``;
    ``one_entry``; ``last_row`` and ``class_0``; ``one_row`` and
    ``one_column``; ``constant_factor``; ``label_entries`` and
    ``non_label_entries``; ``rows_not_summing_to_zero``. The module
    docstring says how each is measured.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0], [0.5, 0.5, 0.0]])
    >>> labels = np.array([1, 2, 0])
    >>> _, right = stable(scores, labels)
    >>> [d.kind for d in diagnose(3 * right, right, scores, labels)]
    ['missing_1_over_n']
    >>> diagnose(right, right, scores, labels)
    ()
    """
    a, n, s, y = _validate(analytic, numerical, scores, labels, limit)
    if not np.all(np.isfinite(a)):
        return _non_finite(a, s, _float_type(analytic))[:limit]
    if tolerance is None:
        tolerance = default_tolerance(n, s, y, _float_type(analytic))
    residual = a - n
    if np.all(np.abs(residual) <= tolerance):
        return ()
    on_label = np.zeros(a.shape, dtype=bool)
    on_label[np.arange(a.shape[0]), y] = True
    energy = float(np.sum(residual**2))
    if not 0.0 < energy < math.inf:
        return ()  # errors of 1e-160 square to 0 (or of 1e160 to inf): nothing to compare
    context = _Residual(a, n, residual, energy, s, y, on_label)
    found = [
        c
        for c in _candidates(context)
        if c.diagnosis.explained >= EXPLAINS and a.size - c.free >= MIN_SUPPORT
    ]
    if not found:
        return ()
    found.sort(key=lambda c: (c.rank, -c.diagnosis.explained))
    # Six digits say how sure; more would only show rounding (0.9999999999999999).
    return tuple(
        replace(c.diagnosis, explained=round(c.diagnosis.explained, 6)) for c in found[:limit]
    )


def _validate(
    analytic: FloatArray, numerical: FloatArray, scores: FloatArray, labels: IntArray, limit: int
) -> tuple[Float64Array, Float64Array, Float64Array, IntArray]:
    """Check shapes, finiteness and range; return float64 arrays and int labels."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.size == 0:
        raise ValueError("`scores` must be a non-empty 2-D array (N, C).")
    for name, array in (("analytic", analytic), ("numerical", numerical)):
        if np.shape(array) != s.shape:
            raise ValueError(f"`{name}` must have the shape of `scores`, {s.shape}.")
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numerical, dtype=np.float64)
    if not np.all(np.isfinite(n)):
        raise ValueError("`numerical` must be finite: diagnose needs the full numerical gradient.")
    y = np.asarray(labels)
    if y.shape != (s.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"`labels` must be {s.shape[0]} integers.")
    if y.min() < 0 or y.max() >= s.shape[1]:
        raise ValueError(f"`labels` must lie in [0, {s.shape[1]}).")
    if limit < 1:
        raise ValueError("`limit` must be a positive integer.")
    return a, n, s, y.astype(np.intp)


def _float_type(array: FloatArray) -> np.dtype[Any]:
    """Return the float type an array was computed in (float64 for anything else)."""
    dtype = np.asarray(array).dtype
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def _non_finite(a: Float64Array, scores: Float64Array, dtype: np.dtype[Any]) -> tuple[Diagnosis]:
    """Say where the nan/inf entries are and whether an unshifted exp explains them."""
    bad = ~np.isfinite(a)
    count = int(bad.sum())
    first = tuple(int(k) for k in np.argwhere(bad)[0])
    entries = "entry is" if count == 1 else "entries are"
    where = f"{count} gradient {entries} nan or inf"
    # exp(s) overflows above log(max), and rounds to 0 across a row whose scores all lie
    # below log(smallest subnormal / 2): inf/inf or 0/0. Subtracting the row max avoids both.
    info = np.finfo(dtype)
    high, low = math.log(float(info.max)), math.log(float(info.smallest_subnormal)) - math.log(2)
    row_max = scores.max(axis=1)
    for risky, limit in (
        (row_max > high, f"largest score exceeds {_number(round(high, 2))}, where exp overflows"),
        (row_max < low, f"scores all lie below {_number(round(low, 2))}, where exp underflows"),
    ):
        placed = float(bad[risky].sum()) / count
        if placed >= EXPLAINS and risky[first[0]]:
            rows = int(np.count_nonzero(risky & bad.any(axis=1)))
            message = (
                f"{where}, in the {rows} row{'s' if rows > 1 else ''} whose {limit} in {dtype} "
                f"(first at {first}, row max {_number(row_max[first[0]])}) — "
                "exp(scores) without the max-shift: subtract each row's max first"
            )
            return (Diagnosis("missing_max_shift", message, placed),)
    bad_rows, bad_columns = np.flatnonzero(bad.any(axis=1)), np.flatnonzero(bad.any(axis=0))
    if bad.all():
        place = "every entry"
    elif bad_rows.size == 1:
        place = f"all in row {bad_rows[0]}"
    elif bad_columns.size == 1:
        place = f"all in column {bad_columns[0]}"
    else:
        place = f"in {bad_rows.size} rows and {bad_columns.size} columns"
    message = f"{where}, {place} (first at {first}); exp does not overflow there"
    return (Diagnosis("non_finite", message, 1.0),)


def _candidates(r: _Residual) -> Iterator[_Candidate]:
    """Yield every explanation of the residual, each with how much of it it explains."""
    yield from _factor(r)
    yield from _models(r)
    yield from _label_masks(r)
    yield from _concentration(r)
    yield from _row_offset(r)


def _explained_by(r: _Residual, model: Float64Array) -> float:
    """Return ``1 - ‖a - m‖² / ‖a - n‖²`` clipped to [0, 1]; 0 for a non-finite model."""
    if not np.all(np.isfinite(model)):
        return 0.0
    left = float(np.sum((r.analytic - model) ** 2))
    return min(1.0, max(0.0, 1.0 - left / r.energy))


def _beyond_chance(share: float, fraction: float) -> float:
    """Return a mask's share of the squared error beyond its share of the entries."""
    return min(1.0, max(0.0, (share - fraction) / (1.0 - fraction)))


def _times(k: float) -> str:
    """Format a factor so that one near 1 still shows how far from 1 it is."""
    if abs(k - 1) < 1e-3:
        return f"(1 {'+' if k > 1 else '−'} {abs(k - 1):.2g})"
    return _number(k)


def _number(value: float) -> str:
    """Six significant digits, with a true minus sign like the rest of the message."""
    return f"{value:.6g}".replace("-", "−")


def _named(value: float, names: list[tuple[float, str, str]]) -> tuple[str, str] | None:
    """Return the (name, meaning) of the first named number within MATCH of ``value``."""
    for number, name, meaning in names:
        if abs(value - number) <= MATCH * abs(number):
            return name, meaning
    return None


def _factor(r: _Residual) -> Iterator[_Candidate]:
    """Fit a constant factor on every entry by least squares; name it when it is one."""
    N, C = r.analytic.shape
    norm = float(np.sum(r.numerical**2))
    if norm == 0:
        return
    k = float(np.sum(r.analytic * r.numerical)) / norm
    explained = _explained_by(r, k * r.numerical)
    names = [
        (float(N), f" (N = {N})", "the 1/N of the mean loss is missing"),
        (-1.0, "", "the sign is flipped: onehot − p instead of p − onehot"),
        (-float(N), f" (−N, N = {N})", "the sign is flipped and the 1/N is missing"),
        (1 / N, f" (1/N, N = {N})", "divided by N twice"),
        (N / C, f" (N/C, N = {N}, C = {C})", "divided by C instead of N"),
        (float(C), f" (C = {C})", "multiplied by the number of classes"),
        (2.0, "", "twice the gradient: a term counted twice"),
        (0.5, "", "half the gradient: a factor 2 missing"),
    ]
    named = _named(k, [entry for entry in names if entry[0] != 1.0])
    head = f"analytic ≈ {_times(k)} × numerical on every entry"
    if named is None:
        yield _Candidate(
            6, Diagnosis("constant_factor", f"{head}: a constant factor", explained), 1
        )
        return
    name, meaning = named
    kind = "missing_1_over_n" if k > 0 and name == names[0][1] else "constant_factor"
    kind = "sign_flipped" if name == "" and k < 0 else kind
    yield _Candidate(1, Diagnosis(kind, f"{head}{name} — {meaning}", explained), 1)


def _models(r: _Residual) -> Iterator[_Candidate]:
    """Yield the whole wrong gradients that known bugs produce, none with a fitted number."""
    N, C = r.analytic.shape
    s, y, onehot = r.scores, r.labels, r.on_label
    for shift in (1, -1) if C > 2 else (1,):
        model = np.asarray(stable(s, (y + shift) % C)[1], dtype=np.float64)
        sign = "+" if shift > 0 else "−"
        message = (
            f"analytic is the gradient for labels y {sign} 1 (mod C): "
            f"the one-hot sits one class {'right' if shift > 0 else 'left'} of the label"
        )
        yield _Candidate(1, Diagnosis("shifted_labels", message, _explained_by(r, model)))
    if N == C:
        message = f"analytic is the numerical gradient transposed (N = C = {N}): i and j swapped"
        yield _Candidate(1, Diagnosis("transposed", message, _explained_by(r, r.numerical.T)))
    elif N > 1:
        message = (
            f"analytic is the gradient laid out as (C, N) = ({C}, {N}) and reshaped to "
            "(N, C): rows and columns swapped — transpose (.T) instead of reshape"
        )
        model = r.numerical.T.reshape(N, C)
        yield _Candidate(1, Diagnosis("reshaped", message, _explained_by(r, model)))
    if N > 1:
        shifted = np.exp(s - s.max(axis=0))
        model = (shifted / shifted.sum(axis=0) - onehot) / N
        message = (
            "softmax normalised over the batch (axis 0) instead of the classes: "
            "the columns of p sum to 1, not its rows — sum with axis=1, keepdims=True"
        )
        yield _Candidate(1, Diagnosis("softmax_wrong_axis", message, _explained_by(r, model)))
    if N == C:
        # exp(s) / sums with sums of shape (N,) divides column j by row j's sum.
        top = s.max(axis=1)
        logsum = top + np.log(np.sum(np.exp(s - top[:, None]), axis=1))
        with np.errstate(over="ignore"):
            model = (np.exp(s - logsum[None, :]) - onehot) / N
        message = (
            "column j is divided by row j's sum: the row sums broadcast along the wrong axis "
            "(sums[:, None] or keepdims=True; only possible because N = C)"
        )
        yield _Candidate(1, Diagnosis("sums_broadcast_wrong", message, _explained_by(r, model)))
    yield from _permutations(r)


def _matched(a: Float64Array, n: Float64Array) -> IntArray:
    """Return ``order`` with ``a[i] ≈ n[order[i]]``, matching rows by a fixed projection."""
    # Equal rows have equal projections; ranking both sets pairs them in O(N log N).
    weights = 1.5 + np.cos(1.7 * np.arange(a.shape[1]))
    order = np.empty(a.shape[0], dtype=np.intp)
    order[np.argsort(a @ weights, kind="stable")] = np.argsort(n @ weights, kind="stable")
    return order


def _permutations(r: _Residual) -> Iterator[_Candidate]:
    """Match the analytic rows (and columns) to the numerical ones in another order."""
    N, C = r.analytic.shape
    for axis, what, count in ((0, "rows", N), (1, "columns", C)):
        if count < 2:
            continue
        a, n = (r.analytic, r.numerical) if axis == 0 else (r.analytic.T, r.numerical.T)
        order = _matched(a, n)
        moved = np.flatnonzero(order != np.arange(count))
        if moved.size == 0:
            continue
        model = n[order] if axis == 0 else n[order].T
        example = f"{what[:-1]} {moved[0]} holds {what[:-1]} {order[moved[0]]}'s gradient"
        if np.array_equal(order, np.arange(count)[::-1]):
            example = f"in reverse order; {example}"
        message = (
            f"the {what} of the analytic gradient are the right ones in the wrong order "
            f"({moved.size} of {count} moved; {example})"
        )
        kind = f"{what}_permuted"
        yield _Candidate(1, Diagnosis(kind, message, _explained_by(r, model)))


def _share(r: _Residual, mask: np.ndarray) -> float:
    """Return the fraction of the squared error inside ``mask``."""
    return float(np.sum(r.residual[mask] ** 2)) / r.energy


def _label_masks(r: _Residual) -> Iterator[_Candidate]:
    """Find only the label entries wrong, or only the others; name the form of a known bug."""
    N, C = r.analytic.shape
    if C < 2:
        return
    label_share = _share(r, r.on_label)
    for mask, share, fraction, describe in (
        (r.on_label, label_share, 1 / C, _label_form),
        (~r.on_label, 1 - label_share, 1 - 1 / C, _other_form),
    ):
        explained = _beyond_chance(share, fraction)
        if explained >= EXPLAINS:  # naming the form costs passes over the entries: only if kept
            yield describe(r.analytic[mask], r.numerical[mask], r.residual[mask], N, explained)


def _fits(values: Float64Array, target: Float64Array | float) -> bool:
    """Whether ``values`` equal ``target`` to within MATCH of their size."""
    return bool(
        np.sqrt(np.sum((values - target) ** 2)) <= MATCH * np.sqrt(np.sum(values**2)) + 1e-300
    )


def _label_form(
    a: Float64Array, n: Float64Array, d: Float64Array, N: int, explained: float
) -> _Candidate:
    """Describe how the label entries are wrong: the known forms first."""
    offset = float(np.mean(d))
    head = "only the label entries are wrong"
    if _fits(d, -(1 - 1 / N)):
        detail = "1 was subtracted where 1/N was meant: p/N − 1 instead of (p − 1)/N"
        message = f"{head}: off by {_times(offset)} (= −1 + 1/N) each — {detail}"
        return _Candidate(2, Diagnosis("label_off_by_one", message, explained), N)
    if _fits(d, 1 / N):
        detail = "the one-hot was never subtracted: p/N instead of (p − 1)/N"
        message = f"{head}: off by +1/N = {_number(offset)} each — {detail}"
        return _Candidate(2, Diagnosis("missing_one_hot", message, explained), N)
    forms = [
        (_fits(d, -1 / N), "off by −1/N each: the one-hot was subtracted twice"),
        (_fits(a, 0.0), "they are 0: the label entries were never written"),
        (_fits(a, N * n), "they are N × right: p − 1 instead of (p − 1)/N"),
        (_fits(d, offset), f"off by {_times(offset)} each"),
    ]
    for holds, detail in forms:
        if holds:
            return _Candidate(2, Diagnosis("label_entries", f"{head}: {detail}", explained), N)
    return _Candidate(7, Diagnosis("label_entries", f"{head}; the others are right", explained), N)


def _other_form(
    a: Float64Array, n: Float64Array, d: Float64Array, N: int, explained: float
) -> _Candidate:
    """Describe how the non-label entries are wrong: the known forms first."""
    head = "only the non-label entries are wrong"
    norm = float(np.sum(n**2))
    k = float(np.sum(a * n)) / norm if norm > 0 else math.nan
    forms = [
        (_fits(a, 0.0), "they are 0: the softmax part p/N was never written"),
        (_fits(a, N * n), "they are N × right: p instead of p/N"),
        (norm > 0 and _fits(a, k * n), f"they are {_times(k)} × right"),
        (_fits(d, float(np.mean(d))), f"off by {_times(float(np.mean(d)))} each"),
    ]
    for holds, detail in forms:
        if holds:
            return _Candidate(
                4, Diagnosis("non_label_entries", f"{head}: {detail}", explained), a.size
            )
    message = f"{head}; the label entries are right"
    return _Candidate(7, Diagnosis("non_label_entries", message, explained), a.size)


def _concentration(r: _Residual) -> Iterator[_Candidate]:
    """Find the error concentrated in one entry, one row or one column."""
    N, C = r.analytic.shape
    squared = r.residual**2
    if N * C > 1:
        flat = int(np.argmax(squared))
        i, j = divmod(flat, C)
        explained = _beyond_chance(float(squared.flat[flat]) / r.energy, 1 / (N * C))
        where = "the label entry" if j == r.labels[i] else "a non-label entry"
        message = (
            f"the error is in one entry, ({i}, {j}), {where}: "
            f"analytic {_number(r.analytic[i, j])}, numerical {_number(r.numerical[i, j])}"
        )
        yield _Candidate(3, Diagnosis("one_entry", message, explained), 1)
    for axis, count in ((1, N), (0, C)):
        if count < 2:
            continue
        shares = squared.sum(axis=axis) / r.energy
        k = int(np.argmax(shares))
        explained = _beyond_chance(float(shares[k]), 1 / count)
        line = r.analytic[k] if axis == 1 else r.analytic[:, k]
        zero = ", where analytic is all 0" if not np.any(line) else ""
        if axis == 1 and k == N - 1:
            hint = " — a loop that stops one row early?" if zero else ""
            message = f"the error is all in the last row ({k}){zero}{hint}"
            yield _Candidate(4, Diagnosis("last_row", message, explained), C)
        elif axis == 1:
            message = f"the error is all in one row ({k}){zero}"
            yield _Candidate(5, Diagnosis("one_row", message, explained), C)
        elif k == 0:
            hint = " — a loop over classes that starts at 1?" if zero else ""
            message = f"the error is all in column 0 (class 0){zero}{hint}"
            yield _Candidate(4, Diagnosis("class_0", message, explained), N)
        else:
            message = f"the error is all in one column (class {k}){zero}"
            yield _Candidate(5, Diagnosis("one_column", message, explained), N)


def _row_offset(r: _Residual) -> Iterator[_Candidate]:
    """Find a per-row offset: rows that do not sum to 0 as a softmax gradient's must."""
    N, C = r.analytic.shape
    if C < 2:
        return
    mean = r.residual.mean(axis=1)
    explained = _beyond_chance(C * float(np.sum(mean**2)) / r.energy, 1 / C)
    sums = r.analytic.sum(axis=1)
    if _fits(sums, float(np.mean(sums))):
        said = f"every row sums to {_number(float(np.mean(sums)))}"
    else:
        said = f"the rows sum to {_number(sums.min())} … {_number(sums.max())}"
    offset = float(np.mean(r.residual))
    cause = (
        f"every entry is off by {_number(offset)}"
        if _fits(r.residual, offset)
        else "something is added to whole rows"
    )
    message = f"{said} instead of 0 (a softmax gradient's rows sum to 0): {cause}"
    yield _Candidate(8, Diagnosis("rows_not_summing_to_zero", message, explained), N)
