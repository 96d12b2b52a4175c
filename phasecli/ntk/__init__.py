"""NNGP and NTK of deep networks on a data set, and their spectra: the public API.

Numeric core of ``phasecli kappa`` / ``lr`` / ``generalize``: never prints; bad input
raises ``InputError`` (a ValueError) naming the parameter.  Every formula is from the
theory document (``phasecli docs theory``, "NNGP and NTK on a data set"); sw2, sb2 are
*variances*.  The layers below: ``phasecli.data`` (inputs), ``phasecli.maps.equal``
(per-activation two-point maps), ``phasecli.ntk.engines`` (one recursion per
architecture), ``phasecli.ntk.spectra`` (eigen-summaries), ``phasecli.ntk.asymptotics`` (Table 1).

Kernel convention
-----------------
NTK parameterization, depth L = number of hidden layers.  A depth-L network has NNGP
K^{L+1} and NTK Theta^{L+1} (the readout layer included), as neural-tangents'
``stax.serial(*[Dense(W_std=sqrt(sw2), b_std=sqrt(sb2)), phi] * L, Dense(...))`` with
``parameterization='ntk'``.  The NTK is for the loss 1/2 sum (f - y)^2 over the m
training points ("sum loss"): gradient descent converges for eta < 2 / lambda_max; with
the mean loss 1/(2m) sum the bound is 2m / lambda_max.  All requested depths come from
ONE pass of the recursion (depth 1000 costs 1000 layers, not 1 + 2 + ... + 1000).
Depths are reported sorted and de-duplicated.

Normalization (``normalize=True`` / ``'example'``, the default; ``'position'``; ``False``)
-----------------------------------------------------------------------------------------
Validated once by ``validate.normalize``.  ``'position'`` scales every pixel of every image to
q* (CNN; for fc an input is one position, the same as ``'example'``); ``False`` uses the data
as given.  With ``'example'`` each row x is rescaled so that q^1 = sw2 |x|^2 / d + sb2 equals q*, the stable fixed
point of the length map reached from ``q0`` (``meanfield.solve_phase``), the setting of
Xiao et al.  Then every diagonal of K^l is q* and the diagonal of Theta^l is
p^l = q* (1 + chi_1 + ... + chi_1^(l-1)); T and Tdot depend on the correlation alone.
A row of zeros cannot be rescaled (InputError).  Grid points without a usable q* raise
``PointError`` (a ValueError) from ``kernel_pass`` and give an all-NaN ``Spectra`` with
``status`` set from ``ntk_spectra``: q* infinite (relu / leaky_relu / linear with
chi_1 >= 1 and sb2 > 0, elu, ... in their unbounded regime: use ``normalize=False``),
q* = 0 (sb2 = 0 and an odd activation in the ordered phase: the signal dies) and
sw2 = 0 (the inputs never reach the output).

Scale: Theta is carried divided by its diagonal p (log p kept separately), so the
chaotic NTK (growing like chi_1^l) never overflows: eigenvalues are reported as
numbers (inf only beyond the float64 range, with log10_lambda_max always finite);
kappa is scale-free.

Exact singularity: rows that coincide after normalization (or are opposite, for an odd
activation with sb2 = 0) make every kernel exactly singular: ``singular`` is True,
lambda_min = 0, kappa = inf, status 'singular' and ``message`` names the rows (with
dropout the smallest eigenvalue is exactly the dropout shift).  Other exact
singularities (e.g. a linear network with m > d + 1) show as unresolved rows.

Dropout (``dropout=RHO``, keep rate 0 < RHO <= 1, on the penultimate layer)
---------------------------------------------------------------------------
Inverted dropout on the activations of the last hidden layer, phi(z) * mask / RHO with
mask ~ Bernoulli(RHO), independent per input and unit.  Over the masks,
E[m_a m_b] / RHO^2 is 1/RHO for the same input and 1 for different inputs, and the
backward pass goes through the same mask, so at the last step of the recursion only the
diagonals of T and Tdot*Theta are multiplied by 1/RHO:

    K^{L+1}_aa     += (1/RHO - 1) * sw2 * T_aa
    Theta^{L+1}_aa += (1/RHO - 1) * sw2 * (T_aa + Tdot_aa * Theta^L_aa)

off-diagonals and test-train blocks unchanged.  This is neural-tangents'
``stax.Dropout(RHO, mode='train')`` after the last nonlinearity (its kernel multiplies
the same-input diagonal of both the NNGP and the NTK by 1/rate), which is what the
seed's Figure 1f was computed with.  The dropout layer is applied to the output of every
requested depth; the recursion itself runs without it.  With normalized inputs the
shift is the same for every row, so the spectra are those without dropout plus
gamma = (1/RHO - 1)(q* - sb2 + chi_1 p^L).  Large-depth limit in the ordered phase
(Theta^L -> p* 11^T): kappa -> 1 + m RHO p* / ((1 - RHO)(p* - sb2)), finite
(``kappa_theory``).  (Scaling the diagonal of T alone, without the backward mask, would
give 1 + m RHO p* / ((1 - RHO)(q* - sb2)) instead.)
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from phasecli import meanfield as mf
from phasecli import validate as V
from phasecli.activations import ACTIVATIONS, require_closed_inner
from phasecli.data import check_matrix, load_data, synthetic_data  # noqa: F401  (part of the public API)
from phasecli.ntk import engines
from phasecli.ntk.engines import SMOOTH_TABLE_Q_MAX, PointError, check_first_layer
from phasecli.ntk.spectra import Spectra, _summarize
from phasecli.runtime.blas import single_threaded as single_threaded_blas
from phasecli.ntk.asymptotics import (critical_ratio, kappa_limit, kappa_theory, lambda_max_theory,  # noqa: F401
                                      learning_rates, nngp_kappa_theory)
from phasecli.validate import parse_depths  # noqa: F401  (part of the public API)

# the normalized tables of a smooth activation (phasecli.maps.equal.norm_functions) need ~80 sqrt(q*) angular
# modes; at q* = 1e3 they take ~20 s and 0.5 GB, at 1e4 over 4 GB: beyond this, status 'q_too_large'
EPS = np.finfo(np.float64).eps
# from TWO_THREAD_SPECTRA_M up to below TWO_THREAD_SPECTRA_M_MAX inputs the NTK and NNGP summaries of a layer run in
# two threads; above, two m x m eigensolves at once measured slower than one after the other on the shared 2 cores
# (cache; bench/RESULTS_spectra_nt.md)
TWO_THREAD_SPECTRA_M = 128
TWO_THREAD_SPECTRA_M_MAX = 1024


@dataclass
class _Setup:
    engine: object
    normalize: bool
    activation: str
    sw2: float
    sb2: float
    slope: float
    dropout: float | None
    q_star: float
    c_star: float
    chi_1: float
    chi_c: float
    xi_1: float
    xi_star: float
    phase: str
    m: int
    dim: int
    duplicates: list
    table_error: float
    architecture: str = "fc"
    positions: int = 1  # d = H W for the CNN (pooling window of CNN-P)


def _setup(activation, X, sw2, sb2, X_test, slope, normalize, q0, dropout, min_rows, architecture="fc",
           image_shape=None, filter_size=3, checked=False, point=None, options=None) -> _Setup:
    """Validate everything once (X already ``check_matrix``ed when ``checked``), solve the point's mean field,
    build the engine.  ``point`` (a dict), if given, receives the point's mean-field values as soon as they are
    known, so a caller that catches PointError has them without solving again.  ``options``: the
    architecture's own options (``phasecli.ntk.engines``; resnet: residual_scale, layer_norm)."""
    V.activation(activation)
    if architecture != "fc":
        require_closed_inner(activation, f"the {architecture} NTK / NNGP kernels")
    engine_module = engines.engine_module(architecture)
    options = dict(options or {})
    engine_module.check_options(architecture, dropout, image_shape, **options)
    X = X if checked else check_matrix(X, "X")
    if X.shape[0] < min_rows:
        raise V.InputError(f"need at least {min_rows} inputs (rows), got {X.shape[0]}", "X")
    Xt = None
    if X_test is not None:
        Xt = check_matrix(X_test, "X_test")
        if Xt.shape[1] != X.shape[1]:
            raise V.InputError(f"X_test has {Xt.shape[1]} columns, X has {X.shape[1]}", "X_test")
    sw2 = V.variance("sw2", sw2)
    sb2 = V.variance("sb2", sb2)
    q0 = V.q0(q0)
    slope = V.slope(slope)
    rho = V.dropout(dropout)
    normalize = V.normalize(normalize)
    fixed_point = engines.ENGINES[architecture].fixed_point
    if fixed_point:
        grid = mf.solve_phase(activation, sw2, sb2, q0=q0, slope=slope)
        q_star = float(grid.q_star[0, 0])
        fp = str(grid.fixed_point[0, 0])
        info = dict(q_star=q_star, c_star=float(grid.c_star[0, 0]), chi_1=float(grid.chi_1[0, 0]),
                    chi_c=float(grid.chi_c[0, 0]), xi_1=float(grid.xi_1[0, 0]), xi_star=float(grid.xi_star[0, 0]),
                    phase=str(grid.phase[0, 0]))
    else:  # no fixed point describes the network (resnet): the engine scales rows to q0 itself
        q_star, fp = math.nan, "none"
        info = dict(q_star=math.nan, c_star=math.nan, chi_1=math.nan, chi_c=math.nan, xi_1=math.nan,
                    xi_star=math.nan, phase="")
    if point is not None:
        point.update(info)
    where = f"{activation} at sw2={sw2:g}, sb2={sb2:g}"
    m, dim = X.shape
    engine_module.check_inputs(image_shape, filter_size, dim)
    if normalize and fixed_point:
        if sw2 == 0.0:
            raise PointError("sw2_zero", f"sw2 = 0: the inputs never reach the output (K = sb2 11^T); {where}")
        if fp == "infinite":
            raise PointError("q_infinite", f"q* is infinite for {where} (q^l grows without bound), so rows "
                                           "cannot be scaled to q*: use --no-normalize")
        if fp == "zero" or not q_star > sb2:
            raise PointError("q_zero", f"q* = 0 for {where} (sb2 = 0 in the ordered phase: the signal dies), "
                                       "so rows cannot be scaled to q*: use --no-normalize")
        if fp == "unconverged" or not math.isfinite(q_star):
            raise PointError("unconverged", f"the length map did not converge for {where}")
        if ACTIVATIONS[activation].kind == "smooth" and q_star > SMOOTH_TABLE_Q_MAX:
            raise PointError("q_too_large", f"q* = {q_star:.3g} for {where}: the kernel tables of a smooth "
                                            f"activation need about 80 sqrt(q*) angular modes and are built "
                                            f"only up to q* = {SMOOTH_TABLE_Q_MAX:g} (memory); use a smaller sw2")
    if not normalize:
        check_first_layer(X, sw2, sb2, "X")
        if Xt is not None:
            check_first_layer(Xt, sw2, sb2, "X_test")
    engine, dups, table_error = engine_module.build(activation, X, Xt, sw2, sb2, slope, normalize, q_star,
                                                    where, architecture=architecture, dropout=rho,
                                                    image_shape=image_shape, filter_size=filter_size, q0=q0,
                                                    **options)
    positions = engine.positions
    return _Setup(engine=engine, normalize=bool(normalize), activation=activation, sw2=sw2, sb2=sb2, slope=slope,
                  dropout=rho, m=m, dim=dim, duplicates=dups, table_error=table_error, architecture=architecture,
                  positions=positions, **info)


