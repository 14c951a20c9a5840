"""Read the user's scores (N×C) and labels (N) from .npy, .npz or text files, and validate them."""

from __future__ import annotations

import os
import sys
import tokenize
import warnings
import zipfile
import zlib
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gradcheck_cli._typing import FloatArray, IntArray
from gradcheck_cli.errors import InputError

STDIN = "-"
_STDIN_NAME = "<stdin>"
_TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
_USE = "use .npy, .npz, .csv, .txt or .tsv"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"
_KEPT_FLOATS = (np.float16, np.float32, np.float64)
_MAX_CELL = 30
# np.load raises a wide, version-dependent set of exceptions on malformed input: the header is
# a Python literal (ast, tokenize), archives go through zipfile and zlib, and RuntimeError covers
# RecursionError and unknown zip compression methods. Each one means "unusable file".
_BASIC_ERRORS = (ValueError, TypeError, KeyError, EOFError, OSError, RuntimeError, MemoryError)
_PARSER_ERRORS = (SyntaxError, tokenize.TokenError, OverflowError, zipfile.BadZipFile, zlib.error)
_READ_ERRORS = _BASIC_ERRORS + _PARSER_ERRORS


def load_scores(path: str | os.PathLike[str]) -> FloatArray:
    """Load and validate an (N, C) scores matrix from a file, or from stdin if `path` is ``-``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy``, ``.npz`` (array ``scores``, or its only array), ``.csv``, ``.txt`` or
        ``.tsv`` file; ``-`` reads CSV text from standard input.

    Returns
    -------
    FloatArray, shape (N, C)
        A new C-contiguous array: float16/32/64 kept, integers promoted to float64.

    Raises
    ------
    InputError
        If the file cannot be read or its contents are not finite real (N, C) scores.
    """
    return _validate_scores(_read_array(path, "scores"), _display(path))


def load_labels(path: str | os.PathLike[str]) -> IntArray:
    """Load N integer class labels from a file, or from stdin if `path` is ``-``.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy``, ``.npz`` (array ``labels``, or its only array) or text file holding
        shape (N,) or (N, 1); ``-`` reads CSV text from standard input.

    Returns
    -------
    IntArray, shape (N,)
        A new ``np.intp`` array; not yet checked against the number of classes.

    Raises
    ------
    InputError
        If the file cannot be read or its contents are not integer labels.
    """
    return _validate_labels(_read_array(path, "labels"), _display(path))


def load_inputs(
    scores_path: str | os.PathLike[str], labels_path: str | os.PathLike[str] | None = None
) -> tuple[FloatArray, IntArray]:
    """Load scores and labels, then check them against each other with `validate_inputs`.

    Parameters
    ----------
    scores_path : str or os.PathLike
        The scores file (see `load_scores`), or ``-`` for standard input.
    labels_path : str or os.PathLike, optional
        The labels file (see `load_labels`), or ``-``. If omitted, `scores_path` must be an
        ``.npz`` holding both a ``scores`` and a ``labels`` array.

    Returns
    -------
    scores : FloatArray, shape (N, C)
    labels : IntArray, shape (N,)
        Every label is in ``[0, C)``.

    Raises
    ------
    InputError
        If either input is unusable, labels are missing, both inputs are ``-``, or the
        two do not fit together.
    """
    scores_name = _display(scores_path)
    if labels_path is None:
        if os.path.splitext(os.fspath(scores_path))[1].lower() != ".npz":
            problem = "labels are missing (give a labels file, or one .npz holding both)"
            raise _error(scores_name, problem)
        raw_scores = _read_array(scores_path, "scores", exact=True)
        raw_labels = _read_array(scores_path, "labels", exact=True)
        labels_name = scores_name
    else:
        labels_name = _display(labels_path)
        if os.fspath(scores_path) == STDIN and os.fspath(labels_path) == STDIN:
            raise _error(_STDIN_NAME, "only one of scores and labels can be read from stdin")
        raw_scores = _read_array(scores_path, "scores")
        raw_labels = _read_array(labels_path, "labels")
    return validate_inputs(raw_scores, raw_labels, scores_name=scores_name, labels_name=labels_name)


