"""Time loss+gradient implementations against the machine's own floor, in one run.

For each size N×C, `benchmark` draws one seeded batch and times on it:

* the floor: one ``np.exp`` pass and one copy of an N×C array, each making a
  new array as every implementation must (and, to show what that allocation
  costs, ``np.exp`` into an existing buffer);
* each implementation's loss+gradient call, built-ins and plugins alike;
* with ``checks=True``, the numerical reference methods a check runs.

Every cell (one callable at one size) gets a warm-up call, then up to
``repeat`` timed calls. Nothing may hang the run: before a cell is timed, its
cost is predicted from the same callable's last measured size (time ∝ N·C,
as for every built-in), or from a probe on a few rows; a cell whose warm-up
and three runs would overrun the time budget is *estimated* from that
prediction (or *skipped*, with ``estimate=False``), and a callable that
raises is *skipped* at that size, with the reason. Nothing is dropped.
"""

from __future__ import annotations

import gc
import os
import platform
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import numpy as np

from gradcheck_cli import numeric
from gradcheck_cli._typing import FloatArray, IntArray
from gradcheck_cli.checker import Implementation, Named, prepare_reference, resolve
from gradcheck_cli.errors import InputError

Status = Literal["measured", "estimated", "skipped"]
Kind = Literal["implementation", "check"]
Size = tuple[int, int]
Progress = Callable[[int, int, str], None]
"""``on_step(done, total, what)``: called before each cell (``what`` runs next) and at the end."""

DEFAULT_SIZES: tuple[Size, ...] = ((500, 10), (1000, 100), (10000, 100), (10000, 1000))
DTYPES = ("float64", "float32")
MIN_RUNS = 3
"""A cell is only timed when its warm-up and this many runs fit the budget."""
PROBE_ENTRIES = 1 << 14
"""With no smaller size measured yet, a cell's cost is predicted from this many entries' rows."""
CHECK_SAMPLES = 1000
"""Entries the ``sampled`` check method judges (as ``gradcheck run --samples 1000``)."""
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "OPENBLAS_CORETYPE",
)
"""Environment variables that steer numpy's BLAS; the ones set are recorded."""


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``runs`` timed calls: median, fastest, interquartile range, slowest."""

    median: float
    min: float
    iqr: float
    max: float
    runs: int


@dataclass(frozen=True)
class Floor:
    """The machine's floor at one size, each a `Timing` of one operation on the N×C scores.

    ``exp`` is ``np.exp(scores)`` and ``copy`` is ``scores.copy()``: both make
    a new array, as a loss+gradient must. ``exp_inplace`` is
    ``np.exp(scores, out=buffer)``; the gap to ``exp`` is what allocating
    (and first touching) a new N×C array costs.
    """

    N: int
    C: int
    exp: Timing
    copy: Timing
    exp_inplace: Timing


@dataclass(frozen=True)
class BenchRecord:
    """One callable at one size.

    How to read it:

    * ``status`` is ``"measured"`` (``runs`` timed calls after a warm-up),
      ``"estimated"`` (predicted from a smaller size, never run at this one:
      ``median`` is the prediction, the spread fields are None) or
      ``"skipped"`` (no figure; ``note`` says why).
    * ``median``, ``min``, ``iqr`` (75th minus 25th percentile) and ``max``
      are seconds per loss+gradient call (or per reference computation, for
      ``kind == "check"``).
    * ``floor_exp``, ``floor_copy`` and ``floor_exp_inplace`` are the median
      seconds of the floor operations at this size (see `Floor`), and
      ``times_exp`` / ``times_copy`` are ``median`` as a multiple of the
      first two.
    * ``speedup`` is the median of ``speedup_over`` (``"loops"``, or
      ``"rows"`` where ``loops`` has no figure) over this one's median.
    """

    impl: str
    kind: Kind
    N: int
    C: int
    dtype: str
    status: Status
    median: float | None
    min: float | None
    iqr: float | None
    max: float | None
    runs: int
    floor_exp: float
    floor_copy: float
    floor_exp_inplace: float
    times_exp: float | None
    times_copy: float | None
    speedup: float | None
    speedup_over: str | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready plain data."""
        return asdict(self)


