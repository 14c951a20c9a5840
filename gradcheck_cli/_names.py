"""Names the command line needs while parsing, before numpy or rich is imported.

Each core module keeps its own copy where it belongs (`softmax.IMPLEMENTATIONS`,
`checker.METHODS`, ...); `tests/test_architecture.py` checks the two agree.
"""

from __future__ import annotations

BUILT_IN_IMPLEMENTATIONS = ("loops", "rows", "vectorized", "stable")
METHODS = ("auto", "central", "complex")
AGAINST = ("reference", "own")
BENCH_SIZES = ((500, 10), (1000, 100), (10000, 100), (10000, 1000))
BENCH_DTYPES = ("float64", "float32")
NET_BUILT_IN = "two_layer"
LINEAR_BUILT_IN = "linear"
LARGE_INPUT_BYTES = 256 * 2**20
"""A ``.npy`` scores file larger than this is checked block by block (`blockwise`)."""