def validate_inputs(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    scores_name: str = "scores",
    labels_name: str = "labels",
) -> tuple[FloatArray, IntArray]:
    """Check scores and labels arrays and return clean copies; the inputs are never modified.

    Parameters
    ----------
    scores : array_like, shape (N, C)
        Finite real numbers, N >= 1 and C >= 2. float16/32/64 keep their dtype; integers
        become float64; bool, complex, object and string data are refused.
    labels : array_like, shape (N,) or (N, 1)
        Integers, or floats with integral values, each in ``[0, C)``.
    scores_name, labels_name : str, optional
        What error messages call each input (a file name, say).

    Returns
    -------
    scores : FloatArray, shape (N, C)
        A new C-contiguous array.
    labels : IntArray, shape (N,)
        A new C-contiguous ``np.intp`` array.

    Raises
    ------
    InputError
        With a one-line message ``"<name>: <problem>"`` naming the first problem found.

    Examples
    --------
    >>> s, y = validate_inputs([[1, 2], [3, 4]], [1.0, 0.0])
    >>> s.dtype, y.tolist()
    (dtype('float64'), [1, 0])
    """
    checked_scores = _validate_scores(scores, scores_name)
    checked_labels = _validate_labels(labels, labels_name)
    n, c = checked_scores.shape
    if c == 1:
        # With one class every probability is 1: the loss is 0 and so is every gradient
        # entry, whatever the implementation does with the scores. Nothing to check.
        problem = "scores have 1 class; the softmax loss needs at least 2 (with one it is 0)"
        raise _error(scores_name, problem)
    if checked_labels.shape[0] != n:
        problem = f"has {checked_labels.shape[0]} labels but {scores_name} has {n} rows"
        raise _error(labels_name, problem)
    bad = np.flatnonzero((checked_labels < 0) | (checked_labels >= c))
    if bad.size:
        row = int(bad[0])
        more = f" ({bad.size} labels are out of range)" if bad.size > 1 else ""
        problem = f"label {checked_labels[row]} at row {row} is out of range [0, {c})"
        raise _error(labels_name, f"{problem} for {c} classes{more}")
    return checked_scores, checked_labels


