"""The infinite-width Jacobian spectrum (phasecli.jacobian_spectrum) against exact laws and independent oracles.

Oracles: the Fuss-Catalan law (linear networks, Gaussian weights), the point mass (linear,
orthogonal), closed-form S-transforms of two-point laws (hard_tanh, relu: phi'^2 in {0, 1}),
the Marchenko-Pastur density, roots of the polynomial equation for M(z) of two-point laws,
the change of variables for one orthogonal layer, and ``tests/naive_stransform.py`` (a slow
numeric S-transform by quad, Newton and Cauchy integrals, importing nothing from phasecli).
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy.special import comb

import naive
import naive_stransform as NS
from phasecli import jacobian_spectrum as I
from phasecli import meanfield
from phasecli.errors import InputError

DEPTHS = [1, 2, 8, 32, 128]


def _fuss_catalan(L, kmax):
    return np.array([comb((L + 1) * k, k, exact=True) / (L * k + 1) for k in range(1, kmax + 1)], dtype=float)


# ----------------------------------------------------------------------------- exact linear laws
@pytest.mark.parametrize("L", DEPTHS)
def test_linear_gaussian_is_fuss_catalan(L):
    moments = I.free_moments(np.ones(8), 1.0, L, "gaussian")
    assert np.max(np.abs(moments / _fuss_catalan(L, 8) - 1)) < 1e-8
    r = I.jacobian_spectrum("linear", 1.0, 0.0, [L], weights=("gaussian", "orthogonal"))
    assert list(r.weights) == ["gaussian", "orthogonal"] and list(r.status) == ["ok", "ok"]
    edge = (L + 1) ** (L + 1) / L ** L
    assert abs(r.mean_s2[0] - 1) < 1e-8 and abs(r.var_s2[0] / L - 1) < 1e-8
    assert abs(r.s2_max[0] / edge - 1) < 1e-8 and r.s2_min[0] == 0.0
    # orthogonal: all squared singular values equal 1
    assert abs(r.mean_s2[1] - 1) < 1e-8 and abs(r.var_s2[1]) < 1e-8
    assert abs(r.s2_max[1] - 1) < 1e-8 and abs(r.s2_min[1] - 1) < 1e-8
    assert np.allclose(I.free_moments(np.ones(6), 1.0, L, "orthogonal"), 1.0, rtol=1e-8, atol=0)


@pytest.mark.parametrize("sw2", [0.6, 0.9])
def test_linear_below_criticality_scales_the_fuss_catalan_law(sw2):
    """q* = 0 (the signal dies): the law of phi'^2 is the point mass at 1, J J^T = sw2^L x Fuss-Catalan."""
    L = 16
    r = I.jacobian_spectrum("linear", sw2, 0.0, [L], weights=("gaussian", "orthogonal"))
    assert r.q_star == 0.0
    scale = sw2 ** L
    assert abs(r.mean_s2[0] / scale - 1) < 1e-8 and abs(r.var_s2[0] / (scale ** 2 * L) - 1) < 1e-8
    assert abs(r.s2_max[0] / (scale * (L + 1) ** (L + 1) / L ** L) - 1) < 1e-8
    assert abs(r.s2_max[1] / scale - 1) < 1e-8 and abs(r.s2_min[1] / scale - 1) < 1e-8


def test_tanh_with_dying_signal_is_a_linear_network():
    """tanh, sb2 = 0, sw2 < 1: q* = 0 and phi'(0)^2 = 1, so the spectrum is the linear one at that sw2."""
    a = I.jacobian_spectrum("tanh", 0.8, 0.0, [4, 20], weights=("gaussian", "orthogonal"))
    b = I.jacobian_spectrum("linear", 0.8, 0.0, [4, 20], weights=("gaussian", "orthogonal"))
    for name in ("mean_s2", "var_s2", "s2_max", "s2_min"):
        assert np.allclose(getattr(a, name), getattr(b, name), rtol=1e-10, atol=0), name


# ----------------------------------------------------------------------------- the numeric S-transform oracle
CASES = [(act, sb2) for act in ("tanh", "erf", "hard_tanh") for sb2 in (1e-4, 0.05, 0.5)]


@pytest.fixture(scope="module")
def oracle_laws():
    out = {}
    for act, sb2 in CASES:
        sw2 = float(meanfield.solve_critical(act, [sb2]).sw2_critical[0])
        q = naive.q_star(act, sw2, sb2)
        out[(act, sb2)] = (sw2, q, NS.Law(act, q))
    return out


