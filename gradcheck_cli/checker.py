"""Check implementations against a numerical gradient: the library's front door.

`check` answers for one implementation; `check_all` shares one reference
among several. Both return `CheckResult` records and never print.

Two references are on offer (``against``):

* ``"reference"`` (default): the numerical gradient of the softmax loss
  (`gradcheck_cli.numeric`), exact enough to hold every entry to the
  implementation's own float precision;
* ``"own"``: the numerical gradient of the implementation's *own* loss, a
  black box called on perturbed copies of the scores, so a label-smoothed,
  tempered or class-weighted loss can be checked too. Black-box central
  differences cost 4 calls per entry (steps ``h`` and ``2h``, whose spread
  bounds the error), so every entry is differenced only while that fits
  `OWN_CALL_BUDGET`; beyond, a seeded sample of entries is differenced and
  `OWN_DIRECTIONS` random unit directions cover all the others
  (``vᵀ∇L`` against ``(L(s+hv) - L(s-hv))/2h``). A direction that fails is
  bisected with half-vectors down to the entries responsible.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gradcheck_cli import numeric, plugins
from gradcheck_cli._typing import Float64Array, FloatArray, IntArray
from gradcheck_cli.diagnose import Diagnosis, diagnose, error_ratio
from gradcheck_cli.errors import ImplementationError
from gradcheck_cli.loading import validate_inputs
from gradcheck_cli.softmax import IMPLEMENTATIONS
from gradcheck_cli.verdict import (
    SAFETY,
    SEVERITY,
    GradientJudgement,
    Reference,
    Verdict,
    WorstEntry,
    entry_tolerance,
    judge_gradient,
    judge_loss,
    relative_error,
)

Method = Literal["auto", "central", "complex"]
METHODS: tuple[Method, ...] = ("auto", "central", "complex")
Against = Literal["reference", "own"]
AGAINST: tuple[Against, ...] = ("reference", "own")
Implementation = Callable[..., Any]
_PACKAGE_DIR = str(Path(__file__).resolve().parent)

OWN_CALL_BUDGET = 2000
"""Calls of an implementation a black-box (``against="own"``) check may spend.

Every entry is differenced (4 calls each) while ``4·N·C`` fits, i.e. up to
500 entries; larger batches get a sample of `OWN_SAMPLE` entries and
`OWN_DIRECTIONS` directions, and localizing a failed direction stops when the
budget is spent."""
OWN_DIRECTIONS = 6
"""Random unit directions of a black-box check that does not difference every entry."""
OWN_SAMPLE = 40
"""Entries a black-box check differences one by one when it cannot afford them all."""


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
    * ``floating_point_warnings`` are numpy's warnings during its call;
      ``modified_inputs`` names the arguments it wrote to (a ``warn``);
      ``user_traceback`` is its own traceback (gradcheck's frames removed)
      when it raised.
    * ``diagnosis`` names the likely bugs behind a wrong gradient, most
      specific first (`gradcheck_cli.diagnose`): each with ``kind``,
      ``message`` and ``explained``, the fraction of the error it explains.
      Only for a full check against the reference that did not pass.
    * ``error_map`` (not in ``to_dict``) is ``|analytic - numerical| /
      tolerance`` per entry, ``nan`` where not checked, kept only when asked
      for (``keep_error_map=True``): the heat map's numbers.
    * ``against`` is ``"reference"`` (the softmax loss's gradient) or
      ``"own"`` (the gradient of the implementation's own loss, as a black
      box). ``loss_differs`` is True when, against the reference, its loss is
      not the softmax loss: then ``against="own"`` is probably what you want.
    * Against its own loss, ``method`` is ``"black-box central"`` (every
      entry differenced) or ``"black-box directional"`` (a sample of entries
      plus ``directions`` random directions); ``reference_calls`` counts the
      calls of the implementation that numerical gradient cost, and worst
      entries found by bisecting a failed direction have method
      ``"directional"``. The errors are then measured against black-box
      differences (relative errors over the entries they resolve), and
      ``unjudged`` counts the differenced entries below their resolution.
    * ``coverage`` says what was checked when a scores file too large for
      memory was checked block by block (`gradcheck_cli.blockwise`): every
      entry, the ``samples`` spot check, or every row's label entry plus a
      seeded sample of the others plus ``directions`` random directions;
      empty for a check in memory. ``directional`` then holds one record per
      direction: ``analytic`` (vᵀ of the gradient), ``numerical`` (the complex
      step of the loss along v), ``allowed`` and ``ratio`` (above 1 fails).
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
    against: str = "reference"
    loss_differs: bool = False
    reference_calls: int = 0
    directions: int = 0
    diagnosis: tuple[Diagnosis, ...] = ()
    coverage: str = ""
    directional: tuple[dict[str, float], ...] = ()
    error_map: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain data (without the ``error_map`` array)."""
        document = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "error_map"}
        document["worst"] = [asdict(entry) for entry in self.worst]
        document["diagnosis"] = [d.to_dict() for d in self.diagnosis]
        return {key: json_ready(value) for key, value in document.items()}


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
    against: Against = "reference"
    h: float | None = None
    seed: int = 0
    """Seeds the random directions (and default sample) of black-box checks, the same for all."""


