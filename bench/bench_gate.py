"""`phasecli check` against the gate a CI script writes without it (the issue's baseline): speed and verdicts.

    python bench/bench_gate.py            # ~1 minute; writes bench/RESULTS_gate.md
    python bench/bench_gate.py --runs 3

Baseline: `phasecli depth-scale ... --columns max_trainable_depth` and an awk comparison of the depth
with it (the "obvious" gate of issue 12; the critical case first takes sw2 from `phasecli critical
--value`, one more process).  phasecli: one `phasecli check ... --value` whose exit status is the
verdict.  Both as subprocesses, warm numba cache, best of --runs wall times; ratio = baseline / check.
The table also lists each gate's verdict on the issue's configurations (the baseline's awk compares
against 'nan' where the limit is undefined).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = [  # (activation, sw2, sb2, depth, expected verdict from the issue)
    ("tanh", "critical", "0.05", 200, "pass"),
    ("tanh", "1.5", "0.05", 10, "pass"),
    ("tanh", "0.8", "0.05", 200, "fail"),
    ("tanh", "4", "0.05", 200, "fail"),
    ("relu", "2", "0", 100, "pass"),
    ("relu", "2.5", "0", 50, "fail"),
]


def _phasecli():
    return [sys.executable, "-m", "phasecli"]


def baseline_script(act, sw2, sb2, depth):
    p = " ".join(_phasecli())
    sw2_expr = f'$({p} critical -a {act} --sb2 {sb2} --value)' if sw2 == "critical" else sw2
    return (f'SW2={sw2_expr}; {p} depth-scale -a {act} --sw2 "$SW2" --sb2 {sb2} -f csv --columns max_trainable_depth '
            f'| tail -1 | awk -v L={depth} \'{{ exit !(L <= $1) }}\'')


def timed(command, shell=False, runs=5):
    best, status = float("inf"), None
    env = dict(os.environ, PYTHONPATH=ROOT)
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(command, shell=shell, capture_output=True, text=True, env=env,
                           executable=shutil.which("bash") if shell else None)
        best = min(best, time.perf_counter() - t0)
        status = r.returncode
    return best, "pass" if status == 0 else "fail"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS_gate.md"))
    args = parser.parse_args()
    load = os.getloadavg()[0]
    subprocess.run(_phasecli() + ["check", "--sw2", "1", "--depth", "1"], capture_output=True)  # warm the cache
    lines = ["| configuration | depth | issue | check verdict | awk-gate verdict | check s | awk-gate s | ratio |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    ratios = []
    for act, sw2, sb2, depth, expected in CASES:
        t_check, v_check = timed(_phasecli() + ["check", "-a", act, "--sw2", sw2, "--sb2", sb2, "--depth", str(depth),
                                                "--value"], runs=args.runs)
        t_base, v_base = timed(baseline_script(act, sw2, sb2, depth), shell=True, runs=args.runs)
        ratios.append(t_base / t_check)
        flag = "" if v_base == expected else " (wrong)"
        lines.append(f"| {act} sw2={sw2} sb2={sb2} | {depth} | {expected} | {v_check} | {v_base}{flag} | "
                     f"{t_check:.2f} | {t_base:.2f} | {t_base / t_check:.2f} |")
        print(lines[-1], file=sys.stderr)
    text = "\n\n".join([
        "# `phasecli check` vs the awk gate of issue 12",
        f"`python bench/bench_gate.py --runs {args.runs}`; load average {load:.2f} at the start, "
        f"{os.cpu_count()} cores.  Best wall time of {args.runs} runs per command, warm numba cache, each a fresh "
        "process (what a CI step pays).  ratio = awk-gate time / check time "
        f"(median {sorted(ratios)[len(ratios) // 2]:.2f}).",
        "\n".join(lines),
        "The awk gate compares the depth with `max_trainable_depth`; where that is `nan` (q* infinite: relu "
        "sw2 = 2.5) awk compares strings and `50 <= \"nan\"` is true, so it passes an initialization whose "
        "signal explodes.  `check` fails it on its first criterion (signal) and never passes a NaN limit.",
    ])
    with open(args.out, "w") as fh:
        fh.write(text + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
