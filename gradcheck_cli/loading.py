"""Read the user's scores (N×C) and labels (N) from .npy, .npz or text files, and validate them."""

from __future__ import annotations

import io
import os
import sys
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn

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
    _check_classes(checked_scores.shape[1], scores_name)
    _check_labels_fit(checked_labels, checked_scores.shape, scores_name, labels_name)
    return checked_scores, checked_labels


def _check_classes(c: int, name: str) -> None:
    """Refuse scores with a single class."""
    if c == 1:
        # With one class every probability is 1: the loss is 0 and so is every gradient
        # entry, whatever the implementation does with the scores. Nothing to check.
        problem = "scores have 1 class; the softmax loss needs at least 2 (with one it is 0)"
        raise _error(name, problem)


def _check_labels_fit(
    labels: IntArray, shape: tuple[int, int], scores_name: str, labels_name: str
) -> None:
    """Refuse labels whose count is not N or whose values are not in ``[0, C)``."""
    n, c = shape
    if labels.shape[0] != n:
        problem = f"has {labels.shape[0]} labels but {scores_name} has {n} rows"
        raise _error(labels_name, problem)
    bad = np.flatnonzero((labels < 0) | (labels >= c))
    if bad.size:
        row = int(bad[0])
        more = f" ({bad.size} labels are out of range)" if bad.size > 1 else ""
        problem = f"label {labels[row]} at row {row} is out of range [0, {c})"
        raise _error(labels_name, f"{problem} for {c} classes{more}")


def _validate_scores(scores: ArrayLike, name: str) -> FloatArray:
    """Return a C-contiguous float copy of finite, real, non-empty 2-D scores."""
    array = _as_array(scores, name)
    _check_scores_shape(array.shape, name)
    dtype = array.dtype
    if dtype.kind in "iu":
        result: FloatArray = array.astype(np.float64, order="C")
    elif dtype.type in _KEPT_FLOATS:
        # Native byte order is the same precision; only the dtype's size is part of the contract.
        result = np.array(array, dtype=dtype.newbyteorder("="), order="C", copy=True)
    else:
        raise _error(name, _dtype_problem(dtype))
    bad = np.flatnonzero(~np.isfinite(result))
    if bad.size:
        row, col = divmod(int(bad[0]), result.shape[1])
        raise _error(name, _non_finite_problem(bad.size, float(result[row, col]), row, col))
    return result


def _check_scores_shape(shape: tuple[int, ...], name: str) -> None:
    """Refuse scores that are not 2-D with at least one row and one column."""
    if len(shape) != 2:
        raise _error(name, f"scores must be a 2-D (N, C) array, got shape {shape}")
    if shape[0] == 0 or shape[1] == 0:
        problem = f"scores need at least one row and one column, got shape {shape}"
        raise _error(name, problem)


def _dtype_problem(dtype: np.dtype[Any]) -> str:
    """Say why scores of this dtype are refused."""
    return f"scores have dtype {dtype}; they must be integers, float16, float32 or float64"


def _non_finite_problem(count: int, value: float, row: int, col: int) -> str:
    """Say how many scores are nan or inf and where the first one is."""
    return f"{count} non-finite score(s); the first is {value} at row {row}, column {col}"


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


# --- .npy scores too large to load whole: read in row blocks -----------------------------------


