"""Two-point expectations of many pairs at once, smooth activations by Mehler's series (docs/theory.md section 8).

``pair_maps(code, slope, qa, qb, c)`` returns (T, Tdot) = (E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)]) for
every pair p, (u1, u2) Gaussian with variances qa[p], qb[p] and correlation c[p].  Closed-form and piecewise
activations go pair by pair through ``pair_corr``.  For a smooth activation each distinct variance q gets the
Hermite coefficients a_k(q) of phi(sqrt(q) z) once (``mehler_setup``, the expansion the phase grid's c*
solver uses), and every pair is a series in c:

- equal variances: T = sum a_k^2 c^k, with the certified tail interval of ``mehler`` (upper c^K R0; for
  c >= 0 also the lower bound R0 - (1 - c) R1, so c near 1 is pinned as well);
- unequal variances: T = sum a_k(qa) a_k(qb) c^k, Tdot = sum k a_k(qa) a_k(qb) c^(k-1) / sqrt(qa qb); the
  tails bounded by Cauchy-Schwarz, |c|^K sqrt(R0(qa) R0(qb)) and |c|^(K-1) sqrt(R1(qa) R1(qb)).

A pair is accepted when its tail is pinned to 1e-12 relative (of sqrt(E[phi(u1)^2] E[phi(u2)^2]) for T, of
sqrt(E[phi'(u1)^2] E[phi'(u2)^2]) for Tdot); the rest are retried with 256 and then 1024 terms, and what is
still open goes to the nested quadrature of ``pair_corr`` (large variances, where phi(sqrt(q) z) is nearly
a step and the coefficients decay slowly, at intermediate c).  Variances equal to 64 ulps share one
expansion (the representative's q: a change of T below 1e-14 relative).
"""

from __future__ import annotations

import math

import numpy as np

from phasecli.activations.functions import activation_kind
from phasecli.expectations.kernels import (HERMITE_TERMS, HERMITE_TERMS_MAX, HERMITE_TERMS_MIN, gauss_moments, mehler,
                                           mehler_setup, pair_corr)
from phasecli.runtime.jit import njit, prange

# (terms, quadrature panel width in z of the coefficients), the escalation of the c* solver's _cmap_eval
LEVELS = ((HERMITE_TERMS_MIN, 0.75), (HERMITE_TERMS, 0.5), (HERMITE_TERMS_MAX, 0.35))
TAIL_RTOL = 1e-12
SAME_VARIANCE_RTOL = 64 * np.finfo(np.float64).eps
# below these sizes a kernel runs on one thread (a parallel launch costs ~0.1-10 ms on the shared cores)
SERIAL_MOMENTS = 256
SERIAL_SETUPS = 4
SERIAL_SERIES = 4096
SERIAL_QUADRATURE = 2


def _setups(code, slope, qs, phi2, dphi2, want, kmax, hz, coef, tails):
    """Hermite coefficients and tails of every wanted variance (rows of coef, tails)."""
    for v in prange(qs.shape[0]):
        if want[v]:
            a, r = mehler_setup(code, qs[v], slope, kmax, hz, phi2[v], dphi2[v])
            coef[v, :] = a
            tails[v, :] = r


_setups_parallel = njit(parallel=True, cache=True)(_setups)
_setups_serial = njit(cache=True)(_setups)


@njit(cache=True)
def _mixed(coef_a, tails_a, coef_b, tails_b, c, qa, qb, phi2a, phi2b, dphi2a, dphi2b):
    """Unequal variances: (T, Tdot, ok) from sum a_k b_k c^k and its Cauchy-Schwarz tail bounds."""
    kmax = coef_a.shape[0]
    s = 0.0
    d = 0.0
    for k in range(kmax - 1, -1, -1):
        ab = coef_a[k] * coef_b[k]
        s = s * c + ab
        if k > 0:
            d = d * c + k * ab
    ac = abs(c)
    t_err = ac ** kmax * math.sqrt(tails_a[0] * tails_b[0])
    d_err = ac ** (kmax - 1) * math.sqrt(tails_a[1] * tails_b[1])
    root_q = math.sqrt(qa * qb)
    ok = t_err <= TAIL_RTOL * math.sqrt(phi2a * phi2b) and d_err <= TAIL_RTOL * root_q * math.sqrt(dphi2a * dphi2b)
    return s, d / root_q, ok


def _mehler_pass(va, vb, c, qs, phi2, dphi2, coef, tails, todo, t, tdot):
    """Every open pair (todo) by the series at this level; pinned ones are written and closed."""
    for p in prange(va.shape[0]):
        if not todo[p]:
            continue
        a = va[p]
        b = vb[p]
        if a == b:
            x, y, ok = mehler(coef[a], tails[a], c[p], qs[a], phi2[a], dphi2[a])
        else:
            x, y, ok = _mixed(coef[a], tails[a], coef[b], tails[b], c[p], qs[a], qs[b], phi2[a], phi2[b],
                              dphi2[a], dphi2[b])
        if ok:
            t[p] = x
            tdot[p] = y
            todo[p] = False