@dataclass(frozen=True)
class Machine:
    """What the timings ran on.

    ``blas_threads`` is the thread count numpy's BLAS uses, read from
    ``threads_source``: the first of ``OPENBLAS_NUM_THREADS``,
    ``MKL_NUM_THREADS`` and ``OMP_NUM_THREADS`` that is set, else the
    available CPUs (OpenBLAS's and MKL's default). Elementwise ufuncs
    (``exp``, copies, sums) run on one thread whatever it says.
    ``environment`` holds the thread-related variables that are set.
    """

    numpy: str
    python: str
    platform: str
    cpus: int
    blas: str
    blas_threads: int
    threads_source: str
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchResult:
    """Every record (sizes in ascending N·C, callables in the order given), floors and machine."""

    records: tuple[BenchRecord, ...]
    floors: tuple[Floor, ...]
    machine: Machine
    repeat: int
    budget: float
    estimate: bool
    dtype: str
    seconds: float


@dataclass(frozen=True)
class _Cell:
    """The outcome of timing one callable at one size, before it becomes a record."""

    status: Status
    timing: Timing | None = None
    median: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Point:
    """One measured median of a callable (``probe``: one call on a few rows of a larger size)."""

    N: int
    C: int
    seconds: float
    probe: bool = False


def predict(points: Sequence[Point], n: int, c: int) -> tuple[float, str]:
    """Predict the seconds of one call at ``n``×``c`` from smaller measured sizes, and say how.

    With sizes of two or more class counts, fit ``t = a·N + b·N·C`` (a
    per-row and a per-entry cost: the loop of `rows` costs per row, the
    arithmetic per entry), least squares in relative terms; otherwise, or
    when the fit gives a negative cost, scale the largest measured size by
    N·C, which over- rather than underestimates any callable whose cost
    includes a fixed part.
    """
    largest = max(points, key=lambda p: (p.N * p.C, p.N))
    if len({p.C for p in points}) > 1:
        design = np.array([[p.N / p.seconds, p.N * p.C / p.seconds] for p in points])
        (per_row, per_entry), *_ = np.linalg.lstsq(design, np.ones(len(points)), rcond=None)
        if per_row >= 0 and per_entry >= 0:
            sizes = ", ".join(_described(p) for p in points)
            return float(per_row * n + per_entry * n * c), f"{sizes} (t ≈ a·N + b·N·C)"
    scale = n * c / (largest.N * largest.C)
    return largest.seconds * scale, f"{_described(largest)} (t ∝ N·C)"


def _described(point: Point) -> str:
    """Name a point's size, saying when it was a probe."""
    return f"{'a probe of ' if point.probe else ''}{point.N}×{point.C}"


Prepare = Callable[[FloatArray, IntArray, np.random.Generator], Callable[[], object]]
"""Turns one size's batch (and its generator) into the zero-argument call to time."""


def parse_sizes(text: str) -> tuple[Size, ...]:
    """Parse ``"500x10,10000x1000"`` (``x`` or ``×``) into ``((500, 10), (10000, 1000))``.

    Raises
    ------
    InputError
        If a size is not two positive integers ``NxC``.

    Examples
    --------
    >>> parse_sizes("500x10, 10000×1000")
    ((500, 10), (10000, 1000))
    """
    sizes = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*[x×X]\s*(\d+)\s*", part)
        if not match or min(int(match[1]), int(match[2])) < 1:
            raise InputError(f"size {part.strip()!r} is not NxC with positive integers N and C")
        sizes.append((int(match[1]), int(match[2])))
    return tuple(sizes)


