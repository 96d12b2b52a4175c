"""lambda_min of the direct NTK / NNGP: dense eigensolve against Cholesky + Lanczos on the inverse (issue 24).

    python bench/bench_lambda_min.py [--m 600] [--depths 1,5,20,60] [--out bench/RESULTS_lambda_min.md]

The issue suggests an iterative lambda_min (a Cholesky factor, then Lanczos / inverse iteration on
the inverse, certified by a second Cholesky of A - (lambda - delta) I).  This measures, on the
benchmark's kernels (erf, sw2 = 1.37584, sb2 = 0.05, ``synthetic_data(m, 50, 0)``, as given and
normalized), the parts of that method against the dense eigensolve phasecli uses, all on one BLAS
thread: the Cholesky factorization, the Lanczos iterations (full reorthogonalization, one
``cho_solve`` per step) until the Rayleigh quotient of the Ritz vector changes by < 1e-14
relatively, and the whole (two factorizations + iterations).  The bottom of these spectra is the
edge of a bulk (lambda_2 / lambda_1 - 1 is 0.4% to 16%), so Lanczos needs 25-85 steps.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SW2, SB2, DIM = 1.37584, 0.05, 50


def lanczos_inverse(A, L, tol=1e-14, kmax=400):
    """(Rayleigh quotient of A at the top Ritz vector of A^{-1}, steps)."""
    import scipy.linalg as sl

    m = A.shape[0]
    V = np.zeros((kmax + 1, m))
    v = np.ones(m) + 0.1 * np.random.default_rng(1).standard_normal(m)
    V[0] = v / np.linalg.norm(v)
    al, be, prev, lam = [], [], None, np.nan
    for k in range(kmax):
        w = sl.cho_solve((L, True), V[k], check_finite=False)
        al.append(w @ V[k])
        for _ in range(2):
            w -= V[:k + 1].T @ (V[:k + 1] @ w)
        be.append(np.linalg.norm(w))
        V[k + 1] = w / be[-1]
        if k >= 2:
            _, S = sl.eigh_tridiagonal(np.array(al), np.array(be[:-1]))
            x = V[:k + 1].T @ S[:, -1]
            lam = x @ A @ x / (x @ x)
            if prev is not None and abs(lam - prev) <= tol * lam:
                return lam, k + 1
            prev = lam
    return lam, kmax


def best(fn, reps=3):
    out = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out


def main(argv=None):
    import scipy.linalg as sl

    from phasecli import ntk
    from phasecli.runtime.blas import single_threaded

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--m", type=int, default=600)
    ap.add_argument("--depths", default="1,5,20,60")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS_lambda_min.md"))
    args = ap.parse_args(argv)
    depths = [int(x) for x in args.depths.split(",")]
    X = ntk.synthetic_data(args.m, DIM, 0)
    load0 = os.getloadavg()
    rows = []
    with single_threaded():
        for normalize in (False, True):
            for layer in ntk.kernel_pass("erf", X, SW2, SB2, depths, normalize=normalize):
                for name, A in (("NTK", layer[2]), ("NNGP", layer[1])):
                    w = np.linalg.eigvalsh(A)
                    t_eig = best(lambda: np.linalg.eigvalsh(A))
                    t_chol = best(lambda: sl.cholesky(A, lower=True, check_finite=False))
                    L = sl.cholesky(A, lower=True, check_finite=False)
                    t0 = time.perf_counter()
                    lam, steps = lanczos_inverse(A, L)
                    t_lan = time.perf_counter() - t0
                    rows.append((("normalized" if normalize else "as given"), layer[0], name, w[1] / w[0] - 1.0,
                                 steps, lam / w[0] - 1.0, t_eig, t_chol, t_lan, 2 * t_chol + t_lan))
    load1 = os.getloadavg()
    lines = ["# lambda_min: dense eigensolve against Cholesky + Lanczos (bench/bench_lambda_min.py)", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M')}; m = {args.m}, erf, sw2 = {SW2}, sb2 = {SB2}, one BLAS thread; "
             f"load average {load0[0]:.1f} at start, {load1[0]:.1f} at end (2 shared cores: compare within a row).",
             "", "| data | depth | kernel | lambda_2 / lambda_1 - 1 | Lanczos steps | its lambda_min vs dense | "
             "dense eigvalsh | one Cholesky | Lanczos steps' time | Cholesky method in all (2 factors + steps) |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.2g} | {r[4]} | {r[5]:.1e} | {r[6] * 1e3:.1f} ms | "
                     f"{r[7] * 1e3:.1f} ms | {r[8] * 1e3:.1f} ms | {r[9] * 1e3:.1f} ms ({r[9] / r[6]:.2f}x the dense) |")
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
