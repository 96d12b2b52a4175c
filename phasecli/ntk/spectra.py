"""Spectra of the NTK and NNGP on a data set: eigen-summaries that know their own precision.

lambda_max, lambda_min, lambda_bulk = (trace - lambda_max) / (m - 1) and kappa of the
kernels a recursion yields (docs/theory.md, "Trainability and generalization metrics").

Precision of lambda_min: in the ordered phase Theta -> p* 11^T and lambda_min -> 0, so
a plain float64 eigensolve loses lambda_min once kappa nears 1/(m eps).  Where the
recursion tracks the deviation from the fixed point (normalized inputs), the spectrum is
computed from it once it is small (Householder reflection of 1 onto e_1; the small
eigenvalues are those of B - b b^T / a, exact to a relative |b|^2 / a^2 < 1e-12): kappa
stays accurate as deep as the deviation is representable.  Data as given: the kernel is
r r^T - (r_a r_b dev_ab) with r = sqrt(diag), deflated along r (``_eig_deflated_root``),
with the recursion's tracked per-entry error bounds in the error estimate.  Its m - 1 small
eigenvalues come from ONE tridiagonalization of B - b b^T / a (LAPACK dsytrd): lambda_min
from the secular equation of the bordered matrix and lambda_max (hence lambda_bulk) from an
exact Sherman-Morrison fixed point, both O(m) per step on the tridiagonal form
(``_bordered_tridiagonal``); dense eigensolves remain only as the fallback.  Every "dense eigensolve"
here needs the two ends of a spectrum only: one tridiagonal reduction and two bisections
(``phasecli.runtime.lapack``), not all m eigenvalues.  Wherever the error estimate
of lambda_min exceeds ``RESOLVE_REL`` of it, ``resolved`` is False and lambda_min and
kappa are NaN, never a noise-level number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from phasecli.ntk.asymptotics import learning_rates
from phasecli.runtime.blas import single_threaded as single_threaded_blas
from phasecli.results import Rows

EPS = np.finfo(np.float64).eps
RESOLVE_REL = 1e-3  # lambda_min is reported when its error estimate is below this fraction of it


def _extremes(a):
    """(lambda_min, lambda_max) of the symmetric matrix a (overwritten), one BLAS thread: one tridiagonal
    reduction and two bisections (``phasecli.runtime.lapack``; all eigenvalues by dsterf cost a quarter
    to a half more), else numpy's eigvalsh (dsyevd).  Both release the GIL (scipy.linalg's wrappers hold
    it), so the NTK and NNGP spectra of a layer run on two cores at once."""
    from phasecli.runtime import lapack

    with single_threaded_blas():
        if np.isfinite(a).all():
            ends = lapack.extreme_eigenvalues(a)
            if ends is not None:
                return ends
        w = np.linalg.eigvalsh(a)
    return float(w[0]), float(w[-1])


def _eig_direct(mat, gamma, tau, abs_err=0.0):
    """Eigen-summary of mat + diag(gamma) (all in the same units); abs_err: a norm bound of the entries' errors."""
    a = np.array(mat, dtype=np.float64, copy=True)
    idx = np.diag_indices_from(a)
    a[idx] += gamma
    tr = float(np.trace(a))
    m = a.shape[0]
    lmin, lmax = _extremes(a)
    top = max(abs(lmax), abs(lmin))
    err = 10.0 * math.sqrt(m) * (EPS + tau) * top + abs_err
    bulk = (tr - lmax) / (m - 1)
    bulk_err = err + 4.0 * m * EPS * top / (m - 1)
    return dict(lmax=lmax, lmin=lmin, bulk=bulk, err=err, bulk_err=bulk_err, method="direct")


