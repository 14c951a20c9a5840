"""The `gradcheck` command line: parse, call the core, hand results to `report`, exit."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gradcheck_cli import __version__, _names
from gradcheck_cli._names import (
    AGAINST,
    BENCH_DTYPES,
    BENCH_SIZES,
    BUILT_IN_IMPLEMENTATIONS,
    LINEAR_BUILT_IN,
    METHODS,
    NET_BUILT_IN,
)
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.plugins import is_plugin_spec

if TYPE_CHECKING:
    import numpy as np
    from rich.console import Console
    from rich.markup import escape

    from gradcheck_cli import report
    from gradcheck_cli._typing import FloatArray, IntArray
    from gradcheck_cli.bench import BenchResult, Size, benchmark, parse_sizes
    from gradcheck_cli.checker import (
        Against,
        CheckResult,
        Method,
        Named,
        ReferenceSet,
        check_all,
        resolve,
    )
    from gradcheck_cli.demo import run_demo, save_batch
    from gradcheck_cli.loading import load_inputs
    from gradcheck_cli.net import (
        NetImplementation,
        Parameters,
        check_net,
        load_data,
        load_params,
        network_and_data,
    )
    from gradcheck_cli.net import resolve as resolve_network
else:
    # `gradcheck --help` must not pay for numpy, rich and the core: they are imported on
    # first use (a module on its first attribute, a function on its first call).

    class _Lazy:
        """A module imported the first time one of its attributes is read."""

        def __init__(self, name: str) -> None:
            self._name = name

        def __getattr__(self, attribute: str) -> Any:
            return getattr(importlib.import_module(self._name), attribute)

    def _lazy(module: str, name: str) -> Callable[..., Any]:
        """Return a stand-in for ``module.name`` that imports it when called."""

        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(module), name)(*args, **kwargs)

        return call

    np = _Lazy("numpy")
    report = _Lazy("gradcheck_cli.report")
    Console = _lazy("rich.console", "Console")
    escape = _lazy("rich.markup", "escape")
    benchmark = _lazy("gradcheck_cli.bench", "benchmark")
    parse_sizes = _lazy("gradcheck_cli.bench", "parse_sizes")
    check_all = _lazy("gradcheck_cli.checker", "check_all")
    resolve = _lazy("gradcheck_cli.checker", "resolve")
    run_demo = _lazy("gradcheck_cli.demo", "run_demo")
    save_batch = _lazy("gradcheck_cli.demo", "save_batch")
    load_inputs = _lazy("gradcheck_cli.loading", "load_inputs")
    check_net = _lazy("gradcheck_cli.net", "check_net")
    load_data = _lazy("gradcheck_cli.net", "load_data")
    load_params = _lazy("gradcheck_cli.net", "load_params")
    network_and_data = _lazy("gradcheck_cli.net", "network_and_data")
    resolve_network = _lazy("gradcheck_cli.net", "resolve")


class InputFailure(click.ClickException):
    """A user's input that cannot be used: one ``Error:`` line on stderr, exit code 2."""

    exit_code = 2


def exit_code(results: Sequence[CheckResult], strict: bool) -> int:
    """Return 0 when every implementation passed (or warned, unless strict), else 1."""
    failing = {"fail", "warn"} if strict else {"fail"}
    return 1 if any(result.verdict in failing for result in results) else 0