def _validate_scores(scores: ArrayLike, name: str) -> FloatArray:
    """Return a C-contiguous float copy of finite, real, non-empty 2-D scores."""
    array = _as_array(scores, name)
    if array.ndim != 2:
        raise _error(name, f"scores must be a 2-D (N, C) array, got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        problem = f"scores need at least one row and one column, got shape {array.shape}"
        raise _error(name, problem)
    dtype = array.dtype
    if dtype.kind in "iu":
        result: FloatArray = array.astype(np.float64, order="C")
    elif dtype.type in _KEPT_FLOATS:
        # Native byte order is the same precision; only the dtype's size is part of the contract.
        result = np.array(array, dtype=dtype.newbyteorder("="), order="C", copy=True)
    else:
        problem = f"scores have dtype {dtype}; they must be integers, float16, float32 or float64"
        raise _error(name, problem)
    bad = np.flatnonzero(~np.isfinite(result))
    if bad.size:
        row, col = divmod(int(bad[0]), result.shape[1])
        first = f"{float(result[row, col])} at row {row}, column {col}"
        raise _error(name, f"{bad.size} non-finite score(s); the first is {first}")
    return result


def _validate_labels(labels: ArrayLike, name: str) -> IntArray:
    """Return a C-contiguous 1-D intp copy of integer (or integral float) labels."""
    array = _as_array(labels, name)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise _error(name, f"labels must have shape (N,) or (N, 1), got shape {array.shape}")
    kind = array.dtype.kind
    if kind == "f":
        bad = np.flatnonzero(~np.isfinite(array) | (array != np.round(array)))
        if bad.size:
            row = int(bad[0])
            raise _error(name, f"label {float(array[row])} at row {row} is not an integer")
        bound = 2.0 ** (np.iinfo(np.intp).bits - 1)  # floats compare against intp max inexactly
        too_big = (array >= bound) | (array < -bound)
    elif kind in "iu":
        info = np.iinfo(np.intp)
        too_big = (array > info.max) | (array < info.min)
    else:
        raise _error(name, f"labels have dtype {array.dtype}; they must be integer class indices")
    if too_big.any():
        row = int(np.argmax(too_big))
        raise _error(name, f"label {array[row]} at row {row} is too large to be a class index")
    return array.astype(np.intp, order="C")


def _as_array(data: ArrayLike, name: str) -> NDArray[Any]:
    """Turn array_like data into an ndarray, reporting ragged nesting as an InputError."""
    try:
        return np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise _error(name, f"cannot be turned into an array ({exc})") from exc


def _read_array(path: str | os.PathLike[str], key: str, *, exact: bool = False) -> NDArray[Any]:
    """Read one raw array from a user's file, stdin, or an .npz member named `key`."""
    fspath, name = os.fspath(path), _display(path)
    if fspath == STDIN:
        return _parse_text(_read_stdin(), name)
    suffix = os.path.splitext(fspath)[1].lower()
    if os.path.isdir(fspath):  # checked first: opening one fails differently on each OS
        raise _error(name, "is a directory, not a file")
    if suffix not in (".npy", ".npz", *_TEXT_SUFFIXES):
        what = f"'{suffix}'" if suffix else "(no extension)"
        raise _error(name, f"unsupported file type {what} ({_USE})")
    try:
        with open(fspath, "rb") as fh:
            if suffix in _TEXT_SUFFIXES:
                return _parse_text(fh.read(), name)
            return _load_numpy(fh, name, suffix, key, exact=exact)
    except FileNotFoundError as exc:
        raise _error(name, "no such file") from exc
    except PermissionError as exc:
        raise _error(name, "cannot be read: permission denied") from exc
    except OSError as exc:
        raise _error(name, f"cannot be read: {exc.strerror or exc}") from exc


def _read_stdin() -> bytes:
    """Read all of standard input as bytes."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise _error(_STDIN_NAME, "standard input is not available")
    try:
        data: bytes = stream.read()
    except OSError as exc:
        raise _error(_STDIN_NAME, f"cannot be read: {exc.strerror or exc}") from exc
    return data


def _load_numpy(fh: BinaryIO, name: str, suffix: str, key: str, *, exact: bool) -> NDArray[Any]:
    """Load a .npy array, or the member `key` (or the only member) of a .npz, never unpickling."""
    head = fh.read(len(_NPY_MAGIC))
    if not head:
        raise _error(name, "is empty")
    magic = _NPY_MAGIC if suffix == ".npy" else _ZIP_MAGIC
    if not head.startswith(magic):  # np.load would blame pickled data for any foreign bytes
        raise _error(name, f"is not a {suffix} file (it does not start like one)")
    fh.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. Python 2 headers: they still load correctly
            if suffix == ".npy":
                array: NDArray[Any] = np.load(fh, allow_pickle=False)
                return array
            with np.load(fh, allow_pickle=False) as archive:
                found = list(archive.files)
                if key in found or (len(found) == 1 and not exact):
                    member: NDArray[Any] = archive[key if key in found else found[0]]
                    return member
    except _READ_ERRORS as exc:
        if "allow_pickle" in str(exc):
            raise _error(name, "object arrays are refused (pickled data is never loaded)") from exc
        raise _error(name, f"is not a valid {suffix} file (truncated or corrupt: {exc})") from exc
    listed = ", ".join(repr(k) for k in found) or "none"
    raise _error(name, f"has no array named '{key}' (arrays found: {listed})")


def _parse_text(data: bytes, name: str) -> NDArray[np.float64]:
    """Parse delimited numbers (comma, tab or whitespace; optional header) into a 2-D array."""
    try:
        if b"\x00" in data:
            raise UnicodeError("NUL byte")
        text = data.decode("utf-8-sig")
    except UnicodeError as exc:
        raise _error(name, "is not a text file (it is binary or not UTF-8)") from exc
    lines = [
        (number, line)
        for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1)
        if line.strip()
    ]
    if not lines:
        raise _error(name, "is empty")
    sep = _separator(lines[0][1])
    if sep is None and len(lines) > 1 and _floats(lines[0][1].split()) is None:
        sep = _separator(lines[1][1])  # a one-column header hides the data's separator
    rows: list[list[float]] = []
    for index, (number, line) in enumerate(lines):
        cells = [cell.strip() for cell in line.split(sep)]
        values = _floats(cells)
        if values is None:
            if index == 0 and all(_floats([cell]) is None for cell in cells):
                continue  # a header row: only the first line may be one, and none of it numeric
            col, cell = next((i, c) for i, c in enumerate(cells, 1) if _floats([c]) is None)
            shown = cell if len(cell) <= _MAX_CELL else cell[:_MAX_CELL] + "..."
            raise _error(name, f"row {number}, column {col}: {shown!r} is not a number")
        if rows and len(values) != len(rows[0]):
            raise _error(name, f"row {number} has {len(values)} columns, expected {len(rows[0])}")
        rows.append(values)
    if not rows:
        raise _error(name, "has a header row but no data rows")
    return np.array(rows, dtype=np.float64)


def _separator(line: str) -> str | None:
    """Return the separator a line uses: comma, tab, or None for runs of whitespace."""
    return "," if "," in line else "\t" if "\t" in line else None


def _floats(cells: list[str]) -> list[float] | None:
    """Parse every cell with float(), or return None if any cell is not a number."""
    try:
        return [float(cell) for cell in cells]
    except ValueError:
        return None


def _display(path: str | os.PathLike[str]) -> str:
    """Name a path in messages as the user gave it (stdin as <stdin>)."""
    name = os.fspath(path)
    return _STDIN_NAME if name == STDIN else name


def _error(name: str, problem: str) -> InputError:
    """Build a one-line ``"<name>: <problem>"`` InputError, escaping any line breaks."""
    shown = name if name.isprintable() else repr(name)
    return InputError(" ".join(f"{shown}: {problem}".splitlines()))
