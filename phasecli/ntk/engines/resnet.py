"""The residual-network NNGP / NTK recursion, with optional pre-LayerNorm (docs/theory.md section
"Residual networks and LayerNorm").

Network: h^0 = W^0 x sw / sqrt(d) + sb b^0, then L residual blocks
h^l = h^(l-1) + alpha (W^l phi(n(h^(l-1))) sw / sqrt(N) + sb b^l), readout a dense layer on phi(n(h^L));
n is the identity (``layer_norm='none'``) or LayerNorm over the features (``'pre'``).  Kernels:

    K^0 = Theta^0 = sw2 X X^T / d + sb2
    B^l = sw2 T(n(K^(l-1))) + sb2,   G^l = sw2 Tdot(n(K^(l-1))) * n(Theta^(l-1))
    K^l = K^(l-1) + alpha^2 B^l,      Theta^l = Theta^(l-1) + alpha^2 (B^l + G^l)
    NNGP = B^(L+1),  NTK = B^(L+1) + G^(L+1)   (the readout: alpha = 1)

with n(K)_ab = K_ab / sqrt(K_aa K_bb) and n(Theta)_ab = Theta_ab / sqrt(K_aa K_bb) under LayerNorm.  The
readout at depth l uses the same maps as block l + 1, so every depth of a list comes from one pass
(``residual_scale`` a number); with ``residual_scale='depth'`` (alpha = 1 / sqrt(L)) every depth is its own
network and its own pass.  Blocks are dense: T and Tdot of every pair by the fc engine's pair kernels (closed
forms, piecewise quadrature), for smooth activations by Mehler's series (``expectations.mehler_pairs``, nested
quadrature only where its tail is not pinned).  K is carried divided by exp(lk) where the maps allow it (LayerNorm, or a homogeneous activation), Theta by exp(lt) (its
largest diagonal), so geometric growth never overflows.  Residual networks have no fixed point in general:
the rows are scaled to a first-layer variance q0 (``normalize``), never to q*.
"""

from __future__ import annotations

import math

import numpy as np

from phasecli.activations import ACTIVATIONS
from phasecli.errors import InputError
from phasecli.ntk.engines import Layer, PointError, scale_rows_to_q_star
from phasecli.expectations.mehler_pairs import pair_maps
from phasecli.ntk.engines import fc_kernels as FK
from phasecli.ntk.engines.fc import duplicate_pairs

EPS = np.finfo(np.float64).eps
LAYER_NORMS = ("none", "pre")
SERIAL_PAIRS = 10_000  # below this many entries a block's maps run on one thread
# relative error level of one map evaluation per activation kind (closed, piecewise quadrature, nested quadrature)
MAP_ERROR = (4 * EPS, 1e-13, 1e-10)


def residual_alpha(residual_scale, depth: int) -> float:
    """alpha of a depth-``depth`` network: the number, or 1 / sqrt(depth) for ``'depth'``."""
    if residual_scale == "depth":
        return 1.0 / math.sqrt(depth)
    return float(residual_scale)


def check_residual_scale(value):
    """A finite number >= 0 or 'depth' (InputError otherwise); returns the float or 'depth'."""
    if isinstance(value, str):
        if value.strip().lower() == "depth":
            return "depth"
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"residual_scale must be a number >= 0 or 'depth', got {value!r}",
                             "residual_scale") from None
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0):
        raise InputError(f"residual_scale must be a finite number >= 0 or 'depth', got {value!r}", "residual_scale")
    return value


def check_layer_norm(value):
    if value not in LAYER_NORMS:
        raise InputError(f"layer_norm must be one of {', '.join(LAYER_NORMS)}, got {value!r}", "layer_norm")
    return value


def appended_columns(options, depths) -> dict:
    """The columns a resnet row appends: residual_scale (alpha at each depth) and layer_norm."""
    scale = check_residual_scale(options.get("residual_scale", 1.0))
    alphas = np.array([residual_alpha(scale, int(d)) for d in depths], dtype=float)
    return {"residual_scale": alphas, "layer_norm": check_layer_norm(options.get("layer_norm", "none"))}


