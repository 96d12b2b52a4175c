"""Full-batch gradient descent on finite networks at multiples of eta_max (numeric core of ``phasecli train``).

docs/theory.md section 13 (and section 6, "Learning rates and the catapult") (Bahri's lecture; Xiao et al., Figure 2 top).  S networks of
hidden width N and depth L in the NTK parameterization (``phasecli.finite.network``: every
W and b, the readout included, drawn N(0, 1), float64) are trained on the loss

    loss = 1/2 sum_{a, j} (f_j(x_a) - Y_aj)^2          (sum over examples and outputs)

by theta <- theta - eta grad loss, with eta = lr_factor * eta_max and eta_max = 2 / lambda_max
of the INFINITE-width NTK on the training inputs (``phasecli.ntk.ntk_spectra``, exactly
what ``phasecli lr`` prints for the sum loss; with ``normalize`` the rows are first scaled
so that q^1 = q*, and the networks see the same scaled rows).  Targets: one-hot minus 1/k
for k distinct labels (k outputs), or 0 with one output for unlabelled inputs.

The same S networks (``network.draw`` with ``seed``) start every lr_factor.  Per
lr_factor (``train_at``, one independent task of a sweep):

- diverged_fraction: fraction of networks whose loss became non-finite or exceeded 1e6 times
  its initial value at some step t <= T (such a network is no longer updated);
- final_loss: median over all S of the loss after T steps (diverged: inf);
- peak_loss_ratio: median over all S of max_{t <= T} loss_t / loss_0 (>= 1);
- lambda_max_init / lambda_max_final: medians over the non-diverged networks of the largest
  eigenvalue of the empirical NTK J J^T, the full (m k) x (m k) matrix over all outputs, at
  t = 0 and t = T; kernel_drift: median of ||Theta_T - Theta_0||_F / ||Theta_0||_F over
  the same networks; eta_lambda_init = eta * lambda_max_init.  When every network diverged,
  lambda_max_init is the median over all S (the initial kernel does not depend on what
  training does later, so it is never NaN); lambda_max_final and kernel_drift are NaN;
- regime: ``divergent`` when more than half the networks diverged, else ``catapult`` when
  the median peak_loss_ratio exceeds 1, else ``lazy``;
- activation, sw2, sb2, depth, width: the networks' point (appended columns);
- architecture (fc or resnet), residual_scale (the blocks' alpha; NaN for fc), layer_norm (none or pre;
  empty for fc): appended last.  A resnet (docs/theory.md section 17) has a dense first layer, ``depth``
  residual blocks and a readout, LayerNorm before each activation with layer_norm = pre; its eta_max
  comes from the infinite-width resnet NTK (``ntk_spectra(..., architecture='resnet')``), and with
  ``normalize`` its rows are scaled to a first-layer variance q0 (a resnet has no q*);
- lambda_max_empirical: median over ALL S networks of the largest eigenvalue of their NTK at
  t = 0 (the same value in every row of a point: the same networks start every lr_factor),
  beside the infinite-width ``lambda_max_inf`` that sets eta_max; eta_empirical_factor =
  eta * lambda_max_empirical / 2, the learning rate as a multiple of the finite networks' own
  bound 2 / lambda_max_empirical;
- test_accuracy, test_accuracy_se (with a test set): the fraction of test rows whose argmax
  output is the index of their label among the training classes, for each network after T
  steps; the mean over the non-diverged networks and its standard error std / sqrt(n) (sample
  std, ddof 1; NaN with one network).  train_accuracy: the same mean on the training rows
  (labelled training data).  NaN where every network diverged, or without labels / test set;
- status: ``ok``, or ``all networks diverged`` (lambda_max_final, kernel_drift and the
  accuracies then have no value).

The test rows get the training rows' treatment (with ``normalize``, each is scaled so that
q^1 = q*); they must have the training rows' feature count and only labels seen in training.

Size: each network's NTK is formed exactly (two (m k)^2 matrices at a time); m k is limited
to MAX_OUTPUT_ROWS, beyond which ``prepare`` refuses (InputError naming the limit).
lambda_max is a dense symmetric eigensolve up to LANCZOS_ABOVE rows and Lanczos (ARPACK,
converged to machine precision) above.  Nothing here prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from phasecli import validate as V
from phasecli.errors import InputError, RuntimeFailure
from phasecli.runtime.blas import single_threaded as single_threaded_blas
from phasecli.results import Rows

MAX_OUTPUT_ROWS = 4000  # m k: the (m k)^2 empirical NTK is formed exactly, per network
LANCZOS_ABOVE = 800
MAX_STEPS = 1_000_000
DIVERGENCE_FACTOR = 1e6
MAX_WEIGHT_BYTES = 4 * 2**30
REGIMES = ("lazy", "catapult", "divergent")


@dataclass(frozen=True)
class TrainSetup:
    """Everything every lr_factor shares, validated once by ``prepare`` (picklable, for a cluster)."""

    activation: str
    sw2: float
    sb2: float
    slope: float
    depth: int
    width: int
    samples: int
    seed: int
    n_steps: int
    normalize: bool
    X: np.ndarray = field(repr=False)  # the rows the networks are trained on (scaled when normalize)
    Y: np.ndarray = field(repr=False)  # targets, (m, k)
    classes: tuple | None
    lambda_max_inf: float  # largest eigenvalue of the infinite-width NTK on X
    eta_max: float  # 2 / lambda_max_inf
    X_test: np.ndarray | None = field(default=None, repr=False)  # test rows (scaled like X), or None
    test_index: np.ndarray | None = field(default=None, repr=False)  # each test row's class index in ``classes``
    train_index: np.ndarray | None = field(default=None, repr=False)  # each training row's class index
    architecture: str = "fc"  # or "resnet" (docs/theory.md section 17)
    residual_scale: float = math.nan  # resnet: the alpha of the blocks (a number); NaN for fc
    layer_norm: str = ""  # resnet: "none" or "pre"; empty for fc

    @property
    def m_test(self) -> int:
        return 0 if self.X_test is None else int(self.X_test.shape[0])

    @property
    def m(self) -> int:
        return int(self.X.shape[0])

    @property
    def outputs(self) -> int:
        return int(self.Y.shape[1])


@dataclass
class TrainRun(Rows):
    """One lr_factor: the summary columns (module docstring) and the per-network data behind them."""

    lr_factor: float
    eta: float
    diverged: float
    final_loss: float
    peak_loss_ratio: float
    lambda_max_init: float
    lambda_max_final: float
    kernel_drift: float
    eta_lambda_init: float
    regime: str
    losses: np.ndarray = field(repr=False)  # (T + 1, S): loss_t of each network, inf from its divergence on
    net_diverged: np.ndarray = field(repr=False)  # (S,) bool
    net_lambda_init: np.ndarray = field(repr=False)  # (S,), every network (its kernel at t = 0)
    net_lambda_final: np.ndarray = field(repr=False)
    net_drift: np.ndarray = field(repr=False)
    activation: str = ""  # the point the networks were drawn at (from the setup)
    sw2: float = math.nan
    sb2: float = math.nan
    depth: int = 0
    width: int = 0
    lambda_max_empirical: float = math.nan  # median over all S of lambda_max of the NTK at t = 0
    eta_empirical_factor: float = math.nan  # eta * lambda_max_empirical / 2
    test_accuracy: float = math.nan  # mean over the non-diverged networks
    test_accuracy_se: float = math.nan  # std (ddof 1) / sqrt(n) over the same networks
    train_accuracy: float = math.nan
    status: str = "ok"
    lambda_max_inf: float = math.nan  # the infinite-width NTK's (eta_max = 2 / lambda_max_inf)
    net_test_accuracy: np.ndarray | None = field(default=None, repr=False)  # (S,), NaN where diverged
    net_train_accuracy: np.ndarray | None = field(default=None, repr=False)
    architecture: str = "fc"
    residual_scale: float = math.nan
    layer_norm: str = ""

    @property
    def diverged_fraction(self) -> float:
        """The column name of ``diverged`` (a fraction of the S networks, not a flag)."""
        return self.diverged

    @property
    def median_curve(self) -> np.ndarray:
        """Median over the networks of loss_t, t = 0 .. T (diverged networks count as inf)."""
        return np.median(self.losses, axis=1)

    def row_count(self) -> int:
        return 1


def normalized_rows(X, sw2, sb2, q_star) -> np.ndarray:
    """Rows scaled so that q^1 = sw2 |x|^2 / d + sb2 equals q* (the scaling of ``ntk`` with normalize=True)."""
    from phasecli.ntk.engines import scale_rows_to_q_star

    return scale_rows_to_q_star(X, q_star, sw2, sb2, "X")


def prepare(activation, X, y=None, *, sw2, sb2, depth=1, width=512, samples=5, seed=0, n_steps=300,
            normalize=True, q0=1.0, slope=0.01, X_test=None, y_test=None, architecture="fc", residual_scale=1.0,
            layer_norm="none") -> TrainSetup:
    """Validate the training problem once and compute eta_max (the infinite-width NTK's 2 / lambda_max).

    ``X_test``, ``y_test``: an optional labelled test set (needs labelled training data ``y``; the
    same feature count; only labels that occur in ``y``), scored after training.  ``architecture='resnet'``
    (``residual_scale`` a number >= 0 or 'depth', ``layer_norm`` 'none' or 'pre'): residual networks of
    ``depth`` blocks, eta_max from the infinite-width resnet NTK, rows scaled to a first-layer variance q0
    with ``normalize`` (there is no q*; docs/theory.md section 17)."""
    from phasecli import ntk
    from phasecli.data import check_matrix, class_index
    from phasecli.finite.network import check_architecture
    from phasecli.ntk.predictor import encode_targets

    V.activation(activation)
    sw2, sb2 = V.variance("sw2", sw2), V.variance("sb2", sb2)
    slope, q0 = V.slope(slope), V.q0(q0)
    depth = V.integer("depth", depth, lo=1, hi=1000)
    width = V.integer("width", width, lo=1, hi=1_000_000)
    samples = V.integer("samples", samples, lo=1, hi=100_000)
    seed = V.integer("seed", seed, lo=0)
    n_steps = V.integer("steps", n_steps, lo=0, hi=MAX_STEPS)
    architecture, alpha, layer_norm = check_architecture(architecture, residual_scale, layer_norm, depth, width)
    resnet = architecture == "resnet"
    X = check_matrix(X, "X")
    m = X.shape[0]
    if m < 2:
        raise InputError(f"need at least 2 training inputs, got {m}", "X")
    if y is None:
        classes, Y = None, np.zeros((m, 1))
    else:
        y = np.asarray(y)
        if y.shape != (m,):
            raise InputError(f"y must hold one label per row of X ({m}), got shape {y.shape}", "y")
        uniq = np.unique(y)
        if uniq.size < 2:
            raise InputError(f"the training labels hold a single class ({uniq[0]}): nothing to fit", "y")
        classes, Y = tuple(uniq.tolist()), encode_targets(y, uniq)
    test_index = None
    if (X_test is None) != (y_test is None):
        raise InputError("a test set needs both its inputs X_test and its labels y_test", "y_test")
    if X_test is not None:
        if y is None:
            raise InputError("a test set needs labelled training data (y): its labels name the outputs", "X_test")
        X_test = check_matrix(X_test, "X_test")
        if X_test.shape[1] != X.shape[1]:
            raise InputError(f"the test set has {X_test.shape[1]} features but the training set has {X.shape[1]}",
                             "X_test")
        test_index = class_index(y_test, X_test.shape[0], uniq, "y_test")
    rows = m * Y.shape[1]
    if rows > MAX_OUTPUT_ROWS:
        raise InputError(f"m k = {m} examples x {Y.shape[1]} outputs = {rows:,} exceeds the limit of "
                         f"{MAX_OUTPUT_ROWS:,} rows of the exact empirical NTK: use fewer examples (--examples N)", "X")
    blocks = depth if resnet else depth - 1
    per_net = X.shape[1] * width + width + blocks * (width + 1) * width + (width + 1) * Y.shape[1]
    if 2 * 8 * samples * per_net > MAX_WEIGHT_BYTES:  # the networks and a copy of their start
        raise InputError(f"{samples} networks of {per_net:,} parameters (and a copy of their start) need "
                         f"{16 * samples * per_net / 2**30:.1f} GiB, more than {MAX_WEIGHT_BYTES / 2**30:.0f} GiB: "
                         "use fewer samples or a smaller width", "samples")
    net = {"architecture": "resnet", "options": {"residual_scale": residual_scale, "layer_norm": layer_norm}} \
        if resnet else {}
    spectra = ntk.ntk_spectra(activation, X, sw2, sb2, [depth], slope=slope, normalize=normalize, q0=q0, **net)
    lam = float(spectra.lambda_max[0])
    if spectra.status not in ("ok", "singular") or not (math.isfinite(lam) and lam > 0):
        why = spectra.message if spectra.status not in ("ok", "singular") and spectra.message else \
            f"its lambda_max is {lam:g}, not a finite positive number"
        param = "normalize" if "normalize" in why else "sw2"
        if resnet and ("overflow" in why or not math.isfinite(lam)) and alpha > 1.0:
            param = "residual_scale"
        raise InputError(f"no infinite-width NTK at this point: {why}", param)
    target = q0 if resnet else spectra.q_star  # a resnet's rows are scaled to a first-layer variance q0
    Xt = normalized_rows(X, sw2, sb2, target) if normalize else X
    if X_test is not None:
        X_test = _test_rows(X_test, sw2, sb2, target, normalize)
    return TrainSetup(activation=activation, sw2=sw2, sb2=sb2, slope=slope, depth=depth, width=width,
                      samples=samples, seed=seed, n_steps=n_steps, normalize=bool(normalize), X=Xt, Y=Y,
                      classes=classes, lambda_max_inf=lam, eta_max=2.0 / lam, X_test=X_test, test_index=test_index,
                      train_index=None if y is None else np.searchsorted(uniq, y), architecture=architecture,
                      residual_scale=alpha if resnet else math.nan, layer_norm=layer_norm if resnet else "")


def _test_rows(X_test, sw2, sb2, q_star, normalize) -> np.ndarray:
    """The test rows treated as the training rows: scaled so q^1 = q* (normalize), else checked to have a
    finite q^1 (errors name X_test)."""
    from phasecli.ntk.engines import check_first_layer, scale_rows_to_q_star

    if normalize:
        return scale_rows_to_q_star(X_test, q_star, sw2, sb2, "X_test")
    check_first_layer(X_test, sw2, sb2, "X_test")
    return X_test


def draw_networks(setup: TrainSetup):
    """The S networks every lr_factor starts from (the same draw each time)."""
    from phasecli.finite import network

    net = {"architecture": "resnet", "residual_scale": setup.residual_scale, "layer_norm": setup.layer_norm} \
        if setup.architecture == "resnet" else {}
    return network.draw(setup.activation, setup.sw2, setup.sb2, depth=setup.depth, width=setup.width,
                        dim=setup.X.shape[1], outputs=setup.outputs, samples=setup.samples, seed=setup.seed,
                        slope=setup.slope, **net)


def _one(nets, i):
    """Network i of ``nets`` alone (views of its parameters), for one (m k)^2 NTK at a time."""
    return nets.network(i)


def lambda_max(theta: np.ndarray) -> float:
    """Largest eigenvalue of a symmetric PSD matrix: dense below LANCZOS_ABOVE rows, Lanczos above."""
    n = theta.shape[0]
    if n <= LANCZOS_ABOVE:
        from scipy.linalg import eigh

        top = eigh(theta, eigvals_only=True, subset_by_index=[n - 1, n - 1], driver="evr", check_finite=False)
        return float(top[0])
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    try:
        value = eigsh(theta, k=1, which="LA", tol=0.0, maxiter=20 * n, return_eigenvectors=False,
                      v0=np.ones(n))
    except ArpackNoConvergence:
        raise RuntimeFailure(f"Lanczos did not converge for the top eigenvalue of a {n} x {n} NTK") from None
    return float(value[0])


def _losses(nets, X, Y):
    from phasecli.finite.network import forward

    residual = forward(nets, X).outputs - Y
    return 0.5 * np.sum(residual * residual, axis=(1, 2))


def train_at(lr_factor, setup: TrainSetup) -> TrainRun:
    """Train the S networks for T steps at eta = lr_factor * eta_max (one task of ``phasecli train``)."""
    lr_factor = V.number("lr_factor", lr_factor, lo=0.0, lo_open=True, hi=1e6)
    if not isinstance(setup, TrainSetup):
        raise InputError("setup must come from prepare()", "setup")
    with single_threaded_blas():
        return _train(lr_factor, setup)


def _train(lr_factor, setup):
    from phasecli.finite import network

    eta = lr_factor * setup.eta_max
    X, Y, S, T = setup.X, setup.Y, setup.samples, setup.n_steps
    nets = draw_networks(setup)
    start = nets.copy()
    X = np.broadcast_to(X, (S,) + X.shape)  # an (S, m, d) operand: numpy's stacked 2-D x 3-D matmul is slower
    losses = np.full((T + 1, S), np.inf)
    alive = np.ones(S, dtype=bool)
    peak = np.zeros(S)
    with np.errstate(all="ignore"):
        for t in range(T + 1):
            loss = _losses(nets, X, Y) if t == T else network.gd_step(nets, X, Y, np.where(alive, eta, 0.0))
            if t == 0:
                limit = DIVERGENCE_FACTOR * loss
            alive &= np.isfinite(loss) & ((loss <= limit) | (limit == 0.0))
            losses[t, alive] = loss[alive]
            peak[alive] = np.maximum(peak[alive], loss[alive])
            if not alive.any():
                break
        peak_ratio = np.where(alive, peak / losses[0], np.inf)
    lam0, lam_t, drift = np.full(S, np.nan), np.full(S, np.nan), np.full(S, np.nan)
    test_acc, train_acc = np.full(S, np.nan), np.full(S, np.nan)
    for i in range(S):
        theta0 = network.ntk(_one(start, i), setup.X)[0]
        lam0[i] = lambda_max(theta0)  # every network: the kernel at t = 0 does not depend on training
        if not alive[i]:
            continue
        trained = _one(nets, i)
        theta_t = network.ntk(trained, setup.X)[0]
        lam_t[i] = lambda_max(theta_t)
        drift[i] = np.linalg.norm(theta_t - theta0) / np.linalg.norm(theta0)
        if setup.train_index is not None:
            train_acc[i] = accuracy(trained, setup.X, setup.train_index)
        if setup.X_test is not None:
            test_acc[i] = accuracy(trained, setup.X_test, setup.test_index)
    diverged = 1.0 - alive.mean()
    ratio = float(np.median(peak_ratio))
    regime = "divergent" if diverged > 0.5 else ("catapult" if ratio > 1.0 else "lazy")
    n_alive = int(alive.sum())
    # over the networks that trained, as lambda_max_final and kernel_drift; all S when none did
    lam_init = float(np.median(lam0[alive] if n_alive else lam0))
    lam_emp = float(np.median(lam0))
    test_mean, test_se = _mean_se(test_acc[alive])
    return TrainRun(lr_factor=lr_factor, eta=eta, diverged=float(diverged),
                    final_loss=float(np.median(np.where(alive, losses[-1], np.inf))), peak_loss_ratio=ratio,
                    lambda_max_init=lam_init,
                    lambda_max_final=float(np.median(lam_t[alive])) if n_alive else math.nan,
                    kernel_drift=float(np.median(drift[alive])) if n_alive else math.nan,
                    eta_lambda_init=eta * lam_init, regime=regime, losses=losses, net_diverged=~alive,
                    net_lambda_init=lam0, net_lambda_final=lam_t, net_drift=drift, activation=setup.activation,
                    sw2=setup.sw2, sb2=setup.sb2, depth=setup.depth, width=setup.width,
                    lambda_max_empirical=lam_emp, eta_empirical_factor=eta * lam_emp / 2.0,
                    test_accuracy=test_mean, test_accuracy_se=test_se, train_accuracy=_mean_se(train_acc[alive])[0],
                    status="ok" if n_alive else "all networks diverged", lambda_max_inf=setup.lambda_max_inf,
                    net_test_accuracy=test_acc, net_train_accuracy=train_acc, architecture=setup.architecture,
                    residual_scale=setup.residual_scale, layer_norm=setup.layer_norm)


def _mean_se(values):
    """(mean, std (ddof 1) / sqrt(n)) of the finite entries; NaN for none, NaN standard error for one."""
    values = values[np.isfinite(values)]
    n = values.size
    if n == 0:
        return math.nan, math.nan
    return float(values.mean()), (float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan)


FORWARD_BYTES = 64 * 2**20  # a forward pass keeps h, phi(h) and phi'(h) of every layer: rows per pass bounded


def predict(one, X) -> np.ndarray:
    """The outputs f(X) of one network (``_one``), (rows, k), in passes of at most FORWARD_BYTES of layers."""
    from phasecli.finite.network import forward

    per_row = 3 * 8 * ((len(one.W) - 1) * one.width + one.outputs)
    batch = int(max(1, min(X.shape[0], FORWARD_BYTES // per_row)))
    return np.concatenate([forward(one, X[s:s + batch]).outputs[0] for s in range(0, X.shape[0], batch)])


def accuracy(one, X, index) -> float:
    """The fraction of the rows of X whose argmax output is their class index (NaN outputs never count)."""
    with np.errstate(all="ignore"):
        out = predict(one, X)
    ok = np.all(np.isfinite(out), axis=1)
    return float(np.mean(ok & (np.argmax(np.where(np.isfinite(out), out, -np.inf), axis=1) == index)))


def train(activation, X, y=None, lr_factors=(0.5, 1.5, 3.0), **kwargs) -> list:
    """``prepare`` then ``train_at`` for every lr_factor, in order (the library form of the command)."""
    setup = prepare(activation, X, y, **kwargs)
    return [train_at(f, setup) for f in lr_factors]


def train_sweep(activation, X, y=None, *, sw2, sb2, depths, widths, lr_factors, samples=5, seed=0, n_steps=300,
                normalize=True, q0=1.0, slope=0.01, X_test=None, y_test=None, scheduler=None, architecture="fc",
                residual_scale=1.0, layer_norm="none"):
    """``train_at`` for every (sw2, sb2, depth, width) point (in that order, ``prepare``d and validated before
    any training) and lr_factor: a ``plans.Sweep`` per point, in order (``meta['setup']``)."""
    from phasecli.runtime import plans

    setups = [prepare(activation, X, y, sw2=a, sb2=b, depth=d, width=n, samples=samples, seed=seed, n_steps=n_steps,
                      normalize=normalize, q0=q0, slope=slope, X_test=X_test, y_test=y_test, architecture=architecture,
                      residual_scale=residual_scale, layer_norm=layer_norm)
              for a in sw2 for b in sb2 for d in depths for n in widths]
    return [plans.Sweep(train_at, [{"lr_factor": f} for f in lr_factors], {"setup": setup}, scheduler,
                        meta={"setup": setup}) for setup in setups]
