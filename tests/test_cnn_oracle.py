"""CNN-F / CNN-P kernels against independent oracles: the per-pair, per-position numpy recursion
(tests/naive_cnn.py), its mpmath version deep in the ordered phase, and mpmath two-point maps."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import naive_cnn as nc
from phasecli import meanfield as mf
from phasecli import ntk
from phasecli.activations import ACTIVATIONS
from phasecli.ntk.engines import cnn_kernels as CK
from phasecli.ntk.engines import cnn
from phasecli.validate import InputError

RNG = np.random.default_rng(7)


def _scaled(X, activation, sw2, sb2):
    q = float(mf.solve_phase(activation, sw2, sb2).q_star[0, 0])
    return X * np.sqrt(X.shape[1] * (q - sb2) / sw2) / np.linalg.norm(X, axis=1)[:, None]


def _rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


CASES = [  # activation, sw2, sb2, normalize, image, filter, architectures
    ("erf", 1.5, 0.1, True, (3, 4, 2), 3, ("cnn-f", "cnn-p")),
    ("erf", 3.0, 0.0, False, (3, 5, 1), 1, ("cnn-f", "cnn-p")),
    ("relu", 1.5, 0.1, False, (3, 4, 2), 3, ("cnn-f", "cnn-p")),
    ("relu", 3.0, 0.1, False, (4, 3, 1), 3, ("cnn-f", "cnn-p")),  # growing (chaotic-side) relu: moving reference
    ("leaky_relu", 2.5, 0.2, False, (3, 3, 2), 3, ("cnn-f", "cnn-p")),
    ("tanh", 1.2, 0.1, True, (3, 3, 1), 3, ("cnn-f",)),  # quadrature activations: the slow oracle, CNN-F only
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[5]}")
def test_kernels_match_naive_recursion(case):
    activation, sw2, sb2, normalize, image, k, archs = case
    n_cols = int(np.prod(image))
    slow = activation == "tanh"  # nested quad in the oracle: two inputs, no test rows, two layers
    X, Xt = RNG.standard_normal((2 if slow else 3, n_cols)), None if slow else RNG.standard_normal((2, n_cols))
    depths = [1, 2] if slow else [1, 2, 4]
    m = X.shape[0]
    rows = X if slow else np.vstack([X, Xt])
    ref_rows = _scaled(rows, activation, sw2, sb2) if normalize else rows
    for arch in archs:
        got = {L.depth: L for L in ntk.kernel_pass(activation, X, sw2, sb2, depths, X_test=Xt, normalize=normalize,
                                                    architecture=arch, image_shape=image, filter_size=k)}
        ref = nc.cnn_kernels(activation, ref_rows, image, k, sw2, sb2, depths, arch == "cnn-p")
        for L in depths:
            nngp, th = ref[L]
            layer = got[L]
            assert _rel(layer.K_train, nngp[:m, :m]) < 1e-13, (arch, L)
            assert _rel(layer.Theta_train, th[:m, :m]) < 1e-13, (arch, L)
            if not slow:
                assert _rel(layer.K_test_train, nngp[m:, :m]) < 1e-13, (arch, L)
                assert _rel(layer.Theta_test_train, th[m:, :m]) < 1e-13, (arch, L)


@pytest.mark.parametrize("activation,sw2,sb2,arch", [("erf", 0.3, 0.05, "cnn-f"), ("erf", 0.3, 0.05, "cnn-p"),
                                                   ("relu", 0.8, 0.1, "cnn-p")])
def test_deep_ordered_spectra_against_mpmath(activation, sw2, sb2, arch):
    """Depth 40 in the ordered phase: kappa far beyond what a plain float64 recursion keeps (> 1e14)."""
    image = (3, 3, 1)
    X = ntk.synthetic_data(2 if arch == "cnn-p" else 3, 9, 5)  # the pooled oracle holds every position pair
    depths = [10, 40]
    s = ntk.ntk_spectra(activation, X, sw2, sb2, depths, architecture=arch, image_shape=image)
    ref = nc.cnn_kernels(activation, _scaled(X, activation, sw2, sb2), image, 3, sw2, sb2, depths, arch == "cnn-p",
                         dps=40)
    assert s.resolved.all()
    for i, L in enumerate(depths):
        nngp, th = ref[L]
        lmax, lmin = nc.spectrum(th, dps=40)
        nlmax, nlmin = nc.spectrum(nngp, dps=40)
        assert abs(s.kappa[i] / float(lmax / lmin) - 1) < 1e-9, (L, s.kappa[i], float(lmax / lmin))
        assert abs(s.lambda_max[i] / float(lmax) - 1) < 1e-12
        assert abs(s.nngp_kappa[i] / float(nlmax / nlmin) - 1) < 1e-9
    # erf: kappa ~ chi_1^-l; relu (phi' jumps: E ~ sqrt(eps)) the NTK's ~ chi_1^(-l/2), its NNGP's ~ chi_1^-l
    assert max(s.kappa[-1], s.nngp_kappa[-1]) > 1e14


def _mp_maps(activation, a, b, dk):
    """(D, E, A - B, C) at 60 digits from the textbook closed forms."""
    mp.mp.dps = 60
    a, b, dk = mp.mpf(a), mp.mpf(b), mp.mpf(dk)
    k = (a + b) / 2 - dk
    if activation == "erf":
        def t(x, y, z):
            return 2 / mp.pi * mp.asin(2 * z / mp.sqrt((1 + 2 * x) * (1 + 2 * y)))

        def td(x, y, z):
            return 4 / (mp.pi * mp.sqrt((1 + 2 * x) * (1 + 2 * y) - 4 * z * z))
    else:
        def t(x, y, z):
            th = mp.acos(z / mp.sqrt(x * y))
            return mp.sqrt(x * y) / (2 * mp.pi) * (mp.sin(th) + (mp.pi - th) * mp.cos(th))

        def td(x, y, z):
            return (mp.pi - mp.acos(z / mp.sqrt(x * y))) / (2 * mp.pi)
    d = (t(a, a, a) + t(b, b, b)) / 2 - t(a, b, k)
    e = (td(a, a, a) + td(b, b, b)) / 2 - td(a, b, k)
    return d, e, td(a, a, a) - td(b, b, b), td(a, b, k)


@settings(max_examples=40, deadline=None)
@given(activation=st.sampled_from(["erf", "relu"]), q=st.floats(0.05, 20.0), log_spread=st.floats(-14.0, -1.0),
       log_corr=st.floats(-30.0, -0.5), sign=st.sampled_from([-1.0, 1.0]))
def test_unequal_variance_maps_have_full_relative_accuracy(activation, q, log_spread, log_corr, sign):
    """D, E of nearly identical points (spread of the variances and decorrelation both tiny) without cancellation.

    The state is (r_a, r_b, dK) with a = q + r_a exact; the correlation part of dK (eps sqrt(ab)) is kept
    above 1e-3 of the variance part (sqrt a - sqrt b)^2 / 2, as in the ordered phase (the spread decays faster)."""
    a = q + sign * q * 10.0 ** log_spread
    ra, rb, b = a - q, 0.0, q  # exact (Sterbenz)
    dsq = ra / (math.sqrt(a) + math.sqrt(b))
    corr = math.sqrt(a * b) * 10.0 ** log_corr
    assume(corr >= 1e-3 * 0.5 * dsq * dsq)
    dk = 0.5 * dsq * dsq + corr
    code = ACTIVATIONS[activation].code
    d, amb, c, e = CK._entry_closed(code, 0.01, a, b, ra, rb, dk)
    d_mp, e_mp, amb_mp, c_mp = _mp_maps(activation, a, b, dk)
    assert d >= 0.0 and e >= 0.0
    floor = 1e-15 * abs(ra)  # the variance parts are O(spread^2), computed to an absolute ulp-of-spread
    assert abs(d - float(d_mp)) <= 1e-12 * float(d_mp) + floor
    assert abs(e - float(e_mp)) <= 1e-12 * float(e_mp) + floor
    assert abs(c - float(c_mp)) <= 1e-14 * float(c_mp)
    assert abs(amb - float(amb_mp)) <= 1e-13 * abs(float(amb_mp)) + 1e-300


def test_blocked_pairs_equal_streamed(monkeypatch):
    X = ntk.synthetic_data(5, 4 * 4 * 2, 3)
    Xt = ntk.synthetic_data(3, 4 * 4 * 2, 4)
    kw = dict(X_test=Xt, architecture="cnn-p", image_shape=(4, 4, 2))
    whole = list(ntk.kernel_pass("erf", X, 1.6, 0.1, [1, 3, 7], **kw))
    monkeypatch.setattr(cnn, "MAX_STATE_BYTES", 16 * 16 * 16 * 3)  # three pairs per block
    blocked = list(ntk.kernel_pass("erf", X, 1.6, 0.1, [1, 3, 7], **kw))
    for a, b in zip(whole, blocked):
        assert a.depth == b.depth
        for x, y in zip(a[1:], b[1:]):
            np.testing.assert_array_equal(x, y)


def test_shifted_images_make_the_pooled_kernel_singular():
    img = RNG.standard_normal((4, 4, 1))
    X = np.stack([img.ravel(), np.roll(img, 1, axis=1).ravel(), RNG.standard_normal(16)])
    pooled = ntk.ntk_spectra("erf", X, 1.5, 0.1, [1, 5], architecture="cnn-p", image_shape=(4, 4, 1))
    flat = ntk.ntk_spectra("erf", X, 1.5, 0.1, [1, 5], architecture="cnn-f", image_shape=(4, 4, 1))
    assert pooled.status == "singular" and pooled.duplicate_rows == [(0, 1)] and "shift" in pooled.message
    assert flat.status == "ok" and flat.resolved.all()


def test_bad_inputs_name_the_parameter():
    X = ntk.synthetic_data(3, 12, 0)
    for kw, param in ((dict(architecture="cnn-f", image_shape=(2, 2, 2), filter_size=1), "image_shape"),
                      (dict(architecture="cnn-f", image_shape=(2, 3, 2), filter_size=2), "filter"),
                      (dict(architecture="cnn-f", image_shape=(2, 3, 2), filter_size=3), "filter"),
                      (dict(architecture="cnn-p", image_shape=(2, 3, 2), dropout=0.5), "dropout"),
                      (dict(architecture="cnn-p"), "image_shape"),
                      (dict(architecture="cnn"), "architecture")):
        with pytest.raises(InputError) as err:
            ntk.ntk_spectra("erf", X, 1.5, 0.1, [1], **kw)
        assert err.value.param == param


def test_point_without_reference_is_reported():
    """tanh with sb2 = 0 in the ordered phase: q* = 0, no kernel to carry (status, not a crash)."""
    X = ntk.synthetic_data(3, 12, 0)
    s = ntk.ntk_spectra("tanh", X, 0.5, 0.0, [1, 2], architecture="cnn-f", image_shape=(2, 3, 2), filter_size=1,
                        normalize=False)
    assert s.status == "q_zero" and np.isnan(s.kappa).all()
