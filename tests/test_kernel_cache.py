"""The kernel cache is keyed on phasecli's version and kernel sources, not on the install path: two
installs of the same sources (two virtualenvs, an image and a checkout) share it; an edit (of a kernel
or of the activation registry, whose tables the kernels compile in) never reads a stale kernel."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import phasecli

PACKAGE = Path(phasecli.__file__).resolve().parent


CALL_KERNEL = ("import sys, phasecli, phasecli.expectations.kernels as K\n"
               "assert phasecli.__file__.startswith(sys.argv[1]), phasecli.__file__\n"
               "K._sigmoid(0.25)\n"
               "print("
               "sum(K._sigmoid.stats.cache_hits.values()), sum(K._sigmoid.stats.cache_misses.values()))\n")


def _copy_package(dest: Path) -> Path:
    shutil.copytree(PACKAGE, dest / "phasecli", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _hits_misses(root: Path, cache: Path):
    env = dict(os.environ, PYTHONPATH=str(root), NUMBA_CACHE_DIR=str(cache))
    r = subprocess.run([sys.executable, "-c", CALL_KERNEL, str(root)], capture_output=True, text=True, env=env,
                       timeout=300, cwd=root)
    assert r.returncode == 0, r.stderr
    return tuple(int(v) for v in r.stdout.split())


def test_two_installs_of_the_same_sources_share_the_cache_and_an_edit_does_not(tmp_path):
    cache = tmp_path / "cache"
    first = _copy_package(tmp_path / "venv-a")
    second = _copy_package(tmp_path / "venv-b")
    assert _hits_misses(first, cache) == (0, 1)  # compiled and saved
    assert _hits_misses(second, cache) == (1, 0)  # another path, same sources: loaded
    edited = _copy_package(tmp_path / "venv-c")
    with open(edited / "phasecli" / "expectations" / "kernels.py", "a") as f:
        f.write("\n# an edit\n")
    assert _hits_misses(edited, cache) == (0, 1)  # other sources: compiled again, never a stale kernel
    registry = _copy_package(tmp_path / "venv-d")  # the kernels compile the registry's tables in as constants
    with open(registry / "phasecli" / "activations" / "__init__.py", "a") as f:
        f.write("\n# an edit\n")
    assert _hits_misses(registry, cache) == (0, 1)
    assert _hits_misses(first, cache) == (1, 0)  # and the first install's entries are still there