@dataclass(frozen=True)
class NpyBlocks:
    """A checked ``.npy`` scores file, read block by block of rows at file offsets.

    ``shape`` is (N, C) from the header. ``stored`` is the dtype in the file;
    ``dtype`` is the dtype blocks come out in (float16/32/64 kept in native
    byte order, integers promoted to float64, as `load_scores` does).
    ``offset`` is where the data start. Nothing is memory-mapped: mapped
    pages count as resident memory for as long as they stay mapped, so each
    block is read with ``seek`` + ``readinto`` into one reused buffer, and a
    file larger than the free memory can be read.
    """

    path: str
    name: str
    shape: tuple[int, int]
    dtype: np.dtype[Any]
    stored: np.dtype[Any]
    fortran_order: bool
    offset: int

    @property
    def nbytes(self) -> int:
        """Bytes of score data in the file."""
        return self.shape[0] * self.shape[1] * self.stored.itemsize

    def blocks(self, rows_per_block: int) -> Iterator[tuple[int, FloatArray]]:
        """Yield ``(first row, block)`` for consecutive blocks of at most ``rows_per_block`` rows.

        Parameters
        ----------
        rows_per_block : int
            Rows per block (the last block may have fewer). The buffer holds
            this many rows of the file's dtype and is reused for every block.

        Yields
        ------
        start : int
            Index of the block's first row.
        block : FloatArray, shape (rows, C)
            C-contiguous, in ``self.dtype``, every entry finite. It may be a view
            of the reused buffer: valid only until the next block is read, so
            copy what you keep.

        Raises
        ------
        InputError
            If the file is shorter than its header says, or holds a nan or inf.
            The message is the one `load_scores` gives (the count of non-finite
            scores covers the whole file, so the rest is scanned first).
        """
        n, c = self.shape
        per_block = max(1, min(int(rows_per_block), n))
        raw = np.empty(per_block * c * self.stored.itemsize, dtype=np.uint8)
        with open(self.path, "rb", buffering=0) as fh:
            for start in range(0, n, per_block):
                count = min(per_block, n - start)
                block = self._finite(self._read(fh, raw, start, count))
                if block is None:
                    self._raise_non_finite(fh, raw, start, per_block)
                yield start, block

    def _read(self, fh: io.FileIO, raw: NDArray[np.uint8], start: int, count: int) -> FloatArray:
        """Read rows ``start:start + count`` into ``raw``; return them as a C-ordered block."""
        n, c = self.shape
        size = self.stored.itemsize
        if not self.fortran_order:
            fh.seek(self.offset + start * c * size)
            self._fill(fh, raw[: count * c * size])
            stored_block = raw[: count * c * size].view(self.stored).reshape(count, c)
        else:  # column-major data: each column's piece of the block is contiguous
            piece = count * size
            for j in range(c):
                fh.seek(self.offset + (j * n + start) * size)
                self._fill(fh, raw[j * piece : (j + 1) * piece])
            stored_block = raw[: c * piece].view(self.stored).reshape(c, count).T
        if stored_block.dtype == self.dtype and stored_block.flags.c_contiguous:
            return stored_block
        block: FloatArray = np.ascontiguousarray(stored_block, dtype=self.dtype)
        return block

    def _fill(self, fh: io.FileIO, buffer: NDArray[np.uint8]) -> None:
        """Fill ``buffer`` from the file, or say the file is truncated."""
        view, done = memoryview(buffer), 0  # type: ignore[arg-type]
        while done < len(view):
            got = fh.readinto(view[done:])
            if not got:
                raise _error(self.name, _truncated(self.nbytes, done))
            done += got

    def _finite(self, block: FloatArray) -> FloatArray | None:
        """Return the block if every score is finite, else None."""
        return block if block.dtype.kind != "f" or bool(np.isfinite(block).all()) else None

    def _raise_non_finite(
        self, fh: io.FileIO, raw: NDArray[np.uint8], start: int, per_block: int
    ) -> NoReturn:
        """Raise the `load_scores` message: the first non-finite score and the file's count."""
        n, c = self.shape
        count, first = 0, (0.0, 0, 0)
        for begin in range(start, n, per_block):
            block = self._read(fh, raw, begin, min(per_block, n - begin))
            bad = np.flatnonzero(~np.isfinite(block))
            if bad.size and not count:
                row, col = divmod(int(bad[0]), c)
                first = (float(block[row, col]), begin + row, col)
            count += int(bad.size)
        raise _error(self.name, _non_finite_problem(count, *first))


