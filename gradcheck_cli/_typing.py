"""Array aliases and the implementation protocol, in one place."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating[Any]]
Float64Array = NDArray[np.float64]
IntArray = NDArray[np.intp]


class GradientImplementation(Protocol):
    """`f(scores, labels) -> (loss, dscores)`: the contract every implementation follows."""

    def __call__(self, scores: FloatArray, labels: IntArray, /) -> tuple[float, FloatArray]: ...