@pytest.mark.parametrize("act,sb2", CASES)
def test_moments_on_the_critical_line_match_the_numeric_s_transform(oracle_laws, act, sb2):
    sw2, q, law = oracle_laws[(act, sb2)]
    assert abs(naive.chi_1(act, sw2, q) - 1) < 1e-9  # the point is on the critical line
    for weights in ("gaussian", "orthogonal"):
        got = I.spectrum_moments(act, sw2, sb2, [8, 32, 128], weights=weights)
        assert got["status"] == "ok" and abs(got["q_star"] / q - 1) < 1e-9
        for k, L in enumerate((8, 32, 128)):
            mean, var = NS.mean_var(law, sw2, L, weights)
            assert abs(got["mean_s2"][k] / (sw2 * law.mu1) ** L - 1) < 1e-8  # chi_1^L with the oracle's chi_1
            assert abs(got["mean_s2"][k] / mean - 1) < 1e-8
            assert abs(got["var_s2"][k] / var - 1) < 1e-6, (weights, L, got["var_s2"][k], var)


@pytest.mark.parametrize("act,sb2", [("tanh", 1e-4), ("erf", 0.5), ("hard_tanh", 0.05)])
def test_higher_moments_from_the_series_match_the_oracle(oracle_laws, act, sb2):
    sw2, q, law = oracle_laws[(act, sb2)]
    mu = I.derivative_law(act, q).moments(3)[0]
    for weights in ("gaussian", "orthogonal"):
        for L in (8, 128):
            assert np.allclose(I.free_moments(mu, sw2, L, weights), NS.moments(law, sw2, L, weights, 3), rtol=1e-6,
                               atol=0)


def test_derivative_law_moments_match_quadrature():
    for act, q in (("tanh", 0.3), ("erf", 2.0), ("hard_tanh", 0.7), ("selu", 1.3), ("gelu", 0.5), ("softplus", 4.0)):
        mu, var = I.derivative_law(act, q).moments(3)
        sq = math.sqrt(q)
        ref = [naive.gauss(lambda z, k=k: naive.dphi(act, sq * z) ** (2 * k), naive._zkinks(act, q)) for k in (1, 2, 3)]
        assert np.allclose(mu, ref, rtol=1e-10, atol=0), act
        assert abs(var / (ref[1] - ref[0] ** 2) - 1) < 1e-8, act


# ----------------------------------------------------------------------------- edges: closed S-transforms
def _two_point_edge(p, sw2, L, gaussian):
    """Upper edge for phi'^2 in {0, 1} with P(1) = p: M_D(w) = p / (w - 1), so w = 1 + p / m and
    z(m) = (1 + m)/m (sw2 (m + p))^L (1 + m)^(-L [orthogonal]); the edge is min over m > 0 (scipy)."""

    def log_z(log_m):
        m = math.exp(log_m)
        return math.log1p(m) - log_m + L * math.log(sw2 * (m + p)) - (0 if gaussian else L * math.log1p(m))

    res = optimize.minimize_scalar(log_z, bounds=(-40, 40), method="bounded", options={"xatol": 1e-12})
    return math.exp(res.fun)


@pytest.mark.parametrize("sb2", [1e-4, 0.05, 0.5])
def test_hard_tanh_edges_match_the_closed_s_transform(sb2):
    sw2 = float(meanfield.solve_critical("hard_tanh", [sb2]).sw2_critical[0])
    r = I.jacobian_spectrum("hard_tanh", sw2, sb2, [2, 8, 32, 128], weights=("gaussian", "orthogonal"))
    p = math.erf(1.0 / math.sqrt(2.0 * r.q_star))  # P(|h| < 1)
    for k, (w, L) in enumerate(zip(r.weights, r.depth)):
        edge = _two_point_edge(p, sw2, int(L), w == "gaussian")
        assert abs(r.s2_max[k] / edge - 1) < 1e-9, (w, L)
        assert r.s2_min[k] == 0.0


def test_relu_orthogonal_edges():
    """relu: phi'^2 Bernoulli(1/2); L = 1: s2_max = sw2, L = 2: the free product of two such projections
    reaches sw2^2 (its edge is the limit of the branch), deeper: the closed form."""
    r = I.jacobian_spectrum("relu", 2.0, 0.0, [1, 2, 3, 10], weights=("orthogonal", "gaussian"))
    assert abs(r.s2_max[0] - 2) < 1e-12 and abs(r.s2_max[1] - 4) < 1e-9
    for k, (w, L) in enumerate(zip(r.weights, r.depth)):
        if L > 2 or w == "gaussian":
            assert abs(r.s2_max[k] / _two_point_edge(0.5, 2.0, int(L), w == "gaussian") - 1) < 1e-9


