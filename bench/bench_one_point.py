"""One-point calls of the mean-field library (what the property and oracle tests make by the thousand, and
`critical --value`): the parallel kernels run on one thread for a single item (``runtime.jit.threads_for``)
against the same calls on the whole numba thread pool (the baseline), interleaved in one run.

    python bench/bench_one_point.py [--repeat 200]

Prints the median wall and CPU (process) time per call of each, and the ratios.
"""

import argparse
import contextlib
import os
import statistics
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    import numba

    import phasecli.meanfield as mf

    @contextlib.contextmanager
    def every_thread(items):
        yield

    calls = {
        "length_map tanh q=1": lambda: mf.length_map("tanh", 1.0),
        "correlation_expectations tanh q=1 c=0.3": lambda: mf.correlation_expectations("tanh", 1.0, 0.3),
        "solve_phase tanh one cell (chaotic)": lambda: mf.solve_phase("tanh", [3.0], [0.05]),
        "solve_critical tanh sb2=0.05": lambda: mf.solve_critical("tanh", [0.05]),
    }
    one_thread = mf.threads_for
    for call in calls.values():  # kernels loaded from the cache once
        call()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; numba threads "
          f"{numba.get_num_threads()}, layer {numba.threading_layer()}")
    print("| call | one thread: wall ms | CPU ms | thread pool: wall ms | CPU ms | ratio wall | ratio CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, call in calls.items():
        times = {"one": ([], []), "pool": ([], [])}
        for _ in range(args.repeat):
            for mode, ctx in (("one", one_thread), ("pool", every_thread)):
                mf.threads_for = ctx
                w, c = time.perf_counter(), time.process_time()
                call()
                times[mode][0].append(time.perf_counter() - w)
                times[mode][1].append(time.process_time() - c)
        mf.threads_for = one_thread
        med = {m: (statistics.median(v[0]) * 1e3, statistics.median(v[1]) * 1e3) for m, v in times.items()}
        print(f"| {name} | {med['one'][0]:.3f} | {med['one'][1]:.3f} | {med['pool'][0]:.3f} | {med['pool'][1]:.3f} "
              f"| {med['pool'][0] / med['one'][0]:.1f}x | {med['pool'][1] / max(med['one'][1], 1e-6):.1f}x |")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
