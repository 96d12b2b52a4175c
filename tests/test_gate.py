"""`phasecli check`: the issue's verdicts, each limit against the quadrature / closed-form oracles
(tests/naive.py, tests/naive_ntk.py, nothing from phasecli), exit statuses, and NaN never passing."""

import csv
import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

import naive as nv
import naive_ntk as nn
from phasecli import defaults, gate
from phasecli.cli.columns import CHECK

REL = 1e-9
M_G = defaults.GENERALIZATION_MULTIPLE  # measured (bench/RESULTS_gate_multiples.md); the tests check it is applied


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def run_check(cli, *args):
    r = cli("check", *args, "-f", "csv")
    assert "Traceback" not in r.stderr
    return r, rows(r.stdout)


# ----------------------------------------------------------------------------- oracle depth scales
def oracle_scales(act, sw2, sb2):
    """(q*, chi_1, chi_c, xi_c, xi_1, xi_star) from tests/naive.py (quadrature, THEORY.md formulas)."""
    q = nv.q_star(act, sw2, sb2)
    chi_1 = nv.chi_1(act, sw2, q)
    c = nv.c_star(act, sw2, sb2, q)
    chi_c = chi_1 if c == 1.0 else nv.chi_c(act, sw2, q, c)
    xi_c = -1.0 / math.log(chi_c)
    xi_1 = -1.0 / math.log(chi_1) if chi_1 <= 1 else math.nan
    xi_star = -1.0 / (math.log(chi_c) - math.log(chi_1)) if chi_1 > 1 else math.nan
    return q, chi_1, chi_c, xi_c, xi_1, xi_star


def oracle_critical_sw2(act, sb2):
    """chi_1(sw2, q*(sw2, sb2)) = 1 root-solved on the oracle."""
    return optimize.brentq(lambda s: nv.chi_1(act, s, nv.q_star(act, s, sb2)) - 1.0, 1.2, 2.5, xtol=1e-15,
                           rtol=1e-15)


def close(a, b, rel=REL):
    return math.isclose(float(a), b, rel_tol=rel)


# ----------------------------------------------------------------------------- the cases
def test_tanh_at_the_critical_sw2_passes_at_depth_200(cli):
    sw2c = oracle_critical_sw2("tanh", 0.05)
    assert abs(sw2c - 1.76) < 0.005  # literature (Schoenholz et al., THEORY.md)
    for spec in ("critical", repr(sw2c)):
        r, out = run_check(cli, "-a", "tanh", "--sw2", spec, "--sb2", "0.05", "--depth", "200")
        assert r.returncode == 0, r.stderr
        (row,) = out
        assert row["verdict"] == "pass" and row["reason"] == "" and row["failed"] == ""
        assert close(row["sw2"], sw2c, 1e-9)
        # on the critical line xi_c and xi_1 diverge: the limits are ~1e13 or more, never NaN
        assert float(row["max_trainable_depth"]) > 1e9 and float(row["max_conditioned_depth"]) > 1e9


@pytest.mark.parametrize("sw2, depth, verdict", [(1.5, 10, "pass"), (0.8, 200, "fail")])
def test_tanh_ordered_side_against_the_oracle(cli, sw2, depth, verdict):
    q, chi_1, chi_c, xi_c, xi_1, _ = oracle_scales("tanh", sw2, 0.05)
    r, (row,) = run_check(cli, "-a", "tanh", "--sw2", str(sw2), "--sb2", "0.05", "--depth", str(depth))
    assert row["verdict"] == verdict and r.returncode == (0 if verdict == "pass" else 1)
    assert close(row["q_star"], q) and close(row["chi_1"], chi_1) and close(row["xi_c"], xi_c)
    assert close(row["max_trainable_depth"], 6 * xi_c) and close(row["max_conditioned_depth"], 6 * xi_1)
    assert row["max_generalizing_depth"] == "inf" and row["generalization"] == "n/a"  # ordered side
    assert (depth <= 6 * xi_c) == (verdict == "pass")
    if verdict == "fail":
        assert row["failed"] == "trainability"
        assert row["reason"].startswith(f"not trainable: depth {depth} > {6 * xi_c:.4g} = 6 xi_c")
        assert "phasecli check: 1 of 1 fail" in r.stderr


