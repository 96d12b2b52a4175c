"""jacobian --architecture resnet: mean_s2 of the residual stream's Jacobian against closed forms (relu) and
against finite random residual networks (phasecli.finite.resnet, within 4 standard errors); the empty columns
and their status; the command line's usage errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from phasecli.cli import cli
from phasecli.finite.jacobian import pool
from phasecli.finite.resnet import jacobian_statistics
from phasecli.jacobian_spectrum import RESNET_STATUS, resnet_jacobian_spectrum


def test_relu_closed_forms():
    """relu: E[phi'^2] = 1/2.  Without LayerNorm every block multiplies mean_s2 by 1 + alpha^2 sw2 / 2; with it and
    sb2 = 0 the factors q^l / q^(l-1) telescope to q^L / q0 = 1 + L alpha^2 sw2 / (2 q0)."""
    depths = np.array([1, 5, 40])
    r = resnet_jacobian_spectrum("relu", 2.0, 0.3, depths, weights="gaussian,orthogonal", residual_scale=0.6)
    assert np.allclose(r.mean_s2, np.tile((1 + 0.36 * 2.0 / 2) ** depths, 2), rtol=1e-13)
    r = resnet_jacobian_spectrum("relu", 2.0, 0.0, depths, q0=1.5, residual_scale=0.6, layer_norm="pre")
    assert np.allclose(r.mean_s2, 1 + depths * 0.36 * 2.0 / (2 * 1.5), rtol=1e-13)
    r = resnet_jacobian_spectrum("relu", 2.0, 0.3, depths, residual_scale="depth")
    assert np.allclose(r.mean_s2, (1 + 2.0 / (2 * depths)) ** depths, rtol=1e-13)
    assert np.allclose(r.extra["residual_scale"], 1 / np.sqrt(depths))


def test_undefined_columns_are_empty_with_a_status():
    r = resnet_jacobian_spectrum("tanh", 1.5, 0.1, [3])
    row = r.table(("q_star", "chi_1", "var_s2", "s2_max", "s2_min", "phase", "architecture", "layer_norm", "status"))
    assert all(math.isnan(row[k][0]) for k in ("q_star", "chi_1", "var_s2", "s2_max", "s2_min"))
    assert row["phase"][0] == "" and row["architecture"][0] == "resnet" and row["status"][0] == RESNET_STATUS


@pytest.mark.parametrize("activation,ln,scale,weights", [("tanh", "none", 1.0, "gaussian"),
                                                         ("relu", "pre", 1.0, "orthogonal"),
                                                         ("erf", "pre", "depth", "gaussian"),
                                                         ("gelu", "none", 0.7, "orthogonal")])
def test_monte_carlo_mean_within_four_standard_errors(activation, ln, scale, weights):
    depths, width, samples = [1, 3], 256, 6
    theory = resnet_jacobian_spectrum(activation, 1.5, 0.1, depths, weights=weights, residual_scale=scale,
                                      layer_norm=ln)
    stats = [jacobian_statistics(activation, 1.5, 0.1, depths, weights=weights, width=width, seed=7, index=i,
                                 residual_scale=scale, layer_norm=ln) for i in range(samples)]
    mc = pool(stats, depths, width, 1.5)
    z = (mc.mean_s2 - theory.mean_s2) / mc.mean_s2_se
    assert np.all(np.abs(z) < 4.0), z
    assert np.all(mc.mean_s2_se < 0.1 * theory.mean_s2)  # the check has teeth: a 10 % error would show


def test_monte_carlo_detects_a_wrong_theory():
    """The simulator is sensitive to LayerNorm: the theory without it is many standard errors off."""
    depths, width = [4], 256
    stats = [jacobian_statistics("relu", 2.0, 0.1, depths, width=width, seed=3, index=i, layer_norm="pre")
             for i in range(6)]
    mc = pool(stats, depths, width, 2.0)
    wrong = resnet_jacobian_spectrum("relu", 2.0, 0.1, depths, layer_norm="none").mean_s2
    assert abs(mc.mean_s2[0] - wrong[0]) > 8 * mc.mean_s2_se[0]


def test_cli_rows_and_usage_errors():
    runner = CliRunner()
    res = runner.invoke(cli, ["jacobian", "-a", "relu", "--sw2", "2", "--sb2", "0", "--architecture", "resnet",
                              "--residual-scale", "0.5", "--depth", "1,4", "-f", "csv"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    head = lines[0].split(",")
    assert head[-4:] == ["architecture", "residual_scale", "layer_norm", "status"] and len(lines) == 5
    row = dict(zip(head, lines[2].split(",")))
    assert float(row["mean_s2"]) == pytest.approx(1.25 ** 4, rel=1e-14) and row["status"] == RESNET_STATUS
    assert row["var_s2"] in ("", "nan") and row["architecture"] == "resnet" and row["residual_scale"] == "0.5"
    for args, hint in [([], "--sw2"), (["--sw2", "2", "--png", "x.png"], "--png")]:
        res = runner.invoke(cli, ["jacobian", "--architecture", "resnet", "--depth", "3"] + args)
        assert res.exit_code == 2 and hint in res.output
    res = runner.invoke(cli, ["jacobian", "--sw2", "1", "--layer-norm", "pre", "--depth", "3"])
    assert res.exit_code == 2 and "--architecture resnet" in res.output
    res = runner.invoke(cli, ["jacobian", "-a", "tanh", "--sw2", "1", "--sb2", "0.05", "--depth", "3", "-f", "csv"])
    assert res.exit_code == 0 and res.output.splitlines()[1].endswith(",fc,nan,,ok")


def test_overflow_is_reported_not_returned():
    """relu without LayerNorm, sw2 = 2: mean_s2 = 2^L overflows float64 past L = 1023: NaN with status
    'overflow' (a failure: the CLI's warning / --strict), not inf."""
    r = resnet_jacobian_spectrum("relu", 2.0, 0.0, [1000, 1100], weights="gaussian")
    assert r.mean_s2[0] == 2.0 ** 1000 and math.isnan(r.mean_s2[1])
    assert list(r.status) == [RESNET_STATUS, "overflow"]