def test_leaky_relu_orthogonal_support_is_bounded_away_from_zero():
    r = I.jacobian_spectrum("leaky_relu", 1.0, 0.0, [1, 2, 3, 8], weights=("orthogonal",), slope=0.5)
    assert np.allclose(r.s2_max[:2], 1.0, rtol=1e-10) and np.allclose(r.s2_min[:2], [0.25, 0.0625], rtol=1e-10)
    # d in {a^2, 1}, p = 1/2: M_D(w) = (a^2/(w - a^2) + 1/(w - 1))/2; lower edge: max over m < -1 of z(m)
    a2 = 0.25
    for k, L in enumerate(r.depth):
        if L < 3:
            continue

        def log_z(w, L=int(L)):
            m = 0.5 * (a2 / (w - a2) + 1.0 / (w - 1.0))
            return -(math.log((1 + m) / m) + L * math.log(m * w / (1 + m)))

        res = optimize.minimize_scalar(log_z, bounds=(1e-12, a2 * (1 - 1e-12)), method="bounded",
                                       options={"xatol": 1e-14})
        assert abs(r.s2_min[k] / math.exp(-res.fun) - 1) < 1e-8, L
        assert 0 < r.s2_min[k] < r.mean_s2[k] < r.s2_max[k] < 1


@pytest.mark.parametrize("weights,L", [("gaussian", 8), ("orthogonal", 8), ("orthogonal", 128)])
def test_tanh_upper_edge_matches_the_oracle(oracle_laws, weights, L):
    sw2, q, law = oracle_laws[("tanh", 0.05)]
    got = I.jacobian_spectrum("tanh", sw2, 0.05, [L], weights=(weights,)).s2_max[0]
    assert abs(got / NS.upper_edge(law, sw2, L, weights) - 1) < 1e-7


def test_seed_002_dynamical_isometry_claim():
    """tanh on the critical line at depth 128: orthogonal var_s2 at least 10x below Gaussian at small sb2,
    and var_s2 falls as sb2 falls (both weight laws)."""
    sb2 = [1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.5]
    var = {w: np.array([I.spectrum_moments("tanh", "critical", b, [128], weights=w)["var_s2"][0] for b in sb2])
           for w in ("gaussian", "orthogonal")}
    assert var["orthogonal"][0] * 10 <= var["gaussian"][0] and var["orthogonal"][1] * 10 <= var["gaussian"][1]
    for w in var:
        assert np.all(np.diff(var[w]) > 0), w
    relu = I.spectrum_moments("relu", 2.0, 0.0, [128], weights="orthogonal")["var_s2"][0]
    assert relu > 10 * var["orthogonal"][0]  # relu has no isometric regime


# ----------------------------------------------------------------------------- density
def test_marchenko_pastur_density():
    """Away from the edge by more than 1e-4 (relative) within 1e-8; closer, the evaluation at x (1 + i 1e-7)
    smooths the square root (1e-5 at 1e-6 from the edge)."""
    d = I.spectral_density("linear", 1.0, 0.0, 1, weights="gaussian", points=200)
    x = d.eigenvalue
    exact = np.sqrt(np.clip((4 - x) * x, 0, None)) / (2 * np.pi * x)
    bulk = x < 4 * (1 - 1e-4)
    assert d.converged.all() and bulk.sum() > 190
    assert np.max(np.abs(d.density[bulk] / exact[bulk] - 1)) < 1e-8
    near = (x >= 4 * (1 - 1e-4)) & (x < 4 * (1 - 1e-6))
    assert near.any() and np.max(np.abs(d.density[near] / exact[near] - 1)) < 1e-4
    assert d.density[-1] == 0.0 and d.eigenvalue[-1] == pytest.approx(4.0, rel=1e-10)


