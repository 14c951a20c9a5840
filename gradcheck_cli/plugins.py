"""Turn ``path/to/file.py:NAME`` or ``package.module:NAME`` into a checked callable.

A ``.py`` file is loaded under a module name of its own
(``gradcheck_user_<stem>_<hash>``, the hash of its path and source), so it
can neither shadow one of ours nor be shadowed by one; its directory is on
``sys.path`` only while the file is being imported, so that it can import its
sibling modules as it would when run as a script. A ``package.module`` is
imported normally (the current directory is searched last, as ``python -m``
would search it first). Nothing of the user's runs here except that import;
the callable is only inspected, never called.

Every problem is an `ImplementationError` whose one-line message names the
spec and the problem.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from gradcheck_cli.errors import ImplementationError

_MODULE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_ATTRIBUTE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def is_plugin_spec(text: str) -> bool:
    """Return True for a user implementation spec: anything with a ``:`` in it.

    Built-in implementation names (``"stable"``, ``"loops"``, ...) have none.

    Examples
    --------
    >>> is_plugin_spec("my_softmax.py:softmax_loss"), is_plugin_spec("stable")
    (True, False)
    """
    return ":" in text


def load_implementation(
    spec: str, *, arguments: tuple[str, ...] = ("scores", "labels")
) -> tuple[str, Callable[..., Any]]:
    """Resolve ``FILE.py:NAME`` or ``package.module:NAME`` to ``(display name, callable)``.

    Parameters
    ----------
    spec : str
        ``path/to/file.py:NAME`` (relative to the current directory, or
        absolute) or ``package.module:NAME`` (importable). ``NAME`` may be
        dotted (``Class.method``).
    arguments : tuple of str
        The positional arguments the callable will be given; their number is
        checked against its signature, and their names appear in the message
        when it does not fit.

    Returns
    -------
    name : str
        For reports: ``file.py:NAME`` (the file's name without its
        directory) or the ``package.module:NAME`` spec as given.
    function : callable
        The object ``NAME`` refers to.

    Raises
    ------
    ImplementationError
        One line naming the spec and the problem: no such file, not a
        ``.py`` file, a syntax error (file, line, message), an import error
        inside the module (naming the missing module), no such name, not
        callable, or a signature that cannot take ``len(arguments)``
        positional arguments.

    Examples
    --------
    >>> name, function = load_implementation("gradcheck_cli.softmax:stable")
    >>> name, function.__name__
    ('gradcheck_cli.softmax:stable', 'stable')
    """
    target, _, attribute = spec.rpartition(":")
    if not target or not attribute:
        raise ImplementationError(f"{spec}: expected FILE.py:NAME or package.module:NAME")
    if not _ATTRIBUTE_PATH.match(attribute):
        raise ImplementationError(f"{spec}: {attribute!r} is not a Python name")
    is_file = _looks_like_file(target)
    module = _load_file(spec, target) if is_file else _import(spec, target)
    function = _attribute(spec, module, attribute)
    _check_signature(spec, function, arguments)
    return (f"{Path(target).name}:{attribute}" if is_file else spec), function


def _looks_like_file(target: str) -> bool:
    """Whether ``target`` names a file rather than a dotted module path."""
    is_module_path = _MODULE_PATH.match(target) is not None
    return target.endswith(".py") or not is_module_path or Path(target).is_file()


def _load_file(spec: str, target: str) -> ModuleType:
    """Import the file ``target`` under a module name of its own."""
    path = Path(target).expanduser()
    if not path.exists():
        raise ImplementationError(f"{spec}: no such file {target!r}")
    if path.is_dir():
        raise ImplementationError(f"{spec}: {target!r} is a directory, not a .py file")
    if path.suffix != ".py":
        raise ImplementationError(f"{spec}: {target!r} is not a .py file")
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ImplementationError(f"{spec}: cannot read {target!r}: {exc.strerror}") from None
    resolved = path.resolve()
    digest = hashlib.sha256(str(resolved).encode() + b"\0" + source).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    name = f"gradcheck_user_{stem}_{digest}"
    if name in sys.modules:  # the same file, unchanged: it was imported already
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:  # pragma: no cover - .py always loads
        raise ImplementationError(f"{spec}: cannot load {target!r} as a module")
    module = importlib.util.module_from_spec(module_spec)
    # Registered while it runs: dataclasses and pickle look modules up by name.
    sys.modules[name] = module
    try:
        with _search_path(str(resolved.parent), first=True), user_output_to_stderr():
            module_spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ImplementationError(_import_problem(spec, target, exc)) from None
    return module


def _import(spec: str, target: str) -> ModuleType:
    """Import the dotted module ``target`` as Python would."""
    try:
        # Console scripts, unlike `python -m`, leave the current directory off sys.path;
        # search it last, so that nothing installed can be shadowed by it.
        with _search_path(os.getcwd(), first=False), user_output_to_stderr():
            return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (target == missing or target.startswith(missing + ".")):
            raise ImplementationError(
                f"{spec}: no module named {missing!r} (give a file as path/to/file.py:NAME)"
            ) from None
        raise ImplementationError(_import_problem(spec, target, exc)) from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ImplementationError(_import_problem(spec, target, exc)) from None


@contextlib.contextmanager
def _search_path(directory: str, *, first: bool) -> Iterator[None]:
    """Put ``directory`` on ``sys.path`` for the duration, unless it is there already."""
    if directory in sys.path:
        yield
        return
    if first:
        sys.path.insert(0, directory)
    else:
        sys.path.append(directory)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)


@contextlib.contextmanager
def user_output_to_stderr() -> Iterator[None]:
    """Send what user code prints to stderr: stdout belongs to the report (or the JSON)."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _import_problem(spec: str, target: str, exc: BaseException) -> str:
    """Describe, on one line, why importing ``target`` failed."""
    prefix = f"{spec}:"
    if isinstance(exc, SyntaxError):
        where = Path(exc.filename).name if exc.filename else target
        line = f", line {exc.lineno}" if exc.lineno else ""
        return f"{prefix} syntax error in {where}{line}: {exc.msg}"
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return f"{prefix} importing {target} failed: no module named {exc.name!r}"
    if isinstance(exc, SystemExit):
        return (
            f"{prefix} importing {target} called sys.exit({exc.code!r}) "
            "(guard script code with `if __name__ == '__main__':`)"
        )
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<frozen") and _PACKAGE_DIR not in frame.filename
    ]
    where = f" at {Path(frames[-1].filename).name}, line {frames[-1].lineno}" if frames else ""
    message = " ".join(str(exc).split())
    kind = type(exc).__name__
    return f"{prefix} importing {target} raised {kind}{where}: {message}".rstrip(": ")


