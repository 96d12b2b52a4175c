"""Finite random residual networks (phasecli.finite.resnet, verify --architecture resnet) against the
infinite-width theory: the theory against the independent numpy oracle (tests/naive_resnet.py), and
Monte Carlo means of explicitly drawn networks within 4 standard errors (fixed seeds, small sizes)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import naive_resnet as nr
from phasecli.finite import resnet as FR
from phasecli.finite import verify as VF
from phasecli.finite.twoinput import two_inputs


@pytest.mark.parametrize("activation,ln,scale", [("erf", "none", 1.0), ("relu", "pre", "depth"),
                                                 ("erf", "pre", 0.5), ("relu", "none", 1.0)])
def test_theory_matches_oracle(activation, ln, scale):
    q0, c0, sw2, sb2 = 1.3, 0.2, 1.7, 0.15
    depths = [1, 2, 5, 9]
    q, c, th = FR.theory(activation, sw2, sb2, depths, q0=q0, c0=c0, residual_scale=scale, layer_norm=ln)
    X = two_inputs(sw2, sb2, q0=q0, c0=c0)
    for i, L in enumerate(depths):
        alpha = 1.0 / math.sqrt(L) if scale == "depth" else scale
        K, T = nr.resnet_kernels(activation, X, sw2, sb2, L, alpha, ln == "pre", stream=True)
        assert q[i] == pytest.approx(K[0, 0], rel=1e-13)
        assert c[i] == pytest.approx(K[0, 1] / K[0, 0], rel=1e-12, abs=1e-14)
        assert th[i] == pytest.approx(T[0, 0], rel=1e-13)


@pytest.mark.parametrize("activation,ln,scale,width", [("erf", "pre", 1.0, 128), ("relu", "none", "depth", 128),
                                                       ("relu", "pre", 0.7, 256)])
def test_monte_carlo_within_four_standard_errors(activation, ln, scale, width):
    depths = [1, 3]
    S = 300
    s = FR.sample(activation, 1.5, 0.1, width=width, depths=depths, samples=S, seed=11, q0=1.0, c0=0.3,
                  residual_scale=scale, layer_norm=ln)
    q, c, th = FR.theory(activation, 1.5, 0.1, depths, q0=1.0, c0=0.3, residual_scale=scale, layer_norm=ln)
    for sampled, theory in ((s.q, q), (s.c, c), (s.ntk, th)):
        mean = sampled.mean(axis=0)
        se = sampled.std(axis=0, ddof=1) / math.sqrt(S)
        assert np.all(np.abs(mean - theory) < 4 * se), (mean, theory, se)
        assert np.all(se < 0.05 * np.abs(theory) + 0.01)  # the test has power: errors of a few % would fail


def test_finite_layer_norm_is_exact_at_any_width():
    """With LayerNorm the branch input has unit mean square exactly, and a zero-alpha network's q is the
    first layer's: sanity of the simulator's normalization (q = q0 sample mean, not a theory)."""
    s = FR.sample("relu", 2.0, 0.0, width=64, depths=[2], samples=50, seed=3, residual_scale=0.0, layer_norm="pre")
    s1 = FR.sample("relu", 2.0, 0.0, width=64, depths=[2], samples=50, seed=3, residual_scale=0.0, layer_norm="none")
    assert np.allclose(s.q, s1.q) and np.allclose(s.c, s1.c)
    # Theta of a zero-alpha network: readout + first layer only, LayerNorm changes it
    assert not np.allclose(s.ntk, s1.ntk)


def test_verify_rows(cli):
    r = cli("verify", "-a", "erf", "--sw2", "1.5", "--sb2", "0.1", "--architecture", "resnet", "--layer-norm", "pre",
            "--residual-scale", "depth", "--width", "64", "--depth", "1,4", "--samples", "40", "-f", "csv")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    head = lines[0].split(",")
    assert head[-3:] == ["architecture", "residual_scale", "layer_norm"]
    rows = [dict(zip(head, line.split(","))) for line in lines[1:]]
    assert [float(row["residual_scale"]) for row in rows] == [1.0, 0.5]
    assert all(row["phase"] == "" and row["architecture"] == "resnet" for row in rows)
    q, c, th = FR.theory("erf", 1.5, 0.1, [1, 4], q0=1.0, c0=0.5, residual_scale="depth", layer_norm="pre")
    assert [float(row["q_theory"]) for row in rows] == pytest.approx(list(q), rel=1e-12)
    assert [float(row["ntk_theory"]) for row in rows] == pytest.approx(list(th), rel=1e-12)


@pytest.mark.parametrize("args,message", [
    (["--layer-norm", "pre"], "only for residual networks"),
    (["--residual-scale", "0.5"], "only for residual networks"),
    (["--architecture", "resnet", "--residual-scale", "-2"], "not a finite number"),
    (["--architecture", "cnn-f"], "cnn-f"),
])
def test_verify_usage_errors(cli, args, message):
    r = cli("verify", "-a", "erf", "--width", "16", "--depth", "2", "--samples", "4", *args)
    assert r.returncode == 2 and message in r.stderr and r.stdout == ""


def test_verify_plan_budget():
    """The work estimate of resnet grows like width^2 (explicit weights)."""
    tasks, shared, _ = VF.plan("erf", [1.0], [0.1], "64", "1,8", samples=100, architecture="resnet")
    small = VF.workload(tasks, shared["depths"], "resnet")
    tasks, shared, _ = VF.plan("erf", [1.0], [0.1], "128", "1,8", samples=100, architecture="resnet")
    assert VF.workload(tasks, shared["depths"], "resnet") == pytest.approx(4 * small)