def open_npy_blocks(path: str | os.PathLike[str]) -> NpyBlocks:
    """Read and check the header of a ``.npy`` scores file, without reading its data.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` file of any size.

    Returns
    -------
    NpyBlocks
        Shape, dtypes and data offset, ready to be read in row blocks.

    Raises
    ------
    InputError
        With the message `load_scores` would give: no such file, not a
        ``.npy`` file, a corrupt header, object (pickled) data, not 2-D, no
        rows or columns, an unusable dtype, one class, or fewer data bytes
        than the header promises.
    """
    fspath, name = os.fspath(path), _display(path)
    if fspath == STDIN or os.path.splitext(fspath)[1].lower() != ".npy":
        raise _error(name, "only a .npy scores file can be read in blocks")
    if os.path.isdir(fspath):
        raise _error(name, "is a directory, not a file")
    try:
        with open(fspath, "rb") as fh:
            shape, fortran_order, stored = _npy_header(fh, name)
            offset = fh.tell()
            held = os.fstat(fh.fileno()).st_size - offset
    except FileNotFoundError as exc:
        raise _error(name, "no such file") from exc
    except PermissionError as exc:
        raise _error(name, "cannot be read: permission denied") from exc
    except OSError as exc:
        raise _error(name, f"cannot be read: {exc.strerror or exc}") from exc
    if stored.subdtype is not None:  # a sub-array dtype adds its own axes, as np.load shows
        shape, stored = shape + stored.shape, stored.base
    if stored.hasobject:
        raise _error(name, "object arrays are refused (pickled data is never loaded)")
    _check_scores_shape(shape, name)
    if stored.kind in "iu":
        dtype = np.dtype(np.float64)
    elif stored.type in _KEPT_FLOATS:
        dtype = stored.newbyteorder("=")
    else:
        raise _error(name, _dtype_problem(stored))
    _check_classes(shape[1], name)
    blocks = NpyBlocks(fspath, name, (shape[0], shape[1]), dtype, stored, fortran_order, offset)
    if held < blocks.nbytes:
        raise _error(name, _truncated(blocks.nbytes, held))
    return blocks


def load_npy_inputs(
    scores_path: str | os.PathLike[str], labels_path: str | os.PathLike[str] | None
) -> tuple[NpyBlocks, IntArray]:
    """Open a ``.npy`` scores file for block reading and load its labels, checked together.

    Parameters
    ----------
    scores_path : str or os.PathLike
        The ``.npy`` scores file (see `open_npy_blocks`).
    labels_path : str or os.PathLike or None
        The labels file (see `load_labels`); None is an error, as in `load_inputs`.

    Returns
    -------
    blocks : NpyBlocks
    labels : IntArray, shape (N,)
        Every label is in ``[0, C)``.

    Raises
    ------
    InputError
        As `load_inputs` would.
    """
    blocks = open_npy_blocks(scores_path)
    if labels_path is None:
        problem = "labels are missing (give a labels file, or one .npz holding both)"
        raise _error(blocks.name, problem)
    labels = load_labels(labels_path)
    _check_labels_fit(labels, blocks.shape, blocks.name, _display(labels_path))
    return blocks, labels


def _npy_header(fh: BinaryIO, name: str) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """Read a .npy header: (shape, fortran_order, dtype), leaving ``fh`` at the data."""
    head = fh.read(len(_NPY_MAGIC))
    if not head:
        raise _error(name, "is empty")
    if not head.startswith(_NPY_MAGIC):
        raise _error(name, "is not a .npy file (it does not start like one)")
    fh.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. Python 2 headers: they still read correctly
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                header = np.lib.format.read_array_header_1_0(fh)
            elif version in ((2, 0), (3, 0)):  # 3.0 differs only in allowing utf-8 field names
                header = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported format version {version[0]}.{version[1]}")
    except _READ_ERRORS as exc:
        raise _error(name, f"is not a valid .npy file (truncated or corrupt: {exc})") from exc
    shape, fortran_order, dtype = header
    return tuple(int(k) for k in shape), bool(fortran_order), np.dtype(dtype)


def _truncated(expected: int, found: int) -> str:
    """Say that a .npy file holds fewer data bytes than its header promises."""
    return (
        f"is not a valid .npy file (truncated or corrupt: its header promises {expected} "
        f"bytes of data, it holds {found})"
    )
