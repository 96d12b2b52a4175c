"""Write tests/data/ntk_oracle_quad.json: the quadrature oracle's kernels (tests/naive_ntk.py) for the cases of
tests/test_ntk_oracle.py whose activations have no closed form (tanh, hard_tanh: nested scipy quad, about a
minute of CPU); imports nothing from phasecli.

    python tests/make_ntk_oracle_data.py

The inputs and cases are defined here and imported by the test.  test_ntk_oracle.py reads the file for
those cases and regenerates a sample (three of the seven rows: each kernel entry of the recursion depends
only on its own pair of rows) to show the file is what the oracle gives.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

import naive_ntk as oracle

OUT = pathlib.Path(__file__).with_name("data") / "ntk_oracle_quad.json"
X5 = np.random.default_rng(7).standard_normal((5, 4))
XT2 = np.random.default_rng(8).standard_normal((2, 4))
# data as given: rows of different lengths
SCALES = np.array([0.4, 1.0, 1.7, 0.8, 1.3])[:, None]
# (activation, sw2, sb2, depths): ordered / chaotic mixes, every phase family once
CASES = {
    "erf": (2.2, 0.1, (1, 2, 5, 12)),
    "relu": (1.5, 0.1, (1, 2, 5, 12)),
    "tanh": (1.6, 0.1, (1, 3)),
    "hard_tanh": (1.2, 0.1, (1, 3)),
}
STORED = ("tanh", "hard_tanh")
MODES = {"normalized": True, "as_given": False}


def oracle_kernels(act, normalize, dropout=None, sw2=None, sb2=None, depths=None, rows=None, test_rows=None):
    """naive_ntk.kernels on the case's inputs (normalized to q* or as given); ``rows`` / ``test_rows`` pick a
    subset of X5 / XT2."""
    sw2_, sb2_, depths_ = CASES[act]
    sw2 = sw2_ if sw2 is None else sw2
    sb2 = sb2_ if sb2 is None else sb2
    depths = depths_ if depths is None else depths
    if normalize:
        q = oracle.q_star(act, sw2, sb2)
        X, Xt = oracle.normalize_rows(X5, sw2, sb2, q), oracle.normalize_rows(XT2, sw2, sb2, q)
    else:
        X, Xt = X5 * SCALES, XT2
    if rows is not None:
        X, Xt = X[list(rows)], Xt[list(test_rows)]
    return oracle.kernels(act, X, sw2, sb2, depths, X_test=Xt, dropout=dropout)


def main():
    data = {"X5": X5.tolist(), "XT2": XT2.tolist(), "SCALES": SCALES.ravel().tolist(), "cases": {}}
    for act in STORED:
        data["cases"][act] = {"case": list(CASES[act]), "modes": {}}
        for mode, normalize in MODES.items():
            ref = oracle_kernels(act, normalize)
            data["cases"][act]["modes"][mode] = {str(d): [m.tolist() for m in blocks] for d, blocks in ref.items()}
            print(act, mode, flush=True)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
