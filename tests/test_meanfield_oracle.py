"""phasecli.meanfield against the slow quadrature oracle ``tests/naive.py``.

Accuracy requirement: relative error <= 1e-8 on q*, c*, chi_1, chi_c (and on the
Gaussian primitives).  Fixed points are checked rigorously and cheaply: the oracle's
residual (map(x) - x, which decreases through a stable fixed point) must change sign
across engine_value * (1 -+ 1e-9); a few points are also compared with the oracle's
own solve.

The oracle's 2-D expectations at fixed points and its direct c* solves (nested quadrature, about a
minute) are read from tests/data/meanfield_oracle.json, written by tests/make_meanfield_oracle_data.py
from the same oracle; ``test_stored_oracle_values_are_the_oracle`` reruns a sample of them.
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest

import make_meanfield_oracle_data as stored_oracle
import naive as nv
from make_meanfield_oracle_data import PAIR_POINTS
from phasecli import meanfield as mf

REL = 1e-8  # required relative accuracy
BRACKET = 1e-9  # half-width (relative) of the sign-change bracket around fixed points

# (sw2, sb2) per activation, chosen with the oracle so that each phase is really reached
# with a finite, stable q* from q0 = 1 (oracle chi_1 in the comment).
ORDERED = {
    "tanh": (1.2, 0.05),  # 0.845
    "erf": (1.0, 0.05),  # 0.868
    "relu": (1.5, 0.1),  # 0.75
    "leaky_relu": (1.5, 0.1),  # 0.750075
    "elu": (1.0, 0.05),  # 0.773
    "selu": (0.5, 0.05),  # 0.721
    "gelu": (1.5, 0.5),  # 0.718
    "silu": (1.5, 0.5),  # 0.578
    "softplus": (1.0, 0.05),  # 0.292
    "sigmoid": (10.0, 0.05),  # 0.306
    "sin": (1.0, 0.05),  # 0.808
    "linear": (0.5, 0.05),  # 0.5
    "hard_tanh": (1.0, 0.05),  # 0.914
    "abs": (0.5, 0.1),  # 0.5 (= sw2: phi'^2 = 1), q* = sb2 / (1 - sw2) = 0.2
}
CHAOTIC = {
    "tanh": (3.0, 0.05),  # 1.209, c* = 0.299
    "erf": (2.5, 0.05),  # 1.257
    "elu": (1.9, 0.05),  # 1.048, q* = 14.4
    "selu": (1.5, 0.05),  # 1.129, q* = 8.95
    "gelu": (1.99, 0.5),  # 1.0061, q* = 92, c* = 0.9977
    "silu": (1.99, 2.0),  # 1.0034, q* = 373, c* = 0.9989
    "sigmoid": (200.0, 0.05),  # 1.378
    "sin": (2.5, 0.05),  # 1.367
    "hard_tanh": (3.0, 0.1),  # 1.551
}
# No finite chaotic fixed point exists for these: chi_1 > 1 forces the q-map slope
# above 1 (relu, leaky_relu, linear, abs: chi_1 = q-map slope; softplus: chi_1 < sw2/2).
# Their "chaotic side" is q* = inf.
NO_FINITE_CHAOS = {
    "relu": (2.5, 0.1),
    "leaky_relu": (2.5, 0.1),
    "linear": (1.5, 0.05),
    "softplus": (2.5, 0.05),
    "abs": (1.5, 0.1),  # E[phi^2] = q: q^{l+1} = 1.5 q^l + 0.1
}
assert set(CHAOTIC) | set(NO_FINITE_CHAOS) == set(nv.NAMES) == set(ORDERED)

FIELDS = ("q_star", "c_star", "chi_1", "chi_c", "q_slope", "xi_q", "xi_c", "xi_grad", "xi_1",
          "xi_star", "phase", "fixed_point", "converged")


def engine_point(act, sw2, sb2, **kw):
    g = mf.solve_phase(act, [sw2], [sb2], **kw)
    return {name: getattr(g, name)[0, 0] for name in FIELDS}


@functools.lru_cache(maxsize=None)
def oracle_q(act, sw2, sb2, q0=1.0, slope=0.01):
    return nv.q_star(act, sw2, sb2, q0=q0, slope=slope)


STORED = json.loads(stored_oracle.OUT.read_text())


def oracle_pair(act, q, c):
    """nv.pair(act, q, c) as stored by tests/make_meanfield_oracle_data.py (computed on a miss)."""
    hit = STORED["pair"].get(stored_oracle.key(act, q, c))
    return tuple(hit) if hit is not None else nv.pair(act, q, c)


def rel_err(a, b):
    return abs(a - b) / abs(b) if b != 0 else abs(a)


def assert_close(engine, oracle, what, rel=REL, atol=0.0):
    assert abs(engine - oracle) <= rel * abs(oracle) + atol, (
        f"{what}: engine {engine!r}, oracle {oracle!r}, rel err {rel_err(engine, oracle):.3g}"
    )


def assert_down_crossing(resid, x, what, delta=BRACKET):
    """resid > 0 just below x and < 0 just above: a stable fixed point within x(1 +- delta)."""
    lo, hi = x * (1.0 - delta), x * (1.0 + delta)
    rlo, rhi = resid(lo), resid(hi)
    assert rlo > 0.0 > rhi, (
        f"{what}: oracle residual does not change sign across {x!r} * (1 -+ {delta:g}): "
        f"r(lo) = {rlo!r}, r(hi) = {rhi!r}"
    )


# ---------------------------------------------------------------------------
# the oracle itself: nested quadrature vs closed forms
# ---------------------------------------------------------------------------

CLOSED_POINTS = [(0.3, 0.5), (2.0, 0.5), (1.0, -0.3), (2.0, 0.0), (0.3, 0.999999),
                 (2.0, -0.999999), (1.0, -0.95), (5.0, 0.9999999999), (0.7, -0.9999999999)]


@pytest.mark.parametrize("q,c", CLOSED_POINTS)
def test_oracle_nested_quadrature_matches_closed_forms(q, c):
    for act, closed in (("erf", nv.erf_pair_closed), ("relu", nv.relu_pair_closed), ("abs", nv.abs_pair_closed)):
        t, td = nv.pair(act, q, c)
        t_ref, td_ref = closed(q, c)
        # T(q, 0) = 0 for erf: absolute floor relative to the scale E[phi^2]
        scale = nv.length_map(act, q)
        assert_close(t, t_ref, f"oracle {act} T(q={q}, c={c})", rel=1e-11, atol=1e-15 * scale)
        # abs: Tdot(c = 0) = E[sign u1] E[sign u2] = 0, an absolute floor at rounding level of E[phi'^2]
        assert_close(td, td_ref, f"oracle {act} Tdot(q={q}, c={c})", rel=1e-11, atol=1e-15 * nv.dphi2(act, q))


def test_oracle_one_dimensional_closed_forms():
    for q in (0.1, 1.0, 7.0):
        assert_close(nv.length_map("relu", q), q / 2, "relu E[phi^2]", rel=1e-13)
        assert_close(nv.dphi2("relu", q), 0.5, "relu E[phi'^2]", rel=1e-13)
        assert_close(nv.length_map("sin", q), (1 - math.exp(-2 * q)) / 2, "sin E[phi^2]", rel=1e-12)
        assert_close(nv.dphi2("sin", q), (1 + math.exp(-2 * q)) / 2, "sin E[phi'^2]", rel=1e-12)
        assert_close(nv.length_map("erf", q), 2 / math.pi * math.asin(2 * q / (1 + 2 * q)),
                     "erf E[phi^2]", rel=1e-12)
        assert_close(nv.dphi2("erf", q), 4 / math.pi / math.sqrt(1 + 4 * q), "erf E[phi'^2]", rel=1e-12)
        assert_close(nv.length_map("linear", q), q, "linear E[phi^2]", rel=1e-13)


# ---------------------------------------------------------------------------
# Gaussian primitives
# ---------------------------------------------------------------------------

Q_GRID = [1e-4, 0.05, 0.3, 1.0, 4.0, 60.0]


@pytest.mark.parametrize("act", nv.NAMES)
def test_length_map_and_derivative_moment(act):
    q = np.array(Q_GRID)
    lm = mf.length_map(act, q)
    dm = mf.derivative_moment(act, q)
    assert lm.shape == dm.shape == q.shape
    for i, qi in enumerate(Q_GRID):
        assert_close(lm[i], nv.length_map(act, qi), f"{act} length_map(q={qi})")
        assert_close(dm[i], nv.dphi2(act, qi), f"{act} derivative_moment(q={qi})")
        # the q-map slope per unit sw2 (exposed as length_map_slope)
        # (absolute floor: for sin at q = 60 the slope is e^-120, both sides are rounding noise)
        assert_close(mf.length_map_slope(act, qi), nv.q_slope(act, qi, 1.0), f"{act} length_map_slope(q={qi})",
                     atol=1e-15 * (lm[i] / qi + dm[i]))
    # broadcasting over a 2-D q
    q2 = q.reshape(2, 3)
    np.testing.assert_array_equal(mf.length_map(act, q2), lm.reshape(2, 3))


@pytest.mark.parametrize("act", nv.NAMES)
def test_correlation_expectations(act):
    q = np.array([p[0] for p in PAIR_POINTS])
    c = np.array([p[1] for p in PAIR_POINTS])
    t, td = mf.correlation_expectations(act, q, c)
    assert t.shape == td.shape == q.shape
    for i, (qi, ci) in enumerate(PAIR_POINTS):
        t_ref, td_ref = oracle_pair(act, qi, ci)
        # absolute floors at rounding level of the natural scales, for values that vanish
        # (odd activation at c = 0); tiny but nonzero values (relu T near c = -1) must
        # still be relatively accurate
        assert_close(t[i], t_ref, f"{act} T(q={qi}, c={ci})", atol=1e-15 * nv.length_map(act, qi))
        assert_close(td[i], td_ref, f"{act} Tdot(q={qi}, c={ci})", atol=1e-15 * nv.dphi2(act, qi))


def test_stored_oracle_values_are_the_oracle():
    """The stored oracle values cover every call they stand for and are what tests/naive.py gives: every
    activation's pair expectation at three of the points rerun, and one of the direct c* solves."""
    keys = stored_oracle.pair_keys()
    assert sorted(STORED["pair"]) == sorted(stored_oracle.key(*k) for k in keys)
    assert sorted(STORED["c_star"]) == sorted(stored_oracle.key(a, *p) for a, p in stored_oracle.C_STAR_POINTS.items())
    assert {a: CHAOTIC[a] for a in stored_oracle.C_STAR_POINTS} == stored_oracle.C_STAR_POINTS
    n_points = len(PAIR_POINTS) + len(stored_oracle.TINY_POINTS)
    for i, act in enumerate(nv.NAMES):
        for j in (i % n_points, (i + 5) % n_points, (i + 9) % n_points):
            act_, q, c = keys[i * n_points + j]
            assert act_ == act
            np.testing.assert_allclose(nv.pair(act, q, c), STORED["pair"][stored_oracle.key(act, q, c)],
                                       rtol=1e-13, atol=0, err_msg=f"{act} q={q} c={c}")
    np.testing.assert_allclose(stored_oracle.c_star_entry("selu", *stored_oracle.C_STAR_POINTS["selu"]),
                               STORED["c_star"][stored_oracle.key("selu", *stored_oracle.C_STAR_POINTS["selu"])],
                               rtol=1e-13, atol=0)


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "abs"])
@pytest.mark.parametrize("c", [-(1 - 1e-8), -(1 - 1e-10)])
def test_arc_cosine_kernel_near_anticorrelation(act, c):
    # relu: T = q/(2 pi) (sqrt(1 - c^2) + (pi - arccos c) c) = O((1 + c)^{3/2}) as c -> -1;
    # evaluated as written it cancels (sqrt(1-c^2) ~ (pi - arccos c)); with
    # p = arccos(-c) it is q/(2 pi) (sin p - p cos p), a series for small p, and
    # Tdot = p / (2 pi).  Same relative accuracy required as everywhere else.
    q = 2.5
    t, td = mf.correlation_expectations(act, q, c)
    t_ref, td_ref = nv.pair(act, q, c)
    if act in ("relu", "abs"):  # the nested quadrature agrees with the stable closed form
        closed = nv.relu_pair_closed if act == "relu" else nv.abs_pair_closed
        assert_close(t_ref, closed(q, c)[0], f"oracle {act} T", rel=1e-12)
    assert_close(float(t), t_ref, f"{act} T(q={q}, c={c!r})")
    assert_close(float(td), td_ref, f"{act} Tdot(q={q}, c={c!r})")


