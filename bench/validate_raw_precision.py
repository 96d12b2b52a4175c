"""Accuracy sweep of data-as-given kappa against the 80-digit reference (tests/naive_mp.py).

    python bench/validate_raw_precision.py [--m M] [--seed S]     # ~1-3 min; prints a markdown table

For relu, erf, tanh in the ordered, critical and chaotic phases (the cases of
tests/test_raw_precision.py), depths 1..100: the largest relative error of kappa (NTK and
NNGP) where the reference kappa is below 1e12, the largest kappa checked, the largest ratio
error / estimate (must stay below 1), and the count of unresolved rows.
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import numpy as np  # noqa: E402

import naive_mp  # noqa: E402
from phasecli import meanfield as mf  # noqa: E402
from phasecli import ntk  # noqa: E402

CASES = [("relu", 1.5, 0.1), ("relu", 2.0, 0.0), ("relu", 2.5, 0.1), ("erf", 1.0, 0.05), ("erf", "c", 0.05),
         ("erf", 3.0, 0.1), ("tanh", 1.0, 0.05), ("tanh", "c", 0.05), ("tanh", 2.5, 0.05)]
DEPTHS = [1, 2, 3, 5, 10, 20, 30, 50, 70, 100]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int, default=0, help="inputs (default: 8, tanh 5, as in the tests)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    print("| activation | sw2 | sb2 | phase | m | max rel. error (kappa < 1e12) | largest kappa checked | "
          "max error / estimate | unresolved |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for act, sw2, sb2 in CASES:
        sw2 = float(mf.solve_critical(act, [sb2]).sw2_critical[0]) if sw2 == "c" else sw2
        m = args.m or (5 if act == "tanh" else 8)
        X = np.random.default_rng(args.seed).standard_normal((m, 4)) * np.linspace(0.6, 1.6, m)[:, None]
        ref = naive_mp.reference(act, X, sw2, sb2, DEPTHS)
        s = ntk.ntk_spectra(act, X, sw2, sb2, DEPTHS, normalize=False)
        worst = top = ratio = 0.0
        unresolved = 0
        for i, d in enumerate(DEPTHS):
            for name, res, est in (("kappa", s.resolved, s.kappa_rel_err),
                                   ("nngp_kappa", s.nngp_resolved, s.nngp_kappa_rel_err)):
                want = float(ref[d][name])
                if not res[i]:
                    unresolved += 1
                    continue
                rel = abs(getattr(s, name)[i] / want - 1.0)
                ratio = max(ratio, rel / est[i])
                if want < 1e12:
                    worst = max(worst, rel)
                    top = max(top, want)
        print(f"| {act} | {sw2:.6g} | {sb2:g} | {s.phase} | {m} | {worst:.1e} | {top:.2e} | {ratio:.2g} | "
              f"{unresolved} |", flush=True)


if __name__ == "__main__":
    main()
