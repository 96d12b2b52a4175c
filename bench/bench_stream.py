"""Streaming output of a large `phase` grid: time to the first row, peak memory, share of writing.

    python bench/bench_stream.py                 # 2000 x 2000 CSV run + writing shares on 1000 x 1000 (~15 min)
    python bench/bench_stream.py --quick         # 1000 x 1000 and 400 x 400 (~4 min)
    python bench/bench_stream.py --n 2000 --share-n 1000 --formats csv,jsonl --out bench/RESULTS_stream.md

What is measured (every phasecli run is a child process `python -m phasecli phase ...` whose
stdout is a pipe that this script drains, as `| consumer` would):

1. `phase --sw2 0.5:4:N --sb2 0:1:N -f csv` piped: the time at which the first data row is
   complete on the pipe, the time of the full run (end of output), their ratio (target:
   within 5%), and the child's peak resident memory (`wait4` rusage; target < 600 MB).
2. `| head -1`: the reader closes the pipe after the first row; the time until phasecli exits
   and its exit status (0, nothing on stderr).
3. The share of writing, per format (csv, tsv, jsonl, json, table) on a SHARE_N x SHARE_N grid:
   inside the child, the time spent in `Sink.write`/`close` (formatting plus writing into the
   pipe) over the whole run.  Baseline in the same run: the same child with `Sink.write` replaced
   by a straightforward row-by-row writer (`bench/baseline_writers.py`: the csv module, one
   `json.dumps` per row, per-cell f-strings for tables), whose output is checked to be the same.

The machine's load and the CPU share used by other processes are recorded: on a shared
2-core machine they inflate every timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable
FORMATS = ("csv", "tsv", "jsonl", "json", "table")
# newlines on the pipe once the first data row is complete (header / '[' line first)
FIRST_ROW_NEWLINES = {"csv": 2, "tsv": 2, "jsonl": 1, "json": 2, "table": 2}

CHILD = r"""
import sys, time
sys.path.insert(0, {bench!r})
from phasecli.cli import output
from phasecli.cli import main

spent = [0.0]
depth = [0]

def timed(fn):
    def wrapper(self, *args):
        depth[0] += 1
        t = time.perf_counter()
        try:
            return fn(self, *args)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                spent[0] += time.perf_counter() - t
    return wrapper

if {baseline!r}:
    import baseline_writers
    output.Sink.write = baseline_writers.write
output.Sink.write = timed(output.Sink.write)
output.Sink.close = timed(output.Sink.close)
t0 = time.perf_counter()
status = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code or 0
sys.stdout.flush()
sys.stderr.write(f"BENCH write={{spent[0]:.6f}} total={{time.perf_counter() - t0:.6f}}\n")
sys.exit(status)
"""


def child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def grid_args(n, fmt):
    return ["phase", "--sw2", f"0.5:4:{n}", "--sb2", f"0:1:{n}", "-f", fmt]


def cpu_snapshot():
    """(busy jiffies of the machine, total jiffies) from /proc/stat, or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = v
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def other_share(before, after, own_seconds):
    """Share of the machine's CPU used by processes other than the measured child."""
    if before is None or after is None or after[1] == before[1]:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return max(0.0, ((after[0] - before[0]) - own_seconds * tick) / (after[1] - before[1]))


def run_piped(cmd, fmt, stop_after_first=False):
    """Run ``cmd`` with stdout on a pipe drained here; returns a dict of timings and the child's usage."""
    snap = cpu_snapshot()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), cwd=REPO)
    fd = proc.stdout.fileno()
    need = FIRST_ROW_NEWLINES[fmt]
    newlines = 0
    first = None
    nbytes = 0
    while True:
        block = os.read(fd, 1 << 20)
        if not block:
            break
        nbytes += len(block)
        if first is None:
            newlines += block.count(b"\n")
            if newlines >= need:
                first = time.perf_counter() - t0
                if stop_after_first:
                    proc.stdout.close()
                    break
    t_output = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    t_exit = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return {"first": first, "output": t_output, "exit": t_exit, "bytes": nbytes, "rss_mb": usage.ru_maxrss / 1024,
            "status": proc.returncode, "stderr": err, "cpu": cpu,
            "other": other_share(snap, cpu_snapshot(), cpu), **_bench_line(err)}


def _bench_line(err):
    for line in err.splitlines():
        if line.startswith("BENCH "):
            return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    return {}


def timed_child(n, fmt, baseline):
    code = CHILD.format(bench=str(HERE), baseline=baseline)
    return run_piped([PY, "-c", code, *grid_args(n, fmt)], fmt)


