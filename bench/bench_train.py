"""Speed and full-size validation of ``phasecli catapult`` / ``phasecli train`` (issue 10).

    python bench/bench_train.py [--quick] [--skip-validation] [--out bench/RESULTS_train.md]

Speed (ratios measured in one run, load average recorded):

a. the two-scalar map: ``catapult.catapult`` (numba, prange over lr factors) against the
   same iteration as a plain Python float loop (``python_map`` below), on a grid of lr
   factors in 0.9..2.1 with T = 10000, width 1000;
b. training: ``finite.train.train_at`` (S networks stacked, ``finite.network``) against the
   independent per-network numpy trainer of the tests (``tests/naive_train.py``) on 40
   digits, width 512, S = 5: the cost of one gradient step of all S networks (a real step at
   eta = 0.5 eta_max on both sides: gd_step against the baseline's loss_and_grad plus update;
   best of 3 interleaved blocks of 10), and of one whole lr_factor (steps plus the two NTKs
   per network).  Note that --out is overwritten whole: with --skip-validation write to
   another file and merge the speed table by hand.

Validation at the issue's full size (40 digits, width 512, 5 networks, T = 300 unless said):

c. lr_factor scans (erf and relu, depth 1 and 3; 40 digits with 10 outputs, and 20 synthetic
   inputs with one output): regime, diverged, kernel drift, eta lambda_max at t = 0 and T; the
   largest convergent lr_factor and c = 2 x that;
d. kernel drift against width (128 .. 2048) at lr_factor 0.5 (lazy) and 1.5 (catapult), erf,
   with the fitted exponent of drift ~ N^-p;
e. the "Must show" checks of the issue at this size.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import naive_train as NT  # noqa: E402
from phasecli import ntk  # noqa: E402
from phasecli import catapult_dynamics as catapult
from phasecli.ntk import predictor as generalize  # noqa: E402
from phasecli.finite import network  # noqa: E402
from phasecli.finite import train as core  # noqa: E402

ARCHS = {"erf depth 1": ("erf", 1.5, 0.05, 1), "relu depth 3": ("relu", 2.0, 0.0, 3),
         "relu depth 1": ("relu", 2.0, 0.0, 1), "erf depth 3": ("erf", 1.5, 0.05, 3)}
SPEED_ARCHS = ("erf depth 1", "relu depth 3")


def python_map(lr, lambda0=1.0, f0=1.0, n=1000, T=10000, tol=1e-12):
    """The map as a plain Python loop over Python floats, with the kernel's semantics (regime, steps only)."""
    lr = float(lr)
    eta = lr * 2.0 / lambda0
    u, x = 2.0 * lr, eta * eta * f0 * f0 / n
    scale = n / (2.0 * eta * eta)
    peak, peak_step = -1.0, 0
    for t in range(T + 1):
        if t:
            r = 1.0 - u + x
            x, u = r * x * r, u + x * (u - 4.0)
        loss = x * scale
        if not (math.isfinite(loss) and math.isfinite(u)):
            return "divergent", t
        if loss > peak:
            peak, peak_step = loss, t
        if loss < tol:
            return ("catapult" if peak_step else "lazy"), t
    return "unconverged", T


def digits(m=40):
    X, y = generalize.load_labelled(str(REPO / "phasecli" / "data" / "digits_train.csv"), -1)
    return X[:m], y[:m]


def bench_catapult(quick):
    """The map over lr factors 0.9 .. 2.1 (T = 10000): numba (best of 3) against the Python loop, per map step."""
    lines = []
    catapult.catapult([1.0, 2.0])  # compile or load the cache
    for n, stride in ((2000, 1), (20000, 10)) if not quick else ((400, 1),):
        lr = np.linspace(0.9, 2.1, n)
        best = math.inf
        for _ in range(3):
            t = time.perf_counter()
            runs = catapult.catapult(lr)
            best = min(best, time.perf_counter() - t)
        total = int(runs.steps.sum())
        idx = np.arange(n)[::stride]
        t = time.perf_counter()
        ref = [python_map(lr[i]) for i in idx]
        t_py = time.perf_counter() - t
        per_step_py = t_py / int(runs.steps[idx].sum())
        agree = sum(runs.regime[i] == r[0] and runs.steps[i] == r[1] for i, r in zip(idx, ref))
        lines.append(f"| catapult map, {n} lr factors in 0.9 .. 2.1, T = 10000 ({total:,} map steps) | "
                     f"{best * 1e3:.1f} ms ({best / total * 1e9:.1f} ns/step) | {per_step_py * total:.2f} s "
                     f"({per_step_py * 1e9:.0f} ns/step, Python loop over {idx.size}) | "
                     f"{per_step_py * total / best:.0f}x | {agree}/{idx.size} |")
    return lines


