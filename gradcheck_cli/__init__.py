"""gradcheck: tell whether a softmax-loss gradient is right.

The public names below are imported on first use (PEP 562), so that
``import gradcheck_cli`` — and with it ``gradcheck --help`` — does not pay
for numpy and the numerical core until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_HOME = {
    "IMPLEMENTATIONS": "softmax",
    "CheckResult": "checker",
    "Diagnosis": "diagnose",
    "GradcheckError": "errors",
    "ImplementationError": "errors",
    "InputError": "errors",
    "assert_gradient_correct": "checker",
    "benchmark": "bench",
    "black_box_central_difference": "numeric",
    "central_difference": "numeric",
    "check": "checker",
    "check_all": "checker",
    "check_linear": "linear",
    "check_net": "net",
    "complex_step": "numeric",
    "directional_derivative": "numeric",
    "load_implementation": "plugins",
    "loops": "softmax",
    "reference_loss": "numeric",
    "rows": "softmax",
    "stable": "softmax",
    "vectorized": "softmax",
}
"""Where each public name lives: ``gradcheck_cli.<module>``."""

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

if TYPE_CHECKING:
    from gradcheck_cli.bench import benchmark
    from gradcheck_cli.checker import CheckResult, assert_gradient_correct, check, check_all
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


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    if name not in _HOME:
        raise AttributeError(f"module 'gradcheck_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gradcheck_cli.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names with the module's own."""
    return sorted(set(globals()) | set(_HOME))
