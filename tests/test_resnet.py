"""Residual networks (--architecture resnet): the engine against the independent numpy oracle
(tests/naive_resnet.py: arcsine / arc-cosine closed forms, scipy quadrature), spectra against numpy's
eigvalsh of the oracle's kernels, and the command line (appended columns, usage errors)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_resnet as nr
from phasecli import ntk
from phasecli.validate import InputError

RNG = np.random.default_rng(22)
X = RNG.standard_normal((7, 5))
XT = RNG.standard_normal((3, 5))


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / np.abs(b).max())


def _pass(activation, sw2, sb2, depths, scale, ln, normalize=False, X_=X, Xt=XT, q0=1.0):
    return list(ntk.kernel_pass(activation, X_, sw2, sb2, depths, X_test=Xt, normalize=normalize, q0=q0,
                                architecture="resnet", options={"residual_scale": scale, "layer_norm": ln}))


@pytest.mark.parametrize("activation", ["erf", "relu"])
@pytest.mark.parametrize("ln", ["none", "pre"])
@pytest.mark.parametrize("scale", [1.0, 0.3, "depth"])
@pytest.mark.parametrize("sw2,sb2", [(1.5, 0.1), (3.0, 0.0), (0.5, 0.4)])
def test_kernels_match_oracle(activation, ln, scale, sw2, sb2):
    depths = [1, 2, 7, 30]
    both = np.vstack([X, XT])
    m = X.shape[0]
    for layer in _pass(activation, sw2, sb2, depths, scale, ln):
        alpha = 1.0 / math.sqrt(layer.depth) if scale == "depth" else scale
        K, T = nr.resnet_kernels(activation, both, sw2, sb2, layer.depth, alpha, ln == "pre")
        assert _rel(layer.K_train, K[:m, :m]) < 1e-12
        assert _rel(layer.Theta_train, T[:m, :m]) < 1e-12
        assert _rel(layer.K_test_train, K[m:, :m]) < 1e-12
        assert _rel(layer.Theta_test_train, T[m:, :m]) < 1e-12
        assert _rel(layer.k_test_diag, np.diag(K)[m:]) < 1e-12


@pytest.mark.parametrize("activation,ln", [("erf", "none"), ("relu", "pre"), ("relu", "none")])
def test_rows_scaled_to_q0(activation, ln):
    """Default normalization: every row's first-layer variance is q0 (no q* to scale to)."""
    q0, sw2, sb2 = 2.5, 2.0, 0.2
    layers = _pass(activation, sw2, sb2, [3, 12], 1.0, ln, normalize=True, Xt=None, q0=q0)
    Xs = nr.scale_rows(X, q0, sw2, sb2)
    assert np.allclose(sw2 * (Xs * Xs).sum(1) / X.shape[1] + sb2, q0)
    for layer in layers:
        K, T = nr.resnet_kernels(activation, Xs, sw2, sb2, layer.depth, 1.0, ln == "pre")
        assert _rel(layer.K_train, K) < 1e-12 and _rel(layer.Theta_train, T) < 1e-12


@pytest.mark.parametrize("activation,ln,scale", [("erf", "pre", 1.0), ("relu", "none", "depth"),
                                                 ("relu", "pre", 0.5), ("erf", "none", 1.0)])
def test_spectra_match_oracle(activation, ln, scale):
    """lambda_max, lambda_min, kappa of the NTK and the NNGP: numpy eigvalsh of the oracle's kernels."""
    depths = [1, 5, 20, 60]
    sp = ntk.ntk_spectra(activation, X, 2.0, 0.1, depths, normalize=False, architecture="resnet",
                         options={"residual_scale": scale, "layer_norm": ln})
    assert sp.status == "ok" and sp.architecture == "resnet" and sp.layer_norm == ln
    for i, L in enumerate(depths):
        alpha = 1.0 / math.sqrt(L) if scale == "depth" else scale
        assert sp.residual_scale[i] == pytest.approx(alpha, rel=1e-15)
        K, T = nr.resnet_kernels(activation, X, 2.0, 0.1, L, alpha, ln == "pre")
        lmax, lmin, kappa = nr.spectra(T)
        assert sp.lambda_max[i] == pytest.approx(lmax, rel=1e-11)
        assert sp.lambda_min[i] == pytest.approx(lmin, rel=1e-9)
        assert sp.kappa[i] == pytest.approx(kappa, rel=1e-9)
        assert sp.nngp_kappa[i] == pytest.approx(nr.spectra(K)[2], rel=1e-9)
    # no fixed point: no Table 1 theory and no phase
    assert np.isnan(sp.kappa_theory).all() and np.isnan(sp.kappa_limit).all() and sp.phase == ""
    assert math.isnan(sp.q_star) and math.isnan(sp.chi_1)


