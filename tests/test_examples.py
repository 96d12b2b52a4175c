"""Every example in README.md and in every command's ``--help`` runs as printed.

The examples are read, verbatim, from the README's bash/sh code blocks and from the "Examples:"
section of ``phasecli --help`` and of each command's help (found by walking the click command
tree), so a new example is tested the day it is written.  Each runs in a fresh temporary
directory: in this process (``run_cli``) when it is a plain ``phasecli ...`` line, through a real
``bash -c`` when it uses the shell (a pipe, a redirection, ``$(...)``, ``&&``, ``;``, a variable
assignment).  It must exit 0 and print something (on stdout, or the file it writes).

Not run here, each by a test of its own: the README's install-and-test block
(``test_readme_setup.py``), its "Use in CI" script (``test_ci_example.py``, needs a training script).
The README's Dask block starts a local scheduler and workers and is marked slow.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHELL_SYNTAX = re.compile(r"[|<>;&`]|\$\(|^\s*[A-Z_][A-Z0-9_]*=")
# an activation given as an expression: one per process (its kernels are compiled for it), so such an example runs
# in a process of its own, in the slow tier (its first run compiles the kernels it uses)
EXPRESSION_ACTIVATION = re.compile(r"(?:-a|--activation)[ =]['\"]")
# README blocks run by their own tests: a distinctive line of each
OWN_TESTS = {
    "pip install -e '.[test]'": "test_readme_setup.py",
    'eval "$(phasecli init -a "$ACT"': "test_ci_example.py",
    "source completions/phasecli.bash": "test_completions.py (completion scripts, not phasecli runs)",
    "python -m pytest -n 2 -m": "the suite itself",
}
DASK_MARK = "dask scheduler"
# examples heavier than a few seconds on 2 cores (measured): still run, in the slow tier
SLOW = (
    "phasecli verify -a tanh --sw2 1,1.76,4 --sb2 0.05 --width 32,128,512 --depth 1:50",
    "phasecli warmup",
    "NUMBA_CACHE_DIR=$PWD/phasecli-cache phasecli warmup",
)
# examples that show a failing check: exit status 1 by design (the reason on stderr)
EXPECTED_STATUS = {
    "phasecli check -a tanh --sw2 4 --sb2 0.05 --depth 200": 1,
    "phasecli check --sw2 1:3:5 --sb2 0.05 --depth 20,50": 1,
}


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined (the shell's view)."""
    out, pending = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].rstrip() + " "
            continue
        out.append((pending + line.strip()).strip())
        pending = ""
    return [line for line in out if line]


