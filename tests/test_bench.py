"""The timing harness on tiny sizes: records, floors, estimates, JSON, CSV, plot, CLI.

No test asserts a wall-clock time; they assert the structure and bookkeeping
that would break if the harness did.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from gradcheck_cli import bench, cli, numeric, report
from gradcheck_cli.bench import (
    BenchRecord,
    Point,
    benchmark,
    check_methods,
    machine,
    parse_sizes,
    predict,
)
from gradcheck_cli.cli import main
from gradcheck_cli.errors import ImplementationError, InputError
from gradcheck_cli.softmax import stable

PACKAGE = Path(bench.__file__).resolve().parent
REQUIRED_KEYS = {"impl", "N", "C", "median", "floor_exp", "floor_copy", "status"}


def run_bench(implementations=("loops", "stable"), sizes=((8, 3), (4, 3)), **options):
    options = {"rng": np.random.default_rng(0), "repeat": 3, "budget": 10.0} | options
    return benchmark(list(implementations), list(sizes), **options)


def unreachable(*args, **kwargs):
    raise AssertionError("benchmark() ran")


def render(renderable, width=120):
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


@pytest.fixture(scope="module")
def measured():
    """Two implementations at two tiny sizes, every cell measured."""
    return run_bench()


@pytest.fixture(scope="module")
def mixed():
    """A budget so small that everything after the first size is estimated."""
    return run_bench(("rows", "stable"), ((4, 3), (40, 3), (40, 6)), budget=1e-12)


# The harness: records and floors


def test_one_record_per_implementation_and_size_smallest_first(measured):
    assert [(r.N, r.C, r.impl) for r in measured.records] == [
        (4, 3, "loops"),
        (4, 3, "stable"),
        (8, 3, "loops"),
        (8, 3, "stable"),
    ]
    for record in measured.records:
        assert record.status == "measured" and record.kind == "implementation"
        assert record.runs == 3
        assert record.min <= record.median <= record.max
        assert record.iqr >= 0
        assert record.dtype == "float64" and record.note == ""


def test_every_record_carries_its_sizes_floor(measured):
    assert [(f.N, f.C) for f in measured.floors] == [(4, 3), (8, 3)]
    floors = {(f.N, f.C): f for f in measured.floors}
    for record in measured.records:
        floor = floors[record.N, record.C]
        for timing in (floor.exp, floor.copy, floor.exp_inplace):
            assert timing.runs == 3 and 0 < timing.min <= timing.median <= timing.max
        assert record.floor_exp == floor.exp.median
        assert record.floor_copy == floor.copy.median
        assert record.floor_exp_inplace == floor.exp_inplace.median
        assert record.times_exp == pytest.approx(record.median / floor.exp.median)
        assert record.times_copy == pytest.approx(record.median / floor.copy.median)


def test_speedup_is_over_loops(measured):
    for record in measured.records:
        loops = next(
            r for r in measured.records if (r.N, r.C, r.impl) == (record.N, record.C, "loops")
        )
        assert record.speedup_over == "loops"
        assert record.speedup == pytest.approx(loops.median / record.median)


def test_speedup_falls_back_to_rows_when_loops_has_no_figure():
    def loops(scores, labels):  # named like the built-in, and broken
        raise RuntimeError("no loops today")

    result = run_bench((loops, "rows", "stable"), ((4, 3),))
    by_name = {r.impl: r for r in result.records}
    assert by_name["loops"].status == "skipped"
    assert by_name["loops"].speedup is None
    assert by_name["stable"].speedup_over == "rows"
    assert by_name["stable"].speedup == pytest.approx(
        by_name["rows"].median / by_name["stable"].median
    )
    assert run_bench(("stable",), ((4, 3),)).records[0].speedup is None  # no baseline at all


def test_machine_is_recorded(measured):
    assert measured.machine.numpy == np.__version__
    assert measured.machine.cpus >= 1 and measured.machine.blas_threads >= 1
    assert measured.repeat == 3 and measured.budget == 10.0 and measured.seconds > 0


# Nothing hangs, nothing is dropped: estimated and skipped cells


def test_a_tiny_budget_estimates_every_larger_size(mixed):
    first, *later = [r for r in mixed.records if r.impl == "stable"]
    assert (first.N, first.C, first.status, first.runs) == (4, 3, "measured", 1)
    for record in later:
        assert record.status == "estimated"
        assert record.runs == 0 and record.min is None and record.iqr is None
        assert record.median > 0 and record.times_exp == record.median / record.floor_exp
        assert record.note.startswith("estimated from ")
    # With two class counts measured... here only one: scaled by N·C from the largest size.
    assert later[0].note == "estimated from 4×3 (t ∝ N·C)"
    assert later[0].median == pytest.approx(first.median * 10)
    assert later[1].median == pytest.approx(first.median * 20)


def test_estimated_cells_are_marked_in_every_output(mixed):
    table = render(report.bench_table(mixed))
    assert "~" in table
    notes = render(report.bench_notes(mixed))
    assert "40×6 stable: estimated from 4×3" in notes
    assert "4×3 stable" not in notes  # measured cells need no note
    assert "4 estimated" in report.bench_summary(mixed).plain


def test_without_estimates_over_budget_cells_are_skipped():
    result = run_bench(("stable",), ((4, 3), (40, 3)), budget=1e-12, estimate=False)
    first, second = result.records
    assert first.status == "measured"
    assert second.status == "skipped" and second.median is None and second.times_exp is None
    assert second.note.startswith("skipped: over the 1e-12 s budget")
    assert "skipped" in render(report.bench_table(result))


def test_a_probe_predicts_a_size_with_nothing_smaller(monkeypatch):
    monkeypatch.setattr(bench, "PROBE_ENTRIES", 30)
    calls = []

    def counting(scores, labels):
        calls.append(scores.shape)
        return stable(scores, labels)

    (record,) = run_bench((counting,), ((50, 3),), budget=1e-12).records
    assert record.status == "estimated"
    assert record.note == "estimated from a probe of 10×3 (t ∝ N·C)"
    assert set(calls) == {(10, 3)}  # never called at the full size


def test_a_new_class_count_is_probed_before_predicting(monkeypatch):
    monkeypatch.setattr(bench, "PROBE_ENTRIES", 20)
    calls = []

    def counting(scores, labels):
        calls.append(scores.shape)
        return stable(scores, labels)

    small, large = run_bench((counting,), ((4, 3), (40, 6)), budget=1e-12).records
    assert small.status == "measured"  # 12 entries: no probe needed
    assert large.status == "estimated" and "a probe of 3×6" in large.note
    assert (40, 6) not in calls and (3, 6) in calls


def test_a_failing_implementation_is_skipped_with_its_reason():
    def broken(scores, labels):
        raise ValueError("bad\nsecond line")

    def gradient_only(scores, labels):
        return stable(scores, labels)[1]

    def writes_its_input(scores, labels):
        scores -= scores.max()
        return stable(scores, labels)

    result = run_bench((broken, gradient_only, writes_its_input, "stable"), ((4, 3),))
    by_name = {r.impl: r for r in result.records}
    assert by_name["broken"].note == "skipped: raised ValueError: bad"
    assert by_name["gradient_only"].note == (
        "skipped: raised TypeError: returned ndarray, not (loss, dscores)"
    )
    assert "read-only" in by_name["writes_its_input"].note
    for name in ("broken", "gradient_only", "writes_its_input"):
        assert by_name[name].status == "skipped" and by_name[name].median is None
    assert by_name["stable"].status == "measured"


def test_prediction_fits_a_per_row_and_a_per_entry_cost():
    def cost(n, c):
        return 2e-6 * n + 1e-8 * n * c

    points = [Point(n, c, cost(n, c)) for n, c in ((100, 10), (100, 100), (1000, 10))]
    seconds, how = predict(points, 1000, 1000)
    assert seconds == pytest.approx(cost(1000, 1000), rel=1e-9)
    assert how == "100×10, 100×100, 1000×10 (t ≈ a·N + b·N·C)"
    # One class count only: scaled by N·C from the largest size.
    assert predict(points[:1], 200, 10) == (pytest.approx(2 * cost(100, 10)), "100×10 (t ∝ N·C)")
    # A fit with a negative cost (time falling with N) is not trusted.
    falling = [Point(100, 10, 1.0), Point(1000, 20, 0.5)]
    assert predict(falling, 2000, 20)[1] == "1000×20 (t ∝ N·C)"


# Inputs and options


def test_each_sizes_batch_depends_only_on_the_seed_and_the_size():
    seen = {}

    def spy(scores, labels):
        seen.setdefault(scores.shape, (scores.dtype, scores.copy(), labels.copy()))
        return stable(scores, labels)

    run_bench((spy,), ((5, 3),), rng=np.random.default_rng(7))
    alone = seen.pop((5, 3))
    run_bench((spy,), ((2, 2), (5, 3)), rng=np.random.default_rng(7))
    np.testing.assert_array_equal(seen[5, 3][1], alone[1])
    np.testing.assert_array_equal(seen[5, 3][2], alone[2])
    seen.clear()
    run_bench((spy,), ((5, 3),), rng=np.random.default_rng(8))
    assert not np.array_equal(seen[5, 3][1], alone[1])
    seen.clear()
    result = run_bench((spy,), ((5, 3),), dtype="float32")
    assert seen[5, 3][0] == np.float32 and result.records[0].dtype == "float32"


def test_checks_time_the_reference_methods():
    result = run_bench(("stable",), ((6, 4),), checks=True)
    kinds = {r.impl: r.kind for r in result.records}
    expected = {"complex_step", "central_difference", "sampled"}
    if hasattr(numeric, "directional_derivative"):
        expected.add("directional")
    assert kinds == {"stable": "implementation"} | dict.fromkeys(expected, "check")
    for record in result.records:
        assert record.status == "measured", record.note
        assert record.speedup is None
    assert set(check_methods()) == expected


def test_duplicates_are_timed_once():
    result = run_bench(("stable", "stable"), ((4, 3), (4, 3)))
    assert [(r.N, r.C, r.impl) for r in result.records] == [(4, 3, "stable")]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sizes": []}, r"^`sizes` must be a non-empty list"),
        ({"sizes": [(0, 3)]}, r"^`sizes` must be a non-empty list .* positive N and C"),
        ({"repeat": 0}, r"^`repeat` must be a positive integer\.$"),
        ({"budget": 0.0}, r"^`budget` must be a positive number of seconds\.$"),
        ({"dtype": "float16"}, r"^`dtype` must be one of float64, float32\.$"),
    ],
)
def test_arguments_are_validated(options, message):
    sizes = options.pop("sizes", [(4, 3)])
    with pytest.raises(InputError, match=message):
        benchmark(["stable"], sizes, **options)


def test_an_unknown_implementation_is_an_implementation_error():
    with pytest.raises(ImplementationError, match="unknown implementation 'fastest'"):
        benchmark(["fastest"], [(4, 3)])


def test_parse_sizes():
    assert parse_sizes("500x10,10000×1000, 3 X 2") == ((500, 10), (10000, 1000), (3, 2))
    for bad in ("", "500", "500x", "0x10", "5x-1", "5x2.5", "5x2x1"):
        with pytest.raises(InputError, match="is not NxC with positive integers"):
            parse_sizes(bad)


def test_progress_callback_sees_every_cell():
    steps = []
    run_bench(("stable", "rows"), ((4, 3), (6, 3)), on_step=lambda *step: steps.append(step))
    assert [done for done, _, _ in steps] == list(range(7))
    assert {total for _, total, _ in steps} == {6}
    assert [what for _, _, what in steps] == [
        "4×3 floor",
        "4×3 stable",
        "4×3 rows",
        "6×3 floor",
        "6×3 stable",
        "6×3 rows",
        "done",
    ]


def test_thread_settings_are_read_from_the_environment(monkeypatch):
    for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    assert machine().threads_source == "default: one per available CPU"
    assert machine().blas_threads == machine().cpus
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert (machine().blas_threads, machine().threads_source) == (3, "OMP_NUM_THREADS")
    assert machine().environment["OMP_NUM_THREADS"] == "3"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert (machine().blas_threads, machine().threads_source) == (1, "OPENBLAS_NUM_THREADS")


# Report: table, JSON, CSV, plot, progress bar


def test_table_shows_every_record_and_the_floor(measured):
    text = render(report.bench_table(measured, width=120), width=120)
    for expected in ("4×3", "8×3", "loops", "stable", "np.exp (floor)", "copy (floor)", "× copy"):
        assert expected in text
    assert np.__version__ in text
    compact = render(report.bench_table(measured, width=70), width=70)
    assert "× exp" in compact and "× copy" not in compact and "stable" in compact


def test_json_document_schema(mixed):
    document = json.loads(json.dumps(report.bench_document(mixed, seed=0), allow_nan=False))
    assert document["schema"] == 1 and document["command"] == "bench"
    assert document["seed"] == 0 and document["machine"]["numpy"] == np.__version__
    assert len(document["records"]) == len(mixed.records) == 6
    for record in document["records"]:
        assert REQUIRED_KEYS <= set(record)
        assert record["status"] in ("measured", "estimated", "skipped")
        assert record["floor_exp"] > 0 and record["floor_copy"] > 0
    assert [f["N"] for f in document["floors"]] == [4, 40, 40]


def test_csv_has_one_row_per_record_with_the_record_fields(mixed):
    rows = list(csv.DictReader(io.StringIO(report.bench_csv(mixed))))
    assert tuple(rows[0]) == bench.CSV_COLUMNS
    assert set(bench.CSV_COLUMNS) == set(BenchRecord.__dataclass_fields__)
    assert REQUIRED_KEYS <= set(bench.CSV_COLUMNS)
    assert len(rows) == len(mixed.records)
    for row, record in zip(rows, mixed.records, strict=True):
        assert (row["impl"], int(row["N"]), int(row["C"])) == (record.impl, record.N, record.C)
        assert float(row["median"]) == record.median
        assert row["min"] == ("" if record.min is None else str(record.min))


def test_plot_is_written_when_matplotlib_is_installed(mixed, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "bench.png"
    report.bench_plot(mixed, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_a_plot_unavailable_error(mixed, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(report.PlotUnavailable, match=r"pip install '\.\[plot\]'"):
        report.bench_plot(mixed, tmp_path / "bench.png")
    assert not (tmp_path / "bench.png").exists()


def test_progress_bar_draws_only_when_enabled():
    for enabled in (True, False):
        console = Console(file=io.StringIO(), force_terminal=True, width=100)
        with report.bench_progress(console, enabled=enabled) as step:
            step(0, 2, "4×3 stable")
            step(2, 2, "done")
        drawn = console.file.getvalue()
        assert ("bench 4×3 stable" in drawn) is enabled
        assert (drawn != "") is enabled


# The command line, end to end


def test_cli_prints_a_table(runner):
    args = ["bench", "--sizes", "4x3,6x3", "--impl", "rows", "--impl", "stable", "--repeat", "2"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "np.exp (floor)" in result.stdout and "stable" in result.stdout
    assert "Bench: 4 timings at 2 sizes: 4 measured, 0 estimated, 0 skipped" in result.stdout
    assert result.stderr == ""  # stderr is not a terminal: no progress bar


def test_cli_json_is_one_document_on_stdout(runner, tmp_path):
    csv_path = tmp_path / "bench.csv"
    args = ["bench", "--sizes", "4x3,40x3", "--impl", "stable", "--repeat", "2", "--json"]
    args += ["--budget", "1e-12", "--csv", str(csv_path), "--seed", "3", "--dtype", "float32"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == 1 and document["seed"] == 3 and document["dtype"] == "float32"
    assert [(r["N"], r["status"]) for r in document["records"]] == [
        (4, "measured"),
        (40, "estimated"),
    ]
    assert result.stderr.startswith("Bench: 2 timings at 2 sizes: 1 measured, 1 estimated")
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert [row["status"] for row in rows] == ["measured", "estimated"]


def test_cli_no_estimate_skips_and_says_so(runner):
    args = ["bench", "--sizes", "4x3,40x3", "--impl", "stable", "--budget", "1e-12"]
    result = runner.invoke(main, [*args, "--no-estimate", "--no-progress"])
    assert result.exit_code == 0
    assert "40×3 stable: skipped: over the 1e-12 s budget" in result.stdout


def test_cli_checks_adds_the_reference_methods(runner):
    args = ["bench", "--sizes", "5x4", "--impl", "stable", "--repeat", "1", "--checks", "--json"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)["records"]
    assert {r["impl"] for r in records if r["kind"] == "check"} == set(check_methods())


def test_cli_writes_a_plot(runner, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "bench.png"
    args = ["bench", "--sizes", "4x3,8x3", "--impl", "stable", "--repeat", "1"]
    result = runner.invoke(main, [*args, "--plot", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_cli_plot_without_matplotlib_exits_2_before_timing(runner, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(cli, "benchmark", unreachable)  # the check comes before any timing
    path = tmp_path / "bench.png"
    result = runner.invoke(main, ["bench", "--sizes", "4x3", "--plot", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: --plot needs matplotlib, which is not installed: pip install '.[plot]' "
        "(or pip install matplotlib)\n"
    )
    assert not path.exists()


def test_cli_unwritable_csv_is_one_error_line(runner, tmp_path):
    target = tmp_path / "missing" / "bench.csv"
    args = ["bench", "--sizes", "4x3", "--impl", "stable", "--repeat", "1", "--csv", str(target)]
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: --csv {target}: ")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sizes", "500by10"], "Invalid value for '--sizes': size '500by10' is not NxC"),
        (["--impl", "fastest"], "Invalid value for '--impl': unknown implementation 'fastest'"),
        (["--repeat", "0"], "Invalid value for '--repeat'"),
        (["--budget", "0"], "Invalid value for '--budget'"),
        (["--dtype", "float16"], "Invalid value for '--dtype'"),
    ],
)
def test_cli_usage_errors_exit_2(runner, args, message):
    result = runner.invoke(main, ["bench", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.skipif(
    not (PACKAGE / "plugins.py").exists(), reason="plugin specs need gradcheck_cli.plugins"
)
def test_cli_times_a_plugin_implementation(runner, tmp_path):
    plugin = tmp_path / "my_softmax.py"
    plugin.write_text(
        "import numpy as np\n\n"
        "def softmax_loss(scores, labels):\n"
        "    shifted = scores - scores.max(axis=1, keepdims=True)\n"
        "    p = np.exp(shifted)\n"
        "    p /= p.sum(axis=1, keepdims=True)\n"
        "    n = scores.shape[0]\n"
        "    loss = -np.log(p[np.arange(n), labels]).mean()\n"
        "    p[np.arange(n), labels] -= 1\n"
        "    return loss, p / n\n",
        encoding="utf-8",
    )
    spec = f"{plugin}:softmax_loss"
    args = ["bench", "--sizes", "4x3", "--impl", spec, "--impl", "rows", "--repeat", "1", "--json"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = {r["impl"]: r for r in json.loads(result.stdout)["records"]}
    assert set(records) == {"my_softmax.py:softmax_loss", "rows"}  # the plugin's display name
    mine = records["my_softmax.py:softmax_loss"]
    assert mine["status"] == "measured" and mine["speedup_over"] == "rows"
    assert mine["median"] > 0 and not math.isnan(mine["median"])
    missing = runner.invoke(main, ["bench", "--sizes", "4x3", "--impl", f"{tmp_path}/no.py:f"])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("Error: ") and len(missing.stderr.splitlines()) == 1


def test_a_size_too_large_for_memory_is_an_input_error(runner):
    huge = 10**8  # 10^16 entries: 80 PB, refused at once
    with pytest.raises(InputError, match=rf"^size {huge}×{huge}: not enough memory for its batch$"):
        benchmark(["stable"], [(huge, huge)])
    result = runner.invoke(main, ["bench", "--sizes", f"{huge}x{huge}"])
    assert result.exit_code == 2
    assert result.stderr == f"Error: size {huge}×{huge}: not enough memory for its batch\n"


def test_plot_is_a_png_whatever_its_name(mixed, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "bench.svg"
    report.bench_plot(mixed, path)
    assert path.read_bytes()[:4] == b"\x89PNG"
