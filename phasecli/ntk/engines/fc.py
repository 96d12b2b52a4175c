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

with D and E from ``phasecli.maps.equal`` (no cancellation), one table look-up per pair
and layer (numba, parallel above ``SERIAL_PAIRS`` entries).

Data as given (``RawEngine``): every row has its own diagonals s_a = K_aa, P_a = Theta_aa, and a
pair is carried as eps_ab = 1 - K_ab / sqrt(s_a s_b) and Delta_ab = 1 - Theta_ab / sqrt(P_a P_b)
with absolute error bounds, updated from cancellation-free unequal-variance maps
(``phasecli.maps.unequal_kernels``: closed forms for erf, relu, leaky_relu, abs, linear; the piecewise
quadrature for elu, selu, hard_tanh, whose deviations keep an absolute floor ~1e-13 (kinked expressions:
nested quadrature, floor 1e-12); the
angular expansion E[phi(u1) phi(u2)] = sum_k w_k cos(k theta) <f_a,k, f_b,k> for smooth
activations, with per-row coefficients and per-k Gram matrices by BLAS).  The spectra deflate
along sqrt(diag) (``phasecli.ntk.spectra``), so kappa stays resolved as deep as the deviations are
representable (docs/theory.md section 11).  Theta is carried divided by its largest
diagonal (and K too for homogeneous activations), so the chaotic growth never overflows.

``build`` picks the engine and finds exactly duplicated rows (``duplicate_pairs``).
"""

from __future__ import annotations

import math

import numpy as np

from phasecli.maps import unequal_kernels as RK
from phasecli.maps import equal as TP
from phasecli.activations import ACTIVATIONS, CLOSED_FORM, F_ARCSINE
from phasecli.ntk.engines import SMOOTH_TABLE_Q_MAX, Layer, PointError, reject_options, scale_rows_to_q_star
from phasecli.ntk.engines import fc_kernels as FK
from phasecli.maps.equal import NormFunctions
from phasecli.maps.unequal import TAU_SMOOTH, AngularExpansion, angular_weights, smooth_pair_maps

EPS = np.finfo(np.float64).eps
DEV_UNDERFLOW = 1e-280  # deviations below this are too close to the float64 floor to trust
SERIAL_PAIRS = 40_000  # below this many entries a layer runs on one thread (launch overhead)


class NormalizedEngine:
    """Normalized inputs (every diagonal at q*): pairs carried as deviations from the ordered fixed point."""

    positions = 1  # one position per input (the engine interface, phasecli.ntk.engines)

    def __init__(self, fn: NormFunctions, Xn, Xt, sw2, sb2, q, chi_1_tab, dropout):
        self.fn = fn
        self.sw2, self.sb2, self.q = sw2, sb2, q
        self.chi = chi_1_tab
        self.rho_d = dropout
        d = Xn.shape[1]
        f = sw2 / (2.0 * d * q)
        self.eps = np.clip(f * FK.squared_distances(Xn, None), 0.0, 2.0)
        np.fill_diagonal(self.eps, 0.0)
        self.th = 1.0 - self.eps  # Theta^1 / p^1 = K^1 / q
        self.dl = self.eps.copy()  # (p - Theta) / p
        if Xt is not None:
            self.eps_t = np.clip(f * FK.squared_distances(Xt, Xn), 0.0, 2.0)
            self.th_t = 1.0 - self.eps_t
            self.dl_t = self.eps_t.copy()
        else:
            self.eps_t = self.th_t = self.dl_t = None
        self.lp = math.log(q)  # log p^l
        self.m = Xn.shape[0]
        self.phi_prime_jumps = False  # set by ``build``

    def chaotic_prefactors(self):
        """Every row starts at q*: the chaotic NTK diagonals grow alike, A(x) (chi_1 - 1) / q* = 1
        (``phasecli.ntk.engines.limits``)."""
        return np.ones(self.m)

    def ordered_gap(self):
        """G of the ordered phase's lambda_min ~ l chi_1^l G (``limits.ordered_gap``), from the first layer:
        call before ``run``.  NaN when phi' jumps (relu, ...: E(eps) ~ sqrt(eps), a different law)."""
        from phasecli.ntk.engines.limits import ordered_gap

        if self.phi_prime_jumps or self.lp != math.log(self.q):
            return math.nan
        return ordered_gap(self.fn, self.sw2, self.q, self.chi, self.eps)

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
            k_test_diag = None if self.eps_t is None else np.full(self.eps_t.shape[0], 1.0 + gk)
            yield Layer(depth=depth, theta=self.th, theta_dev=self.dl, log_scale=self.lp,
                         k=None, k_dev=self.eps, log_kscale=math.log(self.q), gamma_theta=gth, gamma_k=gk,
                         theta_tt=self.th_t, k_tt=None, dev_err=dev_err, dev_abs=dev_abs, k_dev_abs=k_dev_abs,
                         k_test_diag=k_test_diag)


    def kernels(self, layer, f_th):
        """(K, Theta, K_tt, Theta_tt, Theta deviation, K deviation) of a layer of this engine (see the package)."""
        q = self.q
        k = q * (1.0 - self.eps)
        k[np.diag_indices_from(k)] = q * (1.0 + layer.gamma_k)
        th = layer.theta * f_th
        th[np.diag_indices_from(th)] = (1.0 + layer.gamma_theta) * f_th
        kt = None if self.eps_t is None else q * (1.0 - self.eps_t)
        tht = None if self.th_t is None else self.th_t * f_th
        return k, th, kt, tht, self.dl.copy(), self.eps.copy()


