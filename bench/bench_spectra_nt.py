"""NTK and NNGP spectra at every depth against neural-tangents, in one run (issue 24).

    python bench/bench_spectra_nt.py --nt-python /path/to/venv/bin/python [--out bench/RESULTS_spectra_nt.md]
                                     [--quick] [--skip-2000] [--workloads 1,2,3]

Workloads (erf on the critical line, sw2 = 1.37584, sb2 = 0.05; ``synthetic_data(m, 50, 0)``):

1. m = 600, depths 1..60, data as given (``--no-normalize``);
2. m = 600, depths 1..60, default normalization (rows scaled to q^1 = q*; neural-tangents is
   given the same scaled rows);
3. m = 2000, depths 1..20, data as given.

For each: the phasecli command line end to end (``python -m phasecli kappa ... --data X.npy
-f csv > /dev/null``: import, cache load, recursion, spectra, output), the library call
``ntk.ntk_spectra`` in this process (warm, best of 2), and neural-tangents 0.6.5 in a
separate interpreter (``--nt-python``; bench/bench_kappa.py's child: per depth a jitted
``stax.serial`` kernel function, float64, then ``scipy.linalg.eigvalsh(driver='evr')`` of the
NTK and the NNGP).  Ratios NT / phasecli.  The load average and the CPU share other
processes took during each timed call are recorded (2 shared cores: compare ratios).
Also: where phasecli's library time goes (cProfile of one call) and the largest relative
difference of lambda_max, lambda_min and kappa from neural-tangents.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import bench_kappa as bk  # noqa: E402

SW2, SB2, DIM = 1.37584, 0.05, 50


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cli_time(path, m_depth, normalize):
    cmd = [sys.executable, "-m", "phasecli", "kappa", "-a", "erf", "--sw2", repr(SW2), "--sb2", repr(SB2),
           "--data", str(path), "--depth", f"1:{m_depth}", "-f", "csv"]
    if not normalize:
        cmd.append("--no-normalize")
    with bk.Meter() as meter:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=str(REPO))
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-500:])
    return meter.time, meter.others


def profile_split(fn):
    """(total, recursion, spectra, other) seconds of one call, from cProfile's cumulative times.

    cProfile sees the calling thread only: the call is made with the spectra on one thread
    (``ntk.TWO_THREAD_SPECTRA_M`` raised), so every summary shows up."""
    from phasecli import ntk

    saved, ntk.TWO_THREAD_SPECTRA_M = ntk.TWO_THREAD_SPECTRA_M, 10**9
    try:
        return _profile_split(fn)
    finally:
        ntk.TWO_THREAD_SPECTRA_M = saved


def _profile_split(fn):
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    out = fn()
    prof.disable()
    total = time.perf_counter() - t0
    st = pstats.Stats(prof)
    rec = spec = 0.0
    detail = {}
    for (file, _line, name), (_cc, _nc, tt, ct, _callers) in st.stats.items():
        if name in ("_step", "first_layer") and file.endswith("fc.py"):
            rec += ct
        if name == "_summarize" and file.endswith("spectra.py"):
            spec += ct
        if name == "_blocks" and file.endswith("fc.py"):
            detail["blocks"] = detail.get("blocks", 0.0) + ct
        if name in ("_tridiagonalize", "_extremes") and file.endswith("spectra.py"):
            detail[name] = detail.get(name, 0.0) + ct
        if name in ("dev_layer_sym", "dev_layer_sym_serial", "mirror_dev") and file.endswith("unequal_kernels.py"):
            detail["layer_kernel"] = detail.get("layer_kernel", 0.0) + tt
        if name in ("_norm_layer_sym", "_norm_layer_sym_serial", "_mirror_upper") and file.endswith("fc_kernels.py"):
            detail["layer_kernel"] = detail.get("layer_kernel", 0.0) + tt
    return out, total, rec, spec, detail


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nt-python", default=os.environ.get("NT_PYTHON"))
    ap.add_argument("--out", default=str(BENCH / "RESULTS_spectra_nt.md"))
    ap.add_argument("--skip-2000", action="store_true")
    ap.add_argument("--quick", action="store_true", help="library call once, no CLI run")
    ap.add_argument("--workloads", default="1,2,3", help="which of the workloads 1, 2, 3 to run (comma list)")
    ap.add_argument("--no-one-thread", action="store_true",
                    help="skip the extra library call with the spectra on one thread (saves time on a loaded machine)")
    ap.add_argument("--lib-runs", type=int, default=2, help="library calls, the best is reported (default 2)")
    args = ap.parse_args(argv)
    from phasecli import ntk

    env = bk.environment()
    load0 = os.getloadavg()
    cases = [(600, 60, False), (600, 60, True)] + ([] if args.skip_2000 else [(2000, 20, False)])
    chosen = {int(x) for x in args.workloads.split(",")}
    cases = [c for i, c in enumerate(cases, 1) if i in chosen]
    rows, notes = [], []
    tmp = tempfile.mkdtemp()
    for m_warm in (8, 210):  # cache load: the one-thread kernels (few pairs) and the parallel ones
        ntk.ntk_spectra("erf", ntk.synthetic_data(m_warm, DIM, 0), SW2, SB2, [1, 2], normalize=False)
        ntk.ntk_spectra("erf", ntk.synthetic_data(m_warm, DIM, 0), SW2, SB2, [1, 2])
    for m, depth, normalize in cases:
        label = f"m = {m}, depths 1..{depth}, {'normalized' if normalize else 'as given'}"
        X = ntk.synthetic_data(m, DIM, 0)
        path = Path(tmp) / f"X{m}.npy"
        np.save(path, X)
        log(f"{label}: phasecli CLI")
        t_cli, o_cli = cli_time(path, depth, normalize) if not args.quick else (math.nan, math.nan)
        log(f"{label}: phasecli library")

        def call():
            return ntk.ntk_spectra("erf", X, SW2, SB2, range(1, depth + 1), normalize=normalize)

        b = bk.Best()
        for _ in range(1 if args.quick else max(1, args.lib_runs)):
            b.run(call)
        spec = b.out
        # the same call with the NTK and NNGP summaries of each layer on one thread (before issue 24's threads)
        one = bk.Best()
        if not args.no_one_thread:
            saved, ntk.TWO_THREAD_SPECTRA_M = ntk.TWO_THREAD_SPECTRA_M, 10**9
            one.run(call)
            ntk.TWO_THREAD_SPECTRA_M = saved
        _, t_prof, t_rec, t_spec, detail = profile_split(call)
        nt = None
        if args.nt_python:
            log(f"{label}: neural-tangents (jit per depth)")
            Xn = bk.normalized_rows("erf", X, SW2, SB2) if normalize else X
            with bk.Meter() as meter:
                nt = bk.run_nt(args.nt_python, Xn, SW2, SB2, depth, "jit", timeout=7200)
            nt["others"] = meter.others
        row = dict(label=label, cli=t_cli, cli_others=o_cli, lib=b.time, lib_others=b.others, lib1=one.time,
                   lib1_others=one.others, prof=t_prof,
                   rec=t_rec, spec=t_spec, detail=detail, nt=nt)
        if nt is not None:
            lmax, lmin = np.array(nt["lambda_max"]), np.array(nt["lambda_min"])
            row["dmax"] = bk.rel_diff(spec.lambda_max, lmax)
            ok = np.isfinite(spec.lambda_min)
            row["dmin"] = bk.rel_diff(spec.lambda_min[ok], lmin[ok]) if ok.any() else math.nan
            row["dkappa"] = bk.rel_diff(spec.kappa[ok], lmax[ok] / lmin[ok]) if ok.any() else math.nan
        rows.append(row)
        log(f"{label}: {row}")
    load1 = os.getloadavg()
    lines = ["# NTK and NNGP spectra against neural-tangents (bench/bench_spectra_nt.py)", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M')}. Load average (1, 5, 15 min) at start "
             f"{load0[0]:.1f}, {load0[1]:.1f}, {load0[2]:.1f}; at end {load1[0]:.1f}, {load1[1]:.1f}, {load1[2]:.1f} "
             f"(2 cores shared with other work: compare the ratios, measured in this one run).  erf, sw2 = {SW2}, "
             f"sb2 = {SB2}, `synthetic_data(m, {DIM}, 0)`; phasecli computes the NTK and NNGP spectra at every depth, "
             "neural-tangents one jitted kernel function per depth plus `eigvalsh` of both kernels.", "",
             "| workload | phasecli CLI (end to end) | phasecli library call | library, spectra on one thread | "
             "neural-tangents | NT / CLI | NT / library |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def pct(x):
        return "n/a" if not math.isfinite(x) else f"{100 * x:.0f}%"

    for r in rows:
        nt_t = r["nt"]["time"] if r["nt"] else math.nan
        lines.append(f"| {r['label']} | {bk.fmt_s(r['cli'])} (others {pct(r['cli_others'])}) | {bk.fmt_s(r['lib'])} "
                     f"(others {pct(r['lib_others'])}) | {bk.fmt_s(r['lib1'])} (others {pct(r['lib1_others'])}) | "
                     f"{bk.fmt_s(nt_t)}"
                     f"{' (others ' + pct(r['nt']['others']) + ')' if r['nt'] else ''} | "
                     f"{nt_t / r['cli']:.1f}x | {nt_t / r['lib']:.1f}x |")
    lines += ["", "Where the library time goes (cProfile of one more call with the spectra on one thread, "
                  "so that the profiler sees them; profiling adds a little):", ""]
    for r in rows:
        d = r["detail"]
        lines.append(f"- {r['label']}: {r['prof']:.2f} s in all; recursion {r['rec']:.2f} s (layer kernel "
                     f"{d.get('layer_kernel', 0.0):.2f} s), spectra {r['spec']:.2f} s (tridiagonalizations "
                     f"{d.get('_tridiagonalize', 0.0):.2f} s, dense extreme eigenvalues {d.get('_extremes', 0.0):.2f} s), "
                     f"kernel blocks rebuilt {d.get('blocks', 0.0):.2f} s")
    lines += ["", "Agreement with neural-tangents (max relative difference over depths; sanity check):", ""]
    for r in rows:
        if r["nt"]:
            lines.append(f"- {r['label']}: lambda_max {r['dmax']:.1e}, lambda_min {r['dmin']:.1e}, "
                         f"kappa {r['dkappa']:.1e} (neural-tangents {r['nt']['neural_tangents']}, jax {r['nt']['jax']})")
    lines += ["", "Environment: " + ", ".join(f"`{k}={v}`" for k, v in env.items()), ""]
    text = "\n".join(lines)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