class ResnetEngine:
    """Dense NNGP / NTK blocks of a residual network, one pass per alpha (see the module)."""

    positions = 1

    def __init__(self, activation, X, Xt, sw2, sb2, slope, residual_scale, layer_norm):
        act = ACTIVATIONS[activation]
        self.code, self.kind, self.slope = act.code, act.kind_code, slope
        self.homog = act.homogeneous
        self.sw2, self.sb2 = sw2, sb2
        self.scale = residual_scale
        self.ln = layer_norm == "pre"
        self.X, self.Xt = X, Xt
        self.m = X.shape[0]
        self.error = MAP_ERROR[self.kind]
        d = X.shape[1]
        self.k0 = sw2 * (X @ X.T) / d + sb2
        self.k0_diag = sw2 * np.einsum("ij,ij->i", X, X) / d + sb2
        np.fill_diagonal(self.k0, self.k0_diag)
        if Xt is not None:
            self.k0_t = sw2 * (Xt @ X.T) / d + sb2
            self.k0_t_diag = sw2 * np.einsum("ij,ij->i", Xt, Xt) / d + sb2
        if self.ln:
            rows = self.k0_diag if Xt is None else np.concatenate([self.k0_diag, self.k0_t_diag])
            bad = np.flatnonzero(~(rows > 0.0))
            if bad.size:
                i = int(bad[0])
                what = f"row {i + 1} of X" if i < self.m else f"row {i - self.m + 1} of X_test"
                raise InputError(f"{what} has first-layer variance 0 (a zero row with sb2 = 0): LayerNorm of a "
                                 "zero vector is undefined", "layer_norm")

    def chaotic_prefactors(self):
        """No fixed point, no chaotic growth law: NaN (the engine interface)."""
        return np.full(self.m, np.nan)

    def ordered_gap(self):
        return math.nan

    # ---- the maps of one block
    def _maps_sym(self, k):
        """(T, Tdot) on the symmetric block k (its own diagonal the variances)."""
        diag = np.ascontiguousarray(np.diag(k))
        if self.kind == 2:  # smooth: Mehler series per pair, quadrature where its tail is not pinned
            i, j = np.triu_indices(k.shape[0])
            return self._smooth_pairs(k, diag, diag, i, j, sym=True)
        t, td = np.empty_like(k), np.empty_like(k)
        small = k.size < SERIAL_PAIRS or self.kind == 0 and k.size < 4 * SERIAL_PAIRS
        (FK._raw_pairs_sym_serial if small else FK._raw_pairs_sym)(self.code, self.kind, self.slope, k, diag, t, td)
        return t, td

    def _maps_rect(self, k, rows, cols):
        if self.kind == 2:
            i, j = (a.ravel() for a in np.indices(k.shape))
            return self._smooth_pairs(k, rows, cols, i, j, sym=False)
        t, td = np.empty_like(k), np.empty_like(k)
        FK._raw_pairs_rect(self.code, self.kind, self.slope, k, np.ascontiguousarray(rows), np.ascontiguousarray(cols),
                           t, td)
        return t, td

    def _smooth_pairs(self, k, rows, cols, i, j, sym):
        """(T, Tdot) of the pairs (i, j) of k by ``mehler_pairs.pair_maps`` (mirrored when ``sym``)."""
        qa, qb, kij = rows[i], cols[j], k[i, j]
        root = np.where(qa == qb, qa, np.sqrt(qa) * np.sqrt(qb))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.clip(kij / root, -1.0, 1.0)
        c[~(root > 0.0)] = 0.0
        tv, tdv = pair_maps(self.code, self.slope, qa, qb, c)
        t, td = np.empty_like(k), np.empty_like(k)
        t[i, j], td[i, j] = tv, tdv
        if sym:
            t[j, i], td[j, i] = tv, tdv
        return t, td

    def _self(self, s):
        """(E[phi(u)^2], E[phi'(u)^2]) for u ~ N(0, s_i)."""
        s = np.ascontiguousarray(s, dtype=np.float64)
        return pair_maps(self.code, self.slope, s, s, np.ones_like(s))

    def _pass(self, alpha, depths):
        """One network's pass: yield a Layer at each of ``depths`` (ascending)."""
        sw2, sb2, ln = self.sw2, self.sb2, self.ln
        a2 = alpha * alpha
        test = self.Xt is not None
        K = self.k0.copy()
        kd = self.k0_diag.copy()
        Kt = self.k0_t.copy() if test else None
        kdt = self.k0_t_diag.copy() if test else None
        lk = lt = 0.0
        scale_k = ln or self.homog  # K's scale may be factored out of the maps
        if scale_k:
            top = float(kd.max())
            if top > 0.0:
                K /= top
                kd = kd / top
                lk = math.log(top)
                if test:
                    Kt /= top
                    kdt = kdt / top
        top = float(kd.max())
        top = top if top > 0.0 else 1.0
        Th = K / top  # Theta^0 = K^0
        lt = lk + math.log(top)
        Tht = Kt / top if test else None
        want = set(int(x) for x in depths)
        for depth in range(0, int(max(depths)) + 1):
            root = np.sqrt(np.outer(kd, kd)) if ln else None
            if ln:
                kin = K / root
                np.fill_diagonal(kin, 1.0)
            else:
                kin = K
            t, td = self._maps_sym(np.ascontiguousarray(kin))
            tfac = math.exp(-lk) if ln else 1.0
            sbk = sb2 * math.exp(-lk)
            gk = math.exp(lk - lt)  # K units -> Theta units
            kb = sw2 * tfac * t + sbk
            thb = sw2 * td * ((Th / root) * math.exp(-lk) if ln else Th)
            if test:
                root_t = np.sqrt(np.outer(kdt, kd)) if ln else None
                kin_t = Kt / root_t if ln else Kt
                t_t, td_t = self._maps_rect(np.ascontiguousarray(kin_t), np.ones_like(kdt) if ln else kdt,
                                            np.ones_like(kd) if ln else kd)
                kb_t = sw2 * tfac * t_t + sbk
                thb_t = sw2 * td_t * ((Tht / root_t) * math.exp(-lk) if ln else Tht)
                s_t, _ = self._self(np.ones_like(kdt) if ln else kdt)
                kbd_t = sw2 * tfac * s_t + sbk
            if depth in want:
                dev_err = 8 * EPS + self.error * math.sqrt(depth + 1)
                yield Layer(depth=depth, theta=kb * gk + thb, theta_dev=None, log_scale=lt, k=kb.copy(), k_dev=None,
                            log_kscale=lk, gamma_theta=0.0, gamma_k=0.0,
                            theta_tt=(kb_t * gk + thb_t) if test else None, k_tt=kb_t.copy() if test else None,
                            dev_err=dev_err, k_test_diag=kbd_t.copy() if test else None)
            if depth == max(want):
                return
            K += a2 * kb
            Th += a2 * (kb * gk + thb)
            kd = np.diag(K).copy()
            if test:
                Kt += a2 * kb_t
                Tht += a2 * (kb_t * gk + thb_t)
                kdt = kdt + a2 * kbd_t
            if scale_k:
                top = float(kd.max())
                if top > 0.0 and math.isfinite(top):
                    K /= top
                    kd /= top
                    lk += math.log(top)
                    if test:
                        Kt /= top
                        kdt = kdt / top
            top = float(np.diag(Th).max())
            if not (math.isfinite(top) and top > 0.0) or not np.all(np.isfinite(K)):
                raise FloatingPointError("kernel overflow")
            Th /= top
            if test:
                Tht /= top
            lt += math.log(top)

    def run(self, depths):
        depths = [int(d) for d in depths]
        if self.scale == "depth":
            for d in depths:
                yield from self._pass(residual_alpha("depth", d), [d])
        else:
            yield from self._pass(float(self.scale), depths)

    def kernels(self, layer, f_th):
        """(K, Theta, K_tt, Theta_tt, Theta deviation, K deviation): dense blocks, no deviations (None)."""
        fk = math.exp(layer.log_kscale)
        kt = None if layer.k_tt is None else layer.k_tt * fk
        tht = None if layer.theta_tt is None else layer.theta_tt * f_th
        return layer.k * fk, layer.theta * f_th, kt, tht, None, None


