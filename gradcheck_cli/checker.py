"""Check implementations against the numerical reference: the library's front door.

`check` answers for one implementation; `check_all` shares one reference
among several. Both return `CheckResult` records and never print.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gradcheck_cli import numeric
from gradcheck_cli._typing import FloatArray, IntArray
from gradcheck_cli.errors import ImplementationError
from gradcheck_cli.loading import validate_inputs
from gradcheck_cli.softmax import IMPLEMENTATIONS
from gradcheck_cli.verdict import (
    SEVERITY,
    Reference,
    Verdict,
    WorstEntry,
    judge_gradient,
    judge_loss,
)

Method = Literal["auto", "central", "complex"]
METHODS: tuple[Method, ...] = ("auto", "central", "complex")
Implementation = Callable[..., Any]
_PACKAGE_DIR = str(Path(__file__).resolve().parent)


@dataclass(frozen=True)
class CheckResult:
    """The check of one implementation.

    How to read it:

    * ``verdict`` is ``"pass"``, ``"warn"`` (correct to float32 precision only,
      or it modified its inputs) or ``"fail"``; ``reason`` says why, empty on a
      clean pass.
    * ``loss`` is what the implementation returned (None if it returned only
      a gradient); ``reference_loss`` is the float64 softmax loss.
    * ``max_rel_error``, ``median_rel_error``, ``max_abs_error`` and
      ``median_abs_error`` compare the
      analytic gradient with the reported numerical one (central differences
      under ``auto`` and ``central``, complex step under ``complex``), over
      the checked entries; ``nan`` when no gradient could be compared.
      Under ``auto`` the complex step stands in for entries too small for
      central differences to resolve.
    * ``max_error_ratio`` is the largest error over its tolerance among the
      judged entries: at most 1 passes (see `gradcheck_cli.verdict`).
    * ``worst`` lists the entries furthest outside tolerance (ratio > 1 is out).
    * ``judged_by`` counts the entries each reference method decided;
      ``unjudged`` counts those too small for central differences to judge.
    * ``entries_checked`` of ``entries_total``; ``sampled`` is True for a
      spot check. ``seconds`` is the implementation's own run time.
    """

    name: str
    verdict: Verdict
    reason: str
    loss: float | None
    reference_loss: float
    max_rel_error: float
    median_rel_error: float
    max_abs_error: float
    median_abs_error: float
    max_error_ratio: float
    worst: tuple[WorstEntry, ...]
    method: str
    judged_by: dict[str, int]
    unjudged: int
    entries_checked: int
    entries_total: int
    sampled: bool
    seconds: float
    dtype: str
    floating_point_warnings: tuple[str, ...] = ()
    modified_inputs: tuple[str, ...] = ()
    user_traceback: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data."""
        document = asdict(self)
        document["worst"] = [asdict(entry) for entry in self.worst]
        return {key: _plain(value) for key, value in document.items()}


@dataclass(frozen=True)
class ReferenceSet:
    """The numerical reference for one batch, shared by every implementation checked on it."""

    scores: FloatArray
    labels: IntArray
    rows: IntArray
    checked: np.ndarray
    references: dict[str, Reference]
    reference_loss: float
    method: Method
    sampled: bool
    seconds: float = field(default=0.0)


def resolve(implementation: str | Implementation) -> tuple[str, Implementation]:
    """Return ``(name, callable)`` for a built-in name or a callable."""
    if callable(implementation):
        return getattr(implementation, "__name__", repr(implementation)), implementation
    if implementation in IMPLEMENTATIONS:
        return implementation, IMPLEMENTATIONS[implementation]
    known = ", ".join(IMPLEMENTATIONS)
    raise ImplementationError(f"unknown implementation {implementation!r} (built-in: {known})")


