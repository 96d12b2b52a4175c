"""Measure the depth multiples `phasecli check` uses: where infinite-width networks trained on the bundled
digits stop generalizing, in units of xi_star (chaotic side) and xi_1 (ordered side).

    python bench/gate_multiples.py            # ~10-20 minutes on 2 cores; writes bench/RESULTS_gate_multiples.md
    python bench/gate_multiples.py --quick    # fewer points

Training rows are balanced (``generalize --balance``: the first rows of every class, as many as the smallest
class has), so that the deep chaotic limit of the mean predictor is not a majority-class vote.  For each
(activation, sw2, sb2) the ensemble of NTK-trained networks (``generalize``'s ensemble_accuracy: the random
initial function included, t = inf, no ridge) is scored at depths L = k * xi for a ladder of k; reported per
point: the ensemble accuracy at each k (the mean predictor's in brackets), and k_90 / k_half / k_chance, the
smallest ladder multiple where the ensemble accuracy has fallen below 90% of its shallow value, below half way
to chance (0.1), or to within 0.05 of chance.  On the ordered side also at finite training times t
(``generalize --time``), where the small NTK eigenvalues are not learned yet.  Not a timing benchmark: the
gate's documented multiples are read off these tables.
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
LADDER = (0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 30)
TIMED_LADDER = (1, 2, 3, 4, 6, 8, 10, 12, 16)
TIMES = (1e3, 1e4, 1e5)


def measure(points, scale_name, ladder, max_depth, train_time=None):
    from phasecli import meanfield
    from phasecli.ntk import predictor as generalize
    from phasecli.cli.inputs import load_labelled
    from phasecli.data import balanced_rows

    X_train, y_train = load_labelled("digits", -1, "train")
    keep = balanced_rows(y_train)
    X_train, y_train = X_train[keep], y_train[keep]
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
        acc = dict(zip(r.depth.tolist(), r.ensemble_accuracy.tolist()))
        mean = dict(zip(r.depth.tolist(), r.test_accuracy.tolist()))
        top = acc[depths[0]]
        k90 = next((d / xi for d in depths if acc[d] < 0.9 * top), math.inf)
        khalf = next((d / xi for d in depths if acc[d] < 0.5 * (top + 0.1)), math.inf)
        kchance = next((d / xi for d in depths if acc[d] < 0.1 + 0.05), math.inf)
        rows.append(dict(activation=activation, sw2=sw2, sb2=sb2, xi=xi, depths=depths, acc=acc, mean=mean,
                         k90=k90, khalf=khalf, kchance=kchance, seconds=seconds,
                         kappa=dict(zip(r.depth.tolist(), r.kappa.tolist()))))
        print(f"{activation} sw2={sw2} sb2={sb2} {scale_name}={xi:.3f} t={train_time}: k90={k90:.3g} "
              f"k_half={khalf:.3g} k_chance={kchance:.3g} ({seconds:.0f} s)", file=sys.stderr)
    return rows


def table(rows, scale_name):
    lines = [f"| activation | sw2 | sb2 | {scale_name} | L / {scale_name}: ensemble accuracy (mean predictor's) | "
             "k_90 | k_half | k_chance |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = ", ".join(f"{d / r['xi']:.3g}: {r['acc'][d]:.3f} ({r['mean'][d]:.3f})" for d in r["depths"])
        lines.append(f"| {r['activation']} | {r['sw2']:g} | {r['sb2']:g} | {r['xi']:.3f} | {cells} | "
                     f"{r['k90']:.3g} | {r['khalf']:.3g} | {r['kchance']:.3g} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS_gate_multiples.md"))
    parser.add_argument("--max-depth", type=int, default=160)
    parser.add_argument("--sides", default="chaotic,ordered,timed",
                        help="which tables: chaotic, ordered (t = inf), timed (ordered at finite t)")
    args = parser.parse_args()
    sides = set(args.sides.split(","))
    chaotic, ordered = (CHAOTIC[1:3], ORDERED[:1]) if args.quick else (CHAOTIC, ORDERED)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    chaos_rows = measure(chaotic, "xi_star", LADDER, args.max_depth) if "chaotic" in sides else []
    order_rows = measure(ordered, "xi_1", LADDER, args.max_depth) if "ordered" in sides else []
    timed_rows = {t: measure(ordered[:1] if args.quick else ORDERED_TIMED, "xi_1", TIMED_LADDER, args.max_depth,
                             train_time=t)
                  for t in TIMES} if "timed" in sides else {}
    text = "\n\n".join([
        "# Depth multiples of `phasecli check` (measured, not a timing benchmark)",
        f"`python bench/gate_multiples.py{' --quick' if args.quick else ''}"
        f"{'' if args.sides == parser.get_default('sides') else ' --sides ' + args.sides}`: bundled digits, balanced training "
        "rows (the first rows of every class, as many as the smallest class has), 797 test rows; the ensemble of "
        "NTK-trained infinite-width networks (ensemble_accuracy, the mean predictor's test_accuracy in "
        f"brackets), no ridge, normalized inputs; load average {load:.2f} at the start, "
        f"{time.perf_counter() - t0:.0f} s in all.  k_90: first ladder multiple with ensemble accuracy below 90% "
        "of the shallowest; k_half: below half way to chance (0.1); k_chance: within 0.05 of chance; inf: not "
        f"reached up to depth {args.max_depth}.",
        *(("## Chaotic side: L / xi_star", table(chaos_rows, "xi_star")) if chaos_rows else ()),
        *(("## Ordered side: L / xi_1", table(order_rows, "xi_1")) if order_rows else ()),
        *[part for t, rows in timed_rows.items() for part in
          (f"## Ordered side, finite training time t = {t:g} (gradient flow at eta = 2/lambda_max): L / xi_1",
           table(rows, "xi_1"))],
    ])
    with open(args.out, "w") as fh:
        fh.write(text + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
