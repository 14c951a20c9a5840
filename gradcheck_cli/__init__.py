"""gradcheck: tell whether a softmax-loss gradient is right."""

from __future__ import annotations

from gradcheck_cli.bench import benchmark
from gradcheck_cli.checker import (
    CheckResult,
    assert_gradient_correct,
    check,
    check_all,
)
from gradcheck_cli.diagnose import Diagnosis
from gradcheck_cli.errors import GradcheckError, ImplementationError, InputError
from gradcheck_cli.linear import check_linear
from gradcheck_cli.net import check_net
from gradcheck_cli.numeric import (
    black_box_central_difference,
    central_difference,
    complex_step,
    directional_derivative,
    reference_loss,
)
from gradcheck_cli.plugins import load_implementation
from gradcheck_cli.softmax import IMPLEMENTATIONS, loops, rows, stable, vectorized

__version__ = "0.1.0"

__all__ = [
    "IMPLEMENTATIONS",
    "CheckResult",
    "Diagnosis",
    "GradcheckError",
    "ImplementationError",
    "InputError",
    "assert_gradient_correct",
    "benchmark",
    "black_box_central_difference",
    "central_difference",
    "check",
    "check_all",
    "check_linear",
    "check_net",
    "complex_step",
    "directional_derivative",
    "load_implementation",
    "loops",
    "reference_loss",
    "rows",
    "stable",
    "vectorized",
]
