"""Write tests/data/raw_precision_tanh.json: the 80-digit reference (tests/naive_mp.py) of the tanh cases of
tests/test_raw_precision.py, which take minutes of Python mpmath; imports nothing from phasecli.

    python tests/make_raw_precision_data.py

For each tanh case: sw2 (the critical one from the mpmath oracle tests/naive_critical.py), sb2, the inputs
X (float64, as hex) and, at each depth, K and Theta entry by entry (40 significant digits as strings; the
kappa checks need 1e-8).  test_raw_precision.py recomputes kappa from them at 80 digits and regenerates a
sample (two of the inputs of every case: each entry of the recursion depends only on its own pair of inputs)
to show the file is what the reference code gives.
"""

from __future__ import annotations

import json
import pathlib

import mpmath as mp
import numpy as np

import naive_critical
import naive_mp

OUT = pathlib.Path(__file__).with_name("data") / "raw_precision_tanh.json"
DEPTHS = [1, 2, 3, 5, 10, 20, 30, 50, 70, 100]
DIGITS = 40
M, DIM, SEED = 5, 4, 7  # the tanh reference is mpmath quadrature: keep it small
# (phase, sw2 or "critical", sb2); the critical q* of tanh at sb2 = 0.05 is about 0.57
CASES = [("ordered", 1.0, 0.05), ("critical", "critical", 0.05), ("chaotic", 2.5, 0.05)]
CRITICAL_Q_BRACKET = (0.2, 2.0)


def inputs(m=M, dim=DIM, seed=SEED):
    """Standard normal rows with norms spread over 0.6 .. 1.6 (as test_raw_precision._inputs)."""
    X = np.random.default_rng(seed).standard_normal((m, dim))
    return X * np.linspace(0.6, 1.6, m)[:, None]


def case_sw2(sw2, sb2):
    return naive_critical.critical("tanh", sb2, CRITICAL_Q_BRACKET)[0] if sw2 == "critical" else float(sw2)


def matrices(X, sw2, sb2, depths=DEPTHS):
    """{depth: {"K": rows, "Theta": rows}} as DIGITS-digit strings."""
    ref = naive_mp.reference("tanh", X, sw2, sb2, depths)
    return {str(d): {name: [[mp.nstr(x, DIGITS, strip_zeros=False) for x in row] for row in ref[d][name]]
                     for name in ("K", "Theta")} for d in depths}


def main():
    X = inputs()
    data = {"digits": DIGITS, "depths": DEPTHS, "X": [[float(v).hex() for v in row] for row in X], "cases": {}}
    for phase, sw2, sb2 in CASES:
        sw2 = case_sw2(sw2, sb2)
        data["cases"][phase] = {"sw2": sw2, "sb2": sb2, "depths": matrices(X, sw2, sb2)}
        print(phase, sw2, flush=True)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