def _eig_deflated(dev, gamma, tau, abs_floor):
    """Eigen-summary of 11^T - dev + gamma I from the deviation alone (dev symmetric, zero diagonal).

    A Householder reflection H maps 1 to sqrt(m) e_1; H (11^T - dev) H = m e1 e1^T - H dev H
    = [[a, b^T], [b, B]] with a ~ m and b, B of the size of dev.  The m - 1 small
    eigenvalues are those of B - b b^T / (a - lambda); lambda = 0 in the last term
    changes each by a relative b^2 / (a (a - lambda)), required below 1e-12.
    Returns None when the deviation is not small enough for that.
    """
    m = dev.shape[0]
    # ||B|| <= ||dev||_2 <= max row sum of |dev|: skip at once when dev is not small
    bound = float(np.abs(dev).sum(axis=1).max())
    if not (m - bound > 2.0 * bound):
        return None
    v = np.ones(m)
    v[0] -= math.sqrt(m)
    u = v / np.linalg.norm(v)
    g = dev @ u
    w = g - (u @ g) * u
    h = dev - 2.0 * np.outer(u, w) - 2.0 * np.outer(w, u)
    a = m - h[0, 0] + gamma
    b = -h[1:, 0]
    bmat = -h[1:, 1:]
    bmat[np.diag_indices_from(bmat)] += gamma
    nb2 = float(b @ b)
    norm_b = bound + abs(gamma)
    if not (a > 2.0 * norm_b) or nb2 > 1e-12 * a * (a - norm_b):
        return None
    s = bmat - np.outer(b, b) / a
    s = 0.5 * (s + s.T)
    tr_s = float(np.trace(s))  # the sum of the m - 1 small eigenvalues
    mu_lo, mu_hi = _extremes(s)
    mean_mu = tr_s / (m - 1)
    lmax = a + nb2 / (a - mean_mu)
    lmax = a + nb2 / (lmax - mean_mu)
    lmin = mu_lo
    scale = max(abs(mu_lo), abs(mu_hi), float(np.abs(dev).max()))
    err = 10.0 * math.sqrt(m) * ((EPS + tau) * scale + abs_floor) + nb2 / (a * (a - abs(lmin))) * abs(lmin)
    bulk = tr_s / (m - 1)
    return dict(lmax=float(lmax), lmin=lmin, bulk=bulk, err=err, bulk_err=err, method="deflated")


def _error_norm(dev_err, root):
    """Bound of the spectral norm of the error matrix root_a root_b dev_err_ab (its largest row sum)."""
    if dev_err is None:
        return 0.0
    return float((np.abs(dev_err) @ root * root).max()) if root.size else 0.0


def _eig_deflated_root(dev, root, gamma, tau, abs_floor, err_norm):
    """Eigen-summary of root root^T - D + diag(gamma), D_ab = root_a root_b dev_ab (dev symmetric, zero diagonal).

    Data as given (docs/theory.md section 11): the Householder reflection H with
    H root = -|root| e_1 gives H (root root^T - X) H = |root|^2 e1 e1^T - H X H = [[a, b^T], [b, B]]
    for X = D - diag(gamma); the m - 1 small eigenvalues solve lambda = eig(B - b b^T / (a - lambda)):
    lambda_min and lambda_max - a from one tridiagonalization (``_bordered_tridiagonal``), else
    by dense eigensolves (``_bordered_dense``).
    err_norm bounds the tracked errors of D (``_error_norm``).  None when D is not small.
    """
    m = dev.shape[0]
    d = dev * np.outer(root, root)
    gam = np.broadcast_to(np.asarray(gamma, dtype=np.float64), (m,))
    bound = float(np.abs(d).sum(axis=1).max()) + float(np.abs(gam).max())
    a0 = float(root @ root)
    if not (a0 > 3.0 * bound):
        return None
    v = np.array(root, dtype=np.float64)
    v[0] += math.sqrt(a0)
    u = v / np.linalg.norm(v)
    x = d
    x[np.diag_indices_from(x)] -= gam
    g = x @ u
    w = g - (u @ g) * u
    h = x - 2.0 * np.outer(u, w) - 2.0 * np.outer(w, u)
    a = a0 - h[0, 0]
    b = -h[1:, 0]
    bmat = -h[1:, 1:]
    nb2 = float(b @ b)
    if not (a > 2.0 * bound) or nb2 > 1e-4 * a * (a - bound):
        return None
    s0 = bmat - np.outer(b, b) / a
    s0 = 0.5 * (s0 + s0.T)
    tr_b = float(np.trace(bmat))
    res = _bordered_tridiagonal(s0, a, b, nb2, tr_b) if m > 3 else None  # overwrites s0
    if res is None:
        s0 = bmat - np.outer(b, b) / a
        res = _bordered_dense(0.5 * (s0 + s0.T), bmat, a, b, nb2, tr_b, bound)
    lam, change, corr, mu_absmax = res
    scale = max(mu_absmax, float(np.abs(d).max()))
    err = (10.0 * math.sqrt(m) * ((EPS + tau) * scale + abs_floor) + err_norm
           + nb2 / (a * (a - abs(lam))) * change)
    bulk = (tr_b - corr) / (m - 1)  # (trace - lambda_max) / (m - 1), trace = a + tr(B)
    lmax = a + corr
    return dict(lmax=float(lmax), lmin=lam, bulk=bulk, err=err, bulk_err=err, method="deflated")