_mehler_pass_parallel = njit(parallel=True, cache=True)(_mehler_pass)
_mehler_pass_serial = njit(cache=True)(_mehler_pass)


def _pair_pass(code, kind, slope, qa, qb, c, todo, t, tdot):
    """Every open pair by ``pair_corr`` (closed form, piecewise or nested quadrature)."""
    for p in prange(qa.shape[0]):
        if todo[p]:
            x, y = pair_corr(code, qa[p], qb[p], c[p], slope, kind)
            t[p] = x
            tdot[p] = y


_pair_pass_parallel = njit(parallel=True, cache=True)(_pair_pass)
_pair_pass_serial = njit(cache=True)(_pair_pass)


def _moments(code, qs, slope, phi2, dphi2):
    for i in prange(qs.shape[0]):
        a, b, _ = gauss_moments(code, qs[i], slope)
        phi2[i] = a
        dphi2[i] = b


_moments_parallel = njit(parallel=True, cache=True)(_moments)
_moments_serial = njit(cache=True)(_moments)


def moments(code, slope, q):
    """(E[phi(u)^2], E[phi'(u)^2]) for u ~ N(0, q), each distinct q once (serial below SERIAL_MOMENTS of them)."""
    q = np.asarray(q, dtype=np.float64)
    u, inverse = np.unique(q, return_inverse=True)  # (LayerNorm: one variance for all)
    phi2, dphi2 = np.empty_like(u), np.empty_like(u)
    (_moments_serial if u.size < SERIAL_MOMENTS else _moments_parallel)(code, u, slope, phi2, dphi2)
    return phi2[inverse].reshape(q.shape), dphi2[inverse].reshape(q.shape)


def _variance_groups(q):
    """(representatives, group index of each q): sorted distinct values, those within SAME_VARIANCE_RTOL of a
    group's smallest merged into it."""
    u, inverse = np.unique(q, return_inverse=True)
    group = np.empty(u.size, dtype=np.int64)
    reps = []
    for i, v in enumerate(u):
        if not reps or v > reps[-1] * (1.0 + SAME_VARIANCE_RTOL):
            reps.append(v)
        group[i] = len(reps) - 1
    return np.array(reps, dtype=np.float64), group[inverse]


def pair_maps(code, slope, qa, qb, c, stats=None):
    """(T, Tdot) for pairs with variances qa, qb (> 0 for the series) and correlation c in [-1, 1] (1-D float
    arrays of one length).  ``stats``, a dict if given, receives the number of pairs taken at each level
    ('terms_64', 'terms_256', 'terms_1024') and by quadrature ('quadrature')."""
    qa = np.ascontiguousarray(qa, dtype=np.float64).ravel()
    qb = np.ascontiguousarray(qb, dtype=np.float64).ravel()
    c = np.ascontiguousarray(c, dtype=np.float64).ravel()
    n = qa.size
    t = np.full(n, np.nan)
    tdot = np.full(n, np.nan)
    kind = int(activation_kind(code))
    todo = np.ones(n, dtype=np.bool_)
    if kind == 2 and n:
        series = np.isfinite(qa) & np.isfinite(qb) & np.isfinite(c) & (qa > 0.0) & (qb > 0.0)
        if series.any():
            reps, groups = _variance_groups(np.concatenate([qa[series], qb[series]]))
            va = np.zeros(n, dtype=np.int64)
            vb = np.zeros(n, dtype=np.int64)
            k = int(series.sum())
            va[series], vb[series] = groups[:k], groups[k:]
            phi2, dphi2 = moments(code, slope, reps)
            open_ = series.copy()
            for kmax, hz in LEVELS:
                if not open_.any():
                    break
                want = np.zeros(reps.size, dtype=np.bool_)
                want[va[open_]] = True
                want[vb[open_]] = True
                coef = np.zeros((reps.size, kmax))
                tails = np.zeros((reps.size, 3))
                (_setups_serial if want.sum() < SERIAL_SETUPS else _setups_parallel)(code, slope, reps, phi2, dphi2, want, kmax, hz, coef, tails)
                before = int(open_.sum())
                (_mehler_pass_serial if before < SERIAL_SERIES else _mehler_pass_parallel)(va, vb, c, reps, phi2, dphi2, coef, tails, open_, t, tdot)
                if stats is not None:
                    stats[f"terms_{kmax}"] = stats.get(f"terms_{kmax}", 0) + before - int(open_.sum())
            todo = open_ | ~series
    if todo.any():
        if stats is not None:
            stats["quadrature"] = stats.get("quadrature", 0) + int(todo.sum())
        (_pair_pass_serial if todo.sum() < SERIAL_QUADRATURE or kind == 0 and n < SERIAL_SERIES
         else _pair_pass_parallel)(code, kind, slope, qa, qb, c, todo, t, tdot)
    return t, tdot
