"""Write the shipped CIFAR-like example batch (500×10) as .npy and .csv, from a fixed seed."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def cifar_like_batch(
    rng: np.random.Generator, n: int = 500, c: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of a half-trained linear classifier: the right class a little ahead, on average."""
    labels = rng.integers(0, c, size=n)
    scores = rng.normal(0.0, 1.5, size=(n, c))
    scores[np.arange(n), labels] += rng.normal(1.0, 1.0, size=n)
    return scores, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--seed", type=int, default=231)
    args = parser.parse_args()
    scores, labels = cifar_like_batch(np.random.default_rng(args.seed))
    np.save(args.out / "scores.npy", scores)
    np.save(args.out / "labels.npy", labels)
    np.savetxt(args.out / "scores.csv", scores, delimiter=",", fmt="%.17g")
    np.savetxt(args.out / "labels.csv", labels, fmt="%d")


if __name__ == "__main__":
    main()