def prepare_reference(
    scores: FloatArray,
    labels: IntArray,
    *,
    method: Method = "auto",
    samples: int | None = None,
    h: float | None = None,
    rng: np.random.Generator | None = None,
) -> ReferenceSet:
    """Compute the numerical reference gradient for a batch, over all entries or a sample.

    Parameters
    ----------
    scores : ndarray, shape (N, C)
        Validated scores.
    labels : ndarray of int, shape (N,)
        Validated labels.
    method : {"auto", "central", "complex"}
        Which references to compute (``auto`` needs both).
    samples : int, optional
        Check this many entries only: random rows, each with its label entry,
        plus random other entries of those rows. None checks every entry.
    h : float, optional
        Central-difference step (default ``(3·eps)**(1/3)``).
    rng : numpy.random.Generator, optional
        Source of the sample; default ``numpy.random.default_rng(0)``.

    Returns
    -------
    ReferenceSet
    """
    _check_options(method, samples, h)
    start = time.perf_counter()
    n, c = scores.shape
    if samples is None or samples >= n * c:
        rows = np.arange(n)
        checked = np.ones((n, c), dtype=bool)
    else:
        rows, checked = _sample_entries(labels, c, samples, rng or np.random.default_rng(0))
    references: dict[str, Reference] = {}
    if method in ("auto", "complex"):
        exact = numeric.complex_step(scores, labels, rows=rows)
        bound = numeric.complex_step_error(scores[rows], exact)
        references["complex"] = Reference("complex", exact, bound)
    if method in ("auto", "central"):
        central = numeric.central_difference(scores, labels, h=h, rows=rows)
        references["central"] = Reference("central", central.gradient, central.error)
    return ReferenceSet(
        scores=scores,
        labels=labels,
        rows=rows,
        checked=checked,
        references=references,
        reference_loss=numeric.reference_loss(scores, labels),
        method=method,
        sampled=bool(checked.size < n * c or not checked.all()),
        seconds=time.perf_counter() - start,
    )


def check_implementation(
    implementation: str | Implementation, reference: ReferenceSet, *, top: int = 5
) -> CheckResult:
    """Run one implementation on its own copies of the inputs and judge it against ``reference``."""
    name, function = resolve(implementation)
    scores, labels = reference.scores, reference.labels
    call = _call(function, scores, labels)
    unjudged = CheckResult(
        name=name,
        verdict="fail",
        reason=call.problem,
        loss=call.loss,
        reference_loss=reference.reference_loss,
        max_rel_error=math.nan,
        median_rel_error=math.nan,
        max_abs_error=math.nan,
        median_abs_error=math.nan,
        max_error_ratio=math.nan,
        worst=(),
        method=reference.method,
        judged_by={},
        unjudged=0,
        entries_checked=int(reference.checked.sum()),
        entries_total=scores.size,
        sampled=reference.sampled,
        seconds=call.seconds,
        dtype=str(scores.dtype),
        floating_point_warnings=call.warnings,
        modified_inputs=call.modified,
        user_traceback=call.traceback,
    )
    if call.dscores is None:
        return unjudged
    if not np.all(np.isfinite(call.dscores)):
        reason = _non_finite_reason(call.dscores, call.warnings)
        return replace(unjudged, reason=reason, worst=_first_non_finite(call.dscores, reference))
    judgement = judge_gradient(
        call.dscores[reference.rows],
        reference.references,
        method=reference.method,
        scores=scores[reference.rows],
        labels=labels[reference.rows],
        rows=reference.rows,
        checked=reference.checked,
        n_total=scores.shape[0],
        top=top,
    )
    verdicts: list[tuple[Verdict, str]] = [(judgement.verdict, judgement.reason)]
    if call.loss is not None:
        verdicts.append(
            judge_loss(call.loss, reference.reference_loss, scores, np.dtype(scores.dtype))
        )
    if call.modified:
        verdicts.append(("warn", f"modified its input {' and '.join(call.modified)}"))
    verdict = max((v for v, _ in verdicts), key=SEVERITY.__getitem__)
    reason = "; ".join(text for v, text in verdicts if text and v != "pass") or judgement.reason
    return replace(
        unjudged,
        verdict=verdict,
        reason=reason,
        max_rel_error=judgement.max_rel_error,
        median_rel_error=judgement.median_rel_error,
        max_abs_error=judgement.max_abs_error,
        median_abs_error=judgement.median_abs_error,
        max_error_ratio=judgement.max_error_ratio,
        worst=judgement.worst,
        judged_by=judgement.judged_by,
        unjudged=judgement.unjudged,
    )