def machine() -> Machine:
    """Describe this machine: numpy and Python versions, CPUs, BLAS and its threads."""
    environment = {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
    threads, source = cpus, "default: one per available CPU"
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        value = environment.get(name, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            threads, source = int(value), name
            break
    return Machine(
        numpy=np.__version__,
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        cpus=cpus,
        blas=_blas_name(),
        blas_threads=threads,
        threads_source=source,
        environment=environment,
    )


def benchmark(
    implementations: Sequence[str | Implementation | Named],
    sizes: Sequence[Size] = DEFAULT_SIZES,
    *,
    rng: np.random.Generator | None = None,
    repeat: int = 5,
    budget: float = 2.0,
    estimate: bool = True,
    checks: bool = False,
    dtype: str = "float64",
    on_step: Progress | None = None,
) -> BenchResult:
    """Time loss+gradient implementations and the machine's floor over a grid of sizes.

    Parameters
    ----------
    implementations : sequence of str, callable or (name, callable)
        Built-in names, plugin specs (``FILE.py:NAME``) or callables
        ``f(scores, labels) -> (loss, dscores)``; duplicates are timed once.
    sizes : sequence of (N, C)
        Batch sizes; timed in ascending N·C so smaller sizes can predict
        larger ones.
    rng : numpy.random.Generator, optional
        Source of the batches (scores ``~ N(0, 2²)``, uniform labels) and of
        the check methods' samples; default ``numpy.random.default_rng(0)``.
        One size's batch depends only on the generator's state and the size.
    repeat : int
        Timed calls per cell after the warm-up (fewer if the budget runs out).
    budget : float
        Seconds one callable may spend at one size. A cell whose warm-up and
        `MIN_RUNS` calls are predicted to take longer is estimated (or
        skipped when ``estimate`` is False).
    estimate : bool
        Estimate over-budget cells from a smaller size instead of skipping them.
    checks : bool
        Also time the numerical reference methods (`check_methods`).
    dtype : {"float64", "float32"}
        The scores' dtype.
    on_step : callable, optional
        Progress callback, ``on_step(done, total, what)``.

    Returns
    -------
    BenchResult
        Records sorted by size, then in the order given (checks last).

    Raises
    ------
    InputError
        If ``sizes``, ``repeat``, ``budget`` or ``dtype`` is invalid.
    ImplementationError
        If an implementation cannot be resolved.

    Examples
    --------
    >>> import numpy as np
    >>> result = benchmark(["stable"], [(20, 5)], rng=np.random.default_rng(0), repeat=3)
    >>> record = result.records[0]
    >>> record.impl, record.status, record.runs, record.median > 0, record.floor_exp > 0
    ('stable', 'measured', 3, True, True)
    """
    _validate(sizes, repeat, budget, dtype)
    start = time.perf_counter()
    rng = rng if rng is not None else np.random.default_rng(0)
    candidates: dict[str, tuple[Kind, Prepare]] = {}
    for implementation in implementations:
        name, function = resolve(implementation)
        candidates.setdefault(name, ("implementation", _calling(function)))
    if checks:
        for name, prepare in check_methods().items():
            candidates.setdefault(name, ("check", prepare))
    ordered = sorted(set(sizes), key=lambda size: (size[0] * size[1], size))
    base = int(rng.integers(2**63))
    total, done = len(ordered) * (1 + len(candidates)), 0
    points: dict[str, list[Point]] = {name: [] for name in candidates}
    records: list[BenchRecord] = []
    floors: list[Floor] = []
    for n, c in ordered:
        size_rng = np.random.default_rng([base, n, c])
        try:
            scores = size_rng.normal(0.0, 2.0, size=(n, c)).astype(dtype)
            labels = size_rng.integers(0, c, size=n)
        except MemoryError:
            raise InputError(f"size {n}×{c}: not enough memory for its batch") from None
        scores.setflags(write=False)  # an implementation that writes into its input is skipped
        labels.setflags(write=False)
        _report(on_step, done, total, f"{n}×{c} floor")
        floors.append(_floor(scores, repeat))
        done += 1
        cells: dict[str, _Cell] = {}
        for name, (_, prepare) in candidates.items():
            _report(on_step, done, total, f"{n}×{c} {name}")
            cells[name] = _time_cell(
                prepare, scores, labels, size_rng, points[name], repeat, budget, estimate
            )
            done += 1
        kinds = {name: kind for name, (kind, _) in candidates.items()}
        records += _records(floors[-1], cells, kinds, dtype)
    _report(on_step, done, total, "done")
    return BenchResult(
        records=tuple(records),
        floors=tuple(floors),
        machine=machine(),
        repeat=repeat,
        budget=budget,
        estimate=estimate,
        dtype=dtype,
        seconds=time.perf_counter() - start,
    )


def check_methods() -> dict[str, Prepare]:
    """Return the numerical reference methods `benchmark` times with ``checks=True``.

    ``complex_step`` and ``central_difference`` compute every entry's
    reference (column-grouped, O(N·C)); ``sampled`` is the whole reference
    of a `CHECK_SAMPLES`-entry spot check (both methods, as ``--samples``);
    ``directional`` differentiates the float64 loss along one random
    direction (four loss evaluations), when `gradcheck_cli.numeric` offers
    ``directional_derivative``.
    """
    methods: dict[str, Prepare] = {
        "complex_step": lambda s, y, rng: lambda: numeric.complex_step(s, y),
        "central_difference": lambda s, y, rng: lambda: numeric.central_difference(s, y),
        "sampled": lambda s, y, rng: (
            lambda: prepare_reference(s, y, method="auto", samples=CHECK_SAMPLES, rng=rng)
        ),
    }
    directional = getattr(numeric, "directional_derivative", None)
    if directional is not None:

        def prepare_directional(
            s: FloatArray, y: IntArray, rng: np.random.Generator
        ) -> Callable[[], object]:
            """Draw one unit direction; time the derivative of the float64 loss along it."""
            direction = rng.normal(size=s.shape)
            direction /= np.linalg.norm(direction)
            zero = np.zeros(s.shape)

            def loss(point: FloatArray) -> float:
                """Return the float64 softmax loss at ``point``."""
                return numeric.reference_loss(point, y)

            return lambda: directional(loss, s, direction, zero, h=numeric.CENTRAL_STEP)

        methods["directional"] = prepare_directional
    return methods


def _calling(function: Implementation) -> Prepare:
    """Wrap an implementation as a `Prepare`: call it on the batch, check its output's shape."""

    def prepare(
        scores: FloatArray, labels: IntArray, _: np.random.Generator
    ) -> Callable[[], object]:
        """Return the call to time."""

        def call() -> object:
            """Call the implementation once; refuse an output that is not (loss, dscores)."""
            output = function(scores, labels)
            if not (isinstance(output, tuple) and len(output) == 2):
                raise TypeError(f"returned {type(output).__name__}, not (loss, dscores)")
            if np.shape(output[1]) != scores.shape:
                raise TypeError(f"returned dscores of shape {np.shape(output[1])}")
            return output

        return call

    return prepare


def _time_cell(
    prepare: Prepare,
    scores: FloatArray,
    labels: IntArray,
    rng: np.random.Generator,
    points: list[Point],
    repeat: int,
    budget: float,
    estimate: bool,
) -> _Cell:
    """Time one callable at one size, or estimate or skip it; add to its points when measured."""
    n, c = scores.shape
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # bench times; `gradcheck run` judges
            basis = list(points)
            # Nothing measured with this many classes: one call on a few rows of this size
            # tells the per-row cost from the per-entry cost (for `rows`, they differ 100×).
            if n * c > PROBE_ENTRIES and c not in {p.C for p in basis}:
                rows = max(1, PROBE_ENTRIES // c)
                probe = _run(prepare(scores[:rows], labels[:rows], rng), 1, budget)
                basis.append(Point(rows, c, probe.median, probe=True))
            if basis:
                predicted, source = predict(basis, n, c)
                if predicted * (1 + MIN_RUNS) > budget:
                    if estimate:
                        note = f"estimated from {source}"
                        return _Cell("estimated", median=predicted, note=note)
                    over = f"skipped: over the {budget:g} s budget ({predicted:.3g} s a call)"
                    return _Cell("skipped", note=over)
            timing = _run(prepare(scores, labels, rng), repeat, budget)
    except Exception as exc:  # noqa: BLE001 - a callable that fails is reported, not fatal
        return _Cell("skipped", note=f"skipped: raised {type(exc).__name__}: {exc}".splitlines()[0])
    points.append(Point(n, c, timing.median))
    return _Cell("measured", timing=timing, median=timing.median)


def _run(call: Callable[[], object], repeat: int, budget: float) -> Timing:
    """Warm up, then time up to ``repeat`` calls; stop when the next would overrun ``budget``."""
    times: list[float] = []
    collecting = gc.isenabled()
    gc.disable()  # as timeit does: a collection mid-call is noise, not the implementation's cost
    try:
        start = time.perf_counter()
        call()
        spent = time.perf_counter() - start
        while len(times) < repeat:
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
            spent += times[-1]
            if spent + times[-1] > budget:
                break
    finally:
        if collecting:
            gc.enable()
    return _timing(times)


def _timing(times: Sequence[float]) -> Timing:
    """Summarize call times: median, min, interquartile range, max."""
    low, median, high = np.percentile(times, [25, 50, 75])
    return Timing(float(median), min(times), float(high - low), max(times), len(times))


def _floor(scores: FloatArray, repeat: int) -> Floor:
    """Time the floor operations on ``scores``: exp (new array), copy, exp into a buffer."""
    buffer = np.empty_like(scores)
    n, c = scores.shape
    with np.errstate(all="ignore"):
        return Floor(
            N=n,
            C=c,
            exp=_run(lambda: np.exp(scores), repeat, np.inf),
            copy=_run(scores.copy, repeat, np.inf),
            exp_inplace=_run(lambda: np.exp(scores, out=buffer), repeat, np.inf),
        )


def _records(
    floor: Floor, cells: dict[str, _Cell], kinds: dict[str, Kind], dtype: str
) -> list[BenchRecord]:
    """Turn one size's cells into records: multiples of the floor and speed-ups."""
    baseline = next((b for b in ("loops", "rows") if cells.get(b, _Cell("skipped")).median), None)
    records = []
    for name, cell in cells.items():
        timing, median = cell.timing, cell.median
        speedup = None
        if baseline is not None and median and kinds[name] == "implementation":
            speedup = (cells[baseline].median or 0.0) / median
        records.append(
            BenchRecord(
                impl=name,
                kind=kinds[name],
                N=floor.N,
                C=floor.C,
                dtype=dtype,
                status=cell.status,
                median=median,
                min=timing.min if timing else None,
                iqr=timing.iqr if timing else None,
                max=timing.max if timing else None,
                runs=timing.runs if timing else 0,
                floor_exp=floor.exp.median,
                floor_copy=floor.copy.median,
                floor_exp_inplace=floor.exp_inplace.median,
                times_exp=median / floor.exp.median if median else None,
                times_copy=median / floor.copy.median if median else None,
                speedup=speedup,
                speedup_over=baseline if speedup is not None else None,
                note=cell.note,
            )
        )
    return records


def _validate(sizes: Sequence[Size], repeat: int, budget: float, dtype: str) -> None:
    """Check the arguments of `benchmark`; raise `InputError` naming the one that is wrong."""
    if not sizes or any(len(size) != 2 or min(size) < 1 for size in sizes):
        raise InputError("`sizes` must be a non-empty list of (N, C) with positive N and C.")
    if repeat < 1:
        raise InputError("`repeat` must be a positive integer.")
    if not budget > 0:
        raise InputError("`budget` must be a positive number of seconds.")
    if dtype not in DTYPES:
        raise InputError(f"`dtype` must be one of {', '.join(DTYPES)}.")


def _report(on_step: Progress | None, done: int, total: int, what: str) -> None:
    """Tell the progress callback, if any, what runs next."""
    if on_step is not None:
        on_step(done, total, what)


def _blas_name() -> str:
    """Name and version of the BLAS numpy was built with, as numpy reports it."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - numpy < 1.25 has no mode="dicts"; the name is cosmetic
        return "unknown"


CSV_COLUMNS = tuple(f.name for f in fields(BenchRecord))
"""The columns of `gradcheck bench --csv`: every field of a `BenchRecord`, in order."""
