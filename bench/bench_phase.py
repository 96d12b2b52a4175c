"""Speed benchmark of phasecli, measured as ratios in one run (not a timed test).

    python bench/bench_phase.py [--quick] [--out bench/RESULTS.md]

Measures, in one process run (see bench/README.md):

a. ``phasecli.meanfield.solve_phase('tanh', sw2, sb2)`` on a 200 x 200 grid
   (sw2 = linspace(0.5, 4, 200), sb2 = linspace(0, 1, 200)), all columns: one
   warm-up call (numba compile or cache load), then best of 3; time per grid point;
b. the plain numpy baseline (bench/baseline_numpy.py) on the same grid, or on an
   evenly strided sub-grid when the full grid would take over ~2 minutes; the ratio
   baseline / phasecli per grid point; the max relative difference on q*, chi_1
   where the baseline converged (a sanity check, not a test);
c. start-up: ``python -c pass`` against ``python -m phasecli --help`` and the
   ``phasecli --help`` console script, median of N runs; which of numba, scipy,
   matplotlib ``--help`` imports;
d. a warm ``phasecli critical --activation tanh --sb2 0.05 --format csv``, median of 5.

Anything that is missing (engine, CLI, console script) is reported as n/a.
The environment is passed to the child processes unchanged (OPENBLAS_CORETYPE,
PYTHONDONTWRITEBYTECODE, NUMBA_* are recorded, never set), except that the repo
root is put first on PYTHONPATH so that ``python -m phasecli`` finds the package
without an install.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from baseline_numpy import solve_grid  # noqa: E402

PY = sys.executable  # the real interpreter, not a pyenv shim
HEAVY = ("numba", "scipy", "matplotlib")
NA = "n/a"

# names under which the engine may return each quantity (first match wins)
ALIASES = {
    "q_star": ("q_star", "qstar", "q"),
    "chi_1": ("chi_1", "chi1"),
    "c_star": ("c_star", "cstar", "c"),
    "chi_c": ("chi_c", "chic"),
}


def child_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def fmt_s(x, unit="s"):
    if x is None:
        return NA
    if unit == "ms":
        return f"{x * 1e3:.1f} ms"
    if unit == "us":
        return f"{x * 1e6:.2f} us"
    return f"{x:.3f} s"


def console_scripts():
    """[(label, path)] of the phasecli console scripts: the one on PATH, the one pip wrote
    beside the interpreter, and a pyenv shim (a bash script that execs the real one), deduplicated."""
    found = []
    cands = [("console script on PATH", shutil.which("phasecli")),
             ("console script beside the interpreter", str(Path(PY).parent / "phasecli"))]
    if os.environ.get("PYENV_ROOT"):
        cands.append(("pyenv shim", str(Path(os.environ["PYENV_ROOT"]) / "shims" / "phasecli")))
    seen = set()
    for label, path in cands:
        if path and Path(path).exists() and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            found.append((label, path))
    return found


def load():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _cpu_snapshot():
    """(busy jiffies of the whole machine, total jiffies, this process's + waited children's jiffies)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = v
    busy = user + nice + system + irq + softirq + steal
    t = os.times()
    own = (t.user + t.system + t.children_user + t.children_system) * os.sysconf("SC_CLK_TCK")
    return busy, busy + idle + iowait, own


class Contention:
    """Share of the machine's CPU capacity used by *other* processes during a section
    (from /proc/stat minus this process's own CPU time): the load average cannot tell the
    bench's own work from a competitor's."""

    def __init__(self):
        self.sections = {}

    def start(self):
        return _cpu_snapshot()

    def stop(self, name, snap, report):
        end = _cpu_snapshot()
        if snap is None or end is None or end[1] == snap[1]:
            self.sections[name] = None
            return
        other = max(0.0, ((end[0] - snap[0]) - (end[2] - snap[2])) / (end[1] - snap[1]))
        self.sections[name] = other
        if other > 0.10:
            report(f"warning: other processes used {other:.0%} of the CPU during {name}: timings are inflated")


def run_timed(cmd, env, timeout=300):
    """Wall time of one subprocess run, and the completed process."""
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=str(REPO))
    return time.perf_counter() - t, p


# ---------------------------------------------------------------------------
# a. phasecli engine
# ---------------------------------------------------------------------------

