"""Show the wall time of a full gradient check: naive, column grouping, and gradcheck's O(N·C)."""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from gradcheck_cli import numeric, softmax
from gradcheck_cli._typing import Float64Array, IntArray

H = 1e-5  # the step of the baselines (a) and (b), as in CS231n
TOLERANCE = 1e-6  # max |difference| allowed, relative to max |gradient|
PILOT = 20  # entries of (a) timed first, to verify it and estimate its cost
SAMPLE_SECONDS = 2.0  # how long a sampled run of (a) should take


def row_losses(s: Float64Array, y: IntArray) -> Float64Array:
    """Per-row losses by a plain max-shifted logsumexp over the whole batch."""
    shifted = s - np.max(s, axis=1, keepdims=True)
    losses: Float64Array = np.log(np.sum(np.exp(shifted), axis=1)) - shifted[np.arange(len(y)), y]
    return losses


def naive(s: Float64Array, y: IntArray, entries: IntArray) -> Float64Array:
    """Difference the full mean loss centrally, entry by entry, 2 evaluations each: (a)."""
    work = s.copy()
    flat = work.reshape(-1)
    result = np.empty(len(entries))
    for k, e in enumerate(entries):
        old = flat[e]
        flat[e] = old + H
        plus = float(np.mean(row_losses(work, y)))
        flat[e] = old - H
        minus = float(np.mean(row_losses(work, y)))
        flat[e] = old
        result[k] = (plus - minus) / (2 * H)
    return result


def column_grouping(s: Float64Array, y: IntArray) -> Float64Array:
    """Perturb a whole column at once, each row loss a full logsumexp, O(N·C²) in all: (b)."""
    work = s.copy()
    gradient = np.empty_like(s)
    for b in range(s.shape[1]):
        old = s[:, b]
        work[:, b] = old + H
        plus = row_losses(work, y)
        work[:, b] = old - H
        minus = row_losses(work, y)
        work[:, b] = old
        gradient[:, b] = (plus - minus) / (2 * H)
    gradient /= s.shape[0]
    return gradient


def median_time(run: Callable[[], object]) -> float:
    """Median wall time of ``run``: repeat until ~1 s or 7 runs, at least 3."""
    times: list[float] = []
    while len(times) < 3 or (len(times) < 7 and sum(times) < 1.0):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def verify(label: str, size: str, got: Float64Array, reference: Float64Array, scale: float) -> str:
    """Return "agree" with the relative difference, or abort if ``got`` is off."""
    difference = float(np.max(np.abs(got - reference))) / scale
    if not difference < TOLERANCE:
        sys.exit(f"abort: {label} disagrees with complex_step at {size}: {difference:.2e}")
    return f"{label} agree ({difference:.1e})"


def time_naive(
    s: Float64Array, y: IntArray, reference: Float64Array, budget: float, seed: int, size: str
) -> tuple[float, int, str]:
    """Verify (a) on a pilot, time it on all entries or a sample: (seconds, entries, note)."""
    total = s.size
    order = np.random.default_rng(seed + 1).permutation(total).astype(np.intp)
    scale = float(np.max(np.abs(reference)))
    pilot = order[: min(PILOT, total)]
    start = time.perf_counter()
    values = naive(s, y, pilot)
    per_entry = (time.perf_counter() - start) / len(pilot)
    verify("(a)", size, values, reference.reshape(-1)[pilot], scale)  # aborts if off
    count = total
    if per_entry * total > budget:
        count = min(total, max(PILOT, math.ceil(SAMPLE_SECONDS / per_entry)))
    start = time.perf_counter()
    values = naive(s, y, order[:count])
    elapsed = time.perf_counter() - start
    note = verify("(a)", size, values, reference.reshape(-1)[order[:count]], scale)
    return elapsed * total / count, count, f"{note} on {count:,} entries"


def fast_methods(s: Float64Array, y: IntArray) -> dict[str, Callable[[], object]]:
    """Methods (b) to (e), each returning its gradient of ``s``."""
    return {
        "(b)": lambda: column_grouping(s, y),
        "(c)": lambda: numeric.central_difference(s, y).gradient,
        "(d)": lambda: numeric.complex_step(s, y),
        "(e)": lambda: softmax.stable(s, y)[1],
    }


def duration(seconds: float) -> str:
    """Format a duration with a readable unit."""
    if seconds >= 100:
        return f"{seconds:,.0f} s" + (f" ({seconds / 3600:.2g} h)" if seconds >= 3600 else "")
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def times(ratio: float) -> str:
    """Format a ratio as a multiple."""
    return f"{float(f'{ratio:.3g}'):,.0f}×" if ratio >= 100 else f"{ratio:.3g}×"


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """Parse "500x10,1000x100" into [(500, 10), (1000, 100)]."""
    pairs = [item.strip().lower().split("x") for item in text.split(",") if item.strip()]
    return [(int(n), int(c)) for n, c in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="500x10,1000x100,10000x100", help="NxC,NxC,...")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds (a) may take")
    args = parser.parse_args()

    print(f"python {platform.python_version()}, numpy {np.__version__}, cpus {os.cpu_count()}")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        print(f"{name}={os.environ.get(name, '(not set)')}")
    print(f"seed {args.seed}, budget for (a) {args.budget:g} s, step h = {H:g} for (a) and (b)\n")

    header = ["size", "naive (a)", "column grouping (b)", "gradcheck central (c)"]
    header += ["gradcheck complex (d)", "stable call (e)", "(c) vs (a)", "(c) vs (b)"]
    rows: list[list[str]] = []
    footnotes: list[str] = []
    for n, c in parse_sizes(args.sizes):
        size = f"{n}x{c}"
        rng = np.random.default_rng(args.seed)
        s = rng.normal(0.0, 2.0, size=(n, c))
        y = rng.integers(0, c, size=n).astype(np.intp)
        reference = numeric.complex_step(s, y)
        scale = float(np.max(np.abs(reference)))
        methods = fast_methods(s, y)
        notes = [
            verify(label, size, np.asarray(run(), dtype=np.float64), reference, scale)
            for label, run in methods.items()
            if label != "(d)"  # (d) is the reference
        ]
        naive_seconds, timed, naive_note = time_naive(s, y, reference, args.budget, args.seed, size)
        print(f"{size}: {naive_note}; " + "; ".join(notes))
        t = {label: median_time(run) for label, run in methods.items()}
        t["(a)"] = naive_seconds
        prefix = ""
        if timed < s.size:
            prefix = "~"
            footnotes.append(
                f"~ {size}: (a) extrapolated linearly from {timed:,} of {s.size:,} entries"
                f" timed ({duration(naive_seconds * timed / s.size)})"
            )
        cells = [size, f"{prefix}{duration(t['(a)'])} ({prefix}{times(t['(a)'] / t['(e)'])})"]
        cells += [f"{duration(t[k])} ({times(t[k] / t['(e)'])})" for k in ("(b)", "(c)", "(d)")]
        cells += [duration(t["(e)"]), prefix + times(t["(a)"] / t["(c)"])]
        cells.append(times(t["(b)"] / t["(c)"]))
        rows.append(cells)

    print("\nwall time of a full check of all N·C entries (multiple of one stable call)")
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)))
    for note in footnotes:
        print(note)
    print("agreement with (d): max |difference| / max |gradient| in parentheses, 1e-6 allowed")


if __name__ == "__main__":
    main()