Named = tuple[str, Implementation]
"""An implementation already resolved to ``(display name, callable)``."""


def resolve(implementation: str | Implementation | Named) -> Named:
    """Return ``(name, callable)`` for a built-in name, a plugin spec or a callable.

    A spec with a ``:`` (``path/to/file.py:NAME`` or ``package.module:NAME``)
    is loaded by `gradcheck_cli.plugins.load_implementation`; a
    ``(name, callable)`` pair is passed through, so a spec loaded once keeps
    its display name.
    """
    if isinstance(implementation, tuple):
        name, function = implementation
        return name, function
    if callable(implementation):
        return getattr(implementation, "__name__", repr(implementation)), implementation
    if plugins.is_plugin_spec(implementation):
        return plugins.load_implementation(implementation)
    if implementation in IMPLEMENTATIONS:
        return implementation, IMPLEMENTATIONS[implementation]
    known = ", ".join(IMPLEMENTATIONS)
    raise ImplementationError(
        f"unknown implementation {implementation!r} "
        f"(built-in: {known}; or FILE.py:NAME, package.module:NAME)"
    )


def prepare_reference(
    scores: FloatArray,
    labels: IntArray,
    *,
    method: Method = "auto",
    against: Against = "reference",
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
    against : {"reference", "own"}
        ``"own"`` computes no reference gradient here: each implementation's
        own loss is differentiated when it is checked. The softmax loss is
        still computed, for comparison.
    samples : int, optional
        Check this many entries only: random rows, each with its label entry,
        plus random other entries of those rows. None checks every entry.
    h : float, optional
        Central-difference step (default ``(3·eps)**(1/3)``; for
        ``against="own"``, chosen from the loss's rounding).
    rng : numpy.random.Generator, optional
        Source of the sample and of the black-box directions; default
        ``numpy.random.default_rng(0)``.

    Returns
    -------
    ReferenceSet
    """
    _check_options(method, samples, h, against)
    start = time.perf_counter()
    rng = rng or np.random.default_rng(0)
    n, c = scores.shape
    if samples is None or samples >= n * c:
        rows = np.arange(n)
        checked = np.ones((n, c), dtype=bool)
    else:
        rows, checked = _sample_entries(labels, c, samples, rng)
    references: dict[str, Reference] = {}
    if against == "own":
        pass  # each implementation's own loss is differentiated in `check_implementation`
    elif method in ("auto", "complex"):
        exact = numeric.complex_step(scores, labels, rows=rows)
        bound = numeric.complex_step_error(scores[rows], exact)
        references["complex"] = Reference("complex", exact, bound)
    if against == "reference" and method in ("auto", "central"):
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
        against=against,
        h=h,
        seed=int(rng.integers(2**63)),
    )


def check_implementation(
    implementation: str | Implementation | Named,
    reference: ReferenceSet,
    *,
    top: int = 5,
    keep_error_map: bool = False,
) -> CheckResult:
    """Run one implementation on its own copies of the inputs and judge it against ``reference``.

    Against the reference (``reference.against == "reference"``) the gradient
    is judged entry by entry by `gradcheck_cli.verdict.judge_gradient` and
    the loss by `judge_loss`; against its own loss, by black-box
    differences of that loss (see the module docstring). A result that did
    not pass gets a diagnosis where the whole gradient was checked.
    """
    result, dscores = _check_implementation(implementation, reference, top)
    if result.against != "reference" or (result.verdict == "pass" and not keep_error_map):
        return result
    if dscores is None or not reference.references:
        return result
    numerical, tolerance = _full_reference(reference)
    if keep_error_map:
        ratio = error_ratio(
            dscores, numerical, reference.scores, reference.labels, tolerance=tolerance
        )
        result = replace(result, error_map=ratio)
    if result.verdict != "pass" and not reference.sampled:
        with np.errstate(over="ignore", invalid="ignore"):  # a 1e300 gradient: no diagnosis
            found = diagnose(
                dscores, numerical, reference.scores, reference.labels, tolerance=tolerance
            )
        result = replace(result, diagnosis=found)
    return result


def _full_reference(reference: ReferenceSet) -> tuple[Float64Array, Float64Array | None]:
    """Return the judging reference as a full (N, C) array (nan where not checked) and tolerance."""
    judge = reference.references.get("complex") or reference.references["central"]
    numerical = np.full(reference.scores.shape, np.nan)
    values = np.where(reference.checked, judge.gradient, np.nan)
    numerical[reference.rows] = values
    if judge.method == "complex":
        return numerical, None  # diagnose's default: the verdict's own tolerance model
    tolerance = np.full(reference.scores.shape, np.inf)
    own = entry_tolerance(
        judge.gradient,
        reference.scores[reference.rows],
        reference.labels[reference.rows],
        reference.scores.shape[0],
        np.dtype(reference.scores.dtype) if reference.scores.dtype.kind == "f" else np.float64,
    )
    tolerance[reference.rows] = own + judge.error
    return numerical, tolerance


def _check_implementation(
    implementation: str | Implementation | Named, reference: ReferenceSet, top: int
) -> tuple[CheckResult, np.ndarray | None]:
    """Check without diagnosis; return the result and the gradient the implementation returned."""
    name, function = resolve(implementation)
    scores, labels = reference.scores, reference.labels
    call = _call(function, scores, labels)
    unjudged = _unjudged_result(name, call, reference)
    if call.dscores is None:
        return unjudged, None
    if not np.all(np.isfinite(call.dscores)):
        reason = _non_finite_reason(call.dscores, call.warnings)
        worst = _first_non_finite(call.dscores, reference) if reference.references else ()
        return replace(unjudged, reason=reason, worst=worst), call.dscores
    if reference.against == "own":
        with np.errstate(over="ignore"):  # scores of 1e300 overflow tolerances to inf: no verdict
            return _check_against_own(function, call, reference, unjudged, top), call.dscores
    # A gradient 1e300 times its tolerance overflows the ratio to inf: a fail, not a warning
    # (which a caller's `-W error` would turn into a crash).
    with np.errstate(over="ignore"):
        judgement = _judge(call.dscores, reference, top)
    verdicts: list[tuple[Verdict, str]] = [(judgement.verdict, judgement.reason)]
    loss_differs = False
    if call.loss is not None:
        with np.errstate(over="ignore"):
            loss_verdict, loss_reason = judge_loss(
                call.loss, reference.reference_loss, scores, np.dtype(scores.dtype)
            )
        loss_differs = loss_verdict == "fail" and math.isfinite(call.loss)
        if loss_differs:
            # A different loss (label smoothing, temperature...) explains a different gradient:
            # say so first, and where to go.
            loss_reason = loss_reason.replace(" the reference ", " the softmax loss ")
            loss_reason += " (not meant to be the softmax loss? check it with --against own)"
            verdicts.insert(0, (loss_verdict, loss_reason))
        else:
            verdicts.append((loss_verdict, loss_reason))
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
        loss_differs=loss_differs,
    ), call.dscores


def _judge(dscores: np.ndarray, reference: ReferenceSet, top: int) -> GradientJudgement:
    """Judge a finite gradient entry by entry against the reference gradient."""
    return judge_gradient(
        dscores[reference.rows],
        reference.references,
        method=reference.method,
        scores=reference.scores[reference.rows],
        labels=reference.labels[reference.rows],
        rows=reference.rows,
        checked=reference.checked,
        n_total=reference.scores.shape[0],
        top=top,
    )


def _unjudged_result(name: str, call: _Call, reference: ReferenceSet) -> CheckResult:
    """Return the result of a call before any judging: a fail with the call's problem."""
    return CheckResult(
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
        method=reference.method if reference.against == "reference" else "black-box central",
        judged_by={},
        unjudged=0,
        entries_checked=int(reference.checked.sum()),
        entries_total=reference.scores.size,
        sampled=reference.sampled,
        seconds=call.seconds,
        dtype=str(reference.scores.dtype),
        floating_point_warnings=call.warnings,
        modified_inputs=call.modified,
        user_traceback=call.traceback,
        against=reference.against,
    )


def check(
    implementation: str | Implementation,
    scores: Any,
    labels: Any,
    *,
    method: Method = "auto",
    against: Against = "reference",
    samples: int | None = None,
    h: float | None = None,
    rng: np.random.Generator | None = None,
    top: int = 5,
) -> CheckResult:
    """Check one implementation's loss and gradient against a numerical gradient.

    Parameters
    ----------
    implementation : str or callable
        A built-in name (``"loops"``, ``"rows"``, ``"vectorized"``,
        ``"stable"``), a spec ``"path/to/file.py:NAME"`` or
        ``"package.module:NAME"``, or ``f(scores, labels) -> (loss, dscores)``
        (or ``-> dscores``: then there is no loss to compare). It is called
        on copies of the inputs.
    scores : array_like, shape (N, C)
        Class scores.
    labels : array_like of int, shape (N,)
        Correct classes, in ``[0, C)``.
    method : {"auto", "central", "complex"}
        Reference method against the softmax loss; see
        `gradcheck_cli.verdict.judge_gradient`. Not used with ``against="own"``.
    against : {"reference", "own"}
        ``"reference"`` compares with the gradient of the softmax loss;
        ``"own"`` with the numerical gradient of the implementation's own
        loss, treated as a black box (label smoothing, temperature, class
        weights...): every entry while ``4·N·C <= OWN_CALL_BUDGET``, else a
        sample of entries plus random directions.
    samples : int, optional
        Spot-check this many entries instead of all N·C.
    h : float, optional
        Central-difference step.
    rng : numpy.random.Generator, optional
        Source of the sample and of black-box directions (default seed 0).
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
        If ``implementation`` names no built-in implementation, or a spec
        that cannot be loaded.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    >>> check("stable", scores, np.array([1, 2])).verdict
    'pass'
    >>> check("stable", scores, np.array([1, 2]), against="own").method
    'black-box central'
    """
    named = resolve(implementation)
    scores, labels = validate_inputs(scores, labels)
    reference = prepare_reference(
        scores, labels, method=method, against=against, samples=samples, h=h, rng=rng
    )
    return check_implementation(named, reference, top=top)


def check_all(
    implementations: Sequence[str | Implementation | Named],
    scores: FloatArray,
    labels: IntArray,
    **options: Any,
) -> tuple[ReferenceSet, list[CheckResult]]:
    """Check several implementations against one shared reference (options as for `check`)."""
    top = options.pop("top", 5)
    keep = options.pop("keep_error_map", False)
    reference = prepare_reference(scores, labels, **options)
    results = [
        check_implementation(f, reference, top=top, keep_error_map=keep) for f in implementations
    ]
    return reference, results


def assert_gradient_correct(
    implementation: str | Implementation, scores: Any, labels: Any, **options: Any
) -> CheckResult:
    """Raise ``AssertionError`` unless the implementation passes, like ``assert_allclose``.

    Parameters
    ----------
    implementation, scores, labels
        As for `check`.
    **options
        Passed to `check` (``method``, ``against``, ``samples``, ``h``,
        ``rng``, ``top``); ``strict=True`` also rejects a ``warn``.

    Returns
    -------
    CheckResult
        The result, when it passed.

    Raises
    ------
    AssertionError
        With the verdict, the reason, the worst entries and, when the
        implementation raised, its own traceback.

    Examples
    --------
    >>> import numpy as np
    >>> scores, labels = np.array([[1.0, 2.0, 0.5]]), np.array([1])
    >>> assert_gradient_correct("stable", scores, labels).verdict
    'pass'
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
        if result.loss_differs:
            lines.append("  its loss is not the softmax loss: check(..., against='own')?")
        if result.user_traceback:
            lines.append(result.user_traceback.rstrip())
        raise AssertionError("\n".join(lines))
    return result


# --- against the implementation's own loss: a black box ------------------------------------


class _LossFailure(Exception):
    """The implementation's own loss could not be evaluated at a perturbed point."""


@dataclass
class _OwnLoss:
    """An implementation's loss as a black box: each evaluation a call on fresh copies."""

    function: Implementation
    labels: IntArray
    calls: int = 0

    def __call__(self, scores: FloatArray) -> float:
        """Return the loss at ``scores``; raise `_LossFailure` if there is none."""
        self.calls += 1
        call = _call(self.function, scores, self.labels)
        if call.problem:
            raise _LossFailure(call.problem, call.traceback)
        if call.loss is None or not math.isfinite(call.loss):
            raise _LossFailure(f"returned a loss of {call.loss}", "")
        return call.loss


@dataclass(frozen=True)
class Probe:
    """One entry or direction, judged: the two derivatives and what each tier allows."""

    numerical: float
    analytic: float
    allowed: float
    loose: float
    resolved: bool

    @property
    def ratio(self) -> float:
        """Error over the allowance of the implementation's own float type: above 1 fails."""
        return abs(self.analytic - self.numerical) / self.allowed

    @property
    def loosely_right(self) -> bool:
        """Whether the error is within the float32 tier's allowance."""
        return abs(self.analytic - self.numerical) <= self.loose


DIRECTION_SIGMAS = 6.0
"""How many standard deviations of rounding a random direction may project.

An implementation's rounding errors ``e`` are fixed before the direction
``v`` is drawn; for ``v`` uniform on the unit sphere of ``n`` entries,
``vᵀe`` is about normal with standard deviation ``‖e‖/√n``, so six of them
are exceeded with probability 2e-9 (``Σ|v_k|·|e_k|``, the worst case, would
be ``√n`` times looser and hide a single wrong entry among float32 noise)."""


@dataclass(frozen=True)
class _BlackBoxJudge:
    """What judging against an implementation's own loss needs, for every probe."""

    loss: _OwnLoss
    scores: FloatArray
    analytic: Float64Array
    h: float
    tiers: tuple[Float64Array, ...]
    """Per-entry rounding allowed for a correct implementation: its float type, then float32."""

    def entries(self, entries: IntArray, noise: float) -> list[Probe]:
        """Difference ``entries`` one by one and judge each."""
        difference = numeric.black_box_central_difference(self.loss, self.scores, entries, h=self.h)
        return self.judge_entries(difference, entries, noise)

    def judge_entries(
        self, difference: numeric.BlackBoxDifference, entries: IntArray, noise: float
    ) -> list[Probe]:
        """Judge differenced entries: black-box error bound plus the implementation's rounding."""
        error = numeric.black_box_error(difference, noise)
        flat = self.analytic.reshape(-1)
        strict, loose = (tier.reshape(-1)[entries] for tier in (self.tiers[0], self.tiers[-1]))
        return [
            Probe(
                numerical=float(difference.derivative[n]),
                analytic=float(flat[k]),
                allowed=float(error[n] + strict[n]),
                loose=float(error[n] + loose[n]),
                resolved=bool(abs(difference.derivative[n]) > error[n]),
            )
            for n, k in enumerate(entries)
        ]

    def direction(self, direction: Float64Array) -> numeric.BlackBoxDifference:
        """Difference the loss along ``direction``."""
        return numeric.directional_derivative(
            self.loss, self.scores, direction, self.analytic, h=self.h
        )

    def judge_direction(
        self, difference: numeric.BlackBoxDifference, direction: Float64Array, noise: float
    ) -> Probe:
        """Judge ``vᵀa`` against the difference quotient along ``v``."""
        error = float(numeric.black_box_error(difference, noise)[0])
        touched = direction != 0
        count = max(int(np.count_nonzero(touched)), 1)
        # The projection is itself a sum of n products: sqrt(n)·eps of their magnitudes.
        summing = numeric.EPS * np.sqrt(count) * float(np.sum(np.abs(direction * self.analytic)))
        allowed = [
            float(error + summing + DIRECTION_SIGMAS * np.sqrt(np.sum(tier[touched] ** 2) / count))
            for tier in (self.tiers[0], self.tiers[-1])
        ]
        return Probe(
            numerical=float(difference.derivative[0]),
            analytic=float(difference.projection[0]),
            allowed=allowed[0],
            loose=allowed[1],
            resolved=bool(abs(difference.derivative[0]) > error),
        )

    def localize(
        self, direction: Float64Array, noise: float, budget: int, count: int
    ) -> list[WorstEntry]:
        """Bisect a failed direction with half-vectors down to the entries that make it fail.

        The entries the direction touches are halved again and again; each
        half is probed as a direction of its own (``v`` restricted to it,
        renormalized) and the search follows the half further outside its
        allowance, down to a single entry, whose own derivative that last
        probe measured. Found entries are dropped from the direction and the
        search repeats while the rest still fails, up to ``count`` entries or
        ``budget`` calls. When neither half fails on its own, the error is
        spread over many entries and the search stops.
        """
        columns = self.scores.shape[1]
        remaining = np.flatnonzero(direction.reshape(-1))
        spent_before = self.loss.calls
        found: list[WorstEntry] = []

        def probe(subset: IntArray) -> Probe:
            """Judge the direction restricted to ``subset``."""
            part = np.zeros(direction.size)
            part[subset] = direction.reshape(-1)[subset]
            unit = (part / np.sqrt(np.sum(part * part))).reshape(direction.shape)
            return self.judge_direction(self.direction(unit), unit, noise)

        def affordable() -> bool:
            """Whether the budget leaves room for another level of bisection."""
            return self.loss.calls - spent_before + 8 <= budget

        while len(found) < count and remaining.size and affordable():
            if found and probe(remaining).ratio <= 1:
                break  # what is left of the direction agrees: every culprit is found
            subset, leaf = remaining, None
            while subset.size > 1 and affordable():
                halves = (subset[: subset.size // 2], subset[subset.size // 2 :])
                judged = [probe(half) for half in halves]
                ratios = [p.ratio for p in judged]
                if max(ratios) <= 1:
                    break
                best = int(np.argmax(ratios))
                subset, leaf = halves[best], judged[best]
            if subset.size != 1 or leaf is None:
                break
            k = int(subset[0])
            # The last probe moved entry k alone, by ±1: its derivative, signed back.
            sign = 1.0 if direction.reshape(-1)[k] > 0 else -1.0
            value, numerical = float(self.analytic.reshape(-1)[k]), sign * leaf.numerical
            found.append(
                WorstEntry(
                    row=k // columns,
                    column=k % columns,
                    analytic=value,
                    numerical=numerical,
                    abs_error=abs(value - numerical),
                    tolerance=leaf.allowed,
                    ratio=leaf.ratio,
                    method="directional",
                )
            )
            remaining = remaining[remaining != k]
        return found


def _check_against_own(
    function: Implementation, call: _Call, reference: ReferenceSet, base: CheckResult, top: int
) -> CheckResult:
    """Judge ``call``'s gradient against black-box differences of the implementation's own loss."""
    if call.loss is None:
        reason = "returned no loss: against its own loss it must return (loss, dscores)"
        return replace(base, reason=reason)
    if not math.isfinite(call.loss):
        return replace(base, reason=f"loss is {call.loss}")
    assert call.dscores is not None  # checked by the caller
    scores, labels = reference.scores, reference.labels
    n, c = scores.shape
    analytic = np.asarray(call.dscores, dtype=np.float64)
    dtype = np.dtype(scores.dtype) if np.issubdtype(scores.dtype, np.floating) else np.dtype("f8")
    rng = np.random.default_rng(reference.seed)
    entries = _own_entries(reference, rng)
    every_entry = entries.size == n * c
    rounding = numeric.black_box_rounding(call.loss, scores, dtype)
    curvature = float(np.max(np.abs(analytic))) or 1.0 / n
    judge = _BlackBoxJudge(
        loss=_OwnLoss(function, labels),
        scores=scores,
        analytic=analytic,
        h=reference.h or numeric.black_box_step(rounding, curvature),
        tiers=tuple(
            _implementation_rounding(scores, analytic, np.dtype(t))
            for t in ([dtype, np.float32] if dtype == np.float64 else [dtype])
        ),
    )
    try:
        by_entry = numeric.black_box_central_difference(judge.loss, scores, entries, h=judge.h)
        directions = [] if every_entry else [_unit(rng, (n, c)) for _ in range(OWN_DIRECTIONS)]
        along = [judge.direction(v) for v in directions]
        noise = numeric.black_box_noise([by_entry, *along], rounding)
        entry_probes = judge.judge_entries(by_entry, entries, noise)
        direction_probes = [
            judge.judge_direction(d, v, noise) for d, v in zip(along, directions, strict=True)
        ]
        failing = [p for p in entry_probes if p.ratio > 1]
        failing_directions = [k for k, p in enumerate(direction_probes) if p.ratio > 1]
        worst = _own_worst(entry_probes, entries, c, top)
        if failing_directions and len(failing) < top:
            budget = max(OWN_CALL_BUDGET - judge.loss.calls, 200)
            v = directions[failing_directions[0]]
            found = judge.localize(v, noise, budget, top - len(failing))
            worst = tuple(sorted([*worst, *found], key=lambda w: -w.ratio)[:top])
    except _LossFailure as failure:
        problem, user_traceback = failure.args
        return replace(
            base,
            reason=f"its own loss at perturbed scores {problem}",
            user_traceback=user_traceback,
            reference_calls=judge.loss.calls,
        )
    verdict, reason = _own_verdict(entry_probes, direction_probes, analytic, worst, dtype)
    if call.modified:
        modified = f"modified its input {' and '.join(call.modified)}"
        verdict = "fail" if verdict == "fail" else "warn"
        reason = f"{reason}; {modified}" if reason else modified
    numerical = np.array([p.numerical for p in entry_probes])
    values = np.array([p.analytic for p in entry_probes])
    resolved = np.array([p.resolved for p in entry_probes])
    shown = resolved if resolved.any() else np.ones_like(resolved)
    rel = relative_error(values, numerical)[shown]
    difference = np.abs(values - numerical)
    return replace(
        base,
        verdict=verdict,
        reason=reason,
        max_rel_error=float(rel.max()),
        median_rel_error=float(np.median(rel)),
        max_abs_error=float(difference.max()),
        median_abs_error=float(np.median(difference)),
        max_error_ratio=max(p.ratio for p in entry_probes + direction_probes),
        worst=worst,
        method="black-box central" if every_entry else "black-box directional",
        judged_by={"black-box central": int(resolved.sum())},
        unjudged=int((~resolved).sum()),
        entries_checked=int(entries.size),
        sampled=not every_entry,
        reference_calls=judge.loss.calls,
        directions=len(directions),
    )


def _own_entries(reference: ReferenceSet, rng: np.random.Generator) -> IntArray:
    """Return the flat indices of the entries to difference one by one.

    Every entry while that fits `OWN_CALL_BUDGET`; else the sample the
    caller asked for (``samples``), or a sample of `OWN_SAMPLE` entries.
    """
    n, c = reference.scores.shape
    if reference.sampled:
        rows, checked = reference.rows, reference.checked
    elif 4 * n * c <= OWN_CALL_BUDGET:
        return np.arange(n * c)
    else:
        rows, checked = _sample_entries(reference.labels, c, OWN_SAMPLE, rng)
    where = np.nonzero(checked)
    flat: IntArray = rows[where[0]] * c + where[1]
    return flat


def _unit(rng: np.random.Generator, shape: tuple[int, int]) -> Float64Array:
    """Return a random direction of unit length, uniformly distributed on the sphere."""
    v: Float64Array = rng.standard_normal(shape)
    v /= np.sqrt(np.sum(v * v))
    return v


def _implementation_rounding(
    scores: FloatArray, analytic: Float64Array, dtype: np.dtype[Any]
) -> Float64Array:
    """Return the rounding a correct implementation working in ``dtype`` may show, per entry.

    As in `gradcheck_cli.verdict`: ``SAFETY·eps·kappa_i`` of the row's scale,
    with the scale the row's largest gradient entry (nothing is known of the
    black box's structure, so every entry is held to its row's scale).
    """
    _, c = scores.shape
    kappa = 1.0 + np.max(np.abs(scores), axis=1) + np.sqrt(c)
    scale = np.maximum(np.max(np.abs(analytic), axis=1), float(np.finfo(dtype).tiny))
    per_row = SAFETY * float(np.finfo(dtype).eps) * kappa * scale
    tolerance: Float64Array = np.repeat(per_row[:, None], c, axis=1)
    return tolerance


def _own_worst(
    probes: list[Probe], entries: IntArray, columns: int, top: int
) -> tuple[WorstEntry, ...]:
    """Return the ``top`` differenced entries furthest outside their allowance."""
    order = sorted(range(len(probes)), key=lambda k: -probes[k].ratio)[:top]
    return tuple(
        WorstEntry(
            row=int(entries[k] // columns),
            column=int(entries[k] % columns),
            analytic=probes[k].analytic,
            numerical=probes[k].numerical,
            abs_error=abs(probes[k].analytic - probes[k].numerical),
            tolerance=probes[k].allowed,
            ratio=probes[k].ratio,
            method="black-box central",
        )
        for k in order
    )


def _own_verdict(
    entries: list[Probe],
    directions: list[Probe],
    analytic: Float64Array,
    worst: tuple[WorstEntry, ...],
    dtype: np.dtype[Any],
) -> tuple[Verdict, str]:
    """Return the verdict of a black-box check and its reason, naming the worst entry."""
    failing = sum(p.ratio > 1 for p in entries)
    failing_directions = [k for k, p in enumerate(directions) if p.ratio > 1]
    if not failing and not failing_directions:
        unresolved = sum(not p.resolved for p in entries)
        if unresolved == len(entries) and not any(p.resolved for p in directions):
            return "warn", (
                "black-box differences of its own loss resolve no entry and no direction "
                "(its rounding is as large as what the steps change)"
            )
        if unresolved:
            return "pass", (
                f"{unresolved} of {len(entries)} entries below what black-box differences "
                "of its own loss resolve"
            )
        return "pass", ""
    parts = []
    if failing:
        parts.append(f"{failing} of {len(entries)} differenced entries outside tolerance")
    if failing_directions:
        parts.append(
            f"{len(failing_directions)} of {len(directions)} random directions outside tolerance"
        )
    reason = "against its own loss: " + ", ".join(parts)
    if dtype == np.float64 and float32_only(entries, directions, analytic):
        return "warn", reason + " at float64 precision; correct to float32 precision only"
    bad = [w for w in worst if w.ratio > 1]
    if bad:
        w = bad[0]
        reason += f"; worst ({w.row}, {w.column}): analytic {w.analytic:.6g}, "
        reason += f"numerical {w.numerical:.6g}"
    elif failing_directions:
        k = failing_directions[0]
        p = directions[k]
        reason += (
            f"; along direction {k + 1}: analytic {p.analytic:.6g}, numerical {p.numerical:.6g}"
            " (the error is spread over many entries; none stands out)"
        )
    return "fail", reason


def float32_only(entries: list[Probe], directions: list[Probe], analytic: Float64Array) -> bool:
    """Whether a gradient that misses float64 precision is right to float32 precision.

    Every entry must be within the float32 tier. A direction sums all entries'
    errors, and one wrong entry among N·C looks like float32 rounding spread
    over them all; so directions get the float32 tier only with evidence the
    gradient is a float32 computation: its values are float32 numbers, or a
    differenced entry shows a float32-sized error.
    """
    if not all(p.loosely_right for p in entries):
        return False
    values_are_float32 = bool(np.array_equal(analytic, analytic.astype(np.float32)))
    float32_errors = any(p.ratio > 1 for p in entries)
    if values_are_float32 or float32_errors:
        return all(p.loosely_right for p in directions)
    return all(p.ratio <= 1 for p in directions)


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
    with (
        warnings.catch_warnings(record=True) as caught,
        np.errstate(all="warn"),
        plugins.user_output_to_stderr(),
    ):
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            output = function(scores_copy, labels_copy)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure is its verdict
            problem = _raised(exc)
            user_traceback = format_user_traceback(exc)
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


def _raised(exc: BaseException) -> str:
    """Say, on one line, what an implementation raised."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    message = " ".join(str(exc).split())
    return f"raised {type(exc).__name__}: {message}" if message else f"raised {type(exc).__name__}"


def _unpack(output: Any, shape: tuple[int, ...]) -> tuple[float | None, np.ndarray | None, str]:
    """Split an implementation's return value into (loss, dscores, problem).

    Accepted: ``(loss, dscores)`` (a tuple, or a list of two whose second is
    an array) or ``dscores`` alone; a loss that is a Python or numpy real
    number, or an array holding exactly one; dscores an ndarray (an
    ``np.matrix``, as the seed uses, is read as one) of real numbers.
    """
    loss_value: Any = None
    gradient: Any = output
    if isinstance(output, list) and len(output) == 2 and isinstance(output[1], np.ndarray):
        output = tuple(output)
    if isinstance(output, tuple):
        if len(output) != 2:
            return None, None, f"returned a tuple of {len(output)} items, expected (loss, dscores)"
        loss_value, gradient = output
    loss: float | None = None
    if loss_value is not None:
        loss, problem = _unpack_loss(loss_value, gradient, shape)
        if problem:
            return None, None, problem
    if isinstance(gradient, np.matrix):
        gradient = np.asarray(gradient)
    if not isinstance(gradient, np.ndarray):
        return loss, None, f"returned dscores of type {type(gradient).__name__}, not an ndarray"
    if np.iscomplexobj(gradient) or not np.issubdtype(gradient.dtype, np.number):
        return loss, None, f"returned dscores of dtype {gradient.dtype}, not real numbers"
    if gradient.shape != shape:
        hint = " (transposed?)" if gradient.shape == shape[::-1] else ""
        return loss, None, f"returned dscores of shape {gradient.shape}, expected {shape}{hint}"
    return loss, gradient, ""


def _unpack_loss(value: Any, gradient: Any, shape: tuple[int, ...]) -> tuple[float | None, str]:
    """Read a returned loss as a float, or say why it is not one."""
    kind = type(value).__name__
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - an object numpy cannot even look at is not a number
        return None, f"returned a loss of type {kind}, not a number"
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        return None, f"returned a loss of type {kind}, not a number"
    if np.iscomplexobj(array):
        return None, "returned a complex loss"
    if array.size != 1:
        swapped = array.shape == shape and np.ndim(gradient) == 0
        hint = " (returned (dscores, loss)? expected (loss, dscores))" if swapped else ""
        return None, f"returned a loss of type {kind} with shape {array.shape}, not a scalar{hint}"
    return float(array.reshape(())), ""


def format_user_traceback(exc: BaseException) -> str:
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


def _check_options(method: str, samples: int | None, h: float | None, against: str) -> None:
    """Validate the options of `prepare_reference`, naming each one."""
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(METHODS)}, not {method!r}.")
    if against not in AGAINST:
        raise ValueError(f"`against` must be one of {', '.join(AGAINST)}, not {against!r}.")
    if samples is not None and samples < 1:
        raise ValueError("`samples` must be a positive integer.")
    if h is not None and not (0 < h < 1):
        raise ValueError("`h` must be a step between 0 and 1.")


def json_ready(value: Any) -> Any:
    """Turn numpy scalars, tuples and non-finite floats into JSON-ready values."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