def get_field(res, key):
    """Quantity ``key`` from whatever solve_phase returns (dict, dataclass, record array)."""
    for name in ALIASES.get(key, (key,)):
        try:
            if isinstance(res, dict):
                if name in res:
                    return np.asarray(res[name], dtype=float)
            elif hasattr(res, "dtype") and res.dtype.names and name in res.dtype.names:
                return np.asarray(res[name], dtype=float)
            elif hasattr(res, name):
                return np.asarray(getattr(res, name), dtype=float)
        except Exception:
            pass
    return None


def engine_retime(info, sw2, sb2, repeats, report):
    """Time the engine again (e.g. after the baseline, to dodge a busy spell); keep the best."""
    if info.get("status") != "ok":
        return
    from phasecli.meanfield import solve_phase

    for _ in range(repeats):
        t = time.perf_counter()
        solve_phase("tanh", sw2, sb2)
        info["times"].append(time.perf_counter() - t)
    info["best_s"] = min(info["times"])
    info["per_point_s"] = info["best_s"] / info["npts"]
    report(f"engine again: " + ", ".join(f"{x:.4f}" for x in info["times"][-repeats:])
           + f" s; best of all {len(info['times'])}: {info['per_point_s'] * 1e6:.2f} us/point")
    try:  # information: one thread (the baseline's numpy loops are single-threaded)
        import numba

        n = numba.get_num_threads()
        info["threads"] = n
        if n > 1:
            numba.set_num_threads(1)
            try:
                t = time.perf_counter()
                solve_phase("tanh", sw2, sb2)
                info["one_thread_s"] = time.perf_counter() - t
            finally:
                numba.set_num_threads(n)
            report(f"engine with 1 numba thread (instead of {n}): {info['one_thread_s']:.4f} s "
                   f"({info['one_thread_s'] / info['npts'] * 1e6:.2f} us/point)")
    except Exception as e:  # pragma: no cover - information only
        report(f"1-thread timing n/a: {e}")


def bench_engine(sw2, sb2, repeats, report):
    info = {"status": NA}
    try:
        t = time.perf_counter()
        from phasecli.meanfield import solve_phase  # noqa: F401
        info["import_s"] = time.perf_counter() - t
    except Exception as e:
        info["reason"] = f"cannot import phasecli.meanfield.solve_phase: {type(e).__name__}: {e}"
        report(info["reason"])
        return info
    try:
        t = time.perf_counter()
        res = solve_phase("tanh", sw2, sb2)
        info["first_call_s"] = time.perf_counter() - t
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            res = solve_phase("tanh", sw2, sb2)
            times.append(time.perf_counter() - t)
    except Exception as e:
        info["reason"] = f"solve_phase('tanh', sw2, sb2) failed: {type(e).__name__}: {e}"
        report(info["reason"])
        traceback.print_exc()
        return info
    info.update(status="ok", times=times, best_s=min(times), result=res,
                npts=sw2.size * sb2.size, per_point_s=min(times) / (sw2.size * sb2.size))
    q = get_field(res, "q_star")
    info["shape"] = None if q is None else q.shape
    info["fields"] = (sorted(res.keys()) if isinstance(res, dict)
                      else list(res.array_names()) if callable(getattr(res, "array_names", None))
                      else list(res.dtype.names) if getattr(res, "dtype", None) is not None and res.dtype.names
                      else [a for a in dir(res) if not a.startswith("_")])
    report(f"engine: first call {info['first_call_s']:.3f} s, best of {repeats} {info['best_s']:.4f} s "
           f"({info['per_point_s'] * 1e6:.2f} us/point), result shape {info['shape']}")
    return info


def engine_grid(field, n_sw2, n_sb2):
    """Orient an engine output as (sw2, sb2); None if the shape does not fit."""
    if field is None:
        return None
    f = np.asarray(field, dtype=float)
    if f.shape == (n_sw2, n_sb2):
        return f
    if f.size == n_sw2 * n_sb2 and f.ndim == 1:
        return f.reshape(n_sw2, n_sb2)
    return None


# ---------------------------------------------------------------------------
# b. baseline
# ---------------------------------------------------------------------------