def _root_densities(xs, p, sw2, L, gaussian, edge, eps):
    """-Im[(1 + m) / z] / pi at z = x (1 + i eps) for phi'^2 in {0, 1}, P(1) = p, where m = M(z) solves
    z m = (1 + m) (sw2 (m + p))^L (Gaussian) or z m (1 + m)^(L - 1) = (sw2 (m + p))^L (orthogonal)
    (numpy roots); the branch by continuity (nearest root with Im m <= 0) from above the edge, where
    m ~ mean / z, on a path that approaches the edge geometrically, then x descending."""
    P = np.polynomial.Polynomial
    base = P([sw2 * p, sw2]) ** L

    def roots(z):
        if gaussian:
            return (P([1.0, 1.0]) * base - z * P([0.0, 1.0])).roots()
        return (base - z * P([0.0, 1.0]) * P([1.0, 1.0]) ** (L - 1)).roots()

    above = edge * (1 + np.geomspace(1.0, 1e-10, 200))
    path = list(above) + sorted(xs, reverse=True)
    current = (sw2 * p) ** L / path[0]
    out = {}
    for x in path:
        z = x * (1 + 1j * eps)
        r = roots(z)
        r = r[r.imag <= 0]  # M(z) has Im < 0 for Im z > 0
        current = r[np.argmin(np.abs(r - current))]
        out[x] = -((1 + current) / z).imag / np.pi
    return np.array([out[x] for x in xs])


@pytest.mark.parametrize("act,sb2,L,weights", [("linear", 0.0, 2, "gaussian"), ("linear", 0.0, 3, "gaussian"),
                                               ("hard_tanh", 0.05, 2, "gaussian"),
                                               ("hard_tanh", 0.5, 3, "orthogonal")])  # no atom: 3 p < 2
def test_density_matches_polynomial_roots(act, sb2, L, weights):
    """The computed quantity (the law smoothed at x (1 + i 1e-7)) within 1e-8 of the roots' value; the law
    itself (eps = 1e-12) within 1e-5 where the density is above 1e-3 of its peak, 1% away from the edge
    (the smoothing's error is ~ eps x / distance to the edge)."""
    sw2 = 1.0 if act == "linear" else float(meanfield.solve_critical(act, [sb2]).sw2_critical[0])
    d = I.spectral_density(act, sw2, sb2, L, weights=weights, points=200)
    q = I.jacobian_spectrum(act, sw2, sb2, [L], weights=(weights,)).q_star
    p = 1.0 if act == "linear" else math.erf(1.0 / math.sqrt(2.0 * q))
    inside = d.converged & (d.eigenvalue < d.s2_max * (1 - 1e-6)) & (d.eigenvalue > 1e-6 * d.s2_max)
    xs = list(d.eigenvalue[inside])
    smoothed = _root_densities(xs, p, sw2, L, weights == "gaussian", d.s2_max, I.DENSITY_EPS)
    got = d.density[inside]
    assert inside.sum() > 100 and np.all(np.abs(got - smoothed) <= 1e-8 * smoothed + 1e-10 * smoothed.max())
    exact = _root_densities(xs, p, sw2, L, weights == "gaussian", d.s2_max, 1e-12)
    # (and away from 0, where an atom at 0 adds its smoothed tail mass * eps / (pi x))
    bulk = (exact > 1e-3 * exact.max()) & (np.array(xs) < d.s2_max * (1 - 1e-2)) & (np.array(xs) > 1e-3 * d.s2_max)
    assert bulk.sum() > 15 and np.max(np.abs(got[bulk] / exact[bulk] - 1)) < 1e-5


def test_hard_tanh_orthogonal_has_an_atom_at_the_top():
    """phi'^2 in {0, 1}: a fraction L p - (L - 1) of the singular values is exactly sw2^(L/2) (vectors that stay
    in the linear region of every layer); the continuous part carries the rest of the mass p, then a gap."""
    sb2, L = 0.05, 3
    sw2 = float(meanfield.solve_critical("hard_tanh", [sb2]).sw2_critical[0])
    r = I.jacobian_spectrum("hard_tanh", sw2, sb2, [L], weights=("orthogonal",))
    p = math.erf(1.0 / math.sqrt(2.0 * r.q_star))
    assert abs(r.s2_max[0] / sw2 ** L - 1) < 1e-12
    d = I.spectral_density("hard_tanh", sw2, sb2, L, weights="orthogonal", points=3000)
    x, rho = d.eigenvalue[d.converged], d.density[d.converged]
    gap = (x > 1.2) & (x < 0.95 * sw2 ** L)
    assert gap.any() and rho[gap].max() < 1e-5
    body = x < 1.2
    continuous = np.trapezoid(rho[body] * x[body], np.log(x[body]))
    assert abs(continuous - (p - (L * p - (L - 1)))) < 2e-3  # trapezoid on the grid


