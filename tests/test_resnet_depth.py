"""phase / depth-scale --architecture resnet: q^L, c^L against the numpy oracle (tests/naive_resnet.py),
the gradient growth against closed forms, the power-law exponent against a fit of the oracle's c^l, the
statuses where a quantity does not exist, and the command line."""

from __future__ import annotations

import math

import numpy as np
import pytest

import naive_resnet as nr
from phasecli.finite.twoinput import two_inputs
from phasecli.meanfield.resnet import resnet_depth_grid


@pytest.mark.parametrize("activation,ln,scale", [("erf", "none", 1.0), ("relu", "pre", 1.0), ("relu", "none", 0.3),
                                                 ("erf", "pre", "depth")])
def test_q_and_c_match_oracle(activation, ln, scale):
    L, q0 = 12, 1.4
    g = resnet_depth_grid(activation, [0.8, 2.0], [0.0, 0.2], L, q0=q0, residual_scale=scale, layer_norm=ln)
    alpha = 1.0 / math.sqrt(L) if scale == "depth" else scale
    for i in range(g.sw2.size):
        X = two_inputs(g.sw2[i], g.sb2[i], q0=q0, c0=0.5)
        K, _ = nr.resnet_kernels(activation, X, g.sw2[i], g.sb2[i], L, alpha, ln == "pre", stream=True)
        assert g.q_depth[i] == pytest.approx(K[0, 0], rel=1e-12)
        assert g.c_depth[i] == pytest.approx(K[0, 1] / K[0, 0], rel=1e-12)
        assert g.residual_scale[i] == pytest.approx(alpha) and g.status[i] == "ok"


@pytest.mark.parametrize("ln", ["none", "pre"])
def test_smooth_activation_matches_scipy_oracle(ln):
    """tanh (Mehler's series, quadrature where its tail is not pinned): q^L, c^L and the gradient growth
    against the oracle's scipy quadrature, over cells whose variance grows to ~8 (sw2 = 4 without LayerNorm)."""
    L, q0 = 4, 1.2
    dphi = lambda u: 1.0 - math.tanh(u) ** 2  # noqa: E731
    g = resnet_depth_grid("tanh", [0.7, 4.0], [0.3], L, q0=q0, residual_scale=1.0, layer_norm=ln)
    for i in range(g.sw2.size):
        X = two_inputs(g.sw2[i], g.sb2[i], q0=q0, c0=0.5)
        K, _ = nr.resnet_kernels("tanh", X, g.sw2[i], g.sb2[i], L, 1.0, ln == "pre", stream=True,
                                 maps=lambda k: nr.quad_maps(math.tanh, dphi, k))
        assert g.q_depth[i] == pytest.approx(K[0, 0], rel=1e-10)
        assert g.c_depth[i] == pytest.approx(K[0, 1] / K[0, 0], rel=1e-10)


def test_gradient_growth_closed_forms():
    """relu: E[phi'^2] = 1/2 at any variance.  Without LayerNorm chi_l = 1 + alpha^2 sw2 / 2 exactly; with it
    (sb2 = 0) chi_l = q^l / q^(l-1), so the product telescopes to q^L / q^0 = 1 + L alpha^2 sw2 / (2 q0)."""
    L, a = 40, 0.6
    g = resnet_depth_grid("relu", [0.5, 2.0, 3.0], [0.0], L, q0=2.0, residual_scale=a, layer_norm="none")
    assert np.allclose(g.grad_growth, (1 + a * a * g.sw2 / 2) ** L, rtol=1e-12)
    g = resnet_depth_grid("relu", [0.5, 2.0, 3.0], [0.0], L, q0=2.0, residual_scale=a, layer_norm="pre")
    assert np.allclose(g.grad_growth, 1 + L * a * a * g.sw2 / 4.0, rtol=1e-12)
    assert np.allclose(g.q_depth, 2.0 + L * a * a * g.sw2 / 2, rtol=1e-13)  # q^L = q0 + L alpha^2 sw2 E[relu^2]


