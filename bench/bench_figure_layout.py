"""The phase figure (README's main job): fitted fixed layout (plotting.base.fit_row) against matplotlib's
constrained layout on the same data, interleaved in one run.

    python bench/bench_figure_layout.py [--repeat 5]
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from phasecli import meanfield
    import phasecli.plotting.meanfield as PM
    from phasecli.plotting.base import Figure

    sw2, sb2 = np.linspace(0.5, 4, 141), np.linspace(0, 1, 101)  # phase's default grid
    grid = meanfield.solve_phase("tanh", sw2, sb2)
    line = meanfield.critical_curve("tanh", sb2)
    fitted, fit_row = PM.Figure, PM.fit_row

    def constrained(*a, **k):
        return Figure(*a, layout="constrained", **k)

    times = {"fitted (phasecli)": [], "constrained layout (baseline)": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "phase.png")
        PM.phase_figure(grid, line, layout="heatmap", path=path)  # fonts, colormaps: loaded once
        for _ in range(args.repeat):
            for name, (fig, fit) in (("fitted (phasecli)", (fitted, fit_row)),
                                     ("constrained layout (baseline)", (constrained, lambda f, a: None))):
                PM.Figure, PM.fit_row = fig, fit
                t = time.perf_counter()
                PM.phase_figure(grid, line, layout="heatmap", path=path)
                times[name].append(time.perf_counter() - t)
        PM.Figure, PM.fit_row = fitted, fit_row
    load = os.getloadavg()
    print(f"phase figure, 141 x 101 tanh grid, median of {args.repeat} (load average {load[0]:.2f}):")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"  {k}: {v:.3f} s")
    print(f"  ratio constrained / fitted: {med['constrained layout (baseline)'] / med['fitted (phasecli)']:.2f}x")


if __name__ == "__main__":
    main()
