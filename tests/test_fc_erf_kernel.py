"""The erf layer kernel of the data-as-given fc engine (issue 24): ``fc_kernels.erf_dev_layer_sym``.

It runs the same pair functions as the general ``unequal_kernels.dev_layer_sym`` without the per-pair
dispatch and mirrors each tile as soon as it is done: its numbers must equal the general kernel's (+
``mirror_dev``) bit for bit for every tile layout (sizes below, at and above multiples of the tile, an
odd and an even number of tile rows), and the spectra it feeds must match the independent oracle
(``tests/naive_ntk.py``: plain per-layer recursion with the closed-form erf kernel, ``numpy.linalg.eigvalsh``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import naive_ntk as oracle
from phasecli import ntk
from phasecli.maps import unequal_kernels as RK
from phasecli.ntk.engines import fc as FC
from phasecli.ntk.engines import fc_kernels as FK


def _engine(m, seed, sw2=1.37584, sb2=0.05, layers=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 7)) * rng.uniform(0.3, 2.0, size=(m, 1))
    X[3] = X[1]  # an exactly repeated row: deviation 0
    X[5] = X[4] * (1 + 1e-12)  # a nearly repeated one
    eng = ntk._setup("erf", X, sw2, sb2, None, 0.01, False, 1.0, None, 2).engine
    for _ in range(layers):
        eng._step()
    return eng


def _args(eng):
    sb2e = eng.sb2 * math.exp(-eng.lk)
    g = math.exp(eng.lk - eng.lt)
    v, w = eng._diag(eng.s)
    rows, _, _ = eng._rows(eng.s, eng.P, v, w, sb2e, g)
    return sb2e, g, rows


@pytest.mark.parametrize("m", [2, 3, 63, 64, 65, 128, 200, 201, 257])
def test_erf_kernel_equals_the_general_kernel_bit_for_bit(m):
    eng = _engine(max(m, 6), m)
    if m < 6:  # tiny blocks straight from the first layer
        eng = ntk._setup("erf", np.random.default_rng(1).standard_normal((m, 3)), 1.5, 0.05, None, 0.01, False,
                         1.0, None, 2).engine
    sb2e, g, rows = _args(eng)
    rel = 8 * np.finfo(np.float64).eps
    state = (eng.eps, eng.dl, eng.ee, eng.ed, eng.dsm, eng.dpm)
    a = [x.copy() for x in state]
    b = [x.copy() for x in state]
    FK.erf_dev_layer_sym(eng.sw2, sb2e, g, rel, rows, *a)
    none = np.zeros((1, 1))
    RK.dev_layer_sym(RK.MODE_CLOSED, eng.code, eng.slope, eng.sw2, sb2e, g, rel, rows, *b, *(none,) * 5)
    RK.mirror_dev(*b)
    for name, x, y in zip(("eps", "dl", "ee", "ed", "dsm", "dpm"), a, b):
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert np.all(np.diag(a[0]) == 0.0) and np.all(np.diag(a[1]) == 0.0)
    np.testing.assert_array_equal(a[0], a[0].T)
    np.testing.assert_array_equal(a[4], -a[4].T)


def test_engine_uses_the_erf_kernel_above_the_serial_size(monkeypatch):
    calls = []
    real = FK.erf_dev_layer_sym
    monkeypatch.setattr(FK, "erf_dev_layer_sym", lambda *a: calls.append(a[5].shape[0]) or real(*a))
    m = int(math.isqrt(FC.SERIAL_PAIRS)) + 1
    _engine(m, 0, layers=1)
    assert calls == [m]
    calls.clear()
    _engine(m - 2, 0, layers=1)  # below SERIAL_PAIRS entries: the one-thread general kernel
    assert calls == []
    eng = ntk._setup("relu", np.random.default_rng(0).standard_normal((m, 4)), 2.0, 0.1, None, 0.01, False, 1.0,
                     None, 2).engine
    assert not eng.erf


@pytest.mark.parametrize("sw2,sb2,depths", [(1.37584, 0.05, [1, 4, 12]), (0.8, 0.1, [3, 25])],
                         ids=["critical", "ordered"])
def test_spectra_through_the_erf_kernel_match_the_oracle(sw2, sb2, depths):
    m = 205
    rng = np.random.default_rng(12)
    X = rng.standard_normal((m, 6)) * rng.uniform(0.5, 1.5, size=(m, 1))
    s = ntk.ntk_spectra("erf", X, sw2, sb2, depths, normalize=False)
    ref = oracle.kernels("erf", X, sw2, sb2, depths)
    for i, depth in enumerate(depths):
        for prefix, mat in (("", ref[depth][1]), ("nngp_", ref[depth][0])):
            lmax, lmin, bulk, kappa = oracle.spectrum(mat)
            assert getattr(s, prefix + "lambda_max")[i] == pytest.approx(lmax, rel=1e-9), (prefix, depth)
            assert getattr(s, prefix + "lambda_bulk")[i] == pytest.approx(bulk, rel=1e-9), (prefix, depth)
            if kappa < 1e6:
                assert getattr(s, prefix + "lambda_min")[i] == pytest.approx(lmin, rel=1e-8), (prefix, depth)