def _bordered_dense(s0, bmat, a, b, nb2, tr_b, bound):
    """(lambda_min, change, corr, max |mu|) of [[a, b^T], [b, B]] from dense eigensolves (the fallback).

    lambda_min by the fixed point lambda = eig_min(B - b b^T / (a - lambda)) from lambda = 0
    (each step gains a factor |b|^2 / a^2 < 1e-4); corr = lambda_max - a from the mean of
    the small eigenvalues, or where that is not enough, from lambda_max = a + b^T (lambda_max - B)^{-1} b.
    """
    m1 = bmat.shape[0]
    bb = np.outer(b, b)
    lam = 0.0
    change = 0.0
    s = s0
    for _ in range(6):
        tr_s = float(np.trace(s))
        mu_lo, mu_hi = _extremes(s)
        change = abs(mu_lo - lam)
        lam = mu_lo
        if nb2 / (a * (a - abs(lam))) * change <= EPS * abs(lam):
            break
        s = bmat - bb / (a - lam)
        s = 0.5 * (s + s.T)
    mean_mu = tr_s / m1
    corr = nb2 / (a - mean_mu)  # lambda_max - a
    corr = nb2 / (a + corr - mean_mu)
    spread = max(mu_hi - mean_mu, mean_mu - mu_lo)
    if nb2 * spread > EPS * abs(tr_b) * (a - bound) ** 2:
        # lambda_max = a + b^T (lambda_max - B)^{-1} b: the mean of B is not enough; fixed point (factor |b|^2 / a^2)
        from scipy.linalg import solve

        eye = np.eye(m1)
        for _ in range(6):  # lambda_max - B is positive definite (interlacing)
            with single_threaded_blas():
                step = solve((a + corr) * eye - bmat, b, assume_a="pos", check_finite=False)
            new = float(b @ step)
            done = abs(new - corr) <= EPS * abs(tr_b)  # what (trace - lambda_max) / (m - 1) needs
            corr = new
            if done:
                break
    return lam, change, corr, max(abs(mu_lo), abs(mu_hi))


_SYTRD_LWORK = {}


def _tridiagonalize(s0):
    """(c, d, e, tau): S0 = Q T Q^T by LAPACK dsytrd (lower storage, one thread, overwrites s0); None on
    failure.  Through ctypes (``phasecli.runtime.lapack``: releases the GIL), else scipy's wrapper."""
    from phasecli.runtime import lapack as lapack_ctypes

    with single_threaded_blas():
        tri = lapack_ctypes.tridiagonalize(s0) if np.isfinite(s0).all() else None
    if tri is not None:
        return tri
    from scipy.linalg import lapack

    n = s0.shape[0]
    lwork = _SYTRD_LWORK.get(n)
    if lwork is None:
        lw, info = lapack.dsytrd_lwork(n, lower=1)
        lwork = _SYTRD_LWORK[n] = max(1, int(lw)) if info == 0 else max(1, 32 * n)
    with single_threaded_blas():
        c, d, e, tau, info = lapack.dsytrd(s0, lower=1, lwork=lwork, overwrite_a=1)
    if info != 0:
        return None
    return c, d, e, tau


