"""Issue 13's "Must show" for Dask sweeps, end to end with the dask command line.

Starts `dask scheduler --host 127.0.0.1 --port P` and `dask worker tcp://127.0.0.1:P
--nworkers 2 --nthreads 1` (subprocesses of this script, stopped at the end), runs

    phasecli generalize --train digits --test digits -a erf --sw2 1,2,3,4 --sb2 0.1 --depth 1,10,30
    phasecli phase --sw2 0.5:4:60 --sb2 0:1:60

once without and once with `--scheduler tcp://127.0.0.1:P` (stdout into files, as a user
pipes it), compares the files with `cmp`, and asks the cluster what it ran: every worker's
own transition log (tasks it moved from "executing" to "memory", by task name) and the
scheduler's per-name task counts.  Prints a markdown section (for bench/RESULTS_distributed.md).

    python bench/must_show_distributed.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "generalize": ["generalize", "--train", "digits", "--test", "digits", "-a", "erf", "--sw2", "1,2,3,4", "--sb2",
                   "0.1", "--depth", "1,10,30"],
    "phase": ["phase", "--sw2", "0.5:4:60", "--sb2", "0:1:60"],
}
TASK_NAMES = {"generalize": "phasecli_ntk_generalization", "phase": "phasecli_solve_phase"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load() -> float:
    return os.getloadavg()[0]


def executed_by_worker(dask_worker):
    """Tasks this worker computed (executing -> memory in its own transition log), by task name."""
    out = collections.Counter()
    for entry in dask_worker.state.log:
        if (len(entry) >= 3 and isinstance(entry[0], str) and entry[0].startswith("phasecli_")
                and entry[1] == "executing" and entry[2] == "memory"):
            out[entry[0].rsplit("-", 2)[0]] += 1
    return dict(out)


def scheduler_counts(dask_scheduler):
    return {name: dict(prefix.state_counts) for name, prefix in dask_scheduler.task_prefixes.items()
            if name.startswith("phasecli_")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default=None, help="where the outputs and logs go (default: a temporary directory)")
    args = ap.parse_args(argv)
    work = args.workdir or tempfile.mkdtemp(prefix="phasecli-must-show-")
    os.makedirs(work, exist_ok=True)
    bindir = os.path.dirname(sys.executable)
    dask = os.path.join(bindir, "dask")
    phasecli = os.path.join(bindir, "phasecli")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = []
    lines = []
    try:
        sched_log = open(os.path.join(work, "scheduler.log"), "w")
        procs.append(subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                       "--dashboard-address", "127.0.0.1:0"], stdout=sched_log, stderr=sched_log))
        time.sleep(3)
        worker_log = open(os.path.join(work, "workers.log"), "w")
        procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--dashboard-address", "127.0.0.1:0"], stdout=worker_log, stderr=worker_log))
        import distributed

        client = distributed.Client(address, timeout=30, set_as_default=False)
        client.wait_for_workers(2, timeout=90)
        workers = sorted(client.scheduler_info()["workers"])
        lines += [f"Written by `python bench/must_show_distributed.py` on {time.strftime('%Y-%m-%d %H:%M')}. "
                  f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs); "
                  f"dask {distributed.__version__}.", "",
                  "Cluster, started from the dask command line:", "", "```",
                  f"dask scheduler --host 127.0.0.1 --port {port}",
                  f"dask worker {address} --nworkers 2 --nthreads 1", "```", "",
                  f"Workers: {', '.join(workers)}.", "",
                  "| command | local run | with --scheduler | `cmp` of the two stdouts | stdout lines | stderr "
                  "| tasks computed, per worker (the worker's own log) | scheduler's task count |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, cmd in COMMANDS.items():
            before = client.run(executed_by_worker)
            timings = {}
            for where, extra in (("local", []), ("remote", ["--scheduler", address])):
                l0 = load()
                t0 = time.perf_counter()
                with open(os.path.join(work, f"{name}_{where}.out"), "w") as out, \
                        open(os.path.join(work, f"{name}_{where}.err"), "w") as err:
                    rc = subprocess.run([phasecli, *cmd, *extra], stdout=out, stderr=err).returncode
                timings[where] = (time.perf_counter() - t0, l0, rc)
            a, b = (os.path.join(work, f"{name}_{w}.out") for w in ("local", "remote"))
            cmp = subprocess.run(["cmp", a, b], capture_output=True, text=True)
            same = "identical (exit 0)" if cmp.returncode == 0 else f"DIFFER: {cmp.stdout.strip()}"
            errs = {w: open(os.path.join(work, f"{name}_{w}.err")).read() for w in ("local", "remote")}
            stderr = "empty, both" if not any(errs.values()) else (
                "the same, both" if errs["local"] == errs["remote"] else "DIFFERENT")
            after = client.run(executed_by_worker)
            task = TASK_NAMES[name]
            per_worker = {w: after.get(w, {}).get(task, 0) - before.get(w, {}).get(task, 0) for w in workers}
            counts = client.run_on_scheduler(scheduler_counts).get(task, {})
            n_lines = sum(1 for _ in open(a))
            fmt = "{:.1f} s (load {:.1f}), exit {}".format
            lines.append(f"| `phasecli {' '.join(cmd)}` | {fmt(*timings['local'])} | {fmt(*timings['remote'])} "
                         f"| {same} | {n_lines} | {stderr} | "
                         + ", ".join(f"{w.rsplit(':', 1)[1]}: {n}" for w, n in per_worker.items())
                         + f" (total {sum(per_worker.values())}) | {counts.get('memory', 0)} reached memory |")
        lines += ["", f"Outputs and logs: {work} (timings: wall clock of the whole command, 1-min load average "
                  "at its start)."]
        client.close()
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
