"""User code: loading FILE.py:NAME and package.module:NAME, its errors, and the examples."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import gradcheck_cli
from gradcheck_cli import ImplementationError, check, softmax
from gradcheck_cli.checker import resolve
from gradcheck_cli.cli import main
from gradcheck_cli.plugins import is_plugin_spec, load_implementation

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SCORES_NPY = str(EXAMPLES / "scores.npy")
LABELS_NPY = str(EXAMPLES / "labels.npy")

GOOD = """
import numpy as np

def softmax_loss(scores, labels):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    sums = exp_scores.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(sums[:, 0]) - shifted[np.arange(n), labels])
    dscores = exp_scores / sums
    dscores[np.arange(n), labels] -= 1
    return float(loss), dscores / n
"""


def write(directory, name, source):
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Work in a fresh directory, as a user running gradcheck next to their file would."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- specs ------------------------------------------------------------------------------------


def test_a_spec_is_anything_with_a_colon():
    assert (
        is_plugin_spec("my.py:f") and is_plugin_spec("pkg.mod:f") and is_plugin_spec("C:\\x.py:f")
    )
    assert not any(is_plugin_spec(name) for name in softmax.IMPLEMENTATIONS)


def test_relative_and_absolute_paths_load_the_same_function(in_tmp):
    path = write(in_tmp, "my_softmax.py", GOOD)
    name, relative = load_implementation("my_softmax.py:softmax_loss")
    absolute_name, absolute = load_implementation(f"{path}:softmax_loss")
    assert name == absolute_name == "my_softmax.py:softmax_loss"
    assert relative is absolute
    assert check(relative, *_batch()).verdict == "pass"


def test_a_package_module_spec_is_imported(in_tmp):
    write(in_tmp, "mypkg/__init__.py", "")
    write(in_tmp, "mypkg/losses.py", GOOD)
    name, function = load_implementation("mypkg.losses:softmax_loss")
    assert name == "mypkg.losses:softmax_loss"
    assert function.__module__ == "mypkg.losses"
    assert str(in_tmp) not in sys.path


def test_a_dotted_name_reaches_into_a_class(in_tmp):
    write(
        in_tmp,
        "k.py",
        "class Loss:\n    @staticmethod\n    def grad(scores, labels):\n        pass\n",
    )
    assert load_implementation("k.py:Loss.grad")[1].__name__ == "grad"


def test_the_checker_routes_specs_to_the_loader(in_tmp):
    write(in_tmp, "my_softmax.py", GOOD)
    name, function = resolve("my_softmax.py:softmax_loss")
    assert name == "my_softmax.py:softmax_loss" and function.__name__ == "softmax_loss"
    assert resolve("stable") == ("stable", softmax.stable)
    result = check("my_softmax.py:softmax_loss", *_batch())
    assert (result.name, result.verdict) == ("my_softmax.py:softmax_loss", "pass")


# --- every loading error: one line naming the spec and the problem ----------------------------

ERRORS = [
    ("missing.py:f", {}, "missing.py:f: no such file 'missing.py'"),
    ("data.txt:f", {"data.txt": "1,2\n"}, "data.txt:f: 'data.txt' is not a .py file"),
    ("folder.py:f", {"folder.py/x.py": ""}, "folder.py:f: 'folder.py' is a directory"),
    (
        "bad.py:f",
        {"bad.py": "import numpy\n\ndef f(scores, labels:\n    return 1\n"},
        "bad.py:f: syntax error in bad.py, line 3: ",
    ),
    (
        "needs.py:f",
        {"needs.py": "import torch_is_not_here_xyz\n\ndef f(s, y):\n    pass\n"},
        "needs.py:f: importing needs.py failed: no module named 'torch_is_not_here_xyz'",
    ),
    (
        "boom.py:f",
        {"boom.py": "import numpy\nraise ValueError('config not found')\n"},
        "boom.py:f: importing boom.py raised ValueError at boom.py, line 2: config not found",
    ),
    (
        "script.py:f",
        {"script.py": "import sys\nsys.exit(3)\n"},
        "script.py:f: importing script.py called sys.exit(3)",
    ),
    (
        "ok.py:softmax_los",
        {"ok.py": GOOD},
        "ok.py:softmax_los: ok.py has no name 'softmax_los' (did you mean 'softmax_loss'?)",
    ),
    (
        "ok.py:grad",
        {"ok.py": GOOD},
        "ok.py:grad: ok.py has no name 'grad' (it defines softmax_loss)",
    ),
    (
        "value.py:RATE",
        {"value.py": "RATE = 0.1\n"},
        "value.py:RATE: 'RATE' is not callable (it is of type float)",
    ),
    (
        "one.py:f",
        {"one.py": "def f(scores):\n    pass\n"},
        "one.py:f takes 1 positional argument (scores); expected f(scores, labels)",
    ),
    (
        "three.py:f",
        {"three.py": "def f(scores, labels, reg):\n    pass\n"},
        "three.py:f takes 3 positional arguments (scores, labels, reg); expected f(scores, labels)",
    ),
    (
        "kw.py:f",
        {"kw.py": "def f(scores, labels, *, reg):\n    pass\n"},
        "kw.py:f requires keyword-only argument 'reg' (scores, labels, reg)",
    ),
    ("ok.py:", {"ok.py": GOOD}, "ok.py:: expected FILE.py:NAME or package.module:NAME"),
    ("ok.py:my-grad", {"ok.py": GOOD}, "ok.py:my-grad: 'my-grad' is not a Python name"),
    (
        "no_such_pkg_xyz.losses:f",
        {},
        "no_such_pkg_xyz.losses:f: no module named 'no_such_pkg_xyz'",
    ),
    (
        "pkg_with_dep.losses:f",
        {"pkg_with_dep/__init__.py": "", "pkg_with_dep/losses.py": "import missing_dep_xyz\n"},
        "pkg_with_dep.losses:f: importing pkg_with_dep.losses failed: "
        "no module named 'missing_dep_xyz'",
    ),
]


@pytest.mark.parametrize(("spec", "files", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_loading_error_is_one_line_naming_spec_and_problem(in_tmp, spec, files, message):
    for name, source in files.items():
        write(in_tmp, name, source)
    with pytest.raises(ImplementationError) as caught:
        load_implementation(spec)
    text = str(caught.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_the_expected_signature_is_the_callers(in_tmp):
    write(in_tmp, "my_net.py", "def loss(params, X):\n    pass\n")
    with pytest.raises(ImplementationError) as caught:
        load_implementation("my_net.py:loss", arguments=("params", "X", "y", "reg"))
    assert str(caught.value) == (
        "my_net.py:loss takes 2 positional arguments (params, X); expected f(params, X, y, reg)"
    )
    write(in_tmp, "flexible.py", "def loss(params, X, y=None, reg=0.0, *rest):\n    pass\n")
    assert load_implementation("flexible.py:loss", arguments=("params", "X", "y", "reg"))


def test_a_failed_import_leaves_nothing_behind(in_tmp):
    write(in_tmp, "boom.py", "raise ValueError('no')\n")
    before_modules, before_path = set(sys.modules), list(sys.path)
    with pytest.raises(ImplementationError):
        load_implementation("boom.py:f")
    assert set(sys.modules) == before_modules
    assert sys.path == before_path


# --- isolation: the user's module cannot leak into or shadow ours -----------------------------

SHADOW = """
IMPLEMENTATIONS = {"stable": None}

