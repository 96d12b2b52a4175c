"""Pair evaluations per second of the data-as-given layer update against a plain numba loop.

    python bench/bench_layer_update.py [--m 600] [--layers 20] [--out bench/RESULTS_layer_update.md]

In one process, round-robin on the same layer state (m = 600 erf inputs as given, 3 layers deep):
phasecli's erf layer kernel (``fc_kernels.erf_dev_layer_sym``); the general kernel it replaces
for erf (``unequal_kernels.dev_layer_sym`` + ``mirror_dev``, and each part alone); the same pair
functions in a flat loop (no dispatch); the erf pair maps alone (no update, no error bounds); a
plain numba loop over the closed form on the entries
(K' = sw2 (2/pi) asin(2 K / sqrt((1 + 2 K_aa)(1 + 2 K_bb))) + sb2,
Theta' = K' + sw2 (4/pi) Theta / sqrt((1 + 2 K_aa)(1 + 2 K_bb) - 4 K^2): one asin, two
square roots, no deviations, no error bounds); a streaming pass over the six m x m arrays the
update reads and writes (the memory floor); and the whole ``RawEngine._step``.  Wall and CPU
time (all threads) per call, best of the calls; pairs are m (m - 1) / 2 per layer.  Also
checks that the erf kernel's numbers equal the general kernel's bit for bit.  No assertion on
times: numbers to read.
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

from phasecli.maps import unequal_kernels as RK  # noqa: E402


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


@njit(cache=True)
def _flat_row(i, sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm):
    n = eps.shape[0]
    ra = rows[i]
    for j in range(i + 1, n):
        rb = rows[j]
        ds = dsm[i, j]
        dt, et, td, edt, eet, dv, dw = RK.dev_erf_rows(ra, rb, ds, eps[i, j])
        en, dn, een, edn, ds1, dp1 = RK.dev_update(dt, et, td, edt, eet, eps[i, j], dl[i, j], ee[i, j], ed[i, j],
                                                    dv, dw, ds, dpm[i, j], True, ra, rb, sw2, sb2e, g, rel)
        dsm[i, j] = ds1
        dpm[i, j] = dp1
        eps[i, j] = en
        dl[i, j] = dn
        ee[i, j] = een
        ed[i, j] = edn


@njit(cache=True, parallel=True)
def flat_erf_dev_layer(sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm):
    """The deviation-tracked erf update of phasecli's kernel (its own pair functions ``dev_erf_rows`` and
    ``dev_update``), in a flat loop: no mode / activation dispatch, no 1 x 1 placeholder arrays."""
    n = eps.shape[0]
    half = (n + 1) // 2
    for t in prange(half):
        i = np.int64(t)
        _flat_row(i, sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm)
        i2 = np.int64(n - 1) - i
        if i2 != i:
            _flat_row(i2, sw2, sb2e, g, rel, rows, eps, dl, ee, ed, dsm, dpm)


@njit(cache=True)
def _maps_row(i, rows, eps, dsm, out_dt, out_et):
    n = eps.shape[0]
    ra = rows[i]
    for j in range(i + 1, n):
        dt, et, td, edt, eet, dv, dw = RK.dev_erf_rows(ra, rows[j], dsm[i, j], eps[i, j])
        out_dt[i, j] = dt
        out_et[i, j] = et + td


@njit(cache=True, parallel=True)
def flat_erf_maps(rows, eps, dsm, out_dt, out_et):
    """The erf pair maps alone (``dev_erf_rows``: dt, et from the deviations), no layer update, no errors."""
    n = eps.shape[0]
    half = (n + 1) // 2
    for t in prange(half):
        i = np.int64(t)
        _maps_row(i, rows, eps, dsm, out_dt, out_et)
        i2 = np.int64(n - 1) - i
        if i2 != i:
            _maps_row(i2, rows, eps, dsm, out_dt, out_et)


def best(fn, reps):
    """(best wall time, best CPU time of this process over all threads) of ``reps`` calls."""
    wall = cpu = math.inf
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


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
    from phasecli.ntk.engines import fc_kernels as FK

    load0 = os.getloadavg()
    m = args.m
    pairs = m * (m - 1) / 2
    X = ntk.synthetic_data(m, args.dim, 0)
    sw2, sb2 = 1.37584, 0.05
    st = ntk._setup("erf", X, sw2, sb2, None, 0.01, False, 1.0, None, 2)
    eng = st.engine
    for _ in range(3):
        eng._step()  # warm (cache load), and a state a few layers deep
    # the arguments of the layer's pair kernel, as RawEngine._step builds them
    sb2e = eng.sb2 * math.exp(-eng.lk)
    g = math.exp(eng.lk - eng.lt)
    v, w = eng._diag(eng.s)
    rows, _, _ = eng._rows(eng.s, eng.P, v, w, sb2e, g)
    rel = 8 * np.finfo(np.float64).eps
    state = [x.copy() for x in (eng.eps, eng.dl, eng.ee, eng.ed, eng.dsm, eng.dpm)]
    none = np.zeros((1, 1))

    def general(arrs):
        RK.dev_layer_sym(RK.MODE_CLOSED, eng.code, eng.slope, sw2, sb2e, g, rel, rows, *arrs, *(none,) * 5)
        RK.mirror_dev(*arrs)

    def general_pairs(arrs):
        RK.dev_layer_sym(RK.MODE_CLOSED, eng.code, eng.slope, sw2, sb2e, g, rel, rows, *arrs, *(none,) * 5)

    def special(arrs):
        FK.erf_dev_layer_sym(sw2, sb2e, g, rel, rows, *arrs)

    def flat(arrs):
        flat_erf_dev_layer(sw2, sb2e, g, rel, rows, *arrs)
        RK.mirror_dev(*arrs)

    out_dt, out_et = np.zeros((m, m)), np.zeros((m, m))
    d = X.shape[1]
    k = sw2 * X @ X.T / d + sb2
    th = k.copy()
    k1, th1 = np.empty_like(k), np.empty_like(k)
    stream_arrs = [np.random.default_rng(i).random((m, m)) for i in range(6)]
    loops = [
        ("phasecli's erf layer kernel (`fc_kernels.erf_dev_layer_sym`: pairs + mirror per 64 x 64 tile)", special),
        ("the general kernel it replaces for erf (`unequal_kernels.dev_layer_sym` + `mirror_dev`)", general),
        ("  its pairs alone (`dev_layer_sym`, upper triangle)", general_pairs),
        ("  its mirror alone (`mirror_dev`)", lambda arrs: RK.mirror_dev(*arrs)),
        ("the same pair functions in a flat row loop (bench kernel) + `mirror_dev`", flat),
        ("the erf pair maps alone (`dev_erf_rows`: no update, no error bounds)",
         lambda arrs: flat_erf_maps(rows, arrs[0], arrs[4], out_dt, out_et)),
        ("plain numba erf loop on the entries (K, Theta): one asin, two square roots",
         lambda arrs: plain_erf_layer(k, th, sw2, sb2, k1, th1)),
        ("streaming read + write of the six m x m arrays", lambda arrs: stream6(*stream_arrs)),
    ]
    # the same numbers: the specialized kernel against the general one, bit for bit
    a1, a2 = [x.copy() for x in state], [x.copy() for x in state]
    special(a1)
    general(a2)
    identical = all(np.array_equal(x, y) for x, y in zip(a1, a2))
    results = {}
    for _ in range(2):  # warm-up round (compilation of the bench kernels), then the measured rounds
        for name, fn in loops:
            fn([x.copy() for x in state])
    rounds = {name: [] for name, _ in loops}
    for _ in range(args.layers):  # round-robin: every loop sees the same contention on average
        for name, fn in loops:
            arrs = [x.copy() for x in state]
            rounds[name].append(best(lambda: fn(arrs), 1))
    for name, _ in loops:
        results[name] = (min(r[0] for r in rounds[name]), min(r[1] for r in rounds[name]))
    t_step = best(eng._step, args.layers)
    load1 = os.getloadavg()
    plain = results[loops[6][0]]
    lines = ["# Layer update: pair evaluations per second (bench/bench_layer_update.py)", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M')}; m = {m} erf inputs as given (dim {args.dim}), state after 3 "
             f"layers; {numba.get_num_threads()} numba threads; the loops round-robin, best of {args.layers} "
             f"calls each; load average {load0[0]:.1f} {load0[1]:.1f} {load0[2]:.1f} at start, "
             f"{load1[0]:.1f} {load1[1]:.1f} {load1[2]:.1f} at end (2 cores shared by four engineers: compare the "
             "ratios, and the CPU-time ratios first: wall times include waiting for a core).", "",
             f"The erf kernel's results equal the general kernel's bit for bit: {identical}.", "",
             "| loop | wall per layer | CPU per layer (both threads) | pairs per CPU second | "
             "CPU vs plain loop |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, _ in loops:
        wall, cpu = results[name]
        pps = "" if "streaming" in name or "mirror alone" in name else f"{pairs / cpu / 1e6:.1f} M"
        lines.append(f"| {name} | {wall * 1e3:.2f} ms | {cpu * 1e3:.2f} ms | {pps} | {cpu / plain[1]:.2f}x |")
    lines.append(f"| the whole layer (`RawEngine._step`: rows, kernel, rescaling) | {t_step[0] * 1e3:.2f} ms | "
                 f"{t_step[1] * 1e3:.2f} ms | {pairs / t_step[1] / 1e6:.1f} M | {t_step[1] / plain[1]:.2f}x |")
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
