"""The `gradcheck` command line: parse, call the core, hand results to `report`, exit."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click
import numpy as np
from rich.console import Console

from gradcheck_cli import __version__, report
from gradcheck_cli.checker import METHODS, CheckResult, Method, check_all, resolve
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.loading import load_inputs
from gradcheck_cli.softmax import IMPLEMENTATIONS


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
    """Check each --impl value at parse time; default to every built-in implementation."""
    for value in values:
        try:
            resolve(value)
        except GradcheckError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return values or tuple(IMPLEMENTATIONS)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradcheck")
def main() -> None:
    """Tell whether a softmax-loss gradient is right.

    \b
    gradcheck run scores.npy labels.npy      check every implementation
    gradcheck run scores.csv labels.csv --impl stable --json
    """


@main.command()
@click.argument("scores", metavar="SCORES")
@click.argument("labels", metavar="[LABELS]", required=False)
@click.option(
    "--impl",
    "impls",
    multiple=True,
    callback=_implementation_names,
    help=f"Implementation to check, repeatable: {', '.join(IMPLEMENTATIONS)}. Default: all.",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="auto",
    show_default=True,
    help="Numerical reference: central differences confirmed by the complex step (auto), "
    "central differences alone, or the complex step alone.",
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
    help="Spot-check this many entries (each sampled row's label entry included).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--top",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="Worst entries kept per implementation (--json).",
)
@click.option("--strict", is_flag=True, help="Exit 1 on a warn too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def run(
    scores: str,
    labels: str | None,
    impls: tuple[str, ...],
    method: Method,
    step: float | None,
    samples: int | None,
    seed: int,
    top: int,
    strict: bool,
    as_json: bool,
) -> None:
    """Check loss and gradient implementations on SCORES (N×C) and LABELS (N).

    Files are .npy, .npz (arrays 'scores' and 'labels'; then LABELS may be
    left out), .csv, .tsv or .txt; '-' reads CSV text from stdin. Exit code
    0 when every implementation passes, 1 when one fails, 2 on bad input.

    \b
    gradcheck run examples/scores.npy examples/labels.npy
    gradcheck run scores.csv labels.csv --impl vectorized --impl stable
    gradcheck run batch.npz --method complex --json
    """
    try:
        score_array, label_array = load_inputs(scores, labels)
    except GradcheckError as exc:
        raise InputFailure(str(exc)) from None
    options: dict[str, Any] = {"method": method, "samples": samples, "h": step, "top": top}
    reference, results = check_all(
        list(impls), score_array, label_array, rng=np.random.default_rng(seed), **options
    )
    err = Console(stderr=True)
    if as_json:
        context = {"scores": scores, "labels": labels, "seed": seed, "h": step, "strict": strict}
        document = report.run_document(results, reference, **context)
        click.echo(json.dumps(document, indent=2, allow_nan=False))
        err.print(report.summary_line(results, strict))
    else:
        out = Console()
        out.print(report.run_table(results, reference, width=out.width))
        out.print(report.run_details(results))
        out.print(report.summary_line(results, strict))
    sys.exit(exit_code(results, strict))