def bench_baseline(sw2, sb2, probe_stride, budget_s, report, force_stride=None):
    info = {}
    strides = [force_stride] if force_stride else [probe_stride]
    t = time.perf_counter()
    res = solve_grid(sw2[::strides[0]], sb2[::strides[0]])
    dt = time.perf_counter() - t
    n = res["q_star"].size
    runs = [(strides[0], n, dt, res)]
    report(f"baseline: stride {strides[0]}: {n} points in {dt:.2f} s ({dt / n * 1e3:.3f} ms/point)")
    if not force_stride:
        full_est = dt / n * sw2.size * sb2.size
        info["full_estimate_s"] = full_est
        # the finest stride whose predicted time fits the budget
        for s in (1, 2, 3, 4):
            if s >= probe_stride:
                break
            pred = dt / n * len(sw2[::s]) * len(sb2[::s])
            if pred <= budget_s:
                t = time.perf_counter()
                res = solve_grid(sw2[::s], sb2[::s])
                dt2 = time.perf_counter() - t
                n2 = res["q_star"].size
                runs.append((s, n2, dt2, res))
                report(f"baseline: stride {s}: {n2} points in {dt2:.2f} s ({dt2 / n2 * 1e3:.3f} ms/point)")
                break
    s, n, dt, res = runs[-1]
    info.update(stride=s, npts=n, time_s=dt, per_point_s=dt / n, result=res, runs=[r[:3] for r in runs])
    return info


def bench_baseline_accurate(sw2, sb2, stride, report):
    """The baseline with more nodes (300 in 1-D, 150 x 150 in 2-D): accuracy nearer the engine's."""
    t = time.perf_counter()
    res = solve_grid(sw2[::stride], sb2[::stride], n1=300, n2=150, block=96)
    dt = time.perf_counter() - t
    n = res["q_star"].size
    report(f"baseline 300 / 150x150 nodes: stride {stride}: {n} points in {dt:.2f} s ({dt / n * 1e3:.3f} ms/point)")
    return dict(stride=stride, npts=n, time_s=dt, per_point_s=dt / n)


def compare(engine, base, sw2, sb2, report):
    """Max relative differences engine vs baseline where the baseline converged."""
    out = {}
    if engine.get("status") != "ok":
        return out
    s = base["stride"]
    res = engine["result"]
    b = base["result"]
    for key, conv in (("q_star", "q_converged"), ("chi_1", "q_converged"),
                      ("c_star", "c_converged"), ("chi_c", "c_converged")):
        e = engine_grid(get_field(res, key), sw2.size, sb2.size)
        if e is None:
            out[key] = None
            continue
        e = e[::s, ::s]
        bb = b[key]
        m = b[conv] & np.isfinite(bb) & np.isfinite(e)
        if key in ("q_star", "chi_1"):
            m &= b["q_star"] > 1e-8  # q* -> 0 cells (sb2 = 0, ordered) have no relative precision
        if not m.any():
            out[key] = None
            continue
        if key == "c_star":  # c* in [-1, 1] and 0 for sb2 = 0 (odd phi): absolute difference
            rel = np.abs(e[m] - bb[m])
        else:
            rel = np.abs(e[m] - bb[m]) / np.maximum(np.abs(bb[m]), 1e-12)
        k = int(np.argmax(rel))
        ii, jj = np.argwhere(m)[k]
        out[key] = dict(max_rel=float(rel[k]), median_rel=float(np.median(rel)), n=int(m.sum()),
                        where=(float(sw2[::s][ii]), float(sb2[::s][jj])), engine=float(e[ii, jj]),
                        baseline=float(bb[ii, jj]))
        report(f"compare {key}: max {'abs' if key == 'c_star' else 'rel'} diff {rel[k]:.2e} at sw2={sw2[::s][ii]:.4f}, sb2={sb2[::s][jj]:.4f} "
               f"(engine {e[ii, jj]:.10g}, baseline {bb[ii, jj]:.10g}); median {np.median(rel):.1e}; "
               f"{m.sum()} cells")
    # the baseline's own quadrature error on q*, chi_1: 100 vs 300 nodes (1-D part only;
    # hermegauss overflows beyond ~350 nodes)
    ref = solve_grid(sw2[::s], sb2[::s], n1=300, with_c=False)
    for key in ("q_star", "chi_1"):
        m = b["q_converged"] & (b["q_star"] > 1e-8)
        rel = np.abs(b[key][m] - ref[key][m]) / np.maximum(np.abs(ref[key][m]), 1e-12)
        out[key + "_baseline_quad_err"] = float(rel.max()) if rel.size else None
        report(f"baseline quadrature error on {key} (100 vs 300 nodes): max rel {rel.max():.2e}")
    return out


