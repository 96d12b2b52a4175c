"""Benchmark of `phasecli verify`: S = 1000 networks of width 512 at every depth 1..50 in one run,
against a straightforward vectorized numpy implementation with full weight matrices doing the
same work (tests/naive_finite.py: every W drawn, two-input forward pass, backward passes of all
depths stacked), timed in the same run.  Writes bench/RESULTS_verify.md.

    python bench/bench_verify.py [--samples 1000] [--width 512] [--depth 50] [--baseline-samples N]

--baseline-samples N times the baseline on the first N networks only and scales its time by
samples / N (its cost is linear in the number of networks; the table says so).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import naive_finite  # noqa: E402  (the full-weight baseline, independent of phasecli)
from phasecli.finite import verify  # noqa: E402


def busy_jiffies():
    """Busy CPU time of the whole machine (all processes), in seconds, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [float(v) for v in f.readline().split()[1:]]
    except OSError:
        return math.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def timed(fn):
    """(result, wall seconds, share of the machine's CPU used by other processes meanwhile)."""
    busy0, own0, t0 = busy_jiffies(), time.process_time(), time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    others = (busy_jiffies() - busy0) - (time.process_time() - own0)
    return result, wall, max(0.0, others) / (wall * (os.cpu_count() or 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--baseline-samples", type=int, default=None)
    ap.add_argument("--activation", default="tanh")
    ap.add_argument("--sw2", type=float, default=1.76)
    ap.add_argument("--sb2", type=float, default=0.05)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS_verify.md"))
    args = ap.parse_args()
    depths = np.arange(1, args.depth + 1)
    point = (args.activation, args.sw2, args.sb2)
    load_start = os.getloadavg()[0]

    def engine(samples=args.samples, width=args.width, d=depths):
        return next(verify.run(args.activation, [args.sw2], [args.sb2], [width], d, samples=samples, seed=0))

    _, warm, _ = timed(lambda: engine(4, 16, [1, 2]))
    result, t_engine, others_engine = timed(engine)
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    _, t_engine1, others_engine1 = timed(engine)
    numba.set_num_threads(threads)
    n_base = args.baseline_samples or args.samples
    base, t_base, others_base = timed(lambda: naive_finite.sample_many([point], args.width, depths, n_base,
                                                                       chunk=4)[point])
    t_base_full = t_base * args.samples / n_base
    _, t_engine_after, others_after = timed(engine)
    best = min(t_engine, t_engine_after)
    ratio = t_base_full / best

    # sanity (not a test): the two agree on the means within their standard errors
    def z(name):
        ref = base[name]
        m, se = ref.mean(axis=0), ref.std(axis=0, ddof=1) / math.sqrt(n_base)
        ours, ours_se = getattr(result, f"{name}_mean"), getattr(result, f"{name}_se")
        return float(np.max(np.abs(ours - m) / np.hypot(se, ours_se)))

    scaled = "" if n_base == args.samples else f" (timed on {n_base} networks, scaled x{args.samples / n_base:g})"
    lines = [
        "# `phasecli verify` benchmark (bench/bench_verify.py)",
        "",
        f"Run {datetime.datetime.now():%Y-%m-%d %H:%M}. Ratios are measured within this one run. "
        f"{args.activation}, sw2 = {args.sw2:g}, sb2 = {args.sb2:g} ({result.phase}), q0 = 1, c0 = 0.5.",
        "",
        "| measurement | time | note |",
        "| --- | ---: | --- |",
        f"| phasecli verify core, S = {args.samples}, width {args.width}, depths 1..{args.depth} | {best:.2f} s | "
        f"best of 2 ({t_engine:.2f} s before the baseline, {t_engine_after:.2f} s after); {threads} numba threads; "
        f"other processes {100 * max(others_engine, others_after):.0f}% of the CPU; warm-up {warm:.2f} s |",
        f"| the same, 1 numba thread | {t_engine1:.2f} s | other processes {100 * others_engine1:.0f}% |",
        f"| full-weight numpy baseline (tests/naive_finite.py), same work | {t_base_full:.1f} s | "
        f"{scaled.strip() or 'all networks'}; BLAS on 1 thread (its faster setting for these small products); "
        f"other processes {100 * others_base:.0f}% |",
        f"| **ratio baseline / phasecli** | **{ratio:.0f}x** | target >= 5x |",
        "",
        f"- agreement (sanity, not a test): max |difference| / combined standard error over the depths: "
        f"q {z('q'):.2f}, ntk {z('ntk'):.2f} (baseline {n_base} networks, phasecli {args.samples}).",
        f"- ratio at depth 1 / 10 / {args.depth}: {result.ratio[0]:.4f} / {result.ratio[min(9, depths.size - 1)]:.4f} "
        f"/ {result.ratio[-1]:.4f}.",
        "- work: the baseline draws S (L + 1) M^2 normals and multiplies every delta of every depth by every W "
        "(O(S L^2 M^2)); the two-input sampler draws 5 S L M normals and does O(S L^2 M) arithmetic.",
        "",
        f"Environment: `python={platform.python_version()}`, `numpy={np.__version__}`, `numba={numba.__version__}`, "
        f"`cpus={os.cpu_count()}`, `load_1min_at_start={load_start:.2f}`, "
        f"`load_1min_at_end={os.getloadavg()[0]:.2f}`",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
