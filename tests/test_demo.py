"""`gradcheck demo`: the data it shows, its negative controls caught, and --save feeding `run`."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradcheck_cli import numeric, stable
from gradcheck_cli.cli import main
from gradcheck_cli.demo import (
    BATCH_SHAPE,
    demo_batch,
    missing_one_over_n,
    run_demo,
    save_batch,
    wrong_label_entry,
)
from gradcheck_cli.softmax import IMPLEMENTATIONS


@pytest.fixture(scope="module")
def demo():
    return run_demo(np.random.default_rng(0))


def test_the_batch_is_tiny_seeded_and_printable():
    scores, labels = demo_batch(np.random.default_rng(5))
    again, _ = demo_batch(np.random.default_rng(5))
    other, _ = demo_batch(np.random.default_rng(6))
    assert scores.shape == BATCH_SHAPE and labels.shape == (BATCH_SHAPE[0],)
    assert np.array_equal(scores, again) and not np.array_equal(scores, other)
    assert np.array_equal(scores, np.round(scores, 1))  # one decimal: shown exactly


def test_softmax_losses_and_gradients_are_the_seeds(demo):
    n = demo.scores.shape[0]
    np.testing.assert_allclose(demo.probabilities.sum(axis=1), 1.0, rtol=1e-15)
    chosen = demo.probabilities[np.arange(n), demo.labels]
    np.testing.assert_allclose(demo.row_losses, -np.log(chosen), rtol=1e-14)
    assert demo.loss == pytest.approx(numeric.reference_loss(demo.scores, demo.labels), rel=1e-15)
    onehot = np.eye(demo.scores.shape[1])[demo.labels]
    np.testing.assert_allclose(demo.numerical, (demo.probabilities - onehot) / n, atol=1e-16)
    for name in IMPLEMENTATIONS:
        np.testing.assert_allclose(demo.gradients[name], demo.numerical, atol=1e-15)
        assert demo.agreement[name] < 1e-14
    np.testing.assert_allclose(demo.central, demo.numerical, atol=1e-9)


def test_every_implementation_passes_and_every_control_is_caught(demo):
    assert [r.verdict for r in demo.results] == ["pass"] * 4
    assert [c.title for c in demo.controls] == ["missing 1/N", "wrong label entry", "no max-shift"]
    assert all(control.result.verdict == "fail" and control.caught for control in demo.controls)
    assert all(control.result.worst for control in demo.controls)
    assert demo.contrast.verdict == "pass"
    assert demo.as_expected


def test_the_controls_are_broken_the_way_they_say(demo):
    scores, labels = demo.scores, demo.labels
    n = scores.shape[0]
    _, right = stable(scores, labels)
    np.testing.assert_allclose(missing_one_over_n(scores, labels)[1], right * n)
    difference = wrong_label_entry(scores, labels)[1] - right
    expected = np.zeros_like(right)
    expected[np.arange(n), labels] = 1 / n
    expected[np.arange(n), (labels + 1) % scores.shape[1]] = -1 / n
    np.testing.assert_allclose(difference, expected, atol=1e-16)
    overflow = demo.controls[2]
    assert overflow.scores.max() > 709.79  # exp overflows there
    assert "overflow" in overflow.result.reason


def test_demo_command_runs_and_shows_every_control_caught(runner, demo):
    result = runner.invoke(main, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stderr == ""
    out = result.stdout
    for title in ("1 · The batch", "2 · Softmax and the loss", "3 · The gradient", "4 · Negative"):
        assert title in out
    assert f"L = (1/N) Σ_i L_i = {demo.loss:.6f}" in out
    assert out.count("✓ PASS") == 5  # four implementations, and stable on the large scores
    assert out.count("✗ FAIL") == 3 and "MISSED" not in out
    assert len(re.findall(r"\s caught\s", out)) == 3  # under each FAIL in the controls table
    for control in demo.controls:
        w = control.result.worst[0]
        assert control.title in out
        assert f"({w.row}, {w.column})" in out
    assert "all three broken gradients are caught" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_demo_seed_changes_the_batch(runner):
    first = runner.invoke(main, ["demo", "--seed", "1"], catch_exceptions=False)
    second = runner.invoke(main, ["demo", "--seed", "2"], catch_exceptions=False)
    assert first.exit_code == second.exit_code == 0
    assert "--seed 1" in first.stdout and first.stdout != second.stdout


def test_demo_save_round_trips_through_run(runner, tmp_path):
    folder = tmp_path / "demo-data" / "nested"
    result = runner.invoke(main, ["demo", "--save", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0
    shown = run_demo(np.random.default_rng(0))
    np.testing.assert_array_equal(np.load(folder / "scores.npy"), shown.scores)
    np.testing.assert_array_equal(np.load(folder / "labels.npy"), shown.labels)
    assert "gradcheck run" in result.stdout and "scores.npy" in result.stdout
    for suffix in ("npy", "csv"):
        args = ["run", str(folder / f"scores.{suffix}"), str(folder / f"labels.{suffix}")]
        checked = runner.invoke(main, args, catch_exceptions=False)
        assert checked.exit_code == 0, checked.output
        assert "Summary: 4 implementations checked: 4 pass" in checked.stdout
        assert "N=4 C=3" in checked.stdout


def test_demo_save_onto_a_file_is_one_line_exit_2(runner, tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a directory", encoding="utf-8")
    result = runner.invoke(main, ["demo", "--save", str(target)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:")
    assert "taken: is a file, not a directory" in lines[0]


def test_save_batch_writes_four_files(tmp_path, demo):
    paths = save_batch(tmp_path / "out", demo.scores, demo.labels)
    assert [p.name for p in paths] == ["scores.npy", "labels.npy", "scores.csv", "labels.csv"]
    np.testing.assert_array_equal(np.loadtxt(paths[2], delimiter=","), demo.scores)
