"""Check a scores file too large for memory, one block of rows at a time.

`gradcheck run` sends a ``.npy`` scores file here when the file is larger
than `LARGE_INPUT_BYTES`. The file is read in row blocks
(`gradcheck_cli.loading.NpyBlocks`), never whole, and everything the check
needs adds up over blocks, because the softmax loss is a mean of per-row
losses:

* a built-in implementation called on n of the N rows returns the mean over
  those n rows, so its gradient times ``n/N`` is exactly that block's part of
  the whole batch's gradient, and its loss times ``n/N`` that block's share of
  the loss;
* the numerical reference (`gradcheck_cli.numeric`) and the tolerance model
  (`gradcheck_cli.verdict`) work row by row already.

What is checked adapts to size, and each result's ``coverage`` says which:

* ``N·C <= FULL_CHECK_ENTRIES``: every entry, as the check in memory does;
* ``samples`` given: the same seeded spot check as in memory;
* otherwise: the label entry of every row and a seeded sample of
  `OTHER_SAMPLE` other entries, each judged by ``method`` as in memory, and
  `DIRECTIONS` seeded random directions ``v``, each comparing ``vᵀg`` summed
  over blocks with the complex step of the loss along ``v``. A direction that
  fails is localised: the rows that contribute most to ``vᵀ(g - ∇L)`` are
  checked entry by entry.

Memory is bounded by the block size (`BLOCK_BYTES` of float64 per block; a
few such arrays live at a time), the labels (N integers) and the samples.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from gradcheck_cli import _names, numeric, softmax
from gradcheck_cli._typing import Float64Array, FloatArray, IntArray
from gradcheck_cli.checker import (
    CheckResult,
    Implementation,
    Method,
    Named,
    ReferenceSet,
    _call,
    _check_options,
    _sample_entries,
    resolve,
)
from gradcheck_cli.errors import ImplementationError, InputError
from gradcheck_cli.loading import STDIN, NpyBlocks, open_npy_blocks
from gradcheck_cli.verdict import (
    COARSEST,
    LOOSEST,
    SAFETY,
    SCORE_CAP,
    SEVERITY,
    GradientJudgement,
    Reference,
    Verdict,
    WorstEntry,
    _choose_judge,
    _reported_reference,
    entry_tolerance,
    judge_gradient,
    judge_loss_of_size,
    relative_error,
)

LARGE_INPUT_BYTES = _names.LARGE_INPUT_BYTES
"""A ``.npy`` scores file larger than this is checked block by block (read at call time
from `gradcheck_cli._names`, where the command line also looks before importing this)."""
BLOCK_BYTES = 16 * 2**20
"""Float64 size of one block of scores; the working arrays are a few times this."""
FULL_CHECK_ENTRIES = 2**25
"""Every entry is checked up to this many (about 15 s here, as in memory)."""
OTHER_SAMPLE = 20_000
"""Entries off the label sampled (with replacement, then deduplicated) in a large check."""
DIRECTIONS = 4
"""Random directions of a large check."""
LOCALISED_ROWS = 16
"""Rows of a failed direction checked entry by entry: those contributing most to its error."""
MEDIAN_SAMPLE = 2**18
"""Median errors are exact up to this many checked entries, else of a seeded sample of this many."""
MAX_SAMPLES = 10**6
"""Largest ``samples`` of a blockwise spot check (its mask is samples/2 × C booleans)."""
IN_MEMORY_FACTOR = 20
"""Peak memory of a check in memory over the scores' float64 size (18.6 measured, 200000×100)."""

EPS = numeric.EPS
_SUBNORMAL = float(np.finfo(np.float64).smallest_subnormal)
Mode = Literal["full", "samples", "sampled"]


def is_row_separable(implementation: Named) -> bool:
    """Whether an implementation may be called block by block: a built-in one.

    A built-in implementation computes each row's loss and gradient from that
    row alone (the four of `gradcheck_cli.softmax` do). A user's function has
    the contract ``f(scores, labels)`` on the whole batch, so it is not called
    on blocks.
    """
    name, function = implementation
    return softmax.IMPLEMENTATIONS.get(name) is function


