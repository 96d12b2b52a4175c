"""Dask-distributed sweeps: speed-up from 1 to 2 workers here, and Figure 3 of Xiao et al. on paper.

    python bench/bench_distributed.py            # ~10 min on a quiet 2-core machine; bench/RESULTS_distributed.md
    python bench/bench_distributed.py --quick    # smaller sweeps and kernels (~3 min)

1. Speed-up.  Two `distributed.LocalCluster`s on 127.0.0.1 (1 worker x 1 thread, then 2
   workers x 1 thread, processes), each sweep run as `python -m phasecli ... --scheduler ADDR`
   (a child, as a user runs it) and, as the reference in the same run, locally without
   --scheduler (numba and BLAS on both cores).  Best of --repeats wall times; the rows are
   compared byte for byte with the local run's.  The client's BLAS thread count is what the
   workers use (phasecli.runtime.distributed); the generalize sweep is also run with
   OPENBLAS_NUM_THREADS=1 on the client (and its local reference), so that two 1-thread
   workers do not oversubscribe the 2 cores with BLAS threads.
2. Figure 3 on paper.  The sweep is 20 sw2 values x 20 depths of the NTK predictor on 16k
   CIFAR-10 points; each sw2 value is one task: one pass of the depth recursion to the
   largest depth (every depth on the way) on the m x m train kernel and the m_test x m test
   block, plus one solve (eigvalsh for kappa, Cholesky, two triangular solves) per depth.
   Measured here with `generalize.ntk_generalization` on synthetic data at m = M, 2M, 4M
   (m_test = m / 4): the recursion time per layer (its seconds_kernel / depth) is fitted as
   a W with W = m (m + 1) / 2 + m m_test kernel entries, the solve time per depth
   (seconds_linalg) as b m^3; then T_task(16k) = L_max a W + 20 b m^3 and the sweep on N workers takes
   ceil(20 / N) T_task (20 independent tasks; a task is not split).  Memory per task: the
   task's measured peak (tracemalloc, numpy's allocations included) in units of m^2 doubles,
   scaled to 16k.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable
sys.path.insert(0, str(REPO))


def child_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env.update(extra)
    return env


def run_cli(args, env, repeats):
    """(best wall time, stdout) of `python -m phasecli ARGS`."""
    best, out = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = subprocess.run([PY, "-m", "phasecli", *args], capture_output=True, text=True, env=env, cwd=REPO)
        wall = time.perf_counter() - t0
        if r.returncode not in (0, 1) or "error" in r.stderr:
            raise SystemExit(f"phasecli {' '.join(args)} failed: {r.stderr.strip()}")
        best, out = min(best, wall), r.stdout
    return best, out


def sweeps(quick):
    n = 200 if quick else 400
    k = 8 if quick else 16
    return [
        (f"phase {n} x {n} ({n * n // 1000}k cells)",
         ["phase", "--sw2", f"0.5:4:{n}", "--sb2", f"0:1:{n}", "-f", "csv"], {}),
        (f"kappa erf, {k} sw2 x depth 1:100, m = 200",
         ["kappa", "-a", "erf", "--sw2", f"0.5:4:{k}", "--sb2", "0.1", "--m", "200", "--depth", "1:100", "-f", "csv"],
         {}),
        ("generalize digits erf, 8 sw2 x depths 1,10,30",
         ["generalize", "--train", "digits", "--test", "digits", "-a", "erf", "--sw2", "1:4:8", "--sb2", "0.1",
          "--depth", "1,10,30", "-f", "csv"], {}),
        ("the same, OPENBLAS_NUM_THREADS=1 on the client",
         ["generalize", "--train", "digits", "--test", "digits", "-a", "erf", "--sw2", "1:4:8", "--sb2", "0.1",
          "--depth", "1,10,30", "-f", "csv"], {"OPENBLAS_NUM_THREADS": "1"}),
    ]


def speedup(quick, repeats, say):
    import distributed

    rows = []
    clusters = {}
    try:
        for n_workers in (1, 2):
            clusters[n_workers] = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                                           host="127.0.0.1", dashboard_address=":0", silence_logs=50)
        for label, args, extra in sweeps(quick):
            env = child_env(**extra)
            run_cli(args, env, 1)  # warm: numba cache, first imports
            local, local_out = run_cli(args, env, repeats)
            times, same = {}, True
            for n_workers, cluster in clusters.items():
                run_cli(args + ["--scheduler", cluster.scheduler_address], env, 1)  # warm the workers
                times[n_workers], out = run_cli(args + ["--scheduler", cluster.scheduler_address], env, repeats)
                same = same and out == local_out
            rows.append((label, local, times[1], times[2], same))
            say(f"| {label} | {local:.2f} s | {times[1]:.2f} s | {times[2]:.2f} s | **{times[1] / times[2]:.2f}x** | "
                f"{local / times[2]:.2f}x | {'yes' if same else 'NO'} |")
        connect, _ = run_cli(["phase", "--sw2", "1", "--sb2", "0.1", "-f", "csv", "--scheduler",
                              clusters[2].scheduler_address], child_env(), repeats)
        alone, _ = run_cli(["phase", "--sw2", "1", "--sb2", "0.1", "-f", "csv"], child_env(), repeats)
    finally:
        for cluster in clusters.values():
            cluster.close()
    return rows, connect - alone


def figure3(quick, say):
    from phasecli.ntk import predictor as generalize

    base = 250 if quick else 500
    depth = 20
    fits = []
    for m in (base, 2 * base, 4 * base):
        rng = np.random.default_rng(0)
        m_test = m // 4
        X = rng.standard_normal((m + m_test, 64))
        y = rng.integers(0, 10, m + m_test)
        X[:, :10] += 2.0 * np.eye(10)[y]  # a learnable signal
        generalize.ntk_generalization("erf", X[:m], y[:m], X[m:], y[m:], 2.0, 0.1, [1])  # warm
        one = generalize.ntk_generalization("erf", X[:m], y[:m], X[m:], y[m:], 2.0, 0.1, [depth])
        tracemalloc.start()
        many = generalize.ntk_generalization("erf", X[:m], y[:m], X[m:], y[m:], 2.0, 0.1,
                                             list(range(1, depth + 1)))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        per_layer = one.seconds_kernel / depth
        per_solve = many.seconds_linalg / depth
        fits.append((m, m_test, per_layer, per_solve, peak / (8.0 * m * m)))
        say(f"| {m} | {m_test} | {1e3 * per_layer:.2f} ms | {1e3 * per_solve:.1f} ms | "
            f"{peak / 2 ** 20:.0f} MiB = {peak / (8.0 * m * m):.1f} m^2 doubles |")
    # least squares through the origin on the two largest sizes (the smallest carries most overhead)
    w = [(entries(m, mt), pl) for m, mt, pl, _, _ in fits[1:]]
    a = sum(x * t for x, t in w) / sum(x * x for x, _ in w)
    b = sum(ps * m ** 3 for m, _, _, ps, _ in fits[1:]) / sum(m ** 6 for m, *_ in fits[1:])
    return a, b, fits[-1][4]


def entries(m, m_test):
    """Kernel entries one layer of the recursion updates: the symmetric train block and the test block."""
    return m * (m + 1) / 2 + m * m_test


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--m", type=int, default=16_000, help="Figure 3's training points")
    ap.add_argument("--m-test", type=int, default=0, help="test points scored with each predictor (0: none)")
    ap.add_argument("--max-depth", type=int, default=100, help="deepest network of Figure 3's depth axis")
    ap.add_argument("--out", default=str(HERE / "RESULTS_distributed.md"))
    args = ap.parse_args(argv)
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    say("# Dask-distributed sweeps")
    say()
    say(f"Written by `python bench/bench_distributed.py{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; Python {platform.python_version()}. 1-min load average at the start: "
        f"{os.getloadavg()[0]:.2f}.")
    say()
    say("## 1. Speed-up from 1 to 2 workers (LocalCluster on 127.0.0.1, 1 thread per worker process)")
    say()
    say("| sweep | local (no --scheduler) | 1 worker | 2 workers | **speed-up 1 -> 2** | local / 2 workers | "
        "rows identical to local |")
    say("| --- | --- | --- | --- | --- | --- | --- |")
    _, overhead = speedup(args.quick, args.repeats, say)
    say()
    say(f"Fixed cost of --scheduler (import distributed, connect, check the workers, scatter, close) on a "
        f"one-cell grid: {overhead:.2f} s. 1-min load average after part 1: {os.getloadavg()[0]:.2f}.")
    say()
    say("## 2. Figure 3 on paper (16k CIFAR-10 points, 20 sw2 x 20 depths)")
    say()
    say("Measured on synthetic data (erf, sw2 = 2, sb2 = 0.1, depth 20, m_test = m / 4), one process, "
        "numba and BLAS on both cores:")
    say()
    say("| m (train) | m_test | recursion per layer | solve per depth | peak memory of the task (tracemalloc) |")
    say("| --- | --- | --- | --- | --- |")
    a, b, matrices = figure3(args.quick, say)
    m, m_test, depth_max = args.m, args.m_test, args.max_depth
    t_layer = a * entries(m, m_test)
    t_solve = b * m ** 3
    t_task = depth_max * t_layer + 20 * t_solve
    mem = matrices * m * m * 8 / 2 ** 30  # the measured peak, in m x m matrices (m_test = m / 4 there)
    say()
    say(f"Fit on the two largest sizes: recursion {a * 1e9:.2f} ns per kernel entry and layer (W = m (m + 1) / 2 "
        f"+ m m_test entries, so ~m^2); solve {b * 1e9:.3f} ns x m^3 per depth.")
    say()
    say(f"For m = {m:,} train points (m_test = {m_test:,}), depths to {depth_max} (the 20 depths read off one "
        f"pass), 20 solves per sw2: one task = {depth_max} x {t_layer:.1f} s + 20 x {t_solve:.1f} s = "
        f"**{t_task / 60:.1f} min** on 2 cores; about {mem:.1f} GiB per task (the m x m matrices alone are "
        f"{m * m * 8 / 2 ** 30:.1f} GiB each).")
    say()
    say("| workers (2 cores each, like this machine) | tasks per worker | expected wall time |")
    say("| --- | --- | --- |")
    for n in (1, 2, 4, 5, 10, 20, 40):
        waves = math.ceil(20 / n)
        say(f"| {n} | {waves} | {waves * t_task / 3600:.2f} h |")
    say()
    say("Twenty sw2 values are twenty tasks: beyond 20 workers nothing is gained; the data set "
        f"({m:,} x 3072 doubles = {m * 3072 * 8 / 2 ** 20:.0f} MiB) is scattered once to every worker.")
    out = Path(args.out)
    kept = ""  # section 3 is written by bench/must_show_distributed.py: keep it
    if out.exists() and "\n## 3. " in out.read_text():
        kept = "\n## 3. " + out.read_text().split("\n## 3. ", 1)[1]
    out.write_text("\n".join(lines) + "\n" + kept)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