def stable(scores, labels):
    raise RuntimeError("the user's stable, not gradcheck's")
"""


@pytest.mark.parametrize("file_name", ["softmax.py", "checker.py", "gradcheck_cli.py", "numpy.py"])
def test_a_user_file_named_like_our_modules_shadows_nothing(in_tmp, file_name):
    write(in_tmp, file_name, SHADOW)
    before_path = list(sys.path)
    stem = file_name.removesuffix(".py")
    had_stem = stem in sys.modules
    name, function = load_implementation(f"{file_name}:stable")
    assert name == f"{file_name}:stable"
    assert function.__module__.startswith(f"gradcheck_user_{stem}_")
    assert sys.path == before_path
    assert (stem in sys.modules) == had_stem
    assert softmax.IMPLEMENTATIONS["stable"] is softmax.stable is gradcheck_cli.stable
    assert check("stable", *_batch()).verdict == "pass"
    assert np.exp(0.0) == 1.0  # numpy is still numpy


def test_sibling_imports_work_while_loading_and_the_path_is_restored(in_tmp):
    write(in_tmp, "lib/helpers_for_test_plugins.py", "SCALE = 1.0\n")
    write(
        in_tmp,
        "lib/user.py",
        "from helpers_for_test_plugins import SCALE\n\ndef f(scores, labels):\n    return SCALE\n",
    )
    before_path = list(sys.path)
    _, function = load_implementation("lib/user.py:f")
    assert function(None, None) == 1.0
    assert sys.path == before_path
    sys.modules.pop("helpers_for_test_plugins", None)


def test_two_files_with_one_name_are_two_modules(in_tmp):
    write(in_tmp, "a/impl.py", "def f(scores, labels):\n    return 'a'\n")
    write(in_tmp, "b/impl.py", "def f(scores, labels):\n    return 'b'\n")
    _, first = load_implementation("a/impl.py:f")
    _, second = load_implementation("b/impl.py:f")
    assert (first(None, None), second(None, None)) == ("a", "b")


def test_an_edited_file_is_loaded_again(in_tmp):
    write(in_tmp, "edit.py", "def f(scores, labels):\n    return 1\n")
    assert load_implementation("edit.py:f")[1](None, None) == 1
    write(in_tmp, "edit.py", "def f(scores, labels):\n    return 2\n")
    assert load_implementation("edit.py:f")[1](None, None) == 2


def test_dataclasses_in_a_user_file_work(in_tmp):
    source = """
    from __future__ import annotations
    from dataclasses import dataclass

    @dataclass
    class Config:
        scale: float = 1.0

    def f(scores, labels):
        return Config().scale
    """
    write(in_tmp, "config.py", source)
    assert load_implementation("config.py:f")[1](None, None) == 1.0


def test_what_user_code_prints_goes_to_stderr(in_tmp, capsys):
    source = GOOD + "\nprint('imported!')\n\ndef loud(scores, labels):\n"
    source += "    print('called!')\n    return softmax_loss(scores, labels)\n"
    write(in_tmp, "loud.py", source)
    result = check("loud.py:loud", *_batch())
    captured = capsys.readouterr()
    assert result.verdict == "pass"
    assert captured.out == ""
    assert "imported!" in captured.err and "called!" in captured.err


# --- the command line -------------------------------------------------------------------------


def assert_one_error_line(result, *parts):
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for part in parts:
        assert part in lines[0]


@pytest.mark.parametrize(("spec", "files", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_run_turns_each_loading_error_into_one_line(runner, in_tmp, spec, files, message):
    for name, source in files.items():
        write(in_tmp, name, source)
    result = runner.invoke(main, ["run", SCORES_NPY, LABELS_NPY, "--impl", spec])
    assert_one_error_line(result, message)


def test_run_checks_a_user_file_beside_a_built_in(runner, in_tmp):
    write(in_tmp, "my_softmax.py", GOOD)
    args = ["run", SCORES_NPY, LABELS_NPY, "--impl", "my_softmax.py:softmax_loss", "--impl"]
    result = runner.invoke(main, [*args, "stable", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [e["name"] for e in document["implementations"]] == [
        "my_softmax.py:softmax_loss",
        "stable",
    ]
    assert [e["verdict"] for e in document["implementations"]] == ["pass", "pass"]
    assert document["against"] == "reference"
    assert result.stderr.startswith("Summary: 2 implementations checked: 2 pass")


def test_a_raising_user_function_fails_alone_with_its_own_frames(runner, in_tmp):
    source = GOOD + "\ndef broken(scores, labels):\n    return helper(scores)\n\n"
    source += "def helper(scores):\n    return scores @ scores\n"
    write(in_tmp, "broken.py", source)
    args = ["run", SCORES_NPY, LABELS_NPY, "--impl", "broken.py:broken", "--impl", "stable"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 1
    out = result.stdout
    assert "✗ FAIL broken.py:broken: raised ValueError: matmul" in out
    assert "Traceback (most recent call last):" in out
    assert 'broken.py", line' in out and "in broken" in out and "in helper" in out
    assert "gradcheck_cli" not in out.split("Traceback")[1]
    assert "Summary: 2 implementations checked: 1 pass, 1 fail" in out


def test_user_prints_do_not_break_the_json_document(runner, in_tmp):
    write(in_tmp, "loud.py", GOOD + "\nprint('hello from import')\n")
    args = ["run", SCORES_NPY, LABELS_NPY, "--impl", "loud.py:softmax_loss", "--json"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert json.loads(result.stdout)["implementations"][0]["verdict"] == "pass"
    assert "hello from import" in result.stderr


def test_an_unknown_built_in_is_still_a_usage_error(runner):
    result = runner.invoke(main, ["run", SCORES_NPY, LABELS_NPY, "--impl", "stabel"])
    assert result.exit_code == 2
    assert "Invalid value for '--impl'" in result.stderr
    assert "FILE.py:NAME" in result.stderr


# --- the examples -----------------------------------------------------------------------------


def test_each_example_opens_with_a_one_line_docstring():
    for name in ("my_softmax.py", "buggy_softmax.py", "test_my_softmax.py"):
        source = (EXAMPLES / name).read_text(encoding="utf-8")
        first = source.splitlines()[0].removesuffix('"""')
        assert first.startswith('"""') and first.endswith("."), (name, first)