class KernelLayer(tuple):
    """(depth, K_train, Theta_train, K_test_train, Theta_test_train) with extra attributes.

    Unpacks as the 5-tuple.  With ``scaled=True`` in ``kernel_pass`` the Theta blocks are
    divided by exp(log_scale) (the NTK diagonal for normalized inputs), so they never
    overflow; otherwise log_scale is 0.  theta_deviation / k_deviation (normalized
    inputs): (p - Theta_ab) / p and 1 - K_ab / q* on the train block, with full relative
    accuracy near the ordered fixed point.  Data as given: 1 - Theta_ab / sqrt(Theta_aa Theta_bb) and
    1 - K_ab / sqrt(K_aa K_bb), likewise accurate (``phasecli.ntk.engines.fc.RawEngine``).
    k_test_diag: the NNGP variances K(x, x) of the test rows (absolute units; None without X_test).
    """

    def __new__(cls, depth, k, th, kt, tht, log_scale=0.0, theta_deviation=None, k_deviation=None,
                k_test_diag=None):
        obj = super().__new__(cls, (depth, k, th, kt, tht))
        obj.log_scale = log_scale
        obj.theta_deviation = theta_deviation
        obj.k_deviation = k_deviation
        obj.k_test_diag = k_test_diag
        return obj

    depth = property(lambda self: self[0])
    K_train = property(lambda self: self[1])
    Theta_train = property(lambda self: self[2])
    K_test_train = property(lambda self: self[3])
    Theta_test_train = property(lambda self: self[4])


