"""Residual networks, speed at depths 1..100 against neural-tangents (issue 22), measured in one run.

    nice python bench/speed_resnet_nt.py --nt-python /path/to/nt-venv/bin/python [--m 32] [--full erf,pre,1]
                                         [--subset 1,10,25,50,100] [--out bench/RESULTS_resnet_nt_speed.json]

phasecli: ``ntk.ntk_spectra`` for depths 1..100 (alpha a number: one pass; alpha = 1/sqrt(L): one pass per
depth, as the network differs per depth), spectra (lambda_max, lambda_min, kappa, NNGP kappa) included.
neural-tangents 0.6.5 (float64, a separate interpreter: this file with ``--child``): one kernel function per
depth, ``stax.serial(Dense, [FanOut(2), parallel(Identity, branch), FanInSum] * L, LayerNorm?, phi, Dense)``
with branch = ``serial(LayerNorm(eps=0)?, phi, Dense(W_std=alpha sqrt(sw2), b_std=alpha sqrt(sb2)))``,
``kernel_fn(X, None, ('nngp', 'ntk'))`` unjitted (as a user computes one network's kernel), then eigvalsh of
the NTK and the NNGP.  The configuration ``--full`` is run by neural-tangents at every depth 1..100; the
others at the ``--subset`` depths, and their sum over 1..100 is estimated by a least-squares line a + b L
through the subset's seconds (neural-tangents' cost of a depth-L network is linear in L: L blocks).
Per configuration: the two times, the ratio, the load average before and after, and the largest relative
difference of kappa at the depths both computed.  The json is written after every configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SW2, SB2 = 2.0, 0.1
DEPTH = 100


def child(args):
    import jax

    jax.config.update("jax_enable_x64", True)
    from neural_tangents import stax

    warnings.filterwarnings("ignore")
    X = np.load(args.x)
    act, ln, scale = args.config.split(",")
    phi = {"erf": stax.Erf, "relu": stax.Relu}[act]
    norm = [stax.LayerNorm(eps=0.0)] if ln == "pre" else []
    rows, seconds = [], []
    warm = stax.serial(stax.Dense(512), *norm, phi(), stax.Dense(1))[2]  # jax's first-call setup, untimed
    np.asarray(warm(X, None, ("nngp", "ntk")).ntk)
    for L in [int(d) for d in args.depths.split(",")]:
        t0 = time.perf_counter()
        alpha = 1.0 / np.sqrt(L) if scale == "depth" else float(scale)
        branch = stax.serial(*norm, phi(), stax.Dense(512, W_std=alpha * np.sqrt(SW2), b_std=alpha * np.sqrt(SB2)))
        block = stax.serial(stax.FanOut(2), stax.parallel(stax.Identity(), branch), stax.FanInSum())
        first = stax.Dense(512, W_std=np.sqrt(SW2), b_std=np.sqrt(SB2))
        head = stax.serial(*norm, phi(), stax.Dense(1, W_std=np.sqrt(SW2), b_std=np.sqrt(SB2)))
        k = stax.serial(first, *([block] * L), head)[2](X, None, ("nngp", "ntk"))
        w, v = np.linalg.eigvalsh(np.asarray(k.ntk)), np.linalg.eigvalsh(np.asarray(k.nngp))
        seconds.append(time.perf_counter() - t0)
        rows.append([float(w[-1]), float(w[0]), float(w[-1] / w[0]), float(v[-1] / v[0])])
    with open(args.out, "w") as fh:
        json.dump({"rows": rows, "seconds": seconds}, fh)


def run_nt(nt_python, X, config, depths):
    with tempfile.TemporaryDirectory() as tmp:
        xp, op = os.path.join(tmp, "x.npy"), os.path.join(tmp, "out.json")
        np.save(xp, X)
        proc = subprocess.run([nt_python, __file__, "--child", "--x", xp, "--out", op, "--config", config,
                               "--depths", ",".join(map(str, depths))], capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"neural-tangents child failed:\n{proc.stderr[-3000:]}")
        with open(op) as fh:
            return json.load(fh)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nt-python")
    ap.add_argument("--m", type=int, default=32)
    ap.add_argument("--full", default="erf,pre,1", help="the configuration neural-tangents runs at every depth")
    ap.add_argument("--subset", default="1,10,25,50,75,100")
    ap.add_argument("--configs", default="erf,pre,1;erf,none,1;relu,pre,1;relu,none,1;"
                                         "erf,pre,depth;erf,none,depth;relu,pre,depth;relu,none,depth")
    ap.add_argument("--out", default=str(BENCH / "RESULTS_resnet_nt_speed.json"))
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--x")
    ap.add_argument("--config")
    ap.add_argument("--depths")
    args = ap.parse_args()
    if args.child:
        return child(args)
    sys.path.insert(0, str(REPO))
    from phasecli import ntk
    from phasecli.data import synthetic_data
    from phasecli.ntk.engines import scale_rows_to_q_star

    X = scale_rows_to_q_star(synthetic_data(args.m, 20, 1), 1.0, SW2, SB2, "X")
    all_depths = np.arange(1, DEPTH + 1)
    subset = [int(d) for d in args.subset.split(",")]
    results = []
    configs = args.configs.split(";")
    configs = [c for c in configs if c != args.full] + [c for c in configs if c == args.full]  # the long one last
    for config in configs:
        act, ln, scale = config.split(",")
        opts = {"residual_scale": "depth" if scale == "depth" else float(scale), "layer_norm": ln}
        ntk.ntk_spectra(act, X[:4], SW2, SB2, [1, 2], normalize=False, architecture="resnet", options=opts)  # warm
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        sp = ntk.ntk_spectra(act, X, SW2, SB2, all_depths, normalize=False, architecture="resnet", options=opts)
        ours = time.perf_counter() - t0
        full = config == args.full
        depths = list(all_depths) if full else subset
        nt = run_nt(args.nt_python, X, config, depths)
        load1 = os.getloadavg()[0]
        sec = np.array(nt["seconds"])
        if full:
            nt_total, how = float(sec.sum()), "measured at every depth"
        else:
            b, a = np.polyfit(np.array(depths, float), sec, 1)
            nt_total = float(np.sum(a + b * all_depths))
            how = f"estimated from depths {args.subset} (measured {sec.sum():.1f} s there)"
        ref = np.array(nt["rows"])
        idx = np.array(depths) - 1
        rel = float(np.nanmax(np.abs(sp.kappa[idx] - ref[:, 2]) / ref[:, 2]))
        rel_nngp = float(np.nanmax(np.abs(sp.nngp_kappa[idx] - ref[:, 3]) / ref[:, 3]))
        results.append({"config": config, "m": args.m, "phasecli_seconds": ours, "nt_seconds": nt_total,
                        "nt_how": how, "ratio": nt_total / ours, "nt_seconds_per_depth": nt["seconds"],
                        "nt_depths": [int(d) for d in depths], "load_before": load0, "load_after": load1,
                        "kappa_rel": rel, "nngp_kappa_rel": rel_nngp})
        print(json.dumps({k: v for k, v in results[-1].items() if k not in ("nt_seconds_per_depth", "nt_depths")}),
              file=sys.stderr, flush=True)
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
