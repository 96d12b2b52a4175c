"""Activations given as expressions (--activation EXPR) against independent oracles, and tanh(x) against -a tanh.

One activation expression per process, so each expression runs in a subprocess of its own
(``tests/expression_probe.py``, through the Python API); the oracles here are the quadrature
ones of ``tests/naive.py`` / ``tests/naive_ntk.py`` (scipy.integrate.quad, nothing from phasecli),
with each expression's phi and phi' written out by hand below.  Required accuracy: 1e-8
relative (q*, c*, chi_1, chi_c, the critical sw2, kappa and the spectra at depths 1 and 3, the
Jacobian's mean and variance of the squared singular values); tanh(x) equals -a tanh to 1e-12
in every numeric column of every main command.  The first run of each expression compiles
its kernels (minutes): slow tier.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

import naive as nv
import naive_hswish_ntk as hsntk
import naive_ntk as nntk

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
REL = 1e-8


def _softplus(x):
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0.0 else math.exp(x) / (1.0 + math.exp(x))


def _mish(x, s=0.0):
    return x * math.tanh(_softplus(x))


def _dmish(x, s=0.0):
    t = math.tanh(_softplus(x))
    return t + x * (1.0 - t * t) * _sigmoid(x)


def _hswish(x, s=0.0):
    return 0.0 if x <= -3.0 else (x if x >= 3.0 else x * (x + 3.0) / 6.0)


def _dhswish(x, s=0.0):
    return 0.0 if x < -3.0 else (1.0 if x > 3.0 else (2.0 * x + 3.0) / 6.0)


# expression -> (phi, phi', kinks): the oracles' activations, written from the definitions
EXPRESSIONS = {
    "tanh(x)": (lambda x, s=0.0: math.tanh(x), lambda x, s=0.0: nv.ACTS["tanh"][1](x, s), ()),
    "x*tanh(softplus(x))": (_mish, _dmish, ()),
    "sin(2*x)/2": (lambda x, s=0.0: 0.5 * math.sin(2.0 * x), lambda x, s=0.0: math.cos(2.0 * x), ()),
    "x*min(max(x+3,0),6)/6": (_hswish, _dhswish, (-3.0, 3.0)),
}
nv.ACTS.update(EXPRESSIONS)  # the oracles look activations up by name
KINKED = {"x*min(max(x+3,0),6)/6"}
X4 = np.random.default_rng(23).standard_normal((4, 5))


def _probe(tmp_path, *args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, str(HERE / "expression_probe.py"), *args], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=3000)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def _data(tmp_path) -> str:
    path = tmp_path / "x.csv"
    np.savetxt(path, X4, delimiter=",", fmt="%.17g")
    return str(path)


def _close(got, want, what, rel=REL):
    assert math.isfinite(got), f"{what}: {got}"
    assert abs(got - want) <= rel * max(abs(want), 1e-300), f"{what}: {got!r} vs oracle {want!r} " \
                                                             f"(rel {abs(got - want) / abs(want):.2e})"


def _loose_gauss(f, breaks=()):
    """naive.gauss with an absolute error floor of 1e-12 instead of 1e-15: the inner expectations of an
    oscillating activation nearly vanish (sin(2x)/2 at q = 30: E[cos(2 u2) | z1] ~ 1e-17), which naive.gauss's
    relative check refuses; 1e-12 is far below the 1e-8 * E[phi^2] the comparison needs."""
    import warnings

    from scipy import integrate

    pts = sorted({-nv.Z, -4.0, 0.0, 4.0, nv.Z} | {b for b in breaks if -nv.Z < b < nv.Z})
    total = errs = 0.0
    for a, b in zip(pts[:-1], pts[1:]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            val, err = integrate.quad(lambda z: f(z) * nv._pdf(z), a, b, epsabs=1e-15, epsrel=nv.EPSREL,
                                      limit=nv.LIMIT)
        total += val
        errs += err
    if errs > 1e-10 * abs(total) + 1e-12:
        raise RuntimeError(f"quadrature error estimate {errs:.3g} for integral {total:.3g}")
    return total


def _pair(act, q, c):
    """naive.pair, its Gaussian expectations by ``_loose_gauss``."""
    strict = nv.gauss
    nv.gauss = _loose_gauss
    try:
        return nv.pair(act, q, c)
    finally:
        nv.gauss = strict


def _check_against_oracle(act, got):
    for key, row in got["expression"].items():
        if not key.startswith("phase"):
            continue
        _, sw2, sb2 = key.split()
        sw2, sb2 = float(sw2), float(sb2)
        q = nv.q_star(act, sw2, sb2)
        if q == math.inf:  # grows without bound (hard-swish at large sw2, as relu)
            assert row["q_star"] == math.inf, f"{act} q* at {sw2}, {sb2}: {row['q_star']} (oracle: inf)"
            continue
        _close(row["q_star"], q, f"{act} q* at {sw2}, {sb2}")
        chi1 = nv.chi_1(act, sw2, q)
        _close(row["chi_1"], chi1, f"{act} chi_1 at {sw2}, {sb2}")
        _close(row["q_slope"], nv.q_slope(act, q, sw2), f"{act} q-map slope at {sw2}, {sb2}")
        c = row["c_star"]
        if chi1 <= 1.0:
            assert c == 1.0, f"{act}: ordered point with c* = {c}"
            _close(row["chi_c"], chi1, f"{act} chi_c at {sw2}, {sb2}")
            continue
        # c*: the oracle's c-map residual at phasecli's c*, and one Newton step of the oracle from there
        t, tdot = nv.pair(act, q, c)
        residual = (sw2 * t + sb2) / q - c
        step = residual / (sw2 * tdot - 1.0)
        assert abs(step) <= REL * c, f"{act} c* = {c}: the oracle's Newton step {step:.2e}"
        _close(row["chi_c"], sw2 * tdot, f"{act} chi_c at {sw2}, {sb2}")
    crit = got["expression"]["critical"]
    for sb2, sw2c, q_c, error in zip(crit["sb2"], crit["sw2_critical"], crit["q_star"], crit["error"]):
        if math.isnan(sw2c):
            # Mish and hard-swish grow like relu for x > 0 (as silu, gelu): q* becomes infinite as sw2 -> 2, here
            # before chi_1 reaches 1; the oracle: chi_1 < 1 at q* approaching that divergence
            assert "q_infinite" in error, crit
            for sw2 in (1.5, 1.9, 1.95, 1.98):
                assert nv.chi_1(act, sw2, nv.q_star(act, sw2, sb2)) < 1.0, (act, sw2, sb2)
            continue
        def excess(sw2):
            return nv.chi_1(act, sw2, nv.q_star(act, sw2, sb2)) - 1.0

        lo, hi = sw2c * (1 - 1e-7), sw2c * (1 + 1e-7)
        assert excess(lo) < 0.0 < excess(hi), f"{act}: the critical sw2 {sw2c} at sb2 {sb2} is off by > 1e-7"
        root = optimize.brentq(excess, lo, hi, xtol=1e-15, rtol=1e-14)
        _close(sw2c, root, f"{act} critical sw2 at sb2 = {sb2}")
        _close(q_c, nv.q_star(act, root, sb2), f"{act} critical q* at sb2 = {sb2}")
    kap = got["expression"]["kappa"]
    assert "error" not in kap, kap
    if True:
        sw2, sb2 = 1.5, 0.05
        q = nntk.q_star(act, sw2, sb2)
        ref = nntk.kernels(act, nntk.normalize_rows(X4, sw2, sb2, q), sw2, sb2, [1, 3])
        for i, depth in enumerate(kap["depth"]):
            k, th = ref[int(depth)][0], ref[int(depth)][1]
            lmax, lmin, bulk, kappa = nntk.spectrum(th)
            for name, want in (("lambda_max", lmax), ("lambda_min", lmin), ("lambda_bulk", bulk), ("kappa", kappa),
                               ("nngp_kappa", nntk.spectrum(k)[3])):
                _close(kap[name][i], want, f"{act} {name} at depth {depth}")
    pairs = got["expression"]["pairs"]
    for q, c, t, tdot in zip(pairs["q"], pairs["c"], pairs["t"], pairs["tdot"]):
        want_t, want_td = _pair(act, q, c)
        # relative to the c = 1 values (T and Tdot pass through 0 for odd activations)
        for what, got_v, want, scale in (("T", t, want_t, nv.length_map(act, q)), ("Tdot", tdot, want_td,
                                                                                     nv.dphi2(act, q))):
            assert abs(got_v - want) <= REL * scale, f"{act} {what}(q={q}, c={c}): {got_v!r} vs oracle {want!r}"
    jac = got["expression"]["jacobian"]
    assert sorted(set(jac["weights"])) == ["gaussian", "orthogonal"] and len(jac["sw2"]) == 4
    for i, sw2 in enumerate(jac["sw2"]):
        depth, weights = int(jac["depth"][i]), jac["weights"][i]
        q = nv.q_star(act, sw2, 0.05)
        _close(jac["q_star"][i], q, f"{act} Jacobian q*")
        sq = math.sqrt(q)
        g = nv.ACTS[act][1]
        zk = [k / sq for k in nv.ACTS[act][2]]
        mu1 = nv.gauss(lambda z: g(sq * z) ** 2, zk)
        mu2 = nv.gauss(lambda z: g(sq * z) ** 4, zk)
        mean = (sw2 * mu1) ** depth
        _close(jac["chi_1"][i], sw2 * mu1, f"{act} Jacobian chi_1")
        _close(jac["mean_s2"][i], mean, f"{act} mean of s^2 at depth {depth}")
        # var = m1^2 L (mu2 / mu1^2 - 1 + [Gaussian weights]) (free multiplicative convolution; docs/theory.md 14)
        var = mean * mean * depth * (mu2 / mu1 ** 2 - (0.0 if weights == "gaussian" else 1.0))
        _close(jac["var_s2"][i], var, f"{act} var of s^2 at depth {depth}, {weights} weights")


@pytest.mark.parametrize("act", [e for e in EXPRESSIONS if e != "tanh(x)"])
def test_expression_matches_the_quadrature_oracle(act, tmp_path):
    _check_against_oracle(act, _probe(tmp_path, act, _data(tmp_path)))


def test_tanh_expression_matches_oracle_and_registered_tanh(tmp_path):
    got = _probe(tmp_path, "tanh(x)", _data(tmp_path), "--with-registered", "tanh")
    _check_against_oracle("tanh(x)", got)

    def flat(tree, prefix=""):
        if isinstance(tree, dict):
            for k, v in tree.items():
                yield from flat(v, f"{prefix}/{k}")
        elif isinstance(tree, list):
            for i, v in enumerate(tree):
                yield from flat(v, f"{prefix}[{i}]")
        else:
            yield prefix, tree

    a, b = dict(flat(got["expression"])), dict(flat(got["registered"]))
    assert a.keys() == b.keys() and len(a) > 40
    for key in a:
        if isinstance(a[key], str):  # error texts (empty here), weight laws
            assert a[key] == b[key], key
            continue
        if key.startswith("/pairs/t"):  # T, Tdot <= 1 and pass through 0 (c = 0, odd phi): absolute
            assert abs(a[key] - b[key]) <= 1e-12, f"tanh(x) vs tanh: {key}: {a[key]!r} vs {b[key]!r}"
            continue
        _close(a[key], b[key], f"tanh(x) vs tanh: {key}", rel=1e-12)


def test_tanh_expression_equals_registered_tanh_in_every_column(tmp_path):
    got = _probe(tmp_path, "--compare-cli", "tanh(x)", "tanh")
    for command, (expr, reg) in got.items():
        assert expr["status"] == reg["status"] and expr["status"] in (0, 1), command
        assert expr["rows"][0] == reg["rows"][0] and len(expr["rows"]) == len(reg["rows"]) > 1, command
        header = reg["rows"][0]
        numeric = 0
        for row_e, row_r in zip(expr["rows"][1:], reg["rows"][1:]):
            for col, x, y in zip(header, row_e, row_r):
                if col == "activation":
                    assert (x, y) == ("tanh(x)", "tanh"), command
                    continue
                try:
                    fx, fy = float(x), float(y)
                except ValueError:
                    assert x == y, f"{command}: {col} {x!r} vs {y!r}"
                    continue
                numeric += 1
                if math.isnan(fy) or math.isinf(fy):
                    assert x == y, f"{command}: {col} {x!r} vs {y!r}"
                else:
                    assert abs(fx - fy) <= 1e-12 * abs(fy), f"{command}: {col} {x!r} vs {y!r}"
        assert numeric > 0, command


# ----------------------------------------------------------------------------- hard-swish kernels at depths 1..100
HSWISH = "x*min(max(x+3,0),6)/6"
NTK_ORACLE_FILE = HERE / "data" / "expression_ntk_oracle.json"
NTK_ORACLE = json.loads(NTK_ORACLE_FILE.read_text())
SPECTRA = ("lambda_max", "lambda_min", "kappa", "nngp_kappa")


@pytest.fixture(scope="module")
def hswish_spectra(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hswish")
    x3 = np.asarray(NTK_ORACLE["X3"])
    np.savetxt(tmp / "x3.csv", x3, delimiter=",", fmt="%.17g")
    np.savetxt(tmp / "x3_raw.csv", x3 * np.asarray(NTK_ORACLE["SCALES"])[:, None], delimiter=",", fmt="%.17g")
    got = _probe(tmp, "--kappa-spectra", HSWISH, str(NTK_ORACLE_FILE), str(tmp / "x3.csv"), str(tmp / "x3_raw.csv"))
    (tmp / "probe.json").write_text(json.dumps(got))  # for a look after a failure
    return got


def test_hard_swish_kappa_at_depths_1_to_100_matches_the_deviation_oracle(hswish_spectra):
    """Normalized inputs, ordered (chi_1 = 0.39: deviations of 1e-41 at depth 100, set partly by the jumps of phi'
    10.5 standard deviations out; 0.63; sw2 = 2.1 > 2 at its stable q* = 0.11) and chaotic (q* = 30, chi_1 = 1.03)
    points: lambda_max, lambda_min, kappa and the NNGP kappa at every depth 1..100 within 1e-8 of
    tests/naive_hswish_ntk.py, and every depth reported resolved."""
    worst = 0.0
    for point, ref in NTK_ORACLE["normalized"].items():
        got = hswish_spectra["normalized"][point]
        assert got["depth"] == list(range(1, 101)), point
        for i, depth in enumerate(got["depth"]):
            assert got["resolved"][i] and got["status"][i] == "ok", (point, depth, got["status"][i])
            for name, want in zip(SPECTRA, ref["spectra"][str(depth)]):
                _close(got[name][i], want, f"hard-swish {name} at {point}, depth {depth}")
                worst = max(worst, abs(got[name][i] / want - 1.0))
    assert NTK_ORACLE["normalized"]["1.5 0.05"]["spectra"]["100"][2] > 1e39  # the deep ordered kappa
    print(f"largest relative difference from the oracle: {worst:.2e}")


def test_hard_swish_kappa_as_given_matches_the_oracle_where_resolved(hswish_spectra):
    """--no-normalize (nested quadrature per pair, an absolute error floor): every depth the oracle's plain
    recursion resolves is resolved within 1e-8 or reported unresolved (NaN), never a wrong number; the first
    three depths are resolved."""
    for point, ref in NTK_ORACLE["raw"].items():
        got = hswish_spectra["raw"][point]
        assert [str(d) for d in got["depth"]] == list(ref), point
        for i, depth in enumerate(got["depth"]):
            if not got["resolved"][i]:
                assert depth > 3 and math.isnan(got["kappa"][i]) and math.isnan(got["lambda_min"][i]), (point, depth)
                continue
            for name, want in zip(SPECTRA, ref[str(depth)]):
                if name == "nngp_kappa" and math.isnan(got[name][i]):  # the NNGP's own resolution (no column)
                    assert depth > 3, (point, depth)
                    continue
                _close(got[name][i], want, f"hard-swish as given {name} at {point}, depth {depth}")


def test_hard_swish_lr_is_two_over_the_oracle_lambda_max(hswish_spectra):
    for point, ref in NTK_ORACLE["normalized"].items():
        got = hswish_spectra["lr"][point]
        for i, depth in enumerate(got["depth"]):
            lmax = ref["spectra"][str(depth)][0]
            _close(got["lambda_max"][i], lmax, f"lr lambda_max at {point}, depth {depth}")
            _close(got["eta_max"][i], 2.0 / lmax, f"lr eta_max at {point}, depth {depth}")


@pytest.mark.parametrize("point,pair", [("1.5 0.05", (0, 1)), ("1.95 1.0", (1, 2))])
def test_stored_hard_swish_oracle_is_the_oracle(point, pair):
    """One pair of the stored file rerun through tests/naive_hswish_ntk.py over all 100 layers (a pair's
    recursion involves that pair alone): its deviations at depth 100 are the stored ones."""
    sw2, sb2 = (float(v) for v in point.split())
    x3 = np.asarray(NTK_ORACLE["X3"])
    q, eps, p, dl = hsntk.recursion(x3, sw2, sb2, [100], pairs=[pair])[100]
    ref = NTK_ORACLE["normalized"][point]
    i, j = pair
    assert q == pytest.approx(ref["q_star"], rel=1e-14)
    assert eps[i, j] == pytest.approx(ref["eps_last"][i][j], rel=1e-12)
    assert dl[i, j] == pytest.approx(ref["delta_last"][i][j], rel=1e-12)