def check_options(architecture, dropout, image_shape, **options):
    """No dropout, no image shape; residual_scale a number >= 0 or 'depth', layer_norm none or pre."""
    if dropout is not None:
        raise InputError("dropout is implemented for fully connected networks only (architecture fc)", "dropout")
    check_residual_scale(options.get("residual_scale", 1.0))
    check_layer_norm(options.get("layer_norm", "none"))


def check_inputs(image_shape, filter_size, dim):
    """Usage errors of the inputs' shape (none: rows are vectors)."""


def build(activation, X, Xt, sw2, sb2, slope, normalize, q_star, where, *, q0=1.0, residual_scale=1.0,
          layer_norm="none", **_):
    """(engine, duplicate pairs, table error).  With ``normalize`` the rows are scaled to a first-layer
    variance q0 (PointError 'sw2_zero' / 'q0_below_sb2' where that is impossible); ``q_star`` is unused."""
    if normalize:
        if sw2 == 0.0:
            raise PointError("sw2_zero", f"sw2 = 0: the inputs never reach the output (K = sb2 11^T); {where}")
        if not q0 > sb2:
            raise PointError("q0_below_sb2", f"q0 = {q0:g} is not above sb2 for {where}: rows cannot be scaled to a "
                                             "first-layer variance sw2 |x|^2 / d + sb2 = q0 (raise --q0 or use "
                                             "--no-normalize)")
        X = scale_rows_to_q_star(X, q0, sw2, sb2, "X")
        Xt = None if Xt is None else scale_rows_to_q_star(Xt, q0, sw2, sb2, "X_test")
    engine = ResnetEngine(activation, X, Xt, sw2, sb2, slope, check_residual_scale(residual_scale),
                          check_layer_norm(layer_norm))
    dups = duplicate_pairs(X, odd_flip=False)  # exactly equal rows: their kernel rows coincide
    if normalize:  # positive multiples become equal after scaling
        dups = sorted(set(dups) | set(_proportional_pairs(X)))
    return engine, dups, engine.error


def _proportional_pairs(Xn):
    """Pairs of scaled rows equal to rounding (positive multiples of each other before scaling)."""
    norms = np.sqrt(np.einsum("ij,ij->i", Xn, Xn))
    g = (Xn @ Xn.T) / np.outer(norms, norms)
    i, j = np.nonzero(np.triu(g >= 1.0 - 64 * EPS, 1))
    first, pairs = {}, []
    for a, b in zip(i.tolist(), j.tolist()):
        root = first.get(a, a)
        if b not in first:
            first[b] = root
            pairs.append((root, b))
    return pairs
