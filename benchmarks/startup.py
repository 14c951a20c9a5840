"""Time whole `gradcheck` processes: `--help` and `run` on the shipped example (median of N)."""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=False, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    gradcheck = shutil.which("gradcheck")
    if gradcheck is None:
        sys.exit("gradcheck is not installed: pip install .")
    example = [str(EXAMPLES / "scores.npy"), str(EXAMPLES / "labels.npy")]
    commands = {
        "python -c pass (the floor)": [sys.executable, "-c", "pass"],
        "gradcheck --help": [gradcheck, "--help"],
        "gradcheck run examples/scores.npy examples/labels.npy": [gradcheck, "run", *example],
    }
    floor = None
    for label, command in commands.items():
        seconds = median_seconds(command, args.runs)
        floor = floor or seconds
        print(f"{label:58s} {seconds:6.3f} s  ({seconds / floor:4.1f}× the floor)")
    print(f"median of {args.runs} runs each")


if __name__ == "__main__":
    main()
