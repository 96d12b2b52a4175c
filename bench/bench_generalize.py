"""Benchmark of `phasecli generalize`'s engine: m_train = 2000, m_test = 2000, depths 1..50,
one (sw2, sb2) point, erf.  Reports the wall time and the share spent in the kernel
recursion versus the linear algebra (factorizations, solves, eigenvalues, predictions).

    python bench/bench_generalize.py [--m-train 2000] [--m-test 2000] [--depth 50]
"""

import argparse
import os
import time

import numpy as np

from phasecli.ntk import predictor as gen


def blobs(m, dim, k, rng):
    centers = rng.normal(size=(k, dim)) * 1.5
    y = np.arange(m) % k
    return centers[y] + rng.normal(size=(m, dim)), y


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m-train", type=int, default=2000)
    ap.add_argument("--m-test", type=int, default=2000)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--sw2", type=float, default=1.5)
    ap.add_argument("--sb2", type=float, default=0.05)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X, y = blobs(args.m_train + args.m_test, 32, 10, rng)
    Xtr, ytr, Xte, yte = X[: args.m_train], y[: args.m_train], X[args.m_train:], y[args.m_train:]
    gen.ntk_generalization("erf", Xtr[:20], ytr[:20], Xte[:5], yte[:5], args.sw2, args.sb2, [1, 2])  # compile / load
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    r = gen.ntk_generalization("erf", Xtr, ytr, Xte, yte, args.sw2, args.sb2, np.arange(1, args.depth + 1))
    wall = time.perf_counter() - t0
    total = r.seconds_kernel + r.seconds_linalg
    print(f"erf, sw2={args.sw2}, sb2={args.sb2}, m_train={args.m_train}, m_test={args.m_test}, "
          f"depths 1..{args.depth} (load average at start {load:.2f})")
    print(f"  wall time            {wall:8.2f} s")
    print(f"  kernel recursion     {r.seconds_kernel:8.2f} s  ({100 * r.seconds_kernel / total:.0f}%)")
    print(f"  linear algebra       {r.seconds_linalg:8.2f} s  ({100 * r.seconds_linalg / total:.0f}%)")
    print(f"  test accuracy depth 1 / {args.depth}: {r.test_accuracy[0]:.3f} / {r.test_accuracy[-1]:.3f}")


if __name__ == "__main__":
    main()