def test_exponent_is_the_fit_of_the_oracle_sequence():
    L = 64
    g = resnet_depth_grid("relu", [2.0], [0.1], L, residual_scale=1.0, layer_norm="pre")
    X = two_inputs(2.0, 0.1, q0=1.0, c0=0.5)
    ls = np.arange(L // 4, L + 1)
    one_minus_c = []
    for l in ls:
        K, _ = nr.resnet_kernels("relu", X, 2.0, 0.1, int(l), 1.0, True, stream=True)
        one_minus_c.append(1 - K[0, 1] / K[0, 0])
    p = -np.polyfit(np.log(ls), np.log(one_minus_c), 1)[0]
    assert g.exponent_status[0] == "ok" and g.c_exponent[0] == pytest.approx(p, rel=1e-9)
    assert 0.05 < p < 2.0


def test_statuses_where_the_exponent_does_not_exist():
    assert resnet_depth_grid("relu", [2.0], [0.1], 50, residual_scale="depth").exponent_status[0] == \
        "alpha_depends_on_depth"
    assert resnet_depth_grid("relu", [2.0], [0.1], 5).exponent_status[0] == "too_shallow"
    g = resnet_depth_grid("erf", [2.0], [0.1], 100)  # erf saturates: c^l does not go to 1
    assert g.exponent_status[0] == "no_decay" and math.isnan(g.c_exponent[0])
    g = resnet_depth_grid("relu", [2.0], [2.0], 5, q0=1.0)
    assert g.status[0] == "q0_below_sb2" and math.isnan(g.q_depth[0])
    g = resnet_depth_grid("relu", [50.0], [0.0], 3000)  # (1 + 25)^3000 overflows
    assert g.status[0] == "overflow" and math.isnan(g.grad_growth[0])


def test_cli(cli):
    r = cli("phase", "-a", "relu", "--sw2", "1,2", "--sb2", "0", "--architecture", "resnet", "--layer-norm", "pre",
            "--depth", "20", "-f", "csv")
    assert r.returncode == 0, r.stderr
    head, *rows = r.stdout.strip().splitlines()
    assert head.split(",")[-3:] == ["c_exponent", "exponent_status", "status"] and len(rows) == 2
    r2 = cli("depth-scale", "-a", "relu", "--sw2", "1,2", "--sb2", "0", "--architecture", "resnet", "--layer-norm",
             "pre", "--depth", "20", "-f", "csv")
    assert r2.stdout == r.stdout
    one_point_png = ["--architecture", "resnet", "--depth", "5", "--png", "x.png"]
    for args, message in ((["--depth", "5"], "only for residual"), (["--architecture", "resnet"], "--depth"),
                          (one_point_png, "one (sw2, sb2) point has no figure")):
        r = cli("phase", "--sw2", "1", "--sb2", "0", *args)
        assert r.returncode == 2 and message in r.stderr and r.stdout == ""


@pytest.mark.parametrize("sw2, sb2, layout", [("0.5,1,2,4", "0,0.2,0.5", "heatmap"), ("0.5:4:6", "0.1", "line-sw2")])
def test_figure_draws_the_four_quantities(cli, monkeypatch, tmp_path, sw2, sb2, layout):
    """--png: four panels (heatmaps over the grid, or curves of a 1-D sweep); cells without a value (erf without
    LayerNorm: 1 - c^l does not decay, no exponent) are explained below the panels by their status."""
    import phasecli.plotting.resnet as pr

    figures = []
    monkeypatch.setattr(pr, "save", lambda fig, path: figures.append(fig))
    r = cli("phase", "-a", "erf", "--sw2", sw2, "--sb2", sb2, "--architecture", "resnet", "--depth", "30",
            "--png", str(tmp_path / "r.png"), "-f", "csv")
    assert r.returncode == 0, r.stderr
    fig = figures[0]
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split(" (")[0] for ax in panels][:2] == ["$q^L$", "$c^L$"] and len(panels) == 4
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "does not decay" in legend
    if layout == "heatmap":
        assert len(fig.axes) == 8  # each heatmap with its colour bar
    else:
        assert panels[0].get_xlabel().startswith(r"$\sigma_w^2$")
