from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck_cli.errors import InputError
from gradcheck_cli.loading import load_inputs, load_labels, load_scores, validate_inputs

SCORES = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
LABELS = np.array([2, 0])


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def fake_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


@pytest.fixture
def scores_npy(tmp_path: Path) -> Path:
    np.save(tmp_path / "scores.npy", SCORES)
    return tmp_path / "scores.npy"


@pytest.fixture
def labels_npy(tmp_path: Path) -> Path:
    np.save(tmp_path / "labels.npy", LABELS)
    return tmp_path / "labels.npy"


@pytest.fixture
def both_npz(tmp_path: Path) -> Path:
    np.savez(tmp_path / "both.npz", scores=SCORES, labels=LABELS)
    return tmp_path / "both.npz"


# --- formats that load -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_npy_float_dtype_is_kept(tmp_path: Path, dtype: type[np.floating]) -> None:
    np.save(tmp_path / "s.npy", SCORES.astype(dtype))
    scores = load_scores(tmp_path / "s.npy")
    assert scores.dtype == dtype
    np.testing.assert_array_equal(scores, SCORES)


def test_npy_int_scores_are_promoted_to_float64(tmp_path: Path) -> None:
    np.save(tmp_path / "s.npy", np.array([[1, 2], [3, 4]], dtype=np.int32))
    scores = load_scores(tmp_path / "s.npy")
    assert scores.dtype == np.float64
    assert scores.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_npy_big_endian_and_fortran_order_load(tmp_path: Path) -> None:
    np.save(tmp_path / "s.npy", np.asfortranarray(SCORES.astype(">f4")))
    scores = load_scores(tmp_path / "s.npy")
    assert scores.dtype == np.float32 and scores.flags.c_contiguous
    np.testing.assert_array_equal(scores, SCORES)


def test_npy_pair_loads(scores_npy: Path, labels_npy: Path) -> None:
    scores, labels = load_inputs(scores_npy, labels_npy)
    np.testing.assert_array_equal(scores, SCORES)
    assert labels.dtype == np.intp and labels.tolist() == [2, 0]


def test_npz_with_both_named_arrays(both_npz: Path) -> None:
    scores, labels = load_inputs(both_npz)
    np.testing.assert_array_equal(scores, SCORES)
    assert labels.tolist() == [2, 0]
    assert load_scores(both_npz).shape == (2, 3)
    assert load_labels(both_npz).tolist() == [2, 0]


def test_npz_single_unnamed_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "s.npz", SCORES)
    np.savez(tmp_path / "l.npz", LABELS)
    scores, labels = load_inputs(tmp_path / "s.npz", tmp_path / "l.npz")
    np.testing.assert_array_equal(scores, SCORES)
    assert labels.tolist() == [2, 0]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("s.csv", "1,2,3\n4,5,6\n"),
        ("s.tsv", "1\t2\t3\n4\t5\t6\n"),
        ("s.txt", "1  2 3\n 4 5\t 6  \n"),
        ("s.csv", "a,b,c\n1,2,3\n\n4,5,6"),
        ("s.CSV", "1, 2, 3\r\n4, 5, 6\r\n"),
        ("s.csv", "\ufeffa,b,c\r\n1,2,3\r\n4,5,6\r\n"),
        ("s.txt", "1.0e0 2 3\r4 5 6.000"),
    ],
)
def test_text_scores_load(tmp_path: Path, name: str, text: str) -> None:
    scores = load_scores(write(tmp_path / name, text))
    assert scores.dtype == np.float64
    np.testing.assert_array_equal(scores, SCORES)


def test_one_column_text_scores_are_n_by_1(tmp_path: Path) -> None:
    assert load_scores(write(tmp_path / "s.csv", "1\n2\n3\n")).shape == (3, 1)


def test_text_labels_one_column_with_header(tmp_path: Path) -> None:
    labels = load_labels(write(tmp_path / "l.csv", "label\n2\n0\n1\n"))
    assert labels.shape == (3,) and labels.dtype == np.intp
    assert labels.tolist() == [2, 0, 1]


def test_labels_n_by_1_and_integral_floats(tmp_path: Path) -> None:
    np.save(tmp_path / "l.npy", np.array([[2.0], [0.0]]))
    labels = load_labels(tmp_path / "l.npy")
    assert labels.shape == (2,) and labels.dtype == np.intp
    assert labels.tolist() == [2, 0]