class _LazyBlocksLayer(Layer):
    """A ``Layer`` whose kernel blocks (k, theta, k_tt, theta_tt) are rebuilt from the diagonals and
    deviations on first access (``RawEngine._block``): the spectra of deflated kernels never need
    them.  Like the deviations it holds, it is valid until the engine's next step."""

    def __init__(self, engine, **fields):
        self._engine = engine
        self._built = {}
        super().__init__(theta=None, k=None, **fields)

    def _block(self, i):
        if i not in self._built:
            self._built[i] = self._engine._block(i)
        return self._built[i]

    k = property(lambda self: self._block(0), lambda self, value: None)
    theta = property(lambda self: self._block(1), lambda self, value: None)
    k_tt = property(lambda self: self._block(2), lambda self, value: None)
    theta_tt = property(lambda self: self._block(3), lambda self, value: None)


class RawEngine:
    """Data as given: per-row diagonals and per-pair deviations from them (docs/theory.md section 11).

    Per row the variance s_a = K_aa and the NTK diagonal P_a = Theta_aa; per pair
    eps_ab = 1 - K_ab / sqrt(s_a s_b) and Delta_ab = 1 - Theta_ab / sqrt(P_a P_b), each with an
    absolute error bound, updated by the unequal-variance maps of ``phasecli.maps.unequal_kernels``
    (closed forms; piecewise quadrature; for smooth activations the angular expansion of
    ``phasecli.maps.unequal.AngularExpansion``).
    K is carried divided by exp(lk) (homogeneous activations: by its largest diagonal), Theta
    by exp(lt) (its largest diagonal), so neither overflows.
    """

    positions = 1

    def __init__(self, activation, X, Xt, sw2, sb2, slope, dropout, q_star=math.nan):
        act = ACTIVATIONS[activation]
        self.q_star = q_star
        self.code = act.code
        self.kind = act.kind_code
        self.mode = (RK.MODE_CLOSED, RK.MODE_PIECEWISE, RK.MODE_ARRAYS, RK.MODE_PIECEWISE)[self.kind]
        self.homog = act.homogeneous
        self.slope = slope
        self.sw2, self.sb2 = sw2, sb2
        self.rho_d = dropout
        self.s, self.eps, self.ee = first_layer(X, X, sw2, sb2)
        self.v1 = self.s.copy()  # first-layer variances of the train rows (``chaotic_prefactors``)
        self.s_t = self.eps_t = self.ee_t = None
        if Xt is not None:
            self.s_t, self.eps_t, self.ee_t = first_layer(Xt, X, sw2, sb2)
        self.lk = 0.0
        if self.homog:
            top = float(self.s.max())
            if top > 0.0:
                self.lk = math.log(top)
                self.s = self.s / top
                if Xt is not None:
                    self.s_t = self.s_t / top
        top = float(self.s.max())
        top = top if top > 0.0 else 1.0
        self.lt = self.lk + math.log(top)
        self.P = self.s / top
        self.dl, self.ed = self.eps.copy(), self.ee.copy()
        # pairwise diagonal differences s_a - s_b, P_a - P_b, carried exactly (closed forms) from here on
        self.dsm = np.ascontiguousarray(self.s[:, None] - self.s[None, :])
        self.dpm = np.ascontiguousarray(self.P[:, None] - self.P[None, :])
        if Xt is not None:
            self.P_t = self.s_t / top
            self.dl_t, self.ed_t = self.eps_t.copy(), self.ee_t.copy()
            self.dsm_t = np.ascontiguousarray(self.s_t[:, None] - self.s[None, :])
            self.dpm_t = np.ascontiguousarray(self.P_t[:, None] - self.P[None, :])
        self.error = (4 * EPS, RK.PIECEWISE_ERR, TAU_SMOOTH, RK.NESTED_ERR)[self.kind]
        self.angular = AngularExpansion(self.code, slope)
        self.erf = self.mode == RK.MODE_CLOSED and CLOSED_FORM[self.code] == F_ARCSINE  # FK.erf_dev_layer_sym

    def chaotic_prefactors(self):
        """A(x) (chi_1 - 1) / q* of each train row: rows whose first-layer variances differ reach q* along
        different paths, so their chaotic NTK diagonals A(x) chi_1^l differ (``phasecli.ntk.engines.limits``);
        NaN for a homogeneous activation (no finite q* in the chaotic phase)."""
        from phasecli.expectations.kernels import gauss_moments
        from phasecli.ntk.engines.limits import chaotic_prefactors

        q = self.q_star
        if self.homog or not (math.isfinite(q) and q > 0.0):
            return np.full(self.v1.size, np.nan)
        chi = self.sw2 * gauss_moments(self.code, q, self.slope)[1]
        method = 0 if self.mode == RK.MODE_CLOSED else 1
        return chaotic_prefactors(self.code, method, self.slope, self.sw2, q, chi, self.v1[:, None],
                                  np.zeros((1, 1), dtype=np.int64))

    def ordered_gap(self):
        """Not derived for data as given (rows at different variances): NaN (``limits.ordered_gap``)."""
        return math.nan

    # ---- per-row maps and, for smooth activations, the per-pair maps from the angular expansion
    def _diag(self, s):
        v, w = np.empty_like(s), np.empty_like(s)
        serial = self.mode == RK.MODE_CLOSED or s.size < 64
        (RK.diag_rows_serial if serial else RK.diag_rows)(self.mode, self.code, self.slope, np.ascontiguousarray(s),
                                                            v, w)
        return v, w

    def _smooth_maps(self):
        """(V, W) per row and (dt, et, tdot, err_dt, err_et) per pair, train and test, from one expansion."""
        s_max = float(self.s.max()) if self.s_t is None else max(float(self.s.max()), float(self.s_t.max()))
        rule = self.angular.rule(s_max)
        f, g = self.angular.coefficients(self.s, rule)
        wk = angular_weights(f.shape[2])
        v, w = np.einsum("ark,k->a", f * f, wk), np.einsum("ark,k->a", g * g, wk)
        train = smooth_pair_maps(f, g, f, g, v, w, v, w, self.eps, wk, sym=True)
        out = [(v, w, train)]
        if self.s_t is not None:
            ft, gt = self.angular.coefficients(self.s_t, rule)
            vt, wt = np.einsum("ark,k->a", ft * ft, wk), np.einsum("ark,k->a", gt * gt, wk)
            out.append((vt, wt, smooth_pair_maps(ft, gt, f, g, vt, wt, v, w, self.eps_t, wk, sym=False)))
        return out

    def _rows(self, s, p, v, w, sb2e, g):
        """The per-row table of ``phasecli.maps.unequal_kernels`` and the next diagonals (old units)."""
        sw2 = self.sw2
        s1 = sw2 * v + sb2e
        p1 = g * s1 + sw2 * w * p
        rows = np.empty((s.size, RK.N_COLS))
        rows[:, RK.R_S] = s
        rows[:, RK.R_V] = v
        rows[:, RK.R_W] = w
        rows[:, RK.R_SQV] = np.sqrt(v)
        rows[:, RK.R_SQS1] = np.sqrt(s1)
        rows[:, RK.R_X] = np.sqrt(g * s1)
        rows[:, RK.R_Y] = np.sqrt(sw2 * w * p)
        rows[:, RK.R_SQP] = np.sqrt(p)
        rows[:, RK.R_SQP1] = np.sqrt(p1)
        rows[:, RK.R_S1] = s1
        rows[:, RK.R_P] = p
        if self.mode == RK.MODE_CLOSED and CLOSED_FORM[self.code] == F_ARCSINE:
            RK.erf_row_columns(rows)
        return rows, s1, p1

    def _step(self):
        sw2 = self.sw2
        sb2e = self.sb2 * math.exp(-self.lk)
        g = math.exp(self.lk - self.lt)  # K units -> Theta units
        none = np.zeros((1, 1))
        if self.mode == RK.MODE_ARRAYS:
            maps = self._smooth_maps()
        else:
            maps = [self._diag(self.s) + ((none,) * 5,)]
            if self.s_t is not None:
                maps.append(self._diag(self.s_t) + ((none,) * 5,))
        v, w, arrays = maps[0]
        rows, s1, p1 = self._rows(self.s, self.P, v, w, sb2e, g)
        small = self.eps.size < SERIAL_PAIRS
        rel = 8 * EPS + (TAU_SMOOTH if self.mode == RK.MODE_ARRAYS else 0.0)
        if self.erf and not small:  # the same pair functions, without per-pair dispatch, mirrored per tile
            FK.erf_dev_layer_sym(sw2, sb2e, g, rel, rows, self.eps, self.dl, self.ee, self.ed, self.dsm, self.dpm)
        else:
            (RK.dev_layer_sym_serial if small else RK.dev_layer_sym)(self.mode, self.code, self.slope, sw2, sb2e,
                                                                       g, rel, rows, self.eps, self.dl, self.ee,
                                                                       self.ed, self.dsm, self.dpm, *arrays)
            if not small:
                RK.mirror_dev(self.eps, self.dl, self.ee, self.ed, self.dsm, self.dpm)
        if self.s_t is not None:
            vt, wt, arrays_t = maps[1]
            rows_t, s1_t, p1_t = self._rows(self.s_t, self.P_t, vt, wt, sb2e, g)
            RK.dev_layer_rect(self.mode, self.code, self.slope, sw2, sb2e, g, rel, rows_t, rows, self.eps_t, self.dl_t,
                               self.ee_t, self.ed_t, self.dsm_t, self.dpm_t, *arrays_t)
        self.last = (v, w, self.P, self.lk, self.lt)
        self.last_v_test = None if self.s_t is None else maps[1][0]
        if self.homog:
            top = float(s1.max())
            if top > 0.0 and math.isfinite(top):
                s1 /= top
                self.dsm /= top
                if self.s_t is not None:
                    s1_t /= top
                    self.dsm_t /= top
                self.lk += math.log(top)
        r = float(p1.max())
        if not (math.isfinite(r) and r > 0.0):
            raise FloatingPointError("kernel overflow")
        self.s, self.P = s1, p1 / r
        self.dpm /= r
        if self.s_t is not None:
            self.s_t, self.P_t = s1_t, p1_t / r
            self.dpm_t /= r
        self.lt += math.log(r)
        if not (np.all(np.isfinite(self.s)) and np.all(np.isfinite(self.P)) and math.isfinite(self.lk)):
            raise FloatingPointError("kernel overflow")

    def _block(self, i):
        """Block i of (K, Theta, K_test_train, Theta_test_train), rebuilt from the diagonals and deviations
        (scaled); None for a test block without test rows."""
        if i >= 2 and self.s_t is None:
            return None
        diag, dev = ((self.s, self.eps), (self.P, self.dl))[i % 2]
        root = np.sqrt(diag)
        if i >= 2:
            rows, dev = ((self.s_t, self.eps_t), (self.P_t, self.dl_t))[i % 2]
            return np.outer(np.sqrt(rows), root) * (1.0 - dev)
        out = np.outer(root, root)
        out *= 1.0 - dev
        out[np.diag_indices_from(out)] = diag
        return out

    def kernels(self, layer, f_th):
        """(K, Theta, K_tt, Theta_tt, Theta deviation, K deviation) of a layer of this engine (see the package)."""
        return raw_kernels(layer, f_th)

    def run(self, depths):
        dmax = int(depths.max())
        want = set(int(x) for x in depths)
        for depth in range(1, dmax + 1):
            self._step()
            if depth not in want:
                continue
            gth = gk = gk_test = 0.0
            if self.rho_d is not None and self.rho_d < 1.0:
                extra = 1.0 / self.rho_d - 1.0
                v, w, p_old, lk_old, lt_old = self.last
                # K_aa += extra sw2 V_a;  Theta_aa += extra sw2 (V_a + W_a Theta^L_aa)  (in the new scales)
                gk = extra * self.sw2 * v * math.exp(lk_old - self.lk)
                gth = extra * self.sw2 * (v * math.exp(lk_old - self.lt) + w * p_old * math.exp(lt_old - self.lt))
                if self.s_t is not None:
                    gk_test = extra * self.sw2 * self.last_v_test * math.exp(lk_old - self.lk)
            dev_abs = 0.0
            for dev in (self.eps, self.dl):  # diagonals are exactly 0
                if float(np.min(dev, where=dev > 0.0, initial=np.inf)) < DEV_UNDERFLOW:
                    dev_abs = 1.0  # a deviation near the float64 floor: no credit for tracking it
            yield _LazyBlocksLayer(self, depth=depth, theta_dev=self.dl, log_scale=self.lt, k_dev=self.eps,
                                   log_kscale=self.lk, gamma_theta=gth, gamma_k=gk, dev_err=8 * EPS,
                                   dev_abs=dev_abs, k_dev_abs=dev_abs, theta_root=np.sqrt(self.P),
                                   k_root=np.sqrt(self.s), theta_dev_err=self.ed, k_dev_err=self.ee,
                                   k_test_diag=None if self.s_t is None else self.s_t + gk_test)