def readme_blocks() -> list[str]:
    """The README's bash/sh code blocks, as written."""
    return re.findall(r"^```(?:bash|sh)\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def readme_examples() -> list[str]:
    """Every line of a README bash/sh block that runs phasecli, except the blocks with tests of their own
    and the Dask block (``dask_block``)."""
    found = []
    for block in readme_blocks():
        if any(mark in block for mark in OWN_TESTS) or DASK_MARK in block:
            continue
        found += [line for line in _logical_lines(block) if re.search(r"(^|[\s(])phasecli ", line)]
    return found


def help_examples() -> list[tuple[str, str]]:
    """(command path, example) for every line of the "Examples:" section of every help page."""
    from phasecli.cli import cli

    pages = [("phasecli", [])] + [(f"phasecli {name}", [name]) for name in cli.commands]
    found = []
    for label, args in pages:
        text = run_cli(*args, "--help").stdout
        section = re.search(r"^ *Examples:\n(.*?)(?:\n\s*\n|\Z)", text, flags=re.S | re.M)
        assert section is not None, f"{label} --help has no Examples section"
        found += [(label, line) for line in _logical_lines(section.group(1))]
    return found


def _case_id(example: str) -> str:
    return re.sub(r"\s+", " ", example)[:90]


README_CASES = readme_examples()
ALL_HELP_CASES = help_examples()


def _command(example: str) -> str:
    """The example without its trailing comment (the README and a help page may explain the same line apart)."""
    return re.sub(r"\s+#\s.*$", "", example).strip()


# a help example printed in the README too runs once (as a README example), and so does one printed by two
# help pages (e.g. phasecli --help and phasecli phase --help)
HELP_CASES = []
for _label, _example in ALL_HELP_CASES:
    if _command(_example) not in {_command(e) for e in README_CASES} | {_command(e) for _, e in HELP_CASES}:
        HELP_CASES.append((_label, _example))


def _marks(example):
    slow = any(example.startswith(s) for s in SLOW) or EXPRESSION_ACTIVATION.search(example)
    return [pytest.mark.slow] if slow else []


def _shell_env(tmp_path):
    bin_dir = os.path.dirname(sys.executable)  # this phasecli and python first, as in an activated venv
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(tmp_path),
                XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")))


def _seed_cache(example: str, tmp_path: Path) -> None:
    """An example that sets NUMBA_CACHE_DIR gets a copy of the warm kernel cache there (a first run would spend
    minutes compiling, which the example does not show): the folder of these kernel sources only."""
    match = re.search(r"NUMBA_CACHE_DIR=(\S+)", example)
    if match is None:
        return
    from phasecli.runtime import cache as _cachedir

    target = Path(match.group(1).replace("$PWD", str(tmp_path)))
    if not target.is_absolute():
        target = tmp_path / target
    assert tmp_path in target.parents, f"{example!r} writes its cache outside the test directory"
    # the kernels of these sources and their warm markers (not the folders of other versions or checkouts)
    source, stamp = Path(_cachedir.cache_dir()), _cachedir.source_stamp()
    target.mkdir(parents=True)
    for folder in source.glob(f"phasecli-*-{stamp}"):
        shutil.copytree(folder, target / folder.name, ignore=shutil.ignore_patterns("*.lock"))
    for marker in source.glob(f".warm-{stamp}-*"):
        shutil.copy2(marker, target / marker.name)


def run_example(example: str, tmp_path: Path) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of one example run in tmp_path."""
    _seed_cache(example, tmp_path)
    if SHELL_SYNTAX.search(example) or EXPRESSION_ACTIVATION.search(example):
        assigned = re.match(r"^([A-Z_][A-Z0-9_]*)=\$\(", example)
        script = f"set -o pipefail\n{example}"
        if assigned:  # VAR=$(phasecli ...) prints nothing itself: show what it assigned
            script += f'\nprintf "%s\\n" "${assigned.group(1)}"'
        r = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=_shell_env(tmp_path),
                           capture_output=True, text=True, timeout=600)
        return r.returncode, r.stdout, r.stderr
    argv = shlex.split(example, comments=True)
    assert argv[0] == "phasecli", example
    saved = os.getcwd()
    os.chdir(tmp_path)
    try:
        r = run_cli(*argv[1:])
    finally:
        os.chdir(saved)
    return r.returncode, r.stdout, r.stderr


def _check(example, tmp_path):
    status, out, err = run_example(example, tmp_path)
    expected = next((code for start, code in EXPECTED_STATUS.items() if example.startswith(start)), 0)
    assert status == expected, f"{example}\nexit {status}: {err.strip()[-2000:]}"
    if expected == 1:
        assert "fail" in out + err, err
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.stat().st_size > 0 and "numba" not in p.parts
             and not p.name.startswith(".")]
    # warmup reports on stderr only (its stdout stays empty by design)
    assert out.strip() or files or ("warmup" in example and err.strip()), f"{example}: no output"
    assert "Traceback" not in err, err


def test_examples_are_found():
    commands = {label for label, _ in ALL_HELP_CASES}
    from phasecli.cli import cli

    assert commands == {"phasecli"} | {f"phasecli {name}" for name in cli.commands}
    assert len(README_CASES) >= 10 and len(ALL_HELP_CASES) >= 40
    blocks = "".join(readme_blocks())
    for mark in [*OWN_TESTS, DASK_MARK]:
        assert mark in blocks, f"README no longer has {mark!r}: update OWN_TESTS"
    for example in [*SLOW, *EXPECTED_STATUS]:
        assert any(e.startswith(example) for e in README_CASES + [e for _, e in ALL_HELP_CASES]), example


@pytest.mark.parametrize("example", [pytest.param(e, marks=_marks(e), id=_case_id(e)) for e in README_CASES])
def test_readme_example_runs(example, tmp_path):
    _check(example, tmp_path)


@pytest.mark.parametrize("example", [pytest.param(e, marks=_marks(e), id=_case_id(f"{label}: {e}"))
                                     for label, e in HELP_CASES])
def test_help_example_runs(example, tmp_path):
    _check(example, tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_readme_dask_example_runs(tmp_path):
    """The README's Dask block as written, on a free loopback port instead of 8786 (which may be taken)."""
    block = next(b for b in readme_blocks() if DASK_MARK in b)
    port = _free_port()
    script = block.replace("8786", str(port))
    lines = _logical_lines(script)
    assert lines[0].startswith("dask scheduler --host 127.0.0.1") and lines[0].rstrip().endswith("&")
    env = _shell_env(tmp_path)
    cluster = subprocess.Popen(["bash", "-c", f"{lines[0]}\nwait"], cwd=tmp_path, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        time.sleep(5)  # the workers register
        for example in lines[1:]:
            r = subprocess.run(["bash", "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=600)
            assert r.returncode == 0 and r.stdout.strip(), (example, r.stderr)
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        cluster.wait(timeout=30)
