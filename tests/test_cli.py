"""The `gradcheck` command end to end: exit codes, stdout and stderr, each asserted on its own."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli import __version__, check, stable
from gradcheck_cli import checker as checker_module
from gradcheck_cli.cli import exit_code, main
from gradcheck_cli.softmax import IMPLEMENTATIONS

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SCORES_NPY = str(EXAMPLES / "scores.npy")
LABELS_NPY = str(EXAMPLES / "labels.npy")
BUILT_INS = list(IMPLEMENTATIONS)
SEED_THREE = ["loops", "rows", "vectorized"]
RESULT_KEYS = {
    "name",
    "verdict",
    "reason",
    "loss",
    "reference_loss",
    "max_rel_error",
    "median_rel_error",
    "max_abs_error",
    "median_abs_error",
    "worst",
    "method",
    "entries_checked",
    "seconds",
}
WORST_KEYS = {"row", "column", "analytic", "numerical"}


def strict_json(text):
    """Parse ``text`` as strict JSON: NaN and Infinity are not JSON and must not appear."""

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant!r} in the document")

    return json.loads(text, parse_constant=refuse)


def run_json(runner, *args):
    """Invoke ``gradcheck run ARGS --json`` and return (result, parsed document)."""
    result = runner.invoke(main, ["run", *args, "--json"], catch_exceptions=False)
    return result, strict_json(result.stdout)


def worst_positions(document):
    return [
        [(w["row"], w["column"], w["analytic"], w["numerical"]) for w in entry["worst"]]
        for entry in document["implementations"]
    ]


def assert_usage_error(result, option):
    """Exit 2, nothing on stdout, click's usage message naming ``option`` on stderr."""
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert f"'{option}'" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error:")