def test_tanh_sw2_4_fails_at_depth_200_against_the_oracle(cli):
    q, chi_1, chi_c, xi_c, _, xi_star = oracle_scales("tanh", 4.0, 0.05)
    r, (row,) = run_check(cli, "-a", "tanh", "--sw2", "4", "--sb2", "0.05", "--depth", "200")
    assert r.returncode == 1 and row["verdict"] == "fail" and row["failed"] == "trainability"
    assert close(row["chi_c"], chi_c, 1e-8) and close(row["xi_star"], xi_star, 1e-8)
    assert close(row["max_trainable_depth"], 6 * xi_c, 1e-8)
    assert close(row["max_generalizing_depth"], M_G * xi_star, 1e-8)
    assert row["conditioning"] == "n/a" and row["max_conditioned_depth"] == "inf"  # chaotic side: kappa -> 1
    assert row["generalization"] == "fail" and 200 > M_G * xi_star


def test_relu_he_passes_at_100_and_chaotic_relu_fails_at_50(cli):
    r, (row,) = run_check(cli, "-a", "relu", "--sw2", "2", "--sb2", "0", "--depth", "100")
    assert r.returncode == 0 and row["verdict"] == "pass"
    assert float(row["chi_1"]) == 1.0 and row["fixed_point"] == "marginal"  # chi_1 = sw2 / 2 exactly
    r, (row,) = run_check(cli, "-a", "relu", "--sw2", "2.5", "--sb2", "0", "--depth", "50")
    assert nv.q_star("relu", 2.5, 0.0) == math.inf  # the oracle: q^l grows like 1.25^l
    assert r.returncode == 1 and row["verdict"] == "fail" and row["failed"] == "signal"
    assert row["reason"].startswith("signal explodes: q* is infinite")
    assert row["max_trainable_depth"] == "nan"  # printed, but it did not pass (the awk bug of the issue)


@pytest.mark.parametrize("args", [["--sw2", "-1"], ["--sb2", "-0.05"], ["--sw2", "nan"], ["--depth", "0"],
                                  ["--depth", "-3"], ["--sw2", "1", "--lr", "-1"]])
def test_bad_input_exits_2_with_one_line(cli, args):
    base = {"--sw2": "1.5", "--sb2": "0.05", "--depth": "10"}
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v
    r = cli("check", *[x for kv in base.items() for x in kv])
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and "error" in r.stderr and r.stdout == ""


def test_data_options_without_lr_are_a_usage_error(cli):
    r = cli("check", "--sw2", "1.5", "--depth", "10", "--m", "30")
    assert r.returncode == 2 and "--lr" in r.stderr


# ----------------------------------------------------------------------------- other criteria
def erf_scales(sw2, sb2):
    """Closed-form erf oracle (arcsine kernel, tests/naive.erf_pair_closed): (chi_1, chi_c, xi_c, xi_star)."""
    qmap = lambda q: sw2 * nv.erf_pair_closed(q, 1.0)[0] + sb2  # noqa: E731
    q = optimize.brentq(lambda x: qmap(x) - x, 1e-9, 100.0, xtol=1e-15, rtol=1e-15)
    chi_1 = sw2 * nv.erf_pair_closed(q, 1.0)[1]
    resid = lambda c: (sw2 * nv.erf_pair_closed(q, c)[0] + sb2) / q - c  # noqa: E731
    c_star = optimize.brentq(resid, 0.0, 1.0 - 1e-6, xtol=1e-15, rtol=1e-15)
    chi_c = sw2 * nv.erf_pair_closed(q, c_star)[1]
    return chi_1, chi_c, -1 / math.log(chi_c), -1 / (math.log(chi_c) - math.log(chi_1))


