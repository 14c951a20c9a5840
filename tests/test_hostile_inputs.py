"""Malformed inputs through `gradcheck run`: each exits 2 with one line, never a traceback."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck_cli.cli import main
from gradcheck_cli.errors import InputError
from gradcheck_cli.loading import load_inputs

GOOD_SCORES = "1.0,2.0,3.0\n0.5,0.1,-1.0\n"
GOOD_LABELS = "0\n2\n"


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def lying_header():
    data = bytearray(npy_bytes(np.zeros((2, 3))))
    return bytes(data).replace(b"(2, 3)", b"(9, 3)")  # claims more rows than it holds


def truncated():
    return npy_bytes(np.zeros((40, 3)))[:-50]


# (case, scores file (name, content), labels file (name, content) or None, expected text)
BAD_INPUTS = [
    ("empty csv", ("s.csv", b""), ("y.csv", GOOD_LABELS), "s.csv: is empty"),
    ("blank csv", ("s.csv", b"\n\n  \n"), ("y.csv", GOOD_LABELS), "s.csv: is empty"),
    ("header only", ("s.csv", "a,b,c\n"), ("y.csv", GOOD_LABELS), "no data rows"),
    ("ragged rows", ("s.csv", "1,2,3\n4,5\n"), ("y.csv", GOOD_LABELS), "row 2 has 2 columns"),
    (
        "non-numeric cell",
        ("s.csv", "1,2,3\n4,x,6\n"),
        ("y.csv", GOOD_LABELS),
        "'x' is not a number",
    ),
    ("empty cell", ("s.csv", "1,2,3\n4,,6\n"), ("y.csv", GOOD_LABELS), "'' is not a number"),
    ("nan in scores", ("s.csv", "1,nan,3\n4,5,6\n"), ("y.csv", GOOD_LABELS), "non-finite"),
    ("inf in scores", ("s.csv", "1,2,inf\n4,5,6\n"), ("y.csv", GOOD_LABELS), "non-finite"),
    ("1e400 in scores", ("s.csv", "1,2,1e400\n4,5,6\n"), ("y.csv", GOOD_LABELS), "non-finite"),
    ("nan in npy", ("s.npy", npy_bytes(np.array([[1.0, np.nan]]))), ("y.csv", "0\n"), "non-finite"),
    ("negative label", ("s.csv", GOOD_SCORES), ("y.csv", "0\n-1\n"), "label -1 at row 1"),
    ("label too large", ("s.csv", GOOD_SCORES), ("y.csv", "0\n3\n"), "out of range [0, 3)"),
    ("fractional label", ("s.csv", GOOD_SCORES), ("y.csv", "0\n1.5\n"), "not an integer"),
    ("labels as words", ("s.csv", GOOD_SCORES), ("y.csv", "cat\ndog\nbird\n"), "'dog' is not"),
    ("word among labels", ("s.csv", GOOD_SCORES), ("y.csv", "0\ndog\n"), "'dog' is not a number"),
    ("N mismatch", ("s.csv", GOOD_SCORES), ("y.csv", "0\n1\n2\n"), "has 3 labels but"),
    ("1-D scores", ("s.npy", npy_bytes(np.zeros(3))), ("y.csv", GOOD_LABELS), "2-D"),
    ("3-D scores", ("s.npy", npy_bytes(np.zeros((2, 3, 1)))), ("y.csv", GOOD_LABELS), "2-D"),
    ("0 rows", ("s.npy", npy_bytes(np.zeros((0, 3)))), ("y.csv", GOOD_LABELS), "at least one row"),
    ("0 columns", ("s.npy", npy_bytes(np.zeros((2, 0)))), ("y.csv", GOOD_LABELS), "one column"),
    ("one class", ("s.npy", npy_bytes(np.zeros((2, 1)))), ("y.csv", "0\n0\n"), "1 class"),
    ("2-D labels", ("s.csv", GOOD_SCORES), ("y.npy", npy_bytes(np.zeros((2, 2), int))), "(N,)"),
    (
        "object npy",
        ("s.npy", npy_bytes(np.array([[1.0, None]], dtype=object), allow_pickle=True)),
        ("y.csv", "0\n"),
        "pickled data is never loaded",
    ),
    (
        "pickle named npy",
        ("s.npy", pickle.dumps([[1.0, 2.0]])),
        ("y.csv", "0\n"),
        "not a .npy file",
    ),
    ("truncated npy", ("s.npy", truncated()), ("y.csv", GOOD_LABELS), "truncated or corrupt"),
    ("npy with a lying header", ("s.npy", lying_header()), ("y.csv", GOOD_LABELS), "s.npy"),
    (
        "garbage header",
        ("s.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': 0}  \n"),
        ("y.csv", "0\n"),
        "s.npy",
    ),
    (
        "bool scores",
        ("s.npy", npy_bytes(np.ones((2, 3), bool))),
        ("y.csv", GOOD_LABELS),
        "dtype bool",
    ),
    (
        "complex scores",
        ("s.npy", npy_bytes(np.ones((2, 3), complex))),
        ("y.csv", GOOD_LABELS),
        "complex",
    ),
    (
        "string labels npy",
        ("s.csv", GOOD_SCORES),
        ("y.npy", npy_bytes(np.array(["a", "b"]))),
        "dtype",
    ),
    (
        "bool labels",
        ("s.csv", GOOD_SCORES),
        ("y.npy", npy_bytes(np.array([True, False]))),
        "dtype bool",
    ),
    (
        "npz without the keys",
        ("s.npz", npz_bytes(a=np.zeros((2, 3)), b=np.zeros(2))),
        None,
        "no array named 'scores'",
    ),
    ("npz missing labels", ("s.npz", npz_bytes(scores=np.zeros((2, 3)))), None, "'labels'"),
    (
        "npz with extra keys and no labels file",
        ("s.npz", npz_bytes(scores=np.zeros((2, 3)), weights=np.zeros(3))),
        None,
        "'labels'",
    ),
    ("csv labels missing", ("s.csv", GOOD_SCORES), None, "labels are missing"),
    (
        "binary junk named csv",
        ("s.csv", bytes(range(256)) * 4),
        ("y.csv", GOOD_LABELS),
        "not a text file",
    ),
    (
        "zip named npy",
        ("s.npy", npz_bytes(scores=np.zeros((2, 3)))),
        ("y.csv", GOOD_LABELS),
        "not a .npy",
    ),
    (
        "utf-16 text",
        ("s.csv", GOOD_SCORES.encode("utf-16")),
        ("y.csv", GOOD_LABELS),
        "not a text file",
    ),
    (
        "latin-1 text",
        ("s.csv", "1,2,3\n4,5,\xe9\n".encode("latin-1")),
        ("y.csv", GOOD_LABELS),
        "text",
    ),
    (
        "unsupported extension",
        ("s.json", "[[1, 2]]"),
        ("y.csv", "0\n"),
        "unsupported file type '.json'",
    ),
    ("no extension", ("scores", GOOD_SCORES), ("y.csv", GOOD_LABELS), "(no extension)"),
    ("huge header line", ("s.csv", "h" * 200_000 + "\n1,x,3\n"), ("y.csv", "0\n"), "'x' is not"),
    (
        "huge non-numeric cell",
        ("s.csv", "1,2,3\n4,5," + "z" * 5000 + "\n"),
        ("y.csv", GOOD_LABELS),
        "...",
    ),
    (
        "NUL byte in csv",
        ("s.csv", b"1,2,3\n4,\x005,6\n"),
        ("y.csv", GOOD_LABELS),
        "not a text file",
    ),
]


def write(directory: Path, spec):
    name, content = spec
    path = directory / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def assert_one_line_error(result, name):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert name in lines[0]
    assert "Traceback" not in result.stderr


def test_the_battery_has_at_least_40_cases():
    assert len(BAD_INPUTS) + len(SPECIAL_CASES) >= 40


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_exits_2_with_one_line(runner, tmp_path, scores, labels, expected):
    arguments = ["run", write(tmp_path, scores)]
    if labels is not None:
        arguments.append(write(tmp_path, labels))
    result = runner.invoke(main, arguments, catch_exceptions=False)
    assert_one_line_error(result, expected)


SPECIAL_CASES = ["missing file", "directory", "unreadable file", "both from stdin", "utf-8 bom"]


def test_missing_file(runner, tmp_path):
    labels = write(tmp_path, ("y.csv", GOOD_LABELS))
    result = runner.invoke(
        main, ["run", str(tmp_path / "nope.npy"), labels], catch_exceptions=False
    )
    assert_one_line_error(result, "nope.npy: no such file")


def test_directory(runner, tmp_path):
    labels = write(tmp_path, ("y.csv", GOOD_LABELS))
    result = runner.invoke(main, ["run", str(tmp_path), labels], catch_exceptions=False)
    assert_one_line_error(result, "is a directory, not a file")


def test_unreadable_file(runner, tmp_path):
    scores = write(tmp_path, ("s.csv", GOOD_SCORES))
    os.chmod(scores, 0)
    if os.access(scores, os.R_OK):
        pytest.skip("running as a user who can read any file (root); test_loading fakes it")
    result = runner.invoke(main, ["run", scores, write(tmp_path, ("y.csv", GOOD_LABELS))])
    assert_one_line_error(result, "permission denied")


def test_both_from_stdin(runner):
    result = runner.invoke(main, ["run", "-", "-"], input=GOOD_SCORES, catch_exceptions=False)
    assert_one_line_error(result, "only one of scores and labels")


def test_a_utf8_bom_is_accepted_not_an_error(runner, tmp_path):
    scores = write(tmp_path, ("s.csv", "\ufeff" + GOOD_SCORES))
    labels = write(tmp_path, ("y.csv", GOOD_LABELS))
    result = runner.invoke(
        main, ["run", scores, labels, "--impl", "stable"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr


def test_inputs_are_never_modified(runner, tmp_path):
    paths = [write(tmp_path, ("s.csv", GOOD_SCORES)), write(tmp_path, ("y.csv", GOOD_LABELS))]
    before = [Path(p).read_bytes() for p in paths]
    runner.invoke(main, ["run", *paths], catch_exceptions=False)
    assert [Path(p).read_bytes() for p in paths] == before


def fuzz_pair(tmp_path, scores_name, content):
    path = tmp_path / scores_name
    path.write_bytes(content)
    labels = tmp_path / "y.csv"
    labels.write_text(GOOD_LABELS)
    try:
        scores, y = load_inputs(path, labels)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert scores.ndim == 2 and np.all(np.isfinite(scores)) and len(y) == scores.shape[0]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.lists(
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True).map(repr),
                st.integers(-5, 5).map(str),
                st.sampled_from(["", " ", "x", "1e400", "-0", "nan", "1,5", '"2"', "\t", "١"]),
            ),
            min_size=1,
            max_size=4,
        ),
        min_size=0,
        max_size=4,
    ),
    separator=st.sampled_from([",", "\t", " ", ";"]),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_near_valid_csv_loads_or_raises_input_error(tmp_path, rows, separator, newline):
    text = newline.join(separator.join(row) for row in rows)
    fuzz_pair(tmp_path, "s.csv", text.encode())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300), keep=st.integers(0, 200))
def test_damaged_npy_and_npz_load_or_raise_input_error(tmp_path, data, keep):
    valid_npy = npy_bytes(np.arange(6.0).reshape(2, 3))
    fuzz_pair(tmp_path, "s.npy", valid_npy[: keep % len(valid_npy)] + data)
    valid_npz = npz_bytes(scores=np.arange(6.0).reshape(2, 3))
    fuzz_pair(tmp_path, "s.npz", valid_npz[: keep * 3 % len(valid_npz)] + data)
    with zipfile.ZipFile(io.BytesIO(valid_npz)) as archive:  # the archive itself is sound
        assert archive.namelist() == ["scores.npy"]
