"""Per-activation two-point maps T(c), Tdot(c), D = T(1) - T(c), E = Tdot(1) - Tdot(c).

What the kernel recursions (``phasecli.ntk.engines``) evaluate at every pair and layer;
docs/theory.md, "NNGP and NTK on a data set": T(K)_ab = E[phi(u_a) phi(u_b)],
Tdot(K)_ab = E[phi'(u_a) phi'(u_b)].

At equal variances q (normalized inputs) a pair is described by eps = 1 - c, and D and
E are evaluated without cancellation: closed forms for erf, relu, leaky_relu and
linear; for every other activation Chebyshev tables (16 coefficients on equal panels of
theta = arccos(c) in [0, pi], panel count doubled until the coefficient tails are below
2e-15), built once per (activation, q) by ``norm_functions``, of D / eps and E / eps
(E / sin(theta/2) when phi' jumps, E ~ theta).  Smooth activations (tanh, gelu, silu,
softplus, sigmoid, sin): from the angular Fourier expansion of the 2-D Gaussian integral
in polar coordinates, T(theta) = sum_k P_k cos(k theta) with P_k >= 0, so
D = sum_k P_k 2 sin^2(k theta / 2) is a sum of non-negative terms (FFT in the angle,
Gauss-Legendre panels in the radius).  Piecewise ones (elu, selu, hard_tanh) and kinked
expressions: T and Tdot from the piecewise-closed-form quadrature (an expression: nested
quadrature split at its kinks), then by Price's theorem
D = q int_0^theta sin(t) Tdot(t) dt and E = q int_0^theta sin(t) E[phi''(u1) phi''(u2)](t) dt,
the delta functions of phi'' in closed form (an expression: at its kinks, with the jumps of phi'
from the expression's analysis).

The angular expansion also serves data as given (general 2x2 covariances, smooth
activations): ``radial_rule``, ``angular_coefficients`` and ``angular_resolution``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from phasecli.maps import equal_kernels as TK
from phasecli import validate as V
from phasecli.activations import BY_CODE

EPS = np.finfo(np.float64).eps
TABLE_DEGREE = 16
TABLE_TOL = 2e-15
EXPRESSION_TOL = 1e-14  # a kinked expression's T, Tdot tables (nested quadrature, ~16 ms a node at q* = 50)
EXPRESSION_G_TOL = 1e-12  # its G = sin(t) E[phi'' phi''] parts: E's relative error near c = 1 (reported in .error)


# ----------------------------------------------------------------------------- angular expansion
def radial_rule(s_max: float, code: int):
    """Gauss-Legendre panels on r in [0, 9] for the weight r exp(-r^2/2) (2-D Gaussian radius).

    Panels start at min(0.75, 1/sqrt(s)) and grow geometrically (x1.6) up to width 0.75;
    for sin (oscillatory at every radius) the width stays below 1/sqrt(s).
    Returns nodes r and weights W (density and Jacobian included: sum W = 1).
    """
    sq = math.sqrt(max(s_max, 1e-300))
    cap = 0.75
    if BY_CODE[code].oscillatory:
        cap = min(cap, 1.0 / sq)
    r = min(cap, 1.0 / sq)
    bps = [0.0, r]
    while r < 9.0:
        r = min(9.0, r + min(cap, 0.6 * r))
        bps.append(r)
    x, w = np.polynomial.legendre.leggauss(16)
    bps = np.asarray(bps)
    a, b = bps[:-1, None], bps[1:, None]
    rs = (0.5 * (b - a) * (x + 1.0) + a).ravel()
    ws = (0.5 * (b - a) * w).ravel()
    return rs, ws * rs * np.exp(-0.5 * rs * rs)


def angular_coefficients(code, slope, scales, rs, n_angles, kmax=None):
    """Fourier cosine coefficients in psi of phi(s r cos psi) and phi'(s r cos psi).

    Returns (f, g), arrays (len(scales), len(rs), kmax) (kmax defaults to n_angles // 2 + 1).
    """
    psi = 2.0 * np.pi * np.arange(n_angles) / n_angles
    cospsi = np.cos(psi)
    na = scales.shape[0]
    nr = rs.shape[0]
    nk = n_angles // 2 + 1 if kmax is None else min(kmax, n_angles // 2 + 1)
    f = np.empty((na, nr, nk))
    g = np.empty((na, nr, nk))
    chunk = max(1, int(2_000_000 // max(1, nr * n_angles)))
    fs = np.empty((min(chunk, na), nr, n_angles))
    gs = np.empty((min(chunk, na), nr, n_angles))
    for lo in range(0, na, chunk):
        hi = min(na, lo + chunk)
        TK._angular_samples(code, slope, np.ascontiguousarray(scales[lo:hi]), rs, cospsi, fs[:hi - lo], gs[:hi - lo])
        f[lo:hi] = np.fft.rfft(fs[:hi - lo], axis=2)[:, :, :nk].real / n_angles
        g[lo:hi] = np.fft.rfft(gs[:hi - lo], axis=2)[:, :, :nk].real / n_angles
    return f, g


def angular_resolution(code, slope, s_max, rs, w):
    """Angle count N (power of 2) and mode count K for the angular expansion at variance s_max.

    Mode k of the expansion contributes P_k = sum_j w_j f_jk^2 (w: radial weights), so
    the coefficients are judged weighted by sqrt(w_j): N doubles until the top eighth of
    the weighted modes is below 1e-12 of the largest (aliasing), and K drops the modes
    below 1e-12: P_k < 1e-24 relative, and k^2 P_k (D/eps near c = 1) < 1e-18 for k < 1e3.
    """
    scale = np.array([math.sqrt(max(s_max, 0.0))])
    sw = np.sqrt(w)[:, None]
    n = 32
    while True:
        f, g = angular_coefficients(code, slope, scale, rs, n)
        ok = True
        kmax = 1
        for h in (f, g):
            a = (np.abs(h[0]) * sw).max(axis=0)
            top = a.max()
            if top == 0.0:
                continue
            if a[-(n // 8):].max() > 1e-12 * top:
                ok = False
            big = np.nonzero(a > 1e-12 * top)[0]
            kmax = max(kmax, int(big[-1]) + 1 if big.size else 1)
        if ok or n >= 1 << 16:
            return n, kmax
        n *= 2


# ----------------------------------------------------------------------------- normalized tables
@dataclass
class NormFunctions:
    """T, Tdot, D = T(1) - T(c), E = Tdot(1) - Tdot(c) at equal variance q, as the kernels use them."""

    method: int
    code: int
    q: float
    slope: float
    t1: float
    td1: float
    bps: np.ndarray
    cd: np.ndarray
    c2: np.ndarray
    mode2: int
    error: float  # estimated absolute error of the tabulated T, Tdot (relative to T(1), Tdot(1))
    dev_relative: bool  # E has relative accuracy (deviation tracking exact)

    def values(self, eps):
        """(T, Tdot, D, E) at correlations c = 1 - eps: array (len(eps), 4)."""
        eps = np.ascontiguousarray(np.atleast_1d(np.asarray(eps, dtype=np.float64)))
        out = np.empty((eps.size, 4))
        if self.method == TK.M_CLOSED:
            TK._closed_values(self.code, self.q, self.slope, eps, out)
        else:
            TK._table_values(self.bps, self.cd, self.c2, self.mode2, self.t1, self.td1, eps, out)
        return out


_CHEB_X = np.cos(np.pi * (np.arange(TABLE_DEGREE) + 0.5) / TABLE_DEGREE)
_CHEB_M = (2.0 / TABLE_DEGREE) * np.cos(np.pi * np.outer(np.arange(TABLE_DEGREE), np.arange(TABLE_DEGREE) + 0.5)
                                        / TABLE_DEGREE)
_CHEB_M[0] *= 0.5


def _cheb_fit(vals):
    """Chebyshev coefficients (last axis) from values at _CHEB_X."""
    return vals @ _CHEB_M.T


def _fit_panels(func, nfun, tol=TABLE_TOL, start=8, max_panels=4096):
    """Chebyshev tables of degree TABLE_DEGREE - 1 on equal panels of [0, pi].

    func(thetas) -> (nfun, len) values.  The panel count doubles until, on every panel,
    the last three coefficients of every function are below tol * (its largest |value|)
    (``tol`` a number, or one per function).  Returns (bps, coefs[nfun], tail) with tail the
    largest such ratio.
    """
    tol = np.broadcast_to(np.asarray(tol, dtype=float), (nfun,))
    npan = start
    while True:
        bps = np.linspace(0.0, np.pi, npan + 1)
        lo, hi = bps[:-1, None], bps[1:, None]
        th = (0.5 * (lo + hi) + 0.5 * (hi - lo) * _CHEB_X[None, :]).ravel()
        vals = np.asarray(func(th), dtype=float).reshape(nfun, npan, TABLE_DEGREE)
        if not np.all(np.isfinite(vals)):
            raise FloatingPointError("non-finite table values")
        scale = np.maximum(np.abs(vals).max(axis=(1, 2)), 1e-300)
        coef = _cheb_fit(vals)  # (nfun, npan, deg)
        tails = np.abs(coef[:, :, -3:]).max(axis=(1, 2)) / scale
        tail = float(tails.max())
        if np.all(tails <= tol) or npan >= max_panels:
            return bps, [np.ascontiguousarray(c) for c in coef], tail
        npan *= 2


def _chebval_panels(bps, coef, th):
    """Evaluate a panel Chebyshev table at thetas (vectorized numpy, for table building)."""
    p = np.clip(np.searchsorted(bps, th, side="right") - 1, 0, len(bps) - 2)
    lo, hi = bps[p], bps[p + 1]
    x = np.clip((2.0 * th - lo - hi) / (hi - lo), -1.0, 1.0)
    c = coef[p]  # (n, deg)
    b1 = np.zeros_like(th)
    b2 = np.zeros_like(th)
    for k in range(c.shape[1] - 1, 0, -1):
        b1, b2 = 2.0 * x * b1 - b2 + c[:, k], b1
    return x * b1 - b2 + c[:, 0]


_TABLE_CACHE: dict = {}


def norm_functions(activation: str, q: float, slope: float) -> NormFunctions:
    act = V.activation(activation)
    code = act.code
    key = (code, float(q), float(slope) if act.takes_slope else 0.0)
    hit = _TABLE_CACHE.get(key)
    if hit is not None:
        return hit
    empty = np.zeros((1, 1))
    bps0 = np.array([0.0, np.pi])
    if act.kind == "closed":
        out = np.empty((1, 4))
        TK._closed_values(code, q, slope, np.zeros(1), out)
        fn = NormFunctions(TK.M_CLOSED, code, q, slope, out[0, 0], out[0, 1], bps0, empty, empty, 0, 4 * EPS, True)
    elif act.kind == "smooth":
        fn = _smooth_table(code, q, slope)
    elif act.kind == "kinked":  # an expression's table: seconds of nested quadrature, so kept on disk
        fn = _stored_table(code, q, slope)
    else:
        fn = _kinked_table(code, q, slope)
    if len(_TABLE_CACHE) > 256:
        _TABLE_CACHE.clear()
    _TABLE_CACHE[key] = fn
    return fn


_FIELDS = ("method", "code", "q", "slope", "t1", "td1", "bps", "cd", "c2", "mode2", "error", "dev_relative")


def _stored_table(code, q, slope) -> NormFunctions:
    """``_kinked_table`` through the on-disk cache (``runtime.store.stored_arrays``), keyed on q and slope to the
    bit and on this module's source (the table's method and tolerances); the activation expression's normal form
    and the kernel sources key the folder.  The stored table is the built one, bit for bit."""
    from phasecli.runtime.store import stored_arrays

    with open(__file__, "rb") as f:
        source = hashlib.sha1(f.read()).hexdigest()
    key = f"{float(q).hex()} {float(slope).hex()} {source}"

    def build():
        fn = _kinked_table(code, q, slope)
        return {name: np.asarray(getattr(fn, name)) for name in _FIELDS}

    a = stored_arrays("norm-table", key, build)
    return NormFunctions(int(a["method"]), int(a["code"]), float(a["q"]), float(a["slope"]), float(a["t1"]),
                         float(a["td1"]), np.asarray(a["bps"], dtype=np.float64), np.asarray(a["cd"], dtype=np.float64),
                         np.asarray(a["c2"], dtype=np.float64), int(a["mode2"]), float(a["error"]),
                         bool(a["dev_relative"]))


def _angular_spectrum(code, q, slope):
    """P_k, Q_k with T(theta) = sum_k P_k cos(k theta), Tdot(theta) = sum_k Q_k cos(k theta)."""
    rs, w = radial_rule(q, code)
    n, kmax = angular_resolution(code, slope, q, rs, w)
    f, g = angular_coefficients(code, slope, np.array([math.sqrt(q)]), rs, n)
    p = (w[:, None] * f[0] ** 2).sum(axis=0)
    qq = (w[:, None] * g[0] ** 2).sum(axis=0)
    mult = np.full(p.shape, 2.0)
    mult[0] = 1.0
    if n % 2 == 0:
        mult[-1] = 1.0
    p *= mult
    qq *= mult
    return p[:kmax], qq[:kmax]


def _smooth_table(code, q, slope) -> NormFunctions:
    p, qq = _angular_spectrum(code, q, slope)
    k = np.arange(p.size, dtype=float)
    t1 = float(p.sum())
    td1 = float(qq.sum())

    def ratio2(th):
        # (sin(k th / 2) / sin(th / 2))^2 -> k^2 at th = 0
        h = 0.5 * np.asarray(th)
        s = np.sin(h)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.sin(np.outer(h, k)) / s[:, None]
        small = s == 0.0
        if small.any():
            r[small] = k
        return r * r

    def func(th):
        r2 = ratio2(th)
        return np.stack([r2 @ p, r2 @ qq])

    bps, (cd, ce), tail = _fit_panels(func, 2)
    # consistency: T(theta) = sum P_k cos k theta against T(1) - eps * gD
    th = np.linspace(0.0, np.pi, 257)
    t_direct = np.cos(np.outer(th, k)) @ p
    eps = 2.0 * np.sin(0.5 * th) ** 2
    t_tab = t1 - eps * _chebval_panels(bps, cd, th)
    err = float(np.abs(t_direct - t_tab).max() / max(abs(t1), 1e-300))
    err = max(err, tail, 4 * EPS)
    return NormFunctions(TK.M_TABLE, code, q, slope, t1, td1, bps, cd, ce, 0, err, True)


def _kinked_table(code, q, slope) -> NormFunctions:
    """elu, selu, hard_tanh and kinked expressions: T, Tdot from the piecewise quadrature (inner expectation in
    closed form; an expression: nested quadrature split at its kinks); D and E by Price's theorem,

        D(theta) = q int_0^theta sin(t) Tdot(t) dt,   E(theta) = q int_0^theta G(t) dt,
        G(t) = sin(t) E[phi''(u1) phi''(u2)]  (delta functions of phi'' in closed form),

    integrated on Chebyshev interpolants: non-negative integrands near theta = 0, so D and
    E keep full relative accuracy.  E ~ eps for elu (phi' continuous) and ~ theta when
    phi' jumps (selu, hard_tanh): tabulated as E / eps or E / sin(theta / 2).  An expression's G is
    tabulated in two parts, G = Gd + sin(t) R (``equal_kernels.expression_g_parts``: the delta x delta terms
    and the rest), integrated apart and stored as E = eps * [q int sin R / eps] + sin(theta/2) * [q int Gd /
    sin(theta/2)] (mode2 = 3): when the kinks sit far in the Gaussian tail (hard-swish at q* = 0.08: 10.5
    standard deviations) Gd(0) ~ 1e-24 is far below R but still sets E at eps below ~1e-30."""
    expression = BY_CODE[code].kind == "kinked"

    def nodes(th):
        th = np.ascontiguousarray(np.asarray(th, dtype=float))
        t = np.empty(th.size)
        td = np.empty(th.size)
        g = np.empty(th.size)
        TK._kinked_nodes(code, q, th, slope, t, td)
        if expression:
            r = np.empty(th.size)
            TK._expression_g_nodes(code, q, th, g, r)
            return np.stack([t, td, g, r])
        TK._kinked_g_nodes(code, q, th, g)
        return np.stack([t, td, g])

    t0 = nodes(np.zeros(1))
    t1, td1 = float(t0[0, 0]), float(t0[1, 0])
    tol = TABLE_TOL
    if expression:
        # the delta x delta terms are exp(-x), x up to k^2 / q at the kinks k: rounded to ~x ulp, which the
        # Chebyshev tails of that part see as noise
        # (and near theta = 0 they hold exp(-k^2 / (q theta^2)): smooth but not analytic, slow to converge at
        # large q, as the nested quadrature's kinks move to the centre): G's parts to EXPRESSION_G_TOL
        x_max = max((k * k / q for k in BY_CODE[code].kinks), default=0.0)
        tol = np.array([EXPRESSION_TOL, EXPRESSION_TOL, max(EXPRESSION_G_TOL, 4.0 * EPS * min(x_max, 750.0)),
                        EXPRESSION_G_TOL])
    bps, coefs, tail = _fit_panels(nodes, 4 if expression else 3, tol)
    ct, ctd, cg = coefs[:3]
    xg, wg = np.polynomial.legendre.leggauss(40)
    npan = len(bps) - 1
    starts, ends = bps[:-1], bps[1:]
    th_nodes = 0.5 * (starts + ends)[:, None] + 0.5 * (ends - starts)[:, None] * _CHEB_X[None, :]

    def cumulative(coef, with_sin):
        """q int_0^theta f(t) [sin t] dt at every node, f the panel interpolant."""
        def integral(a, b):
            t = 0.5 * (b - a)[:, None] * (xg + 1.0) + a[:, None]
            vals = _chebval_panels(bps, coef, t.ravel()).reshape(t.shape)
            if with_sin:
                vals = vals * np.sin(t)
            return q * 0.5 * (b - a) * (vals @ wg)

        cum = np.concatenate([[0.0], np.cumsum(integral(starts, ends))])
        part = integral(np.repeat(starts, TABLE_DEGREE), th_nodes.ravel()).reshape(npan, TABLE_DEGREE)
        return cum[:-1, None] + part

    d_nodes = cumulative(ctd, True)
    eps_nodes = 2.0 * np.sin(0.5 * th_nodes) ** 2
    cd = np.ascontiguousarray(_cheb_fit(d_nodes / eps_nodes))
    if expression:
        e_smooth = cumulative(coefs[3], True)
        if not BY_CODE[code].phi_prime_jumps:
            e_nodes = e_smooth
            mode2, c2 = 0, np.ascontiguousarray(_cheb_fit(e_nodes / eps_nodes))
        else:
            e_delta = cumulative(cg, False)
            e_nodes = e_smooth + e_delta
            mode2 = 3
            c2 = np.ascontiguousarray(np.concatenate([_cheb_fit(e_smooth / eps_nodes),
                                                      _cheb_fit(e_delta / np.sin(0.5 * th_nodes))]))
    else:
        e_nodes = cumulative(cg, False)
        if not BY_CODE[code].phi_prime_jumps:
            mode2, c2 = 0, np.ascontiguousarray(_cheb_fit(e_nodes / eps_nodes))
        else:
            mode2, c2 = 2, np.ascontiguousarray(_cheb_fit(e_nodes / np.sin(0.5 * th_nodes)))
    # consistency with the quadrature T, Tdot at the nodes
    t_nodes = np.array([_chebval_panels(bps, ct, row) for row in th_nodes])
    td_nodes = np.array([_chebval_panels(bps, ctd, row) for row in th_nodes])
    err = max(float(np.abs((t1 - d_nodes) - t_nodes).max() / max(abs(t1), 1e-300)),
              float(np.abs((td1 - e_nodes) - td_nodes).max() / max(abs(td1), 1e-300)), tail, 4 * EPS)
    return NormFunctions(TK.M_TABLE, code, q, slope, t1, td1, bps, cd, c2, mode2, err, True)