def test_scores_from_stdin(monkeypatch: pytest.MonkeyPatch, labels_npy: Path) -> None:
    fake_stdin(monkeypatch, b"1,2,3\n4,5,6\n")
    scores, labels = load_inputs("-", labels_npy)
    np.testing.assert_array_equal(scores, SCORES)
    assert labels.tolist() == [2, 0]


def test_labels_from_stdin(monkeypatch: pytest.MonkeyPatch, scores_npy: Path) -> None:
    fake_stdin(monkeypatch, b"2\n0\n")
    assert load_inputs(scores_npy, "-")[1].tolist() == [2, 0]


def test_validate_inputs_returns_copies_and_leaves_inputs_alone() -> None:
    scores, labels = SCORES.copy(), np.array([[2.0], [0.0]])
    before = scores.copy(), labels.copy()
    out_scores, out_labels = validate_inputs(scores, labels)
    assert not np.shares_memory(out_scores, scores) and not np.shares_memory(out_labels, labels)
    out_scores[0, 0] = 99.0
    np.testing.assert_array_equal(scores, before[0])
    np.testing.assert_array_equal(labels, before[1])
    assert out_labels.dtype == np.intp and out_labels.flags.c_contiguous


def test_loading_never_changes_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "a,b\r\n1,2\r\n")
    load_scores(path)
    assert path.read_bytes() == b"a,b\r\n1,2\r\n"


# --- every error ---------------------------------------------------------------------------


def raises(match: str) -> pytest.RaisesExc[InputError]:
    return pytest.raises(InputError, match=match)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.npy"
    with raises(f"^{path}: no such file$"):
        load_scores(path)


@pytest.mark.parametrize("name", ["dir.csv", "dir"])
def test_directory(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    with raises("is a directory, not a file"):
        load_scores(tmp_path / name)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = write(tmp_path / "s.xyz", "1,2\n")
    with raises(r"s\.xyz: unsupported file type '\.xyz' \(use \.npy, \.npz, \.csv, \.txt or"):
        load_scores(path)
    with raises(r"unsupported file type \(no extension\)"):
        load_scores(write(tmp_path / "scores", "1,2\n"))


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "1,2\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read any file")
        with raises("s.csv: cannot be read: permission denied"):
            load_scores(path)
    finally:
        path.chmod(0o600)


def test_permission_error_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "s.npy", b"")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("gradcheck_cli.loading.open", refuse, raising=False)
    with raises("s.npy: cannot be read: permission denied"):
        load_scores(path)


@pytest.mark.parametrize(("name", "data"), [("e.csv", b""), ("e.csv", b"\n \r\n"), ("e.npy", b"")])
def test_empty_file(tmp_path: Path, name: str, data: bytes) -> None:
    with raises(f"{name}: is empty"):
        load_scores(write(tmp_path / name, data))


def test_header_only(tmp_path: Path) -> None:
    with raises("h.csv: has a header row but no data rows"):
        load_scores(write(tmp_path / "h.csv", "a,b,c\n"))


def test_ragged_rows(tmp_path: Path) -> None:
    with raises("r.csv: row 3 has 2 columns, expected 3"):
        load_scores(write(tmp_path / "r.csv", "1,2,3\n\n4,5\n"))


def test_non_numeric_cell_names_row_and_column(tmp_path: Path) -> None:
    with raises(r"n.csv: row 3, column 2: 'x1' is not a number"):
        load_scores(write(tmp_path / "n.csv", "a,b\n1,2\n3, x1\n"))


