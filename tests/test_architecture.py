"""House rules: the core is a library that never prints, exits or touches click or rich."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import gradcheck_cli

PACKAGE = Path(gradcheck_cli.__file__).resolve().parent
PRESENTATION = {"cli", "report", "__main__"}
"""The only modules allowed to talk to the terminal."""
NAMED_CORE = ("loading", "softmax", "numeric", "verdict", "checker")
OPTIONAL_CORE = ("plugins", "diagnose", "net", "bench")
UI_PACKAGES = ("click", "rich")
CORE_MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem not in PRESENTATION)


def test_core_module_list_covers_the_named_modules():
    assert set(NAMED_CORE) <= set(CORE_MODULES)
    assert {m for m in OPTIONAL_CORE if (PACKAGE / f"{m}.py").exists()} <= set(CORE_MODULES)


def parse(module):
    path = PACKAGE / f"{module}.py"
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_modules(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def is_ui_package(name):
    return any(name == package or name.startswith(package + ".") for package in UI_PACKAGES)


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_never_imports_click_or_rich(module):
    bad = [(line, name) for line, name in imported_modules(parse(module)) if is_ui_package(name)]
    assert bad == [], f"gradcheck_cli/{module}.py imports {bad}"


def forbidden_calls(tree):
    """(line, what) for each print(), exit(), quit(), sys.exit() or os._exit() in ``tree``."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Name) and function.id in ("print", "exit", "quit"):
                problems.append((node.lineno, f"{function.id}()"))
            if (
                isinstance(function, ast.Attribute)
                and function.attr in ("exit", "_exit")
                and isinstance(function.value, ast.Name)
                and function.value.id in ("sys", "os")
            ):
                problems.append((node.lineno, f"{function.value.id}.{function.attr}()"))
        if isinstance(node, ast.ImportFrom) and node.module == "sys":
            if any(alias.name == "exit" for alias in node.names):
                problems.append((node.lineno, "from sys import exit"))
    return problems


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_never_prints_or_exits(module):
    problems = forbidden_calls(parse(module))
    assert problems == [], f"gradcheck_cli/{module}.py: {problems}"


def test_the_rules_detect_what_they_forbid():
    source = (
        "import rich.console\nfrom click import echo\nimport richer, clickhouse\n"
        "from sys import exit\nprint(1)\nsys.exit(2)\nos._exit(3)\nlogger.print(4)\n"
    )
    tree = ast.parse(source)
    ui = [name for _, name in imported_modules(tree) if is_ui_package(name)]
    assert ui == ["rich.console", "click"]
    assert sorted(forbidden_calls(tree)) == [
        (4, "from sys import exit"),
        (5, "print()"),
        (6, "sys.exit()"),
        (7, "os._exit()"),
    ]


def test_importing_the_library_loads_neither_click_nor_rich():
    code = (
        "import sys, gradcheck_cli\n"
        f"import {', '.join('gradcheck_cli.' + m for m in CORE_MODULES)}\n"
        "print(sorted(m for m in ('click', 'rich') if m in sys.modules))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "[]"


def test_all_names_exist_and_are_unique():
    names = gradcheck_cli.__all__
    assert len(names) == len(set(names))
    missing = [name for name in names if not hasattr(gradcheck_cli, name)]
    assert missing == []


PUBLIC_CALLABLES = [
    name
    for name in gradcheck_cli.__all__
    if inspect.isfunction(getattr(gradcheck_cli, name, None))
    or inspect.isclass(getattr(gradcheck_cli, name, None))
]


def test_public_callables_are_most_of_all():
    assert {"check", "check_all", "CheckResult", "stable"} <= set(PUBLIC_CALLABLES)


@pytest.mark.parametrize("name", PUBLIC_CALLABLES)
def test_public_callables_have_docstrings(name):
    doc = inspect.getdoc(getattr(gradcheck_cli, name))
    assert doc and doc.strip(), f"gradcheck_cli.{name} has no docstring"


def test_the_library_front_door_is_public():
    for name in ("check", "check_all", "assert_gradient_correct", "CheckResult"):
        assert name in gradcheck_cli.__all__


def test_the_parse_time_names_agree_with_the_core():
    from gradcheck_cli import _names, bench, checker, linear, net, softmax

    assert _names.BUILT_IN_IMPLEMENTATIONS == tuple(softmax.IMPLEMENTATIONS)
    assert _names.METHODS == checker.METHODS
    assert _names.AGAINST == checker.AGAINST
    assert _names.BENCH_SIZES == bench.DEFAULT_SIZES
    assert _names.BENCH_DTYPES == bench.DTYPES
    assert _names.NET_BUILT_IN == net.BUILT_IN
    assert _names.LINEAR_BUILT_IN == linear.BUILT_IN
    assert set(gradcheck_cli.__all__) == set(gradcheck_cli._HOME)


def test_help_imports_neither_numpy_nor_rich():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from gradcheck_cli.cli import main\n"
        "result = CliRunner().invoke(main, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = [m for m in ('numpy', 'rich') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