def test_the_examples_pytest_file_passes_as_a_user_would_run_it():
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "examples/test_my_softmax.py",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "3 passed" in process.stdout


def _buggy(name):
    return load_implementation(f"{EXAMPLES / 'buggy_softmax.py'}:{name}")[1]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing_one_over_n", "entries outside tolerance"),
        ("wrong_label_entry", "entries outside tolerance"),
        ("wrong_axis", "entries outside tolerance"),
        ("no_max_shift", "overflow"),
    ],
)
def test_each_example_bug_is_caught(name, reason):
    scores, labels = _batch()
    if name == "no_max_shift":
        scores = scores + 1000.0  # right for small scores; exp overflows past ~710
    result = check(_buggy(name), scores, labels)
    assert result.verdict == "fail"
    assert reason in result.reason


def test_the_smoothed_examples_need_against_own():
    scores, labels = _batch()
    my = load_implementation(f"{EXAMPLES / 'my_softmax.py'}:label_smoothed_loss")[1]
    against_reference = check(my, scores, labels)
    assert against_reference.verdict == "fail" and against_reference.loss_differs
    assert "check it with --against own" in against_reference.reason
    assert check(my, scores, labels, against="own").verdict == "pass"
    buggy = check(_buggy("smoothed_loss_plain_gradient"), scores, labels, against="own")
    assert buggy.verdict == "fail"


