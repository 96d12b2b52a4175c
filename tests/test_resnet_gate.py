"""check / init --architecture resnet: the criteria residual networks have (signal, learning rate on the resnet
NTK against the numpy oracle tests/naive_resnet.py), the fixed-point criteria n/a, and the usage errors."""

from __future__ import annotations

import math

import numpy as np
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
                 ["init", "--architecture", "resnet", "--depth", "5"],
                 ["init", "--residual-scale", "0.5", "--depth", "5"]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 2 and "Traceback" not in res.output, args
    res = runner.invoke(cli, ["check", "-a", "tanh", "--sb2", "0.05", "--depth", "20", "-f", "csv"])
    assert res.exit_code == 0 and res.output.splitlines()[1].endswith(",fc,nan,")
    assert not math.isnan(float(dict(zip(*[l.split(",") for l in res.output.splitlines()[:2]]))["q_star"]))
