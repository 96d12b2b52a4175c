"""Benchmark and measured picture of ``phasecli jacobian`` (the Jacobian spectrum, phasecli.jacobian_spectrum).

    python bench/bench_jacobian.py [--quick] [--out bench/RESULTS_jacobian.md]

In one run (ratios are measured within it; the load average at start is recorded):

a. theory rows: ``jacobian_spectrum`` (moments + support edges) for tanh on the critical line,
   8 values of sb2 x depths 8, 32, 128 x both weight laws (48 rows), against the scipy
   baseline of tests/naive_stransform.py (quad for psi_D, brentq for its inverse, a bounded
   minimization of z(m) for the edge: what one writes with scipy alone) on 6 of those rows;
   the ratio per row, and the largest relative difference of s2_max (a sanity check);
b. the density of one depth (500 points): time per curve;
c. finite networks: the time of one random network (draw + L products + SVD) at width 1000,
   depth 128, both weight laws, against one theory row; and, unless --quick, the measured
   comparison of the issue: tanh on the critical line, sb2 in {1e-4, 0.05}, width 1000,
   8 networks, depths 8, 32, 128: empirical var_s2 +- se and s2_max against the theory.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

SB2 = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.05, 0.1, 0.5]
DEPTHS = [8, 32, 128]


def _timed(fn, repeats=1):
    best, value = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def theory_rows(repeats):
    from phasecli import jacobian_spectrum as jacobian

    def run():
        return [jacobian.jacobian_spectrum("tanh", "critical", b, DEPTHS, weights=("gaussian", "orthogonal"))
                for b in SB2]

    run()  # numba cache load
    return _timed(run, repeats)


def baseline_rows(points):
    import naive
    import naive_stransform as NS

    from phasecli import meanfield

    out = []
    t = time.perf_counter()
    for sb2, L, weights in points:
        sw2 = float(meanfield.solve_critical("tanh", [sb2]).sw2_critical[0])
        law = NS.Law("tanh", naive.q_star("tanh", sw2, sb2))
        mean, var = NS.mean_var(law, sw2, L, weights)
        out.append((sb2, L, weights, var, NS.upper_edge(law, sw2, L, weights)))
    return time.perf_counter() - t, out


def network_time(weights, width, depth):
    from phasecli import jacobian_spectrum as jacobian
    from phasecli.finite import jacobian as finite

    p = jacobian.jacobian_spectrum("tanh", "critical", 0.05, [depth], weights=(weights,))
    return _timed(lambda: finite.network_statistics("tanh", p.sw2, 0.05, p.q_star, [depth], weights=weights,
                                                    width=width, seed=0, index=0))[0]


def comparison(width, samples):
    from phasecli import jacobian_spectrum as jacobian
    from phasecli.finite import jacobian as finite

    rows = []
    for sb2 in (1e-4, 0.05):
        for weights in ("gaussian", "orthogonal"):
            th = jacobian.jacobian_spectrum("tanh", "critical", sb2, DEPTHS, weights=(weights,))
            stats = [finite.network_statistics("tanh", th.sw2, sb2, th.q_star, DEPTHS, weights=weights, width=width,
                                               seed=11, index=i) for i in range(samples)]
            emp = finite.pool(stats, DEPTHS, width, th.sw2)
            for k, L in enumerate(DEPTHS):
                rows.append((sb2, weights, L, th.var_s2[k], emp.var_s2[k], emp.var_s2_se[k], th.s2_max[k],
                             emp.s2_max[k], emp.s2_max_se[k]))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, no finite-network comparison table")
    ap.add_argument("--out", default=str(BENCH / "RESULTS_jacobian.md"))
    args = ap.parse_args(argv)
    load = os.getloadavg()[0]
    lines = ["# phasecli jacobian benchmark (bench/bench_jacobian.py)", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M')}; load average at start {load:.2f} on {os.cpu_count()} cores "
             "(other engineers' jobs share the machine: compare ratios within this run, not absolute times).", "",
             "| measurement | time / value | note |", "| --- | ---: | --- |"]
    t_rows, spectra = theory_rows(1 if args.quick else 3)
    n_rows = sum(s.rows for s in spectra)
    per_row = t_rows / n_rows
    lines.append(f"| phasecli jacobian_spectrum, tanh critical, {len(SB2)} sb2 x depths {DEPTHS} x 2 weight laws | "
                 f"{t_rows:.3f} s | {n_rows} rows, {1e3 * per_row:.2f} ms per row (moments + s2_max + s2_min) |")
    points = [(1e-4, 8, "orthogonal"), (1e-4, 128, "orthogonal"), (0.05, 8, "gaussian"), (0.05, 128, "gaussian"),
              (0.05, 32, "orthogonal"), (0.5, 128, "orthogonal")]
    t_base, base = baseline_rows(points)
    lookup = {(s.sb2, int(d), w): s.s2_max[k] for s in spectra for k, (w, d) in enumerate(zip(s.weights, s.depth))}
    diff = max(abs(lookup[(b, L, w)] / edge - 1) for b, L, w, _, edge in base)
    lines.append(f"| scipy baseline (quad + brentq + bounded minimization), {len(points)} rows | {t_base:.2f} s | "
                 f"{t_base / len(points):.2f} s per row; max rel. difference of s2_max {diff:.1e} |")
    lines.append(f"| **ratio baseline / phasecli per row** | **{t_base / len(points) / per_row:.0f}x** | |")
    from phasecli import jacobian_spectrum as jacobian

    for weights, L in (("gaussian", 128), ("orthogonal", 128), ("orthogonal", 8)):
        t, d = _timed(lambda: jacobian.spectral_density("tanh", "critical", 0.05, L, weights=weights, points=500))
        lines.append(f"| density, tanh critical sb2 = 0.05, {weights}, depth {L}, 500 points | {t:.3f} s | "
                     f"{int(d.converged.sum())} of {d.converged.size} points converged |")
    for weights in ("gaussian", "orthogonal"):
        t = network_time(weights, 1000, 128)
        lines.append(f"| one finite network, width 1000, depth 128, {weights} (draw, 128 products, SVD) | {t:.2f} s | "
                     f"ratio to one theory row {t / per_row:.0f}x |")
    if not args.quick:
        width, samples = 1000, 8
        rows = comparison(width, samples)
        lines += ["", f"## Finite networks (width {width}, {samples} networks, seed 11) against the theory", "",
                  "| sb2 | weights | depth | var_s2 theory | var_s2 networks (+- se) | s2_max theory | "
                  "s2_max networks (+- se) |", "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
        for sb2, w, L, vt, ve, vse, mt, me, mse in rows:
            lines.append(f"| {sb2:g} | {w} | {L} | {vt:.4g} | {ve:.4g} +- {vse:.2g} | {mt:.4g} | "
                         f"{me:.4g} +- {mse:.2g} |")
    lines += ["", f"Load average at the end: {os.getloadavg()[0]:.2f}."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