def kernel_pass(activation, X, sw2, sb2, depths, *, X_test=None, slope=mf.DEFAULT_SLOPE, normalize=True, q0=1.0,
                dropout=None, scaled=False, architecture="fc", image_shape=None, filter_size=3, options=None):
    """One pass of the depth recursion; yields a ``KernelLayer`` at each requested depth.

    (depth, K_train, Theta_train, K_test_train, Theta_test_train): the NNGP and NTK of a
    depth-L network (K^{L+1}, Theta^{L+1}) on the train rows of X and between the rows of
    X_test and X (None without X_test).  Arrays are fresh copies.  Dropout (keep rate)
    changes only the train diagonals (see the module docstring).  With normalize=True
    (default) the rows of X and X_test are scaled to q^1 = q*.  Raises InputError on bad
    input and PointError (a ValueError) where the kernel does not exist.  ``architecture`` 'cnn-f' /
    'cnn-p' (with ``image_shape`` (H, W, C) and an odd ``filter_size``): the convolutional network of
    ``phasecli.ntk.engines.cnn``; with normalize 'example' the rows are scaled to a mean first-layer
    variance q*, with 'position' every position of every image to q*.  'resnet' (``options``: residual_scale,
    a number or 'depth', and layer_norm 'none' or 'pre'): the residual network of
    ``phasecli.ntk.engines.resnet``, rows scaled to a first-layer variance q0; its deviations are None.
    """
    depths = V.depths(depths)
    st = _setup(activation, X, sw2, sb2, X_test, slope, normalize, q0, dropout, min_rows=1,
                architecture=architecture, image_shape=image_shape, filter_size=filter_size, options=options)
    eng = st.engine
    try:
        for layer in eng.run(depths):
            lt = layer.log_scale
            f_th = 1.0 if scaled else math.exp(min(lt, 709.78))
            k, th, kt, tht, tdev, kdev = eng.kernels(layer, f_th)
            k_test_diag = None if layer.k_test_diag is None else layer.k_test_diag * math.exp(layer.log_kscale)
            yield KernelLayer(layer.depth, k, th, kt, tht, lt if scaled else 0.0, tdev, kdev, k_test_diag)
    except FloatingPointError:
        raise PointError("overflow", f"the kernel overflowed float64 ({activation}, sw2={st.sw2:g}, "
                                     f"sb2={st.sb2:g})") from None