# ---------------------------------------------------------------------------
# c. start-up and imports
# ---------------------------------------------------------------------------

def bench_startup(nruns, report):
    env = child_env()
    scripts = console_scripts()
    cmds = {
        "python -c pass": [PY, "-c", "pass"],
        "python -m phasecli --help": [PY, "-m", "phasecli", "--help"],
        # what a pip-generated console script does, runnable without an install
        "console-script equivalent": [PY, "-c", "import sys; from phasecli.cli import main; sys.exit(main())",
                                      "--help"],
    }
    for label, path in scripts:
        cmds[f"phasecli --help ({label})"] = [path, "--help"]
    info = {"scripts": scripts, "cmds": {name: {} for name in cmds}}
    ok = {}
    for name, cmd in cmds.items():  # one untimed warm-up each; n/a if it fails
        try:
            _, p = run_timed(cmd, env, timeout=120)
            ok[name] = p.returncode == 0
            if not ok[name]:
                info["cmds"][name] = dict(median=None, err=(p.stderr or p.stdout).strip().splitlines()[-1:])
        except Exception as e:
            ok[name] = False
            info["cmds"][name] = dict(median=None, err=[str(e)])
    times = {n: [] for n in cmds if ok[n]}
    for _ in range(nruns):  # interleaved, so drift hits every command alike
        for name in times:
            dt, _ = run_timed(cmds[name], env, timeout=120)
            times[name].append(dt)
    for name, ts in times.items():
        info["cmds"][name] = dict(median=statistics.median(ts), min=min(ts), max=max(ts), n=len(ts))
    base = info["cmds"]["python -c pass"].get("median")
    for name, d in info["cmds"].items():
        d["added"] = (d["median"] - base) if (d.get("median") is not None and base is not None
                                              and name != "python -c pass") else None
        report(f"startup {name}: median {fmt_s(d.get('median'), 'ms')}, added {fmt_s(d.get('added'), 'ms')}"
               + (f"  ({d['err']})" if d.get("err") else ""))

    # the same with a bytecode cache (PYTHONDONTWRITEBYTECODE may be set here:
    # then phasecli's own .py files are compiled on every start)
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and ok.get("python -m phasecli --help"):
        with tempfile.TemporaryDirectory() as tmp:
            env2 = child_env(PYTHONPYCACHEPREFIX=tmp)
            env2.pop("PYTHONDONTWRITEBYTECODE", None)
            run_timed(cmds["python -m phasecli --help"], env2)
            ts, tb = [], []
            for _ in range(nruns):
                ts.append(run_timed(cmds["python -m phasecli --help"], env2)[0])
                tb.append(run_timed(cmds["python -c pass"], env2)[0])
            info["with_pyc"] = dict(median=statistics.median(ts), base=statistics.median(tb),
                                    added=statistics.median(ts) - statistics.median(tb))
            report(f"startup python -m phasecli --help with a bytecode cache: added "
                   f"{fmt_s(info['with_pyc']['added'], 'ms')}")
    return info


