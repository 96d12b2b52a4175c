"""check / init --architecture resnet: the criteria residual networks have (signal, learning rate on the resnet
NTK against the numpy oracle tests/naive_resnet.py), the fixed-point criteria n/a, the recommended sw2 for a
gradient growth (closed forms for relu, quadrature oracles for erf and tanh), and the usage errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

import naive_resnet as nr
from phasecli import gate
from phasecli.cli import cli

X = np.random.default_rng(5).standard_normal((6, 4))


def test_learning_rate_criterion_uses_the_resnet_ntk():
    depths = [2, 9]
    for ln in ("none", "pre"):
        v = gate.check_point_resnet("relu", 2.0, 0.1, depths, residual_scale=0.5, layer_norm=ln, eta=0.05, X=X,
                                    normalize=False)
        for k, L in enumerate(depths):
            _, theta = nr.resnet_kernels("relu", X, 2.0, 0.1, L, 0.5, ln == "pre")
            assert abs(v.eta_max[k] * np.linalg.eigvalsh(theta)[-1] / 2.0 - 1.0) < 1e-12
            assert v.learning_rate[k] == ("pass" if 0.05 <= v.eta_max[k] else "fail")
        assert list(v.trainability) == ["n/a", "n/a"] and np.all(np.isnan(v.xi_c)) and np.all(np.isnan(v.q_star))
        assert list(v.architecture) == ["resnet", "resnet"] and np.allclose(v.residual_scale, 0.5)
    v = gate.check_point_resnet("relu", 2.0, 0.1, [3], eta=10.0, X=X, normalize=False)
    assert v.verdict[0] == "fail" and v.failed[0] == "learning_rate" and "eta_max" in v.reason[0]


def test_signal_fails_where_the_stream_overflows():
    """relu without LayerNorm, sw2 = 2, alpha = 1: q^l = 2 q^(l-1) + sb2 overflows float64 near l = 1024."""
    v = gate.check_point_resnet("relu", 2.0, 0.1, [100, 1100])
    assert list(v.signal) == ["pass", "fail"] and v.verdict[1] == "fail" and "explodes" in v.reason[1]
    v = gate.check_point_resnet("relu", 2.0, 0.1, [1100], layer_norm="pre")  # LayerNorm: linear growth
    assert v.verdict[0] == "pass"


def test_cli():
    runner = CliRunner()
    res = runner.invoke(cli, ["check", "-a", "tanh", "--sw2", "1.5", "--sb2", "0.1", "--architecture", "resnet",
                              "--residual-scale", "depth", "--depth", "4,16", "-f", "csv"])
    assert res.exit_code == 0, res.output
    head, *rows = res.output.strip().splitlines()
    assert head.split(",")[-3:] == ["architecture", "residual_scale", "layer_norm"]
    row = dict(zip(head.split(","), rows[1].split(",")))
    assert row["verdict"] == "pass" and row["architecture"] == "resnet" and float(row["residual_scale"]) == 0.25
    assert row["trainability"] == "n/a" and row["q_star"] in ("", "nan")
    for args in (["check", "--architecture", "resnet", "--depth", "5"],
                 ["check", "--sw2", "1", "--layer-norm", "pre", "--depth", "5"],
                 ["init", "--residual-scale", "0.5", "--depth", "5"],
                 ["init", "--grad-growth", "3", "--depth", "5"],
                 ["init", "--architecture", "resnet", "--trainable-multiple", "4", "--depth", "5"],
                 ["init", "--architecture", "resnet", "--grad-growth", "1", "--depth", "5"],
                 ["init", "--architecture", "resnet", "--grad-growth", "0.5", "--depth", "5"],
                 ["init", "--architecture", "resnet", "--grad-growth", "nan", "--depth", "5"],
                 ["init", "--architecture", "resnet", "--residual-scale", "0", "--depth", "5"],
                 ["init", "--architecture", "resnet", "--residual-scale", "-1", "--depth", "5"],
                 ["init", "--architecture", "resnet", "--layer-norm", "post", "--depth", "5"],
                 ["init", "--architecture", "resnet", "--sb2", "-0.1", "--depth", "5"],
                 ["init", "--architecture", "resnet", "--depth", "0"]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 2 and "Traceback" not in res.output, args
    res = runner.invoke(cli, ["check", "-a", "tanh", "--sb2", "0.05", "--depth", "20", "-f", "csv"])
    assert res.exit_code == 0 and res.output.splitlines()[1].endswith(",fc,nan,")
    assert not math.isnan(float(dict(zip(*[l.split(",") for l in res.output.splitlines()[:2]]))["q_star"]))


# ----------------------------------------------------------------------------- init --architecture resnet
def _oracle_growth(phi, dphi, sw2, sb2, depth, alpha, ln, q0=1.0):
    """prod_l (1 + alpha^2 sw2 E[phi'(n(h))^2] / s) along one input's residual stream, by scipy quadrature."""
    from scipy import integrate

    def gauss_mean(f, q):
        g = lambda z: f(math.sqrt(q) * z) ** 2 * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)  # noqa: E731
        return integrate.quad(g, -np.inf, np.inf, epsabs=0.0, epsrel=1e-13, limit=200)[0]

    a2, q, log_growth = alpha * alpha, q0, 0.0
    for _ in range(depth):
        v = 1.0 if ln else q
        log_growth += math.log1p(a2 * sw2 * gauss_mean(dphi, v) / (q if ln else 1.0))
        q += a2 * (sw2 * gauss_mean(phi, v) + sb2)
    return math.exp(log_growth)


def test_resnet_init_relu_closed_forms():
    """relu: E[phi'^2] = 1/2 at every variance, so the growth is (1 + alpha^2 sw2 / 2)^L; with LayerNorm and
    sb2 = 0 it telescopes to q^L / q^0 = 1 + L alpha^2 sw2 / (2 q0)."""
    for depth in (1, 10, 100):
        for growth in (1.5, 2.0, 10.0):
            for scale in (1.0, 0.5, "depth"):
                a2 = 1.0 / depth if scale == "depth" else scale * scale
                r = gate.recommend_resnet("relu", depth, grad_growth=growth, residual_scale=scale)
                want = 2.0 * math.expm1(math.log(growth) / depth) / a2
                assert r.sw2 == pytest.approx(want, rel=1e-12)
                assert r.mean_s2 == pytest.approx(growth, rel=1e-12) and r.sw2_rule == "grad_growth"
                r = gate.recommend_resnet("relu", depth, grad_growth=growth, residual_scale=scale, layer_norm="pre",
                                          q0=2.0)
                assert r.sw2 == pytest.approx(2.0 * 2.0 * (growth - 1.0) / (depth * a2), rel=1e-12)


@pytest.mark.parametrize("activation", ["erf", "tanh"])
@pytest.mark.parametrize("ln", [False, True])
def test_resnet_init_meets_the_growth_of_a_quadrature_oracle(activation, ln):
    from scipy.special import erf

    fns = {"erf": (erf, lambda x: 2.0 / math.sqrt(math.pi) * math.exp(-x * x)),
           "tanh": (math.tanh, lambda x: 1.0 - math.tanh(x) ** 2)}
    depth, sb2 = 12, 0.1
    r = gate.recommend_resnet(activation, depth, sb2=sb2, layer_norm="pre" if ln else "none", grad_growth=3.0)
    assert r.sb2 == sb2 and r.sb2_rule == "given" and r.layer_norm == ("pre" if ln else "none")
    assert _oracle_growth(*fns[activation], r.sw2, sb2, depth, 1.0, ln) == pytest.approx(3.0, rel=1e-10)
    assert all(math.isnan(getattr(r, k)) for k in ("q_star", "chi_1", "xi_q", "xi_c", "max_trainable_depth",
                                                    "var_s2"))


def test_resnet_init_sw2_falls_like_one_over_depth():
    """Yang & Schoenholz: without scaling the branch, the initialization for a fixed gradient budget shrinks
    with depth (sw2 ~ 1/L for small sw2); with alpha = 1/sqrt(L) it tends to a depth-independent value."""
    sw2 = {L: gate.recommend_resnet("tanh", L).sw2 for L in (50, 100, 200)}
    assert sw2[100] * 100 == pytest.approx(sw2[50] * 50, rel=0.05)
    assert sw2[200] * 200 == pytest.approx(sw2[100] * 100, rel=0.05)
    scaled = [gate.recommend_resnet("tanh", L, residual_scale="depth").sw2 for L in (50, 100, 200)]
    assert abs(scaled[2] - scaled[1]) < abs(scaled[1] - scaled[0]) < 0.05 * scaled[0]


def test_resnet_init_cli_rows_and_the_jacobian_agree():
    runner = CliRunner()
    res = runner.invoke(cli, ["init", "-a", "tanh", "--depth", "8,32", "--architecture", "resnet", "--residual-scale",
                              "depth", "--weights", "gaussian,orthogonal", "-f", "csv"])
    assert res.exit_code == 0, res.output
    head, *rows = res.output.strip().splitlines()
    assert head.split(",")[-4:] == ["sw2_rule", "architecture", "residual_scale", "layer_norm"]
    rows = [dict(zip(head.split(","), r.split(","))) for r in rows]
    assert len(rows) == 4 and {r["architecture"] for r in rows} == {"resnet"}
    assert [float(r["residual_scale"]) for r in rows] == pytest.approx([8 ** -0.5] * 2 + [32 ** -0.5] * 2, rel=1e-15)
    assert all(r["q_star"] == "nan" and r["sb2_rule"] == "zero" and r["sb2"] == "0.0" for r in rows)
    assert rows[0]["sw2"] == rows[1]["sw2"]  # the weight law does not change the mean
    sw2 = rows[2]["sw2"]
    res = runner.invoke(cli, ["jacobian", "-a", "tanh", "--sw2", sw2, "--sb2", "0", "--depth", "32", "--architecture",
                              "resnet", "--residual-scale", "depth", "-f", "csv", "--columns", "mean_s2"])
    assert res.exit_code == 0, res.output
    assert float(res.output.splitlines()[1]) == pytest.approx(2.0, rel=1e-12)
    res = runner.invoke(cli, ["init", "-a", "relu", "--depth", "10", "--architecture", "resnet", "--format", "shell"])
    assert res.exit_code == 0 and res.output.startswith("SW2=") and "SB2=0.0" in res.output
    res = runner.invoke(cli, ["init", "-a", "tanh", "--depth", "20", "-f", "csv", "--columns",
                              "sw2_rule,architecture,residual_scale,layer_norm"])
    assert res.exit_code == 0 and res.output.splitlines()[1] == "critical,fc,nan,"