def test_chaotic_erf_fails_generalization_before_trainability(cli):
    chi_1, chi_c, xi_c, xi_star = erf_scales(2.5, 0.1)
    depth = int(M_G * xi_star) + 2  # past M_G xi_star, well inside 6 xi_c
    assert depth < 6 * xi_c
    r, (row,) = run_check(cli, "-a", "erf", "--sw2", "2.5", "--sb2", "0.1", "--depth", str(depth))
    assert r.returncode == 1 and row["failed"] == "generalization" and row["trainability"] == "pass"
    assert close(row["xi_star"], xi_star, 1e-10) and close(row["max_generalizing_depth"], M_G * xi_star, 1e-10)
    assert row["reason"].startswith(f"will not generalize: depth {depth} > {M_G * xi_star:.4g} = {M_G:g} xi_star")
    r, (row,) = run_check(cli, "-a", "erf", "--sw2", "2.5", "--sb2", "0.1", "--depth", str(depth),
                          "--generalization-multiple", "10")
    assert r.returncode == 0 and close(row["max_generalizing_depth"], 10 * xi_star, 1e-10)


def test_conditioning_multiple_binds_on_the_ordered_side(cli):
    _, chi_1, _, xi_c, xi_1, _ = oracle_scales("tanh", 1.5, 0.05)
    assert close(xi_1, xi_c, 1e-12)  # c* = 1: chi_c = chi_1
    r, (row,) = run_check(cli, "--sw2", "1.5", "--sb2", "0.05", "--depth", "60", "--conditioning-multiple", "3")
    assert 3 * xi_1 < 60 < 6 * xi_c
    assert r.returncode == 1 and row["trainability"] == "pass" and row["failed"] == "conditioning"
    assert close(row["max_conditioned_depth"], 3 * xi_1)


def test_zero_fixed_point_passes_only_at_the_critical_point(cli):
    # tanh sb2 = 0: q* = 0; sw2 = 1 is the critical point (chi_1 = phi'(0)^2 sw2 = 1), sw2 = 0.9 is ordered
    r, (row,) = run_check(cli, "--sw2", "1", "--sb2", "0", "--depth", "100")
    assert r.returncode == 0 and row["fixed_point"] == "zero" and row["signal"] == "pass"
    assert nv.q_star("tanh", 0.9, 0.0) == 0.0
    r, (row,) = run_check(cli, "--sw2", "0.9", "--sb2", "0", "--depth", "3")
    assert r.returncode == 1 and row["failed"] == "signal" and row["reason"].startswith("signal dies: q* = 0")
    assert "chi_1 = 0.9" in row["reason"]


def test_no_critical_point_fails_with_the_reason(cli):
    r, (row,) = run_check(cli, "-a", "silu", "--sw2", "critical", "--sb2", "0.05", "--depth", "10")
    assert r.returncode == 1 and row["failed"] == "signal" and "no critical sw2 at sb2=0.05" in row["reason"]


def test_grid_one_row_per_configuration_sw2_outer(cli):
    r, out = run_check(cli, "--sw2", "1:3:5", "--sb2", "0.05,0.1", "--depth", "20,5")
    assert len(out) == 5 * 2 * 2 and list(out[0]) == list(CHECK)
    assert [(float(o["sw2"]), float(o["sb2"]), int(o["depth"])) for o in out[:4]] == \
        [(1.0, 0.05, 5), (1.0, 0.05, 20), (1.0, 0.1, 5), (1.0, 0.1, 20)]
    assert r.returncode == (0 if all(o["verdict"] == "pass" for o in out) else 1)
    assert all("," not in o["reason"] for o in out)  # reasons stay one awk-able field


