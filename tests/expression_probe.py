"""Run in a process of its own by tests/test_expression_oracle.py (one activation expression per process):
phasecli's numbers for one activation (a registered name or an expression) as JSON on stdout.

    python expression_probe.py ACTIVATION DATA.csv [--with-registered NAME]
    python expression_probe.py --compare-cli EXPRESSION NAME
    python expression_probe.py --kappa-spectra EXPRESSION ORACLE.json DATA.csv RAW_DATA.csv

With --with-registered, the same quantities for a registered activation, computed afterwards in the same
process (a registered activation works in any process), under "registered".  --compare-cli runs the main
commands (-f csv) with the expression and then with the registered NAME in this process and prints, per
command, both outputs parsed as rows.
"""

from __future__ import annotations

import json
import sys

import numpy as np

import phasecli

PHASE_POINTS = ((1.2, 0.05), (1.9, 0.3), (2.5, 0.05), (4.0, 0.3))  # ordered / chaotic (sw2, sb2)
CRITICAL_SB2 = (0.05, 0.3)
KAPPA = dict(sw2=1.5, sb2=0.05, depth=[1, 3])
PAIR_Q = (0.5, 4.0, 30.0)  # T(q, c) = E[phi(u1) phi(u2)], Tdot: the correlation map's 2-D expectations
PAIR_C = (-0.9, 0.0, 0.5, 0.99, 0.999999)
JACOBIAN = dict(sw2=1.5, sb2=0.05, depth=[1, 8])


def numbers(activation: str, data: str) -> dict:
    out = {}
    for sw2, sb2 in PHASE_POINTS:
        r = phasecli.phase(activation=activation, sw2=sw2, sb2=sb2)
        out[f"phase {sw2} {sb2}"] = {k: float(r[k][0]) for k in ("q_star", "c_star", "chi_1", "chi_c", "q_slope")}
    crit = {"sb2": [], "sw2_critical": [], "q_star": [], "error": []}
    for sb2 in CRITICAL_SB2:  # one at a time: a point without a critical sw2 raises (exit status 1)
        crit["sb2"].append(sb2)
        try:
            r = phasecli.critical(activation=activation, sb2=sb2)
            crit["sw2_critical"].append(float(r["sw2_critical"][0]))
            crit["q_star"].append(float(r["q_star"][0]))
            crit["error"].append("")
        except phasecli.RuntimeFailure as exc:  # hard-swish, Mish at small sb2: q* infinite first
            crit["sw2_critical"].append(float("nan"))
            crit["q_star"].append(float("nan"))
            crit["error"].append(str(exc))
    out["critical"] = crit
    try:
        r = phasecli.kappa(activation=activation, data=data, **KAPPA)
        out["kappa"] = {k: [float(v) for v in r[k]] for k in ("depth", "lambda_max", "lambda_min", "lambda_bulk",
                                                               "kappa", "nngp_kappa")}
    except phasecli.InputError as exc:
        out["kappa"] = {"error": str(exc)}
    from phasecli import meanfield

    qs, cs = np.repeat(PAIR_Q, len(PAIR_C)), np.tile(PAIR_C, len(PAIR_Q))
    t, tdot = meanfield.correlation_expectations(activation, qs, cs)
    out["pairs"] = {"q": qs.tolist(), "c": cs.tolist(), "t": np.asarray(t).tolist(), "tdot": np.asarray(tdot).tolist()}
    try:
        r = phasecli.jacobian(activation=activation, **JACOBIAN)
        out["jacobian"] = {k: [float(v) for v in r[k]] for k in ("sw2", "depth", "q_star", "chi_1", "mean_s2",
                                                                  "var_s2")}
        out["jacobian"]["weights"] = [str(w) for w in r["weights"]]
    except phasecli.InputError as exc:
        out["jacobian"] = {"error": str(exc)}
    return out


CLI_COMMANDS = (
    ["critical", "--sb2", "0,0.01,0.05,0.3"],
    ["phase", "--sw2", "0.5:3:4", "--sb2", "0,0.05"],
    ["depth-scale", "--sw2", "0.5:3:4", "--sb2", "0,0.05"],
    ["kappa", "--sw2", "1.5", "--sb2", "0.05", "--depth", "1:100", "--examples", "6"],
    ["kappa", "--sw2", "1.5", "--sb2", "0.05", "--depth", "1,5,20", "--examples", "6", "--no-normalize"],
    ["lr", "--sw2", "1.5", "--sb2", "0.05", "--depth", "5,10,20,40", "--examples", "6"],
    ["jacobian", "--sb2", "1e-4,0.05,0.5", "--depth", "8,32"],
    ["check", "--sb2", "0.05", "--depth", "10"],
)


def compare_cli(expression: str, name: str) -> dict:
    import csv
    import io

    from click.testing import CliRunner

    from phasecli.cli import cli

    runner = CliRunner()
    out = {}
    for command in CLI_COMMANDS:
        rows = []
        for activation in (expression, name):
            r = runner.invoke(cli, [command[0], "-a", activation, *command[1:], "-f", "csv"])
            rows.append({"status": r.exit_code, "rows": list(csv.reader(io.StringIO(r.stdout)))})
        out[" ".join(command)] = rows
    return out


SPECTRA_COLUMNS = ("depth", "lambda_max", "lambda_min", "kappa", "nngp_kappa", "resolved", "status", "phase")


def kappa_spectra(activation: str, oracle_file: str, data: str, raw_data: str) -> dict:
    """kappa (and lr) at the oracle file's points: normalized inputs at depths 1..100, inputs as given at the
    file's raw depths (tests/make_expression_ntk_oracle.py)."""
    spec = json.loads(open(oracle_file).read())
    out = {"normalized": {}, "raw": {}, "lr": {}}

    def columns(r):
        return {k: r.column(k) for k in SPECTRA_COLUMNS if k in r.columns}

    for point in spec["normalized"]:
        sw2, sb2 = (float(v) for v in point.split())
        out["normalized"][point] = columns(phasecli.kappa(activation=activation, data=data, sw2=sw2, sb2=sb2,
                                                          depth="1:100"))
        r = phasecli.lr(activation=activation, data=data, sw2=sw2, sb2=sb2, depth="1,10,100")
        out["lr"][point] = {k: r.column(k) for k in r.columns}
    for point, depths in spec["raw"].items():
        sw2, sb2 = (float(v) for v in point.split())
        out["raw"][point] = columns(phasecli.kappa(activation=activation, data=raw_data, sw2=sw2, sb2=sb2,
                                                   depth=",".join(depths), normalize=False))
    return out


def main(argv):
    if argv[0] == "--kappa-spectra":
        json.dump(kappa_spectra(*argv[1:5]), sys.stdout)
        return
    if argv[0] == "--compare-cli":
        json.dump(compare_cli(argv[1], argv[2]), sys.stdout)
        return
    activation, data = argv[0], argv[1]
    result = {"expression": numbers(activation, data)}
    if "--with-registered" in argv:
        result["registered"] = numbers(argv[argv.index("--with-registered") + 1], data)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