@pytest.mark.parametrize("act", nv.NAMES)
def test_tiny_variance(act):
    # q ~ 1e-160 .. 1e-200 (reached e.g. with sb2 ~ 1e-190): s11 * s22 underflows
    for q in (1e-160, 1e-200):
        for c in (1.0, 0.5):
            t, td = mf.correlation_expectations(act, q, c)
            t_ref, td_ref = oracle_pair(act, q, c)
            assert_close(float(t), t_ref, f"{act} T(q={q}, c={c})", atol=1e-15 * nv.length_map(act, q))
            assert_close(float(td), td_ref, f"{act} Tdot(q={q}, c={c})")


def test_leaky_relu_slope_is_used():
    s = 0.2
    q = np.array([0.5, 3.0])
    assert_close(mf.length_map("leaky_relu", q, slope=s)[1], nv.length_map("leaky_relu", 3.0, slope=s),
                 "leaky length_map slope=0.2")
    assert_close(mf.derivative_moment("leaky_relu", q, slope=s)[0], (1 + s * s) / 2, "leaky E[phi'^2]")
    t, td = mf.correlation_expectations("leaky_relu", 1.5, -0.3, slope=s)
    t_ref, td_ref = nv.pair("leaky_relu", 1.5, -0.3, slope=s)
    assert_close(float(t), t_ref, "leaky T slope=0.2")
    assert_close(float(td), td_ref, "leaky Tdot slope=0.2")
    sw2, sb2 = 1.2, 0.1
    e = engine_point("leaky_relu", sw2, sb2, slope=s)
    qo = oracle_q("leaky_relu", sw2, sb2, slope=s)
    assert_close(e["q_star"], qo, "leaky q* slope=0.2")
    assert_close(e["chi_1"], sw2 * (1 + s * s) / 2, "leaky chi_1 slope=0.2")


