"""Second run of an activation expression vs the registered activation: wall time of the same command.

    python bench/bench_expression.py [--repeats 5] [--out bench/RESULTS_expression.md]

For each command below, ``phasecli COMMAND -a tanh ...`` (registered) and ``phasecli COMMAND -a
'x*tanh(softplus(x))' ...`` (Mish as an expression) run as real processes, as a user runs them.  One
untimed run of each first (it compiles on a cold cache: the expression's kernels are cached under its
hash), then ``repeats`` timed runs, interleaved (registered, expression, registered, ...) so both see the
same machine load; the ratio is median(expression) / median(registered).  The expression's extra work
on a warm cache is parsing, the analysis of its facts and loading its own cached kernels.  Load average
before / after is recorded: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

EXPRESSION = "x*tanh(softplus(x))"
REGISTERED = "tanh"
COMMANDS = (
    ["critical", "--sb2", "0.05", "--value", "sw2_critical"],
    ["phase", "--sw2", "0.5:3:6", "--sb2", "0,0.05", "-f", "csv"],
    ["kappa", "--sw2", "1.5", "--sb2", "0.05", "--depth", "1:100", "--examples", "6", "-f", "csv"],
    ["jacobian", "--sb2", "0.05", "--depth", "8,32", "-f", "csv"],
)


def _phasecli():
    here = os.path.dirname(sys.executable)
    return os.path.join(here, "phasecli") if os.path.exists(os.path.join(here, "phasecli")) else \
        shutil.which("phasecli")


def _run(argv) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed: {r.stderr.strip()}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    exe = _phasecli()
    load_before = os.getloadavg()
    rows = []
    for command in COMMANDS:
        argv = {a: [exe, command[0], "-a", a, *command[1:]] for a in (REGISTERED, EXPRESSION)}
        for a in argv:  # warm: compile (first run of the expression) or load
            _run(argv[a])
        times = {a: [] for a in argv}
        for _ in range(args.repeats):
            for a in argv:
                times[a].append(_run(argv[a]))
        reg, expr = statistics.median(times[REGISTERED]), statistics.median(times[EXPRESSION])
        rows.append((" ".join(command), reg, expr, expr / reg))
        print(f"{rows[-1][0]:70s} {reg:7.2f} s {expr:7.2f} s  x{expr / reg:.2f}", flush=True)
    load_after = os.getloadavg()
    lines = [
        "# Second run of an activation expression vs the registered activation",
        "",
        f"`python bench/bench_expression.py --repeats {args.repeats}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        f"Each command run as a process with `-a {REGISTERED}` and with `-a '{EXPRESSION}'` (Mish), warm cache",
        f"(one untimed run of each first), then {args.repeats} timed runs interleaved; medians of wall time.",
        "",
        f"Load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
        f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} "
        "(2 cores shared with other engineers' builds and tests: the machine is loaded).",
        "",
        f"| command (after `-a ...`) | {REGISTERED} | expression | ratio |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{c}` | {r:.2f} s | {e:.2f} s | {x:.2f} |" for c, r, e, x in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
