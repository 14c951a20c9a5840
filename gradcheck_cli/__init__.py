"""gradcheck: tell whether a softmax-loss gradient is right."""

from __future__ import annotations

from gradcheck_cli.checker import (
    CheckResult,
    assert_gradient_correct,
    check,
    check_all,
)
from gradcheck_cli.errors import GradcheckError, ImplementationError, InputError
from gradcheck_cli.numeric import central_difference, complex_step, reference_loss
from gradcheck_cli.softmax import IMPLEMENTATIONS, loops, rows, stable, vectorized

__version__ = "0.1.0"

__all__ = [
    "IMPLEMENTATIONS",
    "CheckResult",
    "GradcheckError",
    "ImplementationError",
    "InputError",
    "assert_gradient_correct",
    "central_difference",
    "check",
    "check_all",
    "complex_step",
    "loops",
    "reference_loss",
    "rows",
    "stable",
    "vectorized",
]