# ---------------------------------------------------------------------------
# fixed points, chi_1, chi_c in both phases
# ---------------------------------------------------------------------------


def check_q_star(act, sw2, sb2, e, q0=1.0):
    qe = e["q_star"]
    assert e["fixed_point"] == "stable" and e["converged"], (act, sw2, sb2, e["fixed_point"])
    assert math.isfinite(qe) and qe > 0
    assert_down_crossing(lambda x: nv.q_residual(act, x, sw2, sb2), qe, f"{act} q* (sw2={sw2}, sb2={sb2})")
    qo = oracle_q(act, sw2, sb2, q0)
    assert_close(qe, qo, f"{act} q* vs oracle solve (sw2={sw2}, sb2={sb2})")
    assert_close(e["q_slope"], nv.q_slope(act, qo, sw2), f"{act} q-map slope")
    assert e["q_slope"] < 1.0
    return qo


@pytest.mark.parametrize("act", nv.NAMES)
def test_ordered_phase_against_oracle(act):
    sw2, sb2 = ORDERED[act]
    e = engine_point(act, sw2, sb2)
    qo = check_q_star(act, sw2, sb2, e)
    chi = nv.chi_1(act, sw2, qo)
    assert chi < 1.0 - 1e-3  # the point really is ordered
    assert_close(e["chi_1"], chi, f"{act} chi_1 (sw2={sw2}, sb2={sb2})")
    assert e["phase"] == "ordered"
    assert e["c_star"] == 1.0
    assert e["chi_c"] == e["chi_1"]


