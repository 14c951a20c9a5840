"""The README documents every command and option, and CI installs exactly as the README says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from gradcheck_cli import __version__
from gradcheck_cli.cli import main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
CI_SCRIPT = (REPO / ".ci" / "run").read_text(encoding="utf-8")
COMMANDS = sorted(main.commands)
BASH_BLOCKS = re.findall(r"^```bash\n(.*?)^```", README, flags=re.DOTALL | re.MULTILINE)


def long_options(command):
    """The ``--long`` names of a command's own options (click adds --help itself)."""
    return sorted(
        name
        for param in command.params
        if isinstance(param, click.Option)
        for name in param.opts + param.secondary_opts
        if name.startswith("--")
    )


def mentioned(option, text):
    """Whether ``option`` appears in ``text`` as a whole option name (--h is not --help)."""
    return re.search(re.escape(option) + r"(?![\w-])", text) is not None


def commands_of(block):
    """The non-empty, non-comment lines of a fenced shell block."""
    return [
        line.strip()
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def readme_gradcheck_invocations():
    """Every ``gradcheck ...`` command in the README's bash blocks, as argument lists."""
    found = []
    for block in BASH_BLOCKS:
        for line in commands_of(block):
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and words[0] == "gradcheck":
                    found.append(words[1:])
    return found


def test_there_are_commands_and_bash_blocks():
    assert "run" in COMMANDS
    assert BASH_BLOCKS


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name):
    command = main.commands[name]
    assert command.help and command.help.strip()
    assert command.get_short_help_str().strip()


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme(name):
    assert f"gradcheck {name}" in README


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name):
    for param in main.commands[name].params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help text"


@pytest.mark.parametrize("option", long_options(main.commands["run"]))
def test_every_run_option_is_in_the_readme(option):
    assert mentioned(option, README), f"README.md does not mention `gradcheck run {option}`"


@pytest.mark.parametrize("option", long_options(main.commands["bench"]))
def test_every_bench_option_is_in_the_readme(option):
    assert mentioned(option, README), f"README.md does not mention `gradcheck bench {option}`"


def required_arguments_given(command, ctx):
    """Whether every required argument of ``command`` (SCORES for `run`; none for most) is set."""
    required = [p.name for p in command.params if isinstance(p, click.Argument) and p.required]
    return all(ctx.params[name] for name in required)


def test_option_matching_is_whole_word():
    assert mentioned("--h", "use --h STEP")
    assert not mentioned("--h", "see --help")
    assert not mentioned("--top", "--topology")


def test_first_bash_block_has_exactly_two_commands():
    install_and_run, install_and_test = commands_of(BASH_BLOCKS[0])
    assert install_and_run.startswith("pip install . ") and "gradcheck run" in install_and_run
    assert install_and_test.startswith("pip install ") and "pytest" in install_and_test


@pytest.mark.parametrize("command", commands_of(BASH_BLOCKS[0]) if BASH_BLOCKS else [])
def test_ci_runs_the_readme_install_commands_verbatim(command):
    lines = [line for line in CI_SCRIPT.splitlines() if command in line]
    assert lines, f".ci/run does not contain {command!r}"
    assert any(not line.lstrip().startswith("#") for line in lines), "only in a comment"


def test_readme_examples_parse_with_the_real_options():
    invocations = readme_gradcheck_invocations()
    assert len(invocations) >= 4
    for args in invocations:
        name, rest = args[0], args[1:]
        assert name in main.commands, args
        command = main.commands[name]
        # make_context parses and validates every option (types, choices, --impl names)
        # without running the command.
        with command.make_context(name, list(rest)) as ctx:
            assert required_arguments_given(command, ctx), args


def help_examples():
    """Every ``gradcheck ...`` example line in the commands' help, its description cut off."""
    found = []
    for command in (main, *main.commands.values()):
        for line in (command.help or "").splitlines():
            example = re.split(r"\s{2,}", line.strip())[0]  # "cmd   what it does"
            words = shlex.split(example)
            if words[:1] == ["gradcheck"]:
                found.append(words[1:])
    return found


def test_help_examples_parse_with_the_real_options():
    examples = help_examples()
    assert len(examples) >= 5
    for args in examples:
        name, rest = args[0], args[1:]
        assert name in main.commands, args
        with main.commands[name].make_context(name, list(rest)) as ctx:
            assert required_arguments_given(main.commands[name], ctx), args


def test_pyproject_version_is_the_package_version():
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    versions = re.findall(r'^version = "([^"]+)"$', pyproject, flags=re.MULTILINE)
    assert versions == [__version__]
