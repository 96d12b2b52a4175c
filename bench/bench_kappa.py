"""Speed benchmark of phasecli's NTK spectra over depth (``phasecli.ntk.ntk_spectra``).

    python bench/bench_kappa.py [--quick] [--out bench/RESULTS_kappa.md]
                                [--nt-python /path/to/venv/bin/python]

Measures, in one process run (see bench/README.md, section "NTK spectra over depth"):

a. ``ntk_spectra('erf', X, sw2, sb2, range(1, 61))`` for m = 600 inputs
   (``ntk.synthetic_data(600, 64, 0)``, default normalization q^1 = q*), erf on the
   critical line at sb2 = 0.05: a warm-up call on 8 inputs (numba compile or cache
   load), the first full call, then the best of 6 calls interleaved with the baseline
   (3 rounds: phasecli, baseline, baseline NTK-only, phasecli);
b. the neural-tangents approach, re-implemented faithfully in numpy
   (bench/nt_style_baseline.py): for each depth L = 1..60 separately, the stax-style
   kernel function runs the recursion from layer 1 to L + 1 (float64, erf closed form),
   then ``eigvalsh`` of the NTK and of the NNGP (``ntk_spectra`` reports both spectra:
   the same outputs); the ratio baseline / phasecli; the same with the NTK spectrum
   only (conservative); the max relative difference of the eigenvalues and kappa between
   the two (a sanity check);
c. optionally (``--nt-python``, or the NT_PYTHON environment variable) the real
   neural-tangents in a separate bench-only interpreter, run as a child process with
   the same inputs: per depth ``stax.serial(...)`` + ``kernel_fn(X, None, ('nngp', 'ntk'))``
   (eager, as in the library's examples) + ``scipy.linalg.eigvalsh(driver='evr')`` of
   both (the solver phasecli uses, here and in the numpy baseline); and the same with
   ``jax.jit`` per depth (compile time included, since each depth is a new function);
d. tanh, m = 1000 inputs (``synthetic_data(1000, 64, 0)``), critical at sb2 = 0.05:
   ``ntk_spectra`` at depth 100 only, and at every depth 1..100; target < 10 s.

The environment (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, NUMBA_NUM_THREADS, CPU count)
is recorded, never set.  Multithreaded BLAS/LAPACK calls are very sensitive to other
processes on the machine (2 cores: a 600 x 600 numpy ``eigvalsh`` (syevd) takes ~15 ms
idle and 1-3 s with both cores busy elsewhere; the 'evr' driver used here degrades far
less), so run it on a quiet machine (the load average at start is recorded) and compare
ratios measured in one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import nt_style_baseline as nb  # noqa: E402

NA = "n/a"
D_IN = 64
SB2 = 0.05

NT_CHILD = r'''
import json, sys, time
import numpy as onp
import jax
jax.config.update("jax_enable_x64", True)
from neural_tangents import stax
from scipy.linalg import eigvalsh
X = onp.load(sys.argv[1]); sw2 = float(sys.argv[2]); sb2 = float(sys.argv[3]); Lmax = int(sys.argv[4])
mode = sys.argv[5]

def net(L):
    layers = []
    for _ in range(L):
        layers += [stax.Dense(1, W_std=sw2 ** 0.5, b_std=sb2 ** 0.5), stax.Erf()]
    layers += [stax.Dense(1, W_std=sw2 ** 0.5, b_std=sb2 ** 0.5)]
    return stax.serial(*layers)[2]

Xj = jax.numpy.asarray(X)
net(1)(Xj[:2], None, "ntk").block_until_ready()  # warm up the runtime
lmax, lmin = [], []
t0 = time.perf_counter()
for L in range(1, Lmax + 1):
    kf = net(L)
    if mode == "jit":
        kf = jax.jit(kf, static_argnames="get")
    k = kf(Xj, None, ("nngp", "ntk"))
    ev = eigvalsh(onp.asarray(k.ntk), overwrite_a=True, check_finite=False, driver="evr")
    lmax.append(float(ev[-1])); lmin.append(float(ev[0]))
    eigvalsh(onp.asarray(k.nngp), overwrite_a=True, check_finite=False, driver="evr")
t = time.perf_counter() - t0
print(json.dumps({"time": t, "lambda_max": lmax, "lambda_min": lmin, "jax": jax.__version__,
                  "neural_tangents": __import__("neural_tangents").__version__}))
'''


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt_s(x):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return NA
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


def _busy_jiffies():
    """(busy, total) CPU jiffies of the whole machine from /proc/stat (None if unavailable)."""
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:9]]  # guest time is already in user
    except (OSError, ValueError):
        return None
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals) - idle, sum(vals)


def _own_cpu():
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


CONTENTION = {}  # label -> share of the machine's CPU used by other processes during the best call


class Meter:
    """Wall time of one call and the CPU share other processes used meanwhile."""

    def __enter__(self):
        self.j0, self.c0, self.t0 = _busy_jiffies(), _own_cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.time = time.perf_counter() - self.t0
        j1, c1 = _busy_jiffies(), _own_cpu()
        self.others = float("nan")
        if self.j0 and j1 and j1[1] > self.j0[1]:
            hz = os.sysconf("SC_CLK_TCK")
            busy, capacity = (j1[0] - self.j0[0]) / hz, (j1[1] - self.j0[1]) / hz
            self.others = max(0.0, (busy - (c1 - self.c0)) / capacity)
        return False


class Best:
    """Best (least) time over calls, with the contention measured during that call."""

    def __init__(self, label=None):
        self.label, self.time, self.others, self.out, self.n = label, float("inf"), float("nan"), None, 0

    def run(self, fn):
        with Meter() as m:
            out = fn()
        self.n += 1
        if m.time < self.time:
            self.time, self.others, self.out = m.time, m.others, out
            if self.label:
                CONTENTION[self.label] = m.others
        return out


def best_of(fn, repeats, label=None):
    """Best wall time of ``repeats`` consecutive calls (and its contention under ``label``)."""
    b = Best(label)
    for _ in range(repeats):
        b.run(fn)
    return b.time, b.out


def critical_sw2(activation):
    from phasecli import meanfield as mf

    line = mf.solve_critical(activation, [SB2])
    return float(line.sw2_critical[0])


def normalized_rows(activation, X, sw2, sb2):
    """Rows rescaled to q^1 = sw2 |x|^2 / d + sb2 = q* (phasecli's default normalization)."""
    from phasecli import meanfield as mf

    q = float(mf.solve_phase(activation, [sw2], [sb2]).q_star[0, 0])
    d = X.shape[1]
    return X / np.linalg.norm(X, axis=1, keepdims=True) * math.sqrt(d * (q - sb2) / sw2)


def rel_diff(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def environment():
    keys = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
            "OPENBLAS_CORETYPE")
    env = {k: os.environ.get(k, "unset") for k in keys}
    cpu = platform.processor() or NA
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
            "cpu": cpu, "load_1min_at_start": round(load, 2), **env}