def _tridiagonal_ends(d, e):
    """(smallest, largest) eigenvalue of tridiag(e, d, e) by bisection (LAPACK dstebz)."""
    from phasecli.runtime import lapack

    n = d.shape[0]
    lo, hi = lapack.tridiagonal_eigenvalue(d, e, 0), lapack.tridiagonal_eigenvalue(d, e, n - 1)
    if lo is None or hi is None:
        # bisection failed (a cluster it cannot split, or no library): every eigenvalue by dsterf.  Not scipy's
        # select="i", which is dstebz again (it raises on the same cluster)
        from scipy.linalg import eigvalsh_tridiagonal

        w = eigvalsh_tridiagonal(d, e, check_finite=False)
        lo, hi = float(w[0]), float(w[-1])
    return lo, hi


def _secular_min(d, e, w, a, mu_lo, nb2, t_norm):
    """Smallest eigenvalue of [[a, b^T], [b, B]] below mu_lo = eig_min(S0), S0 = B - b b^T / a = Q T Q^T, w = Q^T b.

    It is the root x < mu_lo of F(x) = 1 / phi(x) - x / (a (a - x)), phi(x) = w^T (T - x)^{-1} w
    (lambda = eig_min(S0 - c b b^T) with c = 1/(a - lambda) - 1/a, by the rank-one secular
    equation); F decreases from F(lo) > 0 (lo = mu_lo - 2 c |b|^2) to -c at mu_lo.  Safeguarded
    Newton in O(m) per step.  t_norm: the largest |eigenvalue| of T.  Returns (x, change for the
    error estimate) or None (not applicable: use the dense loop).
    """
    from phasecli.ntk.spectra_kernels import tridiagonal_quadratic

    if not (0.0 < mu_lo < a):
        return None
    cp = mu_lo / (a * (a - mu_lo))
    lo = mu_lo - 2.0 * cp * nb2 - 4.0 * EPS * mu_lo
    hi = mu_lo
    ok, phi, dphi = tridiagonal_quadratic(d, e, lo, 1.0, w)
    if not ok and cp * nb2 <= 64.0 * EPS * t_norm:
        # the whole correction (at most 2 c |b|^2) is below the rounding of T: mu_lo - c |b|^2, and
        # change = mu_lo puts c |b|^2 into the error estimate (nb2 / (a (a - lambda)) * change)
        return mu_lo - cp * nb2, mu_lo
    if not ok or not (phi > 0.0 and 1.0 / phi - lo / (a * (a - lo)) > 0.0):
        return None
    x = lo
    for _ in range(200):
        ok, phi, dphi = tridiagonal_quadratic(d, e, x, 1.0, w)
        if not ok or not phi > 0.0:  # at or above the lowest eigenvalue of T in rounding
            hi = x
            x = 0.5 * (lo + hi)
            continue
        f = 1.0 / phi - x / (a * (a - x))
        if f > 0.0:
            lo = x
        elif f < 0.0:
            hi = x
        else:
            return x, 0.0
        fp = -dphi / (phi * phi) - 1.0 / ((a - x) * (a - x))
        xn = x - f / fp if fp < 0.0 else 0.5 * (lo + hi)
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        step = abs(xn - x)
        x = xn
        if step <= 2.0 * EPS * abs(x) or hi - lo <= 2.0 * EPS * abs(x):
            return x, max(step, 0.0)
    return None


