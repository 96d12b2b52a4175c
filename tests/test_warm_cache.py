"""A warm numba cache compiles nothing at run time (issue 24).

The kappa engine (spectra of the NTK and NNGP, normalized and data as given, on one thread
and on the parallel path, closed-form and smooth activations, then ``phasecli kappa`` itself
in the same process) runs twice in fresh
interpreters sharing one cache directory; the second run must load every kernel it calls
from the cache: any dispatcher with a cache miss (a function without cache=True, a
dispatcher called with new argument types, a closure) fails the test by name.
"""

import json
import os
import subprocess
import sys

CHILD = r"""
import gc, json, sys
from phasecli import ntk
for m in (6, 210):  # one thread below 40000 pairs, the parallel layer kernels above
    X = ntk.synthetic_data(m, 5, 0)
    for normalize in (True, False):
        ntk.ntk_spectra("erf", X, 1.37584, 0.05, [1, 3], normalize=normalize)
        ntk.ntk_spectra("erf", X, 0.8, 0.1, [2, 30], normalize=normalize)  # ordered: the deflated spectra
X = ntk.synthetic_data(6, 5, 0)
for normalize in (True, False):
    ntk.ntk_spectra("tanh", X, 1.5, 0.05, [1, 2], normalize=normalize)
    ntk.ntk_spectra("relu", X, 1.5, 0.1, [1, 2], normalize=normalize)
# the command line in this process (its own path: planning, the sweep, the writer), data as given and normalized
import os, tempfile
import numpy as np
from phasecli.cli import main
path = os.path.join(tempfile.mkdtemp(), "X.npy")
np.save(path, ntk.synthetic_data(140, 5, 1))
for extra in (["--no-normalize"], []):
    try:
        main(["kappa", "-a", "erf", "--sw2", "1.37584", "--sb2", "0.05", "--data", path, "--depth", "1:3", "-f", "csv"]
             + extra)
    except SystemExit as exc:
        assert not exc.code, exc.code
from numba.core.registry import CPUDispatcher
misses, hits = [], 0
for obj in gc.get_objects():
    if isinstance(obj, CPUDispatcher):
        hits += sum(obj.stats.cache_hits.values())
        if obj.stats.cache_misses:
            misses.append(obj.py_func.__module__ + "." + obj.py_func.__qualname__)
print(json.dumps({"misses": sorted(misses), "hits": hits}))
"""


def _run(env):
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_warm_run_compiles_nothing():
    env = dict(os.environ)
    env.pop("NUMBA_DISABLE_JIT", None)
    _run(env)  # warms the cache if it is cold (the suite's other tests usually have)
    second = _run(env)
    assert second["misses"] == [], f"compiled at run time on a warm cache: {second['misses']}"
    assert second["hits"] > 10  # the kernels were loaded from the cache, so the check saw them
