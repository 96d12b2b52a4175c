"""`phasecli kappa` on fully connected networks imports only what it needs (issue 24): not the CNN engine
(its kernels module, which the large-depth limits share, may load), not scipy.spatial (the squared row distances come from phasecli's own kernel)."""

import json
import subprocess
import sys

CHILD = r"""
import json, os, sys, tempfile
import numpy as np
path = os.path.join(tempfile.mkdtemp(), "X.npy")
np.save(path, np.random.default_rng(0).standard_normal((12, 4)))
from phasecli.cli import main
for extra in (["--no-normalize"], []):
    try:
        main(["kappa", "-a", "erf", "--sw2", "1.5", "--sb2", "0.05", "--data", path, "--depth", "1:3", "-f", "csv"]
             + extra)
    except SystemExit as exc:
        assert not exc.code, exc.code
print(json.dumps(sorted(m for m in sys.modules
                        if m.startswith(("scipy.spatial", "matplotlib", "dask")) or m == "phasecli.ntk.engines.cnn")))
"""


def test_fc_kappa_imports_neither_cnn_nor_scipy_spatial():
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) > 4  # the rows were written
    assert json.loads(lines[-1]) == []
