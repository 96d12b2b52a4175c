"""The chaotic kappa_theory is the exact large-depth limit for the given inputs (max A / min A of the NTK
diagonals' prefactors), checked against independent recursions at depth 1000 (tests/naive_cnn.py,
tests/naive_ntk.py, tests/naive.py); --normalize position makes it 1.  docs/theory.md, "Large depth"."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import naive as nv
import naive_cnn as nc
import naive_ntk as nn
from phasecli import ntk
from phasecli.cli import cli
from phasecli.validate import InputError

DIGITS = Path(__file__).resolve().parents[1] / "phasecli" / "data" / "digits_train.csv"
SW2, SB2 = 3.0, 0.05  # erf, chaotic (chi_1 = 1.35)


def _digits(n, crop=None):
    """The first n bundled digit images (8x8x1), read directly; ``crop`` keeps rows/columns crop:8-crop."""
    rows = np.loadtxt(DIGITS, delimiter=",", max_rows=n)[:, :64]
    if crop:
        rows = rows.reshape(n, 8, 8)[:, crop:8 - crop, crop:8 - crop].reshape(n, -1)
    return rows


def _scale_rows(X, q, sw2=SW2, sb2=SB2):
    return X * np.sqrt(X.shape[1] * (q - sb2) / sw2) / np.linalg.norm(X, axis=1)[:, None]


def _scale_pixels(X, image, q, sw2=SW2, sb2=SB2):
    h, w, c = image
    px = X.reshape(X.shape[0], h * w, c)
    return (px * np.sqrt(c * (q - sb2) / sw2) / np.linalg.norm(px, axis=2)[:, :, None]).reshape(X.shape)


def _kappa(th):
    w = np.linalg.eigvalsh(th)
    return w[-1] / w[0]


@pytest.mark.parametrize("arch,m,crop", [("cnn-f", 6, 0), ("cnn-p", 5, 2)])
def test_chaotic_kappa_theory_is_the_depth_1000_kappa_on_digit_images(arch, m, crop):
    """Digit images (positions of unequal variance): kappa -> max A / min A != 1; phasecli's kappa at depth 1000,
    its kappa_theory and the independent full recursion agree to 1e-6 (CNN-P on the 4x4 centre, for speed)."""
    X = _digits(m, crop)
    side = 8 - 2 * crop
    image = (side, side, 1)
    s = ntk.ntk_spectra("erf", X, SW2, SB2, [1000], architecture=arch, image_shape=image)
    q = nn.q_star("erf", SW2, SB2)
    th = nc.cnn_kernels_erf(_scale_rows(X, q), image, 3, SW2, SB2, [1000], arch == "cnn-p")[1000][1]
    ref = _kappa(th)
    assert s.phase == "chaotic" and s.resolved.all()
    assert ref > 1.002  # the per-image prefactors differ: not 1 (1.0365 CNN-F, 1.0025 CNN-P)
    assert abs(s.kappa_theory[0] - ref) < 1e-6 * ref, (s.kappa_theory[0], ref)
    assert abs(s.kappa[0] - s.kappa_theory[0]) < 1e-6 * ref
    assert abs(s.lambda_max[0] / s.lambda_max_theory[0] - 1) < 1e-9  # the largest diagonal, A_max chi_1^l
    assert abs(s.lambda_max[0] / np.linalg.eigvalsh(th)[-1] - 1) < 1e-9


@pytest.mark.parametrize("arch", ["cnn-f", "cnn-p"])
def test_position_normalization_makes_the_chaotic_limit_one(arch):
    image = (4, 4, 3)
    X = ntk.synthetic_data(4, 48, 11)
    s = ntk.ntk_spectra("erf", X, SW2, SB2, [1, 1000], architecture=arch, image_shape=image, normalize="position")
    example = ntk.ntk_spectra("erf", X, SW2, SB2, [1000], architecture=arch, image_shape=image)
    q = nn.q_star("erf", SW2, SB2)
    ref = nc.cnn_kernels_erf(_scale_pixels(X, image, q), image, 3, SW2, SB2, [1, 1000], arch == "cnn-p")
    assert s.kappa_theory[1] == 1.0 and abs(s.kappa[1] - 1.0) < 1e-6
    assert abs(_kappa(ref[1000][1]) - 1.0) < 1e-6
    assert abs(s.kappa[0] / _kappa(ref[1][1]) - 1) < 1e-12  # the scaling itself, at depth 1
    assert example.kappa_theory[0] > 1.0 + 1e-4  # with the default (per example) it is not 1


def test_position_normalization_kernels_match_pixel_scaled_oracle():
    image = (3, 4, 2)
    X = ntk.synthetic_data(3, 24, 2)
    q = nn.q_star("erf", SW2, SB2)
    ref = nc.cnn_kernels_erf(_scale_pixels(X, image, q), image, 3, SW2, SB2, [1, 3], True)
    for layer in ntk.kernel_pass("erf", X, SW2, SB2, [1, 3], architecture="cnn-p", image_shape=image,
                                 normalize="position"):
        nngp, th = ref[layer.depth]
        assert np.abs(layer.K_train - nngp).max() < 1e-13 * np.abs(nngp).max()
        assert np.abs(layer.Theta_train - th).max() < 1e-13 * np.abs(th).max()


def test_fc_data_as_given_chaotic_limit_is_not_one():
    """Rows of different norms (--no-normalize): kappa -> max A / min A, against the plain fc recursion."""
    X = ntk.synthetic_data(4, 10, 3) * np.array([0.5, 1.0, 1.5, 2.0])[:, None]
    s = ntk.ntk_spectra("erf", X, SW2, SB2, [1000], normalize=False)
    th = nn.kernels("erf", X, SW2, SB2, [1000])[1000][1]
    ref = _kappa(th)
    assert ref > 1.05
    assert abs(s.kappa_theory[0] - ref) < 1e-6 * ref and abs(s.kappa[0] - ref) < 1e-6 * ref
    assert ntk.ntk_spectra("erf", X, SW2, SB2, [1000]).kappa_theory[0] == 1.0  # rows scaled to q*


def test_fc_tanh_prefactors_against_a_quadrature_diagonal_recursion():
    """A quadrature activation (the engine's moments path): A(x) from the diagonal recursion
    v' = sw2 E[phi(sqrt(v) z)^2] + sb2, P' = v' + sw2 E[phi'(sqrt(v) z)^2] P by 1-D quad, A_L =
    (P^L + q*/(chi_1 - 1)) / chi_1^L at L = 60 (converged to ~1e-12 for this point)."""
    sw2, sb2 = 3.0, 0.1
    X = ntk.synthetic_data(3, 6, 5) * np.array([0.4, 1.0, 1.7])[:, None]
    s = ntk.ntk_spectra("tanh", X, sw2, sb2, [5], normalize=False)
    q = nn.q_star("tanh", sw2, sb2)
    chi = sw2 * nv.dphi2("tanh", q)
    v = sw2 * np.einsum("ij,ij->i", X, X) / X.shape[1] + sb2
    p = v.copy()
    for _ in range(59):  # P^1 = v^1 -> P^60
        t = np.array([nv.length_map("tanh", a) for a in v])
        td = np.array([nv.dphi2("tanh", a) for a in v])
        v = sw2 * t + sb2
        p = v + sw2 * td * p
    a = (p + q / (chi - 1.0)) / chi ** 60
    ref = a.max() / a.min()
    assert ref > 1.01
    assert abs(s.kappa_theory[0] / ref - 1) < 1e-9, (s.kappa_theory[0], ref)


def test_fc_position_normalization_is_example():
    X = ntk.synthetic_data(5, 7, 1)
    a = ntk.ntk_spectra("erf", X, 1.5, 0.05, [1, 10], normalize="position")
    b = ntk.ntk_spectra("erf", X, 1.5, 0.05, [1, 10], normalize=True)
    np.testing.assert_array_equal(a.kappa, b.kappa)


def test_bad_normalize_and_zero_pixels_are_input_errors():
    X = ntk.synthetic_data(3, 12, 0)
    with pytest.raises(InputError) as err:
        ntk.ntk_spectra("erf", X, 1.5, 0.1, [1], normalize="pixel")
    assert err.value.param == "normalize"
    X[1, 3:6] = 0.0  # pixel (1, 2) of row 2 in 2x2x3 images
    kw = dict(architecture="cnn-f", image_shape=(2, 2, 3), filter_size=1)
    with pytest.raises(InputError) as err:
        ntk.ntk_spectra("erf", X, 1.5, 0.1, [1], normalize="position", **kw)
    assert "row 2" in str(err.value) and "(h, w) = (1, 2)" in str(err.value)
    ntk.ntk_spectra("erf", X, 1.5, 0.1, [1], **kw)  # per example: fine


def _run(*args):
    return CliRunner().invoke(cli, ["kappa", "-a", "erf", "--sw2", "3", "--sb2", "0.05", "--examples", "3",
                                    "--depth", "1,20", "-f", "csv", "--columns", "depth,kappa,kappa_theory", *args])


def test_cli_normalize_values():
    default, bare, example = _run(), _run("--normalize"), _run("--normalize", "example")
    assert default.exit_code == 0 and default.output == bare.output == example.output
    cnn = ["--architecture", "cnn-f", "--image-shape", "3,3,1", "--dim", "9"]
    pos = _run(*cnn, "--normalize", "position")
    assert pos.exit_code == 0 and pos.output != _run(*cnn).output
    for bad in (["--normalize", "foo"], ["--normalize", "position", "--no-normalize"]):
        r = _run(*bad)
        assert r.exit_code == 2 and "Traceback" not in r.output
    assert _run("--no-normalize").exit_code == 0


@pytest.mark.parametrize("command", ["kappa", "lr", "generalize", "train", "check"])
def test_every_command_declares_the_same_normalize(command):
    text = CliRunner().invoke(cli, [command, "--help"], terminal_width=200).output
    assert "--normalize [example|position]" in text and "--no-normalize" in text


def test_chaotic_prefactor_ratio_formula():
    from phasecli.ntk.asymptotics import chaotic_kappa

    assert chaotic_kappa([1.0, 1.0]) == 1.0 and chaotic_kappa([0.5, 2.0]) == 4.0
    assert math.isnan(chaotic_kappa([1.0, math.nan])) and chaotic_kappa([0.0, 1.0]) == math.inf


def _erf_ordered_gap_mp(X, sw2, sb2):
    """G = gamma mu of the ordered erf NTK at 60 digits, straight from the derivation (docs/theory.md): E_ab =
    lim eps^l / chi_1^l by iterating eps' = sw2 (T(1) - T(1 - eps)) / q* in mpmath, gamma = q* + sw2 p* g / chi_1
    with g = dTdot/dc at c = 1, mu = the smallest eigenvalue of -E off the constant vector."""
    import mpmath as mp

    mp.mp.dps = 60
    t = lambda q, c: 2 / mp.pi * mp.asin(2 * q * c / (1 + 2 * q))  # noqa: E731
    td = lambda q, c: 4 / (mp.pi * mp.sqrt((1 + 2 * q) ** 2 - 4 * q * q * c * c))  # noqa: E731
    q = mp.findroot(lambda v: sw2 * t(v, 1) + sb2 - v, mp.mpf(nn.q_star("erf", sw2, sb2)))
    chi = sw2 * td(q, 1)
    g = mp.diff(lambda c: td(q, c), 1)
    p_star = q / (1 - chi)
    gamma = q + sw2 * p_star * g / chi
    m, dim = X.shape
    Xn = X * np.sqrt(dim * (float(q) - sb2) / sw2) / np.linalg.norm(X, axis=1)[:, None]
    E = np.zeros((m, m))
    n = 300  # eps^300 ~ 1e-19: the map's next order (~eps) is below float64, T(1) - T(1 - eps) keeps 40 digits
    for a in range(m):
        for b in range(a + 1, m):
            e = mp.mpf(sw2) * mp.mpf(float(np.sum((Xn[a] - Xn[b]) ** 2))) / (2 * dim * q)
            for _ in range(n - 1):  # eps^1 -> eps^n
                e = sw2 * (t(q, 1) - t(q, 1 - e)) / q
            E[a, b] = E[b, a] = float(e / chi ** n)
    P = np.eye(m) - 1.0 / m
    mu = np.linalg.eigvalsh(-P @ E @ P)[1]  # [0] is the 0 along the constant vector
    return float(gamma * mu), float(p_star), float(chi)


def test_ordered_kappa_limit_is_the_asymptote_with_an_exact_prefactor():
    """erf, rows at q*: kappa_limit = m p* / (l chi_1^l G), l = depth + 1, with G from the mpmath derivation;
    kappa / kappa_limit - 1 falls like 1/l (halves when l doubles) while kappa_theory stays off by ~7.6."""
    sw2, sb2, m = 1.0, 0.05, 6
    X = ntk.synthetic_data(m, 10, 4)
    depths = np.array([200, 400, 800])
    s = ntk.ntk_spectra("erf", X, sw2, sb2, depths)
    gap, p_star, chi = _erf_ordered_gap_mp(X, sw2, sb2)
    ell = depths + 1.0
    expect = m * p_star / (ell * chi ** ell * gap)
    assert s.phase == "ordered" and s.resolved.all()
    np.testing.assert_allclose(s.kappa_limit, expect, rtol=1e-8)
    err = s.kappa / s.kappa_limit - 1.0
    assert np.all(err > 0) and err[-1] < 0.01, err
    np.testing.assert_allclose(err[:-1] / err[1:], 2.0, rtol=0.02)  # O(1/l)
    assert np.all(s.kappa / s.kappa_theory > 5)  # the Table 1 rate is off by the data-dependent factor


def test_ordered_gap_on_a_grid_equals_the_pairs_own_iteration(monkeypatch):
    from phasecli.ntk.engines import limits

    X = ntk.synthetic_data(40, 12, 9)
    grid = ntk.ntk_spectra("tanh", X, 1.0, 0.1, [30]).kappa_limit[0]  # 780 pairs > 256 nodes: interpolated
    monkeypatch.setattr(limits, "GRID_NODES", 1000)  # 780 pairs <= 1000: each pair iterated itself
    direct = ntk.ntk_spectra("tanh", X, 1.0, 0.1, [30]).kappa_limit[0]
    assert abs(grid / direct - 1) < 1e-9, (grid, direct)


def test_ordered_kappa_limit_near_the_critical_line_is_nan_not_slow():
    X = ntk.synthetic_data(20, 10, 0)
    s = ntk.ntk_spectra("erf", X, 1.3758, 0.05, [10])  # chi_1 = 0.99995: ~4e5 iterations would be needed
    assert s.phase == "ordered" and np.isnan(s.kappa_limit).all() and np.isfinite(s.kappa_theory).all()


def test_kappa_limit_where_not_derived_is_nan_and_elsewhere_the_limit():
    X = ntk.synthetic_data(4, 9, 1)
    relu = ntk.ntk_spectra("relu", X, 1.5, 0.1, [10])  # phi' jumps: kappa ~ chi_1^(-l/2), not derived
    raw = ntk.ntk_spectra("erf", X, 1.0, 0.05, [10], normalize=False)
    cnn = ntk.ntk_spectra("erf", X, 1.0, 0.05, [10], architecture="cnn-f", image_shape=(3, 3, 1))
    assert relu.phase == raw.phase == cnn.phase == "ordered"
    assert np.isnan(relu.kappa_limit).all() and np.isnan(raw.kappa_limit).all() and np.isnan(cnn.kappa_limit).all()
    for kw in (dict(sw2=3.0, sb2=0.05), dict(sw2=1.0, sb2=0.05, dropout=0.8)):
        s = ntk.ntk_spectra("erf", X, depths=[10, 100], **kw)
        np.testing.assert_array_equal(s.kappa_limit, s.kappa_theory)


def test_a_zero_row_with_sb2_zero_has_prefactor_zero():
    """Its NTK row is 0 at every depth (phi(0) = 0, sb2 = 0): kappa_theory = inf, at once (no drifting pi)."""
    X = ntk.synthetic_data(4, 10, 0)
    X[2] = 0.0
    s = ntk.ntk_spectra("erf", X, 3.0, 0.0, [10], normalize=False)
    assert s.phase == "chaotic" and s.kappa_theory[0] == math.inf