def available_memory() -> int | None:
    """Bytes of memory a new allocation can use (Linux ``MemAvailable``), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def plan(
    scores_path: str | os.PathLike[str], implementations: Sequence[Named], *, against: str
) -> NpyBlocks | None:
    """Decide how to check a scores file: in memory (None) or block by block.

    Parameters
    ----------
    scores_path : str or os.PathLike
        The scores file as the user gave it.
    implementations : sequence of (name, callable)
        The resolved implementations to check.
    against : {"reference", "own"}
        Whose loss the numerical gradient differentiates.

    Returns
    -------
    NpyBlocks or None
        The opened file when it is a ``.npy`` larger than `LARGE_INPUT_BYTES`
        and every implementation is built in; None when the whole file is to
        be loaded: a smaller or non-``.npy`` file, or a large one that a
        user's function (or ``against="own"``, which calls it on whole
        perturbed batches) needs whole and that fits in memory.

    Raises
    ------
    InputError
        If the file is large and cannot be used (as `open_npy_blocks` says),
        or is needed whole and does not fit in the available memory.
    """
    fspath = os.fspath(scores_path)
    if fspath == STDIN or os.path.splitext(fspath)[1].lower() != ".npy":
        return None
    try:
        if not os.path.isfile(fspath) or os.path.getsize(fspath) <= _names.LARGE_INPUT_BYTES:
            return None
    except OSError:
        return None  # the loader names the problem, as for any file
    blocks = open_npy_blocks(fspath)
    whole = [name for name, f in implementations if not is_row_separable((name, f))]
    if not whole and against != "own":
        return blocks
    need = IN_MEMORY_FACTOR * 8 * blocks.shape[0] * blocks.shape[1]
    available = available_memory()
    if available is None or need <= available:
        return None  # as before this module existed: load it whole
    who = "--against own (it calls each implementation on the whole array)"
    if whole:
        who = f"{whole[0]} (a user's function takes the whole array)"
    raise InputError(
        f"{blocks.name}: {_size(blocks.nbytes)} of scores is too large to check {who} in "
        f"memory: about {_size(need)} needed, {_size(available)} available; the built-in "
        "implementations are checked block by block (--impl stable), or check a slice of the rows"
    )


def check_file(
    blocks: NpyBlocks,
    labels: IntArray,
    implementations: Sequence[str | Implementation | Named],
    *,
    method: Method = "auto",
    samples: int | None = None,
    h: float | None = None,
    rng: np.random.Generator | None = None,
    top: int = 5,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ReferenceSet, list[CheckResult]]:
    """Check built-in implementations on a ``.npy`` scores file, block by block of rows.

    Parameters
    ----------
    blocks : NpyBlocks
        The scores file (`gradcheck_cli.loading.open_npy_blocks`).
    labels : IntArray, shape (N,)
        Labels checked against it (`gradcheck_cli.loading.load_npy_inputs`).
    implementations : sequence
        Built-in names or ``(name, callable)`` pairs of built-in (row-separable)
        implementations; each is called on a copy of every block.
    method : {"auto", "central", "complex"}
        Reference of the entries checked one by one, as in memory. (The
        directions are always judged against the complex step.)
    samples : int, optional
        Spot-check the entries `gradcheck_cli.checker.check` would pick with
        the same ``rng`` (at most `MAX_SAMPLES`).
    h : float, optional
        Central-difference step.
    rng : numpy.random.Generator, optional
        Source of every sample and direction (default seed 0).
    top : int
        Worst entries kept per implementation.
    progress : callable, optional
        Called after each block with (rows done, N), for a progress bar.

    Returns
    -------
    reference : ReferenceSet
        What `gradcheck_cli.report` shows of the check: its ``scores`` is a
        zero-memory stand-in carrying only the shape and dtype, ``checked``
        counts the entries checked one by one, ``references`` is empty. It
        cannot be passed to `gradcheck_cli.checker.check_implementation`.
    results : list of CheckResult
        One per implementation; ``coverage`` and ``directional`` say what was
        checked.

    Raises
    ------
    InputError
        If a block holds a nan or inf, or ``samples`` is above `MAX_SAMPLES`.
    ImplementationError
        If an implementation is not built in.

    Notes
    -----
    **Directions.** For each seeded direction ``v`` (uniform in [-0.5, 0.5)
    per entry, drawn block by block from a `numpy.random.SeedSequence`, never
    whole) the check compares ``Σ vᵀg`` with the complex step of the loss
    along ``v``, ``Σ_i Im L_i(s_i + i·h·v_i)/h / N``, evaluated from the row
    statistics as ``log1p(excess_i + Σ_j terms_ij·(exp(i·h·(v_ij - v_iy)) - 1))``
    (at h = 1e-20, ``exp(iθ) - 1`` is exactly ``iθ`` in float64, so only the
    imaginary part is formed). The allowance is what the entries' own
    tolerances can add up to, ``Σ |v_ij|·tolerance_ij``, plus the reference's
    error (the complex-step bound of each entry, summed) and the rounding of
    the sums (numpy's pairwise sums: ``eps·(16 + log2 n)`` of the sum of
    absolute values for n terms). A correct gradient cannot fail it; a wrong
    one fails when its error projects above that: an error spread over many
    entries, or one typical entry of a 5,000,000×100 batch wrong by about
    1e-4 relative. A failed direction is localised to the `LOCALISED_ROWS`
    rows with the largest ``|v_iᵀg_i - Im L_i(...)/h/N|`` (exact per row),
    which are then checked entry by entry.

    **Medians** are over the entries checked one by one: exact up to
    `MEDIAN_SAMPLE` of them, else of a seeded uniform sample (a reservoir) of
    that many.
    """
    _check_options(method, samples, h, "reference")
    n_total, c = blocks.shape
    if samples is not None and samples > MAX_SAMPLES and samples < n_total * c:
        raise InputError(
            f"{blocks.name}: --samples {samples} is more than the {MAX_SAMPLES} entries a "
            "file checked block by block can sample (leave --samples out for the adaptive check)"
        )
    named = [resolve(implementation) for implementation in implementations]
    for name, function in named:
        if not is_row_separable((name, function)):
            raise ImplementationError(
                f"{name} is not a built-in implementation: only those are called block by block"
            )
    rng = rng or np.random.default_rng(0)
    selection = _Selection.choose(labels, c, samples, rng)
    root = int(rng.integers(2**63))
    rows_per_block = max(1, BLOCK_BYTES // (8 * c))
    run = _Run(blocks, labels, method, h, top, selection, root, rows_per_block)
    tallies = [_Tally.start(name, function, run, k) for k, (name, function) in enumerate(named)]
    for index, (start, scores) in enumerate(blocks.blocks(rows_per_block)):
        block = run.reference_block(index, start, scores)
        for tally in tallies:
            tally.check_block(block)
        if progress is not None:
            progress(start + scores.shape[0], n_total)
    results = [tally.result() for tally in tallies]
    return run.report_reference(results), results


# --- what is checked ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Selection:
    """Which entries are checked one by one: every entry, a spot check, or a sample off the label.

    ``rows``/``checked`` hold a spot check (as `gradcheck_cli.checker` picks
    it); ``flat`` the sorted flat indices of the sample off the label.
    """

    mode: Mode
    columns: int
    rows: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    checked: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    flat: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))

    @classmethod
    def choose(
        cls, labels: IntArray, columns: int, samples: int | None, rng: np.random.Generator
    ) -> _Selection:
        """Pick the mode and draw its entries from ``rng``, as in memory where they coincide."""
        n = labels.shape[0]
        if (samples is None and n * columns <= FULL_CHECK_ENTRIES) or (
            samples is not None and samples >= n * columns
        ):
            return cls("full", columns)
        if samples is not None:
            rows, checked = _sample_entries(labels, columns, samples, rng)
            return cls("samples", columns, rows=rows, checked=checked)
        return cls("sampled", columns, flat=sample_other_entries(labels, columns, rng))

    def in_block(self, start: int, count: int) -> tuple[IntArray, np.ndarray]:
        """Return the block's rows to check (local indices) and, per such row, which entries."""
        c = self.columns
        if self.mode == "full":
            return np.arange(count), np.ones((count, c), dtype=bool)
        if self.mode == "samples":
            lo, hi = np.searchsorted(self.rows, [start, start + count])
            return self.rows[lo:hi] - start, self.checked[lo:hi]
        lo, hi = np.searchsorted(self.flat, [start * c, (start + count) * c])
        local = self.flat[lo:hi] - start * c
        rows, where = np.unique(local // c, return_inverse=True)
        checked = np.zeros((rows.size, c), dtype=bool)
        checked[where, local % c] = True
        return rows, checked


def sample_other_entries(labels: IntArray, columns: int, rng: np.random.Generator) -> IntArray:
    """Draw `OTHER_SAMPLE` entries off the label uniformly; return their sorted flat indices.

    Each draw picks a row, then one of its ``C - 1`` non-label columns;
    duplicates are dropped, so a few fewer than `OTHER_SAMPLE` may remain.
    """
    n = labels.shape[0]
    rows = rng.integers(0, n, size=OTHER_SAMPLE)
    cols = rng.integers(0, columns - 1, size=OTHER_SAMPLE)
    cols += cols >= labels[rows]  # skip the label column
    flat: IntArray = np.unique(rows * columns + cols).astype(np.intp)
    return flat


# --- the reference, block by block -------------------------------------------------------------


@dataclass(frozen=True)
class _Direction:
    """One random direction on one block: ``v`` (n, C) and, per row, the complex step along it.

    ``numerical[i]`` is ``Im L_i(s_i + i·h·v_i)/h / N``, row i's share of the
    derivative of the loss along ``v``.
    """

    v: Float64Array
    numerical: Float64Array


@dataclass(frozen=True)
class _Block:
    """One block of rows and the reference numbers every implementation is judged against."""

    start: int
    scores: FloatArray
    labels: IntArray
    rows: IntArray
    checked: np.ndarray
    references: dict[str, Reference]
    label_references: dict[str, Reference]
    label_tolerance: tuple[Float64Array, ...]
    directions: tuple[_Direction, ...]


@dataclass
class _Run:
    """The state shared by every implementation: options, reference loss, timing, directions."""

    blocks: NpyBlocks
    labels: IntArray
    method: Method
    h: float | None
    top: int
    selection: _Selection
    root: int
    rows_per_block: int
    tiers: tuple[np.dtype[Any], ...] = ()
    loss_parts: list[float] = field(default_factory=list)
    max_abs_score: float = 0.0
    seconds: float = 0.0
    block_count: int = 0
    direction_numerical: list[list[float]] = field(default_factory=list)
    direction_error: list[float] = field(default_factory=list)
    direction_allowed: list[list[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        expected = self.blocks.dtype
        self.tiers = (expected,) + ((np.dtype(np.float32),) if expected == np.float64 else ())
        count = DIRECTIONS if self.selection.mode == "sampled" else 0
        self.direction_numerical = [[] for _ in range(count)]
        self.direction_error = [0.0] * count
        self.direction_allowed = [[0.0] * len(self.tiers) for _ in range(count)]

    @property
    def n_total(self) -> int:
        """N, the rows the loss averages over."""
        return self.blocks.shape[0]

    def rng(self, *key: int) -> np.random.Generator:
        """Return the generator of one stream (a direction's block, a reservoir), from the seed."""
        return np.random.default_rng(np.random.SeedSequence(self.root, spawn_key=key))

    def reference_block(self, index: int, start: int, scores: FloatArray) -> _Block:
        """Compute the reference numbers of one block, shared by every implementation."""
        begin = time.perf_counter()
        n, c = scores.shape
        labels = self.labels[start : start + n]
        stats = numeric.row_statistics(scores, labels)
        self.loss_parts.append(float(np.sum(stats.shift + np.log1p(stats.excess))))
        wide = np.asarray(scores, dtype=np.float64)
        row_max, row_min = np.max(wide, axis=1), np.min(wide, axis=1)
        self.max_abs_score = max(self.max_abs_score, float(np.max(np.maximum(row_max, -row_min))))
        rows, checked = self.selection.in_block(start, n)
        references = self._references(scores, labels, rows)
        label_references: dict[str, Reference] = {}
        tolerances: tuple[Float64Array, ...] = ()
        directions: tuple[_Direction, ...] = ()
        if self.selection.mode == "sampled":
            # Each row's label entry by `--method`, as `numeric` computes the whole row, with
            # bounds as `numeric.complex_step_error` and `verdict.entry_tolerance` give them.
            exact_kappa = 2.0 + np.minimum(row_max - row_min, 746.0) + np.sqrt(c)
            if self.method in ("auto", "complex"):
                exact = _label_complex_step(stats, self.n_total)
                floor = _SUBNORMAL / numeric._LARGEST_COMPLEX_STEP
                bound = 4.0 * EPS * exact_kappa * np.abs(exact) + floor
                label_references["complex"] = Reference("complex", exact, bound)
            if self.method in ("auto", "central"):
                central, error = _label_central_difference(stats, self.h, self.n_total)
                label_references["central"] = Reference("central", central, error)
            relative = _relative(row_max, row_min, c, self.tiers)
            tolerances = tuple(r / self.n_total for r in relative)
            directions = tuple(
                self._direction(k, index, stats, exact_kappa, relative) for k in range(DIRECTIONS)
            )
        self.seconds += time.perf_counter() - begin
        self.block_count += 1
        return _Block(
            start=start,
            scores=scores,
            labels=labels,
            rows=rows,
            checked=checked,
            references=references,
            label_references=label_references,
            label_tolerance=tolerances,
            directions=directions,
        )

    def _references(
        self, scores: FloatArray, labels: IntArray, rows: IntArray
    ) -> dict[str, Reference]:
        """Return the references of the rows checked one by one, rescaled to the batch."""
        references: dict[str, Reference] = {}
        if rows.size == 0:
            return references
        share = scores.shape[0] / self.n_total  # numeric divides by the block's rows
        if self.method in ("auto", "complex"):
            exact = numeric.complex_step(scores, labels, rows=rows) * share
            bound = numeric.complex_step_error(scores[rows], exact)
            references["complex"] = Reference("complex", exact, bound)
        if self.method in ("auto", "central"):
            central = numeric.central_difference(scores, labels, h=self.h, rows=rows)
            gradient, error = central.gradient * share, central.error * share
            references["central"] = Reference("central", gradient, error)
        return references

    def _direction(
        self,
        k: int,
        index: int,
        stats: numeric.RowStatistics,
        exact_kappa: Float64Array,
        relative: list[Float64Array],
    ) -> _Direction:
        """Draw direction ``k`` on this block: its complex step and allowances (`check_file`)."""
        n, c = stats.terms.shape
        n_total, h = self.n_total, numeric.COMPLEX_STEP
        v = self.rng(0, k, index).random((n, c))
        v -= 0.5  # uniform in [-0.5, 0.5): independent, mean 0, no exact cancellations
        at_labels = (np.arange(n), stats.labels)
        v_label = v[at_labels]
        row_sum = 1.0 + stats.excess  # Σ_j terms_ij
        # Im L_i(s + ihv)/h: only the differences u_ij = s_ij - s_iy enter the row loss, each
        # moved by ih(v_ij - v_iy), and exp(iθ) - 1 is exactly iθ in float64 at θ ~ 1e-20:
        # the imaginary part is h·Σ_j terms_ij·(v_ij - v_iy).
        product = stats.terms * v
        moved = np.sum(product, axis=1) - v_label * row_sum
        numerical = np.log1p(stats.excess + 1j * h * moved).imag / h / n_total
        # Σ_j terms_ij·|v_ij| over the row sum: the |v|-weighted size of row i's probabilities.
        weighted = np.sum(np.abs(product, out=product), axis=1) / row_sum / n_total
        v_label = np.abs(v_label)
        size = weighted + v_label / n_total  # bounds Σ_j |v_ij - v_iy|·p_ij / N and the label
        floor = _SUBNORMAL / h / n_total
        error = float(np.sum(EPS * (4.0 * exact_kappa + _rounding(c) + 4.0) * size + floor))
        error += EPS * _rounding(n) * float(np.sum(np.abs(numerical)))
        # Σ_j |v_ij|·scale_ij: off the label |p/N| (at least tiny), on the label 1/N.
        label_p = stats.terms[at_labels] / row_sum / n_total
        off_label = np.maximum(weighted - v_label * label_p, 0.0)
        allowed = []
        for t, tier_relative in enumerate(relative):
            tiny = float(np.finfo(self.tiers[t]).tiny)
            scale = off_label + v_label / n_total + tiny * c
            allowed.append(float(np.sum(tier_relative * scale)))
        self.direction_numerical[k].append(float(np.sum(numerical)))
        self.direction_error[k] += error
        for t, part in enumerate(allowed):
            self.direction_allowed[k][t] += part
        return _Direction(v, numerical)

    def reference_loss(self) -> float:
        """Return the float64 softmax loss of the whole file."""
        return math.fsum(self.loss_parts) / self.n_total

    def coverage(self, localised: int) -> str:
        """Say what the check covered, for every result."""
        n_total, c = self.blocks.shape
        how = (
            f"checked block by block ({self.block_count} blocks of up to "
            f"{self.rows_per_block} rows)"
        )
        if self.selection.mode == "full":
            return f"{how}: every entry"
        if self.selection.mode == "samples":
            return f"{how}: the {int(self.selection.checked.sum())} entries of the spot check"
        reference = {
            "auto": "central differences confirmed by the complex step",
            "central": "central differences",
            "complex": "the complex step",
        }[self.method]
        text = (
            f"{how}: the label entry of all {n_total} rows and {self.selection.flat.size} "
            f"sampled other entries by {reference}, and {DIRECTIONS} random directions vᵀ∇L "
            "against the complex step of the loss along v"
        )
        if localised:
            text += f"; {localised} rows of failed directions checked entry by entry"
        return text

    def report_reference(self, results: Sequence[CheckResult]) -> ReferenceSet:
        """Return the `ReferenceSet` the report shows: shape, dtype, method, entries checked."""
        n_total, c = self.blocks.shape
        checked = max((r.entries_checked for r in results), default=0)
        return ReferenceSet(
            scores=np.broadcast_to(np.zeros((), dtype=self.blocks.dtype), (n_total, c)),
            labels=self.labels,
            rows=np.zeros(0, dtype=np.intp),
            checked=np.broadcast_to(np.True_, (checked,)),
            references={},
            reference_loss=self.reference_loss(),
            method=self.method,
            sampled=self.selection.mode != "full",
            seconds=self.seconds,
            h=self.h,
            seed=self.root,
        )


def _label_column(stats: numeric.RowStatistics) -> numeric.RowStatistics:
    """Return the statistics of the label column alone (column 0 of a one-column batch)."""
    n = stats.terms.shape[0]
    return numeric.RowStatistics(
        labels=np.zeros(n, dtype=np.intp),
        shift=stats.shift,
        terms=stats.terms[np.arange(n), stats.labels][:, None],
        rest=stats.rest,
        excess=stats.excess,
    )


def _label_complex_step(stats: numeric.RowStatistics, n_total: int) -> Float64Array:
    """Return the complex step of every row's label entry, as `numeric.complex_step` does.

    The label entry's perturbed row loss is ``log1p(excess + rest·expm1(-t))``
    (`numeric.perturbed_row_losses`), and the step is widened where
    ``rest·h`` would be subnormal, exactly as `numeric.complex_step` does.
    """
    column = _label_column(stats)
    with np.errstate(divide="ignore"):
        step = np.clip(
            numeric._KEEP_NORMAL / stats.rest, numeric.COMPLEX_STEP, numeric._LARGEST_COMPLEX_STEP
        )[:, None]
    exact: Float64Array = (numeric.perturbed_row_losses(column, 1j * step).imag / step)[:, 0]
    return exact / n_total


def _label_central_difference(
    stats: numeric.RowStatistics, h: float | None, n_total: int
) -> tuple[Float64Array, Float64Array]:
    """Return central differences of every row's label entry and their error bounds.

    The same evaluations and the same bound (rounding plus truncation, with
    ``p`` the label's probability) as `numeric.central_difference`, for the
    label column alone.
    """
    step = numeric.CENTRAL_STEP if h is None else float(h)
    column = _label_column(stats)
    steps = np.full(column.terms.shape, step)
    forward = numeric.perturbed_row_losses(column, steps)[:, 0]
    backward = numeric.perturbed_row_losses(column, -steps)[:, 0]
    gradient = (forward - backward) / (2 * step)
    p = column.terms[:, 0] / (1.0 + column.excess)
    third = np.abs(p * (1 - p) * (1 - 2 * p))
    rounding = EPS * (np.abs(forward) + np.abs(backward) + 2 * np.abs(column.excess))
    error = 2 * (rounding / (2 * step) + step**2 / 6 * (third + step))
    return gradient / n_total, error / n_total


def _relative(
    row_max: Float64Array, row_min: Float64Array, columns: int, tiers: Sequence[np.dtype[Any]]
) -> list[Float64Array]:
    """Return, per tier, each row's relative tolerance as `verdict.judge_gradient` has it.

    The batch's own dtype is capped at ``COARSEST``, the float32 tier of a
    float64 batch at ``LOOSEST`` (the ``loosest`` of `verdict.entry_tolerance`).
    """
    size = np.minimum(np.maximum(row_max, -row_min), SCORE_CAP)
    kappa = 1.0 + size + np.sqrt(columns)
    caps = (COARSEST, LOOSEST)
    return [
        np.minimum(SAFETY * float(np.finfo(t).eps) * kappa, cap)
        for t, cap in zip(tiers, caps, strict=False)
    ]


def _rounding(terms: int) -> float:
    """Bound, in eps of the sum of absolute values, the rounding of numpy's pairwise sum.

    numpy adds up to 128 terms in 8 interleaved partial sums, then halves
    recursively: at most ``16 + log2(n)`` roundings stand between any term and
    the result.
    """
    return 16.0 + math.log2(max(terms, 2))


# --- one implementation, block by block --------------------------------------------------------


class _Reservoir:
    """A seeded uniform sample of at most `MEDIAN_SAMPLE` (relative, absolute) error pairs.

    Every pair offered gets a random key; the pairs with the smallest keys are
    kept, so each pair is equally likely to be in the sample. Once the sample
    is full, a pair whose key is above the largest kept key is dropped at once.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.keys = np.empty(2 * MEDIAN_SAMPLE)
        self.values = np.empty((2 * MEDIAN_SAMPLE, 2))
        self.count = 0
        self.threshold = math.inf

    def add(self, relative: Float64Array, absolute: Float64Array) -> None:
        """Offer more pairs."""
        keys = self.rng.random(relative.size)
        kept = keys < self.threshold
        keys, pairs = keys[kept], np.column_stack([relative[kept], absolute[kept]])
        while keys.size:
            room = min(self.keys.size - self.count, keys.size)
            self.keys[self.count : self.count + room] = keys[:room]
            self.values[self.count : self.count + room] = pairs[:room]
            self.count += room
            keys, pairs = keys[room:], pairs[room:]
            if self.count == self.keys.size:
                self._trim()

    def _trim(self) -> None:
        """Keep the pairs with the `MEDIAN_SAMPLE` smallest keys."""
        if self.count > MEDIAN_SAMPLE:
            order = np.argpartition(self.keys[: self.count], MEDIAN_SAMPLE - 1)[:MEDIAN_SAMPLE]
            self.keys[:MEDIAN_SAMPLE] = self.keys[order]
            self.values[:MEDIAN_SAMPLE] = self.values[order]
            self.count = MEDIAN_SAMPLE
            self.threshold = float(self.keys[:MEDIAN_SAMPLE].max())

    def medians(self) -> tuple[float, float]:
        """Return the median relative and absolute error of the sample."""
        self._trim()
        if self.count == 0:
            return math.nan, math.nan
        median = np.median(self.values[: self.count], axis=0)
        return float(median[0]), float(median[1])


@dataclass
class _Candidates:
    """The rows contributing most to one direction's error, kept with their scores and gradient."""

    key: Float64Array
    rows: IntArray
    scores: FloatArray
    gradient: Float64Array

    def offer(self, contribution: Float64Array, block: _Block, gradient: Float64Array) -> None:
        """Keep the `LOCALISED_ROWS` largest ``|contribution|`` rows seen so far."""
        size = np.abs(contribution)
        count = min(LOCALISED_ROWS, size.size)
        best = np.argpartition(-size, count - 1)[:count]
        key = np.concatenate([self.key, size[best]])
        order = np.argsort(-key, kind="stable")[:LOCALISED_ROWS]
        self.key = key[order]
        self.rows = np.concatenate([self.rows, block.start + best])[order]
        self.scores = np.concatenate([self.scores, block.scores[best]])[order]
        self.gradient = np.concatenate([self.gradient, gradient[best]])[order]


@dataclass
class _Tally:
    """Everything one implementation's check accumulates over the blocks."""

    name: str
    function: Implementation
    run: _Run
    reservoir: _Reservoir
    candidates: list[_Candidates]
    losses: list[float] = field(default_factory=list)
    returned_loss: bool = True
    seconds: float = 0.0
    warnings: dict[str, None] = field(default_factory=dict)
    modified: dict[str, None] = field(default_factory=dict)
    traceback: str = ""
    problem: str = ""
    non_finite: int = 0
    first_non_finite: tuple[int, int] = (0, 0)
    checked: int = 0
    failed: int = 0
    float32_only: bool = True
    unjudged: int = 0
    judged_by: Counter[str] = field(default_factory=Counter)
    max_rel: float = 0.0
    max_abs: float = 0.0
    max_ratio: float = 0.0
    worst: list[WorstEntry] = field(default_factory=list)
    analytic: list[list[float]] = field(default_factory=list)
    rounding: list[float] = field(default_factory=list)
    localised: int = 0

    @classmethod
    def start(cls, name: str, function: Implementation, run: _Run, number: int) -> _Tally:
        """Return a fresh tally for implementation number ``number``."""
        count, c = len(run.direction_numerical), run.blocks.shape[1]
        dtype = run.blocks.dtype
        empty = [
            _Candidates(
                np.zeros(0), np.zeros(0, dtype=np.intp), np.zeros((0, c), dtype), np.zeros((0, c))
            )
            for _ in range(count)
        ]
        tally = cls(name, function, run, _Reservoir(run.rng(1, number)), empty)
        tally.analytic = [[] for _ in range(count)]
        tally.rounding = [0.0] * count
        return tally

    def check_block(self, block: _Block) -> None:
        """Call the implementation on one block and judge what it returns."""
        if self.problem:
            return  # it raised or returned something unusable: nothing more to learn
        n = block.scores.shape[0]
        call = _call(self.function, block.scores, block.labels)
        self.seconds += call.seconds
        self.warnings.update(dict.fromkeys(call.warnings))
        self.modified.update(dict.fromkeys(call.modified))
        self.traceback = self.traceback or call.traceback
        if call.dscores is None:
            end = block.start + n - 1
            self.problem = f"{call.problem} (called on rows {block.start} to {end}, block by block)"
            return
        if call.loss is None:
            self.returned_loss = False
        else:
            self.losses.append(call.loss * n)
        with np.errstate(over="ignore"):  # a 1e300 gradient times n/N: inf, counted below
            gradient = np.multiply(call.dscores, n / self.run.n_total, dtype=np.float64)
        bad = ~np.isfinite(gradient)
        if bad.any():
            if not self.non_finite:
                row, col = np.argwhere(bad)[0]
                self.first_non_finite = (block.start + int(row), int(col))
            self.non_finite += int(bad.sum())
            return
        if self.non_finite:
            return  # the verdict is already a fail; the count goes on
        with np.errstate(over="ignore"):
            self._judge_rows(block, gradient)
            if self.run.selection.mode == "sampled":
                self._judge_labels(block, gradient)
                self._project(block, gradient)

    def _judge_rows(self, block: _Block, gradient: Float64Array) -> None:
        """Judge the entries checked one by one in this block, as in memory."""
        if block.rows.size == 0:
            return
        rows = block.rows
        analytic = gradient[rows]
        judgement = judge_gradient(
            analytic,
            block.references,
            method=self.run.method,
            scores=block.scores[rows],
            labels=block.labels[rows],
            rows=block.start + rows,
            checked=block.checked,
            n_total=self.run.n_total,
            top=self.run.top,
        )
        self._add_judgement(judgement, int(block.checked.sum()))
        reported = _reported_reference(block.references, self.run.method)
        floor = np.zeros(analytic.shape)
        floor[np.arange(rows.size), block.labels[rows]] = 1.0 / self.run.n_total
        shown = block.checked & ~self._unjudged(analytic, block)
        self.reservoir.add(
            relative_error(analytic, reported, floor)[shown], np.abs(analytic - reported)[shown]
        )

    def _unjudged(self, analytic: Float64Array, block: _Block) -> np.ndarray:
        """Return the entries `judge_gradient` leaves unjudged (``central`` only)."""
        if self.run.method != "central":
            return np.zeros(analytic.shape, dtype=bool)
        central = block.references["central"]
        rows = block.rows
        tolerance = entry_tolerance(
            central.gradient,
            block.scores[rows],
            block.labels[rows],
            self.run.n_total,
            self.run.tiers[0],
        )
        error = np.abs(analytic - central.gradient)
        unjudged: np.ndarray = (np.abs(central.gradient) <= central.error) & (
            error <= tolerance + central.error
        )
        return unjudged

    def _add_judgement(self, judgement: GradientJudgement, size: int) -> None:
        """Add one block's `judge_gradient` verdict to the totals."""
        self.checked += size
        self.failed += judgement.failed_entries
        if judgement.failed_entries and judgement.verdict != "warn":
            self.float32_only = False
        self.unjudged += judgement.unjudged
        self.judged_by.update(judgement.judged_by)
        judged = size - judgement.unjudged
        if judged:
            self.max_rel = max(self.max_rel, judgement.max_rel_error)
            self.max_abs = max(self.max_abs, judgement.max_abs_error)
        self.max_ratio = max(self.max_ratio, judgement.max_error_ratio)
        self._keep_worst(judgement.worst)

    def _judge_labels(self, block: _Block, gradient: Float64Array) -> None:
        """Judge every row's label entry, as `judge_gradient` judges an entry."""
        n, n_total = block.labels.size, self.run.n_total
        references, method = block.label_references, self.run.method
        analytic = gradient[np.arange(n), block.labels]
        tolerance = block.label_tolerance[0]
        by_central, value, bound = _choose_judge(analytic, references, method, tolerance)
        error = np.abs(analytic - value)
        allowed = tolerance + bound
        ratio = error / allowed
        judged = np.ones(n, dtype=bool)
        if method == "central":  # too small for central differences to tell from 0
            judged = ~((np.abs(value) <= bound) & (ratio <= 1))
        failing = (ratio > 1) & judged
        centrally = int(np.count_nonzero(by_central & judged))
        self.checked += n
        self.unjudged += n - int(judged.sum())
        self.judged_by.update({"central": centrally, "complex": int(judged.sum()) - centrally})
        if failing.any():
            self.failed += int(failing.sum())
            loose = block.label_tolerance[1:]
            within = bool(loose) and bool(np.all(error[judged] <= (loose[0] + bound)[judged]))
            self.float32_only &= within
        if not judged.any():
            return
        reported = _reported_reference(references, method)
        relative = relative_error(analytic, reported, 1.0 / n_total)[judged]
        difference = np.abs(analytic - reported)[judged]
        self.max_ratio = max(self.max_ratio, float(ratio[judged].max()))
        self.max_rel = max(self.max_rel, float(relative.max()))
        self.max_abs = max(self.max_abs, float(difference.max()))
        self.reservoir.add(relative, difference)
        ranked = np.where(judged, ratio, -1.0)
        count = min(self.run.top, int(judged.sum()))
        best = np.argpartition(-ranked, count - 1)[:count]
        self._keep_worst(
            WorstEntry(
                row=block.start + int(i),
                column=int(block.labels[i]),
                analytic=float(analytic[i]),
                numerical=float(value[i]),
                abs_error=float(error[i]),
                tolerance=float(allowed[i]),
                ratio=float(ratio[i]),
                method="central" if by_central[i] else "complex",
            )
            for i in best
        )

    def _project(self, block: _Block, gradient: Float64Array) -> None:
        """Add this block's ``vᵀg`` for every direction, and keep the rows most at odds."""
        c = gradient.shape[1]
        for k, direction in enumerate(block.directions):
            product = direction.v * gradient
            per_row = np.sum(product, axis=1)
            np.abs(product, out=product)
            size = float(np.sum(product))
            self.analytic[k].append(float(np.sum(per_row)))
            self.rounding[k] += EPS * (1.0 + _rounding(c) + _rounding(per_row.size)) * size
            self.candidates[k].offer(per_row - direction.numerical, block, gradient)

    def _keep_worst(self, entries: Any) -> None:
        """Merge entries into the ``top`` worst kept so far."""
        merged = sorted([*self.worst, *entries], key=lambda w: -w.ratio)
        self.worst = merged[: self.run.top]

    def _directions(self) -> tuple[list[dict[str, float]], list[int], list[int]]:
        """Judge each direction: records, failing ones, and those within the float32 tier only."""
        records, failing, loose = [], [], []
        for k, parts in enumerate(self.analytic):
            analytic = math.fsum(parts)
            numerical = math.fsum(self.run.direction_numerical[k])
            bound = self.run.direction_error[k] + self.rounding[k]
            bound += EPS * (abs(analytic) + abs(numerical))  # the two final roundings
            allowed = [a + bound for a in self.run.direction_allowed[k]]
            difference = abs(analytic - numerical)
            ratio = difference / allowed[0] if allowed[0] > 0 else math.inf
            record = {"analytic": analytic, "numerical": numerical, "allowed": allowed[0]}
            records.append(record | {"ratio": ratio})
            if ratio > 1:
                failing.append(k)
                if len(allowed) > 1 and difference <= allowed[1]:
                    loose.append(k)
        return records, failing, loose

    def _localise(self, failing: list[int]) -> None:
        """Check entry by entry the rows contributing most to the failed directions."""
        if not failing:
            return
        pools = [self.candidates[k] for k in failing]
        rows, first = np.unique(np.concatenate([p.rows for p in pools]), return_index=True)
        scores = np.concatenate([p.scores for p in pools])[first]
        gradient = np.concatenate([p.gradient for p in pools])[first]
        labels = self.run.labels[rows]
        n_total, c = self.run.blocks.shape
        exact = numeric.complex_step(scores, labels) * (rows.size / n_total)
        bound = numeric.complex_step_error(scores, exact)
        checked = np.ones((rows.size, c), dtype=bool)
        checked[np.arange(rows.size), labels] = False  # already checked, with every label entry
        flat = self.run.selection.flat
        taken = flat[np.isin(flat // c, rows)]  # and the sampled entries of these rows
        checked[np.searchsorted(rows, taken // c), taken % c] = False
        judgement = judge_gradient(
            gradient,
            {"complex": Reference("complex", exact, bound)},
            method="complex",
            scores=scores,
            labels=labels,
            rows=rows,
            checked=checked,
            n_total=n_total,
            top=self.run.top,
        )
        self._add_judgement(judgement, int(checked.sum()))
        self.localised = rows.size

    def result(self) -> CheckResult:
        """Compose the verdict of the whole file from what the blocks gave."""
        run = self.run
        n_total, c = run.blocks.shape
        records: list[dict[str, float]] = []
        failing: list[int] = []
        loose: list[int] = []
        if not self.problem and not self.non_finite:
            records, failing, loose = self._directions()
            with np.errstate(over="ignore"):
                self._localise(failing)
        loss = math.fsum(self.losses) / n_total if self.returned_loss and self.losses else None
        verdict, reason, loss_differs = self._verdict(loss, records, failing, loose)
        median_rel, median_abs = self.reservoir.medians()
        judged = self.checked > self.unjudged
        return CheckResult(
            name=self.name,
            verdict=verdict,
            reason=reason,
            loss=loss,
            reference_loss=run.reference_loss(),
            max_rel_error=self.max_rel if judged else math.nan,
            median_rel_error=median_rel if judged else math.nan,
            max_abs_error=self.max_abs if judged else math.nan,
            median_abs_error=median_abs if judged else math.nan,
            max_error_ratio=self.max_ratio if judged else math.nan,
            worst=tuple(self.worst),
            method=run.method,
            judged_by={method: count for method, count in self.judged_by.items() if count},
            unjudged=self.unjudged,
            entries_checked=self.checked,
            entries_total=n_total * c,
            sampled=run.selection.mode != "full",
            seconds=self.seconds,
            dtype=str(run.blocks.dtype),
            floating_point_warnings=tuple(self.warnings),
            modified_inputs=tuple(self.modified),
            user_traceback=self.traceback,
            loss_differs=loss_differs,
            directions=len(records),
            coverage=run.coverage(self.localised),
            directional=tuple(records),
        )

    def _verdict(
        self,
        loss: float | None,
        records: list[dict[str, float]],
        failing: list[int],
        loose: list[int],
    ) -> tuple[Verdict, str, bool]:
        """Return the verdict, its reason and loss_differs, worded as in memory."""
        if self.problem:
            return "fail", self.problem, False
        if self.non_finite:
            cause = "; ".join(self.warnings)
            entries = "entry is" if self.non_finite == 1 else "entries are"
            first = f"({self.first_non_finite[0]}, {self.first_non_finite[1]})"
            text = f"{self.non_finite} gradient {entries} nan or inf (first at {first})"
            return "fail", f"{cause}: {text}" if cause else text, False
        verdict, reason = self._entry_verdict()
        verdicts: list[tuple[Verdict, str]] = [(verdict, reason)]
        if failing:
            # A direction sums every entry's error: one wrong entry among millions looks like
            # float32 rounding spread over all, so only float32 evidence earns the float32 tier.
            tier: Verdict = "warn" if verdict == "warn" and loose == failing else "fail"
            k = failing[0]
            record = records[k]
            difference = record["analytic"] - record["numerical"]
            text = (
                f"{len(failing)} of {len(records)} random directions outside tolerance; along "
                f"direction {k + 1}: vᵀg {record['analytic']:.6g} differs from the complex step "
                f"by {difference:.3g} (allowed {record['allowed']:.2g})"
            )
            if not self.failed:
                text += "; no entry of the rows contributing most stands out: the error is spread"
            verdicts.append((tier, text))
        loss_differs = False
        if loss is not None:
            loss_verdict, loss_reason = self._loss_verdict(loss)
            loss_differs = loss_verdict == "fail" and math.isfinite(loss)
            if loss_differs:  # worded as `gradcheck_cli.checker` words it
                loss_reason = loss_reason.replace(" the reference ", " the softmax loss ")
                loss_reason += " (not meant to be the softmax loss? check it with --against own)"
                verdicts.insert(0, (loss_verdict, loss_reason))
            else:
                verdicts.append((loss_verdict, loss_reason))
        if self.modified:
            verdicts.append(("warn", f"modified its input {' and '.join(self.modified)}"))
        worst = max((v for v, _ in verdicts), key=SEVERITY.__getitem__)
        text = "; ".join(t for v, t in verdicts if t and v != "pass") or reason
        return worst, text, loss_differs

    def _entry_verdict(self) -> tuple[Verdict, str]:
        """Return the verdict on the entries checked one by one, as `judge_gradient` would."""
        verdict: Verdict = "pass"
        reason = ""
        if self.failed:
            verdict, reason = "fail", f"{self.failed} of {self.checked} entries outside tolerance"
            if self.run.tiers[0] == np.float64 and self.float32_only:
                verdict = "warn"
                reason = (
                    f"{self.failed} of {self.checked} entries are correct to float32 precision "
                    f"only (worst {self.max_ratio:.3g}× the float64 tolerance)"
                )
        elif self.unjudged:
            verdict = "warn" if self.unjudged == self.checked else "pass"
            reason = (
                f"{self.unjudged} of {self.checked} entries too small to judge by central "
                "differences (use --method auto)"
            )
        if verdict != "pass" and self.worst:
            w = self.worst[0]
            reason += (
                f"; worst ({w.row}, {w.column}): analytic {w.analytic:.6g}, "
                f"numerical {w.numerical:.6g}"
            )
        return verdict, reason

    def _loss_verdict(self, loss: float) -> tuple[Verdict, str]:
        """`gradcheck_cli.verdict.judge_loss`, from the file's size and largest score."""
        return judge_loss_of_size(
            loss,
            self.run.reference_loss(),
            self.run.blocks.shape,
            self.run.max_abs_score,
            self.run.tiers[0],
        )


def _size(nbytes: float) -> str:
    """Format a byte count in the unit that keeps it short."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if nbytes < 1000 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"  # pragma: no cover - the loop returns at GB