def _nan_spectra(activation, sw2, sb2, m, dim, normalize, dropout, depths, status, message, info=None,
                 architecture="fc", appended=None):
    n = depths.size
    nan = np.full(n, np.nan)
    info = info or {}
    return Spectra(activation=activation, sw2=float(sw2), sb2=float(sb2), m=m, dim=dim, normalize=normalize,
                   dropout=dropout, phase=info.get("phase", "unknown"), q_star=info.get("q_star", math.nan),
                   c_star=info.get("c_star", math.nan), chi_1=info.get("chi_1", math.nan),
                   chi_c=info.get("chi_c", math.nan), p_star=math.nan, xi_1=info.get("xi_1", math.nan),
                   xi_star=info.get("xi_star", math.nan), depth=depths.copy(),
                   **{c: nan.copy() for c in ("lambda_max", "lambda_min", "lambda_bulk", "kappa", "nngp_lambda_max",
                                               "nngp_lambda_min", "nngp_lambda_bulk", "nngp_kappa", "kappa_theory",
                                               "kappa_limit", "nngp_kappa_theory", "lambda_max_theory", "kappa_rel_err",
                                               "nngp_kappa_rel_err", "log10_lambda_max")},
                   resolved=np.zeros(n, dtype=bool), nngp_resolved=np.zeros(n, dtype=bool),
                   method=np.full(n, "", dtype=object), status=status, message=message, architecture=architecture,
                   **(appended or {}))