def bench_train_speed(quick):
    X, y = digits()
    lines = []
    for name in SPEED_ARCHS:
        act, sw2, sb2, depth = ARCHS[name]
        steps = 10 if quick else 30
        setup = core.prepare(act, X, y, sw2=sw2, sb2=sb2, depth=depth, width=512, samples=5, n_steps=steps)
        nets = core.draw_networks(setup)
        X3 = np.broadcast_to(setup.X, (5,) + setup.X.shape)
        params = [[(nets.W[l][s].copy(), nets.b[l][s].copy()) for l in range(depth + 1)] for s in range(5)]
        eta = 0.5 * setup.eta_max  # a real step (lr = 0 would let gd_step skip the update)
        work = nets.copy()
        network.gd_step(work, X3, setup.Y, eta)
        rounds, blocks = (5, 2) if quick else (10, 3)
        walk = [list(p) for p in params]

        def naive_step():
            for i, p in enumerate(walk):  # the baseline's step: NT.run's gradient and update
                _, grads = NT.loss_and_grad(p, setup.X, setup.Y, act, sw2, sb2)
                walk[i] = [(W - eta * gW, b - eta * gb) for (W, b), (gW, gb) in zip(p, grads)]

        naive_step()
        t_ours = t_naive = math.inf
        for _ in range(blocks):  # interleaved blocks, best block of each (a shared machine)
            t = time.perf_counter()
            for _ in range(rounds):
                network.gd_step(work, X3, setup.Y, eta)
            t_ours = min(t_ours, (time.perf_counter() - t) / rounds)
            t = time.perf_counter()
            for _ in range(rounds):
                naive_step()
            t_naive = min(t_naive, (time.perf_counter() - t) / rounds)
        rounds *= blocks
        same = max(float(np.max(np.abs(work.W[l][s] - walk[s][l][0]))) for l in range(depth + 1) for s in range(5))
        lines.append(f"| {name}: one step of 5 networks (best block of {rounds // blocks}) | {t_ours * 1e3:.1f} ms | {t_naive * 1e3:.1f} ms | "
                     f"{t_naive / t_ours:.2f}x | weights after {rounds + 1} steps within {same:.1g} |")
        t = time.perf_counter()
        core.train_at(0.5, setup)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        for p in params:
            NT.run(p, setup.X, setup.Y, act, sw2, sb2, 0.5 * setup.eta_max, steps)
        t_naive = time.perf_counter() - t
        lines.append(f"| {name}: one lr_factor, {steps} steps + NTKs | {t_ours:.2f} s | {t_naive:.2f} s | "
                     f"{t_naive / t_ours:.2f}x | |")
    return lines


def scan(name, lrs, steps, width=512, samples=5, m=40, data="digits"):
    act, sw2, sb2, depth = ARCHS[name]
    X, y = digits(m) if data == "digits" else (ntk.synthetic_data(m, 10, 0), None)
    setup = core.prepare(act, X, y, sw2=sw2, sb2=sb2, depth=depth, width=width, samples=samples, n_steps=steps)
    return setup, [core.train_at(f, setup) for f in lrs]


# (architecture, data, T, lr factors): 40 digits with 10 outputs, or 20 synthetic inputs (dim 10) with one output
SCANS = [
    ("erf depth 1", "digits", 300, [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5]),
    ("relu depth 1", "digits", 300, [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0]),
    ("erf depth 3", "digits", 100, [0.5, 1, 1.5, 2, 2.5, 3, 4]),
    ("relu depth 3", "digits", 100, [0.5, 1, 2, 3, 4, 4.5, 5, 6, 8]),
    ("erf depth 1", "synthetic", 300, [0.5, 1.0, 1.5, 1.75, 2.0, 2.25]),
    ("relu depth 1", "synthetic", 300, [0.5, 1.0, 1.5, 2.0, 2.25, 2.5]),
    ("relu depth 3", "synthetic", 100, [0.5, 1, 2, 3, 4, 5, 6]),
]