def _bordered_tridiagonal(s0, a, b, nb2, tr_b):
    """``_bordered_dense`` from ONE tridiagonalization of S0 = B - b b^T / a: lambda_min by the secular
    equation (``_secular_min``) and corr = lambda_max - a exactly (Sherman-Morrison on the
    tridiagonal form: b^T (l - B)^{-1} b = psi / (1 - psi / a), psi = w^T (l - T)^{-1} w), all
    in O(m) per step after the O(m^3) reduction; None when a step does not apply (dense fallback).
    """
    from phasecli.ntk.spectra_kernels import householder_apply_lower, tridiagonal_quadratic

    n = s0.shape[0]
    tri = _tridiagonalize(s0)
    if tri is None:
        return None
    c, d, e, tau = tri
    mu_lo, mu_hi = _tridiagonal_ends(d, e)
    mu_absmax = max(abs(mu_lo), abs(mu_hi))
    w = householder_apply_lower(c, tau, np.ascontiguousarray(b, dtype=np.float64))
    lam, change = mu_lo, abs(mu_lo)
    if nb2 / (a * (a - abs(lam))) * change > EPS * abs(lam):
        root = _secular_min(d, e, w, a, mu_lo, nb2, mu_absmax)
        if root is None:
            return None
        lam, change = root
    mean_mu = (tr_b - nb2 / (a - lam)) / n
    corr = nb2 / (a - mean_mu)  # lambda_max - a
    corr = nb2 / (a + corr - mean_mu)
    for _ in range(10):
        ok, psi, _ = tridiagonal_quadratic(d, e, a + corr, -1.0, w)
        if not ok or not psi < a:
            return None
        new = psi / (1.0 - psi / a)
        done = abs(new - corr) <= EPS * abs(tr_b)  # what (trace - lambda_max) / (m - 1) needs
        corr = new
        if done:
            break
    return lam, change, corr, mu_absmax


def _summarize(direct, dev, gamma, tau, abs_floor, singular, scale_log, root=None, dev_err=None):
    """(lmax, lmin, bulk, kappa, resolved, rel_err, method, log10_lmax) in actual units.

    root (data as given): the kernel is root root^T - root_a root_b dev_ab with diagonal root^2;
    dev_err the tracked absolute errors of dev.  Without root, dev is the deviation from 11^T."""
    res = None
    err_norm = 0.0
    if root is not None and dev is not None:
        err_norm = _error_norm(dev_err, root)
        res = _eig_deflated_root(dev, root, gamma, tau, abs_floor, err_norm)
    elif dev is not None and np.ndim(gamma) == 0:
        res = _eig_deflated(dev, float(gamma), tau, abs_floor)
    if res is None:
        res = _eig_direct(direct(), gamma, max(tau, abs_floor), err_norm)
    lmax, lmin, bulk = res["lmax"], res["lmin"], res["bulk"]
    err = res["err"]
    method = res["method"]
    if singular:
        lmin = float(np.min(gamma)) if np.size(gamma) else 0.0
        lmin = max(lmin, 0.0)
        err = 0.0
        method = "singular"
    resolved = bool(singular or (lmin > 0.0 and err <= RESOLVE_REL * lmin))
    with np.errstate(over="ignore"):
        rel_err = 0.0 if singular else (float(np.float64(err) / lmin) if lmin > 0.0 else math.inf)
    bulk_ok = bulk > 0.0 and res["bulk_err"] <= RESOLVE_REL * bulk
    kappa = (lmax / lmin if lmin > 0.0 else math.inf) if resolved else math.nan

    def actual(x):
        if not math.isfinite(x) or x <= 0.0:
            return x
        lg = math.log(x) + scale_log
        return math.exp(lg) if lg < 709.78 else math.inf

    log10_lmax = (math.log(lmax) + scale_log) / math.log(10.0) if lmax > 0.0 else math.nan
    return (actual(lmax), actual(lmin) if resolved else math.nan, actual(bulk) if bulk_ok else math.nan, kappa,
            resolved, rel_err, method, log10_lmax)