def ntk_spectra(activation, X, sw2, sb2, depths, *, slope=mf.DEFAULT_SLOPE, normalize=True, q0=1.0,
                dropout=None, architecture="fc", image_shape=None, filter_size=3, options=None) -> Spectra:
    """NTK and NNGP spectra at every requested depth (one recursion pass) plus Table 1 theory
    (``kappa_theory``; chaotic: the exact limit for these inputs from the engine's ``chaotic_prefactors``)
    and the exact large-depth asymptote ``kappa_limit`` (ordered: the engine's ``ordered_gap``).
    An architecture without a fixed point (resnet) has NaN theory columns, an empty phase and its
    appended columns (``engines.appended_columns``).

    Bad input (data, depths, dropout, activation) raises InputError; a point without a
    kernel (q* infinite / zero, sw2 = 0, overflow) returns an all-NaN Spectra whose
    ``status`` and ``message`` say why.  ``architecture``, ``image_shape``, ``filter_size``: as in
    ``kernel_pass`` (CNN-F / CNN-P on images).
    """
    depths = V.depths(depths)
    Xc = check_matrix(X, "X")
    if Xc.shape[0] < 2:
        raise V.InputError(f"need at least 2 inputs (rows) for a spectrum, got {Xc.shape[0]}", "X")
    m, dim = Xc.shape
    info = {}  # the point's mean field, filled by _setup (a point without a kernel needs it too)
    try:
        st = _setup(activation, Xc, sw2, sb2, None, slope, normalize, q0, dropout, min_rows=2,
                    architecture=architecture, image_shape=image_shape, filter_size=filter_size, checked=True,
                    point=info, options=options)
    except PointError as exc:
        return _nan_spectra(activation, sw2, sb2, m, dim, bool(normalize), V.dropout(dropout), depths,
                            exc.status, str(exc), info, architecture=architecture,
                            appended=engines.appended_columns(architecture, options, depths))
    n = depths.size
    cols = {c: np.full(n, np.nan) for c in ("lambda_max", "lambda_min", "lambda_bulk", "kappa", "nngp_lambda_max",
                                            "nngp_lambda_min", "nngp_lambda_bulk", "nngp_kappa", "kappa_rel_err",
                                            "nngp_kappa_rel_err", "log10_lambda_max")}
    resolved = np.zeros(n, dtype=bool)
    nresolved = np.zeros(n, dtype=bool)
    method = np.full(n, "", dtype=object)
    singular = bool(st.duplicates)
    eng = st.engine
    gap = eng.ordered_gap() if st.phase == "ordered" and st.dropout is None else None  # before the run
    status, message = "ok", ""
    i = 0
    # the NNGP summary of a layer runs in a second thread beside the NTK's (their eigensolves release the GIL)
    pool = ThreadPoolExecutor(max_workers=1) if TWO_THREAD_SPECTRA_M <= m < TWO_THREAD_SPECTRA_M_MAX else None
    try:
        for layer in eng.run(depths):
            tau = layer.dev_err
            gk = layer.gamma_k

            def th_direct(lay=layer):
                return lay.theta  # normalized: Theta / p, diagonal 1

            nngp_args = (layer.nngp_direct, layer.k_dev, gk, tau, layer.k_dev_abs, singular, layer.log_kscale)
            nngp_kw = dict(root=layer.k_root, dev_err=layer.k_dev_err)
            with single_threaded_blas():  # both threads' eigensolves on one BLAS thread each
                nngp = pool.submit(_summarize, *nngp_args, **nngp_kw) if pool is not None else None
                r = _summarize(th_direct, layer.theta_dev, layer.gamma_theta, tau, layer.dev_abs, singular,
                               layer.log_scale, root=layer.theta_root, dev_err=layer.theta_dev_err)
                cols["lambda_max"][i], cols["lambda_min"][i], cols["lambda_bulk"][i], cols["kappa"][i] = r[:4]
                resolved[i], cols["kappa_rel_err"][i], method[i], cols["log10_lambda_max"][i] = r[4:]
                r = nngp.result() if nngp is not None else _summarize(*nngp_args, **nngp_kw)
            cols["nngp_lambda_max"][i], cols["nngp_lambda_min"][i], cols["nngp_lambda_bulk"][i] = r[:3]
            cols["nngp_kappa"][i], nresolved[i], cols["nngp_kappa_rel_err"][i] = r[3], r[4], r[5]
            i += 1
    except FloatingPointError:
        status = "overflow"
        message = (f"the kernel overflowed float64 after depth {depths[i - 1] if i else 0} "
                   f"({activation}, sw2={st.sw2:g}, sb2={st.sb2:g}); deeper rows are NaN")
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    if singular and status == "ok":
        status = "singular"
        message = _singular_message(st)
    p_star = st.q_star / (1.0 - st.chi_1) if st.phase == "ordered" and st.chi_1 < 1 else math.nan
    prefactors = eng.chaotic_prefactors() if st.phase == "chaotic" else None
    kw = dict(chi_1=st.chi_1, q_star=st.q_star, sb2=st.sb2, dropout=st.dropout, architecture=st.architecture,
              positions=st.positions, prefactors=prefactors)
    if engines.ENGINES[st.architecture].fixed_point:
        theory = dict(kappa_theory=kappa_theory(activation, st.phase, m, depths, slope=st.slope, **kw),
                      kappa_limit=kappa_limit(activation, st.phase, m, depths, slope=st.slope, ordered_gap=gap, **kw),
                      nngp_kappa_theory=nngp_kappa_theory(st.phase, m, depths, q_star=st.q_star, c_star=st.c_star,
                                                          sb2=st.sb2, dropout=st.dropout),
                      lambda_max_theory=lambda_max_theory(activation, st.phase, m, depths, slope=st.slope, **kw))
    else:  # no fixed point: Table 1 does not apply
        theory = {c: np.full(n, np.nan) for c in ("kappa_theory", "kappa_limit", "nngp_kappa_theory",
                                                  "lambda_max_theory")}
    return Spectra(activation=activation, sw2=st.sw2, sb2=st.sb2, m=m, dim=dim, normalize=st.normalize,
                   dropout=st.dropout, phase=st.phase, q_star=st.q_star, c_star=st.c_star, chi_1=st.chi_1,
                   chi_c=st.chi_c, p_star=p_star, xi_1=st.xi_1, xi_star=st.xi_star, depth=depths.copy(),
                   resolved=resolved, nngp_resolved=nresolved, method=method, singular=singular,
                   duplicate_rows=st.duplicates, table_error=st.table_error, status=status, message=message,
                   architecture=st.architecture, **theory, **cols,
                   **engines.appended_columns(st.architecture, options, depths))


