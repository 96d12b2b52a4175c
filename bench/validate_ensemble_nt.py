"""generalize's ensemble columns against neural-tangents' ensemble predictor, in one run (issue 18).

    python bench/validate_ensemble_nt.py --nt-python /path/to/venv/bin/python

neural-tangents 0.6.5 (float64, in the interpreter given by --nt-python: jax, neural-tangents) builds
the erf network's kernel function (``stax.serial`` of Dense(W_std=sqrt(sw2), b_std=sqrt(0.1),
parameterization='ntk') and Erf, L times, then the readout) and its
``predict.gradient_descent_mse_ensemble(..., compute_cov=True)`` mean and test covariance for the NTK
and the NNGP, t = inf and t = 3 (neural-tangents' time t * m k with learning rate 1: the mean loss),
on 80 balanced digits rows (8 per class, pixels / 16, data as given) and 40 test rows; ordered
(sw2 = 1) and chaotic (sw2 = 3) points, depths 2 and 8.  This side computes the argmax probability
from neural-tangents' mean and variance with ``scipy.integrate.quad`` and compares it with
``ensemble_accuracy``, sqrt(mean variance) with ``ensemble_std``, and (NTK, chaotic, t = inf, where
P(Theta*) = 0) the RMS of neural-tangents' mean with ``delta``.  Prints the largest differences.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

SW2S, DEPTHS, SB2 = (1.0, 3.0), (2, 8), 0.1

CHILD = r'''
import sys
import numpy as np
import jax
jax.config.update("jax_enable_x64", True)
import neural_tangents as nt
from neural_tangents import stax

d = np.load(sys.argv[1])
X, Y, Xt = d["X"], d["Y"], d["Xt"]
out = {}
for sw2 in %(sw2s)r:
    for depth in %(depths)r:
        layers = []
        for _ in range(depth):
            layers += [stax.Dense(1, W_std=np.sqrt(sw2), b_std=np.sqrt(%(sb2)r), parameterization="ntk"), stax.Erf()]
        layers += [stax.Dense(1, W_std=np.sqrt(sw2), b_std=np.sqrt(%(sb2)r), parameterization="ntk")]
        kernel_fn = stax.serial(*layers)[2]
        predict = nt.predict.gradient_descent_mse_ensemble(kernel_fn, X, Y, learning_rate=1.0)
        for get in ("ntk", "nngp"):
            for t in (None, 3.0):
                mean, cov = predict(t=None if t is None else t * Y.size, x_test=Xt, get=get, compute_cov=True)
                key = "%%s_%%s_%%s_%%s" %% (sw2, depth, get, t)
                out[key + "_mean"] = np.asarray(mean)
                out[key + "_var"] = np.diag(np.asarray(cov))
np.savez(sys.argv[2], **out)
''' % {"sw2s": SW2S, "depths": DEPTHS, "sb2": SB2}


def argmax_probability(mean, label, std):
    from scipy.integrate import quad

    shifts = [(mean[label] - mean[j]) / std for j in range(mean.size) if j != label]

    def integrand(z):
        return math.exp(-z * z / 2) / math.sqrt(2 * math.pi) * math.prod(
            0.5 * math.erfc(-(a + z) / math.sqrt(2)) for a in shifts)

    return quad(integrand, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13, limit=400)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nt-python", required=True)
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from importlib.resources import files

    from phasecli.data import balanced_rows, load_labelled
    from phasecli.ntk import predictor

    X, y = load_labelled(str(files("phasecli") / "data" / "digits_train.csv"))
    keep = balanced_rows(y, 8)
    X, y = X[keep] / 16.0, y[keep]
    Xt, yt = load_labelled(str(files("phasecli") / "data" / "digits_test.csv"))
    Xt, yt = Xt[:40] / 16.0, yt[:40]
    Y = predictor.encode_targets(y, np.unique(y))
    with tempfile.TemporaryDirectory() as tmp:
        data, result = os.path.join(tmp, "data.npz"), os.path.join(tmp, "nt.npz")
        np.savez(data, X=X, Y=Y, Xt=Xt)
        child = os.path.join(tmp, "child.py")
        with open(child, "w") as fh:
            fh.write(CHILD)
        subprocess.run([args.nt_python, child, data, result], check=True, stderr=subprocess.DEVNULL)
        nt = dict(np.load(result))
    worst = {"ensemble_accuracy": 0.0, "ensemble_std (relative)": 0.0, "delta (relative)": 0.0}
    for sw2 in SW2S:
        for get in ("ntk", "nngp"):
            for t in (None, 3.0):
                r = predictor.ntk_generalization("erf", X, y, Xt, yt, sw2, SB2, list(DEPTHS), normalize=False,
                                                 nngp=get == "nngp", time=t, eta=None if t is None else 1.0)
                for i, depth in enumerate(DEPTHS):
                    key = f"{sw2}_{depth}_{get}_{t}"
                    mean, var = nt[key + "_mean"], np.maximum(nt[key + "_var"], 0.0)
                    acc = float(np.mean([argmax_probability(mean[j], int(yt[j]), math.sqrt(var[j]))
                                         for j in range(len(yt))]))
                    std = math.sqrt(float(np.mean(var)))
                    d_acc, d_std = abs(r.ensemble_accuracy[i] - acc), abs(r.ensemble_std[i] - std) / std
                    worst["ensemble_accuracy"] = max(worst["ensemble_accuracy"], d_acc)
                    worst["ensemble_std (relative)"] = max(worst["ensemble_std (relative)"], d_std)
                    line = (f"sw2={sw2:g} depth={depth} {get} t={t} ({r.phase}): ensemble_accuracy "
                            f"{r.ensemble_accuracy[i]:.10f}, neural-tangents {acc:.10f}; std relative {d_std:.1e}")
                    if t is None and get == "ntk" and r.phase == "chaotic":
                        delta = math.sqrt(float(np.mean(mean ** 2))) / math.sqrt(float(np.mean(Y ** 2)))
                        d_delta = abs(r.delta[i] - delta) / delta
                        worst["delta (relative)"] = max(worst["delta (relative)"], d_delta)
                        line += f"; delta relative {d_delta:.1e}"
                    print(line)
    print("largest differences: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))


if __name__ == "__main__":
    main()
