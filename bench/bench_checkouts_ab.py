"""The same phasecli command from two checkouts, alternately, in one run (A/B of a change).

    python bench/bench_checkouts_ab.py --a DIR_A --b DIR_B [--rounds 2] [--m 600] [--depth 60] [--no-normalize]
                                       [--out FILE]

Each round runs ``python -m phasecli kappa -a erf --sw2 1.37584 --sb2 0.05 --data X.npy --depth 1:L -f csv``
(``synthetic_data(m, 50, 0)``, the workloads of bench/bench_spectra_nt.py) with the working directory
at checkout A, then at B (so each imports its own phasecli; both share the numba cache only where
their kernel sources are equal: warm each first).  Wall time and CPU time (the child's, all threads:
the fairer measure on a shared machine) per run; best of the rounds; the load average.  Used to carry
a ratio against neural-tangents measured with checkout A over to checkout B:
NT / B = (NT / A) x (A / B).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

SW2, SB2, DIM = 1.37584, 0.05, 50


def run(checkout, path, depth, normalize):
    cmd = [sys.executable, "-m", "phasecli", "kappa", "-a", "erf", "--sw2", repr(SW2), "--sb2", repr(SB2),
           "--data", path, "--depth", f"1:{depth}", "-f", "csv"] + ([] if normalize else ["--no-normalize"])
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=checkout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-500:])
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), proc.stdout


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--m", type=int, default=600)
    ap.add_argument("--depth", type=int, default=60)
    ap.add_argument("--no-normalize", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.abspath(args.b))
    from phasecli import ntk

    path = os.path.join(tempfile.mkdtemp(), "X.npy")
    np.save(path, ntk.synthetic_data(args.m, DIM, 0))
    normalize = not args.no_normalize
    load0 = os.getloadavg()
    best = {"A": [np.inf, np.inf], "B": [np.inf, np.inf]}
    outputs = {}
    for _ in range(args.rounds):
        for key, checkout in (("A", args.a), ("B", args.b)):
            wall, cpu, out = run(checkout, path, args.depth, normalize)
            best[key] = [min(best[key][0], wall), min(best[key][1], cpu)]
            outputs[key] = out
            print(f"{key}: wall {wall:.2f} s, CPU {cpu:.2f} s", file=sys.stderr, flush=True)
    load1 = os.getloadavg()
    same = outputs["A"] == outputs["B"]
    text = (f"A/B {time.strftime('%Y-%m-%d %H:%M')}: m = {args.m}, depths 1..{args.depth}, "
            f"{'normalized' if normalize else 'as given'}; A = {args.a}, B = {args.b}; best of {args.rounds}: "
            f"A wall {best['A'][0]:.2f} s CPU {best['A'][1]:.2f} s, B wall {best['B'][0]:.2f} s CPU {best['B'][1]:.2f} s; "
            f"A / B wall {best['A'][0] / best['B'][0]:.2f}x, CPU {best['A'][1] / best['B'][1]:.2f}x; identical output: "
            f"{same}; load average {load0[0]:.1f} at start, {load1[0]:.1f} at end\n")
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
