"""The infinite-width network's test predictions (`phasecli generalize`): the NTK / NNGP mean predictor.

    mu(X_test)   = Theta_test,train  Theta_train,train^{-1} Y_train                 (t = inf)
    mu_t(X_test) = Theta_test,train  Theta^{-1} (I - exp(-eta Theta t)) Y_train     (time t)

(docs/theory.md, "mean predictor"; Xiao et al. Eq. 4-5.)  Targets are one-hot vectors minus
1/k.  ``ridge`` adds sigma * Id to Theta_train,train (also inside the exponential).
The kernels come from ``phasecli.ntk.kernel_pass``: the first pass factors
Theta_train,train at every depth, keeps only alpha = Theta^{-1} Y (m_train x k) and scores
the first batch of test rows; every further batch of ``batch_size`` test rows is one more
pass, so memory stays bounded by the batch.  Linear algebra: Cholesky (t = inf) or
the symmetric eigendecomposition (finite t), never an explicit inverse.  Never prints.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass

import numpy as np

from phasecli import defaults
from phasecli import meanfield as mf
from phasecli import ntk
from phasecli import validate as V
from phasecli.results import Rows
from phasecli.data import check_matrix, load_labelled  # noqa: F401  (part of the public API)

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

    prediction_scale = RMS(mu(X_test)) / RMS(Y_test): about 1 when the predictor carries
    the targets, -> 0 in the deep chaotic phase (the predictor collapses).  kappa is the
    condition number of the matrix that is solved (Theta or K, plus ridge).
    ill_conditioned: kappa > 1e10, the solve loses that many digits; add --ridge.
    status: 'ok', 'singular' (the factorization failed: metrics NaN) or why the point has
    no kernel.
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
    architecture: str = "fc"  # 'fc', 'cnn-f' or 'cnn-p'


def _labels(y, n, what):
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise V.InputError(f"{what} must hold one integer label per example ({n}), got shape {arr.shape}", what)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) \
                or np.any(np.abs(arr) >= 2.0 ** 53):
            raise V.InputError(f"{what} must be integer class labels", what)
    return arr.astype(np.int64)


def _validate(X_train, y_train, X_test, y_test):
    X_train = check_matrix(X_train, "X_train")
    X_test = check_matrix(X_test, "X_test")
    if X_train.shape[1] != X_test.shape[1]:
        raise V.InputError(f"train has {X_train.shape[1]} features but test has {X_test.shape[1]}", "X_test")
    y_train = _labels(y_train, X_train.shape[0], "y_train")
    y_test = _labels(y_test, X_test.shape[0], "y_test")
    classes = np.unique(y_train)
    if classes.size < 2:
        raise V.InputError(f"the training labels hold a single class ({classes[0]}): nothing to predict", "y_train")
    unseen = np.setdiff1d(np.unique(y_test), classes)
    if unseen.size:
        raise V.InputError(f"test labels {unseen.tolist()[:5]} never occur in the training set", "y_test")
    return X_train, y_train, X_test, y_test, classes


def _solve_state(theta, targets, ridge, t, eta):
    """alpha with mu = Theta_* alpha, plus kappa; raises LinAlgError when Theta is singular."""
    m = theta.shape[0]
    a = theta + ridge * np.eye(m) if ridge else theta
    if t is None:
        eig = np.linalg.eigvalsh(a)
        if eig[0] <= 0:
            raise np.linalg.LinAlgError("not positive definite")
        chol = np.linalg.cholesky(a)
        alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, targets))
        return alpha, eig[-1] / eig[0]
    eig, vecs = np.linalg.eigh(a)
    if eig[0] <= 0:
        raise np.linalg.LinAlgError("not positive definite")
    rate = eta if eta is not None else 2.0 / eig[-1]
    # (1 - exp(-rate lambda t)) / lambda, accurate for small rate lambda t
    filt = -np.expm1(-rate * eig * t) / eig
    alpha = vecs @ (filt[:, None] * (vecs.T @ targets))
    return alpha, eig[-1] / eig[0]


def ntk_generalization(activation, X_train, y_train, X_test, y_test, sw2, sb2, depths, *, slope=0.01,
                       normalize=True, q0=1.0, dropout=None, time=None, eta=None, ridge=0.0, nngp=False,
                       batch_size=defaults.BATCH_SIZE, keep_predictions=False, architecture="fc", image_shape=None,
                       filter_size=3) -> Generalization:
    """Test accuracy / MSE of the NTK (or NNGP) mean predictor at every depth, one (sw2, sb2).

    time=None is t = infinity; eta=None uses eta_max = 2/lambda_max of the solved matrix
    at each depth (sum-loss convention).  keep_predictions stores mu(X_test) per depth
    (memory m_test x k per depth).  architecture / image_shape / filter_size: the network
    (``ntk.kernel_pass``; 'cnn-f' / 'cnn-p' on images).  Raises InputError on bad input.
    """
    X_train, y_train, X_test, y_test, classes = _validate(X_train, y_train, X_test, y_test)
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
    kappa = np.full(n_depth, np.nan)
    train_acc = np.full(n_depth, np.nan)
    status = np.array(["ok"] * n_depth, dtype=object)
    point = mf.solve_phase(activation, [sw2], [sb2], q0=q0, slope=slope)
    meta = {"phase": str(point.phase[0, 0]), "xi_1": float(point.xi_1[0, 0]), "xi_star": float(point.xi_star[0, 0])}
    sq_err = np.zeros(n_depth)
    sq_pred = np.zeros(n_depth)
    correct = np.zeros(n_depth)
    timer = {"kernel": 0.0, "linalg": 0.0}

    kept = np.full((n_depth, X_test.shape[0], classes.size), np.nan) if keep_predictions else None

    def score(k, block, start, stop):
        pred = block @ alphas[k]
        if kept is not None:
            kept[k, start:stop] = pred
        diff = pred - test_targets[start:stop]
        sq_err[k] += np.sum(diff * diff)
        sq_pred[k] += np.sum(pred * pred)
        correct[k] += np.sum(classes[np.argmax(pred, axis=1)] == y_test[start:stop])

    # pass 1: the training solves and the first test batch together; then one pass per further batch
    batches = [(start, min(start + batch_size, X_test.shape[0])) for start in range(0, X_test.shape[0], batch_size)]
    try:
        for number, (start, stop) in enumerate(batches):
            t0 = _time.perf_counter()
            for k, layer in enumerate(ntk.kernel_pass(activation, X_train, sw2, sb2, depths,
                                                      X_test=X_test[start:stop], slope=slope, normalize=normalize,
                                                      q0=q0, dropout=dropout, scaled=True,
                                                      architecture=architecture, image_shape=image_shape,
                                                      filter_size=filter_size)):
                t1 = _time.perf_counter()
                timer["kernel"] += t1 - t0
                if number == 0:
                    matrix = layer[1] if nngp else layer[2]
                    # Theta blocks come divided by s = exp(log_scale) (no overflow in deep chaos):
                    # the predictor is scale-free once ridge and eta are expressed in those units
                    # (s = inf beyond the float64 range: ridge / s = 0 and eta s gives the t = inf filter)
                    with np.errstate(over="ignore"):
                        scale = 1.0 if nngp else float(np.exp(layer.log_scale))
                    try:
                        alphas[k], kappa[k] = _solve_state(matrix, targets, ridge / scale, time,
                                                           None if eta is None else eta * scale)
                        train_acc[k] = np.mean(classes[np.argmax(matrix @ alphas[k], axis=1)] == y_train)
                    except np.linalg.LinAlgError:
                        status[k] = "singular"
                if alphas[k] is not None:
                    score(k, layer[3] if nngp else layer[4], start, stop)
                t0 = _time.perf_counter()
                timer["linalg"] += t0 - t1
    except ntk.PointError as exc:
        status[:] = exc.status
        result = _empty(activation, sw2, sb2, nngp, depths, status, meta)
        result.architecture = architecture
        return result
    seconds_kernel, seconds_linalg = timer["kernel"], timer["linalg"]
    n_test, n_classes = test_targets.shape
    ok = status == "ok"
    target_rms = np.sqrt(np.mean(test_targets * test_targets))
    with np.errstate(invalid="ignore"):
        return Generalization(
            activation=activation, sw2=float(sw2), sb2=float(sb2), predictor="nngp" if nngp else "ntk",
            depth=depths, test_accuracy=np.where(ok, correct / n_test, np.nan),
            test_mse=np.where(ok, sq_err / (n_test * n_classes), np.nan), train_accuracy=train_acc,
            kappa=kappa, prediction_scale=np.where(ok, np.sqrt(sq_pred / (n_test * n_classes)) / target_rms, np.nan),
            ill_conditioned=np.where(ok, kappa > KAPPA_ILL, False), status=status, **meta,
            seconds_kernel=seconds_kernel, seconds_linalg=seconds_linalg,
            predictions=kept, architecture=architecture)


def _empty(activation, sw2, sb2, nngp, depths, status, meta):
    nan = np.full(depths.size, np.nan)
    return Generalization(activation=activation, sw2=float(sw2), sb2=float(sb2), predictor="nngp" if nngp else "ntk",
                          depth=depths, test_accuracy=nan, test_mse=nan.copy(), train_accuracy=nan.copy(),
                          kappa=nan.copy(), prediction_scale=nan.copy(), ill_conditioned=np.zeros(depths.size, bool),
                          status=status, **meta,
                          seconds_kernel=0.0, seconds_linalg=0.0)


def generalize_sweep(activation, sw2, sb2, X_train, y_train, X_test, y_test, depths, *, architectures=("fc",),
                     image_shape=None, filter_size=3, slope=0.01, normalize=True, q0=1.0, dropout=None, time=None,
                     eta=None, ridge=0.0, nngp=False, batch_size=defaults.BATCH_SIZE, scheduler=None,
                     labels=("X_train", "X_test")):
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
        plans.check_images(image_shape, filter_size, list(zip(labels, (X_train, X_test))))
        m, m_test = X_train.shape[0], X_test.shape[0]
        batches = [min(batch_size, m_test - start) for start in range(0, m_test, batch_size)] or [0]
        runs = [(p["architecture"], m, b, depths, image_shape) for p in points for b in batches
                if images[p["architecture"]]]
        per_run = iter(plans.cnn_works(activation, runs, scheduler))
        works = [0 if not images[p["architecture"]] else sum(next(per_run) for _ in batches) for p in points]
    shared = dict(activation=activation, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                  depths=depths, slope=slope, normalize=normalize, q0=q0, dropout=dropout, time=time, eta=eta,
                  ridge=ridge, nngp=nngp, batch_size=batch_size, **net)
    return plans.Sweep(ntk_generalization, points, shared, scheduler, works=works)