def validation(quick):
    out = []
    summary = ["| network | data | T | lazy up to | first catapult | largest convergent | first divergent | c |",
               "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, data, steps, lrs in SCANS:
        if quick:
            steps = max(20, steps // 5)
        t = time.perf_counter()
        m = 40 if data == "digits" else 20
        setup, runs = scan(name, lrs, steps, m=m, data=data)
        what = "40 digits, 10 outputs" if data == "digits" else "20 synthetic inputs (dim 10), 1 output"
        out.append(f"\n### {name} (sw2 = {setup.sw2:g}, sb2 = {setup.sb2:g}), {what}, width 512, 5 networks, "
                   f"T = {setup.n_steps}; eta_max = {setup.eta_max:.6g} (lambda_max = {setup.lambda_max_inf:.6g}); "
                   f"{time.perf_counter() - t:.0f} s\n")
        out.append("| lr_factor | regime | diverged | final_loss | peak_loss_ratio | kernel_drift | "
                   "eta lambda_init | eta lambda_final | lambda_final / lambda_init |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in runs:
            out.append(f"| {r.lr_factor:g} | {r.regime} | {r.diverged:.1f} | {r.final_loss:.3g} | "
                       f"{r.peak_loss_ratio:.3g} | {r.kernel_drift:.3g} | {r.eta_lambda_init:.3g} | "
                       f"{r.eta * r.lambda_max_final:.3g} | {r.lambda_max_final / r.lambda_max_init:.3g} |")
        bad = [r.lr_factor for r in runs if r.regime == "divergent"]
        first_bad = min(bad) if bad else math.inf
        largest = max([r.lr_factor for r in runs if r.regime != "divergent" and r.lr_factor < first_bad],
                      default=math.nan)
        lazy = max([r.lr_factor for r in runs if r.regime == "lazy"], default=math.nan)
        first_cat = min([r.lr_factor for r in runs if r.regime == "catapult"], default=math.nan)
        c = f"{2 * largest:g} .. {2 * first_bad:g}" if bad else f"> {2 * largest:g}"
        summary.append(f"| {name} | {data} | {setup.n_steps} | {lazy:g} | {first_cat:g} | {largest:g} | "
                       f"{first_bad:g} | {c} |")
        half = next(r for r in runs if r.lr_factor == 0.5)
        out.append(f"\nkernel_drift at lr_factor 0.5: {half.kernel_drift:.4f}; c = 2 x lr_factor: {c}")
    out = ["\n### Summary: where each network diverges (c / lambda_max, lambda_max of the infinite-width NTK)\n"] + \
        summary + out
    out.append("\n### kernel drift against width (erf depth 1, 40 digits, 5 networks, T = 100)\n")
    out.append("| width | drift at lr 0.5 (lazy) | drift at lr 1.5 (catapult) | regime at 1.5 |")
    out.append("| --- | --- | --- | --- |")
    widths = [128, 256, 512, 1024] if quick else [128, 256, 512, 1024, 2048]
    lazy, cat = [], []
    for w in widths:
        _, (a, b) = scan("erf depth 1", [0.5, 1.5], 100, width=w)
        lazy.append(a.kernel_drift)
        cat.append(b.kernel_drift)
        out.append(f"| {w} | {a.kernel_drift:.4g} | {b.kernel_drift:.4g} | {b.regime} |")
    p_lazy = -np.polyfit(np.log(widths), np.log(lazy), 1)[0]
    p_cat = -np.polyfit(np.log(widths), np.log(cat), 1)[0]
    out.append(f"\nfitted drift ~ N^-p: lazy p = {p_lazy:.2f}, catapult p = {p_cat:.2f}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-validation", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--out", default=str(BENCH / "RESULTS_train.md"))
    args = ap.parse_args()
    load = os.getloadavg()
    env = {k: os.environ.get(k, "unset") for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS")}
    lines = ["# catapult / train: speed and full-size validation (bench/bench_train.py)", "",
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average at start "
             f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; {env}; {'quick' if args.quick else 'full'} run", "",
             ]
    lines.append("BLAS limited to one thread for phasecli and the baselines alike (threadpoolctl; train_at does "
                 "so itself).\n")
    if not args.skip_speed:
        lines += ["| measure | phasecli | baseline | ratio | same outcome |", "| --- | --- | --- | --- | --- |"]
        lines += bench_catapult(args.quick)
        lines += bench_train_speed(args.quick)
    if not args.skip_validation:
        lines += ["", "## Validation at the issue's size"] + validation(args.quick)
    lines.append(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        main()
