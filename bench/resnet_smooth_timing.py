"""Residual networks with a smooth activation (tanh): the time of the phase rows and of the kappa engine, for
whichever phasecli is imported (to compare two versions: run with PYTHONPATH pointing at each checkout, e.g.
``git archive <commit> | tar -x -C /tmp/old``), values saved for the comparison.

    python bench/resnet_smooth_timing.py phase NSW2 NSB2 DEPTH LAYER_NORM OUT.npz
    python bench/resnet_smooth_timing.py kappa M DEPTH LAYER_NORM NORMALIZE(0|1) OUT.npz

phase: ``resnet_depth_grid('tanh', sw2 = linspace(0.5, 4, NSW2), sb2 = linspace(0, 1, NSB2), DEPTH)``;
kappa: ``ntk_spectra('tanh', synthetic_data(M, 10, 0), 2, 0.1, depths 1..DEPTH, resnet, alpha = 1)``.
Prints the seconds (after a small warm-up call) and the 1-minute load average before / after.
"""

import os
import sys
import time

import numpy as np


def main(argv):
    what = argv[0]
    if what == "phase":
        from phasecli.meanfield.resnet import resnet_depth_grid

        nsw2, nsb2, depth, ln, out = int(argv[1]), int(argv[2]), int(argv[3]), argv[4], argv[5]
        resnet_depth_grid("tanh", [1.0], [0.1], 2, layer_norm=ln)
        load = os.getloadavg()[0]
        t = time.perf_counter()
        g = resnet_depth_grid("tanh", np.linspace(0.5, 4, nsw2), np.linspace(0, 1, nsb2), depth, layer_norm=ln)
        dt = time.perf_counter() - t
        np.savez(out, q=g.q_depth, c=g.c_depth, grad_growth=g.grad_growth, exponent=g.c_exponent)
    else:
        from phasecli import ntk
        from phasecli.data import synthetic_data

        m, depth, ln, norm, out = int(argv[1]), int(argv[2]), argv[3], argv[4] == "1", argv[5]
        X = synthetic_data(m, 10, 0)
        opts = {"residual_scale": 1.0, "layer_norm": ln}
        ntk.ntk_spectra("tanh", X[:3], 2.0, 0.1, [1], normalize=norm, architecture="resnet", options=opts)
        load = os.getloadavg()[0]
        t = time.perf_counter()
        sp = ntk.ntk_spectra("tanh", X, 2.0, 0.1, np.arange(1, depth + 1), normalize=norm, architecture="resnet",
                             options=opts)
        dt = time.perf_counter() - t
        np.savez(out, lambda_max=sp.lambda_max, lambda_min=sp.lambda_min, kappa=sp.kappa, nngp_kappa=sp.nngp_kappa)
    print(f"{dt:.3f} s; load {load:.2f} -> {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