def test_one_orthogonal_layer_is_the_law_of_sw2_phi_prime_squared():
    """L = 1, orthogonal: J J^T = sw2 D^2; tanh: d = sech^4(s t), t(d) = arccosh(d^(-1/4)) / s,
    so rho(x) = 2 pdf(t) / (sw2 |d'(t)|) at d = x / sw2."""
    sw2, sb2 = 1.76, 0.05
    d = I.spectral_density("tanh", sw2, sb2, 1, weights="orthogonal", points=300)
    q = I.jacobian_spectrum("tanh", sw2, sb2, [1], weights=("orthogonal",)).q_star
    s = math.sqrt(q)
    checked = 0
    for x, rho, ok in zip(d.eigenvalue, d.density, d.converged):
        dv = x / sw2
        if not ok or not 1e-3 < dv < 1 - 1e-4:
            continue
        t = math.acosh(dv ** -0.25) / s
        deriv = 4 * s * math.tanh(s * t) / math.cosh(s * t) ** 4
        exact = 2 * math.exp(-t * t / 2) / math.sqrt(2 * math.pi) / (sw2 * deriv)
        assert abs(rho / exact - 1) < 1e-5, (x, rho, exact)
        checked += 1
    assert checked > 50


# ----------------------------------------------------------------------------- invariants and the contract
ACTS = ("tanh", "erf", "sin", "hard_tanh", "selu", "elu", "gelu", "silu", "softplus", "sigmoid", "relu", "leaky_relu")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(act=st.sampled_from(ACTS), sw2=st.floats(0.3, 3.0), sb2=st.floats(1e-3, 1.0), L=st.integers(1, 200))
def test_moments_and_edges_are_consistent(act, sw2, sb2, L):
    """Gaussian minus orthogonal variance = L chi_1^(2L) exactly; s2_min <= mean <= s2_max; the
    variance obeys the Bhatia-Davis bound (s2_max - mean)(mean - s2_min) of a law on [s2_min, s2_max]."""
    r = I.jacobian_spectrum(act, sw2, sb2, [L], weights=("gaussian", "orthogonal"))
    if r.status[0] != "ok":
        assert r.status[0] in ("q_infinite", "unconverged") and np.isnan(r.var_s2).all()
        return
    chi2L = r.mean_s2[0] ** 2
    assert abs((r.var_s2[0] - r.var_s2[1]) - L * chi2L) <= 1e-9 * L * chi2L + 1e-300
    for k in range(2):
        mean, var, top, bottom = r.mean_s2[k], r.var_s2[k], r.s2_max[k], r.s2_min[k]
        assert var >= 0 and bottom <= mean * (1 + 1e-12) and mean <= top * (1 + 1e-12)
        assert var <= (top - mean) * (mean - bottom) * (1 + 1e-8) + 1e-300


def test_spectrum_moments_contract():
    out = I.spectrum_moments("tanh", "critical", 0.05, [1, 10, 100], weights="orthogonal")
    assert set(out) >= {"mean_s2", "var_s2", "q_star", "chi_1", "status"} and out["status"] == "ok"
    assert out["mean_s2"].shape == (3,) and out["var_s2"].dtype == np.float64
    assert isinstance(out["q_star"], float) and isinstance(out["chi_1"], float)
    inf = I.spectrum_moments("relu", 3.0, 0.1, [5, 6])
    assert inf["status"] == "q_infinite" and inf["q_star"] == math.inf and np.isnan(inf["var_s2"]).all()
    assert np.isnan(I.spectrum_moments("gelu", "critical", 0.1, [5])["mean_s2"]).all()
    for kwargs, param in ((dict(activation="nope"), "activation"), (dict(weights="haar"), "weights"),
                          (dict(depths=[0]), "depth"), (dict(sb2=-1.0), "sb2"), (dict(sw2=float("nan")), "sw2"),
                          (dict(q0=0.0), "q0")):
        args = dict(activation="tanh", sw2=1.5, sb2=0.05, depths=[3])
        args.update(kwargs)
        with pytest.raises(InputError) as exc:
            I.spectrum_moments(**{k: v for k, v in args.items() if k in ("activation", "sw2", "sb2", "depths")},
                               **{k: v for k, v in args.items() if k in ("weights", "q0")})
        assert exc.value.param == param