def raw_kernels(layer, f_th):
    """``kernels`` of a layer whose blocks are kept with their diagonal shifts apart (data as given)."""
    fk = math.exp(layer.log_kscale)
    k = layer.k * fk
    k[np.diag_indices_from(k)] += np.asarray(layer.gamma_k) * fk
    th = layer.theta * f_th
    th[np.diag_indices_from(th)] += np.asarray(layer.gamma_theta) * f_th
    kt = None if layer.k_tt is None else layer.k_tt * fk
    tht = None if layer.theta_tt is None else layer.theta_tt * f_th
    return k, th, kt, tht, layer.theta_dev.copy(), layer.k_dev.copy()  # relative to sqrt(diag_a diag_b)


def first_layer(A, B, sw2, sb2):
    """Variances s = sw2 |a|^2 / d + sb2 of the rows of A, and eps = 1 - K^1_ab / sqrt(s_a s_b) against the
    rows of B with an absolute error bound, from

        sqrt(s_a s_b) - K^1_ab = (sw2 |a - b|^2 / d - (s_a - s_b)^2 / (sqrt(s_a) + sqrt(s_b))^2) / 2

    (|Z_a| |Z_b| - Z_a.Z_b for Z = (sqrt(sw2 / d) x, sqrt(sb2))): no cancellation for nearby
    rows.  Pairs with a zero variance get eps = 1 (their kernel entries are 0)."""
    d = A.shape[1]
    f = sw2 / d
    sa = f * np.einsum("ij,ij->i", A, A) + sb2
    sb = sa if B is A else f * np.einsum("ij,ij->i", B, B) + sb2
    d2 = f * FK.squared_distances(A, None if B is A else B)
    ra, rb = np.sqrt(sa)[:, None], np.sqrt(sb)[None, :]
    ds = sa[:, None] - sb[None, :]
    root = ra * rb
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where(ra + rb > 0.0, ds / (ra + rb), 0.0) ** 2
        eps = np.where(root > 0.0, 0.5 * (d2 - gap) / root, 1.0)
        err = np.where(root > 0.0, 4.0 * EPS * (d2 + np.abs(ds)) / root, 0.0)
    eps = np.clip(eps, 0.0, 2.0)
    err += 4.0 * EPS * eps
    if B is A:
        np.fill_diagonal(eps, 0.0)
        np.fill_diagonal(err, 0.0)
    return sa, np.ascontiguousarray(eps), np.ascontiguousarray(err)


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