def test_long_non_numeric_cell_is_truncated(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_scores(write(tmp_path / "n.csv", "1,2\n3," + "y" * 500 + "\n"))
    assert "y" * 500 not in str(info.value) and "..." in str(info.value)


@pytest.mark.parametrize(("cell", "shown"), [("nan", "nan"), ("-inf", "-inf"), ("1e400", "inf")])
def test_non_finite_scores(tmp_path: Path, cell: str, shown: str) -> None:
    path = write(tmp_path / "s.csv", f"1,2\n3,{cell}\n{cell},0\n")
    with raises(f"s.csv: 2 non-finite score\\(s\\); the first is {shown} at row 1, column 1"):
        load_scores(path)


@pytest.mark.parametrize(
    ("shape", "problem"),
    [
        ((3,), r"must be a 2-D \(N, C\) array, got shape \(3,\)"),
        ((2, 2, 2), r"must be a 2-D \(N, C\) array, got shape \(2, 2, 2\)"),
        ((0, 3), r"need at least one row and one column, got shape \(0, 3\)"),
        ((3, 0), r"need at least one row and one column, got shape \(3, 0\)"),
    ],
)
def test_scores_shape(tmp_path: Path, shape: tuple[int, ...], problem: str) -> None:
    np.save(tmp_path / "s.npy", np.zeros(shape))
    with raises(f"s.npy: scores {problem}"):
        load_scores(tmp_path / "s.npy")


@pytest.mark.parametrize(
    ("scores", "dtype"),
    [
        (np.zeros((2, 2), dtype=bool), "bool"),
        (np.zeros((2, 2), dtype=complex), "complex128"),
        ([["a", "b"], ["c", "d"]], "<U1"),
        (np.array([[1.0, None], [2.0, 3.0]], dtype=object), "object"),
    ],
)
def test_scores_dtype_refused(scores: object, dtype: str) -> None:
    with raises(f"^s: scores have dtype {dtype}; they must be integers, float16, float32 or"):
        validate_inputs(scores, [0, 1], scores_name="s")


@pytest.mark.skipif(np.dtype(np.longdouble) == np.float64, reason="longdouble is float64 here")
def test_longdouble_scores_refused_not_rounded() -> None:
    with raises("scores have dtype float128"):
        validate_inputs(np.zeros((1, 1), dtype=np.longdouble), [0])


def test_object_npy_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([[1.0, None]], dtype=object), allow_pickle=True)
    with raises(r"^.*o\.npy: object arrays are refused \(pickled data is never loaded\)$"):
        load_scores(tmp_path / "o.npy")


def test_object_array_in_npz_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "o.npz", scores=np.array([[1.0, None]], dtype=object))
    with raises("o.npz: object arrays are refused"):
        load_scores(tmp_path / "o.npz")


def test_truncated_npy(tmp_path: Path, scores_npy: Path) -> None:
    path = write(tmp_path / "t.npy", scores_npy.read_bytes()[:-5])
    with raises(r"t.npy: is not a valid \.npy file \(truncated or corrupt"):
        load_scores(path)
    with raises(r"t2.npy: is not a valid \.npy file"):
        load_scores(write(tmp_path / "t2.npy", scores_npy.read_bytes()[:20]))


def test_npy_with_corrupted_header(tmp_path: Path, scores_npy: Path) -> None:
    data = scores_npy.read_bytes().replace(b"'descr'", b"'dexcr'")
    with raises(r"c.npy: is not a valid \.npy file"):
        load_scores(write(tmp_path / "c.npy", data))


def test_npy_without_magic(tmp_path: Path, both_npz: Path) -> None:
    with raises(r"x.npy: is not a \.npy file"):
        load_scores(write(tmp_path / "x.npy", both_npz.read_bytes()))
    with raises(r"x.npz: is not a \.npz file"):
        load_scores(write(tmp_path / "x.npz", b"\x93NUMPY junk"))


def test_corrupt_npz(tmp_path: Path, both_npz: Path) -> None:
    with raises(r"c.npz: is not a valid \.npz file"):
        load_scores(write(tmp_path / "c.npz", both_npz.read_bytes()[:100]))


def test_npz_without_the_named_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", a=SCORES, b=LABELS)
    with raises(r"m.npz: has no array named 'scores' \(arrays found: 'a', 'b'\)"):
        load_scores(tmp_path / "m.npz")
    with raises(r"m.npz: has no array named 'labels'"):
        load_labels(tmp_path / "m.npz")


def test_npz_without_labels_when_no_labels_file(tmp_path: Path) -> None:
    np.savez(tmp_path / "s.npz", scores=SCORES)
    with raises(r"s.npz: has no array named 'labels' \(arrays found: 'scores'\)"):
        load_inputs(tmp_path / "s.npz")


def test_no_labels_file_and_not_npz(scores_npy: Path) -> None:
    with raises(f"^{scores_npy}: labels are missing"):
        load_inputs(scores_npy)


def test_fractional_labels(tmp_path: Path) -> None:
    with raises(r"l.csv: label 2.5 at row 1 is not an integer"):
        load_labels(write(tmp_path / "l.csv", "1\n2.5\n"))
    with raises(r"l.csv: label nan at row 0 is not an integer"):
        load_labels(write(tmp_path / "l.csv", "nan\n"))


