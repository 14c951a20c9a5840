"""Large .npy scores checked block by block: the reader, agreement with memory, what is caught.

Every test works on a file of a few hundred kilobytes and makes it "large" by
monkeypatching the thresholds (`LARGE_INPUT_BYTES`, `BLOCK_BYTES`,
`FULL_CHECK_ENTRIES`), so the blockwise path runs exactly as it would on a
file of gigabytes, block boundaries included.
"""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from gradcheck_cli import _names, blockwise, checker, numeric, softmax, verdict
from gradcheck_cli.cli import main
from gradcheck_cli.errors import ImplementationError, InputError
from gradcheck_cli.loading import load_inputs, load_npy_inputs, load_scores, open_npy_blocks
from gradcheck_cli.verdict import LOOSEST, entry_tolerance, judge_loss

N, C = 2400, 12
MY_SOFTMAX = f"{Path(__file__).resolve().parents[1] / 'examples' / 'my_softmax.py'}:softmax_loss"
ROWS_PER_BLOCK = 500  # 5 blocks, the last one short
BUILT_INS = list(softmax.IMPLEMENTATIONS)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 500 rows; files above 1 kB count as large."""
    monkeypatch.setattr(blockwise, "BLOCK_BYTES", 8 * C * ROWS_PER_BLOCK)
    monkeypatch.setattr(_names, "LARGE_INPUT_BYTES", 1000)


@pytest.fixture
def sampled(monkeypatch, small_blocks):
    """The check of a file too large for a full check: labels, a sample, directions."""
    monkeypatch.setattr(blockwise, "FULL_CHECK_ENTRIES", 0)
    monkeypatch.setattr(blockwise, "OTHER_SAMPLE", 200)


@pytest.fixture
def batch(tmp_path):
    """A seeded N×C float64 batch saved as scores.npy and labels.npy."""
    rng = np.random.default_rng(20240611)
    scores = rng.normal(0.0, 3.0, size=(N, C))
    labels = rng.integers(0, C, size=N)
    np.save(tmp_path / "scores.npy", scores)
    np.save(tmp_path / "labels.npy", labels)
    return scores, labels, str(tmp_path / "scores.npy"), str(tmp_path / "labels.npy")


def register(monkeypatch, **functions):
    """Make test-only implementations built in (row-separable), for the library and the CLI."""
    registry = MappingProxyType({**softmax.IMPLEMENTATIONS, **functions})
    monkeypatch.setattr(softmax, "IMPLEMENTATIONS", registry)
    monkeypatch.setattr(checker, "IMPLEMENTATIONS", registry)
    return list(functions.items())


def check_path(scores_path, labels_path, implementations, seed=1, **options):
    blocks, labels = load_npy_inputs(scores_path, labels_path)
    rng = np.random.default_rng(seed)
    return blockwise.check_file(blocks, labels, implementations, rng=rng, **options)


def without_seconds(result):
    document = result.to_dict()
    document.pop("seconds")
    return document


# --- the reader ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        np.asfortranarray,
        lambda a: a.astype(">f4"),
        lambda a: a.astype(np.float16),
        lambda a: np.round(a * 10).astype(np.int16),
    ],
    ids=["float64", "fortran", "big-endian float32", "float16", "int16"],
)
def test_blocks_put_together_are_what_load_scores_reads(tmp_path, batch, make):
    path = tmp_path / "x.npy"
    np.save(path, make(batch[0]))
    blocks = open_npy_blocks(path)
    parts = [(start, block.copy()) for start, block in blocks.blocks(ROWS_PER_BLOCK)]
    whole = load_scores(path)
    assert [start for start, _ in parts] == list(range(0, N, ROWS_PER_BLOCK))
    assert all(block.flags.c_contiguous and block.dtype == whole.dtype for _, block in parts)
    assert np.array_equal(np.concatenate([block for _, block in parts]), whole)
    assert blocks.shape == (N, C) and blocks.nbytes == whole.size * make(batch[0]).itemsize


def test_the_reader_never_loads_the_whole_array(monkeypatch, batch):
    def refuse(*args, **kwargs):
        raise AssertionError("the whole array was loaded or mapped")

    for name in ("load", "fromfile", "memmap"):
        monkeypatch.setattr(np, name, refuse)
    monkeypatch.setattr(np.lib.format, "open_memmap", refuse)
    blocks = open_npy_blocks(batch[2])
    tracemalloc.start()
    try:
        total = sum(float(block.sum()) for _, block in blocks.blocks(100))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == pytest.approx(batch[0].sum())
    block_bytes = 100 * C * 8
    assert peak < 4 * block_bytes < blocks.nbytes / 5  # a buffer and a few temporaries, no more


def test_a_nan_in_a_later_block_gives_the_message_load_scores_gives(tmp_path, batch):
    scores = batch[0].copy()
    scores[1234, 5] = np.nan
    scores[2000, 1] = -np.inf
    np.save(tmp_path / "bad.npy", scores)
    with pytest.raises(InputError) as whole:
        load_scores(tmp_path / "bad.npy")
    with pytest.raises(InputError) as blockwise_error:
        list(open_npy_blocks(tmp_path / "bad.npy").blocks(ROWS_PER_BLOCK))
    assert str(blockwise_error.value) == str(whole.value)
    assert "2 non-finite score(s); the first is nan at row 1234, column 5" in str(whole.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.zeros((40, 4, 5)), "scores must be a 2-D (N, C) array, got shape (40, 4, 5)"),
        (np.zeros((0, 4)), "scores need at least one row and one column, got shape (0, 4)"),
        (np.zeros((40, 1)), "scores have 1 class; the softmax loss needs at least 2"),
        (np.ones((40, 3), dtype=bool), "scores have dtype bool; they must be integers"),
        (np.ones((40, 3), dtype=complex), "scores have dtype complex128; they must be"),
        (np.array([[1.0, None]] * 40, dtype=object), "object arrays are refused"),
    ],
    ids=["3-D", "0 rows", "1 class", "bool", "complex", "object"],
)
def test_a_malformed_header_is_refused_as_the_loader_refuses_it(tmp_path, content, message):
    path = tmp_path / "m.npy"
    np.save(path, content, allow_pickle=True)
    np.save(tmp_path / "y.npy", np.zeros(40, dtype=int))
    with pytest.raises(InputError) as blockwise_error:
        open_npy_blocks(path)
    with pytest.raises(InputError) as whole:
        load_inputs(path, tmp_path / "y.npy")
    assert str(blockwise_error.value) == str(whole.value)
    assert str(whole.value).startswith(f"{path}: {message}")


def test_a_truncated_or_lying_file_is_refused_before_any_block(tmp_path, batch):
    data = Path(batch[2]).read_bytes()
    (tmp_path / "t.npy").write_bytes(data[:-8])
    with pytest.raises(InputError, match=r"t\.npy: is not a valid \.npy file \(truncated"):
        open_npy_blocks(tmp_path / "t.npy")
    (tmp_path / "l.npy").write_bytes(data.replace(b"(2400, 12)", b"(2500, 12)"))
    with pytest.raises(InputError, match=r"promises 240000 bytes of data, it holds 230400"):
        open_npy_blocks(tmp_path / "l.npy")
    (tmp_path / "j.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': 0}  \n")
    with pytest.raises(InputError, match=r"j\.npy: is not a valid \.npy file"):
        open_npy_blocks(tmp_path / "j.npy")


# --- agreement with the check in memory ---------------------------------------------------------


def test_a_full_check_block_by_block_is_the_check_in_memory(small_blocks, batch):
    scores, labels, scores_path, labels_path = batch
    reference, results = check_path(scores_path, labels_path, BUILT_INS)
    memory_reference, in_memory = checker.check_all(
        BUILT_INS, scores, labels, rng=np.random.default_rng(1)
    )
    assert reference.reference_loss == pytest.approx(memory_reference.reference_loss, rel=1e-14)
    assert not reference.sampled and int(reference.checked.sum()) == N * C
    for block, memory in zip(results, in_memory, strict=True):
        assert (block.name, block.verdict, block.reason) == (memory.name, memory.verdict, "")
        assert block.loss == pytest.approx(memory.loss, rel=1e-13)
        assert block.entries_checked == memory.entries_checked == N * C
        assert block.judged_by == memory.judged_by
        assert block.max_rel_error == pytest.approx(memory.max_rel_error, rel=1e-6)
        assert block.median_rel_error == pytest.approx(memory.median_rel_error, rel=1e-6)
        assert "every entry" in block.coverage and block.directions == 0


def _plus_scores(scores, labels):
    loss, dscores = softmax.stable(scores, labels)
    return loss, dscores + 1e-9 * scores / len(labels)


def test_a_wrong_gradient_fails_block_by_block_where_it_fails_in_memory(
    monkeypatch, small_blocks, batch
):
    scores, labels, scores_path, labels_path = batch
    implementation = register(monkeypatch, plus_scores=_plus_scores)
    _, (block,) = check_path(scores_path, labels_path, implementation)
    _, (memory,) = checker.check_all(implementation, scores, labels)
    assert block.verdict == memory.verdict == "fail"
    assert block.reason.split(";")[0] == memory.reason.split(";")[0]  # "k of N·C entries outside"
    assert [(w.row, w.column) for w in block.worst] == [(w.row, w.column) for w in memory.worst]
    assert block.worst[0].ratio == pytest.approx(memory.worst[0].ratio, rel=1e-6)


def test_a_spot_check_block_by_block_checks_the_entries_memory_would(
    monkeypatch, small_blocks, batch
):
    scores, labels, scores_path, labels_path = batch
    implementations = ["stable", *register(monkeypatch, plus_scores=_plus_scores)]
    _, results = check_path(scores_path, labels_path, implementations, samples=60, seed=7)
    _, in_memory = checker.check_all(
        implementations, scores, labels, samples=60, rng=np.random.default_rng(7)
    )
    for block, memory in zip(results, in_memory, strict=True):
        assert block.verdict == memory.verdict
        assert block.reason.split(";")[0] == memory.reason.split(";")[0]
        assert block.entries_checked == memory.entries_checked == 60
        # the reference is rescaled from the block to the batch: an ulp of it, 1e-20 here
        assert block.max_abs_error == pytest.approx(memory.max_abs_error, abs=1e-18)
    wrong, in_memory_wrong = results[1], in_memory[1]
    assert wrong.reason.startswith("60 of 60 entries outside tolerance")  # the same 60 entries:
    assert [(w.row, w.column) for w in wrong.worst] == [
        (w.row, w.column) for w in in_memory_wrong.worst
    ]


def test_the_sampled_check_passes_every_built_in_and_accounts_for_its_entries(sampled, batch):
    scores, labels, scores_path, labels_path = batch
    reference, results = check_path(scores_path, labels_path, BUILT_INS, seed=3)
    sample = blockwise.sample_other_entries(labels, C, np.random.default_rng(3))
    _, in_memory = checker.check_all(BUILT_INS, scores, labels)
    assert reference.sampled and int(reference.checked.sum()) == N + sample.size
    for result, memory in zip(results, in_memory, strict=True):
        assert (result.verdict, result.reason) == ("pass", "")
        assert result.entries_checked == N + sample.size < result.entries_total == N * C
        assert sum(result.judged_by.values()) == result.entries_checked
        assert result.judged_by["complex"] >= N  # every label entry, by the complex step
        assert result.loss == pytest.approx(memory.loss, rel=1e-13)
        assert result.directions == blockwise.DIRECTIONS == len(result.directional)
        assert all(d["ratio"] < 0.1 for d in result.directional)  # no false alarm, far from one
        assert f"the label entry of all {N} rows and {sample.size} sampled" in result.coverage


@pytest.mark.parametrize("method", ["central", "complex"])
def test_the_sampled_check_judges_label_entries_by_the_method_as_in_memory(sampled, batch, method):
    scores, labels, scores_path, labels_path = batch
    _, (result,) = check_path(scores_path, labels_path, ["stable"], method=method)
    _, (memory,) = checker.check_all(["stable"], scores, labels, method=method)
    assert result.verdict == memory.verdict == "pass"
    assert set(result.judged_by) == set(memory.judged_by) == {method}
    assert result.unjudged <= memory.unjudged  # central alone: the tiny entries, never a pass
    assert sum(result.judged_by.values()) + result.unjudged == result.entries_checked


def test_the_directional_reference_is_vT_times_the_complex_step_gradient(sampled, batch):
    scores, labels, scores_path, labels_path = batch
    _, (result,) = check_path(scores_path, labels_path, ["stable"], seed=11)
    rng = np.random.default_rng(11)
    blockwise.sample_other_entries(labels, C, rng)  # the draws check_file makes first
    root = int(rng.integers(2**63))
    exact = numeric.complex_step(scores, labels)
    analytic = softmax.stable(scores, labels)[1]
    for k, record in enumerate(result.directional):
        v = np.concatenate(
            [
                np.random.default_rng(np.random.SeedSequence(root, spawn_key=(0, k, b))).random(
                    (min(ROWS_PER_BLOCK, N - start), C)
                )
                for b, start in enumerate(range(0, N, ROWS_PER_BLOCK))
            ]
        )
        v -= 0.5
        assert record["numerical"] == pytest.approx(float(np.sum(v * exact)), rel=1e-12)
        assert record["analytic"] == pytest.approx(float(np.sum(v * analytic)), rel=1e-12)


def test_overflowing_seed_implementations_fail_as_in_memory(small_blocks, tmp_path, batch):
    scores, labels = batch[0].copy(), batch[1]
    scores[1700, 3] = 1000.0
    scores[300, 0] = 995.0
    np.save(tmp_path / "big.npy", scores)
    _, results = check_path(tmp_path / "big.npy", batch[3], BUILT_INS)
    _, in_memory = checker.check_all(BUILT_INS, scores, labels)
    for block, memory in zip(results, in_memory, strict=True):
        assert block.verdict == memory.verdict
        assert block.reason == memory.reason  # "overflow in exp: 24 gradient entries are nan..."
    assert [r.verdict for r in results] == ["fail", "fail", "fail", "pass"]


def test_a_float32_file_is_checked_in_float32(sampled, tmp_path, batch):
    np.save(tmp_path / "f32.npy", batch[0].astype(np.float32))
    reference, (stable, vectorized) = check_path(
        tmp_path / "f32.npy", batch[3], ["stable", "vectorized"]
    )
    assert reference.scores.dtype == np.float32 and reference.scores.shape == (N, C)
    assert (stable.verdict, vectorized.verdict) == ("pass", "pass")
    assert stable.dtype == "float32"


def test_the_same_seed_gives_the_same_check_and_another_seed_another(sampled, batch):
    first = check_path(batch[2], batch[3], ["stable"], seed=5)[1][0]
    again = check_path(batch[2], batch[3], ["stable"], seed=5)[1][0]
    other = check_path(batch[2], batch[3], ["stable"], seed=6)[1][0]
    assert without_seconds(first) == without_seconds(again)
    assert first.directional != other.directional
    labels = batch[1]
    sample = blockwise.sample_other_entries(labels, C, np.random.default_rng(5))
    assert not np.array_equal(
        sample, blockwise.sample_other_entries(labels, C, np.random.default_rng(6))
    )


def test_medians_are_exact_up_to_the_reservoir_then_of_a_seeded_uniform_sample(monkeypatch):
    values = np.random.default_rng(0).permutation(10_000).astype(float)

    def medians(seed):
        reservoir = blockwise._Reservoir(np.random.default_rng(seed))
        for chunk in np.array_split(values, 37):
            reservoir.add(chunk, -chunk)
        return reservoir, reservoir.medians()

    assert medians(1)[1] == (4999.5, -4999.5)  # 10000 pairs fit: exact
    monkeypatch.setattr(blockwise, "MEDIAN_SAMPLE", 500)
    reservoir, (relative, absolute) = medians(1)
    kept = reservoir.values[: reservoir.count]
    assert reservoir.count == 500 and len(np.unique(kept[:, 0])) == 500
    assert np.array_equal(kept[:, 1], -kept[:, 0])  # pairs stay pairs
    assert abs(relative - 4999.5) < 700 and absolute == -relative  # 500 of 10000, uniformly
    assert medians(1)[1] == (relative, absolute) != medians(2)[1]  # seeded


# --- what each part catches ---------------------------------------------------------------------


def _label_entries_off(scores, labels):
    loss, dscores = softmax.stable(scores, labels)
    dscores[np.arange(len(labels)), labels] *= 1 + 1e-3
    return loss, dscores


def _other_entries_off(scores, labels):
    loss, dscores = softmax.stable(scores, labels)
    at_labels = (np.arange(len(labels)), labels)
    kept = dscores[at_labels].copy()
    dscores *= 1 + 1e-3
    dscores[at_labels] = kept
    return loss, dscores


def test_wrong_label_entries_are_caught_by_the_label_part(monkeypatch, sampled, batch):
    monkeypatch.setattr(blockwise, "OTHER_SAMPLE", 0)
    monkeypatch.setattr(blockwise, "DIRECTIONS", 0)
    implementation = register(monkeypatch, label_entries_off=_label_entries_off)
    _, (result,) = check_path(batch[2], batch[3], implementation)
    assert result.verdict == "fail"
    assert result.reason.startswith(f"{N} of {N} entries outside tolerance")
    assert all(w.column == batch[1][w.row] for w in result.worst)


def test_wrong_other_entries_are_caught_by_the_sample(monkeypatch, sampled, batch):
    monkeypatch.setattr(blockwise, "DIRECTIONS", 0)
    implementation = register(monkeypatch, other_entries_off=_other_entries_off)
    _, (result,) = check_path(batch[2], batch[3], implementation)
    sample = blockwise.sample_other_entries(batch[1], C, np.random.default_rng(1))
    assert result.verdict == "fail"
    assert result.reason.startswith(f"{sample.size} of {N + sample.size} entries outside")
    assert all(w.column != batch[1][w.row] for w in result.worst)


def test_one_wrong_entry_outside_the_sample_is_caught_and_found_by_the_directions(
    monkeypatch, sampled, batch
):
    scores, labels, scores_path, labels_path = batch
    monkeypatch.setattr(blockwise, "OTHER_SAMPLE", 20)
    row = 1777
    column = int((labels[row] + 5) % C)
    sample = blockwise.sample_other_entries(labels, C, np.random.default_rng(1))
    assert row * C + column not in sample

    def one_entry_off(block_scores, block_labels):
        loss, dscores = softmax.stable(block_scores, block_labels)
        hit = np.flatnonzero((block_scores == scores[row]).all(axis=1))
        dscores[hit, column] *= 1 + 1e-4  # 1e-4 relative on one entry of 28800
        return loss, dscores

    implementation = register(monkeypatch, one_entry_off=one_entry_off)
    _, (result,) = check_path(scores_path, labels_path, implementation)
    assert result.verdict == "fail"
    assert any(d["ratio"] > 1 for d in result.directional)
    assert "random directions outside tolerance" in result.reason
    assert (result.worst[0].row, result.worst[0].column) == (row, column)
    assert "rows of failed directions checked entry by entry" in result.coverage


def test_a_float32_computation_is_a_warn_not_a_fail(monkeypatch, sampled, batch):
    def in_float32(scores, labels):
        loss, dscores = softmax.stable(scores.astype(np.float32), labels)
        return loss, dscores.astype(np.float64)

    implementation = register(monkeypatch, in_float32=in_float32)
    _, (result,) = check_path(batch[2], batch[3], implementation)
    assert result.verdict == "warn"
    assert "correct to float32 precision only" in result.reason


def test_only_built_in_implementations_are_called_block_by_block(sampled, batch):
    with pytest.raises(ImplementationError, match="only those are called block by block"):
        check_path(batch[2], batch[3], [("mine", lambda s, y: softmax.stable(s, y))])


def test_an_implementation_that_raises_fails_with_the_rows_it_was_called_on(
    monkeypatch, sampled, batch
):
    def breaks_later(scores, labels):
        if scores.shape[0] < ROWS_PER_BLOCK:
            raise ValueError("short block")
        return softmax.stable(scores, labels)

    implementation = register(monkeypatch, breaks_later=breaks_later)
    _, (result,) = check_path(batch[2], batch[3], implementation)
    assert result.verdict == "fail"
    assert (
        result.reason
        == "raised ValueError: short block (called on rows 2000 to 2399, block by block)"
    )
    assert "breaks_later" in result.user_traceback


# --- the pieces that stand in for in-memory functions -------------------------------------------


@pytest.mark.parametrize("size", [3.0, 100.0, 1e4])
def test_the_label_pieces_equal_the_in_memory_functions(batch, size):
    # A block of 300 rows of a batch of N: the complex step and central difference of each
    # label entry, their error bounds and its tolerances, computed per row as numeric and
    # verdict compute them per entry, at score sizes where the tolerance caps bite.
    scores, labels = batch[0][:300] * size / 3.0, batch[1][:300]
    stats = numeric.row_statistics(scores, labels)
    at_labels = (np.arange(300), labels)
    exact = numeric.complex_step(scores, labels) * (300 / N)
    label_exact = blockwise._label_complex_step(stats, N)
    assert np.allclose(label_exact, exact[at_labels], rtol=4e-16, atol=0)
    bound = numeric.complex_step_error(scores, exact)[at_labels]
    spread = scores.max(axis=1) - scores.min(axis=1)
    kappa = 2.0 + np.minimum(spread, 746.0) + np.sqrt(C)
    floor = np.finfo(np.float64).smallest_subnormal / numeric._LARGEST_COMPLEX_STEP
    assert np.allclose(4.0 * numeric.EPS * kappa * np.abs(label_exact) + floor, bound, rtol=1e-15)
    central = numeric.central_difference(scores, labels)
    label_central, label_error = blockwise._label_central_difference(stats, None, N)
    assert np.allclose(label_central, central.gradient[at_labels] * (300 / N), rtol=1e-15)
    assert np.allclose(label_error, central.error[at_labels] * (300 / N), rtol=1e-15)
    for dtype in (np.float64, np.float32, np.float16):
        typed = scores.astype(dtype)
        wide = typed.astype(np.float64)
        tiers = (np.dtype(dtype),) + ((np.dtype(np.float32),) if dtype == np.float64 else ())
        relative = blockwise._relative(wide.max(axis=1), wide.min(axis=1), C, tiers)
        expected = [entry_tolerance(exact, typed, labels, N, dtype)]
        if dtype == np.float64:
            expected.append(entry_tolerance(exact, typed, labels, N, np.float32, loosest=LOOSEST))
        for per_row, tolerance in zip(relative, expected, strict=True):
            assert np.allclose(per_row / N, tolerance[at_labels], rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("size", [3.0, 1e4])
@pytest.mark.parametrize("offset", [0.0, 1e-15, 1e-9, 1e-5, 1e-3, 0.2])
def test_judge_loss_of_size_is_judge_loss(batch, dtype, size, offset):
    scores = (batch[0] * size / 3.0).astype(dtype)
    reference = numeric.reference_loss(scores, batch[1])
    loss = reference * (1 + offset)
    expected = judge_loss(loss, reference, scores, np.dtype(dtype))
    maximum = float(np.max(np.abs(scores)))
    shape = (N, C)
    assert verdict.judge_loss_of_size(loss, reference, shape, maximum, np.dtype(dtype)) == expected
    nan = verdict.judge_loss_of_size(math.nan, reference, shape, maximum, np.dtype(dtype))
    assert nan == ("fail", "loss is nan")


# --- choosing the path, and the command line ----------------------------------------------------


def test_the_plan_picks_blockwise_only_for_large_npy_files_of_built_ins(
    monkeypatch, small_blocks, batch, tmp_path
):
    stable = checker.resolve("stable")
    assert isinstance(blockwise.plan(batch[2], [stable], against="reference"), blockwise.NpyBlocks)
    np.savetxt(tmp_path / "s.csv", batch[0], delimiter=",")
    assert blockwise.plan(tmp_path / "s.csv", [stable], against="reference") is None
    assert blockwise.plan("-", [stable], against="reference") is None
    monkeypatch.setattr(_names, "LARGE_INPUT_BYTES", 10**9)
    assert blockwise.plan(batch[2], [stable], against="reference") is None


def test_a_user_function_on_a_large_file_is_checked_in_memory_when_it_fits(
    monkeypatch, runner, small_blocks, batch
):
    monkeypatch.setattr(blockwise, "available_memory", lambda: 10**12)
    result = runner.invoke(main, ["run", batch[2], batch[3], "--impl", MY_SOFTMAX])
    assert result.exit_code == 0, result.stderr
    assert "block by block" not in result.stdout
    assert f"all {N * C} entries" in result.stdout.replace("\n", " ")


@pytest.mark.parametrize(
    ("extra", "who"),
    [
        (["--impl", MY_SOFTMAX], "my_softmax"),
        (["--impl", "stable", "--against", "own"], "--against own"),
    ],
)
def test_what_needs_the_whole_large_file_is_refused_when_it_does_not_fit(
    monkeypatch, runner, small_blocks, batch, extra, who
):
    monkeypatch.setattr(blockwise, "available_memory", lambda: 100_000)
    result = runner.invoke(main, ["run", batch[2], batch[3], *extra])
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: {batch[2]}: 230.4 KB of scores is too large to check {who}")
    assert "--impl stable" in line and "Traceback" not in result.stderr


def test_run_checks_a_large_file_block_by_block_and_says_so(runner, sampled, batch):
    result = runner.invoke(main, ["run", batch[2], batch[3], "--impl", "stable", "--impl", "rows"])
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "stable: checked block by block (5 blocks of up to 500 rows)" in text
    sample = blockwise.sample_other_entries(batch[1], C, np.random.default_rng(0))  # --seed 0
    assert f"the label entry of all {N} rows and {sample.size} sampled other entries by" in text
    assert "4 random directions" in text
    assert "Summary: 2 implementations checked: 2 pass" in text


def test_run_json_of_a_large_file_carries_the_coverage_and_the_directions(runner, sampled, batch):
    result = runner.invoke(main, ["run", batch[2], batch[3], "--impl", "stable", "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    (entry,) = document["implementations"]
    assert document["N"] == N and document["C"] == C and document["sampled"] is True
    assert entry["coverage"].startswith("checked block by block")
    assert len(entry["directional"]) == blockwise.DIRECTIONS
    assert set(entry["directional"][0]) == {"analytic", "numerical", "allowed", "ratio"}
    assert entry["entries_checked"] > N and entry["verdict"] == "pass"


def test_run_fails_a_wrong_built_in_on_a_large_file_with_exit_1(
    monkeypatch, runner, sampled, batch
):
    register(monkeypatch, other_entries_off=_other_entries_off)
    result = runner.invoke(main, ["run", batch[2], batch[3], "--impl", "other_entries_off"])
    assert result.exit_code == 1
    assert "✗ FAIL other_entries_off" in result.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("nan", "non-finite score(s); the first is nan at row 1500, column 2"),
        ("labels", "has 2399 labels but"),
        ("range", "label 12 at row 7 is out of range [0, 12)"),
        ("missing", "labels are missing"),
        ("heatmap", "--heatmap and --plot need every entry's error in memory"),
        ("samples", "--samples 5000 is more than the 1000 entries"),
    ],
)
def test_bad_large_inputs_exit_2_with_one_line(
    monkeypatch, runner, sampled, tmp_path, batch, change, expected
):
    scores, labels = batch[0].copy(), batch[1].copy()
    args = []
    if change == "nan":
        scores[1500, 2] = np.nan
    elif change == "labels":
        labels = labels[:-1]
    elif change == "range":
        labels[7] = C
    elif change == "heatmap":
        args = ["--heatmap"]
    elif change == "samples":
        monkeypatch.setattr(blockwise, "MAX_SAMPLES", 1000)
        args = ["--samples", "5000"]
    np.save(tmp_path / "s.npy", scores)
    np.save(tmp_path / "y.npy", labels)
    files = [str(tmp_path / "s.npy")] + ([] if change == "missing" else [str(tmp_path / "y.npy")])
    result = runner.invoke(main, ["run", *files, "--impl", "stable", *args])
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and expected in line
    assert "Traceback" not in result.stderr


def test_progress_is_reported_block_by_block(small_blocks, batch):
    _, _, scores_path, labels_path = batch
    seen = []
    check_path(scores_path, labels_path, ["stable"], progress=lambda done, total: seen.append(done))
    assert seen == [500, 1000, 1500, 2000, 2400]


def test_run_with_no_progress_still_checks_a_large_file(small_blocks, batch, runner):
    from gradcheck_cli.cli import main

    _, _, scores_path, labels_path = batch
    arguments = ["run", scores_path, labels_path, "--impl", "stable", "--no-progress"]
    result = runner.invoke(main, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "PASS" in result.stdout