def check(
    implementation: str | Implementation,
    scores: Any,
    labels: Any,
    *,
    method: Method = "auto",
    samples: int | None = None,
    h: float | None = None,
    rng: np.random.Generator | None = None,
    top: int = 5,
) -> CheckResult:
    """Check one implementation's loss and gradient against the numerical reference.

    Parameters
    ----------
    implementation : str or callable
        A built-in name (``"loops"``, ``"rows"``, ``"vectorized"``,
        ``"stable"``) or ``f(scores, labels) -> (loss, dscores)``.
    scores : array_like, shape (N, C)
        Class scores.
    labels : array_like of int, shape (N,)
        Correct classes, in ``[0, C)``.
    method : {"auto", "central", "complex"}
        Reference method; see `gradcheck_cli.verdict.judge_gradient`.
    samples : int, optional
        Spot-check this many entries instead of all N·C.
    h : float, optional
        Central-difference step.
    rng : numpy.random.Generator, optional
        Source of the sample (default seed 0).
    top : int
        How many worst entries to report.

    Returns
    -------
    CheckResult
        See its docstring for how to read each number.

    Raises
    ------
    InputError
        If ``scores`` or ``labels`` are malformed.
    ImplementationError
        If ``implementation`` names no built-in implementation.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    >>> check("stable", scores, np.array([1, 2])).verdict
    'pass'
    """
    scores, labels = validate_inputs(scores, labels)
    reference = prepare_reference(scores, labels, method=method, samples=samples, h=h, rng=rng)
    return check_implementation(implementation, reference, top=top)


def check_all(
    implementations: Sequence[str | Implementation],
    scores: FloatArray,
    labels: IntArray,
    **options: Any,
) -> tuple[ReferenceSet, list[CheckResult]]:
    """Check several implementations against one shared reference (options as for `check`)."""
    top = options.pop("top", 5)
    reference = prepare_reference(scores, labels, **options)
    return reference, [check_implementation(f, reference, top=top) for f in implementations]


def assert_gradient_correct(
    implementation: str | Implementation, scores: Any, labels: Any, **options: Any
) -> CheckResult:
    """Raise ``AssertionError`` unless the implementation passes, like ``assert_allclose``.

    Parameters
    ----------
    implementation, scores, labels
        As for `check`.
    **options
        Passed to `check`; ``strict=True`` also rejects a ``warn``.

    Returns
    -------
    CheckResult
        The result, when it passed.

    Raises
    ------
    AssertionError
        With the verdict, the reason and the worst entries.
    """
    strict = options.pop("strict", False)
    result = check(implementation, scores, labels, **options)
    if result.verdict == "fail" or (strict and result.verdict == "warn"):
        lines = [f"gradient check {result.verdict}: {result.name}: {result.reason}"]
        lines += [
            f"  ({w.row}, {w.column}): analytic {w.analytic:.10g}, numerical {w.numerical:.10g}"
            f" ({w.method}), error {w.abs_error:.3g} > tolerance {w.tolerance:.3g}"
            for w in result.worst
            if w.ratio > 1
        ]
        if result.user_traceback:
            lines.append(result.user_traceback.rstrip())
        raise AssertionError("\n".join(lines))
    return result


@dataclass(frozen=True)
class _Call:
    """What one call of an implementation gave back."""

    loss: float | None
    dscores: np.ndarray | None
    problem: str
    seconds: float
    warnings: tuple[str, ...]
    modified: tuple[str, ...]
    traceback: str


def _call(function: Implementation, scores: FloatArray, labels: IntArray) -> _Call:
    """Call ``function`` on copies, recording floating-point warnings, mutation and errors."""
    scores_copy, labels_copy = scores.copy(), labels.copy()
    problem, user_traceback, output = "", "", None
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            output = function(scores_copy, labels_copy)
        except Exception as exc:  # noqa: BLE001 - any failure of the implementation is its verdict
            problem = f"raised {type(exc).__name__}: {exc}"
            user_traceback = _user_traceback(exc)
        seconds = time.perf_counter() - start
    messages = tuple(
        dict.fromkeys(
            str(w.message).replace(" encountered", "")
            for w in caught
            if issubclass(w.category, RuntimeWarning)
        )
    )
    modified = tuple(
        name
        for name, copy, original in (
            ("scores", scores_copy, scores),
            ("labels", labels_copy, labels),
        )
        if copy.shape != original.shape or not np.array_equal(copy, original)
    )
    loss, dscores = None, None
    if not problem:
        loss, dscores, problem = _unpack(output, scores.shape)
    return _Call(loss, dscores, problem, seconds, messages, modified, user_traceback)