@dataclass
class Spectra(Rows):
    """NTK and NNGP spectra of one (activation, sw2, sb2) point at each requested depth.

    Arrays have shape (n_depths,).  lambda_* are eigenvalues of Theta_train,train (NTK,
    sum-loss convention) and nngp_lambda_* of K_train,train; lambda_bulk =
    (trace - lambda_max) / (m - 1).  resolved / nngp_resolved: float64 resolves
    lambda_min to 1e-3 (else lambda_min and kappa are NaN); kappa_rel_err is the
    estimated relative error of lambda_min (and so of kappa).  method: 'direct'
    (eigenvalues of the kernel), 'deflated' (from the tracked deviation from the ordered
    fixed point), 'singular' (duplicate rows).  log10_lambda_max stays finite where
    lambda_max overflows float64 (chaotic phase at great depth).

    Theory columns (Table 1 of Xiao et al., see ``kappa_theory``): kappa_theory,
    nngp_kappa_theory, lambda_max_theory; kappa_limit: the exact large-depth asymptote of kappa for these
    inputs (``phasecli.ntk.asymptotics.kappa_limit``; NaN where not derived).  status is 'ok' or why the point has no
    kernel ('q_infinite', 'q_zero', 'sw2_zero', 'unconverged', 'overflow'), with message.
    """

    activation: str
    sw2: float
    sb2: float
    m: int
    dim: int
    normalize: bool
    dropout: float | None
    phase: str
    q_star: float
    c_star: float
    chi_1: float
    chi_c: float
    p_star: float
    xi_1: float
    xi_star: float
    depth: np.ndarray
    lambda_max: np.ndarray
    lambda_min: np.ndarray
    lambda_bulk: np.ndarray
    kappa: np.ndarray
    nngp_lambda_max: np.ndarray
    nngp_lambda_min: np.ndarray
    nngp_lambda_bulk: np.ndarray
    nngp_kappa: np.ndarray
    kappa_theory: np.ndarray
    kappa_limit: np.ndarray
    nngp_kappa_theory: np.ndarray
    lambda_max_theory: np.ndarray
    resolved: np.ndarray
    nngp_resolved: np.ndarray
    kappa_rel_err: np.ndarray
    nngp_kappa_rel_err: np.ndarray
    log10_lambda_max: np.ndarray
    method: np.ndarray
    singular: bool = False
    duplicate_rows: list = field(default_factory=list)
    table_error: float = 0.0
    status: str = "ok"
    message: str = ""
    architecture: str = "fc"  # 'fc', 'cnn-f' or 'cnn-p' (phasecli.ntk.engines)
    residual_scale: np.ndarray | float = math.nan  # resnet: alpha at each depth (NaN for other architectures)
    layer_norm: str = ""  # resnet: 'none' or 'pre' (empty for other architectures)

    ROW_COLUMNS = ("depth", "lambda_max", "lambda_min", "lambda_bulk", "kappa", "nngp_lambda_max",
                   "nngp_lambda_min", "nngp_lambda_bulk", "nngp_kappa", "kappa_theory", "nngp_kappa_theory",
                   "lambda_max_theory", "resolved", "nngp_resolved", "kappa_rel_err", "nngp_kappa_rel_err",
                   "log10_lambda_max", "method", "kappa_limit")

    def row_values(self, n: int, loss: str = "sum") -> dict:
        """The learning rates eta_max / eta_catapult for ``loss`` ('sum' or 'mean', see ``learning_rates``)."""
        eta_max, eta_catapult = learning_rates(self.lambda_max, self.m, loss)
        return {"eta_max": eta_max, "eta_catapult": eta_catapult, "loss": [loss] * n}

    def rows(self):
        """One dict per depth (the per-depth columns plus the point's scalars)."""
        scal = dict(activation=self.activation, sw2=self.sw2, sb2=self.sb2, m=self.m, phase=self.phase,
                    q_star=self.q_star, chi_1=self.chi_1, p_star=self.p_star, status=self.status)
        for i in range(self.depth.size):
            row = dict(scal)
            for c in self.ROW_COLUMNS:
                v = getattr(self, c)[i]
                row[c] = v.item() if hasattr(v, "item") else v
            yield row
