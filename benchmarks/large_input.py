"""Peak memory and wall time of `gradcheck run --impl stable` on a 4 GB scores file.

Writes a seeded N×C float64 ``.npy`` (default 5,000,000×100, 4 GB) block by
block, never holding it whole, plus its labels; runs
``gradcheck run big.npy labels.npy --impl stable`` under ``/usr/bin/time -v``
and prints the wall time and the peak resident memory ("Maximum resident set
size"); then the same for the shipped 500×10 example as the yardstick (the
cost of Python, numpy and the report alone). The big file is deleted
afterwards unless ``--keep``. It is read from the page cache if it is still
there after being written (``--cold`` first asks the kernel to drop this
file's cached pages, so it is read from disk); the page cache is not part of
a process's resident memory either way.

    python benchmarks/large_input.py
    python benchmarks/large_input.py --rows 1000000 --keep --dir /tmp/gc
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TIME = "/usr/bin/time"
WRITE_ROWS = 100_000  # rows generated and written at a time: 80 MB at C = 100


def write_batch(directory: Path, rows: int, classes: int, seed: int) -> tuple[Path, Path]:
    """Write scores N(0, 2²) and uniform labels as .npy files, one slab of rows at a time."""
    rng = np.random.default_rng(seed)
    scores_path, labels_path = directory / "big_scores.npy", directory / "labels.npy"
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float64))}
    header |= {"fortran_order": False, "shape": (rows, classes)}
    with open(scores_path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for start in range(0, rows, WRITE_ROWS):
            rng.normal(0.0, 2.0, size=(min(WRITE_ROWS, rows - start), classes)).tofile(fh)
    np.save(labels_path, rng.integers(0, classes, size=rows))
    return scores_path, labels_path


def drop_cached_pages(path: Path) -> None:
    """Ask the kernel to drop this file's pages from the page cache (it is written out first)."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def measure(scores: Path, labels: Path) -> dict[str, str]:
    """Run `gradcheck run` under /usr/bin/time -v; return its wall time, peak RSS and verdict."""
    command = [TIME, "-v", sys.executable, "-m", "gradcheck_cli", "run", str(scores), str(labels)]
    command += ["--impl", "stable"]
    environment = os.environ | {"COLUMNS": "100", "NO_COLOR": "1"}
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, env=environment, check=False
    )
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    text = " ".join(done.stdout.split())  # the report, unwrapped
    said = re.search(r"(stable: checked block by block.*?)?(Summary: .*)", text)
    return {
        "exit": str(done.returncode),
        "wall": wall.group(1) if wall else "?",
        "peak_mb": f"{int(peak.group(1)) / 1024:.0f}" if peak else "?",
        "said": " ".join(g.strip() for g in said.groups() if g) if said else done.stderr[-800:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the big file")
    parser.add_argument("--cold", action="store_true", help="drop its cached pages before the run")
    args = parser.parse_args()
    if not Path(TIME).exists():
        sys.exit(f"{TIME} is needed (Debian: apt-get install time)")
    directory = Path(tempfile.mkdtemp(dir=args.dir, prefix="gradcheck-large-"))
    size = args.rows * args.classes * 8
    print(f"numpy {np.__version__}, cpus {os.cpu_count()}, python {sys.version.split()[0]}")
    if shutil.disk_usage(directory).free < 1.2 * size:
        shutil.rmtree(directory)
        sys.exit(f"{directory}: not enough free disk for {size / 1e9:.1f} GB")
    try:
        print(f"writing {args.rows}×{args.classes} float64 ({size / 1e9:.1f} GB) to {directory}")
        scores, labels = write_batch(directory, args.rows, args.classes, args.seed)
        if args.cold:
            drop_cached_pages(scores)
        large = measure(scores, labels)
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    small = measure(REPO / "examples/scores.npy", REPO / "examples/labels.npy")
    for name, shown, figures in (
        ("large" + (" cold" if args.cold else ""), scores.name, large),
        ("yardstick", "examples/scores.npy", small),
    ):
        print(
            f"{name:>10}: gradcheck run {shown} ... --impl stable: wall {figures['wall']}, "
            f"peak RSS {figures['peak_mb']} MB, exit {figures['exit']}"
        )
        print(f"            {figures['said']}")
    if "?" not in (large["peak_mb"], small["peak_mb"]):
        ratio = float(large["peak_mb"]) / float(small["peak_mb"])
        share = float(large["peak_mb"]) * 2**20 / size
        print(f"peak RSS: {ratio:.1f}× the yardstick's, {share:.1%} of the scores file's size")


if __name__ == "__main__":
    main()