def assert_input_error(result, *names):
    """Exit 2, nothing on stdout, exactly one ``Error:`` line on stderr naming ``names``."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error:")
    for name in names:
        assert name in lines[0]


# --- the shipped examples ---------------------------------------------------------------------


def test_run_on_shipped_examples_passes_every_implementation(runner):
    result = runner.invoke(main, ["run", SCORES_NPY, LABELS_NPY], catch_exceptions=False)
    assert result.exit_code == 0
    for name in BUILT_INS:
        assert name in result.stdout
    assert "PASS" in result.stdout
    assert "FAIL" not in result.stdout
    assert "N=500 C=10" in result.stdout
    assert "Summary: 4 implementations checked: 4 pass" in result.stdout
    assert result.stderr == ""


def test_csv_examples_give_the_same_losses_as_npy(runner):
    _, from_npy = run_json(runner, SCORES_NPY, LABELS_NPY)
    _, from_csv = run_json(runner, str(EXAMPLES / "scores.csv"), str(EXAMPLES / "labels.csv"))
    losses_npy = [entry["loss"] for entry in from_npy["implementations"]]
    losses_csv = [entry["loss"] for entry in from_csv["implementations"]]
    assert losses_csv == losses_npy
    assert from_csv["implementations"][0]["reference_loss"] == pytest.approx(
        from_npy["implementations"][0]["reference_loss"], rel=1e-15
    )
    assert (from_csv["N"], from_csv["C"]) == (from_npy["N"], from_npy["C"]) == (500, 10)


def test_scores_from_stdin_match_the_file(runner, batch_files):
    text = Path(batch_files.scores_csv).read_text()
    result = runner.invoke(
        main,
        ["run", "-", batch_files.labels_csv, "--impl", "stable", "--json"],
        input=text,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    _, from_file = run_json(
        runner, batch_files.scores_npy, batch_files.labels_npy, "--impl", "stable"
    )
    document = strict_json(result.stdout)
    assert document["scores"] == "-"
    assert document["implementations"][0]["loss"] == from_file["implementations"][0]["loss"]


def test_input_files_are_not_modified(runner, batch_files):
    paths = [batch_files.scores_npy, batch_files.labels_npy]
    before = [Path(p).read_bytes() for p in paths]
    result = runner.invoke(main, ["run", *paths], catch_exceptions=False)
    assert result.exit_code == 0
    assert [Path(p).read_bytes() for p in paths] == before


# --- --json -----------------------------------------------------------------------------------


def test_json_is_one_strict_document_with_the_schema(runner):
    result, document = run_json(runner, SCORES_NPY, LABELS_NPY)
    assert result.exit_code == 0
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    assert document["schema"] == 1
    assert document["command"] == "run"
    assert (document["N"], document["C"], document["dtype"]) == (500, 10, "float64")
    assert document["method"] == "auto"
    assert document["sampled"] is False
    assert [entry["name"] for entry in document["implementations"]] == BUILT_INS
    for entry in document["implementations"]:
        assert RESULT_KEYS <= entry.keys()
        assert entry["verdict"] == "pass"
        assert entry["entries_checked"] == 5000
        assert isinstance(entry["worst"], list) and entry["worst"]
        for worst in entry["worst"]:
            assert isinstance(worst, dict)
            assert WORST_KEYS <= worst.keys()
            assert 0 <= worst["row"] < 500 and 0 <= worst["column"] < 10


def test_json_summary_goes_to_stderr_only(runner):
    result, _ = run_json(runner, SCORES_NPY, LABELS_NPY)
    assert "Summary" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0] == "Summary: 4 implementations checked: 4 pass"


def test_json_top_limits_worst_entries(runner, batch_files):
    _, document = run_json(runner, batch_files.scores_npy, batch_files.labels_npy, "--top", "2")
    assert all(len(entry["worst"]) == 2 for entry in document["implementations"])


# --- overflow: the seed's three fail, stable passes ------------------------------------------


def test_large_scores_fail_the_unshifted_implementations_in_the_table(runner, large_scores_files):
    files = large_scores_files
    result = runner.invoke(
        main, ["run", files.scores_npy, files.labels_npy], catch_exceptions=False
    )
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    for name in SEED_THREE:
        detail = [line for line in lines if line.startswith(f"✗ FAIL {name}:")]
        assert len(detail) == 1, result.stdout
        assert "overflow in exp" in detail[0]
    stable_rows = [line for line in lines if line.split()[:1] == ["stable"]]
    assert len(stable_rows) == 1 and "PASS" in stable_rows[0]
    assert "Summary: 4 implementations checked: 1 pass, 3 fail" in result.stdout
    assert result.stderr == ""


def test_large_scores_reasons_in_json(runner, large_scores_files):
    files = large_scores_files
    result, document = run_json(runner, files.scores_npy, files.labels_npy)
    assert result.exit_code == 1
    verdicts = {entry["name"]: entry for entry in document["implementations"]}
    for name in SEED_THREE:
        assert verdicts[name]["verdict"] == "fail"
        assert "overflow in exp" in verdicts[name]["reason"]
        # nan errors become null, so the document stays strict JSON
        assert verdicts[name]["max_rel_error"] is None
    assert verdicts["stable"]["verdict"] == "pass"
    assert verdicts["stable"]["loss"] == pytest.approx(verdicts["stable"]["reference_loss"])
    assert result.stderr.strip() == "Summary: 4 implementations checked: 1 pass, 3 fail"


def test_large_scores_stable_alone_exits_0(runner, large_scores_files):
    files = large_scores_files
    result = runner.invoke(
        main,
        ["run", files.scores_npy, files.labels_npy, "--impl", "stable"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert "stable" in result.stdout and "PASS" in result.stdout
    for name in SEED_THREE:
        assert name not in result.stdout


# --- inputs and options -----------------------------------------------------------------------


def test_npz_with_labels_omitted(runner, tmp_path, tiny_batch):
    scores, labels = tiny_batch
    path = tmp_path / "batch.npz"
    np.savez(path, scores=scores, labels=labels)
    result, document = run_json(runner, str(path), "--impl", "stable")
    assert result.exit_code == 0
    assert document["labels"] is None
    assert (document["N"], document["C"]) == scores.shape
    assert document["implementations"][0]["verdict"] == "pass"


def test_impl_is_repeatable_and_keeps_order(runner, batch_files):
    _, document = run_json(
        runner, batch_files.scores_npy, batch_files.labels_npy, "--impl", "stable", "--impl", "rows"
    )
    assert [entry["name"] for entry in document["implementations"]] == ["stable", "rows"]


@pytest.mark.parametrize("method", ["central", "complex"])
def test_method_choice_reaches_the_check(runner, method):
    result, document = run_json(runner, SCORES_NPY, LABELS_NPY, "--method", method)
    assert result.exit_code == 0, result.stderr
    assert document["method"] == method
    for entry in document["implementations"]:
        assert entry["verdict"] == "pass"
        assert entry["method"] == method
        assert set(entry["judged_by"]) == {method}
        assert sum(entry["judged_by"].values()) + entry["unjudged"] == 5000


def test_method_complex_table_caption(runner, batch_files):
    result = runner.invoke(
        main,
        ["run", batch_files.scores_npy, batch_files.labels_npy, "--method", "complex"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert "errors against the complex step" in result.stdout


def test_samples_and_seed_spot_check(runner):
    args = (SCORES_NPY, LABELS_NPY, "--samples", "7", "--seed", "3")
    result, first = run_json(runner, *args)
    assert result.exit_code == 0
    assert first["sampled"] is True and first["seed"] == 3
    for entry in first["implementations"]:
        assert entry["entries_checked"] == 7
        assert entry["sampled"] is True
    _, again = run_json(runner, *args)
    assert worst_positions(again) == worst_positions(first)
    _, other = run_json(runner, SCORES_NPY, LABELS_NPY, "--samples", "7", "--seed", "4")
    assert other["implementations"][0]["entries_checked"] == 7
    rows_first = {w[0] for entry in worst_positions(first) for w in entry}
    rows_other = {w[0] for entry in worst_positions(other) for w in entry}
    assert rows_first != rows_other  # the seed picks the sample


def test_samples_beyond_the_batch_check_everything(runner, batch_files):
    _, document = run_json(
        runner, batch_files.scores_npy, batch_files.labels_npy, "--samples", "1000"
    )
    assert document["sampled"] is False
    assert all(entry["entries_checked"] == 24 for entry in document["implementations"])


@pytest.mark.parametrize("method", ["auto", "central"])
def test_h_option(runner, method):
    result, document = run_json(runner, SCORES_NPY, LABELS_NPY, "--h", "1e-4", "--method", method)
    assert result.exit_code == 0, result.stderr
    assert document["h"] == 1e-4
    assert all(entry["verdict"] == "pass" for entry in document["implementations"])


# --- --strict and the exit code ---------------------------------------------------------------


@pytest.fixture
def verdicts(tiny_batch):
    """Three CheckResults, one per verdict, made from a real result of `stable`."""
    real = check("stable", *tiny_batch)
    assert real.verdict == "pass"
    return {v: dataclasses.replace(real, verdict=v) for v in ("pass", "warn", "fail")}


@pytest.mark.parametrize(
    ("names", "strict", "expected"),
    [
        ((), False, 0),
        (("pass",), False, 0),
        (("pass",), True, 0),
        (("pass", "warn"), False, 0),
        (("pass", "warn"), True, 1),
        (("warn", "warn"), True, 1),
        (("pass", "fail"), False, 1),
        (("fail",), True, 1),
    ],
)
def test_exit_code(verdicts, names, strict, expected):
    assert exit_code([verdicts[name] for name in names], strict) == expected


def _float32_gradient(scores, labels):
    loss, dscores = stable(scores, labels)
    return loss, dscores.astype(np.float32)


def test_strict_turns_a_warn_into_exit_1(runner, batch_files, monkeypatch):
    # A gradient correct to float32 only, on float64 scores, is a warn; register it by name.
    table = {**IMPLEMENTATIONS, "float32": _float32_gradient}
    monkeypatch.setattr(checker_module, "IMPLEMENTATIONS", table)
    args = ["run", batch_files.scores_npy, batch_files.labels_npy, "--impl", "float32"]
    lenient = runner.invoke(main, args, catch_exceptions=False)
    assert lenient.exit_code == 0
    assert "WARN" in lenient.stdout
    assert "float32 precision only" in lenient.stdout
    strict = runner.invoke(main, [*args, "--strict"], catch_exceptions=False)
    assert strict.exit_code == 1
    assert "warn fails under --strict" in strict.stdout
    result, document = run_json(runner, *args[1:], "--strict")
    assert result.exit_code == 1
    assert document["strict"] is True
    assert document["implementations"][0]["verdict"] == "warn"


# --- usage and input errors: exit 2, never a traceback ----------------------------------------


def test_unknown_impl(runner, batch_files):
    args = ["run", batch_files.scores_npy, batch_files.labels_npy, "--impl", "nope"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert_usage_error(result, "--impl")
    assert "nope" in result.stderr and "stable" in result.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [("--method", "bogus"), ("--samples", "0"), ("--h", "0"), ("--h", "2"), ("--top", "0")],
)
def test_bad_option_values(runner, batch_files, option, value):
    args = ["run", batch_files.scores_npy, batch_files.labels_npy, option, value]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert_usage_error(result, option)


def test_missing_scores_file(runner, tmp_path, batch_files):
    missing = str(tmp_path / "no_such_scores.npy")
    result = runner.invoke(main, ["run", missing, batch_files.labels_npy], catch_exceptions=False)
    assert_input_error(result, "no_such_scores.npy")


def test_missing_labels_file(runner, tmp_path, batch_files):
    missing = str(tmp_path / "no_such_labels.npy")
    result = runner.invoke(main, ["run", batch_files.scores_npy, missing], catch_exceptions=False)
    assert_input_error(result, "no_such_labels.npy")


def test_ragged_csv(runner, tmp_path):
    scores = tmp_path / "ragged.csv"
    scores.write_text("1,2,3\n4,5\n")
    labels = tmp_path / "labels.csv"
    labels.write_text("0\n1\n")
    result = runner.invoke(main, ["run", str(scores), str(labels)], catch_exceptions=False)
    assert_input_error(result, "ragged.csv")


def test_labels_out_of_range(runner, tmp_path, batch_files):
    labels = tmp_path / "bad_labels.npy"
    np.save(labels, np.array([0, 1, 2, 3, 4, 0]))  # C is 4
    result = runner.invoke(
        main, ["run", batch_files.scores_npy, str(labels)], catch_exceptions=False
    )
    assert_input_error(result, "bad_labels.npy", "out of range")


def test_label_count_mismatch(runner, tmp_path, batch_files):
    labels = tmp_path / "short_labels.npy"
    np.save(labels, np.array([0, 1, 2]))  # N is 6
    result = runner.invoke(
        main, ["run", batch_files.scores_npy, str(labels)], catch_exceptions=False
    )
    assert_input_error(result, "short_labels.npy")
    assert "3" in result.stderr and "6" in result.stderr


def test_labels_omitted_for_npy(runner, batch_files):
    result = runner.invoke(main, ["run", batch_files.scores_npy], catch_exceptions=False)
    assert_input_error(result, "scores.npy", "labels")


# --- help, version, colour --------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_group_help_shows_examples(runner, flag):
    result = runner.invoke(main, [flag], catch_exceptions=False)
    assert result.exit_code == 0
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert any(line.startswith("gradcheck run scores.npy labels.npy") for line in lines)
    assert "gradcheck run scores.csv labels.csv --impl stable --json" in lines
    assert "run" in result.stdout
    assert result.stderr == ""


def test_run_help_shows_examples_and_options(runner):
    result = runner.invoke(main, ["run", "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "gradcheck run examples/scores.npy examples/labels.npy" in lines
    assert "gradcheck run batch.npz --method complex --json" in lines
    for option in ("--impl", "--method", "--h", "--samples", "--seed", "--strict", "--json"):
        assert option in result.stdout
    assert result.stderr == ""


def test_version(runner):
    result = runner.invoke(main, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout.strip() == f"gradcheck, version {__version__}"


def test_no_color_means_no_ansi_escapes(runner, batch_files):
    args = ["run", batch_files.scores_npy, batch_files.labels_npy]
    for env in ({"NO_COLOR": "1"}, {}):
        result = runner.invoke(main, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0
        assert "PASS" in result.stdout
        assert "\x1b[" not in result.stdout
        assert "\x1b[" not in result.stderr


def test_no_color_json_has_no_ansi_in_summary(runner, batch_files):
    result = runner.invoke(
        main,
        ["run", batch_files.scores_npy, batch_files.labels_npy, "--json"],
        env={"NO_COLOR": "1"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert "\x1b[" not in result.stdout + result.stderr


# --- through the installed entry point --------------------------------------------------------

GRADCHECK = shutil.which("gradcheck")
needs_entry_point = pytest.mark.skipif(
    GRADCHECK is None, reason="the `gradcheck` entry point is not installed (run `pip install .`)"
)


def run_process(*command):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env["COLUMNS"] = "80"
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@needs_entry_point
def test_entry_point_runs_the_readme_command():
    process = run_process(GRADCHECK, "run", "examples/scores.npy", "examples/labels.npy")
    assert process.returncode == 0, process.stderr
    assert "Summary: 4 implementations checked: 4 pass" in process.stdout
    assert process.stderr == ""


@needs_entry_point
def test_entry_point_missing_file_is_one_error_line():
    process = run_process(GRADCHECK, "run", "no_such_file.npy", "examples/labels.npy")
    assert process.returncode == 2
    assert process.stdout == ""
    assert "Traceback" not in process.stderr
    lines = process.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error:") and "no_such_file.npy" in lines[0]


@needs_entry_point
def test_entry_point_json_is_strict():
    process = run_process(
        GRADCHECK, "run", "examples/scores.npy", "examples/labels.npy", "--impl", "stable", "--json"
    )
    assert process.returncode == 0, process.stderr
    assert strict_json(process.stdout)["schema"] == 1
    assert process.stderr.startswith("Summary:")


def test_python_dash_m_version():
    process = run_process(sys.executable, "-m", "gradcheck_cli", "--version")
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == f"gradcheck, version {__version__}"
    assert process.stderr == ""


def test_heatmap_draws_the_error_grid_and_names_the_diagnosis(runner, batch_files, tmp_path):
    user = tmp_path / "unscaled.py"
    user.write_text(
        "from gradcheck_cli.softmax import stable\n"
        "def grad(s, y):\n"
        "    loss, d = stable(s, y)\n"
        "    return loss, d * s.shape[0]\n"
    )
    arguments = ["run", batch_files.scores_npy, batch_files.labels_npy, "--impl", f"{user}:grad"]
    result = runner.invoke(main, [*arguments, "--heatmap"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "diagnosis: analytic ≈ 6 × numerical on every entry (N = 6)" in result.stdout
    assert "within tolerance" in result.stdout and "≤ 10^k × tolerance" in result.stdout
    document = strict_json(runner.invoke(main, [*arguments, "--json"]).stdout)
    assert document["implementations"][0]["diagnosis"][0]["kind"] == "missing_1_over_n"


def test_plot_writes_one_png_per_implementation(runner, batch_files, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "errors.png"
    arguments = ["run", batch_files.scores_npy, batch_files.labels_npy, "--plot", str(target)]
    result = runner.invoke(main, [*arguments, "--impl", "stable"], catch_exceptions=False)
    assert result.exit_code == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    both = runner.invoke(main, [*arguments, "--impl", "rows", "--impl", "stable"])
    assert both.exit_code == 0
    assert (tmp_path / "errors-rows.png").exists() and (tmp_path / "errors-stable.png").exists()


def test_plot_without_matplotlib_is_one_line_exit_2(runner, batch_files, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    arguments = ["run", batch_files.scores_npy, batch_files.labels_npy, "--impl", "stable"]
    result = runner.invoke(main, [*arguments, "--plot", str(tmp_path / "e.png")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: --plot:") and "pip install" in lines[-1]
    assert "Traceback" not in result.stderr


def test_quiet_prints_only_the_summary_line(runner, batch_files):
    arguments = ["run", batch_files.scores_npy, batch_files.labels_npy, "--quiet"]
    result = runner.invoke(main, arguments, catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout.strip().splitlines() == ["Summary: 4 implementations checked: 4 pass"]
    one = runner.invoke(main, [*arguments, "--impl", "vectorized"], catch_exceptions=False)
    assert one.stdout.strip() == "Summary: 1 implementation checked: 1 pass"


@pytest.mark.parametrize(
    ("command", "summary"),
    [("net", "Summary: network PASS"), ("linear", "Summary: 1 implementation checked: 1 pass")],
)
def test_net_and_linear_quiet_print_only_the_summary(runner, command, summary):
    result = runner.invoke(main, [command, "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(summary)