def _singular_message(st) -> str:
    a, b = st.duplicates[0]
    how = "identical or proportional" if st.normalize else "identical"
    how += engines.ENGINES[st.architecture].singular_hint
    if ACTIVATIONS[st.activation].odd and st.sb2 == 0.0:
        how += " (or opposite: an odd activation with sb2 = 0)"
    where = " after normalization" if st.normalize else ""
    more = f" ({len(st.duplicates)} such pairs)" if len(st.duplicates) > 1 else ""
    return (f"inputs {a + 1} and {b + 1} are {how}{where}{more}: the kernel is exactly singular, "
            "lambda_min = 0 and kappa = inf")


def spectra_sweep(activation, sw2, sb2, runs, depths, *, slope=mf.DEFAULT_SLOPE, normalize=True, q0=1.0,
                  dropout=None, image_shape=None, filter_size=3, scheduler=None, options=None) -> list:
    """``ntk_spectra`` at every (sw2, sb2), sw2 outer, planned before any work: one ``plans.Sweep`` per run.

    ``runs``: [(architecture, X, label, param), ...]: the inputs of each architecture, ``label`` naming them
    in a message about image rows and ``param`` the parameter that sets their number (memory refusals).
    Convolutional runs check their images once here and carry their entry-layers (``Sweep.works``); a run
    whose estimated memory or time is too large raises (``plans.check_fc_memory``, ``plans.cnn_works``)."""
    from phasecli.runtime import plans

    depths = V.depths(depths)
    points = [{"sw2": a, "sb2": b} for a in sw2 for b in sb2]
    cnn_runs = []  # every convolutional run of every architecture, estimated together (one refusal)
    for architecture, X, label, param in runs:
        if not engines.ENGINES[architecture].images:
            plans.check_fc_memory(X.shape[0], param)
        else:
            plans.check_images(image_shape, filter_size, [(label, X)], normalize=normalize)
            cnn_runs += [(architecture, X.shape[0], 0, depths, image_shape)] * len(points)
    per_run = iter(plans.cnn_works(activation, cnn_runs, scheduler) if cnn_runs else ())
    sweeps = []
    for architecture, X, label, param in runs:
        net, works = {"architecture": architecture}, None
        if engines.ENGINES[architecture].images:
            net = {"architecture": architecture, "image_shape": image_shape, "filter_size": filter_size}
            works = [next(per_run) for _ in points]
        if engines.options_for(architecture, options):
            net["options"] = engines.options_for(architecture, options)
        shared = dict(activation=activation, X=X, depths=depths, slope=slope, normalize=normalize, q0=q0,
                      dropout=dropout, **net)
        sweeps.append(plans.Sweep(ntk_spectra, points, shared, scheduler, works=works,
                                  meta={"architecture": architecture}))
    return sweeps
