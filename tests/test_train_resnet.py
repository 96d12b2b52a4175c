"""`phasecli train --architecture resnet`: eta_max from the infinite-width resnet NTK (tests/naive_resnet.py,
closed forms), the finite networks' lambda_max_empirical converging to it with width, the CLI's appended
columns, fc rows unchanged, and hostile input as one-line errors."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

import naive_resnet as NR
from phasecli.cli import columns
from phasecli.finite import network as N
from phasecli.finite import train as T

TRAIN_CMD = ("train", "-a", "tanh", "--architecture", "resnet", "--layer-norm", "pre", "--depth", "2", "--width",
             "64", "--steps", "20", "-f", "csv")


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("activation,sw2,sb2,ln,scale,depth", [
    ("erf", 2.0, 0.1, "none", 1.0, 3), ("erf", 1.5, 0.05, "pre", "depth", 5), ("relu", 2.0, 0.1, "pre", 0.5, 2),
    ("relu", 1.0, 0.2, "none", "depth", 4)])
def test_eta_max_is_the_infinite_width_resnet_ntk(activation, sw2, sb2, ln, scale, depth):
    """eta_max = 2 / lambda_max of tests/naive_resnet.py's NTK on the rows scaled to q^0 = q0, and the finite
    networks train on exactly those rows."""
    X = np.random.default_rng(3).standard_normal((7, 5))
    q0 = 1.3
    setup = T.prepare(activation, X, sw2=sw2, sb2=sb2, depth=depth, width=8, samples=1, n_steps=0, q0=q0,
                      architecture="resnet", residual_scale=scale, layer_norm=ln)
    alpha = 1.0 / math.sqrt(depth) if scale == "depth" else scale
    Xs = NR.scale_rows(X, q0, sw2, sb2)
    _, theta = NR.resnet_kernels(activation, Xs, sw2, sb2, depth, alpha, ln == "pre")
    lam = np.linalg.eigvalsh(theta)[-1]
    assert setup.lambda_max_inf == pytest.approx(lam, rel=1e-10)
    assert setup.eta_max == pytest.approx(2.0 / lam, rel=1e-10)
    np.testing.assert_allclose(setup.X, Xs, rtol=1e-13)
    assert setup.residual_scale == alpha and setup.layer_norm == ln and setup.architecture == "resnet"
    nets = T.draw_networks(setup)
    assert len(nets.W) == depth + 2 and nets.residual_scale == alpha and nets.layer_norm == ln


def _relative_lambdas(activation, sw2, sb2, ln, scale, width, samples=8):
    X = np.random.default_rng(0).standard_normal((8, 10))
    setup = T.prepare(activation, X, sw2=sw2, sb2=sb2, depth=3, width=width, samples=samples, seed=1, n_steps=0,
                      architecture="resnet", residual_scale=scale, layer_norm=ln)
    nets = T.draw_networks(setup)
    lam = np.array([T.lambda_max(N.ntk(nets.network(i), setup.X)[0]) for i in range(samples)])
    return lam / setup.lambda_max_inf - 1.0


@pytest.mark.parametrize("activation,sw2,sb2,ln,scale", [("tanh", 1.5, 0.05, "none", 1.0),
                                                         ("relu", 2.0, 0.1, "pre", "depth")])
def test_empirical_lambda_max_converges_to_the_infinite_width_one(activation, sw2, sb2, ln, scale):
    """8 resnets of depth 3 on 8 inputs: the relative deviation of each network's lambda_max from the
    infinite-width one has a spread (sd) of 5-7 % at width 256 and 2-3 % at width 1024 (measured, seed 1), i.e.
    ~1/sqrt(N).  Asserted: the mean deviation at width 1024 within 4 standard errors plus a 1 % O(L/N)
    allowance, the spread below 5 % and below that at width 256."""
    wide = _relative_lambdas(activation, sw2, sb2, ln, scale, 1024)
    narrow = _relative_lambdas(activation, sw2, sb2, ln, scale, 256)
    sd = wide.std(ddof=1)
    assert abs(wide.mean()) <= 4 * sd / math.sqrt(wide.size) + 0.01, wide
    assert sd < 0.05 and sd < narrow.std(ddof=1), (wide, narrow)


def test_cli_rows_have_the_appended_columns_and_eta_is_what_lr_prints(cli):
    r = cli(*TRAIN_CMD)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.splitlines()[0] == ",".join(columns.TRAIN)
    assert columns.TRAIN[-3:] == ("architecture", "residual_scale", "layer_norm")
    rows = _rows(r.stdout)
    assert len(rows) == 5
    assert {(row["architecture"], row["residual_scale"], row["layer_norm"]) for row in rows} == {("resnet", "1.0",
                                                                                                  "pre")}
    lr = cli("lr", "-a", "tanh", "--sw2", "1.5", "--sb2", "0.05", "--architecture", "resnet", "--layer-norm", "pre",
             "--depth", "2", "--dim", "10", "--value", "eta_max")
    assert lr.returncode == 0, lr.stderr
    assert [float(row["eta"]) for row in rows] == pytest.approx(
        [f * float(lr.stdout) for f in (0.5, 1, 1.5, 2, 3)], rel=1e-14)
    # width 64 with LayerNorm: the empirical lambda_max within 25 % of the infinite-width one (8 % measured)
    assert float(rows[0]["lambda_max_empirical"]) == pytest.approx(float(rows[0]["lambda_max_inf"]), rel=0.25)
    assert rows[0]["regime"] == "lazy" and rows[-1]["regime"] == "divergent"


def test_residual_scale_depth_gives_each_depth_its_alpha(cli):
    r = cli("train", "-a", "relu", "--sw2", "2", "--sb2", "0.1", "--architecture", "resnet", "--residual-scale",
            "depth", "--depth", "1,4", "--width", "32", "--samples", "2", "--steps", "5", "--lr-factor", "1",
            "-f", "csv", "--columns", "depth,residual_scale,layer_norm,eta")
    assert r.returncode == 0, r.stderr
    rows = _rows(r.stdout)
    assert [(row["depth"], float(row["residual_scale"]), row["layer_norm"]) for row in rows] == [
        ("1", 1.0, "none"), ("4", 0.5, "none")]


def test_fc_rows_keep_their_values_and_say_fc(cli):
    """The fc network of a seed is the one drawn before resnets existed (the draw test of
    tests/test_finite_resnet.py); its rows end with fc, nan and an empty layer_norm."""
    r = cli("train", "-a", "erf", "--width", "16", "--samples", "2", "--steps", "5", "--lr-factor", "1", "-f", "csv")
    assert r.returncode == 0, r.stderr
    row = _rows(r.stdout)[0]
    assert (row["architecture"], row["residual_scale"], row["layer_norm"]) == ("fc", "nan", "")


BASE = ("train", "-a", "tanh", "--width", "16", "--steps", "3", "--samples", "1", "--examples", "4", "--dim", "3")


@pytest.mark.parametrize("args,needle", [
    (("--architecture", "resnet", "--residual-scale", "-1"), "--residual-scale"),
    (("--architecture", "resnet", "--residual-scale", "nan"), "--residual-scale"),
    (("--architecture", "resnet", "--residual-scale", "inf"), "--residual-scale"),
    (("--architecture", "resnet", "--residual-scale", "deep"), "--residual-scale"),
    (("--architecture", "resnet", "--residual-scale", "1,2"), "--residual-scale"),
    (("--architecture", "resnet", "--residual-scale", "1e300"), "--residual-scale"),
    (("--architecture", "resnet", "--residual-scale", "1e200", "--layer-norm", "pre"), "--residual-scale"),
    (("--architecture", "resnet", "--layer-norm", "post"), "--layer-norm"),
    (("--architecture", "resnet", "--depth", "100000"), "--depth"),
    (("--architecture", "resnet", "--depth", "0"), "--depth"),
    (("--architecture", "resnet", "--width", "1", "--layer-norm", "pre"), "--width"),
    (("--architecture", "resnet", "--width", "1,16", "--layer-norm", "pre"), "--width"),
    (("--architecture", "resnet", "--dropout", "0.1"), "--dropout"),
    (("--residual-scale", "0.5"), "--architecture"),
    (("--layer-norm", "pre"), "--architecture"),
    (("--architecture", "cnn-f"), "--architecture"),
    (("--architecture", "fc,resnet"), "--architecture"),
    (("--architecture", "resnet", "--q0", "0.01", "--sb2", "0.05"), "--normalize"),
    (("--architecture", "resnet", "--sw2", "0"), "--sw2"),
    (("--architecture", "resnet", "--sw2", "1e300"), "--sw2"),
    (("--architecture", "resnet", "--samples", "10000", "--width", "100000"), "--samples"),
    (("--architecture", "resnet", "--examples", "5000"), "4,000"),
])
def test_hostile_resnet_input_is_one_line_exit_2(cli, args, needle):
    r = cli(*BASE, *args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("args", [
    ("--residual-scale", "0"), ("--residual-scale", "DEPTH", "--depth", "1,4"), ("--width", "1"),
    ("--width", "2", "--layer-norm", "pre"), ("--q0", "0.01", "--sb2", "0.05", "--no-normalize"),
    ("-a", "leaky_relu", "--slope", "0.2", "--layer-norm", "pre"), ("--normalize", "position"),
    ("--residual-scale", "1e5"), ("--lr-factor", "1e6")])
def test_odd_but_valid_resnet_input_runs(cli, args):
    r = cli(*BASE, "--architecture", "resnet", *args, "-f", "csv")
    assert r.returncode == 0, r.stderr
    rows = _rows(r.stdout)
    assert rows and all(row["architecture"] == "resnet" for row in rows)
    assert all(row["status"] in ("ok", "all networks diverged") for row in rows)


def test_residual_scale_zero_is_a_dense_first_layer_and_readout(cli):
    """alpha = 0: the blocks add nothing; the network is the depth-1 fc network's function with unused
    blocks, and the infinite-width NTK is that of tests/naive_resnet.py with no block (a dense layer and the
    readout) on the rows scaled to q^0 = q0."""
    r0 = cli(*BASE, "-a", "erf", "--architecture", "resnet", "--residual-scale", "0", "--depth", "3", "--lr-factor", "1",
             "--q0", "1.2", "--value", "lambda_max_inf")
    assert r0.returncode == 0, r0.stderr
    X = np.random.default_rng(0).standard_normal((4, 3))
    Xs = NR.scale_rows(X, 1.2, 1.5, 0.05)
    _, theta = NR.resnet_kernels("erf", Xs, 1.5, 0.05, 0, 0.0, False)
    assert float(r0.stdout) == pytest.approx(np.linalg.eigvalsh(theta)[-1], rel=1e-8)


@pytest.mark.parametrize("ln,scale,lr_factor", [("none", 1.0, 0.8), ("pre", "depth", 1.5)])
def test_training_follows_independent_gradient_descent(ln, scale, lr_factor):
    """The loss trajectory of ``train_at`` against plain gradient descent on the independent numpy resnet of
    tests/test_finite_resnet.py with central finite-difference gradients, from the same initial parameters, at
    eta = lr_factor * 2 / lambda_max of tests/naive_resnet.py's NTK (erf closed forms)."""
    from test_finite_resnet import oracle_outputs

    X = np.random.default_rng(4).standard_normal((3, 2))
    depth, sw2, sb2 = 2, 1.8, 0.1
    setup = T.prepare("erf", X, sw2=sw2, sb2=sb2, depth=depth, width=4, samples=1, seed=2, n_steps=6,
                      architecture="resnet", residual_scale=scale, layer_norm=ln)
    run = T.train_at(lr_factor, setup)
    alpha = 1.0 / math.sqrt(depth) if scale == "depth" else scale
    Xs = NR.scale_rows(X, 1.0, sw2, sb2)
    theta = NR.resnet_kernels("erf", Xs, sw2, sb2, depth, alpha, ln == "pre")[1]
    eta = lr_factor * 2.0 / np.linalg.eigvalsh(theta)[-1]
    nets = T.draw_networks(setup)
    params = [p[0].copy() for p in nets.parameters()]

    def loss(ps):
        r = oracle_outputs(ps[0::2], ps[1::2], Xs, "erf", sw2, sb2, alpha, ln == "pre")
        return 0.5 * float(np.sum(r * r))

    losses = []
    for _ in range(7):
        losses.append(loss(params))
        grads = []
        for p in params:
            g = np.empty_like(p)
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + 1e-6
                up = loss(params)
                p[i] = old - 1e-6
                down = loss(params)
                p[i] = old
                g[i] = (up - down) / 2e-6
            grads.append(g)
        params = [p - eta * g for p, g in zip(params, grads)]
    assert run.eta == pytest.approx(eta, rel=1e-10)
    np.testing.assert_allclose(run.losses[:, 0], losses, rtol=1e-6)
    assert max(losses) > 0.01  # the trajectory is not trivially zero
