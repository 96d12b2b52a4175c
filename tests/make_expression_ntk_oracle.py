"""Write tests/data/expression_ntk_oracle.json: hard-swish (``x*min(max(x+3,0),6)/6``) NTK / NNGP spectra at
depths 1..100 from the independent quadrature oracles (imports nothing from phasecli):

- normalized inputs (rows scaled to q*): ``naive_hswish_ntk`` (deviation tracking, every depth 1..100, since the
  ordered phase's small eigenvalues are deviations of 1e-40 that a plain recursion loses);
- inputs as given: ``naive_ntk.kernels`` (the plain recursion, nested quad) at the depths where its own float64
  kernels still resolve lambda_min (``RAW_DEPTHS``).

    python tests/make_expression_ntk_oracle.py [--all]          (about 15 minutes of CPU)

tests/test_expression_oracle.py reads the file and regenerates one pair's deviations over all 100 layers
(each pair's recursion involves that pair alone) to show the file is what the oracle gives.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys

import numpy as np

import naive as nv
import naive_hswish_ntk as hs
import naive_ntk as nntk

OUT = pathlib.Path(__file__).with_name("data") / "expression_ntk_oracle.json"
EXPR = "x*min(max(x+3,0),6)/6"
X3 = np.random.default_rng(23).standard_normal((3, 5))
SCALES = np.array([0.6, 1.0, 1.5])[:, None]  # inputs as given: rows of different lengths
DEPTHS = list(range(1, 101))
# (sw2, sb2): ordered with chi_1 = 0.39 (deviations ~ 1e-41 at depth 100), 0.63, and at sw2 > 2 (the stable q* =
# 0.11 reached from q0 = 1, below the unstable one beyond which q grows without bound); chaotic (q* = 31, chi_1 = 1.03)
NORMALIZED_POINTS = ((1.5, 0.05), (1.9, 0.3), (2.1, 0.05), (1.95, 1.0))
RAW_POINTS = ((1.5, 0.05), (1.95, 1.0))
RAW_DEPTHS = (1, 2, 3, 5, 10)


def _hswish(x, s=0.0):
    return hs.phi(x)


def _dhswish(x, s=0.0):
    return hs.dphi(x)


nv.ACTS.setdefault(EXPR, (_hswish, _dhswish, (-3.0, 3.0)))


def normalized(sw2, sb2, depths=DEPTHS, pairs=None):
    """{depth: [lambda_max, lambda_min, kappa, nngp_kappa]} and the raw recursion output."""
    rec = hs.recursion(X3, sw2, sb2, depths, pairs=pairs)
    return {d: list(hs.spectra(*rec[d])) for d in depths}, rec


def raw(sw2, sb2, depths=RAW_DEPTHS):
    ref = nntk.kernels(EXPR, X3 * SCALES, sw2, sb2, list(depths))
    out = {}
    for d in depths:
        k, th = ref[d][0], ref[d][1]
        lmax, lmin, _, kappa = nntk.spectrum(th)
        out[d] = [lmax, lmin, kappa, nntk.spectrum(k)[3]]
    return out


def main():
    """Points already in the file (same inputs) are kept; ``--all`` recomputes everything."""
    data = {"expression": EXPR, "X3": X3.tolist(), "SCALES": SCALES.ravel().tolist(), "normalized": {}, "raw": {}}
    old = json.loads(OUT.read_text()) if OUT.exists() and "--all" not in sys.argv else {}
    if old.get("X3") != data["X3"] or old.get("SCALES") != data["SCALES"]:
        old = {}
    for sw2, sb2 in NORMALIZED_POINTS:
        key = f"{sw2} {sb2}"
        if key in old.get("normalized", {}):
            data["normalized"][key] = old["normalized"][key]
            continue
        spec, rec = normalized(sw2, sb2)
        q, eps, p, dl = rec[DEPTHS[-1]]
        data["normalized"][f"{sw2} {sb2}"] = {"q_star": q, "spectra": {str(d): v for d, v in spec.items()},
                                              "eps_last": eps.tolist(), "delta_last": dl.tolist()}
        print(sw2, sb2, "q*", q, "kappa", spec[1][2], spec[10][2], spec[100][2], file=sys.stderr, flush=True)
    for sw2, sb2 in RAW_POINTS:
        key = f"{sw2} {sb2}"
        if key in old.get("raw", {}):
            data["raw"][key] = old["raw"][key]
            continue
        data["raw"][key] = {str(d): v for d, v in raw(sw2, sb2).items()}
        print("raw", sw2, sb2, file=sys.stderr, flush=True)
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
