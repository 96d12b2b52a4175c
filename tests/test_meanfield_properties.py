"""Invariants of phasecli.meanfield (hypothesis): fixed-point residuals, phase
consistency, symmetries of the Gaussian expectations."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from phasecli import meanfield as mf
from phasecli.activations import NAMES

ODD = ("tanh", "erf", "sin", "linear", "hard_tanh")
TOL = 1e-6  # solve_phase's default critical_tol

acts = st.sampled_from(NAMES)
sw2s = st.floats(0.05, 6.0, allow_nan=False)
# sb2 down to 1e-12 (and 0): denormal-scale variances are covered by a deterministic test
# in test_meanfield_oracle.py (test_tiny_variance)
sb2s = st.one_of(st.just(0.0), st.floats(1e-12, 2.0, allow_nan=False))
qs = st.floats(1e-3, 50.0, allow_nan=False)
cs = st.one_of(st.floats(-1.0, 1.0, allow_nan=False), st.sampled_from([0.0, 1.0, -1.0, 0.999999, -0.999999]))

SETTINGS = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def point(act, sw2, sb2, **kw):
    g = mf.solve_phase(act, [sw2], [sb2], **kw)
    return {name: getattr(g, name)[0, 0] for name in g.array_names()}


@settings(max_examples=300, **SETTINGS)
@given(acts, sw2s, sb2s)
def test_fixed_point_residuals(act, sw2, sb2):
    e = point(act, sw2, sb2)
    assume(e["fixed_point"] == "stable")
    q = e["q_star"]
    assert 0.0 < q < math.inf
    # q-map residual at q*
    qmap = sw2 * float(mf.length_map(act, q)) + sb2
    assert abs(qmap - q) <= 1e-11 * q, (act, sw2, sb2, q, qmap)
    # the q* reached by forward iteration is stable
    assert e["q_slope"] < 1.0
    assert math.isclose(e["q_slope"], sw2 * float(mf.length_map_slope(act, q)), rel_tol=1e-12)
    # chi_1 is the derivative moment at q*
    assert math.isclose(e["chi_1"], sw2 * float(mf.derivative_moment(act, q)), rel_tol=1e-12)
    # c-map residual at c* (c = 1 is always a fixed point)
    c = e["c_star"]
    t, td = mf.correlation_expectations(act, q, c)
    cmap = (sw2 * float(t) + sb2) / q
    assert abs(cmap - c) <= 1e-11, (act, sw2, sb2, q, c, cmap)
    if c < 1.0:
        assert math.isclose(e["chi_c"], sw2 * float(td), rel_tol=1e-12)


@settings(max_examples=300, **SETTINGS)
@given(acts, sw2s, sb2s)
def test_phase_consistency(act, sw2, sb2):
    e = point(act, sw2, sb2)
    chi = e["chi_1"]
    phase = e["phase"]
    if math.isnan(chi):
        assert phase == "unknown"
        return
    assert (phase == "ordered") == (chi < 1.0 - TOL)
    assert (phase == "chaotic") == (chi > 1.0 + TOL)
    assert (phase == "critical") == (abs(chi - 1.0) <= TOL)
    if e["fixed_point"] != "stable":
        return
    if phase == "ordered":
        assert e["c_star"] == 1.0
        assert e["chi_c"] == chi
        assert e["xi_1"] > 0 and math.isnan(e["xi_star"])
    if phase == "chaotic":
        assert 0.0 <= e["c_star"] < 1.0
        assert e["chi_c"] < 1.0
        assert math.isnan(e["xi_1"]) and e["xi_grad"] < 0


@settings(max_examples=60, **SETTINGS)
@given(acts, st.lists(sw2s, min_size=1, max_size=4), st.lists(sb2s, min_size=1, max_size=3))
def test_grid_cells_are_independent(act, sw2, sb2):
    # a cell's result does not depend on the rest of the grid (threading, ordering)
    g = mf.solve_phase(act, sw2, sb2)
    i, j = len(sw2) - 1, len(sb2) - 1
    e = point(act, sw2[i], sb2[j])
    for name in ("q_star", "c_star", "chi_1", "chi_c"):
        np.testing.assert_array_equal(getattr(g, name)[i, j], e[name], err_msg=name)
    assert g.fixed_point[i, j] == e["fixed_point"]


@settings(max_examples=200, **SETTINGS)
@given(st.sampled_from(ODD), qs, cs)
def test_odd_symmetry(act, q, c):
    t, td = mf.correlation_expectations(act, q, c)
    tm, tdm = mf.correlation_expectations(act, q, -c)
    scale_t = float(mf.length_map(act, q))
    scale_d = float(mf.derivative_moment(act, q))
    assert abs(float(tm) + float(t)) <= 1e-12 * scale_t, (act, q, c, t, tm)
    assert abs(float(tdm) - float(td)) <= 1e-12 * scale_d, (act, q, c, td, tdm)


@settings(max_examples=200, **SETTINGS)
@given(acts, qs)
def test_c_equal_1_is_the_length_map(act, q):
    # two different code paths (2-D pair kernel vs 1-D moments): agreement to the
    # project's accuracy requirement, 1e-8 relative
    t, td = mf.correlation_expectations(act, q, 1.0)
    assert math.isclose(float(t), float(mf.length_map(act, q)), rel_tol=1e-8)
    assert math.isclose(float(td), float(mf.derivative_moment(act, q)), rel_tol=1e-8)


@settings(max_examples=200, **SETTINGS)
@given(acts, qs, cs)
def test_cauchy_schwarz(act, q, c):
    # |E[phi(u1) phi(u2)]| <= E[phi^2] and likewise for phi'
    t, td = mf.correlation_expectations(act, q, c)
    assert abs(float(t)) <= float(mf.length_map(act, q)) * (1 + 1e-12)
    assert abs(float(td)) <= float(mf.derivative_moment(act, q)) * (1 + 1e-12)


@settings(max_examples=100, **SETTINGS)
@given(acts, st.floats(0.3, 3.0), st.floats(0.01, 1.0))
def test_q0_only_selects_the_branch(act, sw2, sb2):
    # a stable fixed point reached from q0 = 1 is also reached from q0 = q* itself
    e = point(act, sw2, sb2)
    assume(e["fixed_point"] == "stable")
    e2 = point(act, sw2, sb2, q0=e["q_star"])
    assert e2["fixed_point"] == "stable"
    assert math.isclose(e2["q_star"], e["q_star"], rel_tol=1e-12)