@settings(max_examples=25, deadline=None)
@given(activation=st.sampled_from(["erf", "relu"]), ln=st.sampled_from(["none", "pre"]),
       alpha=st.floats(0.0, 2.0), sw2=st.floats(0.05, 4.0), sb2=st.floats(0.0, 1.0), depth=st.integers(1, 12))
def test_kernels_property(activation, ln, alpha, sw2, sb2, depth):
    layer = _pass(activation, sw2, sb2, [depth], alpha, ln, Xt=None)[0]
    K, T = nr.resnet_kernels(activation, X, sw2, sb2, depth, alpha, ln == "pre")
    assert _rel(layer.K_train, K) < 1e-11 and _rel(layer.Theta_train, T) < 1e-11
    # the NTK dominates the NNGP (Theta - K is a sum of positive semi-definite terms)
    assert np.linalg.eigvalsh(layer.Theta_train - layer.K_train)[0] > -1e-9 * np.abs(layer.Theta_train).max()


def test_quadrature_activation_matches_oracle():
    """A smooth activation without closed form (tanh): the engine's quadrature against scipy's."""
    Xs = X[:3]
    dphi = lambda u: 1.0 - math.tanh(u) ** 2  # noqa: E731
    for ln in ("pre", "none"):
        layer = _pass("tanh", 1.5, 0.1, [2], 0.7, ln, X_=Xs, Xt=None)[0]
        K, T = nr.resnet_kernels("tanh", Xs, 1.5, 0.1, 2, 0.7, ln == "pre",
                                 maps=lambda k: nr.quad_maps(math.tanh, dphi, k))
        assert _rel(layer.K_train, K) < 1e-8 and _rel(layer.Theta_train, T) < 1e-8


def test_zero_alpha_is_one_hidden_layer():
    """alpha = 0: the blocks vanish, the network is dense -> phi -> dense (the fc network of depth 1)."""
    res = _pass("erf", 2.0, 0.1, [5], 0.0, "none", Xt=None)[0]
    fc = list(ntk.kernel_pass("erf", X, 2.0, 0.1, [1], normalize=False))[0]
    assert _rel(res.K_train, fc.K_train) < 1e-13 and _rel(res.Theta_train, fc.Theta_train) < 1e-13


def test_relu_deep_without_layer_norm_does_not_overflow():
    """relu, alpha = 1, sw2 = 4: K grows like 3^L; the engine carries the scale apart (lambda_max ~ 1e477)."""
    sp = ntk.ntk_spectra("relu", X, 4.0, 0.0, [1000], normalize=False, architecture="resnet")
    assert sp.status == "ok" and sp.log10_lambda_max[0] > 400 and np.isfinite(sp.kappa[0])


def test_option_errors():
    with pytest.raises(InputError, match="residual_scale"):
        ntk.ntk_spectra("erf", X, 1.0, 0.1, [1], architecture="resnet", options={"residual_scale": -1})
    with pytest.raises(InputError, match="layer_norm"):
        ntk.ntk_spectra("erf", X, 1.0, 0.1, [1], architecture="resnet", options={"layer_norm": "post"})
    with pytest.raises(InputError, match="residual networks"):
        ntk.ntk_spectra("erf", X, 1.0, 0.1, [1], options={"layer_norm": "pre"})
    with pytest.raises(InputError, match="dropout"):
        ntk.ntk_spectra("erf", X, 1.0, 0.1, [1], architecture="resnet", dropout=0.5)
    Z = X.copy()
    Z[2] = 0.0
    with pytest.raises(InputError, match="LayerNorm"):
        ntk.ntk_spectra("erf", Z, 1.0, 0.0, [1], normalize=False, architecture="resnet",
                        options={"layer_norm": "pre"})


