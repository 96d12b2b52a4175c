"""The first minute of a user, measured in one run: first (cold-cache) run vs warm runs (not a timed test).

    python bench/bench_first_minute.py [--repeat N] [--out bench/RESULTS_first_minute.md] [--kill-after S]

Measures, in one run, each command as a user types it (a new ``phasecli`` process each time,
stdout to a file, the current working directory a temp dir):

a. the README's main job ``phasecli phase --png phase.png`` with an EMPTY numba cache (a fresh
   ``NUMBA_CACHE_DIR``): the first run a new user waits for;
b. the same command again, warm (same cache), median of N: the ratio first / warm;
c. warm ``phasecli phase -f csv`` (no figure) and warm ``phasecli critical -a tanh --sb2 0.05 --value``,
   median of N, and the interpreter's own start-up (``python -c pass``), median of N, as a floor;
d. (``--kill-after S``) a first run killed after S seconds, then the time of the next run on the
   same cache: whether what the killed run compiled was kept;
e. ``phasecli warmup`` on an empty cache, then the main job: what a CI image pays once.

Wall time and CPU time (user + sys of the child) are both reported, with the load average
before and after: on a shared machine the CPU times and the ratios are the meaningful numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PY = sys.executable
MAIN_JOB = ["phase", "--png", "phase.png"]
CRITICAL = ["critical", "-a", "tanh", "--sb2", "0.05", "--value"]
CSV_JOB = ["phase", "-f", "csv"]


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def run(args, cache, cwd, timeout=900, kill_after=None):
    """(wall s, cpu s, return code) of ``python -m phasecli ARGS`` with NUMBA_CACHE_DIR=cache."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(Path(cwd) / "stdout.txt", "wb") as out:
        proc = subprocess.Popen([PY, "-m", "phasecli", *args], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.PIPE)
        try:
            _, err = proc.communicate(timeout=kill_after or timeout)
        except subprocess.TimeoutExpired:
            if kill_after is None:
                raise
            proc.send_signal(signal.SIGKILL)  # a CI timeout: no chance to clean up
            _, err = proc.communicate()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0 and kill_after is None:
        raise SystemExit(f"phasecli {' '.join(args)} failed ({proc.returncode}): {err.decode()[-500:]}")
    return wall, cpu, proc.returncode, err.decode()


def median_of(n, args, cache, cwd):
    runs = [run(args, cache, cwd) for _ in range(n)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def floor(n, cwd):
    walls, cpus = [], []
    for _ in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([PY, "-c", "pass"], cwd=cwd, check=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def cached_entries(cache) -> int:
    return sum(1 for _ in Path(cache).rglob("*.nbi"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="warm runs per command (median)")
    ap.add_argument("--kill-after", type=float, default=0.0,
                    help="also kill a cold first run after this many seconds and time the next run (0: skip)")
    ap.add_argument("--no-warmup", action="store_true", help="skip (e), the cold `phasecli warmup`")
    ap.add_argument("--out", default=str(BENCH / "RESULTS_first_minute.md"))
    opts = ap.parse_args(argv)

    rows = []
    load0 = load()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    work = Path(tempfile.mkdtemp(prefix="phasecli-first-minute-"))
    try:
        cold = work / "cache-cold"
        wall, cpu, _, err = run(MAIN_JOB, cold, work)
        notice = [line for line in err.splitlines() if "compiling" in line]
        rows.append(("a. first run, empty cache: `phasecli phase --png phase.png`", wall, cpu))
        print(f"first run {wall:.1f} s (cpu {cpu:.1f} s), load {load()}", flush=True)
        w_wall, w_cpu = median_of(opts.repeat, MAIN_JOB, cold, work)
        rows.append(("b. warm: `phasecli phase --png phase.png`", w_wall, w_cpu))
        print(f"warm {w_wall:.2f} s (cpu {w_cpu:.2f} s), load {load()}", flush=True)
        c_wall, c_cpu = median_of(opts.repeat, CSV_JOB, cold, work)
        rows.append(("c. warm: `phasecli phase -f csv` (no figure)", c_wall, c_cpu))
        k_wall, k_cpu = median_of(max(opts.repeat, 5), CRITICAL, cold, work)
        rows.append(("c. warm: `phasecli critical -a tanh --sb2 0.05 --value`", k_wall, k_cpu))
        f_wall, f_cpu = floor(max(opts.repeat, 5), work)
        rows.append(("c. floor: `python -c pass`", f_wall, f_cpu))
        print(f"warm csv {c_wall:.2f} s, critical {k_wall:.2f} s, python {f_wall:.3f} s, load {load()}", flush=True)

        killed = None
        if opts.kill_after > 0:
            cache = work / "cache-killed"
            k_run = run(MAIN_JOB, cache, work, kill_after=opts.kill_after)
            kept = cached_entries(cache)
            after_kill = run(MAIN_JOB, cache, work)
            total = cached_entries(cache)
            killed = (opts.kill_after, k_run[2], kept, total, after_kill[0], after_kill[1])
            print(f"killed after {opts.kill_after} s: {kept} of {total} index files kept; next run "
                  f"{after_kill[0]:.1f} s", flush=True)

        warm_ci = None
        if not opts.no_warmup:
            cache = work / "cache-warmup"
            up = run(["warmup"], cache, work)
            job = run(MAIN_JOB, cache, work)
            warm_ci = (up[0], up[1], job[0], job[1], cached_entries(cache))
            print(f"warmup {up[0]:.1f} s, then the main job {job[0]:.2f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load1 = load()

    ratio_wall = rows[0][1] / rows[1][1]
    ratio_cpu = rows[0][2] / rows[1][2]
    lines = [
        "# The first minute: first run vs warm runs",
        "",
        f"`python bench/bench_first_minute.py --repeat {opts.repeat}"
        + (f" --kill-after {opts.kill_after:g}" if opts.kill_after else "") + "`, "
        f"{started}; {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average (1, 5, 15 min) {load0} before, {load1} after.",
        "Each command is a new `python -m phasecli` process, stdout to a file; warm = median of the repeats. "
        "CPU = user + sys of the process: on a shared machine the CPU times and the ratios measured in this "
        "one run are the numbers to read, the wall times include waiting for the cores.",
        "",
        "| run | wall s | CPU s |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {wall:.2f} | {cpu:.2f} |" for name, wall, cpu in rows]
    lines += [
        "",
        f"**First run / warm run of the main job: {ratio_wall:.1f}x wall, {ratio_cpu:.1f}x CPU** (the issue asks "
        "at most 5x).",
        "",
        f"First-run notice on stderr (stderr is a pipe here): `{notice[0] if notice else '(none)'}`",
    ]
    if killed:
        after, code, kept, total, wall, cpu = killed
        lines += ["", f"d. A first run killed (SIGKILL) after {after:g} s (exit {code}) left {kept} cached kernel "
                      f"index files of the {total} a full run leaves; the next run took {wall:.1f} s wall, "
                      f"{cpu:.1f} s CPU (compare with a.)."]
    if warm_ci:
        up_wall, up_cpu, job_wall, job_cpu, n = warm_ci
        lines += ["", f"e. `phasecli warmup` on an empty cache: {up_wall:.1f} s wall, {up_cpu:.1f} s CPU, {n} "
                      f"kernel index files; then the main job: {job_wall:.2f} s wall, {job_cpu:.2f} s CPU."]
    Path(opts.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
