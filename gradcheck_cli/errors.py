"""The domain exceptions; `cli` turns each into one line and exit code 2."""

from __future__ import annotations


class GradcheckError(Exception):
    """Base class of every error gradcheck raises on purpose."""


class InputError(GradcheckError):
    """A scores or labels file (or array) that cannot be used; the message names it."""


class ImplementationError(GradcheckError):
    """An implementation name or reference that cannot be resolved to a callable."""
