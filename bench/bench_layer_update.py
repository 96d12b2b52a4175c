"""Pair evaluations per second of the data-as-given layer update against a plain numba loop.

    python bench/bench_layer_update.py [--m 600] [--layers 20] [--out bench/RESULTS_layer_update.md]

In one process: (a) phasecli's deviation-tracked layer update (``RawEngine._step`` of
``phasecli.ntk.engines.fc``: the erf pair maps, the update of (eps, Delta), their error
bounds and the diagonal differences, then the mirror of the upper triangles), m = 600 erf
inputs as given; (b) a plain numba loop over the same closed form on the entries
(K' = sw2 (2/pi) asin(2 K / sqrt((1 + 2 K_aa)(1 + 2 K_bb))) + sb2,
Theta' = K' + sw2 (4/pi) Theta / sqrt((1 + 2 K_aa)(1 + 2 K_bb) - 4 K^2): one asin, two
square roots, no deviations, no error bounds), upper triangle then mirror, the same
threads; (c) a streaming copy of the six m x m arrays the update reads and writes
(the memory floor).  Reports pairs (m (m - 1) / 2 per layer) per second, best of the
layers, and the load average.  No assertion: numbers to read.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from numba import njit, prange  # noqa: E402


@njit(cache=True, parallel=True)
def plain_erf_layer(k, th, sw2, sb2, k1, th1):
    n = k.shape[0]
    for i in prange(n):
        ai = 1.0 + 2.0 * k[i, i]
        for j in range(i, n):
            p = ai * (1.0 + 2.0 * k[j, j])
            kij = k[i, j]
            t = 2.0 / math.pi * math.asin(2.0 * kij / math.sqrt(p))
            td = 4.0 / math.pi / math.sqrt(p - 4.0 * kij * kij)
            kn = sw2 * t + sb2
            k1[i, j] = kn
            th1[i, j] = kn + sw2 * td * th[i, j]
    for i in prange(n):
        for j in range(i + 1, n):
            k1[j, i] = k1[i, j]
            th1[j, i] = th1[i, j]


@njit(cache=True, parallel=True)
def stream6(a, b, c, d, e, f):
    """Read and write six arrays once (x -> x * 1.0000001): the memory traffic of the update."""
    n = a.shape[0]
    for i in prange(n):
        for j in range(a.shape[1]):
            a[i, j] *= 1.0000001
            b[i, j] *= 1.0000001
            c[i, j] *= 1.0000001
            d[i, j] *= 1.0000001
            e[i, j] *= 1.0000001
            f[i, j] *= 1.0000001


def best(fn, reps):
    out = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--m", type=int, default=600)
    ap.add_argument("--layers", type=int, default=20)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "RESULTS_layer_update.md"))
    args = ap.parse_args(argv)
    import numba

    from phasecli import ntk

    m = args.m
    pairs = m * (m - 1) / 2
    X = ntk.synthetic_data(m, args.dim, 0)
    sw2, sb2 = 1.37584, 0.05
    st = ntk._setup("erf", X, sw2, sb2, None, 0.01, False, 1.0, None, 2)
    eng = st.engine
    eng._step()  # warm (cache load)
    t_dev = best(eng._step, args.layers)

    d = X.shape[1]
    k = sw2 * X @ X.T / d + sb2
    th = k.copy()
    k1, th1 = np.empty_like(k), np.empty_like(k)
    plain_erf_layer(k, th, sw2, sb2, k1, th1)
    t_plain = best(lambda: plain_erf_layer(k, th, sw2, sb2, k1, th1), args.layers)
    arrs = [np.random.default_rng(i).random((m, m)) for i in range(6)]
    stream6(*arrs)
    t_stream = best(lambda: stream6(*arrs), args.layers)
    load = os.getloadavg()
    lines = ["# Layer update: pair evaluations per second (bench/bench_layer_update.py)", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M')}; m = {m} erf inputs as given (dim {args.dim}), "
             f"{numba.get_num_threads()} threads, best of {args.layers} layers, load average "
             f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 shared cores: compare the ratios).", "",
             "| loop | time per layer | pairs per second | vs plain |", "| --- | ---: | ---: | ---: |",
             f"| phasecli deviation-tracked layer (`RawEngine._step`) | {t_dev * 1e3:.2f} ms | "
             f"{pairs / t_dev / 1e6:.1f} M | {t_dev / t_plain:.2f}x the time |",
             f"| plain numba erf loop on the entries (K, Theta) | {t_plain * 1e3:.2f} ms | "
             f"{pairs / t_plain / 1e6:.1f} M | 1 |",
             f"| streaming read + write of the six m x m arrays | {t_stream * 1e3:.2f} ms | "
             f"({6 * 2 * 8 * m * m / t_stream / 1e9:.1f} GB/s) | {t_stream / t_plain:.2f}x |", ""]
    text = "\n".join(lines)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)

if __name__ == "__main__":
    main()
