"""--columns / --value, the column selector for one-liners, on phase, critical, kappa, check and init:
selected values equal the independent oracles (tests/naive.py, tests/naive_ntk.py), unknown names
are a usage error, undefined values print an empty line."""

import csv
import io
import json
import math

import numpy as np
import pytest
from scipy import optimize

import naive as nv
import naive_ntk as nn
from phasecli.cli.columns import CHECK, INIT


def table(text, sep=","):
    return list(csv.reader(io.StringIO(text), delimiter=sep))


def test_phase_columns_in_the_order_asked_against_the_oracle(cli):
    r = cli("phase", "--sw2", "0.8,1.5", "--sb2", "0.05", "--columns", "chi_1,sw2,phase", "-f", "csv")
    assert r.returncode == 0, r.stderr
    header, *rows = table(r.stdout)
    assert header == ["chi_1", "sw2", "phase"] and [row[1:] for row in rows] == [["0.8", "ordered"],
                                                                                 ["1.5", "ordered"]]
    for (chi_1, sw2, _) in rows:
        q = nv.q_star("tanh", float(sw2), 0.05)
        assert math.isclose(float(chi_1), nv.chi_1("tanh", float(sw2), q), rel_tol=1e-10)


def test_phase_value_is_bare_and_empty_where_undefined(cli):
    r = cli("phase", "-a", "relu", "--sw2", "1.5,3", "--sb2", "0.1", "--value", "c_star")
    assert r.returncode == 0 and r.stdout == "1.0\n\n"  # relu sw2 = 3: q* infinite, c* undefined (NaN)
    r = cli("phase", "-a", "relu", "--sw2", "1.5,3", "--sb2", "0.1", "--value", "chi_1")
    assert [float(v) for v in r.stdout.split()] == [0.75, 1.5]  # relu: chi_1 = sw2 / 2


def test_critical_bare_value_against_the_oracle(cli):
    r = cli("critical", "-a", "erf", "--sb2", "0,0.05", "--value")
    assert r.returncode == 0, r.stderr
    zero, small = (float(v) for v in r.stdout.split())
    assert math.isclose(zero, math.pi / 4, rel_tol=1e-12)  # erf, sb2 = 0: sw2 = pi/4 (THEORY.md)
    oracle = optimize.brentq(lambda s: nv.chi_1("erf", s, nv.q_star("erf", s, 0.05)) - 1.0, 1.0, 2.0, xtol=1e-15)
    assert math.isclose(small, oracle, rel_tol=1e-10)
    r = cli("critical", "-a", "silu", "--sb2", "0.05", "--value")
    assert r.returncode == 1 and r.stdout == "\n" and "no critical point" in r.stderr
    r = cli("critical", "--sb2", "0.05", "--columns", "status,sw2_critical", "-f", "tsv")
    assert table(r.stdout, "\t")[0] == ["status", "sw2_critical"]


def test_kappa_columns_against_the_ntk_oracle(cli, tmp_path):
    X = np.random.default_rng(5).standard_normal((5, 3))
    path = tmp_path / "x.csv"
    np.savetxt(path, X, delimiter=",")
    sw2, sb2 = 2.0, 0.1
    r = cli("kappa", "-a", "erf", "--sw2", str(sw2), "--sb2", str(sb2), "--data", str(path), "--depth", "1,4",
            "--columns", "depth,kappa,lambda_max", "-f", "json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert [list(o) for o in got] == [["depth", "kappa", "lambda_max"]] * 2
    q = optimize.brentq(lambda x: sw2 * nv.erf_pair_closed(x, 1.0)[0] + sb2 - x, 1e-9, 100.0, xtol=1e-15)
    kernels = nn.kernels("erf", nn.normalize_rows(X, sw2, sb2, q), sw2, sb2, [1, 4])
    for o in got:
        lmax, _, _, kappa = nn.spectrum(kernels[o["depth"]][1])
        assert math.isclose(o["kappa"], kappa, rel_tol=1e-8) and math.isclose(o["lambda_max"], lmax, rel_tol=1e-9)


@pytest.mark.parametrize("command", [["phase", "--sw2", "1"], ["critical"], ["check", "--sw2", "1", "--depth", "3"],
                                     ["init", "--sb2", "0.05", "--depth", "3"]])
def test_unknown_names_are_a_usage_error(cli, command):
    r = cli(*command, "--columns", "sb2,nosuch")
    assert r.returncode == 2 and "unknown column 'nosuch'" in r.stderr and "--columns" in r.stderr
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1
    r = cli(*command, "--value", "nosuch")
    assert r.returncode == 2 and "unknown column 'nosuch'" in r.stderr
    if command[0] == "check":
        r = cli(*command, "--columns", ",")
        assert r.returncode == 2 and "empty item" in r.stderr


def test_check_value_and_columns(cli):
    r = cli("check", "--sw2", "1.5,4", "--sb2", "0.05", "--depth", "200", "--value")
    assert r.returncode == 1 and r.stdout == "fail\nfail\n"  # bare --value: the verdict
    r = cli("check", "--sw2", "1.5", "--sb2", "0.05", "--depth", "10", "--value", "reason")
    assert r.returncode == 0 and r.stdout == "\n"  # empty on pass
    r = cli("check", "--sw2", "1.5", "--sb2", "0.05", "--depth", "10", "--value", "xi_star")
    assert r.stdout == "\n"  # ordered side: xi_star undefined
    r = cli("check", "--sw2", "4", "--sb2", "0.05", "--depth", "4,200", "--columns", "depth,verdict,failed",
            "-f", "jsonl")
    assert [json.loads(line) for line in r.stdout.splitlines()] == [
        {"depth": 4, "verdict": "pass", "failed": ""}, {"depth": 200, "verdict": "fail", "failed": "trainability"}]


def test_full_rows_keep_the_declared_column_order(cli):
    r = cli("check", "--sw2", "1.5", "--depth", "3", "-f", "csv")
    assert r.stdout.splitlines()[0].split(",") == list(CHECK)
    r = cli("init", "--sb2", "0.05", "--depth", "3", "-f", "csv")
    assert r.stdout.splitlines()[0].split(",") == list(INIT)


def test_init_value_and_columns(cli):
    r = cli("init", "-a", "relu", "--depth", "10", "--value")
    assert r.returncode == 0 and r.stdout == "2.0\n"  # bare --value: sw2
    r = cli("init", "-a", "relu", "--depth", "10", "--columns", "sb2,sb2_rule,fan_in,w_std_standard", "-f", "csv")
    assert table(r.stdout) == [["sb2", "sb2_rule", "fan_in", "w_std_standard"], ["0.0", "he", "", "nan"]]


@pytest.mark.parametrize("command", [["phase", "--sw2", "1"], ["catapult", "--lr-factor", "0.5", "--steps", "50"]])
def test_value_and_columns_together_are_a_usage_error(cli, command):
    """--value prints one bare column; with --columns one of the two would be ignored silently."""
    r = cli(*command, "--value", command[1].lstrip("-").replace("lr-factor", "lr_factor"), "--columns", "sw2")
    assert r.returncode == 2 and r.stdout == "" and "cannot be combined with --columns" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
