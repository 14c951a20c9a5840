"""Turn ``path/to/file.py:NAME`` or ``package.module:NAME`` into a checked callable.

A ``.py`` file is loaded under a module name of its own
(``gradcheck_user_<stem>_<hash>``, the hash of its path and source), so it
can neither shadow one of ours nor be shadowed by one. Its directory, and the
root of the package it belongs to (found by walking up the ``__init__.py``
chain: ``cs231n/classifiers/softmax.py`` has the root above ``cs231n/``), are
on ``sys.path`` while the file is imported and while its functions run, so
that it can import its sibling modules (``import helpers``) and its package
(``from cs231n.layers import *``) as it would in the user's notebook, even
from inside a function at call time; ``sys.path`` is restored after each
import and call. A ``package.module`` is imported normally (the current
directory is searched last, as ``python -m`` would search it first). Nothing
of the user's runs here except that import; the callable is only inspected,
never called.

Every problem is an `ImplementationError` whose one-line message names the
spec and the problem.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
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
_USER_PREFIX = "gradcheck_user_"
_WRAPPERS = "__gradcheck_path_keeping_wrappers__"
"""Where a user module keeps the wrappers made for it, so one spec gives one callable."""
_DISTRIBUTIONS = {
    "past": "future",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "pyyaml",
}
"""Modules whose pip distribution has another name: the hint a missing one gets."""


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
        The object ``NAME`` refers to; from a file, wrapped so that the
        file's folder and package root are on ``sys.path`` while it runs.

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
    name, function = load_object(spec)
    _check_signature(spec, function, arguments)
    return name, function


def load_object(spec: str) -> tuple[str, Any]:
    """Resolve ``FILE.py:NAME`` or ``package.module:NAME`` to a callable, without calling it.

    `load_implementation` without the signature check: for callers that
    decide themselves how the object is called (a class is constructed, then
    its ``loss`` method called). A function from a file comes back wrapped so
    that its package stays importable while it runs (the module docstring);
    a class comes back as it is, and `user_import_paths` gives the same
    context for constructing it and calling its methods.

    Parameters
    ----------
    spec : str
        As for `load_implementation`.

    Returns
    -------
    name : str
        For reports, as for `load_implementation`.
    obj : callable
        The function (wrapped) or class ``NAME`` refers to.

    Raises
    ------
    ImplementationError
        As for `load_implementation`, but never for the signature.
    """
    target, _, attribute = spec.rpartition(":")
    if not target or not attribute:
        raise ImplementationError(f"{spec}: expected FILE.py:NAME or package.module:NAME")
    if not _ATTRIBUTE_PATH.match(attribute):
        raise ImplementationError(f"{spec}: {attribute!r} is not a Python name")
    is_file = _looks_like_file(target)
    module = _load_file(spec, target) if is_file else _import(spec, target)
    found = _attribute(spec, module, attribute)
    if is_file and not inspect.isclass(found):
        found = _keeping_import_paths(module, attribute, found)
    return (f"{Path(target).name}:{attribute}" if is_file else spec), found


def package_root(directory: Path) -> Path:
    """Return the folder from which the package holding ``directory`` is importable.

    Walks up while the folder is a package (has an ``__init__.py``): for
    ``course/cs231n/classifiers`` with ``__init__.py`` files in ``cs231n`` and
    ``classifiers`` that is ``course``. A folder that is no package is its own root.
    """
    root = directory
    while (root / "__init__.py").is_file() and root.parent != root:
        root = root.parent
    return root


def _import_paths(path: Path) -> tuple[str, ...]:
    """Return the folders a user file needs on ``sys.path``: its own, then its package root."""
    return tuple(dict.fromkeys((str(path.parent), str(package_root(path.parent)))))


@contextlib.contextmanager
def user_import_paths(obj: Any) -> Iterator[None]:
    """Keep the folders a user file's ``obj`` imports from on ``sys.path`` for the duration.

    For objects of a file loaded by `load_object` (a class, say: its
    constructor and methods may import at call time); anything else runs
    unchanged. ``sys.path`` is restored afterwards.
    """
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    if module is None or file is None or not module.__name__.startswith(_USER_PREFIX):
        yield
        return
    with _search_paths(_import_paths(Path(file))):
        yield


def _keeping_import_paths(module: ModuleType, attribute: str, function: Any) -> Any:
    """Wrap ``function`` so its file's folders are on ``sys.path`` during each call.

    Imports inside a function run when it is called, long after the file was
    imported; without its package root on ``sys.path`` then, ``from cs231n.layers
    import *`` in a function body would fail. The wrapper is kept on the module,
    so loading one spec twice gives the same callable.
    """
    wrappers = module.__dict__.setdefault(_WRAPPERS, {})
    if attribute not in wrappers:
        paths = _import_paths(Path(str(module.__file__)))

        @functools.wraps(function)
        def keeping_paths(*args: Any, **kwargs: Any) -> Any:
            # Plain calls, not a context manager: this runs once per call of a timed function.
            added = _add_search_paths(paths)
            try:
                return function(*args, **kwargs)
            finally:
                _remove_search_paths(added)

        wrappers[attribute] = keeping_paths
    return wrappers[attribute]


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
    name = f"{_USER_PREFIX}{stem}_{digest}"
    if name in sys.modules:  # the same file, unchanged: it was imported already
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:  # pragma: no cover - .py always loads
        raise ImplementationError(f"{spec}: cannot load {target!r} as a module")
    module = importlib.util.module_from_spec(module_spec)
    # Registered while it runs: dataclasses and pickle look modules up by name.
    sys.modules[name] = module
    try:
        with _search_paths(_import_paths(resolved)), user_output_to_stderr():
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
def _search_paths(directories: tuple[str, ...]) -> Iterator[None]:
    """Put ``directories`` first on ``sys.path``, in this order, for the duration."""
    added = _add_search_paths(directories)
    try:
        yield
    finally:
        _remove_search_paths(added)


def _add_search_paths(directories: tuple[str, ...]) -> list[str]:
    """Put the ``directories`` not yet on ``sys.path`` first on it; return those added."""
    added = [directory for directory in directories if directory not in sys.path]
    sys.path[0:0] = added
    return added


def _remove_search_paths(added: list[str]) -> None:
    """Take ``added`` off ``sys.path`` again (user code may have removed them itself)."""
    for directory in added:
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
        return f"{prefix} importing {target} failed: {missing_module(exc)}"
    if isinstance(exc, SystemExit):
        return (
            f"{prefix} importing {target} called sys.exit({exc.code!r}) "
            "(guard script code with `if __name__ == '__main__':`)"
        )
    frames = _user_frames(exc)
    where = f" at {Path(frames[-1].filename).name}, line {frames[-1].lineno}" if frames else ""
    message = " ".join(str(exc).split())
    kind = type(exc).__name__
    return f"{prefix} importing {target} raised {kind}{where}: {message}".rstrip(": ")


def missing_module(exc: ModuleNotFoundError) -> str:
    """Describe a missing module on one line: its name, where the user's code imported it.

    Examples
    --------
    >>> missing_module(ModuleNotFoundError("No module named 'past'", name="past"))
    "no module named 'past' (pip install future provides it)"
    """
    frames = _user_frames(exc)
    notes = [f"imported at {Path(f.filename).name}, line {f.lineno}" for f in frames[-1:]]
    top = (exc.name or "").partition(".")[0]
    if top in _DISTRIBUTIONS:
        notes.append(f"pip install {_DISTRIBUTIONS[top]} provides it")
    return f"no module named {exc.name!r}" + (f" ({'; '.join(notes)})" if notes else "")


def _user_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """Return the frames of ``exc`` in the user's code: neither frozen importlib nor ours."""
    return [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<frozen") and _PACKAGE_DIR not in frame.filename
    ]


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