@pytest.mark.parametrize("act", sorted(CHAOTIC))
def test_chaotic_phase_against_oracle(act):
    sw2, sb2 = CHAOTIC[act]
    e = engine_point(act, sw2, sb2)
    qo = check_q_star(act, sw2, sb2, e)
    chi = nv.chi_1(act, sw2, qo)
    assert chi > 1.0 + 1e-3  # the point really is chaotic
    assert_close(e["chi_1"], chi, f"{act} chi_1 (sw2={sw2}, sb2={sb2})")
    assert e["phase"] == "chaotic"
    ce = e["c_star"]
    assert 0.0 <= ce < 1.0
    assert_down_crossing(lambda x: nv.c_residual(act, x, sw2, sb2, qo), ce,
                         f"{act} c* (sw2={sw2}, sb2={sb2})")
    assert_close(e["chi_c"], nv.chi_c(act, sw2, qo, ce), f"{act} chi_c (sw2={sw2}, sb2={sb2})")
    assert e["chi_c"] < 1.0  # c* is the stable root


@pytest.mark.parametrize("act", ["tanh", "hard_tanh", "selu"])
def test_chaotic_c_star_direct_solve(act):
    # the sign-change check cannot tell *which* root; the oracle's own search for the
    # largest root in [0, 1) can
    sw2, sb2 = CHAOTIC[act]
    e = engine_point(act, sw2, sb2)
    hit = STORED["c_star"].get(stored_oracle.key(act, sw2, sb2))
    qo, co = hit if hit is not None else stored_oracle.c_star_entry(act, sw2, sb2)
    assert_close(e["c_star"], co, f"{act} c* vs oracle solve")


