"""Measure the depth multiples `phasecli check` uses: where the NTK mean predictor stops generalizing,
in units of xi_star (chaotic side) and xi_1 (ordered side), on the bundled digits data.

    python bench/gate_multiples.py            # ~6-10 minutes on 2 cores; writes bench/RESULTS_gate_multiples.md
    python bench/gate_multiples.py --quick    # fewer points

For each (activation, sw2, sb2) the infinite-width NTK predictor (``phasecli generalize``, t = inf,
no ridge) is scored at depths L = k * xi for a ladder of k; reported per point: the test accuracy at
each k, and k_90 / k_half, the smallest ladder multiple where the accuracy has fallen below 90% of its
shallow value or half way to chance (0.1).  On the ordered side also at finite training times t
(``generalize --time``), where the small NTK eigenvalues are not learned yet.  Not a timing
benchmark: the gate's documented multiples are read off these tables.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CHAOTIC = [("tanh", 2.5, 0.05), ("tanh", 3.0, 0.05), ("tanh", 4.0, 0.05), ("erf", 2.5, 0.1), ("erf", 4.0, 0.1)]
ORDERED = [("tanh", 0.8, 0.05), ("tanh", 1.2, 0.05), ("erf", 0.6, 0.1), ("erf", 0.9, 0.1)]
ORDERED_TIMED = [("tanh", 0.8, 0.05), ("tanh", 1.2, 0.05), ("erf", 0.9, 0.1)]
LADDER = (0.5, 1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 25, 30)
TIMED_LADDER = (1, 2, 3, 4, 6, 8, 10, 12, 16)
TIMES = (1e3, 1e4, 1e5)


def measure(points, scale_name, ladder, max_depth, train_time=None):
    from phasecli import meanfield
    from phasecli.ntk import predictor as generalize
    from phasecli.cli.inputs import load_labelled

    X_train, y_train = load_labelled("digits", -1, "train")
    X_test, y_test = load_labelled("digits", -1, "test")
    rows = []
    for activation, sw2, sb2 in points:
        grid = meanfield.solve_phase(activation, sw2, sb2)
        xi = float(getattr(grid, scale_name)[0, 0])
        depths = sorted({max(1, int(round(k * xi))) for k in ladder if k * xi <= max_depth})
        t0 = time.perf_counter()
        r = generalize.ntk_generalization(activation, X_train, y_train, X_test, y_test, sw2, sb2, depths,
                                          time=train_time)
        seconds = time.perf_counter() - t0
        acc = dict(zip(r.depth.tolist(), r.test_accuracy.tolist()))
        scale = dict(zip(r.depth.tolist(), r.prediction_scale.tolist()))
        top = acc[depths[0]]
        k90 = next((d / xi for d in depths if acc[d] < 0.9 * top), math.inf)
        khalf = next((d / xi for d in depths if acc[d] < 0.5 * (top + 0.1)), math.inf)
        rows.append(dict(activation=activation, sw2=sw2, sb2=sb2, xi=xi, depths=depths, acc=acc, scale=scale,
                         k90=k90, khalf=khalf, seconds=seconds, kappa=dict(zip(r.depth.tolist(), r.kappa.tolist()))))
        print(f"{activation} sw2={sw2} sb2={sb2} {scale_name}={xi:.3f} t={train_time}: k90={k90:.3g} "
              f"k_half={khalf:.3g} "
              f"({seconds:.0f} s)", file=sys.stderr)
    return rows


def table(rows, scale_name):
    lines = [f"| activation | sw2 | sb2 | {scale_name} | L / {scale_name}: test accuracy (prediction_scale) | "
             "k_90 | k_half |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = ", ".join(f"{d / r['xi']:.3g}: {r['acc'][d]:.3f} ({r['scale'][d]:.2g})" for d in r["depths"])
        lines.append(f"| {r['activation']} | {r['sw2']:g} | {r['sb2']:g} | {r['xi']:.3f} | {cells} | "
                     f"{r['k90']:.3g} | {r['khalf']:.3g} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS_gate_multiples.md"))
    parser.add_argument("--max-depth", type=int, default=160)
    args = parser.parse_args()
    chaotic, ordered = (CHAOTIC[1:3], ORDERED[:1]) if args.quick else (CHAOTIC, ORDERED)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    chaos_rows = measure(chaotic, "xi_star", LADDER, args.max_depth)
    order_rows = measure(ordered, "xi_1", LADDER, args.max_depth)
    timed_rows = {t: measure(ordered[:1] if args.quick else ORDERED_TIMED, "xi_1", TIMED_LADDER, args.max_depth,
                             train_time=t)
                  for t in TIMES}
    text = "\n\n".join([
        "# Depth multiples of `phasecli check` (measured, not a timing benchmark)",
        f"`python bench/gate_multiples.py{' --quick' if args.quick else ''}`: bundled digits (1000 train, "
        f"797 test), NTK mean predictor at t = inf, no ridge, normalized inputs; load average {load:.2f} at the "
        f"start, {time.perf_counter() - t0:.0f} s in all.  k_90: first ladder multiple with accuracy below 90% "
        "of the shallowest; k_half: below half way to chance (0.1); inf: not reached up to depth "
        f"{args.max_depth}.",
        "## Chaotic side: L / xi_star", table(chaos_rows, "xi_star"),
        "## Ordered side: L / xi_1", table(order_rows, "xi_1"),
        *[part for t, rows in timed_rows.items() for part in
          (f"## Ordered side, finite training time t = {t:g} (gradient flow at eta = 2/lambda_max): L / xi_1",
           table(rows, "xi_1"))],
    ])
    with open(args.out, "w") as fh:
        fh.write(text + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