def test_negative_label(scores_npy: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "-1\n0\n")
    with raises(r"l.csv: label -1 at row 0 is out of range \[0, 3\) for 3 classes$"):
        load_inputs(scores_npy, path)


def test_label_equal_to_c(scores_npy: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "l.npy", np.array([3, 7]))
    with raises(r"l.npy: label 3 at row 0 is out of range \[0, 3\) .* \(2 labels are out"):
        load_inputs(scores_npy, tmp_path / "l.npy")


def test_huge_label(tmp_path: Path) -> None:
    np.save(tmp_path / "l.npy", np.array([1e300]))
    with raises("l.npy: label 1e[+]300 at row 0 is too large to be a class index"):
        load_labels(tmp_path / "l.npy")


def test_string_labels(tmp_path: Path) -> None:
    with raises("l.csv: row 2, column 1: 'dog' is not a number"):
        load_labels(write(tmp_path / "l.csv", "cat\ndog\nbird\n"))
    with raises("labels have dtype <U3; they must be integer class indices"):
        validate_inputs(SCORES, ["cat", "dog"])


def test_bool_labels(tmp_path: Path) -> None:
    with raises("labels have dtype bool"):
        validate_inputs(SCORES, [True, False])


def test_two_column_labels(tmp_path: Path) -> None:
    with raises(r"l.csv: labels must have shape \(N,\) or \(N, 1\), got shape \(2, 2\)"):
        load_labels(write(tmp_path / "l.csv", "1,2\n0,1\n"))


def test_label_count_mismatch(scores_npy: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "0\n1\n2\n")
    with raises(f"^{path}: has 3 labels but {scores_npy} has 2 rows$"):
        load_inputs(scores_npy, path)


def test_both_inputs_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_stdin(monkeypatch, b"1\n")
    with raises("only one of scores and labels can be read from stdin"):
        load_inputs("-", "-")


def test_stdin_errors_name_stdin(monkeypatch: pytest.MonkeyPatch, labels_npy: Path) -> None:
    fake_stdin(monkeypatch, b"")
    with raises("^<stdin>: is empty$"):
        load_inputs("-", labels_npy)
    with raises("^<stdin>: labels are missing"):
        load_inputs("-")


@pytest.mark.parametrize("data", [b"1,2\x00,3\n", b"\xff\xfe1,2\n", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_binary_junk_named_csv(tmp_path: Path, data: bytes) -> None:
    with raises(r"j.csv: is not a text file"):
        load_scores(write(tmp_path / "j.csv", data))


def test_ragged_nested_list() -> None:
    with raises("s: cannot be turned into an array"):
        validate_inputs([[1.0, 2.0], [3.0]], [0, 1], scores_name="s")


def test_messages_are_one_line(tmp_path: Path) -> None:
    # A line break in a cell or a file name must not reach the message.
    with pytest.raises(InputError) as info:
        load_scores(write(tmp_path / "a\nb.csv", "1,2\n3,x\x0by\n"))
    assert "\n" not in str(info.value) and "\r" not in str(info.value)


# --- nothing but InputError, whatever the bytes ---------------------------------------------


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=300),
    prefix=st.sampled_from([b"", b"\x93NUMPY\x01\x00", b"PK\x03\x04", b"1,2\n"]),
    suffix=st.sampled_from([".csv", ".npy", ".npz"]),
)
def test_random_bytes_load_or_raise_input_error(
    tmp_path: Path, data: bytes, prefix: bytes, suffix: str
) -> None:
    path = write(tmp_path / f"fuzz{suffix}", prefix + data)
    for load in (load_scores, load_labels):
        try:
            load(path)
        except InputError as exc:
            assert "\n" not in str(exc)


def test_a_first_row_with_a_typo_is_an_error_not_a_header(tmp_path: Path) -> None:
    path = tmp_path / "typo.csv"
    path.write_text("1,2,x\n3,4,5\n")
    with raises("typo.csv: row 1, column 3: 'x' is not a number"):
        load_scores(path)


def test_a_single_class_is_refused_with_the_reason() -> None:
    with raises("scores: scores have 1 class; the softmax loss needs at least 2"):
        validate_inputs(np.ones((3, 1)), np.zeros(3, dtype=int))


def test_a_one_column_header_does_not_hide_the_comma_separator(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("score\n1,2,3\n4,5,6\n")
    np.testing.assert_array_equal(load_scores(path), [[1, 2, 3], [4, 5, 6]])
