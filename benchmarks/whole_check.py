"""Time a whole `gradcheck run` check (reference + judging) of every entry, per method and size."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from gradcheck_cli.checker import METHODS, Method, check_implementation, prepare_reference
from gradcheck_cli.softmax import stable


def median_seconds(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def whole_check(scores: np.ndarray, labels: np.ndarray, method: Method) -> None:
    reference = prepare_reference(scores, labels, method=method)
    result = check_implementation("stable", reference)
    assert result.verdict == "pass", result.reason


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="500x10,1000x100,10000x100,10000x1000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"numpy {np.__version__}, cpus {os.cpu_count()}, median of {args.repeat} runs")
    header = f"{'size':>10} | {'stable call':>11} | " + " | ".join(f"{m:>16}" for m in METHODS)
    print(header)
    print("-" * len(header))
    for size in args.sizes.split(","):
        n, c = (int(k) for k in size.split("x"))
        rng = np.random.default_rng(args.seed)
        scores = rng.normal(0.0, 2.0, size=(n, c))
        labels = rng.integers(0, c, size=n)
        floor = median_seconds(partial(stable, scores, labels), args.repeat)
        cells = []
        for method in METHODS:
            seconds = median_seconds(partial(whole_check, scores, labels, method), args.repeat)
            cells.append(f"{seconds:7.3f} s ({seconds / floor:4.0f}×)")
        print(f"{size:>10} | {floor * 1e3:8.2f} ms | " + " | ".join(cells))
    print("(×: multiple of one stable loss+gradient call on the same batch)")


if __name__ == "__main__":
    main()
