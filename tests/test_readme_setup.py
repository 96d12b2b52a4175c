"""The README's two set-up commands, run in order in one fresh virtualenv, leave a working phasecli.

A regular install followed by an editable one used to leave ``site-packages/phasecli/__pycache__``
(the numba cache) behind as an empty namespace package that shadowed the real one.  This test
copies the repository, creates a venv, runs the README's first command as written, the install
of the second (its test run is replaced by test collection: the suite does not run itself), and
then ``phasecli critical`` from another directory.  It needs the package index (or pip's cache).

The new user's kernel cache starts as a copy of this process's (warm) cache folder for these
kernel sources: compiling from an empty cache is what ``phasecli warmup`` does at the start of
every CI run and what tests/test_warmup.py checks; here it would add a minute of compiling that
shows nothing about the install.  The copy shows instead that a kernel cache written by one
virtualenv serves another: the new venv's runs compile nothing (no kernel cache file is added
or rewritten).
"""

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_setup_commands():
    """The two commands of the README's first code block (comments stripped)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert len(commands) == 2, commands
    return commands


def _cache_files(folder):
    """{relative path: (size, mtime_ns)} of every file under folder."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")
            if p.is_file()}


def _seed_kernel_cache(target):
    """Copy this process's compiled kernels (the folder of these kernel sources) and warm markers into
    target; returns (folder, its files)."""
    from phasecli.runtime import cache as _cachedir

    source = Path(_cachedir.cache_dir())
    stamp = _cachedir.source_stamp()
    folder = next(source.glob(f"phasecli-*-{stamp}"))
    target.mkdir(parents=True)
    shutil.copytree(folder, target / folder.name, ignore=shutil.ignore_patterns("*.lock"))
    for marker in source.glob(f".warm-{stamp}-*"):
        shutil.copy2(marker, target / marker.name)
    return target / folder.name, _cache_files(target / folder.name)


def test_readme_opens_with_an_install_and_a_test_command():
    main, tests = readme_setup_commands()
    assert main.startswith("pip install ") and "phasecli " in main
    assert tests.startswith("pip install -e ") and "pytest" in tests
    test_command = tests.split("&&", 1)[1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text(), "CI must run the README's test command"


@pytest.mark.slow
def test_readme_setup_commands_in_one_fresh_venv(tmp_path):
    main, tests = readme_setup_commands()
    repo = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "NUMBA_CACHE_DIR")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_CACHE_HOME"] = str(tmp_path / "user-cache")  # a new user, with the kernels another venv compiled
    kernels = _seed_kernel_cache(tmp_path / "user-cache" / "phasecli" / "numba")
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def shell(command, cwd):
        r = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
        assert r.returncode == 0, (command, r.stdout[-2000:], r.stderr[-2000:])
        return r

    shell(main, repo)
    assert (repo / "phase.png").read_bytes()[:4] == b"\x89PNG"
    shell(tests.replace("python -m pytest", "python -m pytest --collect-only -q"), repo)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = shell("phasecli critical -a tanh --sb2 0.05 --value", elsewhere)
    assert math.isclose(float(r.stdout), 1.7609546396067, rel_tol=1e-12), r.stdout
    assert _cache_files(kernels[0]) == kernels[1], "the new venv recompiled kernels another venv had cached"
    site = next((venv / "lib").glob("python*/site-packages"))
    assert not (site / "phasecli").exists(), "a stale phasecli folder shadows the editable install"