def test_run_reports_an_example_bug_end_to_end(runner):
    spec = "examples/buggy_softmax.py:wrong_label_entry"
    result = runner.invoke(
        main,
        ["run", SCORES_NPY, LABELS_NPY, "--impl", str(REPO / spec), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    entry = json.loads(result.stdout)["implementations"][0]
    assert entry["name"] == "buggy_softmax.py:wrong_label_entry"
    assert entry["verdict"] == "fail"
    assert entry["reason"].startswith("500 of 5000 entries outside tolerance")


def test_run_against_own_judges_the_smoothed_examples(runner):
    args = ["run", SCORES_NPY, LABELS_NPY, "--against", "own", "--impl"]
    args += [f"{EXAMPLES / 'my_softmax.py'}:label_smoothed_loss", "--impl"]
    args += [f"{EXAMPLES / 'buggy_softmax.py'}:smoothed_loss_plain_gradient"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 1
    out = " ".join(result.stdout.split())
    assert "against own loss" in out
    assert "40 sampled entries and 6 random directions against each implementation's own" in out
    assert "✓ PASS my_softmax.py" not in out  # a pass has no reason line...
    assert "my_softmax.py:label_smoothed_loss: judged against its own loss" in out  # ...but this
    assert "✗ FAIL buggy_softmax.py:smoothed_loss_plain_gradient: against its own loss" in out
    assert "Summary: 2 implementations checked: 1 pass, 1 fail" in out


def test_run_names_the_entry_a_failed_direction_was_bisected_to(runner, in_tmp):
    rng = np.random.default_rng(11)
    np.save(in_tmp / "scores.npy", rng.normal(0.0, 2.0, size=(60, 10)))  # 600 entries: directions
    np.save(in_tmp / "labels.npy", rng.integers(0, 10, size=60))
    source = GOOD + "\ndef one_wrong(scores, labels):\n    loss, d = softmax_loss(scores, labels)\n"
    source += "    d[17, 3] += 1e-4\n    return loss, d\n"
    write(in_tmp, "mine.py", source)
    args = ["run", "scores.npy", "labels.npy", "--impl", "mine.py:one_wrong", "--against", "own"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 1
    out = " ".join(result.stdout.split())
    assert "Gradient check · N=60 C=10 · float64 · against own loss" in out
    assert "random directions outside tolerance; worst (17, 3)" in out
    assert "(17, 3): analytic" in out and "(found by bisecting a failed direction)" in out
    assert "40 sampled entries by black-box central differences and 6 random directions" in out
    document = json.loads(runner.invoke(main, [*args, "--json"]).stdout)
    entry = document["implementations"][0]
    assert document["against"] == entry["against"] == "own"
    assert entry["method"] == "black-box directional" and entry["directions"] == 6
    assert entry["worst"][0]["method"] == "directional"
    assert 4 * 46 < entry["reference_calls"] <= 2000


def test_run_help_documents_against_and_user_files(runner):
    result = runner.invoke(main, ["run", "--help"])
    text = " ".join(result.stdout.split())
    assert "--against [reference|own]" in text
    assert "path/to/file.py:NAME or package.module:NAME" in text


# --- through the installed entry point --------------------------------------------------------

GRADCHECK = shutil.which("gradcheck")


@pytest.mark.skipif(GRADCHECK is None, reason="the `gradcheck` entry point is not installed")
def test_entry_point_loads_a_user_file():
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env["COLUMNS"] = "100"

    def run(spec):
        return subprocess.run(
            [GRADCHECK, "run", "examples/scores.npy", "examples/labels.npy", "--impl", spec],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    good = run("examples/my_softmax.py:softmax_loss")
    assert good.returncode == 0, good.stderr
    assert "Summary: 1 implementation checked: 1 pass" in good.stdout
    bad = run("examples/buggy_softmax.py:missing_one_over_n")
    assert bad.returncode == 1, bad.stderr
    assert "FAIL buggy_softmax.py:missing_one_over_n" in " ".join(bad.stdout.split())
    missing = run("examples/nope.py:f")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip() == "Error: examples/nope.py:f: no such file 'examples/nope.py'"


def _batch():
    rng = np.random.default_rng(3)
    return rng.normal(0.0, 2.0, size=(9, 6)), rng.integers(0, 6, size=9)


# --- package roots: course code that imports its own package (issue 8) ----------------------


@pytest.fixture
def course(in_tmp):
    """A package `gc8_course` under in_tmp/project, forgotten by sys.modules afterwards."""
    write(in_tmp, "project/gc8_course/__init__.py", "")
    write(in_tmp, "project/gc8_course/layers.py", "SCALE = 1.0\n")
    write(in_tmp, "project/gc8_course/classifiers/__init__.py", "")
    yield in_tmp / "project"
    for name in [m for m in sys.modules if m == "gc8_course" or m.startswith("gc8_course.")]:
        del sys.modules[name]


def test_the_package_root_is_found_by_walking_up_init_files(course):
    from gradcheck_cli.plugins import package_root

    assert package_root(course / "gc8_course" / "classifiers") == course
    assert package_root(course / "gc8_course") == course
    assert package_root(course) == course  # no __init__.py: a folder is its own root


def test_a_package_file_imports_its_package_and_the_path_is_restored(course):
    write(
        course,
        "gc8_course/classifiers/softmax.py",
        "from gc8_course.layers import SCALE\n\ndef f(scores, labels):\n    return SCALE\n",
    )
    before = list(sys.path)
    _, function = load_implementation("project/gc8_course/classifiers/softmax.py:f")
    assert function(None, None) == 1.0
    assert sys.path == before
    assert sys.modules["gc8_course.layers"].__file__.startswith(str(course))


def test_an_import_inside_a_function_works_when_it_is_called(course):
    write(course, "gc8_course/helpers.py", "VALUE = 7\n")
    write(
        course,
        "gc8_course/classifiers/lazy.py",
        "def f(scores, labels):\n    from gc8_course.helpers import VALUE\n    return VALUE\n",
    )
    before = list(sys.path)
    _, function = load_implementation("project/gc8_course/classifiers/lazy.py:f")
    assert "gc8_course.helpers" not in sys.modules  # nothing imported it yet
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("gc8_course.helpers")  # outside a call the root is not on the path
    assert function(None, None) == 7
    assert sys.path == before
    assert load_implementation("project/gc8_course/classifiers/lazy.py:f")[1] is function


def test_a_class_comes_back_unwrapped_with_its_import_paths_at_hand(course):
    from gradcheck_cli.plugins import load_object, user_import_paths

    write(
        course,
        "gc8_course/classifiers/net.py",
        "class Net:\n    def loss(self):\n        from gc8_course.layers import SCALE\n"
        "        return SCALE\n",
    )
    name, owner = load_object("project/gc8_course/classifiers/net.py:Net")
    assert name == "net.py:Net" and isinstance(owner, type)
    before = list(sys.path)
    with user_import_paths(owner):
        assert str(course) in sys.path
        assert owner().loss() == 1.0
    assert sys.path == before


def test_a_missing_third_party_module_names_itself_and_the_line(in_tmp):
    write(in_tmp, "cs/softmax.py", "import numpy as np\nfrom past.builtins import xrange\n")
    with pytest.raises(ImplementationError) as caught:
        load_implementation("cs/softmax.py:softmax_loss_naive")
    assert str(caught.value) == (
        "cs/softmax.py:softmax_loss_naive: importing cs/softmax.py failed: no module named "
        "'past' (imported at softmax.py, line 2; pip install future provides it)"
    )


def test_run_turns_a_missing_module_into_one_line(runner, in_tmp):
    write(in_tmp, "needs_past.py", "from past.builtins import xrange\n\ndef f(s, y):\n    pass\n")
    result = runner.invoke(main, ["run", SCORES_NPY, LABELS_NPY, "--impl", "needs_past.py:f"])
    assert_one_error_line(result, "no module named 'past'", "pip install future provides it")


def test_a_module_missing_at_call_time_shows_only_the_users_frames(in_tmp):
    write(in_tmp, "late.py", "def f(scores, labels):\n    import torch_is_not_here_xyz\n")
    result = check("late.py:f", *_batch())
    assert result.verdict == "fail"
    assert "ModuleNotFoundError" in result.reason
    assert "late.py" in result.user_traceback and "gradcheck_cli" not in result.user_traceback
