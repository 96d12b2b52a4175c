"""Cost and reach of the data-as-given NTK engine (``kappa --no-normalize``, issue 13 item 3).

In one run, for each configuration: phasecli data as given (deviation tracking), phasecli
normalized (the paper's setting, for scale), and a plain float64 single-pass recursion on the
kernel entries (numpy closed forms; what the engine did before, and what neural-tangents does
per depth), all with the same eigensolver.  Reported: best-of-3 wall times, the ratios, and
how deep each resolves relu sw2 = 1.5, sb2 = 0.1 on 12 inputs (kappa vs an 80-digit reference).

    python bench/bench_raw_precision.py                 # a few minutes on a quiet 2-core machine
    python bench/bench_raw_precision.py --before DIR    # also time another checkout (e.g. the previous
                                                        # commit: git archive HEAD~1 phasecli | tar -x -C DIR)
Writes bench/RESULTS_raw_precision.md (--out FILE).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if "--child" not in sys.argv:  # a child times whatever phasecli its PYTHONPATH holds
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import numpy as np  # noqa: E402

CONFIGS = [("relu", 12, 100), ("erf", 12, 100), ("tanh", 12, 100), ("relu", 300, 100), ("erf", 300, 100),
           ("tanh", 100, 10), ("elu", 50, 10)]
SW2, SB2 = 1.5, 0.1


def plain_float64(act, X, sw2, sb2, depths):
    """The textbook recursion on the entries in float64 (relu / erf closed forms), kappa per depth."""
    from scipy.linalg import eigvalsh

    d = X.shape[1]
    k = sw2 * X @ X.T / d + sb2
    th = k.copy()
    want = set(depths)
    out = []
    for depth in range(1, max(depths) + 1):
        s = np.diag(k)
        if act == "relu":
            r = np.sqrt(np.outer(s, s))
            c = np.clip(k / r, -1.0, 1.0)
            t = np.arccos(c)
            tk = r * (np.sin(t) + (np.pi - t) * c) / (2 * np.pi)
            td = (np.pi - t) / (2 * np.pi)
        else:
            a = np.outer(1 + 2 * s, 1 + 2 * s)
            tk = 2 / np.pi * np.arcsin(np.clip(2 * k / np.sqrt(a), -1, 1))
            td = 4 / (np.pi * np.sqrt(np.maximum(a - 4 * k * k, 1e-300)))
        k = sw2 * tk + sb2
        th = k + sw2 * td * th
        if depth in want:
            w = eigvalsh(th)
            out.append(w[-1] / w[0] if w[0] > 0 else math.nan)
    return out


def best_of(fn, reps=3):
    """Best wall time and best CPU time (this process, all threads) of reps calls after a warm-up."""
    fn()
    wall = cpu = math.inf
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def time_phasecli(configs, quick=False):
    from phasecli import ntk

    rows = []
    for act, m, depth in configs:
        X = np.random.default_rng(0).standard_normal((m, 10))
        spec = f"1:{depth}"
        reps = 1 if (quick or act in ("tanh", "elu")) else 3
        raw = best_of(lambda: ntk.ntk_spectra(act, X, SW2, SB2, spec, normalize=False), reps)
        norm = best_of(lambda: ntk.ntk_spectra(act, X, SW2, SB2, spec), reps)
        plain = (math.nan, math.nan)
        if act in ("relu", "erf"):
            plain = best_of(lambda: plain_float64(act, X, SW2, SB2, list(range(1, depth + 1))), reps)
        rows.append(dict(act=act, m=m, depth=depth, raw=raw[0], raw_cpu=raw[1], norm=norm[0], norm_cpu=norm[1],
                         plain=plain[0], plain_cpu=plain[1]))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def reach():
    """relu 1.5 / 0.1, 12 inputs: relative kappa error vs the 80-digit reference, per depth."""
    import naive_mp

    from phasecli import ntk

    X = ntk.synthetic_data(12, 10, 0)
    depths = [10, 30, 50, 70, 100]
    ref = naive_mp.reference("relu", X, SW2, SB2, depths)
    spec = ntk.ntk_spectra("relu", X, SW2, SB2, depths, normalize=False)
    plain = plain_float64("relu", X, SW2, SB2, depths)
    out = []
    for i, d in enumerate(depths):
        want = float(ref[d]["kappa"])
        out.append(dict(depth=d, kappa=want, phasecli=abs(spec.kappa[i] / want - 1), resolved=bool(spec.resolved[i]),
                        estimate=float(spec.kappa_rel_err[i]), plain=abs(plain[i] / want - 1)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS_raw_precision.md"))
    ap.add_argument("--before", default=None, help="another checkout's root (holding phasecli/) to time too")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:  # timing only, in the interpreter's own phasecli
        print("RESULT " + json.dumps(time_phasecli(CONFIGS, args.quick)))
        return
    load0 = os.getloadavg()
    rows = time_phasecli(CONFIGS, args.quick)
    before = None
    if args.before:
        env = dict(os.environ, PYTHONPATH=os.path.abspath(args.before))
        cmd = [sys.executable, os.path.abspath(__file__), "--child"] + (["--quick"] if args.quick else [])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=os.path.abspath(args.before))
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        before = json.loads(line[-1][7:]) if line else None
    acc = reach()
    load1 = os.getloadavg()
    lines = ["# Data as given: cost of deviation tracking, and reach", "",
             f"Load average (1, 5, 15 min) at start {load0[0]:.1f}, {load0[1]:.1f}, {load0[2]:.1f}; at end "
             f"{load1[0]:.1f}, {load1[1]:.1f}, {load1[2]:.1f} (2 cores).  sw2 = {SW2}, sb2 = {SB2}, synthetic "
             "inputs (dim 10), all depths 1..L in one pass, NTK and NNGP spectra at every depth.", "",
             "Times: best wall / best CPU seconds (CPU: this process, all threads; the fairer number on a "
             "busy machine).  'before': the same calls on the previous engine (plain entries for data as given).",
             "",
             "| activation | m | L | as given | normalized | plain float64 | as given / plain (CPU) |"
             + (" before (as given) | as given / before (CPU) | normalized before | normalized / before (CPU) |"
                if before else ""),
             "| --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- | --- | --- |" if before else "")]

    def pair(w, c):
        return f"{w:.3f} / {c:.3f}" if math.isfinite(w) else "n/a"

    for i, r in enumerate(rows):
        ratio = r["raw_cpu"] / r["plain_cpu"] if math.isfinite(r["plain_cpu"]) else math.nan
        line = (f"| {r['act']} | {r['m']} | {r['depth']} | {pair(r['raw'], r['raw_cpu'])} | "
                f"{pair(r['norm'], r['norm_cpu'])} | {pair(r['plain'], r['plain_cpu'])} | "
                + (f"{ratio:.2f}" if math.isfinite(ratio) else "n/a") + " |")
        if before:
            b = before[i]
            line += (f" {pair(b['raw'], b['raw_cpu'])} | {r['raw_cpu'] / b['raw_cpu']:.2f} | "
                     f"{pair(b['norm'], b['norm_cpu'])} | {r['norm_cpu'] / b['norm_cpu']:.2f} |")
        lines.append(line)
    lines += ["", "Reach: relu sw2 = 1.5, sb2 = 0.1, 12 inputs (`kappa --m 12 --no-normalize`), relative error "
              "of kappa against the 80-digit reference (tests/naive_mp.py):", "",
              "| depth | kappa (reference) | phasecli | resolved | phasecli estimate | plain float64 |",
              "| --- | --- | --- | --- | --- | --- |"]
    for a in acc:
        lines.append(f"| {a['depth']} | {a['kappa']:.6e} | {a['phasecli']:.1e} | {a['resolved']} | "
                     f"{a['estimate']:.1e} | {a['plain']:.1e} |")
    with open(args.out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