def _implementation_names(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """Check each built-in --impl name at parse time; default to every built-in implementation.

    A FILE.py:NAME or package.module:NAME spec is only loaded when the command
    runs (importing user code is not parsing), where a problem is one error line.
    """
    for value in values:
        if is_plugin_spec(value) or value in BUILT_IN_IMPLEMENTATIONS:
            continue
        try:
            resolve(value)  # only to raise its message for an unknown name
        except GradcheckError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return values or BUILT_IN_IMPLEMENTATIONS


F = TypeVar("F", bound=Callable[..., Any])


def _report_options(unit: str) -> Callable[[F], F]:
    """Add --top, --strict, --json and --quiet, shared by run, net and linear."""
    decorators = [
        click.option(
            "--top",
            type=click.IntRange(1, 100),
            default=5,
            show_default=True,
            help=f"Worst entries kept per {unit} (--json).",
        ),
        click.option("--strict", is_flag=True, help="Exit 1 on a warn too."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout."),
        click.option("--quiet", "-q", is_flag=True, help="Print only the summary verdict line."),
    ]

    def apply(command: F) -> F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


_DATA_OPTION = click.option(
    "--data",
    "data_paths",
    nargs=2,
    metavar="X Y",
    help="Inputs X (N×D) and labels y (N) files (.npy, .npz, .csv, .txt). Default: random.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradcheck")
def main() -> None:
    """Tell whether a softmax-loss gradient is right.

    \b
    gradcheck demo                              the seed, on built-in data
    gradcheck run scores.npy labels.npy         check every implementation
    gradcheck run scores.csv labels.csv --impl stable --json
    gradcheck run scores.npy labels.npy --impl my_softmax.py:grad
    gradcheck net --impl my_net.py:TwoLayerNet  every parameter of a network
    gradcheck linear --impl softmax.py:softmax_loss_vectorized
    gradcheck bench                             time them against the floor
    """


@main.command()
@click.argument("scores", metavar="SCORES")
@click.argument("labels", metavar="[LABELS]", required=False)
@click.option(
    "--impl",
    "impls",
    multiple=True,
    callback=_implementation_names,
    metavar="NAME|FILE.py:NAME",
    help=f"Implementation to check, repeatable: {', '.join(BUILT_IN_IMPLEMENTATIONS)}, or your own "
    "f(scores, labels) as path/to/file.py:NAME or package.module:NAME. Default: the built-ins.",
)
@click.option(
    "--against",
    type=click.Choice(AGAINST),
    default="reference",
    show_default=True,
    help="Whose loss to differentiate: the softmax loss (reference), or each implementation's "
    "own loss as a black box (own: label smoothing, temperature, class weights...).",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="auto",
    show_default=True,
    help="Numerical reference: central differences confirmed by the complex step (auto), "
    "central differences alone, or the complex step alone. Not used with --against own.",
)
@click.option(
    "--h",
    "step",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Central-difference step (default (3·eps)^(1/3) ≈ 8.7e-6; with --against own, "
    "chosen from the loss's rounding).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    help="Spot-check this many entries (each sampled row's label entry included).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the sample (and of the random directions of --against own).",
)
@_report_options("implementation")
@click.option(
    "--no-progress",
    "progress",
    is_flag=True,
    flag_value=False,
    default=True,
    help="No progress bar while a large file is checked (drawn only on a terminal anyway).",
)
@click.option(
    "--heatmap",
    is_flag=True,
    help="Draw each implementation's error / tolerance per entry as a grid in the terminal.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Save the same heat map as a PNG (one file per implementation, needs the plot extra).",
)
def run(
    scores: str,
    labels: str | None,
    impls: tuple[str, ...],
    against: Against,
    method: Method,
    step: float | None,
    samples: int | None,
    seed: int,
    top: int,
    strict: bool,
    as_json: bool,
    quiet: bool,
    progress: bool,
    heatmap: bool,
    plot_path: str | None,
) -> None:
    """Check loss and gradient implementations on SCORES (N×C) and LABELS (N).

    Files are .npy, .npz (arrays 'scores' and 'labels'; then LABELS may be
    left out), .csv, .tsv or .txt; '-' reads CSV text from stdin. Your own
    f(scores, labels) -> (loss, dscores) is --impl path/to/file.py:NAME.
    A .npy scores file over 256 MiB is read and checked block by block.
    Exit code 0 when every implementation passes, 1 when one fails, 2 on
    bad input.

    \b
    gradcheck run examples/scores.npy examples/labels.npy
    gradcheck run scores.csv labels.csv --impl vectorized --impl stable
    gradcheck run batch.npz --method complex --json
    gradcheck run scores.npy labels.npy --impl my_softmax.py:softmax_loss --impl stable
    gradcheck run scores.npy labels.npy --impl smoothed.py:loss --against own
    """
    options: dict[str, Any] = {"method": method, "samples": samples, "h": step, "top": top}
    try:
        implementations = [resolve(value) for value in impls]
        drawing = heatmap or plot_path is not None
        large = _check_large_npy(
            scores,
            labels,
            implementations,
            against,
            drawing,
            seed,
            options,
            progress and not as_json,
        )
        if large is None:
            score_array, label_array = load_inputs(scores, labels)
    except GradcheckError as exc:
        raise InputFailure(str(exc)) from None
    if large is not None:
        reference, results = large
    else:
        reference, results = check_all(
            implementations,
            score_array,
            label_array,
            against=against,
            rng=np.random.default_rng(seed),
            keep_error_map=drawing,
            **options,
        )
    err = Console(stderr=True)
    if as_json:
        context = {"scores": scores, "labels": labels, "seed": seed, "h": step, "strict": strict}
        context["against"] = against
        document = report.run_document(results, reference, **context)
        click.echo(json.dumps(document, indent=2, allow_nan=False))
        err.print(report.summary_line(results, strict))
    elif quiet:
        Console().print(report.summary_line(results, strict))
    else:
        out = Console()
        out.print(report.run_table(results, reference, width=out.width))
        out.print(report.run_details(results))
        if heatmap:
            heatmaps = report.run_heatmaps(results, label_array, width=out.width, height=out.height)
            out.print(heatmaps)
        out.print(report.summary_line(results, strict))
    if plot_path is not None:
        _save_heatmaps(results, label_array, plot_path, err)
    sys.exit(exit_code(results, strict))


def _save_heatmaps(
    results: Sequence[CheckResult], labels: np.ndarray, path: str, err: Console
) -> None:
    """Write one PNG heat map per implementation: ``path`` itself, or ``path`` with its name."""
    maps = [(r.name, r.error_map) for r in results if r.error_map is not None]
    stem, suffix = os.path.splitext(path)
    for name, error_map in maps:
        target = path if len(maps) == 1 else f"{stem}-{_file_safe(name)}{suffix or '.png'}"
        try:
            report.heatmap_png(target, error_map, labels, title=f"{name}: ")
        except GradcheckError as exc:
            raise InputFailure(f"--plot: {exc}") from None
        err.print(f"heat map of {escape(name)} saved to {escape(target)}")


def _file_safe(name: str) -> str:
    """Turn an implementation's name into a piece of a file name."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def _check_large_npy(
    scores: str,
    labels: str | None,
    implementations: list[Named],
    against: Against,
    drawing: bool,
    seed: int,
    options: dict[str, Any],
    progress: bool,
) -> tuple[ReferenceSet, list[CheckResult]] | None:
    """Check a .npy scores file too large to load block by block (issue 6); None: load it."""
    try:  # the common case decided without importing the blockwise machinery
        if os.path.getsize(scores) <= _names.LARGE_INPUT_BYTES:
            return None
    except (OSError, ValueError):
        return None  # the loader names the problem, as for any file
    from gradcheck_cli import blockwise, loading

    if blockwise.plan(scores, implementations, against=against) is None:
        return None
    if drawing:
        raise InputFailure(
            f"{scores}: --heatmap and --plot need every entry's error in memory, and this file "
            "is too large to check in memory (leave them out)"
        )
    blocks, label_array = loading.load_npy_inputs(scores, labels)
    rng = np.random.default_rng(seed)
    err = Console(stderr=True)
    with report.bench_progress(err, enabled=progress and err.is_terminal) as step:
        on_block = lambda done, total: step(done, total, "rows")  # noqa: E731
        return blockwise.check_file(
            blocks, label_array, implementations, rng=rng, progress=on_block, **options
        )


# gradcheck demo and gradcheck net (issue 5)


@main.command()
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the demo batch.")
@click.option(
    "--save",
    "save_dir",
    metavar="DIR",
    help="Also write the batch to DIR (created if missing) as scores/labels .npy and .csv, "
    "ready for `gradcheck run`.",
)
def demo(seed: int, save_dir: str | None) -> None:
    """Walk through the seed on a tiny built-in batch: softmax, loss, gradient, bugs caught.

    Shows the scores, the softmax probabilities and losses, the gradient from
    loops, rows, vectorized and stable beside the numerical one, and three
    deliberately broken gradients being caught. Exit code 0 when everything
    behaves as shown.

    \b
    gradcheck demo
    gradcheck demo --seed 3 --save demo-data/
    """
    shown = run_demo(np.random.default_rng(seed))
    saved: tuple[str, ...] = ()
    if save_dir is not None:
        try:
            saved = tuple(str(path) for path in save_batch(save_dir, shown.scores, shown.labels))
        except GradcheckError as exc:
            raise InputFailure(str(exc)) from None
    Console().print(report.demo_report(shown, seed, saved))
    sys.exit(0 if shown.as_expected else 1)


@main.command()
@click.option(
    "--impl",
    default=NET_BUILT_IN,
    show_default=True,
    metavar="NAME",
    help="Network to check: the built-in two_layer, or FILE.py:NAME / package.module:NAME "
    "with NAME(params, X, y, reg) -> (loss, grads), or a TwoLayerNet-style class NAME "
    "(constructed as NAME(D, H, C[, std]), called as model.loss(X, y, reg)).",
)
@click.option(
    "--params",
    "params_path",
    metavar="FILE.npz",
    help="Parameters: an .npz with W1 (D×H), b1 (H), W2 (H×C), b2 (C). Default: random.",
)
@_DATA_OPTION
@click.option(
    "--reg",
    type=click.FloatRange(min=0),
    default=0.05,
    show_default=True,
    help="Regularization strength: R = reg·½(ΣW1² + ΣW2²), or reg·(ΣW1² + ΣW2²) when the "
    "loss says so.",
)
@click.option(
    "--hidden", type=click.IntRange(min=1), help="Random network: hidden units H (default 10)."
)
@click.option(
    "--std",
    type=click.FloatRange(min=0, min_open=True),
    help="Random network: standard deviation of every entry (default 0.1).",
)
@click.option("--batch", type=click.IntRange(min=1), help="Random data: samples N (default 5).")
@click.option(
    "--inputs", type=click.IntRange(min=1), help="Random network and data: inputs D (default 4)."
)
@click.option(
    "--classes",
    type=click.IntRange(min=2),
    help="Random network: classes C (default 3, or max(y) + 1 with --data).",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="auto",
    show_default=True,
    help="Numerical reference: central differences confirmed by the complex step (auto), "
    "central differences alone (kinks crossed are not judged), or the complex step alone.",
)
@click.option(
    "--h",
    "step",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Central-difference step (default (3·eps)^(1/3) ≈ 8.7e-6).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    help="Spot-check this many random entries of each parameter (all four are checked).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the random network, data and sample.",
)
@_report_options("parameter")
def net(
    impl: str,
    params_path: str | None,
    data_paths: tuple[str, str] | None,
    reg: float,
    method: Method,
    step: float | None,
    samples: int | None,
    seed: int,
    top: int,
    strict: bool,
    as_json: bool,
    quiet: bool,
    **sizes: Any,
) -> None:
    """Check the gradients of a two-layer network, parameter by parameter.

    The network of the seed: X·W1 + b1, ReLU, ·W2 + b2, softmax loss, plus
    R = reg·½(ΣW1² + ΣW2²) (or reg·(ΣW1² + ΣW2²), detected from the loss).
    Without --params and --data it is random and seeded. A class is built
    with the sizes and checked through model.params and model.loss(X, y, reg).
    Exit code 0 when the network passes, 1 when it fails, 2 on bad input.

    \b
    gradcheck net
    gradcheck net --params params.npz --data X.npy y.npy --reg 0.1
    gradcheck net --impl my_net.py:two_layer_loss --hidden 50 --reg 0.05
    gradcheck net --impl cs231n/classifiers/neural_net.py:TwoLayerNet --hidden 10
    """
    seeds = np.random.SeedSequence(seed).spawn(2)  # the sample does not move the network
    network_rng, sample_rng = (np.random.default_rng(s) for s in seeds)
    try:
        name, function = _network_implementation(impl)
        params, X, y = _network_inputs(params_path, data_paths, network_rng, sizes)
        options: dict[str, Any] = {"method": method, "samples": samples, "h": step, "top": top}
        result = check_net(function, params, X, y, reg, rng=sample_rng, **options)
    except GradcheckError as exc:
        raise InputFailure(str(exc)) from None
    result = dataclasses.replace(result, name=name)
    if as_json:
        context = {"impl": impl, "params": params_path, "data": data_paths, "seed": seed}
        document = report.net_document(result, **context, h=step, strict=strict)
        click.echo(json.dumps(document, indent=2, allow_nan=False))
        Console(stderr=True).print(report.net_summary(result, strict))
    elif quiet:
        Console().print(report.net_summary(result, strict))
    else:
        out = Console()
        out.print(report.net_table(result))
        out.print(report.net_details(result))
        out.print(report.net_summary(result, strict))
    sys.exit(1 if result.verdict == "fail" or (strict and result.verdict == "warn") else 0)


def _network_implementation(spec: str) -> tuple[str, NetImplementation]:
    """Resolve --impl: the built-in, a FILE.py:NAME function or a TwoLayerNet-style class."""
    return resolve_network(spec)


def _network_inputs(
    params_path: str | None,
    data_paths: tuple[str, str] | None,
    rng: np.random.Generator,
    sizes: dict[str, Any],
) -> tuple[Parameters, FloatArray, IntArray]:
    """Load or draw the network and its data; refuse size options that the files fix."""
    fixed_by = {"--params": ("hidden", "std", "classes"), "--data": ("batch",)}
    given = {"--params": params_path is not None, "--data": bool(data_paths)}
    for option, names in fixed_by.items():
        clash = [f"--{name}" for name in names if given[option] and sizes[name] is not None]
        if clash:
            raise click.UsageError(f"{' and '.join(clash)} cannot be combined with {option}")
    if sizes["inputs"] is not None and (given["--params"] or given["--data"]):
        raise click.UsageError("--inputs cannot be combined with --params or --data")
    drawn = {key: value for key, value in sizes.items() if value is not None}
    return network_and_data(
        load_params(params_path) if params_path else None,
        load_data(*data_paths) if data_paths else None,
        rng=rng,
        params_name=params_path or "params",
        data_names=data_paths or ("X", "y"),
        **drawn,
    )


# gradcheck bench (issue 4)


def _bench_sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[Size, ...]:
    """Parse --sizes '500x10,10000x1000' into (N, C) pairs at parse time."""
    try:
        return parse_sizes(value)
    except GradcheckError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@main.command("bench")
@click.option(
    "--sizes",
    default=",".join(f"{n}x{c}" for n, c in BENCH_SIZES),
    show_default=True,
    callback=_bench_sizes,
    help="Comma-separated batch sizes NxC.",
)
@click.option(
    "--impl",
    "impls",
    multiple=True,
    callback=_implementation_names,
    help=f"Implementation to time, repeatable: {', '.join(BUILT_IN_IMPLEMENTATIONS)}, "
    "or FILE.py:NAME, package.module:NAME. Default: the four built-ins.",
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 1000),
    default=5,
    show_default=True,
    help="Timed calls per implementation and size, after one warm-up call.",
)
@click.option(
    "--budget",
    type=click.FloatRange(0, min_open=True),
    default=2.0,
    show_default=True,
    help="Seconds one implementation may spend at one size; a size predicted to need more "
    "is estimated from smaller ones (marked ~).",
)
@click.option(
    "--estimate/--no-estimate",
    default=True,
    show_default=True,
    help="Estimate over-budget sizes from smaller ones, or skip them.",
)
@click.option("--checks", is_flag=True, help="Also time the numerical reference methods.")
@click.option(
    "--dtype",
    type=click.Choice(BENCH_DTYPES),
    default="float64",
    show_default=True,
    help="Scores dtype.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the batches.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the records to this CSV file.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw time against N·C to this PNG (needs matplotlib: pip install '.[plot]').",
)
@click.option("--no-progress", is_flag=True, help="No progress bar (it is off unless a terminal).")
def bench_command(
    sizes: tuple[Size, ...],
    impls: tuple[str, ...],
    as_json: bool,
    csv_path: Path | None,
    plot_path: Path | None,
    no_progress: bool,
    seed: int,
    **options: Any,
) -> None:
    """Time loss+gradient implementations against the floor of this machine.

    Per size, one seeded batch; the floor is one np.exp pass and one copy of
    an array of that size, in the same run. Each implementation gets a warm-up
    call and --repeat timed calls; sizes that would overrun --budget are
    estimated from smaller ones. Exit code 0, or 2 on bad input.

    \b
    gradcheck bench
    gradcheck bench --sizes 500x10,10000x1000 --impl rows --impl stable --json
    gradcheck bench --impl my_softmax.py:softmax_loss --plot bench.png
    """
    err = Console(stderr=True)
    try:
        if plot_path is not None:
            report.require_matplotlib()  # before the timing, not after it
        progress = err.is_terminal and not (as_json or no_progress)
        with report.bench_progress(err, enabled=progress) as step:
            rng = np.random.default_rng(seed)
            result = benchmark(list(impls), sizes, rng=rng, on_step=step, **options)
        _write_bench_files(result, csv_path, plot_path)
    except GradcheckError as exc:
        raise InputFailure(str(exc)) from None
    if as_json:
        document = report.bench_document(result, seed=seed, sizes=[list(s) for s in sizes])
        click.echo(json.dumps(document, indent=2, allow_nan=False))
        err.print(report.bench_summary(result))
    else:
        out = Console()
        out.print(report.bench_table(result, width=out.width))
        out.print(report.bench_notes(result))
        out.print(report.bench_summary(result))


def _write_bench_files(result: BenchResult, csv_path: Path | None, plot_path: Path | None) -> None:
    """Write the --csv and --plot files; one that cannot be written is one error line."""
    writers = (
        ("--csv", csv_path, lambda path: path.write_text(report.bench_csv(result), "utf-8")),
        ("--plot", plot_path, lambda path: report.bench_plot(result, path)),
    )
    for option, path, write in writers:
        if path is None:
            continue
        try:
            write(path)
        except OSError as exc:
            raise InputFailure(f"{option} {path}: {exc.strerror or exc}") from None


# gradcheck linear (issue 8): f(W, X, y, reg) -> (loss, dW) classifiers, as people write them


def _linear_names(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """Check built-in --impl names at parse time; FILE.py:NAME specs are loaded when it runs."""
    for value in values:
        if not is_plugin_spec(value) and value != LINEAR_BUILT_IN:
            built_in = f"built-in: {LINEAR_BUILT_IN}; or FILE.py:NAME"
            message = f"unknown linear classifier {value!r} ({built_in})"
            raise click.BadParameter(message, ctx=ctx, param=param)
    return values or (LINEAR_BUILT_IN,)


@main.command()
@click.option(
    "--impl",
    "impls",
    multiple=True,
    callback=_linear_names,
    metavar="FILE.py:NAME",
    help="Classifier to check, repeatable: your NAME(W, X, y, reg) -> (loss, dW) as "
    "path/to/file.py:NAME or package.module:NAME, or the built-in linear (the default).",
)
@click.option(
    "--weights",
    "weights_path",
    metavar="W.npy",
    help="Weights W (D×C): .npy, .npz, .csv, .txt. Default: random.",
)
@_DATA_OPTION
@click.option(
    "--reg",
    type=click.FloatRange(min=0),
    default=0.05,
    show_default=True,
    help="Regularization strength, passed as reg; whether the loss adds reg·ΣW² or "
    "½·reg·ΣW² is detected.",
)
@click.option(
    "--std",
    type=click.FloatRange(min=0, min_open=True),
    help="Random weights: standard deviation of every entry (default 0.1).",
)
@click.option("--batch", type=click.IntRange(min=1), help="Random data: samples N (default 20).")
@click.option(
    "--inputs", type=click.IntRange(min=1), help="Random weights and data: inputs D (default 10)."
)
@click.option(
    "--classes",
    type=click.IntRange(min=2),
    help="Random weights: classes C (default 5, or max(y) + 1 with --data).",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    help="Difference this many sampled entries of each function's own loss (plus random "
    "directions) instead of every entry.",
)
@click.option(
    "--h",
    "step",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Step of the black-box differences (default: chosen from the loss's rounding).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the random weights, data, sample and directions.",
)
@_report_options("check")
def linear(
    impls: tuple[str, ...],
    weights_path: str | None,
    data_paths: tuple[str, str] | None,
    reg: float,
    samples: int | None,
    step: float | None,
    seed: int,
    top: int,
    strict: bool,
    as_json: bool,
    quiet: bool,
    **sizes: Any,
) -> None:
    """Check linear softmax classifiers f(W, X, y, reg) -> (loss, dW), and their agreement.

    Scores are X·W; the loss is the mean softmax loss plus reg·ΣW² or ½·reg·ΣW²
    (which one is detected from the loss and named). dW is judged against the
    exact gradient of that loss and against the numerical gradient of the loss
    the function itself returns. With several --impl, they are also compared
    with each other and timed. Exit code 0 when all pass and agree, 1 otherwise,
    2 on bad input.

    \b
    gradcheck linear --impl cs231n/classifiers/softmax.py:softmax_loss_vectorized
    gradcheck linear --impl softmax.py:softmax_loss_naive --impl softmax.py:softmax_loss_vectorized
    gradcheck linear --weights W.npy --data X.npy y.npy --reg 5e-6 --json
    """
    from gradcheck_cli.linear import check_linear, classifier_and_data, load_batch, load_weights

    seeds = np.random.SeedSequence(seed).spawn(2)  # the sample does not move the weights
    data_rng, sample_rng = (np.random.default_rng(s) for s in seeds)
    fixed_by = {"--weights": ("std", "classes", "inputs"), "--data": ("batch", "inputs")}
    given = {"--weights": weights_path is not None, "--data": bool(data_paths)}
    for option, names in fixed_by.items():
        clash = [f"--{name}" for name in names if given[option] and sizes[name] is not None]
        if clash:
            raise click.UsageError(f"{' and '.join(clash)} cannot be combined with {option}")
    drawn = {key: value for key, value in sizes.items() if value is not None}
    try:
        W, X, y = classifier_and_data(
            load_weights(weights_path) if weights_path else None,
            load_batch(*data_paths) if data_paths else None,
            rng=data_rng,
            weights_name=weights_path or "W",
            data_names=data_paths or ("X", "y"),
            **drawn,
        )
        options: dict[str, Any] = {"samples": samples, "h": step, "top": top}
        result = check_linear(list(impls), W, X, y, reg, rng=sample_rng, **options)
    except GradcheckError as exc:
        raise InputFailure(str(exc)) from None
    if as_json:
        context = {"impls": list(impls), "weights": weights_path, "data": data_paths}
        document = report.linear_document(result, **context, seed=seed, h=step, strict=strict)
        click.echo(json.dumps(document, indent=2, allow_nan=False))
        Console(stderr=True).print(report.linear_summary(result, strict))
    elif quiet:
        Console().print(report.linear_summary(result, strict))
    else:
        out = Console()
        out.print(report.linear_table(result, width=out.width))
        out.print(report.linear_details(result))
        out.print(report.linear_summary(result, strict))
    sys.exit(1 if result.verdict == "fail" or (strict and result.verdict == "warn") else 0)