def check_imports(report):
    """Which heavy modules ``phasecli --help`` imports (-X importtime and sys.modules)."""
    info = {}
    env = child_env()
    try:
        p = subprocess.run([PY, "-X", "importtime", "-m", "phasecli", "--help"], env=env,
                           capture_output=True, text=True, timeout=120, cwd=str(REPO))
    except Exception as e:
        info["reason"] = str(e)
        return info
    if p.returncode != 0:
        info["reason"] = "python -m phasecli --help failed: " + " ".join(p.stderr.strip().splitlines()[-1:])
        report(info["reason"])
        return info
    rows = []
    for line in p.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)) - 1, m.group(4)))
    heavy = sorted({r[3].split(".")[0] for r in rows if r[3].split(".")[0] in HEAVY})
    info["numpy"] = any(r[3].split(".")[0] == "numpy" for r in rows)
    top = sorted((r for r in rows if r[2] == 0), key=lambda r: -r[1])[:8]
    info["importtime_heavy"] = heavy
    info["importtime_top"] = [(r[3], r[1] / 1e3) for r in top]
    info["importtime_total_ms"] = sum(r[0] for r in rows) / 1e3
    # sys.modules after running the CLI's --help in-process
    code = ("import sys, runpy\nsys.argv = ['phasecli', '--help']\n"
            "import io, contextlib\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            "    try:\n        runpy.run_module('phasecli', run_name='__main__', alter_sys=True)\n"
            "    except SystemExit:\n        pass\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n")
    p2 = subprocess.run([PY, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=str(REPO))
    info["sys_modules_heavy"] = p2.stdout.strip().splitlines()[-1] if p2.stdout.strip() else f"error: {p2.stderr[-200:]}"
    report(f"--help imports (importtime): heavy={heavy or 'none'}; sys.modules: {info['sys_modules_heavy']}; "
           f"numpy {'imported' if info['numpy'] else 'not imported'}")
    report("--help slowest top-level imports: " + ", ".join(f"{n} {ms:.1f} ms" for n, ms in info["importtime_top"]))
    return info


# ---------------------------------------------------------------------------
# d. critical one-liner
# ---------------------------------------------------------------------------

def bench_critical(nruns, report):
    args = ["critical", "--activation", "tanh", "--sb2", "0.05", "--format", "csv"]
    env = child_env()
    variants = {"python -m phasecli": [PY, "-m", "phasecli"] + args}
    for label, path in console_scripts():
        variants[f"phasecli ({label})"] = [path] + args
    info = {}
    for name, cmd in variants.items():
        try:
            cold, p = run_timed(cmd, env, timeout=600)
        except Exception as e:
            info[name] = dict(median=None, err=str(e))
            continue
        if p.returncode != 0:
            info[name] = dict(median=None, first_s=cold,
                              err=" ".join((p.stderr or p.stdout).strip().splitlines()[-2:]))
            report(f"critical via {name}: n/a ({info[name]['err']})")
            continue
        ts = []
        for _ in range(nruns):
            dt, p = run_timed(cmd, env, timeout=600)
            ts.append(dt)
        info[name] = dict(first_s=cold, median=statistics.median(ts), min=min(ts), max=max(ts), n=nruns,
                          output=p.stdout.strip())
        report(f"critical via {name}: first run {cold:.3f} s, warm median {statistics.median(ts):.3f} s")
    return info


# ---------------------------------------------------------------------------

def environment():
    import numba  # noqa: F401 (version only; the bench process may import it)

    keys = ["OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS",
            "NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT", "PYTHONDONTWRITEBYTECODE"]
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return dict(python=platform.python_version(), executable=PY, numpy=np.__version__, numba=numba.__version__,
                cpu=cpu, cores=os.cpu_count(), env={k: os.environ.get(k, "(unset)") for k in keys},
                date=time.strftime("%Y-%m-%d %H:%M"))


def write_results(path, env, args, sw2, sb2, eng, base, cmp_, start, imp, crit):
    L = []
    L.append("# phasecli benchmark results\n")
    L.append(f"Written by `python bench/bench_phase.py{' --quick' if args.quick else ''}` on {env['date']}. "
             f"Machine: {env['cpu']}, {env['cores']} cores; Python {env['python']}, numpy {env['numpy']}, "
             f"numba {env['numba']}.\n")
    L.append("Environment as found (passed to every child unchanged): "
             + ", ".join(f"`{k}={v}`" for k, v in env["env"].items()) + ".\n")
    L.append(f"Share of the machine's CPU used by other processes during each section (/proc/stat minus the "
             f"bench's own CPU time; above ~10% the timings are inflated): "
             + ", ".join(f"{k} {NA if v is None else f'{v:.0%}'}" for k, v in env.get("contention", {}).items())
             + f". 1-min load average at the start: {env.get('load_start', float('nan')):.2f}.\n")
    L.append("## Summary\n")
    L.append("| measure | value | target |")
    L.append("| --- | --- | --- |")
    ratio = None
    if eng.get("status") == "ok":
        ratio = base["per_point_s"] / eng["per_point_s"]
    L.append(f"| phasecli solve_phase tanh {sw2.size} x {sb2.size}, per point (best of {2 * args.repeats}) | "
             f"{fmt_s(eng.get('per_point_s'), 'us')} | |")
    L.append(f"| numpy baseline, per point ({base['npts']} points, stride {base['stride']}) | "
             f"{fmt_s(base['per_point_s'], 'us')} | |")
    L.append(f"| **ratio baseline / phasecli per point** | {f'{ratio:.0f}x' if ratio else NA} | >= 100x |")
    acc = base.get("accurate")
    if acc and eng.get("status") == "ok":
        L.append(f"| ratio against the baseline with 300 / 150 x 150 nodes (similar accuracy) | "
                 f"{acc['per_point_s'] / eng['per_point_s']:.0f}x | (info) |")
    for name, d in start["cmds"].items():
        if name == "python -c pass":
            L.append(f"| `python -c pass` (median of {d.get('n', '?')}) | {fmt_s(d.get('median'), 'ms')} | |")
        else:
            L.append(f"| `{name}` added start-up | {fmt_s(d.get('added'), 'ms')} | < 250 ms |")
    if "with_pyc" in start:
        L.append(f"| `python -m phasecli --help` added, with a bytecode cache | "
                 f"{fmt_s(start['with_pyc']['added'], 'ms')} | (info) |")
    heavy = imp.get("importtime_heavy")
    L.append(f"| numba / scipy / matplotlib imported by `--help` | "
             f"{(', '.join(heavy) or 'none') if heavy is not None else NA} | none |")
    for name, d in crit.items():
        L.append(f"| warm `{name} critical --activation tanh --sb2 0.05 --format csv` (median of {args.crit_runs}) | "
                 f"{fmt_s(d.get('median'))} | < 1 s |")
    if not crit:
        L.append(f"| warm `critical` one-liner | {NA} | < 1 s |")
    L.append("")

    L.append("## a. phasecli engine\n")
    L.append(f"Grid: sw2 = linspace({sw2[0]}, {sw2[-1]}, {sw2.size}), sb2 = linspace({sb2[0]}, {sb2[-1]}, {sb2.size}) "
             f"= {sw2.size * sb2.size} points, `solve_phase('tanh', sw2, sb2)` with its default columns.\n")
    if eng.get("status") == "ok":
        L.append(f"- import of phasecli.meanfield: {eng['import_s']:.3f} s; first call (compile or cache load): "
                 f"{eng['first_call_s']:.3f} s")
        L.append(f"- timed calls ({args.repeats} before and {args.repeats} after the baseline run): "
                 + ", ".join(f"{t:.4f} s" for t in eng["times"])
                 + f"; best {eng['best_s']:.4f} s = {eng['per_point_s'] * 1e6:.2f} us per point")
        if eng.get("one_thread_s"):
            L.append(f"- numba runs it on {eng['threads']} threads; with 1 thread: {eng['one_thread_s']:.4f} s = "
                     f"{eng['one_thread_s'] / eng['npts'] * 1e6:.2f} us per point, ratio "
                     f"{base['per_point_s'] / (eng['one_thread_s'] / eng['npts']):.0f}x against the "
                     f"(single-threaded) baseline (information)")
        L.append(f"- result fields: {', '.join(map(str, eng['fields']))}; q* shape {eng['shape']}\n")
    else:
        L.append(f"n/a: {eng.get('reason', 'not run')}\n")

    L.append("## b. numpy baseline (bench/baseline_numpy.py)\n")
    L.append("Gauss-Hermite 100 nodes (1-D) and 60 x 60 (2-D), fixed-point iteration of q from 1 "
             "(|dq| <= 1e-10 |q| or 5000 iterations) and of c from 0.5 (|dc| <= 1e-10 or 5000), "
             "vectorized over cells, converged cells masked out, c-map in blocks of 512 cells. One timed run "
             "(no JIT, so no warm-up is needed).\n")
    for s, n, dt in base["runs"]:
        L.append(f"- stride {s} ({n} points): {dt:.2f} s = {dt / n * 1e3:.3f} ms per point")
    if "full_estimate_s" in base:
        L.append(f"- full {sw2.size * sb2.size}-point grid estimated at {base['full_estimate_s']:.0f} s; "
                 f"per-point time reported from the stride-{base['stride']} run"
                 + (" (an evenly strided sub-grid: sw2[::s] x sb2[::s], "
                    f"s = {base['stride']})" if base["stride"] > 1 else ""))
    acc = base.get("accurate")
    if acc:
        r2 = (acc["per_point_s"] / eng["per_point_s"]) if eng.get("status") == "ok" else None
        L.append(f"- the same baseline with 300 / 150 x 150 nodes (quadrature error then far below the 100-node one): "
                 f"stride {acc['stride']} ({acc['npts']} points) {acc['time_s']:.2f} s = "
                 f"{acc['per_point_s'] * 1e3:.3f} ms per point"
                 + (f", ratio {r2:.0f}x" if r2 else "") + " (information only; the target uses 100 / 60 x 60)")
    b = base["result"]
    L.append(f"- baseline iterations: q {int(b['q_iter'].sum())} cell-iterations "
             f"({int((~b['q_converged']).sum())} cells hit the cap), c {int(b['c_iter'].sum())} "
             f"({int((~b['c_converged'] & np.isfinite(b['c_star'])).sum())} cells hit the cap)\n")
    L.append("Sanity (not a test): max relative difference engine vs baseline (absolute for c*), where the "
             "baseline converged (and q* > 1e-8 for q*, chi_1):\n")
    L.append("| quantity | max rel diff | at (sw2, sb2) | engine | baseline | median rel diff | cells |")
    L.append("| --- | --- | --- | --- | --- | --- | --- |")
    for key in ("q_star", "chi_1", "c_star", "chi_c"):
        d = cmp_.get(key)
        if d:
            L.append(f"| {key}{' (absolute)' if key == 'c_star' else ''} | {d['max_rel']:.2e} | ({d['where'][0]:.4f}, {d['where'][1]:.4f}) | "
                     f"{d['engine']:.10g} | {d['baseline']:.10g} | {d['median_rel']:.1e} | {d['n']} |")
        else:
            L.append(f"| {key} | {NA} | | | | | |")
    for key in ("q_star", "chi_1"):
        v = cmp_.get(key + "_baseline_quad_err")
        if v is not None:
            L.append(f"\nThe baseline's own quadrature error on {key} (100 vs 300 Gauss-Hermite nodes): "
                     f"max rel {v:.2e}.")
    L.append("")

    L.append("## c. start-up\n")
    L.append(f"Interpreter `{PY}` (called directly, not through a pyenv shim), repo root first on PYTHONPATH. "
             f"Interleaved runs, one untimed warm-up each. Console scripts: "
             + ("; ".join(f"{label} `{path}`" for label, path in start["scripts"]) or "none installed (n/a)")
             + " (a pyenv shim is a bash script that runs `pyenv exec`, which then execs the real script); "
             "the 'console-script equivalent' runs what a pip-generated script runs "
             "(`from phasecli.cli import main; sys.exit(main())`).\n")
    L.append("| command | median | min | max | added to `python -c pass` |")
    L.append("| --- | --- | --- | --- | --- |")
    for name, d in start["cmds"].items():
        if d.get("median") is None:
            L.append(f"| {name} | {NA} | | | {' '.join(d.get('err') or [])} |")
        else:
            L.append(f"| {name} | {fmt_s(d['median'], 'ms')} | {fmt_s(d['min'], 'ms')} | {fmt_s(d['max'], 'ms')} | "
                     f"{fmt_s(d.get('added'), 'ms')} |")
    if "with_pyc" in start:
        w = start["with_pyc"]
        L.append(f"\nPYTHONDONTWRITEBYTECODE is set here, so phasecli's own modules are compiled from source on "
                 f"every start; with a bytecode cache (PYTHONPYCACHEPREFIX in a temporary directory) "
                 f"`python -m phasecli --help` adds {fmt_s(w['added'], 'ms')} (median {fmt_s(w['median'], 'ms')} "
                 f"vs {fmt_s(w['base'], 'ms')}).")
    if imp.get("reason"):
        L.append(f"\nImport check: n/a ({imp['reason']})")
    elif imp:
        L.append(f"\nImport check of `python -X importtime -m phasecli --help`: heavy modules imported: "
                 f"{', '.join(imp['importtime_heavy']) or 'none'}; sys.modules after an in-process `--help`: "
                 f"{imp['sys_modules_heavy']}; numpy {'imported' if imp['numpy'] else 'not imported'}. "
                 "Slowest top-level imports (cumulative): "
                 + ", ".join(f"{n} {ms:.1f} ms" for n, ms in imp["importtime_top"]) + ".")
    L.append("")
    L.append("## d. critical one-liner\n")
    if not crit:
        L.append(f"{NA}\n")
    for name, d in crit.items():
        if d.get("median") is None:
            L.append(f"- `{name} critical ...`: {NA} ({d.get('err')})")
        else:
            L.append(f"- `{name} critical --activation tanh --sb2 0.05 --format csv`: first run "
                     f"{d['first_s']:.3f} s, then median {d['median']:.3f} s (min {d['min']:.3f}, max {d['max']:.3f}, "
                     f"{d['n']} runs). Output:\n\n```\n{d['output'][:1500]}\n```")
    L.append("")
    Path(path).write_text("\n".join(L))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="coarser baseline sub-grid and fewer subprocess runs (same phasecli grid)")
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"), help="results file (default bench/RESULTS.md)")
    ap.add_argument("--baseline-stride", type=int, default=None,
                    help="force this baseline stride (1 = full grid) instead of choosing it")
    ap.add_argument("--budget", type=float, default=120.0, help="seconds allowed for the baseline run")
    args = ap.parse_args(argv)
    args.repeats = 3
    args.start_runs = 5 if args.quick else 11
    args.crit_runs = 3 if args.quick else 5
    probe = 10 if args.quick else 5
    budget = 30.0 if args.quick else args.budget

    def report(msg):
        print(msg, flush=True)

    env = environment()
    report(f"machine: {env['cpu']}, {env['cores']} cores; env: {env['env']}")
    sw2 = np.linspace(0.5, 4.0, 200)
    sb2 = np.linspace(0.0, 1.0, 200)

    cont = Contention()
    env["load_start"] = load()
    if env["load_start"] > 0.5:
        report(f"warning: 1-min load average {env['load_start']:.2f} at the start: the machine is busy")

    snap = cont.start()
    eng = bench_engine(sw2, sb2, args.repeats, report)
    cont.stop("engine", snap, report)
    snap = cont.start()
    base = bench_baseline(sw2, sb2, probe, budget, report, force_stride=args.baseline_stride)
    cont.stop("baseline", snap, report)
    snap = cont.start()
    engine_retime(eng, sw2, sb2, args.repeats, report)
    cont.stop("engine again", snap, report)
    snap = cont.start()
    base["accurate"] = None if args.quick else bench_baseline_accurate(sw2, sb2, 10, report)
    cont.stop("accurate baseline", snap, report)
    cmp_ = compare(eng, base, sw2, sb2, report)
    snap = cont.start()
    start = bench_startup(args.start_runs, report)
    imp = check_imports(report)
    cont.stop("start-up", snap, report)
    snap = cont.start()
    crit = bench_critical(args.crit_runs, report)
    cont.stop("critical", snap, report)
    env["contention"] = cont.sections

    ratio = base["per_point_s"] / eng["per_point_s"] if eng.get("status") == "ok" else None
    rows = [
        ("phasecli per point", fmt_s(eng.get("per_point_s"), "us"), ""),
        ("baseline per point", fmt_s(base["per_point_s"], "us"), f"stride {base['stride']}, {base['npts']} pts"),
        ("ratio baseline/phasecli", f"{ratio:.0f}x" if ratio else NA, ">= 100x"),
    ]
    if base.get("accurate") and ratio:
        rows.append(("ratio, baseline 300/150x150 nodes", f"{base['accurate']['per_point_s'] / eng['per_point_s']:.0f}x",
                     "info"))
    for name, d in start["cmds"].items():
        if name != "python -c pass":
            rows.append((f"{name}: added", fmt_s(d.get("added"), "ms"), "< 250 ms"))
    rows.append(("heavy imports on --help", (", ".join(imp["importtime_heavy"]) or "none")
                 if "importtime_heavy" in imp else NA, "none"))
    for name, d in crit.items():
        rows.append((f"critical ({name})", fmt_s(d.get("median")), "< 1 s"))
    if not crit:
        rows.append(("critical", NA, "< 1 s"))
    w = max(len(r[0]) for r in rows)
    print()
    for r in rows:
        print(f"{r[0]:<{w}}  {r[1]:>12}  {r[2]}")
    write_results(args.out, env, args, sw2, sb2, eng, base, cmp_, start, imp, crit)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
