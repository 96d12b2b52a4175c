"""jacobian --architecture resnet: the theory's mean_s2 against finite random residual networks (issue 22).

    python bench/validate_resnet_jacobian.py [--out bench/RESULTS_resnet_jacobian.md] [--widths 256,1024]

For each configuration (activation, LayerNorm, alpha), weight law and width: S random networks of
``phasecli.finite.resnet.jacobian_statistics`` (J = dh^L / dh^0 built block by block, inputs at first-layer
variance 1), pooled by ``finite.jacobian.pool``; z = (measured - theory) / standard error of mean_s2.
Also the measured var_s2 next to the free-product formula that is NOT shipped (theory section 17), to show
why it is not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from phasecli.finite.jacobian import pool  # noqa: E402
from phasecli.finite.resnet import jacobian_statistics  # noqa: E402
from phasecli.jacobian_spectrum import resnet_jacobian_spectrum  # noqa: E402
from phasecli import meanfield  # noqa: E402

CONFIGS = [("tanh", "none", 1.0), ("relu", "pre", 1.0), ("erf", "pre", "depth"), ("gelu", "none", 0.7)]
SW2, SB2 = 1.5, 0.1
DEPTHS = [1, 4, 12]


def free_product_var(act, ln, alpha, depth, weights):
    """The free-product second moment (not shipped): f2 = 1 + 4 a mu1 + a^2 (g mu1^2 + mu2) per block."""
    from phasecli.jacobian_spectrum import derivative_law

    q, m1, m2 = 1.0, 1.0, 1.0
    a = alpha * alpha * SW2
    g = 1.0 if weights == "gaussian" else 0.0
    for _ in range(depth):
        law_q = 1.0 if ln == "pre" else q
        mu = derivative_law(act, law_q).moments(2)[0]
        s = q if ln == "pre" else 1.0
        u1, u2 = mu[0] / s, mu[1] / (s * s)
        f1, f2 = 1 + a * u1, 1 + 4 * a * u1 + a * a * (g * u1 * u1 + u2)
        m2 = f2 * m1 * m1 + f1 * f1 * (m2 - m1 * m1)
        m1 = f1 * m1
        q += alpha * alpha * (SW2 * float(meanfield.length_map(act, [law_q])[0]) + SB2)
    return m2 - m1 * m1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(BENCH / "RESULTS_resnet_jacobian.md"))
    ap.add_argument("--widths", default="256,1024")
    ap.add_argument("--samples", default="8,4")
    args = ap.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    samples = [int(s) for s in args.samples.split(",")]
    load0 = os.getloadavg()[0]
    t0 = time.time()
    lines = ["# jacobian --architecture resnet against finite residual networks (bench/validate_resnet_jacobian.py)", "",
             f"sw2 = {SW2}, sb2 = {SB2}, inputs at first-layer variance 1, depths {DEPTHS}; J = dh^L/dh^0 of the "
             "residual stream. z = (measured mean_s2 - theory) / its standard error over networks. The last two "
             "columns: measured var_s2 +- se and the free-product formula phasecli does not ship (theory section 17).",
             "", "| activation | layer_norm | alpha | weights | width | networks | depth | mean_s2 theory | mean_s2 "
             "measured | z | var_s2 measured | free-product var_s2 |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    worst = 0.0
    for act, ln, scale in CONFIGS:
        for weights in ("gaussian", "orthogonal"):
            th = resnet_jacobian_spectrum(act, SW2, SB2, DEPTHS, weights=weights, residual_scale=scale, layer_norm=ln)
            for width, S in zip(widths, samples):
                stats = [jacobian_statistics(act, SW2, SB2, DEPTHS, weights=weights, width=width, seed=11, index=i,
                                             residual_scale=scale, layer_norm=ln) for i in range(S)]
                mc = pool(stats, DEPTHS, width, SW2)
                for k, L in enumerate(DEPTHS):
                    z = (mc.mean_s2[k] - th.mean_s2[k]) / mc.mean_s2_se[k]
                    worst = max(worst, abs(z))
                    alpha = th.extra["residual_scale"][k]
                    fp = free_product_var(act, ln, alpha, L, weights)
                    lines.append(f"| {act} | {ln} | {scale} | {weights} | {width} | {S} | {L} | {th.mean_s2[k]:.6g} | "
                                 f"{mc.mean_s2[k]:.6g} +- {mc.mean_s2_se[k]:.2g} | {z:+.2f} | "
                                 f"{mc.var_s2[k]:.4g} +- {mc.var_s2_se[k]:.2g} | {fp:.4g} |")
                    print(lines[-1], flush=True)
    lines += ["", f"Largest |z| of mean_s2: {worst:.2f} (all within 4 standard errors: {worst < 4}).",
              f"Wall time {time.time() - t0:.0f} s; load average (1 min) before / after: {load0:.2f} / "
              f"{os.getloadavg()[0]:.2f} (2 shared cores, other engineers' jobs running).", ""]
    Path(args.out).write_text("\n".join(lines))


if __name__ == "__main__":
    main()