@pytest.mark.parametrize("act", sorted(NO_FINITE_CHAOS))
def test_infinite_q_star(act):
    sw2, sb2 = NO_FINITE_CHAOS[act]
    assert oracle_q(act, sw2, sb2) == math.inf
    e = engine_point(act, sw2, sb2)
    assert e["fixed_point"] == "infinite"
    assert e["q_star"] == math.inf
    assert math.isnan(e["c_star"])


def test_linear_edge_of_divergence_is_infinite():
    # linear, sw2 = 1, sb2 > 0: q^l = q0 + l sb2 grows without bound
    assert oracle_q("linear", 1.0, 0.1) == math.inf
    e = engine_point("linear", 1.0, 0.1)
    assert e["fixed_point"] == "infinite" and e["q_star"] == math.inf and math.isnan(e["c_star"])


ZERO_ODD = [("tanh", 0.8), ("erf", 0.5), ("sin", 0.5), ("hard_tanh", 0.5), ("linear", 0.5)]
PHI_PRIME_0 = {"tanh": 1.0, "erf": 2 / math.sqrt(math.pi), "sin": 1.0, "hard_tanh": 1.0, "linear": 1.0}


@pytest.mark.parametrize("act,sw2", ZERO_ODD)
def test_zero_fixed_point_odd(act, sw2):
    # odd activation, sb2 = 0, sw2 phi'(0)^2 < 1: the signal dies
    assert oracle_q(act, sw2, 0.0) == 0.0
    e = engine_point(act, sw2, 0.0)
    assert e["fixed_point"] == "zero"
    assert e["q_star"] == 0.0
    assert math.isnan(e["c_star"])
    assert_close(e["chi_1"], sw2 * PHI_PRIME_0[act] ** 2, f"{act} chi_1 at q* = 0", rel=1e-12)
    assert e["phase"] == "ordered"