def check_options(architecture, dropout, image_shape, **options):
    """Usage errors of the fully connected engine's options (none: it takes dropout, no image shape)."""
    reject_options(architecture, options)


def check_inputs(image_shape, filter_size, dim):
    """Usage errors of the inputs' shape (none for fully connected networks)."""


def check_raw_table_size(rows, sw2, sb2, q_star, where):
    """Data as given with a smooth activation: the kernel tables cover every variance the rows reach (the
    first layer's sw2 |x|^2 / d + sb2, then towards q*), and are built only up to SMOOTH_TABLE_Q_MAX
    (beyond it minutes and gigabytes): PointError 'q_too_large' naming the row otherwise."""
    with np.errstate(over="ignore"):
        q1 = sw2 * np.einsum("ij,ij->i", rows, rows) / max(rows.shape[1], 1) + sb2
    worst = int(np.argmax(q1))
    if q1[worst] > SMOOTH_TABLE_Q_MAX:
        raise PointError("q_too_large", f"row {worst + 1} gives a first-layer variance {q1[worst]:.3g} for {where}: "
                                        "the kernel tables of a smooth activation are built only up to a variance "
                                        f"of {SMOOTH_TABLE_Q_MAX:g} (memory, time); scale the data down or keep the "
                                        "default normalization")
    if math.isfinite(q_star) and q_star > SMOOTH_TABLE_Q_MAX:
        raise PointError("q_too_large", f"q* = {q_star:.3g} for {where}: the rows' variances approach it with depth "
                                        "and the kernel tables of a smooth activation are built only up to "
                                        f"{SMOOTH_TABLE_Q_MAX:g}; use a smaller sw2")