def test_point_statuses():
    sp = ntk.ntk_spectra("erf", X, 1.0, 2.0, [1, 3], q0=1.0, architecture="resnet")
    assert sp.status == "q0_below_sb2" and np.isnan(sp.kappa).all() and (sp.residual_scale == 1.0).all()
    sp = ntk.ntk_spectra("erf", X, 0.0, 0.1, [1], architecture="resnet")
    assert sp.status == "sw2_zero"
    dup = np.vstack([X, 3.0 * X[:1]])
    sp = ntk.ntk_spectra("relu", dup, 2.0, 0.1, [1, 4], architecture="resnet")
    assert sp.status == "singular" and sp.singular


def test_cli_columns(cli):
    r = cli("kappa", "-a", "relu", "--sw2", "2", "--sb2", "0.1", "--architecture", "resnet", "--residual-scale",
            "depth", "--layer-norm", "pre", "--depth", "1,4", "--examples", "6", "-f", "csv")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    head = lines[0].split(",")
    assert head[-2:] == ["residual_scale", "layer_norm"]
    rows = [dict(zip(head, line.split(","))) for line in lines[1:]]
    assert [float(row["residual_scale"]) for row in rows] == [1.0, 0.5]
    assert {row["layer_norm"] for row in rows} == {"pre"} and {row["architecture"] for row in rows} == {"resnet"}
    assert {row["phase"] for row in rows} == {""}
    r = cli("lr", "-a", "erf", "--architecture", "resnet", "--depth", "3", "--examples", "5", "-f", "csv")
    assert r.returncode == 0 and r.stdout.splitlines()[0].endswith("architecture,residual_scale,layer_norm")
    r = cli("kappa", "-a", "erf", "--depth", "3", "--examples", "5", "-f", "csv")  # fc rows: both empty
    assert r.returncode == 0
    head = r.stdout.splitlines()[0].split(",")
    row = dict(zip(head, r.stdout.splitlines()[1].split(",")))
    assert row["layer_norm"] == "" and row["residual_scale"] in ("", "nan")


@pytest.mark.parametrize("args,message", [
    (["--architecture", "resnet", "--residual-scale", "-1"], "not a finite number"),
    (["--architecture", "resnet", "--residual-scale", "inf"], "not a finite number"),
    (["--architecture", "resnet", "--residual-scale", "deep"], "not a finite number"),
    (["--architecture", "resnet", "--layer-norm", "post"], "post"),
    (["--residual-scale", "2"], "only for residual networks"),
    (["--layer-norm", "pre"], "only for residual networks"),
    (["--architecture", "resnet", "--image-shape", "2,2,1"], "only for convolutional"),
    (["--architecture", "resnet", "--dropout", "0.5"], "dropout"),
])
def test_cli_usage_errors(cli, args, message):
    r = cli("kappa", "-a", "erf", "--depth", "2", "--examples", "4", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("ln,scale", [("none", 1.0), ("pre", 1.0), ("pre", 0.1)])
def test_relu_deep_against_mpmath(ln, scale):
    """relu to depth 80 against the 40-digit mpmath recursion: the kernels and kappa to ~1e-13 (a float64
    arccos at c = 1 would cost ~1e-8: neural-tangents' relu NTK carries such errors)."""
    Xs = X[:5]
    sp = ntk.ntk_spectra("relu", Xs, 2.0, 0.1, [20, 80], normalize=False, architecture="resnet",
                         options={"residual_scale": scale, "layer_norm": ln})
    ref = nr.resnet_kernels_mp("relu", Xs, 2.0, 0.1, [20, 80], scale, ln == "pre")
    layers = _pass("relu", 2.0, 0.1, [20, 80], scale, ln, X_=Xs, Xt=None)
    for i, L in enumerate((20, 80)):
        K, T = ref[L]
        assert _rel(layers[i].K_train, K) < 1e-13 and _rel(layers[i].Theta_train, T) < 1e-13
        w = np.linalg.eigvalsh(T)
        assert sp.kappa[i] == pytest.approx(w[-1] / w[0], rel=1e-11)


def test_cli_figure(cli, tmp_path):
    """The one-point figure of a resnet run: no Table 1 curve (there is no fixed point), drawn without error."""
    png = tmp_path / "k.png"
    r = cli("kappa", "-a", "erf", "--architecture", "resnet", "--residual-scale", "depth", "--depth", "1:6",
            "--examples", "5", "--png", png, "-f", "csv")
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