@pytest.mark.parametrize("act,sw2", [("relu", 1.0), ("leaky_relu", 1.0), ("selu", 0.3), ("elu", 0.5),
                                     ("gelu", 1.0), ("silu", 1.0), ("abs", 0.5)])
def test_zero_fixed_point_chi_1_is_the_small_q_limit(act, sw2):
    # sb2 = 0 with phi(0) = 0: q* = 0 also for these.  chi_1 there is the limit
    # q -> 0+ of sw2 E[phi'(sqrt(q) z)^2]: for a kink at 0 that is
    # sw2 (phi'(0-)^2 + phi'(0+)^2) / 2, not a one-sided phi'(0)^2 (THEORY.md: relu
    # chi_1 = sw2 / 2 for every q).
    assert oracle_q(act, sw2, 0.0) == 0.0
    e = engine_point(act, sw2, 0.0)
    assert e["fixed_point"] == "zero" and e["q_star"] == 0.0 and math.isnan(e["c_star"])
    limit = sw2 * nv.dphi2(act, 1e-300)
    assert_close(e["chi_1"], limit, f"{act} chi_1 at q* = 0 (sw2={sw2})", rel=1e-12)


# ---------------------------------------------------------------------------
# critical line: literature values
# ---------------------------------------------------------------------------


def oracle_chi_minus_1(act, sw2, sb2):
    return nv.chi_1(act, sw2, nv.q_star(act, sw2, sb2)) - 1.0


def test_critical_tanh_sb2_005():
    cl = mf.solve_critical("tanh", [0.05])
    assert cl.status[0] == "ok"
    sw2c = cl.sw2_critical[0]
    assert abs(sw2c - 1.76) < 0.01  # literature: ~1.76
    # chi_1 increases through 1 along the stable branch: a sign change within 1e-9
    lo, hi = sw2c * (1 - BRACKET), sw2c * (1 + BRACKET)
    assert oracle_chi_minus_1("tanh", lo, 0.05) < 0.0 < oracle_chi_minus_1("tanh", hi, 0.05), sw2c
    assert_close(cl.q_star[0], nv.q_star("tanh", sw2c, 0.05), "tanh q* on the critical line")
    # and solve_phase classifies it as critical
    e = engine_point("tanh", sw2c, 0.05)
    assert e["phase"] == "critical"


def test_critical_erf_sb2_0_is_pi_over_4():
    # sb2 = 0, odd erf: chi_1 = sw2 phi'(0)^2 = sw2 * 4/pi at q* = 0, so sw2_c = pi/4 exactly
    cl = mf.solve_critical("erf", [0.0])
    assert cl.status[0] == "ok"
    sw2c = cl.sw2_critical[0]
    assert abs(sw2c - math.pi / 4) <= 1e-10 * (math.pi / 4), (
        f"erf sb2=0 critical sw2: engine {sw2c!r}, exact pi/4 = {math.pi / 4!r}, "
        f"rel err {rel_err(sw2c, math.pi / 4):.3g}"
    )


def test_critical_erf_sb2_005_oracle_sign_change():
    cl = mf.solve_critical("erf", [0.05])
    sw2c = cl.sw2_critical[0]
    lo, hi = sw2c * (1 - BRACKET), sw2c * (1 + BRACKET)
    assert oracle_chi_minus_1("erf", lo, 0.05) < 0.0 < oracle_chi_minus_1("erf", hi, 0.05), sw2c