def build(activation, X, Xt, sw2, sb2, slope, normalize, q_star, where: str, *, dropout=None, **_):
    """(engine, duplicate row pairs, table error) for checked inputs X (and test rows Xt).

    With ``normalize`` the rows are scaled to q^1 = q* first (q* must be finite and > sb2:
    the caller has raised ``PointError`` otherwise).  A row of zeros cannot be scaled
    (InputError)."""
    act = ACTIVATIONS[activation]
    if not normalize:
        if act.kind == "smooth":
            check_raw_table_size(X if Xt is None else np.vstack([X, Xt]), sw2, sb2, q_star, where)
        engine = RawEngine(activation, X, Xt, sw2, sb2, slope, dropout, q_star)
        return engine, duplicate_pairs(X, act.odd and sb2 == 0.0), engine.error
    Xn = scale_rows_to_q_star(X, q_star, sw2, sb2, "X")
    Xtn = None if Xt is None else scale_rows_to_q_star(Xt, q_star, sw2, sb2, "X_test")
    try:
        fn = TP.norm_functions(activation, q_star, slope)
    except FloatingPointError:
        raise PointError("unconverged", f"could not tabulate T(c) for {where}") from None
    engine = NormalizedEngine(fn, Xn, Xtn, sw2, sb2, q_star, sw2 * fn.td1, dropout)
    engine.phi_prime_jumps = act.phi_prime_jumps
    return engine, duplicate_pairs_normalized(engine.eps, q_star, sb2, act.odd and sb2 == 0.0), fn.error
