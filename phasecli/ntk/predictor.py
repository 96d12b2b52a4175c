"""The infinite-width network's test predictions (`phasecli generalize`): the NTK / NNGP mean predictor,
the ensemble of trained networks and the residual predictor.

    mu(X_test)   = Theta_test,train  Theta_train,train^{-1} Y_train                 (t = inf)
    mu_t(X_test) = Theta_test,train  Theta^{-1} (I - exp(-eta Theta t)) Y_train     (time t)

(docs/theory.md section 7; Xiao et al. Eq. 4-5, 9-10.)  Targets are one-hot vectors minus
1/k.  ``ridge`` adds sigma * Id to Theta_train,train (also inside the exponential).
The kernels come from ``phasecli.ntk.kernel_pass``: the first pass factors
Theta_train,train at every depth, keeps only alpha = Theta^{-1} Y (m_train x k) and scores
the first batch of test rows; every further batch of ``batch_size`` test rows is one more
pass, which factors the train block again for the ensemble's variance, so memory stays
bounded by one depth and the batch.  Linear algebra: Cholesky (t = inf) or
the symmetric eigendecomposition (finite t), never an explicit inverse.  Never prints.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass

import numpy as np

from phasecli import defaults
from phasecli import meanfield as mf
from phasecli import ntk
from phasecli.ntk import engines
from phasecli import validate as V
from phasecli.ntk.asymptotics import predictor_limit_weight
from phasecli.results import Rows
from phasecli.runtime.blas import one_thread
from phasecli.data import (check_labels, check_matrix, class_balance, class_index,  # noqa: F401  (public API)
                           load_labelled)

KAPPA_ILL = 1e10


def encode_targets(y, classes) -> np.ndarray:
    """One-hot rows minus 1/k (zero mean per example), columns in the order of ``classes``."""
    classes = np.asarray(classes)
    k = classes.size
    index = {c: j for j, c in enumerate(classes.tolist())}
    out = np.full((len(y), k), -1.0 / k)
    for i, label in enumerate(np.asarray(y).tolist()):
        j = index.get(label)
        if j is not None:
            out[i, j] += 1.0
    return out


@dataclass
class Generalization(Rows):
    """Test metrics of the infinite-width predictor at each depth of one (sw2, sb2) point.

    test_accuracy: the accuracy of argmax mu (the mean predictor).  prediction_scale =
    RMS(mu(X_test)) / RMS(Y_test): about 1 when the predictor carries the targets, -> 0 in
    the deep chaotic phase.  ensemble_accuracy / ensemble_std: the expected test accuracy and
    the output standard deviation of one network of the trained ensemble (its random initial
    function included; docs/theory.md section 7).  delta: the residual predictor
    RMS((P(Theta) - P(Theta*)) Y) / RMS(Y_train) at t = inf.  kappa is the condition number of
    the matrix that is solved (Theta or K, plus ridge).  ill_conditioned: kappa > 1e10, the
    solve loses that many digits; add --ridge.  status: 'ok', 'singular' (the factorization
    failed: metrics NaN) or why the point has no kernel.
    """

    activation: str
    sw2: float
    sb2: float
    predictor: str
    depth: np.ndarray
    test_accuracy: np.ndarray
    test_mse: np.ndarray
    train_accuracy: np.ndarray
    kappa: np.ndarray
    prediction_scale: np.ndarray
    ill_conditioned: np.ndarray
    status: np.ndarray
    phase: str
    xi_1: float
    xi_star: float
    seconds_kernel: float
    seconds_linalg: float
    predictions: np.ndarray | None = None  # (n_depths, m_test, k) when asked for
    architecture: str = "fc"  # 'fc', 'cnn-f', 'cnn-p' or 'resnet'
    residual_scale: np.ndarray | float = math.nan  # resnet: alpha at each depth (NaN for other architectures)
    layer_norm: str = ""  # resnet: 'none' or 'pre' (empty for other architectures)
    ensemble_accuracy: np.ndarray | None = None
    ensemble_std: np.ndarray | None = None
    delta: np.ndarray | None = None
    class_counts: np.ndarray | None = None  # training rows per class, in the order of the sorted labels

    @property
    def train_class_ratio(self) -> float:
        """Largest over smallest class count of the training labels (1 for balanced labels)."""
        return float(self.class_counts.max() / self.class_counts.min())


def _validate(X_train, y_train, X_test, y_test):
    X_train = check_matrix(X_train, "X_train")
    X_test = check_matrix(X_test, "X_test")
    if X_train.shape[1] != X_test.shape[1]:
        raise V.InputError(f"train has {X_train.shape[1]} features but test has {X_test.shape[1]}", "X_test")
    y_train = check_labels(y_train, X_train.shape[0], "y_train")
    classes = np.unique(y_train)
    if classes.size < 2:
        raise V.InputError(f"the training labels hold a single class ({classes[0]}): nothing to predict", "y_train")
    label_index = class_index(y_test, X_test.shape[0], classes, "y_test")
    return X_train, y_train, X_test, classes[label_index], classes, label_index


class _Solver:
    """The solved matrix A = Theta (or K) + ridge Id of one depth; raises LinAlgError when A is not positive
    definite.  ``filtered(B)`` = A^{-1} (I - exp(-rate A t)) B (A^{-1} B at t = inf), ``twice`` with 2 t
    (the NNGP ensemble's covariance), ``inverse(B)`` = A^{-1} B.  Cholesky at t = inf, the symmetric
    eigendecomposition at finite t; never an explicit inverse."""

    def __init__(self, matrix, ridge, t, eta):
        m = matrix.shape[0]
        a = matrix + ridge * np.eye(m) if ridge else matrix
        self.t = t
        if t is None:
            eig = np.linalg.eigvalsh(a)
            if eig[0] <= 0:
                raise np.linalg.LinAlgError("not positive definite")
            from scipy.linalg import cho_factor

            self.chol = cho_factor(a, lower=True, check_finite=False)
        else:
            eig, self.vecs = np.linalg.eigh(a)
            if eig[0] <= 0:
                raise np.linalg.LinAlgError("not positive definite")
            self.eig = eig
            self.rate = eta if eta is not None else 2.0 / eig[-1]
        self.kappa = eig[-1] / eig[0]

    def _eigen(self, rhs, filt):
        return self.vecs @ (filt[:, None] * (self.vecs.T @ rhs))

    def inverse(self, rhs):
        if self.t is None:
            from scipy.linalg import cho_solve

            return cho_solve(self.chol, rhs, check_finite=False)
        return self._eigen(rhs, 1.0 / self.eig)

    def filtered(self, rhs, times=1.0):
        if self.t is None:
            return self.inverse(rhs)
        # (1 - exp(-rate lambda t)) / lambda, accurate for small rate lambda t
        return self._eigen(rhs, -np.expm1(-self.rate * self.eig * (times * self.t)) / self.eig)

    def twice(self, rhs):
        return self.filtered(rhs, 2.0)


# the ensemble's argmax probability: composite Gauss-Legendre on [-Z_MAX, Z_MAX] (outside, the standard
# normal's mass is 2 Phi(-10) = 1.5e-23); panels of width 1 with 12 nodes resolve the integrand's unit scale
# (1.4e-15 from adaptive quadrature over 300 random cases of 2-100 classes; 24 x 8 nodes gave 7e-12)
Z_MAX = 10.0
_PANELS, _NODES = 20, 12


def argmax_probability(mean, label_index, std):
    """P(argmax_j (mean_j + std z_j) = label) for independent standard normal z_j, per row:
    int phi(z) prod_{j != label} Phi((mean_label - mean_j) / std + z) dz (exact quadrature, docs/theory.md
    "ensemble of trained networks").  ``mean`` (n, k), ``label_index`` (n,), ``std`` (n,) >= 0."""
    from scipy.special import log_ndtr

    n, k = mean.shape
    x, w = np.polynomial.legendre.leggauss(_NODES)
    half = Z_MAX / _PANELS
    centres = -Z_MAX + half * (2 * np.arange(_PANELS) + 1)
    z = (centres[:, None] + half * x[None, :]).ravel()
    weights = (half * w[None, :] * np.ones((_PANELS, 1))).ravel() * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    rows = np.arange(n)
    gap = mean[rows, label_index][:, None] - mean  # (n, k), 0 at the label
    with np.errstate(divide="ignore", invalid="ignore"):
        # std = 0: the draw is the mean, so a class above the label's mean wins and a tie counts as Phi(z)
        scaled = np.where(std[:, None] > 0, gap / std[:, None], np.where(gap == 0, 0.0, np.sign(gap) * np.inf))
    scaled[rows, label_index] = np.inf  # log Phi(inf) = 0: the label's own factor
    out = np.empty(n)
    for start in range(0, n, 256):  # (rows, classes, nodes) in blocks: bounded memory
        block = scaled[start:start + 256]
        log_prod = log_ndtr(block[:, :, None] + z[None, None, :]).sum(axis=1)
        out[start:start + 256] = np.exp(log_prod) @ weights
    return np.clip(out, 0.0, 1.0)


@one_thread
def ntk_generalization(activation, X_train, y_train, X_test, y_test, sw2, sb2, depths, *, slope=0.01,
                       normalize=True, q0=1.0, dropout=None, time=None, eta=None, ridge=0.0, nngp=False,
                       batch_size=defaults.BATCH_SIZE, keep_predictions=False, architecture="fc", image_shape=None,
                       filter_size=3, options=None) -> Generalization:
    """Test accuracy / MSE of the NTK (or NNGP) mean predictor at every depth, one (sw2, sb2).

    time=None is t = infinity; eta=None uses eta_max = 2/lambda_max of the solved matrix
    at each depth (sum-loss convention).  keep_predictions stores mu(X_test) per depth
    (memory m_test x k per depth).  architecture / image_shape / filter_size: the network
    (``ntk.kernel_pass``; 'cnn-f' / 'cnn-p' on images); ``options``: the architecture's own (resnet:
    residual_scale, layer_norm; those of other architectures are dropped).  Without a fixed point (resnet) the
    phase is empty and delta (relative to the deep fixed-point predictor) NaN.  Raises InputError on bad input.
    """
    if architecture not in engines.ENGINES:
        engines.engine_module(architecture)  # the InputError naming the choices
    options = engines.options_for(architecture, options)
    fixed_point = engines.ENGINES[architecture].fixed_point
    X_train, y_train, X_test, y_test, classes, label_index = _validate(X_train, y_train, X_test, y_test)
    time = None if time is None else V.number("time", time, lo=0.0)
    eta = None if eta is None else V.number("eta", eta, lo=0.0, lo_open=True)
    if eta is not None and time is None:
        raise V.InputError("eta is the learning rate of finite-time training and needs a time", "eta")
    ridge = V.number("ridge", ridge, lo=0.0)
    batch_size = V.integer("batch_size", batch_size, lo=1)
    depths = V.depths(depths)
    targets = encode_targets(y_train, classes)
    test_targets = encode_targets(y_test, classes)
    n_depth = depths.size
    alphas = [None] * n_depth
    alphas_inf = [None] * n_depth  # Theta^{-1} Y at t = inf (the residual predictor's P(Theta))
    kappa = np.full(n_depth, np.nan)
    train_acc = np.full(n_depth, np.nan)
    status = np.array(["ok"] * n_depth, dtype=object)
    counts = class_balance(y_train)[1]  # per class, in the order of ``classes``
    appended = engines.appended_columns(architecture, options, depths)
    if fixed_point:
        point = mf.solve_phase(activation, [sw2], [sb2], q0=q0, slope=slope)
        meta = {"phase": str(point.phase[0, 0]), "xi_1": float(point.xi_1[0, 0]),
                "xi_star": float(point.xi_star[0, 0])}
        positions = 1 if image_shape is None else int(image_shape[0]) * int(image_shape[1])
        limit_weight = predictor_limit_weight(
            activation, meta["phase"], X_train.shape[0], q_star=float(point.q_star[0, 0]),
            c_star=float(point.c_star[0, 0]), chi_1=float(point.chi_1[0, 0]), sb2=float(sb2), ridge=ridge,
            dropout=dropout, nngp=nngp, normalize=normalize, slope=slope, architecture=architecture,
            positions=positions)
    else:  # no fixed point, no deep-limit predictor
        meta = {"phase": "", "xi_1": math.nan, "xi_star": math.nan}
        limit_weight = math.nan
    limit_prediction = limit_weight * targets.sum(axis=0)  # P(Theta*) Y_train: the same row for every test input
    sq_err = np.zeros(n_depth)
    sq_pred = np.zeros(n_depth)
    sq_delta = np.zeros(n_depth)
    sum_var = np.zeros(n_depth)
    correct = np.zeros(n_depth)
    ens_correct = np.zeros(n_depth)
    timer = {"kernel": 0.0, "linalg": 0.0}

    kept = np.full((n_depth, X_test.shape[0], classes.size), np.nan) if keep_predictions else None

    def score(k, layer, solver, start, stop):
        block = layer[3] if nngp else layer[4]
        pred = block @ alphas[k]
        if kept is not None:
            kept[k, start:stop] = pred
        diff = pred - test_targets[start:stop]
        sq_err[k] += np.sum(diff * diff)
        sq_pred[k] += np.sum(pred * pred)
        correct[k] += np.sum(classes[np.argmax(pred, axis=1)] == y_test[start:stop])
        residual = (pred if alphas_inf[k] is alphas[k] else block @ alphas_inf[k]) - limit_prediction
        sq_delta[k] += np.sum(residual * residual)
        var = ensemble_variance(solver, layer, nngp)
        sum_var[k] += np.sum(var)
        ens_correct[k] += np.sum(argmax_probability(pred, label_index[start:stop], np.sqrt(var)))

    # pass 1: the training solves and the first test batch together; then one pass per further batch
    batches = [(start, min(start + batch_size, X_test.shape[0])) for start in range(0, X_test.shape[0], batch_size)]
    try:
        for number, (start, stop) in enumerate(batches):
            t0 = _time.perf_counter()
            for k, layer in enumerate(ntk.kernel_pass(activation, X_train, sw2, sb2, depths,
                                                      X_test=X_test[start:stop], slope=slope, normalize=normalize,
                                                      q0=q0, dropout=dropout, scaled=True,
                                                      architecture=architecture, image_shape=image_shape,
                                                      filter_size=filter_size, options=options)):
                t1 = _time.perf_counter()
                timer["kernel"] += t1 - t0
                matrix = layer[1] if nngp else layer[2]
                # Theta blocks come divided by s = exp(log_scale) (no overflow in deep chaos):
                # the predictor is scale-free once ridge and eta are expressed in those units
                # (s = inf beyond the float64 range: ridge / s = 0 and eta s gives the t = inf filter)
                with np.errstate(over="ignore"):
                    scale = 1.0 if nngp else float(np.exp(layer.log_scale))
                solver = None
                if number == 0:
                    try:
                        solver = _Solver(matrix, ridge / scale, time, None if eta is None else eta * scale)
                        alphas[k], kappa[k] = solver.filtered(targets), solver.kappa
                        alphas_inf[k] = alphas[k] if time is None else solver.inverse(targets)
                        train_acc[k] = np.mean(classes[np.argmax(matrix @ alphas[k], axis=1)] == y_train)
                    except np.linalg.LinAlgError:
                        status[k] = "singular"
                elif alphas[k] is not None:
                    # a further test batch: the same factorization again (deterministic), so that no m x m
                    # matrix is kept per depth between passes (memory stays that of one depth)
                    solver = _Solver(matrix, ridge / scale, time, None if eta is None else eta * scale)
                if alphas[k] is not None:
                    score(k, layer, solver, start, stop)
                t0 = _time.perf_counter()
                timer["linalg"] += t0 - t1
    except ntk.PointError as exc:
        status[:] = exc.status
        result = _empty(activation, sw2, sb2, nngp, depths, status, meta, counts)
        result.architecture = architecture
        for name, value in appended.items():
            setattr(result, name, value)
        return result
    seconds_kernel, seconds_linalg = timer["kernel"], timer["linalg"]
    n_test, n_classes = test_targets.shape
    ok = status == "ok"
    target_rms = np.sqrt(np.mean(test_targets * test_targets))
    train_rms = np.sqrt(np.mean(targets * targets))
    with np.errstate(invalid="ignore"):
        return Generalization(
            activation=activation, sw2=float(sw2), sb2=float(sb2), predictor="nngp" if nngp else "ntk",
            depth=depths, test_accuracy=np.where(ok, correct / n_test, np.nan),
            test_mse=np.where(ok, sq_err / (n_test * n_classes), np.nan), train_accuracy=train_acc,
            kappa=kappa, prediction_scale=np.where(ok, np.sqrt(sq_pred / (n_test * n_classes)) / target_rms, np.nan),
            ill_conditioned=np.where(ok, kappa > KAPPA_ILL, False), status=status, **meta,
            seconds_kernel=seconds_kernel, seconds_linalg=seconds_linalg,
            predictions=kept, architecture=architecture,
            ensemble_accuracy=np.where(ok, ens_correct / n_test, np.nan),
            ensemble_std=np.where(ok, np.sqrt(sum_var / n_test), np.nan),
            delta=np.where(ok, np.sqrt(sq_delta / (n_test * n_classes)) / train_rms, np.nan),
            class_counts=counts, **appended)


def ensemble_variance(solver, layer, nngp):
    """Sigma_t(x, x) of the test rows of ``layer``: the output variance over the ensemble of infinite-width
    networks trained from random initialization (docs/theory.md, "ensemble of trained networks"):

        NTK:  K(x, x) + t1^T K t1 - 2 t1^T K_X,x,   t1 = Theta^{-1} (I - exp(-eta Theta t)) Theta_X,x
        NNGP: K(x, x) - K_x,X K^{-1} (I - exp(-2 eta K t)) K_X,x

    (neural-tangents' ``gradient_descent_mse_ensemble(..., compute_cov=True)``).  The Theta blocks may come
    divided by a common scale: t1 does not depend on it.  Rounding can make a variance slightly negative
    where it is 0 (a test row equal to a train row at t = inf): clipped at 0."""
    k_tx = layer[3].T  # (m, b)
    if nngp:
        var = layer.k_test_diag - np.einsum("ij,ij->j", k_tx, solver.twice(k_tx))
    else:
        t1 = solver.filtered(layer[4].T)
        var = layer.k_test_diag + np.einsum("ij,ij->j", t1, layer[1] @ t1) - 2.0 * np.einsum("ij,ij->j", t1, k_tx)
    return np.maximum(var, 0.0)


def _empty(activation, sw2, sb2, nngp, depths, status, meta, counts):
    nan = np.full(depths.size, np.nan)
    return Generalization(activation=activation, sw2=float(sw2), sb2=float(sb2), predictor="nngp" if nngp else "ntk",
                          depth=depths, test_accuracy=nan, test_mse=nan.copy(), train_accuracy=nan.copy(),
                          kappa=nan.copy(), prediction_scale=nan.copy(), ill_conditioned=np.zeros(depths.size, bool),
                          status=status, **meta,
                          seconds_kernel=0.0, seconds_linalg=0.0, ensemble_accuracy=nan.copy(),
                          ensemble_std=nan.copy(), delta=nan.copy(), class_counts=counts)


def generalize_sweep(activation, sw2, sb2, X_train, y_train, X_test, y_test, depths, *, architectures=("fc",),
                     image_shape=None, filter_size=3, slope=0.01, normalize=True, q0=1.0, dropout=None, time=None,
                     eta=None, ridge=0.0, nngp=False, batch_size=defaults.BATCH_SIZE, scheduler=None,
                     labels=("X_train", "X_test"), options=None):
    """``ntk_generalization`` at every (architecture, sw2, sb2) (architecture outer, sw2, sb2 inner), planned
    before any work: a ``plans.Sweep``.  Convolutional points check their images once here and carry their
    entry-layers over the test batches (``Sweep.works``); a run whose estimated memory or time is too large
    raises ``plans.BudgetError``; ``labels`` name the train and test rows in a message about their images."""
    from phasecli.runtime import plans

    depths = V.depths(depths)
    points = [{"sw2": a, "sb2": b, "architecture": arch} for arch in architectures for a in sw2 for b in sb2]
    from phasecli.ntk.engines import ENGINES

    images = {a: ENGINES[a].images for a in architectures}
    cnn = any(images.values())
    net = {"image_shape": image_shape, "filter_size": filter_size} if cnn else {}
    works = None
    if cnn:
        plans.check_images(image_shape, filter_size, list(zip(labels, (X_train, X_test))), normalize=normalize)
        m, m_test = X_train.shape[0], X_test.shape[0]
        batches = [min(batch_size, m_test - start) for start in range(0, m_test, batch_size)] or [0]
        runs = [(p["architecture"], m, b, depths, image_shape) for p in points for b in batches
                if images[p["architecture"]]]
        per_run = iter(plans.cnn_works(activation, runs, scheduler))
        works = [0 if not images[p["architecture"]] else sum(next(per_run) for _ in batches) for p in points]
    shared = dict(activation=activation, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                  depths=depths, slope=slope, normalize=normalize, q0=q0, dropout=dropout, time=time, eta=eta,
                  ridge=ridge, nngp=nngp, batch_size=batch_size, **net)
    if options:
        shared["options"] = dict(options)
    return plans.Sweep(ntk_generalization, points, shared, scheduler, works=works)