def test_critical_relu_is_2():
    cl = mf.solve_critical("relu", [0.0, 0.1])
    assert list(cl.status) == ["ok", "ok"]
    np.testing.assert_allclose(cl.sw2_critical, [2.0, 2.0], rtol=1e-12)
    assert_close(cl.q_star[0], 1.0, "relu critical q* with sb2 = 0 (q0 = 1: every q is fixed)")
    assert cl.q_star[1] == math.inf  # finite only for sb2 = 0
    e = engine_point("relu", 2.0, 0.0)
    assert e["phase"] == "critical"
    assert_close(e["chi_1"], 1.0, "relu chi_1 at sw2 = 2", rel=1e-14)


# ---------------------------------------------------------------------------
# silu, sb2 = 0.05: the chi_1 = 1 point (sw2 ~ 2.73, q ~ 0.83) is an unstable fixed point
# ---------------------------------------------------------------------------


def test_silu_unstable_chi1_crossing_is_not_reported():
    sw2, sb2 = 2.73, 0.05
    # the oracle confirms the picture: a root of the q-map with chi_1 ~ 1 near q = 0.83 ...
    r_lo, r_hi = nv.q_residual("silu", 0.80, sw2, sb2), nv.q_residual("silu", 0.86, sw2, sb2)
    assert r_lo < 0.0 < r_hi  # an *up*-crossing: unstable
    assert nv.q_slope("silu", 0.83, sw2) > 1.0
    assert abs(nv.chi_1("silu", sw2, 0.83) - 1.0) < 0.01
    # ... which forward iteration leaves: from q0 = 1 it diverges, from q0 = 0.5 it
    # reaches the small stable fixed point
    for q0 in (1.0, 0.5):
        e = engine_point("silu", sw2, sb2, q0=q0)
        qo = oracle_q("silu", sw2, sb2, q0)
        if qo == math.inf:
            assert e["fixed_point"] == "infinite" and e["q_star"] == math.inf, (q0, e)
        else:
            assert qo < 0.5
            check_q_star("silu", sw2, sb2, e, q0=q0)
            assert_close(e["chi_1"], nv.chi_1("silu", sw2, qo), f"silu chi_1 (q0={q0})")
            assert e["phase"] == "ordered"
    # along sw2 from q0 = 0.5 the engine follows the stable branch
    for sw2_ in (2.5, 2.8):
        e = engine_point("silu", sw2_, sb2, q0=0.5)
        check_q_star("silu", sw2_, sb2, e, q0=0.5)
    # the critical-line solver must not return the unstable point
    cl = mf.solve_critical("silu", [sb2])
    if cl.status[0] == "ok":
        qc, sw2c = cl.q_star[0], cl.sw2_critical[0]
        assert nv.q_slope("silu", qc, sw2c) < 1.0, (sw2c, qc)
    else:
        assert math.isnan(cl.sw2_critical[0])


# ---------------------------------------------------------------------------
# depth-scale conventions, from the oracle's chi values
# ---------------------------------------------------------------------------


def test_depth_scale_conventions():
    for (sw2, sb2), chaotic in ((ORDERED["tanh"], False), (CHAOTIC["tanh"], True)):
        e = engine_point("tanh", sw2, sb2)
        qo = oracle_q("tanh", sw2, sb2)
        chi1 = nv.chi_1("tanh", sw2, qo)
        qs = nv.q_slope("tanh", qo, sw2)
        chic = nv.chi_c("tanh", sw2, qo, e["c_star"]) if chaotic else chi1
        assert_close(e["xi_q"], -1 / math.log(qs), "xi_q")
        assert_close(e["xi_c"], -1 / math.log(chic), "xi_c", rel=1e-7)
        assert_close(e["xi_grad"], -1 / math.log(chi1), "xi_grad (signed)", rel=1e-7)
        if chaotic:
            assert e["xi_grad"] < 0
            assert math.isnan(e["xi_1"])
            assert_close(e["xi_star"], -1 / (math.log(chic) - math.log(chi1)), "xi_star", rel=1e-7)
        else:
            assert e["xi_grad"] > 0
            assert_close(e["xi_1"], -1 / math.log(chi1), "xi_1", rel=1e-7)
            assert math.isnan(e["xi_star"])