def run_nt(python, X, sw2, sb2, lmax, mode, timeout):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "X.npy"
        np.save(path, X)
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        proc = subprocess.run([python, "-c", NT_CHILD, str(path), repr(sw2), repr(sb2), str(lmax), mode],
                              capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (1 instead of 3); skips the jit NT run")
    ap.add_argument("--out", default=str(BENCH / "RESULTS_kappa.md"))
    ap.add_argument("--m", type=int, default=600)
    ap.add_argument("--depth", type=int, default=60)
    ap.add_argument("--tanh-m", type=int, default=1000)
    ap.add_argument("--tanh-depth", type=int, default=100)
    ap.add_argument("--nt-python", default=os.environ.get("NT_PYTHON"),
                    help="interpreter of a bench-only venv with neural-tangents + jax (optional)")
    args = ap.parse_args(argv)
    repeats = 1 if args.quick else 3
    env = environment()
    rows = []  # (label, value, note)
    notes = []

    from phasecli import ntk

    # ---------------------------------------------------------------- a. phasecli, erf
    log("phasecli erf (warm-up, first call)")
    sw2_erf = critical_sw2("erf")
    depths = list(range(1, args.depth + 1))
    X = ntk.synthetic_data(args.m, D_IN, 0)
    t = time.perf_counter()
    ntk.ntk_spectra("erf", X[:8], sw2_erf, SB2, [1, 2])  # numba compile / cache load
    t_first_small = time.perf_counter() - t
    t = time.perf_counter()
    spec = ntk.ntk_spectra("erf", X, sw2_erf, SB2, depths)
    t_first = time.perf_counter() - t
    rows.append((f"phasecli ntk_spectra erf m={args.m} depths 1..{args.depth}, first call", fmt_s(t_first),
                 f"after a warm-up call on 8 inputs ({fmt_s(t_first_small)}, numba compile or cache load)"))

    # ---------------------------------------------------------------- b. numpy NT-style baseline
    # Interleaved rounds (phasecli, baseline with both spectra, baseline NTK only), best of
    # each: a competing process that comes and goes hits all three alike.
    log("NT-style numpy baseline (interleaved with phasecli)")
    Xn = normalized_rows("erf", X, sw2_erf, SB2)
    rounds = 1 if args.quick else 3
    b_pc, b_nb, b_nb1 = Best("phasecli erf"), Best("numpy baseline"), Best("numpy baseline, NTK only")
    for r in range(rounds):
        b_pc.run(lambda: ntk.ntk_spectra("erf", X, sw2_erf, SB2, depths))
        b_nb.run(lambda: nb.spectra_per_depth(Xn, sw2_erf, SB2, depths))
        b_nb1.run(lambda: nb.spectra_per_depth(Xn, sw2_erf, SB2, depths, nngp=False))
        b_pc.run(lambda: ntk.ntk_spectra("erf", X, sw2_erf, SB2, depths))
        log(f"  round {r + 1}/{rounds}: best so far phasecli {fmt_s(b_pc.time)}, baseline {fmt_s(b_nb.time)}, "
            f"NTK-only {fmt_s(b_nb1.time)}")
    t_pc, spec = b_pc.time, b_pc.out
    t_nb, (_, b_max, b_min, b_kappa, (bn_max, bn_min)) = b_nb.time, b_nb.out
    t_nb1 = b_nb1.time
    ratio = t_nb / t_pc
    rows.append((f"phasecli ntk_spectra erf m={args.m} depths 1..{args.depth}, best of {b_pc.n}", fmt_s(t_pc),
                 f"other processes {b_pc.others:.0%} of the CPU during it; sw2 = {sw2_erf:.6g} (critical), "
                 f"sb2 = {SB2}"))
    rows.append((f"NT-style numpy baseline, per-depth recursion + NTK and NNGP eigvalsh, depths 1..{args.depth}",
                 fmt_s(t_nb), f"best of {b_nb.n} (others {b_nb.others:.0%}); the same outputs as ntk_spectra"))
    rows.append(("**ratio baseline / phasecli** (same outputs)", f"**{ratio:.1f}x**", "target >= 5x"))
    rows.append((f"NT-style numpy baseline, NTK eigvalsh only, depths 1..{args.depth}", fmt_s(t_nb1),
                 f"best of {b_nb1.n} (others {b_nb1.others:.0%}); ratio {t_nb1 / t_pc:.1f}x (conservative: "
                 f"phasecli still computes both spectra)"))
    agree = {
        "lambda_max": rel_diff(spec.lambda_max, b_max),
        "lambda_min": rel_diff(spec.lambda_min, b_min),
        "kappa": rel_diff(spec.kappa, b_kappa),
        "nngp lambda_max": rel_diff(spec.nngp_lambda_max, bn_max),
        "nngp lambda_min": rel_diff(spec.nngp_lambda_min, bn_min),
    }
    rows.append(("max rel. difference phasecli vs baseline (" + ", ".join(agree) + ")",
                 ", ".join(f"{v:.1e}" for v in agree.values()), "sanity check, not a test"))
    # where the time goes in the baseline: layer updates vs eigvalsh
    t_layers, _ = best_of(lambda: nb.kernel_fn(Xn, args.depth, sw2_erf, SB2), 3)
    ntk3 = nb.kernel_fn(Xn, 3, sw2_erf, SB2)[1]
    t_eig, _ = best_of(lambda: nb.eigvalsh(ntk3, check_finite=False, driver="evr"), 3)
    n_layer_updates = sum(L + 1 for L in depths)
    notes.append(f"baseline anatomy: one {args.depth}-layer recursion {fmt_s(t_layers)} "
                 f"({fmt_s(t_layers / (args.depth + 1))} per layer); the per-depth approach does "
                 f"{n_layer_updates} layer updates against {args.depth + 1} for one pass; one "
                 f"{args.m} x {args.m} eigvalsh {fmt_s(t_eig)} (x {args.depth} in both).")

    # ---------------------------------------------------------------- c. real neural-tangents
    log("neural-tangents (child process)")
    nt_info = None
    if args.nt_python:
        for mode in (("eager",) if args.quick else ("eager", "jit")):
            try:
                _, res = best_of(lambda: run_nt(args.nt_python, Xn, sw2_erf, SB2, args.depth, mode, timeout=1800),
                                 1, f"neural-tangents {mode}")
                nt_info = res
                rows.append((f"neural-tangents {res['neural_tangents']} (jax {res['jax']}), {mode}, "
                             f"depths 1..{args.depth}", fmt_s(res["time"]),
                             f"ratio NT / phasecli {res['time'] / t_pc:.1f}x; max rel. diff lambda_max "
                             f"{rel_diff(spec.lambda_max, res['lambda_max']):.1e}, lambda_min "
                             f"{rel_diff(spec.lambda_min, res['lambda_min']):.1e}"))
            except Exception as exc:  # noqa: BLE001
                rows.append((f"neural-tangents ({mode})", NA, f"{type(exc).__name__}: {exc}"))
    else:
        rows.append(("neural-tangents (real)", NA, "not run: pass --nt-python (bench-only venv)"))

    # ---------------------------------------------------------------- d. tanh m=1000 depth 100
    log("phasecli tanh")
    sw2_tanh = critical_sw2("tanh")
    Xt = ntk.synthetic_data(args.tanh_m, D_IN, 0)
    t = time.perf_counter()
    ntk.ntk_spectra("tanh", Xt[:8], sw2_tanh, SB2, [1, 2])
    t_warm = time.perf_counter() - t
    t_one, s_one = best_of(lambda: ntk.ntk_spectra("tanh", Xt, sw2_tanh, SB2, [args.tanh_depth]),
                           1 if args.quick else 2, "phasecli tanh depth 100")
    rows.append((f"phasecli ntk_spectra tanh m={args.tanh_m} at depth {args.tanh_depth}", fmt_s(t_one),
                 f"{'PASS' if t_one < 10 else 'FAIL'} (target < 10 s); sw2 = {sw2_tanh:.6g} (critical), "
                 f"sb2 = {SB2}; kappa = {float(np.asarray(s_one.kappa)[-1]):.4g}; warm-up {fmt_s(t_warm)}"))
    t_all, s_all = best_of(lambda: ntk.ntk_spectra("tanh", Xt, sw2_tanh, SB2, range(1, args.tanh_depth + 1)), 1,
                           "phasecli tanh all depths")
    rows.append((f"phasecli ntk_spectra tanh m={args.tanh_m} at every depth 1..{args.tanh_depth}", fmt_s(t_all),
                 f"{'under' if t_all < 10 else 'over'} 10 s; includes {args.tanh_depth} eigendecompositions"))
    same = rel_diff(np.asarray(s_all.kappa)[-1], np.asarray(s_one.kappa)[-1])
    notes.append(f"tanh depth {args.tanh_depth}: kappa from the depth-only call and from the all-depths "
                 f"call differ by {same:.1e} (relative).")

    # ---------------------------------------------------------------- report
    if CONTENTION:
        busy = {k: v for k, v in CONTENTION.items() if v > 0.10}
        notes.append("CPU share used by other processes during each best timed call: "
                     + ", ".join(f"{k} {v:.0%}" for k, v in CONTENTION.items())
                     + (" -- WARNING: above 10% in " + ", ".join(busy) + "; those times are inflated, "
                        "rerun on a quiet machine" if busy else ""))
    width = max(len(r[0]) for r in rows)
    print(f"\nNTK spectra over depth ({time.strftime('%Y-%m-%d %H:%M')})")
    for label, value, note in rows:
        print(f"  {label:<{width}}  {value:>10}  {note}")
    for n in notes:
        print("  " + n)
    print("  environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))

    lines = ["# phasecli NTK spectra benchmark (bench/bench_kappa.py)", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M')}{' (--quick)' if args.quick else ''}. "
             "Ratios are measured within this one run.", "",
             "| measurement | time / value | note |", "| --- | ---: | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", *[f"- {n}" for n in notes], "",
              "Environment: " + ", ".join(f"`{k}={v}`" for k, v in env.items()), ""]
    Path(args.out).write_text("\n".join(lines))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        sys.exit(1)
