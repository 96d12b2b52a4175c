"""Two-point expectations of many pairs by Mehler's series (phasecli.expectations.mehler_pairs) against scipy
nested quadrature (tests/naive.py for equal variances, tests/naive_resnet.py for unequal ones), with the level
each pair was taken at checked, so every path (64 / 256 / 1024 terms, unequal variances, the quadrature
fallback) is exercised; invariants by hypothesis."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
import naive_resnet as nr
from phasecli.activations import ACTIVATIONS
from phasecli.expectations.mehler_pairs import moments, pair_maps


def _code(name):
    return ACTIVATIONS[name].code


# (activation, q, c, the level the pair must be taken at)
EQUAL = [("tanh", 1.0, 0.5, "terms_64"), ("tanh", 1.0, 0.99, "terms_256"), ("tanh", 5.0, 0.999, "terms_1024"),
         ("tanh", 40.0, 0.999, "quadrature"), ("tanh", 0.3, -0.8, "terms_64"), ("gelu", 2.0, 0.9, None),
         ("silu", 3.0, -0.3, None), ("softplus", 1.0, 0.97, None), ("tanh", 2.0, 1.0 - 1e-9, None)]


@pytest.mark.parametrize("act,q,c,level", EQUAL)
def test_equal_variances_match_scipy(act, q, c, level):
    stats = {}
    t, td = pair_maps(_code(act), 0.01, np.array([q]), np.array([q]), np.array([c]), stats)
    ref_t, ref_td = naive.pair(act, q, c)
    phi2, dphi2 = naive.length_map(act, q), naive.dphi2(act, q)
    assert abs(t[0] - ref_t) <= 1e-10 * phi2 and abs(td[0] - ref_td) <= 1e-10 * dphi2
    if level is not None:
        assert stats.get(level) == 1 and sum(stats.values()) == 1


@pytest.mark.parametrize("act,qa,qb,c", [("tanh", 0.7, 2.5, 0.6), ("tanh", 1.0, 9.0, -0.9), ("gelu", 0.5, 3.0, 0.95),
                                         ("tanh", 30.0, 50.0, 0.999)])
def test_unequal_variances_match_scipy(act, qa, qb, c):
    phi = {"tanh": math.tanh, "gelu": lambda u: 0.5 * u * (1 + math.erf(u / math.sqrt(2)))}[act]
    dphi = {"tanh": lambda u: 1 - math.tanh(u) ** 2,
            "gelu": lambda u: 0.5 * (1 + math.erf(u / math.sqrt(2))) + u * math.exp(-u * u / 2) / math.sqrt(2 * math.pi)}[act]
    K = np.array([[qa, c * math.sqrt(qa * qb)], [c * math.sqrt(qa * qb), qb]])
    T, Td = nr.quad_maps(phi, dphi, K)
    stats = {}
    t, td = pair_maps(_code(act), 0.01, np.array([qa]), np.array([qb]), np.array([c]), stats)
    assert abs(t[0] - T[0, 1]) <= 1e-10 * math.sqrt(T[0, 0] * T[1, 1])
    assert abs(td[0] - Td[0, 1]) <= 1e-10 * math.sqrt(Td[0, 0] * Td[1, 1])
    if qb < 10:
        assert stats.get("quadrature", 0) == 0  # moderate variances: the series with its Cauchy-Schwarz tail


def test_many_pairs_one_call_and_closed_forms():
    """A batch mixing levels and variances equals the pairs one by one; erf goes through its closed form."""
    rng = np.random.default_rng(3)
    qa = rng.choice([0.5, 1.0, 4.0, 30.0], 60)
    qb = np.where(rng.random(60) < 0.5, qa, rng.choice([0.5, 1.0, 4.0, 30.0], 60))
    c = rng.uniform(0, 1, 60) ** 0.3 * np.sign(rng.uniform(-1, 1, 60))
    stats = {}
    t, td = pair_maps(_code("tanh"), 0.01, qa, qb, c, stats)
    assert sum(stats.values()) == 60 and stats["terms_64"] > 0
    for i in range(0, 60, 7):
        a, b = pair_maps(_code("tanh"), 0.01, qa[i:i + 1], qb[i:i + 1], c[i:i + 1])
        assert a[0] == t[i] and b[0] == td[i]
    t, td = pair_maps(_code("erf"), 0.01, qa, qb, c)
    ref_t = 2 / math.pi * np.arcsin(2 * c * np.sqrt(qa * qb) / np.sqrt((1 + 2 * qa) * (1 + 2 * qb)))
    assert np.allclose(t, ref_t, rtol=1e-13, atol=1e-15)


def test_variances_a_few_ulps_apart_share_one_expansion():
    q = 1.3 * (1 + np.arange(5) * 2e-16)
    stats = {}
    t, _ = pair_maps(_code("tanh"), 0.01, q, q[::-1], np.full(5, 0.999), stats)
    assert stats.get("quadrature", 0) == 0 and [v for v in stats.values() if v] == [5]  # one level for all
    assert np.ptp(t) <= 1e-14 * abs(t[0])


def test_zero_variance_and_non_finite():
    t, td = pair_maps(_code("tanh"), 0.01, np.array([0.0, 1.0, np.nan]), np.array([1.0, 1.0, 1.0]),
                      np.array([0.0, 0.3, 0.3]))
    assert t[0] == 0.0 and np.isfinite(t[1]) and math.isnan(t[2])  # tanh(0) E[tanh] = 0


@settings(max_examples=40, deadline=None)
@given(st.floats(0.05, 60.0), st.floats(0.05, 60.0), st.floats(-1.0, 1.0))
def test_invariants(qa, qb, c):
    """Symmetric in the two variances; |T| <= sqrt(E phi^2 E phi^2) (Cauchy-Schwarz); c = 1 with equal
    variances gives the 1-D moments."""
    code = _code("tanh")
    t1, d1 = pair_maps(code, 0.01, np.array([qa]), np.array([qb]), np.array([c]))
    t2, d2 = pair_maps(code, 0.01, np.array([qb]), np.array([qa]), np.array([c]))
    assert t1[0] == pytest.approx(t2[0], rel=1e-9, abs=1e-12) and d1[0] == pytest.approx(d2[0], rel=1e-9, abs=1e-12)
    (pa, pb), (da, db) = moments(code, 0.01, np.array([qa, qb]))
    assert abs(t1[0]) <= math.sqrt(pa * pb) * (1 + 1e-10) and abs(d1[0]) <= math.sqrt(da * db) * (1 + 1e-10)
    t, d = pair_maps(code, 0.01, np.array([qa]), np.array([qa]), np.array([1.0]))
    assert t[0] == pytest.approx(pa, rel=1e-13) and d[0] == pytest.approx(da, rel=1e-13)
