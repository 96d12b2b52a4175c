"""Eigenvalues of a symmetric matrix: numpy / scipy's dense solvers against a tridiagonal reduction + bisection.

    python bench/bench_eig_2stage.py [--sizes 600,1000,2000] [--threads 1,2] [--out bench/RESULTS_eig_2stage.md]

In one process, on the NTK of m erf inputs (50 dimensions, as given, depth 10: the matrices
``phasecli.ntk.spectra`` decomposes) at each size and BLAS thread count, the methods taken in
turn, round-robin, best of the repetitions:

- ``numpy.linalg.eigvalsh`` (LAPACK dsyevd: dsytrd, then all eigenvalues by dsterf);
- ``scipy.linalg.eigh(eigvals_only=True, driver='evd')`` (the same LAPACK routine through scipy);
- ``dsyevd_2stage`` (JOBZ = 'N', the library's own band width) called through ctypes;
- ``phasecli.runtime.lapack``: the one-stage reduction ``dsytrd`` + ``dstebz`` for the two ends;
- the two-stage reduction ``dsytrd_sy2sb`` (band width kd) + ``dsytrd_sb2st`` (through ctypes, here) +
  ``dstebz`` for the two ends, kd = 16, 32, 48, 64.

Accuracy: the two ends against numpy's, relative to the largest |eigenvalue|.  The load average
before and after is recorded (the machine is shared: compare within a row).  No assertion.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scipy.linalg  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from phasecli.runtime import lapack  # noqa: E402


def ntk_matrix(m):
    """The NTK of m erf inputs as given at depth 10 (the workload's matrices)."""
    from phasecli import ntk

    x = ntk.synthetic_data(m, 50, 0)
    layer = next(iter(ntk.kernel_pass("erf", x, 1.37584, 0.05, [10], normalize=False)))
    return np.ascontiguousarray(layer[2])


def tridiagonalize_two_stage(a, kd):
    """(d, e) of the two-stage reduction of a (symmetric, C or F contiguous, overwritten): ``dsytrd_sy2sb``
    to band width kd, then ``dsytrd_sb2st`` without vectors.  None on failure or a missing library."""
    lib = lapack._load()
    sy2sb, sb2st = _symbol("dsytrd_sy2sb"), _symbol("dsytrd_sb2st")
    if not lib or sy2sb is None or sb2st is None:
        return None
    c = lapack._fortran_view(a)
    n = c.shape[0]
    kd = int(kd)
    kd = max(1, min(kd, n - 1)) if n > 1 else 1
    it = lib.int_type
    ldab = kd + 1
    ab = np.zeros((ldab, n), order="F")
    tau = np.empty(max(n - kd, 1))
    info = it(0)
    uplo, = lapack._chars("L")
    work = np.empty(1)
    args = (uplo, ctypes.byref(it(n)), ctypes.byref(it(kd)), lapack._ptr(c), ctypes.byref(it(max(n, 1))), lapack._ptr(ab),
            ctypes.byref(it(ldab)), lapack._ptr(tau))
    sy2sb(*args, lapack._ptr(work), ctypes.byref(it(-1)), ctypes.byref(info), lapack._STR)
    if info.value != 0:
        return None
    lwork = max(1, int(work[0]))
    work = np.empty(lwork)
    sy2sb(*args, lapack._ptr(work), ctypes.byref(it(lwork)), ctypes.byref(info), lapack._STR)
    if info.value != 0:
        return None
    d = np.empty(n)
    e = np.empty(max(n - 1, 1))
    stage1, vect, uplo = lapack._chars("Y", "N", "L")
    args = (stage1, vect, uplo, ctypes.byref(it(n)), ctypes.byref(it(kd)), lapack._ptr(ab), ctypes.byref(it(ldab)),
            lapack._ptr(d), lapack._ptr(e))
    hous = np.empty(1)
    sb2st(*args, lapack._ptr(hous), ctypes.byref(it(-1)), lapack._ptr(work[:1]), ctypes.byref(it(-1)),
                     ctypes.byref(info), lapack._STR, lapack._STR, lapack._STR)
    if info.value != 0:
        return None
    lhous, lwork = max(1, int(hous[0])), max(1, int(work[0]))
    hous = np.empty(lhous)
    work = np.empty(lwork)
    sb2st(*args, lapack._ptr(hous), ctypes.byref(it(lhous)), lapack._ptr(work), ctypes.byref(it(lwork)),
                     ctypes.byref(info), lapack._STR, lapack._STR, lapack._STR)
    if info.value != 0:
        return None
    return d, e[: max(n - 1, 0)]


def _symbol(name):
    """The LAPACK function ``name`` from the library phasecli.runtime.lapack found, in its spelling, or None."""
    lib = lapack._load()
    if not lib:
        return None
    handle = ctypes.CDLL(lib.path)
    for spelling in (f"scipy_{name}_64_", f"scipy_{name}64_", f"{name}_64_", f"{name}64_", f"scipy_{name}_",
                     f"{name}_"):
        fn = getattr(handle, spelling, None)
        if fn is not None:
            fn.restype = None
            return fn
    return None


def dsyevd_2stage(a):
    """All eigenvalues by LAPACK's two-stage driver (JOBZ = 'N'), through ctypes; None if not exported."""
    lib = lapack._load()
    fn = _symbol("dsyevd_2stage")
    if not lib or fn is None:
        return None
    it = lib.int_type
    c = np.array(a, order="F", copy=True)
    n = c.shape[0]
    w = np.empty(n)
    info = it(0)
    idt = np.int64 if it is ctypes.c_int64 else np.int32
    work = np.empty(1)
    iwork = np.empty(1, dtype=idt)
    jz, ul = ctypes.c_char(b"N"), ctypes.c_char(b"L")
    by = ctypes.byref
    p = lapack._ptr
    args = (by(jz), by(ul), by(it(n)), p(c), by(it(n)), p(w))
    fn(*args, p(work), by(it(-1)), p(iwork), by(it(-1)), by(info), ctypes.c_size_t(1), ctypes.c_size_t(1))
    lw, liw = int(work[0]), int(iwork[0])
    work = np.empty(max(lw, 1))
    iwork = np.empty(max(liw, 1), dtype=idt)
    fn(*args, p(work), by(it(lw)), p(iwork), by(it(liw)), by(info), ctypes.c_size_t(1), ctypes.c_size_t(1))
    return w if info.value == 0 else None


def methods():
    out = [
        ("numpy eigvalsh (dsyevd)", lambda a: _ends(np.linalg.eigvalsh(a))),
        ("scipy eigh evd", lambda a: _ends(scipy.linalg.eigh(a, eigvals_only=True, driver="evd"))),
        ("dsyevd_2stage (ctypes)", lambda a: _ends(dsyevd_2stage(a))),
        ("dsytrd + 2 dstebz", lambda a: lapack.extreme_eigenvalues(np.array(a))),
    ]
    for kd in (16, 32, 48, 64):
        out.append((f"2-stage kd={kd} + 2 dstebz", lambda a, kd=kd: _two_stage(a, kd)))
    return out


def _ends(w):
    return None if w is None else (float(w[0]), float(w[-1]))


def _two_stage(a, kd):
    c = np.array(a)
    d, e = tridiagonalize_two_stage(c, kd)
    return lapack.tridiagonal_eigenvalue(d, e, 0), lapack.tridiagonal_eigenvalue(d, e, d.size - 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="600,1000,2000")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=0, help="repetitions (default 5 below 1500, else 3)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS_eig_2stage.md"))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    threads = [int(s) for s in args.threads.split(",")]
    load0 = os.getloadavg()
    t_start = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = []
    meths = methods()
    for n in sizes:
        a = ntk_matrix(n)
        ref = np.linalg.eigvalsh(a)
        top = float(np.abs(ref).max())
        for nt in threads:
            reps = args.reps or (5 if n < 1500 else 3)
            best = {name: np.inf for name, _ in meths}
            err = {}
            with threadpool_limits(limits=nt, user_api="blas"):
                for _ in range(reps):
                    for name, fn in meths:
                        t0 = time.perf_counter()
                        ends = fn(a)
                        dt = time.perf_counter() - t0
                        if ends is None:
                            best[name] = np.nan
                            continue
                        best[name] = min(best[name], dt)
                        err[name] = (max(abs(ends[0] - ref[0]), abs(ends[1] - ref[-1])) / top,
                                     abs(ends[0] / ref[0] - 1.0))
            base = best[meths[0][0]]
            for name, _ in meths:
                e = err.get(name, (np.nan, np.nan))
                rows.append((n, nt, name, best[name], base / best[name], e, ref[0] / top))
                print(f"n={n} threads={nt} {name}: {best[name] * 1e3:.1f} ms ({base / best[name]:.2f}x) "
                      f"err {e[0]:.1e} {e[1]:.1e}", flush=True)
    load1 = os.getloadavg()
    lines = ["# Eigenvalues of the NTK: dense solvers against a tridiagonal reduction + bisection "
             "(bench/bench_eig_2stage.py)", "",
             f"Run {t_start}, one process; matrices: the NTK of m erf inputs as given (50 dimensions, depth 10); "
             f"best of {args.reps or '5 (n < 1500) / 3'} repetitions, methods round-robin; load average "
             f"{load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} at start, {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} at end "
             "(2 cores shared by four engineers: compare within a size and thread count).  LAPACK: "
             f"`{os.path.basename(lapack.available() or 'none')}`; numpy {np.__version__}, scipy {scipy.__version__}, "
             f"{platform.processor() or platform.machine()}.", "",
             "speed-up: numpy eigvalsh's time / the method's time; ends: the two ends against numpy's, relative to "
             "the largest |eigenvalue|; lambda_min: relative difference from numpy's (lambda_min / lambda_max of the "
             "matrix in the last column: the differences of both from the exact value are of order eps / that).", "",
             "| m | BLAS threads | method | time | speed-up | ends vs numpy | lambda_min vs numpy | "
             "lambda_min / lambda_max |",
             "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for n, nt, name, t, s, e, ratio in rows:
        lines.append(f"| {n} | {nt} | {name} | {t * 1e3:.1f} ms | {s:.2f}x | {e[0]:.1e} | {e[1]:.1e} | {ratio:.1e} |")
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