def test_learning_rate_against_the_ntk_oracle(cli, tmp_path):
    X = np.random.default_rng(3).standard_normal((6, 4))
    path = tmp_path / "inputs.csv"
    np.savetxt(path, X, delimiter=",")
    sw2, sb2, depth = 1.5, 0.05, 5
    q = optimize.brentq(lambda x: sw2 * nv.erf_pair_closed(x, 1.0)[0] + sb2 - x, 1e-9, 100.0, xtol=1e-15)
    theta = nn.kernels("erf", nn.normalize_rows(X, sw2, sb2, q), sw2, sb2, [depth])[depth][1]
    eta_max = float(2.0 / nn.spectrum(theta)[0])
    args = ["-a", "erf", "--sw2", str(sw2), "--sb2", str(sb2), "--depth", str(depth), "--data", str(path)]
    r, (row,) = run_check(cli, *args, "--lr", repr(0.99 * eta_max))
    assert r.returncode == 0 and row["learning_rate"] == "pass" and close(row["eta_max"], eta_max, 1e-9)
    r, (row,) = run_check(cli, *args, "--lr", repr(1.01 * eta_max))
    assert r.returncode == 1 and row["failed"] == "learning_rate"
    assert row["reason"].startswith("learning rate too large: eta")
    r, (row,) = run_check(cli, *args, "--lr", "1", "--loss", "mean")
    assert close(row["eta_max"], 6 * eta_max, 1e-9)  # mean loss: 2m / lambda_max


def test_terminal_verdict_is_readable(cli):
    r = cli("check", "--sw2", "4", "--sb2", "0.05", "--depth", "200", "-f", "table")
    assert r.returncode == 1
    for text in ("FAIL", "trainability", "generalization", "reason: not trainable", "0 of 1 pass"):
        assert text in r.stdout


# ----------------------------------------------------------------------------- NaN never passes
finite_or_nan = st.one_of(st.just(math.nan), st.just(math.inf), st.floats(0.0, 1e6))


@settings(max_examples=300, deadline=None)
@given(q=st.one_of(st.just(math.nan), st.just(0.0), st.just(math.inf), st.floats(1e-6, 1e3)),
       chi_1=st.one_of(st.just(math.nan), st.just(1.0), st.floats(0.01, 3.0)),
       xi_c=finite_or_nan, xi_1=finite_or_nan, xi_star=finite_or_nan, xi_grad=finite_or_nan,
       fixed_point=st.sampled_from(["stable", "marginal", "zero", "infinite", "unconverged"]),
       phase=st.sampled_from(["ordered", "critical", "chaotic", "unknown"]), depth=st.integers(1, 10_000),
       eta_max=finite_or_nan, eta=st.one_of(st.none(), st.floats(1e-6, 10.0)))
def test_a_pass_is_backed_by_finite_comparisons(q, chi_1, xi_c, xi_1, xi_star, xi_grad, fixed_point, phase, depth,
                                                eta_max, eta):
    p = dict(q_star=q, chi_1=chi_1, chi_c=math.nan, xi_c=xi_c, xi_1=xi_1, xi_star=xi_star, xi_grad=xi_grad,
             fixed_point=fixed_point, phase=phase)
    row = gate._verdict(1.0, 0.05, depth, p, (6.0, 6.0, 6.0), None, eta, eta_max, "", "sum")
    limits = [row["max_trainable_depth"], row["max_conditioned_depth"], row["max_generalizing_depth"]]
    if row["verdict"] == "pass":
        assert not any(math.isnan(x) for x in limits) and all(depth <= x for x in limits)
        assert not math.isnan(chi_1)
        assert 0.0 < q < math.inf or (fixed_point == "zero" and phase == "critical")
        assert eta is None or (not math.isnan(eta_max) and eta <= eta_max)
    else:
        assert row["reason"] and row["failed"] in gate.CRITERIA and row[row["failed"]] == "fail"