def _attribute(spec: str, module: ModuleType, attribute: str) -> Any:
    """Follow the dotted ``attribute`` from ``module``; say what exists when it does not."""
    target = spec.rpartition(":")[0]
    found: Any = module
    parts = attribute.split(".")
    for depth, part in enumerate(parts):
        if not hasattr(found, part):
            owner = target if depth == 0 else f"{target}:{'.'.join(parts[:depth])}"
            hint = _suggestion(found, part)
            raise ImplementationError(f"{spec}: {owner} has no name {part!r}{hint}")
        found = getattr(found, part)
    if not callable(found):
        raise ImplementationError(
            f"{spec}: {attribute!r} is not callable (it is of type {type(found).__name__})"
        )
    return found


def _suggestion(owner: Any, missing: str) -> str:
    """Return ``" (did you mean 'x'?)"`` for a close callable name, or list the callables."""
    names = [
        name
        for name, value in getattr(owner, "__dict__", {}).items()
        if callable(value) and not name.startswith("_") and not inspect.ismodule(value)
    ]
    close = difflib.get_close_matches(missing, names, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if names:
        shown = ", ".join(sorted(names)[:6]) + (", ..." if len(names) > 6 else "")
        return f" (it defines {shown})"
    return ""


def _check_signature(spec: str, function: Any, arguments: tuple[str, ...]) -> None:
    """Raise unless ``function`` can be called with ``len(arguments)`` positional arguments."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have no signature: let the call decide
        return
    try:
        signature.bind(*([None] * len(arguments)))
    except TypeError:
        takes = f"({', '.join(signature.parameters)})"
        raise ImplementationError(
            f"{spec} {_takes(signature)} {takes}; expected f({', '.join(arguments)})"
        ) from None


def _takes(signature: inspect.Signature) -> str:
    """Say how many positional arguments ``signature`` takes, and what else it requires."""
    kinds = inspect.Parameter
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is p.empty]
    keyword_only = [
        p.name
        for p in signature.parameters.values()
        if p.kind is kinds.KEYWORD_ONLY and p.default is p.empty
    ]
    if keyword_only:
        names = ", ".join(repr(name) for name in keyword_only)
        return f"requires keyword-only argument{'s' if len(keyword_only) > 1 else ''} {names}"
    low, high = len(required), len(positional)
    count = f"{low}" if low == high else f"{low} to {high}"
    return f"takes {count} positional argument{'' if count == '1' else 's'}"
