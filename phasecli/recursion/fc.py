"""The fully connected NNGP / NTK depth recursion (docs/theory.md, "NNGP and NTK on a data set").

    K^1     = Theta^1 = sw2 * X X^T / d + sb2
    K^{l+1} = sw2 * T(K^l) + sb2
    Theta^{l+1} = K^{l+1} + sw2 * Tdot(K^l) * Theta^l      (elementwise)

Two engines, both yielding a ``Layer`` at every requested depth from ONE pass:

Normalized inputs (``NormalizedEngine``; every diagonal equals q*).  A pair is carried
as its deviation from the ordered fixed point, eps = 1 - K_ab / q* and
Delta_ab = (p - Theta_ab) / p, next to Theta_ab / p itself (p the NTK diagonal):

    eps'   = sw2 D(eps) / q*,          D = T(1) - T(c)       = E[(phi(u1) - phi(u2))^2] / 2
    Delta' = (q* eps' / p + sw2 (E(eps) + Tdot(c) Delta)) / rho,  E = Tdot(1) - Tdot(c)
    (rho = p^{l+1} / p^l; every term is non-negative)

with D and E from ``phasecli.twopoint`` (no cancellation), one table look-up per pair
and layer (numba, parallel above ``SERIAL_PAIRS`` entries).

Data as given (``RawEngine``): per-pair (T, Tdot) for the general 2x2 covariance:
closed forms (erf, relu, leaky_relu, linear), the piecewise quadrature of
``phasecli._kernels`` (elu, selu, hard_tanh; ~1e-13), and for smooth activations the
angular Fourier expansion E[phi(u1) phi(u2)] = sum_k w_k cos(k theta) <f_a,k, f_b,k>
with per-row coefficients, summed over all pairs by BLAS (~1e-14; ~0.5 s per layer at
m = 300).  Theta is carried divided by its largest diagonal (and K too for homogeneous
activations), so the chaotic growth never overflows.

``build`` picks the engine and finds exactly duplicated rows (``duplicate_pairs``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phasecli import _kernels as K
from phasecli import twopoint as TP
from phasecli.activations import ACTIVATIONS
from phasecli.recursion import Layer, PointError
from phasecli.recursion import _fc_kernels as FK
from phasecli.twopoint import NormFunctions
from phasecli.validate import InputError

EPS = np.finfo(np.float64).eps
DEV_UNDERFLOW = 1e-280  # deviations below this are too close to the float64 floor to trust
SERIAL_PAIRS = 40_000  # below this many entries a layer runs on one thread (launch overhead)


class NormalizedEngine:
    """Normalized inputs (every diagonal at q*): pairs carried as deviations from the ordered fixed point."""

    def __init__(self, fn: NormFunctions, Xn, Xt, sw2, sb2, q, chi_1_tab, dropout):
        from scipy.spatial.distance import cdist

        self.fn = fn
        self.sw2, self.sb2, self.q = sw2, sb2, q
        self.chi = chi_1_tab
        self.rho_d = dropout
        d = Xn.shape[1]
        f = sw2 / (2.0 * d * q)
        self.eps = np.clip(f * cdist(Xn, Xn, "sqeuclidean"), 0.0, 2.0)
        np.fill_diagonal(self.eps, 0.0)
        self.th = 1.0 - self.eps  # Theta^1 / p^1 = K^1 / q
        self.dl = self.eps.copy()  # (p - Theta) / p
        if Xt is not None:
            self.eps_t = np.clip(f * cdist(Xt, Xn, "sqeuclidean"), 0.0, 2.0)
            self.th_t = 1.0 - self.eps_t
            self.dl_t = self.eps_t.copy()
        else:
            self.eps_t = self.th_t = self.dl_t = None
        self.lp = math.log(q)  # log p^l

    def _step(self):
        fn = self.fn
        inv_p = math.exp(-self.lp)
        rho = self.q * inv_p + self.chi
        args = (fn.method, fn.code, fn.q, fn.slope, fn.t1, fn.td1, fn.bps, fn.cd, fn.c2, fn.mode2, self.sw2,
                inv_p, rho)
        small = self.eps.size < SERIAL_PAIRS
        (FK._norm_layer_sym_serial if small else FK._norm_layer_sym)(*args, self.eps, self.th, self.dl)
        if self.eps_t is not None:
            small = self.eps_t.size < SERIAL_PAIRS
            (FK._norm_layer_rect_serial if small else FK._norm_layer_rect)(*args, self.eps_t, self.th_t, self.dl_t)
        self.lp_prev = self.lp
        self.lp += math.log(rho)

    def run(self, depths):
        dmax = int(depths.max())
        want = set(int(x) for x in depths)
        fn = self.fn
        for depth in range(1, dmax + 1):
            self._step()
            if depth not in want:
                continue
            small = self.eps.size < SERIAL_PAIRS
            (FK._mirror_upper_serial if small else FK._mirror_upper)(self.eps, self.th, self.dl)
            gth = gk = 0.0
            if self.rho_d is not None and self.rho_d < 1.0:
                extra = 1.0 / self.rho_d - 1.0
                p_prev = math.exp(self.lp_prev - self.lp)  # p^L / p^{L+1}
                gth = extra * ((self.q - self.sb2) * math.exp(-self.lp) + self.chi * p_prev)
                gk = extra * (self.q - self.sb2) / self.q
            mn = self.eps.min(initial=np.inf, where=self.eps > 0) if self.eps.size > 1 else np.inf
            dev_err = max(fn.error, 4 * EPS) * math.sqrt(depth) if fn.dev_relative else max(fn.error, 4 * EPS)
            # E = Tdot(1) - Tdot(c) with an absolute error fn.error * Tdot(1) enters Delta once per layer,
            # damped by chi_1 per layer: at most error * chi_1 * min(depth, 1 / (1 - chi_1))
            horizon = depth if self.chi >= 1.0 else min(depth, 1.0 / (1.0 - self.chi))
            dev_abs = 0.0 if fn.dev_relative else fn.error * self.chi * horizon
            k_dev_abs = 0.0  # eps = 1 - K_ab / q* has full relative accuracy (D is never a difference)
            if mn < DEV_UNDERFLOW:
                # the deviation approaches the float64 floor: no credit for tracking it any more
                dev_abs = k_dev_abs = 1.0
            yield Layer(depth=depth, theta=self.th, theta_dev=self.dl, log_scale=self.lp,
                         k=None, k_dev=self.eps, log_kscale=math.log(self.q), gamma_theta=gth, gamma_k=gk,
                         theta_tt=self.th_t, k_tt=None, dev_err=dev_err, dev_abs=dev_abs, k_dev_abs=k_dev_abs)


class RawEngine:
    """Data as given: the recursion on actual covariances (Theta scaled by its largest diagonal)."""

    def __init__(self, activation, X, Xt, sw2, sb2, slope, dropout):
        act = ACTIVATIONS[activation]
        self.act = act
        self.code = act.code
        self.kind = act.kind_code
        self.homog = act.homogeneous
        self.slope = slope
        self.sw2, self.sb2 = sw2, sb2
        self.rho_d = dropout
        d = X.shape[1]
        self.k = sw2 * (X @ X.T) / d + sb2
        self.k = 0.5 * (self.k + self.k.T)
        self.kt = None if Xt is None else sw2 * (Xt @ X.T) / d + sb2
        self.kd_t = None if Xt is None else sw2 * np.einsum("ij,ij->i", Xt, Xt) / d + sb2
        self.lk = 0.0  # log of the K scale (homogeneous activations only)
        if self.homog:
            s = float(np.max(np.diag(self.k)))
            if s > 0.0:
                self.lk = math.log(s)
                self.k /= s
                if self.kt is not None:
                    self.kt /= s
                    self.kd_t = self.kd_t / s
        s = float(np.max(np.diag(self.k)))
        s = s if s > 0.0 else 1.0
        self.lt = self.lk + math.log(s)
        self.th = self.k / s
        self.th_t = None if Xt is None else self.kt / s
        self.thd_t = None if Xt is None else self.kd_t / s
        self.error = 1e-13 if self.kind == 1 else 4 * EPS
        # phi' with jumps: Tdot(c) = Tdot(1) - (J^2 / 2 pi) theta + ..., theta = arccos(c), so a
        # rounding dc of c = K_ab / sqrt(K_aa K_bb) moves Tdot by J^2 dc / (2 pi sin theta): near
        # c = +-1 (deep in the ordered phase) the entries lose accuracy; tracked in kink_err
        self.kink_j2 = act.jump_sq(slope)
        self.kink_err = 0.0

    # ---- (T, Tdot) on the blocks
    def _smooth_blocks(self):
        diag = np.diag(self.k).copy()
        scales_all = [diag] + ([self.kd_t] if self.kt is not None else [])
        smax = float(max(np.max(v) for v in scales_all))
        rs, w = TP.radial_rule(smax, self.code)
        n, kmax = TP.angular_resolution(self.code, self.slope, smax, rs, w)
        sw = np.sqrt(w)
        sq = np.sqrt(np.maximum(diag, 0.0))
        f, g = TP.angular_coefficients(self.code, self.slope, sq, rs, n, kmax)
        f *= sw[None, :, None]
        g *= sw[None, :, None]
        nd = np.sqrt(np.outer(diag, diag))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(nd > 0, self.k / nd, 0.0)
        t, td = self._angular_sum(f, g, f, g, np.clip(c, -1.0, 1.0), sym=True)
        out = [t, td]
        if self.kt is not None:
            sqt = np.sqrt(np.maximum(self.kd_t, 0.0))
            ft, gt = TP.angular_coefficients(self.code, self.slope, sqt, rs, n, kmax)
            ft *= sw[None, :, None]
            gt *= sw[None, :, None]
            ndt = np.sqrt(np.outer(self.kd_t, diag))
            with np.errstate(invalid="ignore", divide="ignore"):
                ct = np.where(ndt > 0, self.kt / ndt, 0.0)
            out += list(self._angular_sum(ft, gt, f, g, np.clip(ct, -1.0, 1.0), sym=False))
        return out

    @staticmethod
    def _angular_sum(fa, ga, fb, gb, c, sym):
        th = np.arccos(c)
        cs, sn = np.cos(th), np.sin(th)
        ck = np.ones_like(c)
        sk = np.zeros_like(c)
        t = np.zeros_like(c)
        td = np.zeros_like(c)
        for k in range(fa.shape[2]):
            wk = 1.0 if k == 0 else 2.0
            a = fa[:, :, k]
            b = fb[:, :, k]
            gmat = a @ b.T
            t += (wk * ck) * gmat
            a = ga[:, :, k]
            b = gb[:, :, k]
            gmat = a @ b.T
            td += (wk * ck) * gmat
            ck, sk = ck * cs - sk * sn, sk * cs + ck * sn
        if sym:
            t = 0.5 * (t + t.T)
            td = 0.5 * (td + td.T)
        return t, td

    def _blocks(self):
        if self.kind == 2:
            return self._smooth_blocks()
        diag = np.ascontiguousarray(np.diag(self.k).copy())
        t = np.empty_like(self.k)
        td = np.empty_like(self.k)
        # closed forms are cheap: small blocks on one thread (thread launches would dominate)
        serial = self.kind == 0 and self.k.size < SERIAL_PAIRS
        (FK._raw_pairs_sym_serial if serial else FK._raw_pairs_sym)(self.code, self.kind, self.slope,
                                                                     np.ascontiguousarray(self.k), diag, t, td)
        out = [t, td]
        if self.kt is not None:
            tt = np.empty_like(self.kt)
            tdt = np.empty_like(self.kt)
            FK._raw_pairs_rect(self.code, self.kind, self.slope, np.ascontiguousarray(self.kt),
                               np.ascontiguousarray(self.kd_t), diag, tt, tdt)
            out += [tt, tdt]
        return out

    def _moments(self, s):
        s = np.ascontiguousarray(s, dtype=np.float64)
        a, b, c = (np.empty_like(s) for _ in range(3))
        K._moments_array(self.code, s, self.slope, a, b, c)
        return a, b

    def _kink_error(self, td):
        """Error (relative to the Theta scale) added to Theta by the rounding of c at the kinks."""
        if self.kink_j2 == 0.0 or self.k.shape[0] < 2:
            return
        dg = np.sqrt(np.diag(self.k))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = self.k / np.outer(dg, dg)
        c = c[~np.eye(c.shape[0], dtype=bool)]
        c = np.clip(c[np.isfinite(c)], -1.0, 1.0)
        if c.size == 0:
            return
        s_min = float(np.sqrt(np.maximum((1.0 - np.abs(c)) * (1.0 + np.abs(c)), 0.0)).min())
        dc = 8.0 * EPS
        dtheta = min(dc / s_min, math.sqrt(2.0 * dc)) if s_min > 0.0 else math.sqrt(2.0 * dc)
        chi = self.sw2 * float(np.max(np.abs(td)))
        self.kink_err = self.kink_err * min(1.0, chi) + self.sw2 * self.kink_j2 * dtheta / (2.0 * math.pi)

    def _step(self):
        blocks = self._blocks()
        t, td = blocks[0], blocks[1]  # in units of the current K scale exp(lk) (T homogeneous), Tdot absolute
        self._kink_error(td)
        sw2 = self.sw2
        ek = math.exp(-self.lk)
        kn = sw2 * t + self.sb2 * ek  # new K in units of the old K scale
        kn = 0.5 * (kn + kn.T)
        self.last = (np.diag(t).copy(), np.diag(td).copy(), np.diag(self.th).copy(), self.lk, self.lt)
        if self.kt is not None:
            tt, tdt = blocks[2], blocks[3]
            ktn = sw2 * tt + self.sb2 * ek
            mt, mdt = self._moments(self.kd_t)  # homogeneous: E[phi^2] is linear in the (scaled) variance
            kdtn = sw2 * mt + self.sb2 * ek
        lk_new = self.lk
        if self.homog:
            s = float(np.max(np.diag(kn)))
            if s > 0.0 and math.isfinite(s):
                kn /= s
                if self.kt is not None:
                    ktn /= s
                    kdtn /= s
                lk_new = self.lk + math.log(s)
        # Theta^{l+1} / S_new with S_new = S_old * r
        f = math.exp(lk_new - self.lt)
        thn = kn * f + sw2 * td * self.th
        r = float(np.max(np.diag(thn)))
        if not (math.isfinite(r) and r > 0.0):
            raise FloatingPointError("kernel overflow")
        thn /= r
        if self.kt is not None:
            self.th_t = (ktn * f + sw2 * tdt * self.th_t) / r
            self.thd_t = (kdtn * f + sw2 * mdt * self.thd_t) / r
            self.kt, self.kd_t = ktn, kdtn
        self.th = 0.5 * (thn + thn.T)
        self.k = kn
        self.lk = lk_new
        self.lt = self.lt + math.log(r)
        if not (np.all(np.isfinite(self.k)) and np.all(np.isfinite(self.th))):
            raise FloatingPointError("kernel overflow")

    def run(self, depths):
        dmax = int(depths.max())
        want = set(int(x) for x in depths)
        for depth in range(1, dmax + 1):
            self._step()
            if depth not in want:
                continue
            gth = gk = 0.0
            if self.rho_d is not None and self.rho_d < 1.0:
                extra = 1.0 / self.rho_d - 1.0
                tdiag, tddiag, thdiag, lk_old, lt_old = self.last
                # K_aa += extra sw2 T_aa;  Theta_aa += extra sw2 (T_aa + Tdot_aa Theta^L_aa)  (actual values,
                # here in the units of the new scales)
                gk = extra * self.sw2 * tdiag * math.exp(lk_old - self.lk)
                gth = extra * self.sw2 * (tdiag * math.exp(lk_old - self.lt)
                                          + tddiag * thdiag * math.exp(lt_old - self.lt))
            yield Layer(depth=depth, theta=self.th, theta_dev=None, log_scale=self.lt, k=self.k, k_dev=None,
                         log_kscale=self.lk, gamma_theta=gth, gamma_k=gk, theta_tt=self.th_t, k_tt=self.kt,
                         dev_err=max(self.error, self.kink_err), dev_abs=0.0)


def duplicate_pairs(X, odd_flip: bool):
    """Index pairs (i, j), i < j, of rows that are exactly equal (or opposite, if odd_flip:
    an odd activation with sb2 = 0 maps x and -x to opposite kernel rows)."""
    Y = X.copy()
    if odd_flip:
        for i in range(Y.shape[0]):
            nz = np.flatnonzero(Y[i])
            if nz.size and Y[i, nz[0]] < 0:
                Y[i] = -Y[i]
    _, inv, counts = np.unique(Y, axis=0, return_inverse=True, return_counts=True)
    inv = np.asarray(inv).ravel()
    pairs = []
    for g in np.flatnonzero(counts > 1):
        idx = np.flatnonzero(inv == g)
        pairs += [(int(idx[0]), int(j)) for j in idx[1:]]
    return sorted(pairs)


def duplicate_pairs_normalized(eps1, q, sb2, odd_flip: bool):
    """Pairs of normalized rows equal (or opposite) to rounding: eps = 1 - c within
    (q - sb2)/(2q) * (8 ulp)^2 of 0 (or of 2).  Positive multiples x, t x are duplicates here."""
    tol = (q - sb2) / (2.0 * q) * (8.0 * EPS) ** 2
    hit = eps1 <= tol
    if odd_flip:
        hit |= eps1 >= 2.0 - 16.0 * EPS
    i, j = np.nonzero(np.triu(hit, 1))
    # keep one representative per group: pair every later row with the first of its group
    first = {}
    pairs = []
    for a, b in zip(i.tolist(), j.tolist()):
        root = first.get(a, a)
        if b not in first:
            first[b] = root
            pairs.append((root, b))
    return sorted(set(pairs))


def build(activation, X, Xt, sw2, sb2, slope, normalize, q_star, dropout, where: str):
    """(engine, duplicate row pairs, table error) for checked inputs X (and test rows Xt).

    With ``normalize`` the rows are scaled to q^1 = q* first (q* must be finite and > sb2:
    the caller has raised ``PointError`` otherwise).  A row of zeros cannot be scaled
    (InputError)."""
    act = ACTIVATIONS[activation]
    if not normalize:
        engine = RawEngine(activation, X, Xt, sw2, sb2, slope, dropout)
        return engine, duplicate_pairs(X, act.odd and sb2 == 0.0), engine.error
    target = math.sqrt(X.shape[1] * (q_star - sb2) / sw2)

    def scale_rows(A, what):
        norms = np.sqrt(np.einsum("ij,ij->i", A, A))
        zero = np.flatnonzero(norms == 0.0)
        if zero.size:
            raise InputError(f"{what}: row {zero[0] + 1} is all zeros and cannot be scaled to q* "
                             "(use --no-normalize)", what)
        return A * (target / norms)[:, None]

    Xn = scale_rows(X, "X")
    Xtn = None if Xt is None else scale_rows(Xt, "X_test")
    try:
        fn = TP.norm_functions(activation, q_star, slope)
    except FloatingPointError:
        raise PointError("unconverged", f"could not tabulate T(c) for {where}") from None
    engine = NormalizedEngine(fn, Xn, Xtn, sw2, sb2, q_star, sw2 * fn.td1, dropout)
    return engine, duplicate_pairs_normalized(engine.eps, q_star, sb2, act.odd and sb2 == 0.0), fn.error
