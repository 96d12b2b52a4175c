"""The convolutional NNGP / NTK recursion: CNN-F (flatten readout) and CNN-P (global average pooling).

docs/theory.md section 10, "Convolutional networks": infinitely many channels, K x K filters, stride 1,
circular padding, images flattened (H, W, C) channels last; d = H W positions.  A depth-L
network is L x [Conv -> phi] + readout (Flatten or GlobalAvgPool, then Dense), in the NTK
parameterization of neural-tangents' ``stax.Conv(1, (K, K), padding='CIRCULAR',
W_std=sqrt(sw2), b_std=sqrt(sb2))``:

    K^1_ab(i, j)      = sw2 mean_delta [ sum_c x_a(i+delta, c) x_b(j+delta, c) / C ] + sb2,  Theta^1 = K^1
    K^{l+1}(i, j)     = sw2 mean_delta T(K^l)(i+delta, j+delta) + sb2
    Theta^{l+1}(i, j) = K^{l+1}(i, j) + sw2 mean_delta [Tdot(K^l) * Theta^l](i+delta, j+delta)
    NNGP = sw2 R[T(K^L)] + sb2,   NTK = NNGP + sw2 R[Tdot(K^L) * Theta^L]

R is the mean over the positions (i, i) (CNN-F) or over all (i, j) (CNN-P).  An entry
(a, i; b, j = i + s) is carried by its relative shift s: CNN-F needs s = 0 only (d entries
per input pair), CNN-P all d shifts (d^2 entries).  The box mean moves every entry along
its own shift, so the layer is one pass over the entries (numba, ``phasecli.ntk.engines.cnn_kernels``).

Deviation form (ordered phase to float64's end): every (image, position) diagonal is
carried as r = K_aa(i, i) - q* and pi = Theta_aa(i, i) / p^l - 1 (p^{l+1} = q* + chi_1 p^l,
the reference diagonal), every other entry as dK = (K_aa(i,i) + K_bb(j,j))/2 - K_ab(i,j)
and dTh (NTK, divided by p^l); same-image same-position entries ARE the diagonal (c = 1
exactly, never recomputed).  The readout is then assembled as 11^T - dev (the deviation
``dev`` feeds the deflated eigensolver of ``phasecli.ntk.spectra``) with p^{L+1} the scale.

Memory: 16 S d bytes per input pair (S = 1 CNN-F, d CNN-P) for the state (24 while the first layer is
formed), pairs = m (m + 1) / 2 (CNN-P; m (m - 1) / 2 CNN-F) (+ m_test m, + m_test test self-pairs for CNN-P).  Beyond ``MAX_STATE_BYTES`` the
pairs are processed in blocks, each through all depths, and the readout sums (``READOUT_BYTES`` per pair and
requested depth) are kept until the last block: depths are then yielded at the end.  ``workload`` estimates
a run's entry-layers and peak bytes, ``seconds`` its time; ``progress`` reports the layers as they are done.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

from phasecli.activations import ACTIVATIONS
from phasecli.expectations import kernels as KN
from phasecli.ntk.engines import (ENGINES, Layer, PointError, reject_options, scale_positions_to_q_star,
                                  scale_rows_to_q_star)
from phasecli.ntk.engines import cnn_kernels as CK
from phasecli.validate import InputError

EPS = np.finfo(np.float64).eps
MAX_STATE_BYTES = 1 << 30  # pair state held at once (the rest is blocked)
SERIAL_ENTRIES = 20_000  # below this many entries per layer one thread is faster
DEV_UNDERFLOW = 1e-280
READOUT_BYTES = 32  # per pair and requested depth, kept until the last block when the pairs are blocked
_PROGRESS = contextvars.ContextVar("phasecli_cnn_progress", default=None)


@contextlib.contextmanager
def progress(callback):
    """Within the block every CnnEngine calls ``callback(n)`` after each layer of each block of pairs, n = the
    entries (pairs x shifts x positions) it moved one layer on; ``workload`` gives the total.  Never prints."""
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


# wall seconds per entry-layer on the 2-core machine, numba over pairs, K = 3 (K = 5: ~1.2x), measured at load
# average 2-5 (bench/RESULTS_cnn_time.md): closed forms 150-450 ns; piecewise quadrature (elu, selu, hard_tanh)
# 130-240 us; smooth (tanh, gelu, ...: a nested 2-D quadrature per entry) 16-53 ms.  Set near the middle, so an
# estimate is within ~3x of the measured time.
SECONDS_PER_ENTRY_LAYER = {"closed": 3e-7, "piecewise": 2e-4, "smooth": 3e-2, "kinked": 3e-2}
COST_TEXT = {"closed": "closed form", "piecewise": "1-D quadrature per entry", "smooth": "2-D quadrature per entry",
             "kinked": "2-D quadrature per entry"}
PROGRESS_STEPS = 200  # a slow layer (quadrature) reports this many times, in chunks of pairs


def seconds(activation, entry_layers):
    """Rough wall time of ``entry_layers`` (``workload``) for an activation (``SECONDS_PER_ENTRY_LAYER``)."""
    return entry_layers * SECONDS_PER_ENTRY_LAYER.get(ACTIVATIONS[activation].kind, 3e-2)


def cost_text(activation):
    """'tanh: 2-D quadrature per entry, ~30 ms per entry-layer' (for estimates shown to users)."""
    kind = ACTIVATIONS[activation].kind
    per = SECONDS_PER_ENTRY_LAYER[kind]
    shown = f"{per * 1e3:.2g} ms" if per >= 1e-3 else (f"{per * 1e6:.2g} us" if per >= 1e-6 else f"{per * 1e9:.2g} ns")
    return f"{activation}: {COST_TEXT[kind]}, ~{shown} per entry-layer"


def workload(m, m_test, image_shape, architecture, depths, max_bytes=MAX_STATE_BYTES):
    """(entry-layers, peak bytes) of one CnnEngine run: m train, m_test test rows, the requested depths.

    entry-layers = pairs x S x d x max depth (S = 1 CNN-F, d CNN-P), each costing K^2 box-mean terms plus one
    two-point map; bytes = the pair state (at most ``max_bytes``), the readout sums when the pairs are
    blocked (``READOUT_BYTES`` per pair and depth), the first-layer deviations of one block, the dense
    readout matrices (4 m^2 + 2 m_test m doubles) of one depth and the d x d shift table."""
    height, width = int(image_shape[0]), int(image_shape[1])
    d = height * width
    pooled = ENGINES[architecture].pooled
    per_pair = d * (d if pooled else 1)
    pairs = (m * (m + 1) // 2 + m_test if pooled else m * (m - 1) // 2) + m_test * m
    depths = np.atleast_1d(depths)
    entry_layers = pairs * per_pair * int(np.max(depths))
    block = max(1, int(max_bytes // (16 * per_pair)))
    state = min(pairs, block) * 16 * per_pair * 1.5  # dk, dth, + the first-layer pass's copies (dk / u, dk / p)
    readout = pairs * READOUT_BYTES * len(depths) if pairs > block else 0
    dense = 8 * (4 * m * m + 2 * m_test * m)
    geometry_bytes = 8 * d * d  # the shift table of ``geometry`` (every shift of every position)
    return entry_layers, int(state + readout + dense + geometry_bytes)


def geometry(height, width, filter_size):
    """(nb, shift_all): the K^2 circular neighbours of each position and j = i + s for every shift s."""
    h = np.arange(height)[:, None]
    w = np.arange(width)[None, :]
    half = filter_size // 2
    nb = []
    for dh in range(-half, half + 1):
        for dw in range(-half, half + 1):
            nb.append((((h + dh) % height) * width + (w + dw) % width).ravel())
    nb = np.ascontiguousarray(np.stack(nb, axis=1).astype(np.int64))
    shift = np.empty((height * width, height * width), dtype=np.int64)
    for sh in range(height):
        for sw in range(width):
            shift[:, sh * width + sw] = (((h + sh) % height) * width + (w + sw) % width).ravel()
    return nb, shift


SHIFT_TABLE_MAX_BYTES = 4 << 30  # images whose d x d table of pixel shifts (``geometry``) exceeds this are refused


def check_image_shape(shape):
    """Validated (H, W, C): three positive integers whose d x d shift table fits; InputError otherwise
    (before any rows are read or drawn)."""
    try:
        dims = tuple(int(v) for v in shape)
    except (TypeError, ValueError):
        raise InputError(f"image shape must be three integers H,W,C, got {shape!r}", "image_shape") from None
    if len(dims) != 3 or min(dims) < 1:
        raise InputError(f"image shape must be three positive integers H,W,C, got {shape!r}", "image_shape")
    d = dims[0] * dims[1]
    if 8.0 * d * d > SHIFT_TABLE_MAX_BYTES:
        raise InputError(f"{d:,}-pixel images need a {d:,} x {d:,} table of pixel shifts ({8.0 * d * d / 2 ** 30:.3g} "
                         f"GiB; limit {SHIFT_TABLE_MAX_BYTES / 2 ** 30:g} GiB): use smaller images", "image_shape")
    return dims


def check_image(shape, filter_size, n_columns, what="X"):
    """Validated (H, W, C) and K for rows of n_columns values; InputError otherwise."""
    height, width, channels = check_image_shape(shape)
    k = int(filter_size)
    if k != filter_size or k < 1 or k % 2 == 0:
        raise InputError(f"the filter size must be an odd positive integer, got {filter_size!r}", "filter")
    if k > min(height, width):
        raise InputError(f"a {k}x{k} filter does not fit {height}x{width} images", "filter")
    if height * width * channels != n_columns:
        raise InputError(f"{what} rows hold {n_columns} values but an image of shape {height},{width},{channels} "
                         f"has {height * width * channels} (H*W*C)", "image_shape")
    return height, width, channels, k


class CnnEngine:
    """CNN-F / CNN-P recursion in deviation form for one (activation, sw2, sb2) point (see the module docstring)."""

    @property
    def positions(self) -> int:
        """Pixels per image (the pooling window of CNN-P)."""
        return self.d

    def __init__(self, activation, X, Xt, image, filter_size, pooled, sw2, sb2, slope, q_star,
                 max_bytes=MAX_STATE_BYTES):
        act = ACTIVATIONS[activation]
        self.code, self.kind = act.code, act.kind_code
        self.method = 0 if act.kind == "closed" else 1
        self.slope, self.sw2, self.sb2, self.q = slope, sw2, sb2, q_star
        height, width, channels = image
        self.d = height * width
        self.pooled = pooled
        self.nb, shift_all = geometry(height, width, filter_size)
        self.shift = shift_all if pooled else np.ascontiguousarray(shift_all[:, :1])
        self.m = X.shape[0]
        self.m_test = 0 if Xt is None else Xt.shape[0]
        rows = X if Xt is None else np.vstack([X, Xt])
        self.x = np.ascontiguousarray(rows.reshape(rows.shape[0], self.d, channels))
        self.channels = channels
        v1 = sw2 * np.einsum("nic,nic->ni", self.x, self.x) / channels
        self.v1 = np.ascontiguousarray(np.stack([v1[n][self.nb].mean(axis=1) for n in range(v1.shape[0])]) + sb2)
        # The reference diagonal.  Homogeneous activations (relu, leaky_relu, abs, linear): variances in units of the
        # moving reference u_{l+1} = sw2 T(1) u_l + sb2 (u_1 = q*, or the mean first-layer variance), whose fixed
        # point is 1 in those units exactly, so that growing (chaotic) or dying kernels stay O(1).  Others: q*,
        # taken as the exact fixed point (its residual sw2 T(q*) + sb2 - q*, ~1e-17 q*, would shift every variance
        # alike, a rank-one 11^T change; dropping it lets r, pi decay to 0 in the ordered phase, and their rounding).
        self.homog = act.homogeneous
        if self.homog:
            self.qref = 1.0
            self.u1 = q_star if math.isfinite(q_star) and q_star > 0.0 else float(self.v1[:self.m].mean())
            self.t_unit = KN.gauss_moments(self.code, 1.0, slope)[0]
        else:
            self.qref, self.u1, self.t_unit = q_star, 1.0, 0.0
        if not self.u1 > 0.0:
            raise PointError("q_zero", "every first-layer variance is 0 (all inputs zero and sb2 = 0)")
        _, td0, _ = KN.gauss_moments(self.code, self.qref, slope)
        self.chi = sw2 * td0
        self.res0 = 0.0
        ia, ib = np.triu_indices(self.m, 0 if pooled else 1)
        pa = [ia, np.repeat(np.arange(self.m_test) + self.m, self.m)]
        pb = [ib, np.tile(np.arange(self.m), self.m_test)]
        if pooled:  # each test image with itself: its pooled variance K(x, x) needs its position pairs
            pa.append(np.arange(self.m_test) + self.m)
            pb.append(np.arange(self.m_test) + self.m)
        self.pa = np.ascontiguousarray(np.concatenate(pa).astype(np.int64))
        self.pb = np.ascontiguousarray(np.concatenate(pb).astype(np.int64))
        self.n_train_pairs = ia.size
        self.self_pair = np.full(self.m, -1, dtype=np.int64)
        if pooled:
            diag = np.flatnonzero(ia == ib)
            self.self_pair[ia[diag]] = diag
        per_pair = 16 * self.shift.shape[1] * self.d
        self.block = max(1, int(max_bytes // per_pair))
        self.duplicates = self._duplicates()
        kind_err = 0.0 if self.method == 0 else (1e-13 if self.kind == 1 else 1e-12)
        self.error = max(4 * EPS, kind_err)

    def chaotic_prefactors(self):
        """A(x) (chi_1 - 1) / q* of each train image (``limits.chaotic_prefactors``: the chaotic NTK diagonal
        grows like A(x) chi_1^l; pooling divides all by d alike); NaN for a homogeneous activation (no finite q*
        in the chaotic phase)."""
        from phasecli.ntk.engines.limits import chaotic_prefactors

        if self.homog:
            return np.full(self.m, np.nan)
        return chaotic_prefactors(self.code, self.method, self.slope, self.sw2, self.q, self.chi, self.v1[:self.m],
                                  self.nb)

    def ordered_gap(self):
        """Not derived for the CNN (positions mix and, per example, start at different variances): NaN
        (``limits.ordered_gap``)."""
        return math.nan

    # ---- state
    def _initial(self, lo, hi):
        """Pairs lo:hi and their first-layer deviations dK (units u_1) and dTheta / p^1."""
        pa, pb = self.pa[lo:hi], self.pb[lo:hi]
        dk = np.empty((hi - lo, self.shift.shape[1], self.d))
        CK._first_layer(self.x, self.channels, self.sw2, pa, pb, self.shift, self.nb, dk)
        p1 = self.u1 * self.qref
        return pa, pb, dk / self.u1, dk / p1

    def _duplicates(self):
        """Train pairs whose kernels are exactly equal: identical images (CNN-P: also circular shifts)."""
        lo, hi = 0, self.n_train_pairs
        if hi == 0:
            return []
        pairs = []
        tol = max(float(self.v1.mean()) - self.sb2, 0.0) / self.u1 * (8.0 * EPS) ** 2
        for start in range(lo, hi, self.block):
            stop = min(hi, start + self.block)
            pa, pb, dk, _ = self._initial(start, stop)
            hit = (dk.max(axis=2) <= tol).any(axis=1) & (pa != pb)
            pairs += [(int(a), int(b)) for a, b in zip(pa[hit], pb[hit])]
        return sorted(pairs)

    def _layers(self, depths, lo, hi):
        """One pass over the layers for pairs lo:hi; yields (depth, acc, diag readout) at the requested depths."""
        pa, pb, dk, dth = self._initial(lo, hi)
        u = self.u1
        qref = self.qref
        r = self.v1 / u - qref
        pi = r / qref
        dq, ddq, tq, tdq = (np.empty_like(r) for _ in range(4))
        acc = np.zeros((hi - lo, 4))
        lp = math.log(u * qref)
        want = set(int(x) for x in depths)
        serial = dk.size < SERIAL_ENTRIES
        layer = CK._entries_layer_serial if serial else CK._entries_layer
        hook = _PROGRESS.get()
        for depth in range(1, int(depths.max()) + 1):
            CK._diag_maps(self.method, self.code, self.slope, qref, r, dq, ddq, tq, tdq)
            u_next = self.sw2 * self.t_unit * u + self.sb2 if self.homog else 1.0
            rho = u_next * qref * math.exp(-lp) + self.chi  # p^{l+1} / p^l
            if not (math.isfinite(rho) and rho > 0.0 and u_next > 0.0 and math.isfinite(u_next)):
                raise FloatingPointError("kernel overflow")
            lp_next = lp + math.log(rho)
            sw2_k, kfac, lp_ratio = self.sw2 * u / u_next, u_next * math.exp(-lp_next), 1.0 / rho
            if depth in want:
                diag = (dq.mean(axis=1), (self.sw2 * (ddq + tdq * pi)).mean(axis=1), lp, lp_next,
                        float(np.abs(pi).max(initial=0.0)), u, u_next)
            # quadrature layers in chunks of pairs, so that progress moves within a layer (same results)
            step = pa.size if (hook is None or self.method == 0) else max(8, -(-pa.size // PROGRESS_STEPS))
            for c0 in range(0, pa.size, step):
                c1 = min(pa.size, c0 + step)
                layer(self.method, self.code, self.kind, self.slope, qref, sw2_k, self.sw2, kfac, lp_ratio,
                      pa[c0:c1], pb[c0:c1], self.shift, self.nb, r, pi, tq, tdq, dk[c0:c1], dth[c0:c1], acc[c0:c1])
                if hook is not None:
                    hook(dk[c0:c1].size)
            if depth in want:
                yield depth, acc / (self.shift.shape[1] * self.d), diag, float(np.min(dk, initial=np.inf, where=dk > 0))
            CK._diag_step(self.nb, sw2_k, self.sw2, self.res0, kfac, lp_ratio, r, pi, dq, ddq, tdq)
            lp, u = lp_next, u_next
            if not (np.isfinite(r).all() and np.isfinite(pi).all()):
                raise FloatingPointError("kernel overflow")

    def kernels(self, layer, f_th):
        """(K, Theta, K_tt, Theta_tt, Theta deviation, K deviation) of a layer of this engine (see
        ``phasecli.ntk.engines``); the test x train NNGP block is kept in absolute units."""
        k = layer.k * math.exp(layer.log_kscale)
        th = layer.theta * f_th
        tht = None if layer.theta_tt is None else layer.theta_tt * f_th
        return k, th, layer.k_tt, tht, layer.theta_dev.copy(), layer.k_dev.copy()

    def run(self, depths):
        """A ``Layer`` at each requested depth (ascending); streamed when the state fits in one block."""
        n_pairs = self.pa.size
        if n_pairs <= self.block:
            for depth, acc, diag, dk_min in self._layers(depths, 0, n_pairs):
                yield self._readout(depth, acc, diag, dk_min)
            return
        store = np.empty((len(depths), n_pairs, 4))
        diags, mins = [None] * len(depths), np.full(len(depths), np.inf)
        for lo in range(0, n_pairs, self.block):
            hi = min(n_pairs, lo + self.block)
            for k, (depth, acc, diag, dk_min) in enumerate(self._layers(depths, lo, hi)):
                store[k, lo:hi] = acc
                diags[k] = diag
                mins[k] = min(mins[k], dk_min)
        for k, depth in enumerate(depths):
            yield self._readout(int(depth), store[k], diags[k], mins[k])

    # ---- readout
    def _readout(self, depth, acc, diag, dk_min):
        sw2, q, m = self.sw2, self.qref, self.m
        mean_dq, mean_w, lp, lp_next, spread, u, u_next = diag
        ratio, inv_next = math.exp(lp - lp_next), u_next * math.exp(-lp_next)
        sw2_k = sw2 * u / u_next
        ro = sw2_k * mean_dq + self.res0
        pio = ro * inv_next + ratio * mean_w
        ntr = self.n_train_pairs
        md, mw = acc[:ntr, 0], acc[:ntr, 1]
        pa, pb = self.pa[:ntr], self.pb[:ntr]
        if self.pooled:
            sp = self.self_pair
            ro_tr = ro[:m] - sw2_k * md[sp]
            pio_tr = pio[:m] - (sw2_k * md[sp] * inv_next + ratio * sw2 * mw[sp])
            md = md - 0.5 * (md[sp[pa]] + md[sp[pb]])
            mw = mw - 0.5 * (mw[sp[pa]] + mw[sp[pb]])
        else:
            ro_tr, pio_tr = ro[:m], pio[:m]
        dko = sw2_k * md
        dtho = dko * inv_next + ratio * sw2 * mw
        kdev = np.zeros((m, m))
        dev = np.zeros((m, m))
        kdev[pa, pb] = (dko - 0.5 * (ro_tr[pa] + ro_tr[pb])) / q
        dev[pa, pb] = dtho - 0.5 * (pio_tr[pa] + pio_tr[pb])
        kdev[pb, pa] = kdev[pa, pb]
        dev[pb, pa] = dev[pa, pb]
        idx = np.arange(m)
        kdev[idx, idx] = -ro_tr / q
        dev[idx, idx] = -pio_tr
        k_tt = th_tt = k_test_diag = None
        if self.m_test:
            ntt = ntr + self.m_test * m
            mt, mct = acc[ntr:ntt, 2], acc[ntr:ntt, 3]
            ro_te = ro[m:] - sw2_k * acc[ntt:, 0] if self.pooled else ro[m:]
            k_test_diag = 1.0 + ro_te / q  # in units u_next q, as the train diagonal 1 - kdev[a, a]
            k_flat = sw2 * u * mt + self.sb2
            k_tt = k_flat.reshape(self.m_test, m)
            th_tt = ((k_flat + sw2 * math.exp(lp) * mct) * math.exp(-lp_next)).reshape(self.m_test, m)
        th_dir = 1.0 - dev
        dev_err = self.error * math.sqrt(depth)
        horizon = depth if self.chi >= 1.0 else min(depth, 1.0 / (1.0 - self.chi))
        dev_abs = 4.0 * EPS * spread + (0.0 if self.method == 0 else 8.0 * self.error * self.chi * horizon)
        k_dev_abs = 0.0 if self.method == 0 else 8.0 * self.error
        if self.n_train_pairs and dk_min < DEV_UNDERFLOW:
            dev_abs = k_dev_abs = 1.0
        return Layer(depth=depth, theta=th_dir, theta_dev=dev, log_scale=lp_next, k=1.0 - kdev, k_dev=kdev,
                     log_kscale=math.log(u_next * q), gamma_theta=0.0, gamma_k=0.0, theta_tt=th_tt, k_tt=k_tt,
                     dev_err=dev_err, dev_abs=dev_abs, k_dev_abs=k_dev_abs, k_test_diag=k_test_diag)


def check_options(architecture, dropout, image_shape, **options):
    """The CNN takes no dropout and needs an image shape (usage errors before any work)."""
    reject_options(architecture, options)
    if dropout is not None:
        raise InputError("dropout is implemented for fully connected networks only (architecture fc)", "dropout")
    if image_shape is None:
        raise InputError(f"architecture {architecture} needs the image shape H,W,C", "image_shape")


def check_inputs(image_shape, filter_size, dim):
    """Rows of ``dim`` values hold images of ``image_shape`` under a ``filter_size`` filter (``check_image``)."""
    check_image(image_shape, filter_size, dim)


def build(activation, X, Xt, sw2, sb2, slope, normalize, q_star, where, *, architecture, image_shape, filter_size,
          **_):
    """(engine, duplicate pairs, table error) for checked inputs (``check_image`` too: ``ntk`` checks them once);
    rows scaled to a mean q^1 = q* with normalize 'example', every pixel's channel vector to q^1(i) = q* with
    'position' (``scale_positions_to_q_star``).

    Raises PointError where the CNN kernel has no reference fixed point (q* infinite or zero)."""
    height, width, channels = (int(v) for v in image_shape)
    k = int(filter_size)
    if not ACTIVATIONS[activation].homogeneous and not (math.isfinite(q_star) and q_star > 0.0):
        raise PointError("q_infinite" if not math.isfinite(q_star) else "q_zero",
                         f"q* is {'infinite' if not math.isfinite(q_star) else 0} for {where}: the convolutional "
                         "recursion is carried relative to a finite q* > 0")
    if normalize == "position":
        X = scale_positions_to_q_star(X, image_shape, q_star, sw2, sb2, "X")
        Xt = None if Xt is None else scale_positions_to_q_star(Xt, image_shape, q_star, sw2, sb2, "X_test")
    elif normalize:
        X = scale_rows_to_q_star(X, q_star, sw2, sb2, "X")
        Xt = None if Xt is None else scale_rows_to_q_star(Xt, q_star, sw2, sb2, "X_test")
    engine = CnnEngine(activation, X, Xt, (height, width, channels), k, ENGINES[architecture].pooled, sw2, sb2, slope,
                       q_star)
    return engine, engine.duplicates, engine.error