def same_output(n, fmt):
    """True when the baseline writer prints the same bytes as phasecli (a small grid)."""
    outs = []
    for baseline in (False, True):
        code = CHILD.format(bench=str(HERE), baseline=baseline)
        r = subprocess.run([PY, "-c", code, *grid_args(n, fmt)], capture_output=True, env=child_env(), cwd=REPO)
        outs.append(r.stdout)
    return outs[0] == outs[1] and bool(outs[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="grid side of the CSV run (N x N cells)")
    ap.add_argument("--share-n", type=int, default=1000, help="grid side of the per-format writing shares")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--quick", action="store_true", help="--n 1000 --share-n 400")
    ap.add_argument("--out", default=str(HERE / "RESULTS_stream.md"))
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.share_n = 1000, 400
    formats = [f for f in args.formats.split(",") if f]
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    load0 = os.getloadavg()
    subprocess.run([PY, "-m", "phasecli", "phase", "--sw2", "1", "--sb2", "0.1", "-f", "csv"], env=child_env(),
                   cwd=REPO, capture_output=True, check=True)  # warm the numba cache

    say("# Streaming output of large `phase` grids")
    say()
    say(f"Written by `python bench/bench_stream.py{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; Python {platform.python_version()}. 1-min load average at the start: "
        f"{load0[0]:.2f}.")
    say()
    say(f"## 1. `phasecli phase --sw2 0.5:4:{args.n} --sb2 0:1:{args.n} -f csv | consumer` "
        f"({args.n * args.n:,} rows)")
    say()
    full = run_piped([PY, "-m", "phasecli", *grid_args(args.n, "csv")], "csv")
    say("| measure | value | target |")
    say("| --- | --- | --- |")
    say(f"| first data row on the pipe | {full['first']:.2f} s | |")
    say(f"| full run (end of output) | {full['output']:.2f} s | |")
    say(f"| **first row / full run** | **{100 * full['first'] / full['output']:.2f}%** | <= 5% |")
    say(f"| **peak resident memory of phasecli** | **{full['rss_mb']:.0f} MB** | < 600 MB |")
    say(f"| output | {full['bytes'] / 1e6:.0f} MB, {full['bytes'] / full['output'] / 1e6:.1f} MB/s | |")
    say(f"| exit status, stderr | {full['status']}, {full['stderr'].strip() or 'empty'} | 0, empty |")
    say(f"| CPU used by other processes during the run | {_pct(full['other'])} | |")
    say()
    head = run_piped([PY, "-m", "phasecli", *grid_args(args.n, "csv")], "csv", stop_after_first=True)
    say(f"`| head -1` (the reader closes the pipe after the first row): phasecli exited "
        f"{head['exit']:.2f} s after its start, {head['exit'] - head['first']:.2f} s after the first row, with "
        f"status {head['status']} and {'nothing' if not head['stderr'].strip() else repr(head['stderr'])} on "
        f"stderr; peak memory {head['rss_mb']:.0f} MB.")
    say()
    say(f"## 2. Share of writing, {args.share_n} x {args.share_n} grid ({args.share_n ** 2:,} rows) into a pipe")
    say()
    say("Inside each run: time spent in `Sink.write` + `Sink.close` (formatting and writing) / the run's "
        "time from `main()` to its end. Baseline: the same run with a row-by-row writer "
        "(`bench/baseline_writers.py`).")
    say()
    say("| format | output | run | writing | **share** | baseline run | baseline writing | baseline share | "
        "writing speed-up | same bytes | other CPU |")
    say("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for fmt in formats:
        ours = timed_child(args.share_n, fmt, False)
        base = timed_child(args.share_n, fmt, True)
        same = same_output(300, fmt)  # first block > 500 rows: both write plain tables
        say(f"| {fmt} | {ours['bytes'] / 1e6:.0f} MB | {ours['total']:.1f} s | {ours['write']:.1f} s | "
            f"**{100 * ours['write'] / ours['total']:.0f}%** | {base['total']:.1f} s | {base['write']:.1f} s | "
            f"{100 * base['write'] / base['total']:.0f}% | {base['write'] / ours['write']:.2f}x | "
            f"{'yes' if same else 'NO'} | {_pct(ours['other'])} / {_pct(base['other'])} |")
    say()
    say(f"1-min load average at the end: {os.getloadavg()[0]:.2f}.")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.0f}%"


if __name__ == "__main__":
    main()