def _unpack(output: Any, shape: tuple[int, ...]) -> tuple[float | None, np.ndarray | None, str]:
    """Split an implementation's return value into (loss, dscores, problem)."""
    loss_value: Any = None
    gradient: Any = output
    if isinstance(output, tuple):
        if len(output) != 2:
            return None, None, f"returned a tuple of {len(output)} items, expected (loss, dscores)"
        loss_value, gradient = output
    loss: float | None = None
    if loss_value is not None:
        loss_array = np.asarray(loss_value)
        if loss_array.ndim != 0 or not np.issubdtype(loss_array.dtype, np.number):
            return None, None, f"returned a loss of type {type(loss_value).__name__}, not a number"
        if np.iscomplexobj(loss_array):
            return None, None, "returned a complex loss"
        loss = float(loss_array)
    if not isinstance(gradient, np.ndarray):
        return loss, None, f"returned dscores of type {type(gradient).__name__}, not an ndarray"
    if np.iscomplexobj(gradient) or not np.issubdtype(gradient.dtype, np.number):
        return loss, None, f"returned dscores of dtype {gradient.dtype}, not real numbers"
    if gradient.shape != shape:
        return loss, None, f"returned dscores of shape {gradient.shape}, expected {shape}"
    return loss, gradient, ""


def _user_traceback(exc: BaseException) -> str:
    """Format the traceback of ``exc`` without gradcheck's own frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _PACKAGE_DIR not in f.filename]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def _non_finite_reason(dscores: np.ndarray, floating_warnings: tuple[str, ...]) -> str:
    """Say how many gradient entries are nan/inf, where the first is, and what numpy warned."""
    bad = ~np.isfinite(dscores)
    first = tuple(int(k) for k in np.argwhere(bad)[0])
    cause = "; ".join(floating_warnings)
    count = int(bad.sum())
    entries = "entry is" if count == 1 else "entries are"
    text = f"{count} gradient {entries} nan or inf (first at {first})"
    return f"{cause}: {text}" if cause else text


def _first_non_finite(dscores: np.ndarray, reference: ReferenceSet) -> tuple[WorstEntry, ...]:
    """Return the first nan/inf gradient entry beside its numerical value, if it was checked."""
    row, column = (int(k) for k in np.argwhere(~np.isfinite(dscores))[0])
    where = int(np.searchsorted(reference.rows, row))
    if where == len(reference.rows) or reference.rows[where] != row:
        return ()
    judge = reference.references.get("complex") or reference.references["central"]
    return (
        WorstEntry(
            row=row,
            column=column,
            analytic=float(dscores[row, column]),
            numerical=float(judge.gradient[where, column]),
            abs_error=math.inf,
            tolerance=float(judge.error[where, column]),
            ratio=math.inf,
            method=judge.method,
        ),
    )


def _sample_entries(
    labels: IntArray, columns: int, samples: int, rng: np.random.Generator
) -> tuple[IntArray, np.ndarray]:
    """Pick random rows and, in them, each label entry plus random others: ``samples`` in all."""
    n = labels.shape[0]
    count = min(n, max(1, math.ceil(samples / 2)) if columns > 1 else samples)
    rows = np.sort(rng.choice(n, size=count, replace=False))
    checked = np.zeros((count, columns), dtype=bool)
    checked[np.arange(count), labels[rows]] = True
    free = np.flatnonzero(~checked)
    extra = rng.choice(free, size=min(samples - count, free.size), replace=False)
    checked.flat[extra] = True
    return rows, checked


def _check_options(method: str, samples: int | None, h: float | None) -> None:
    """Validate the options of `prepare_reference`, naming each one."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(METHODS)}, not {method!r}.")
    if samples is not None and samples < 1:
        raise ValueError("`samples` must be a positive integer.")
    if h is not None and not (0 < h < 1):
        raise ValueError("`h` must be a step between 0 and 1.")


def _plain(value: Any) -> Any:
    """Turn numpy scalars, tuples and non-finite floats into JSON-ready values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
