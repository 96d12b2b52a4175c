"""Large-depth asymptotics of the NTK spectrum (Table 1 of Xiao et al.; docs/theory.md) and learning rates.

Pure formulas of the point's phase, chi_1, q* and the data size m (and of the inputs through the engines'
``chaotic_prefactors`` / ``ordered_gap``, ``phasecli.ntk.engines.limits``): what ``kappa_theory``,
``kappa_limit``, ``nngp_kappa_theory`` and ``lambda_max_theory`` print next to the computed spectra, and
``learning_rates`` (eta_max = 2 / lambda_max).
"""

from __future__ import annotations

import math

import numpy as np

from phasecli.activations import ACTIVATIONS
from phasecli.validate import InputError

DEFAULT_SLOPE = 0.01


def critical_ratio(activation: str, slope: float = DEFAULT_SLOPE) -> float:
    """Large-depth Theta_ab / Theta_aa on the critical line (chi_1 = 1), normalized inputs.

    With D(eps) = T(1) - T(1 - eps), E(eps) = Tdot(1) - Tdot(1 - eps) and chi_1 = 1:
    - phi' continuous (T''(1) = q^2 E[phi''^2] finite: tanh, erf, elu, gelu, silu,
      softplus, sigmoid, sin): eps' = eps - beta eps^2, so eps ~ 1/(beta l), and the
      off-diagonal multiplier sw2 Tdot = 1 - 2 beta eps = 1 - 2/l; Theta_ab ~ a l q*
      with a (l + 1) = 1 + (1 - 2/l) a l gives a = 1/3 (Xiao et al.).
    - phi' with a jump (relu, leaky_relu, selu, hard_tanh): E(eps) ~ e1 theta and
      D ~ q Tdot(1) eps - q e1 theta^3 / 3 (theta = arccos c), so theta' = theta -
      (sw2 e1 / 3) theta^2, theta ~ 3/(sw2 e1 l), and the multiplier 1 - sw2 e1 theta =
      1 - 3/l for every such activation: a = 1 - 3a, a = 1/4.
    - linear: c is preserved, the ratio depends on the data: NaN.
    kappa -> (1 + (m - 1) a) / (1 - a): (m + 2)/2 and (m + 3)/3.
    """
    if ACTIVATIONS[activation].is_linear(slope):
        return math.nan
    return 0.25 if ACTIVATIONS[activation].phi_prime_jumps else 1.0 / 3.0


def _pooled(architecture, positions) -> float:
    """d for CNN-P (global average pooling over d = H W positions), else 1 (FCN, CNN-F): the engines' fact."""
    from phasecli.ntk.engines import pooled_positions

    return pooled_positions(architecture, positions)


def chaotic_kappa(prefactors) -> float:
    """The chaotic phase's exact large-depth kappa for the given inputs: max A / min A over the prefactors
    A(x) of the NTK diagonals (Theta / chi_1^l -> diag A; ``phasecli.ntk.engines.limits``); 1 when every
    position of every input starts at q*; NaN if any prefactor is unknown, inf if one is 0."""
    a = np.asarray(prefactors, dtype=float)
    if a.size == 0 or not np.all(np.isfinite(a)):
        return math.nan
    lo, hi = float(a.min()), float(a.max())
    return hi / lo if lo > 0.0 else math.inf


def kappa_theory(activation, phase, m, depth, *, chi_1, q_star, sb2=0.0, dropout=None,
                 slope: float = DEFAULT_SLOPE, architecture: str = "fc", positions: int = 1,
                 prefactors=None) -> np.ndarray:
    """Table 1 large-depth prediction of kappa = lambda_max / lambda_min of the NTK.

    - chaotic: the exact limit for the given inputs, max A / min A (``chaotic_kappa``) with ``prefactors``
      the inputs' A(x) (the engine's ``chaotic_prefactors``); 1 (Theta / p -> identity) when every position
      of every input starts at q* (rows scaled to q* for fc; --normalize position for the CNN), which is
      also what ``prefactors=None`` assumes.  Pooling divides every A(x) by d: the same limit;
    - critical: (1 + (m - 1) a) / (1 - a) with a = ``critical_ratio`` (1/3: (m + 2)/2 for
      smooth activations; 1/4: (m + 3)/3 when phi' jumps, relu included); with dropout
      (keep rate rho) the diagonal gains a factor 1/rho: (1/rho + (m - 1) a)/(1/rho - a);
    - ordered: m p* / (l chi_1^l) with p* = q*/(1 - chi_1) and l = depth: the RATE of
      divergence (Figure 1b), not its value: kappa l chi_1^l tends to a data-dependent constant
      (``kappa_limit`` gives it where it is known); with dropout the finite limit
      1 + m rho p* / ((1 - rho)(p* - sb2)).
    CNN-F (``architecture='cnn-f'``) has the FCN's values.  CNN-P (global average pooling over
    d = ``positions`` pixels): the pooled diagonal is Theta (1/d + (1 - 1/d) a) and the off-diagonal
    Theta a, so critical kappa -> 1 + d m a / (1 - a) = (d m + 2)/2 (smooth), (d m + 3)/3 (phi' jumps);
    ordered d m p* / (l chi_1^l) (the gap is d times larger); chaotic max A / min A as above.
    NaN for unknown phases and undefined q*.
    """
    depth = np.asarray(depth, dtype=float)
    out = np.full(depth.shape, np.nan)
    rho = 1.0 if dropout is None else float(dropout)
    pool = _pooled(architecture, positions)
    if not (np.isfinite(q_star) and q_star > 0 and np.isfinite(chi_1)):
        return out
    if phase == "chaotic":
        out[:] = 1.0 if prefactors is None else chaotic_kappa(prefactors)
    elif phase == "critical":
        inv_a = 1.0 / critical_ratio(activation, slope)  # 3 or 4 (exact), NaN for linear
        if pool > 1.0:
            out[:] = 1.0 + pool * m / (inv_a - 1.0)
        else:
            out[:] = (inv_a / rho + (m - 1)) / (inv_a / rho - 1.0)
    elif phase == "ordered" and chi_1 > 0:
        p_star = q_star / (1.0 - chi_1)
        if rho < 1.0:
            out[:] = 1.0 + m * rho * p_star / ((1.0 - rho) * (p_star - sb2)) if p_star > sb2 else np.inf
        else:
            log_kappa = math.log(pool * m * p_star) - np.log(depth) - depth * math.log(chi_1)
            with np.errstate(over="ignore"):
                out[:] = np.where(log_kappa < 709.78, np.exp(np.minimum(log_kappa, 709.78)), np.inf)
    return out


def kappa_limit(activation, phase, m, depth, *, chi_1, q_star, sb2=0.0, dropout=None,
                slope: float = DEFAULT_SLOPE, architecture: str = "fc", positions: int = 1, prefactors=None,
                ordered_gap=None) -> np.ndarray:
    """The exact large-depth asymptote of kappa for the given inputs (kappa / kappa_limit -> 1), NaN where it
    is not derived (docs/theory.md, "Large depth").

    - chaotic, critical, and ordered with dropout: ``kappa_theory`` (with ``prefactors``), which is there a limit;
    - ordered without dropout: m p* / (l chi_1^l G) with l = depth + 1 (the NTK of a depth-L network is
      Theta^{L+1}) and G = gamma mu = ``ordered_gap`` (the engine's ``ordered_gap``: fully connected, rows at q*,
      phi' continuous; NaN otherwise).  kappa_theory's m p* / (L chi_1^L) is its rate; the two differ by the
      data-dependent factor L chi_1^L / ((L + 1) chi_1^(L+1) G) -> 1 / (chi_1 G).  The relative error of the
      asymptote is O(1/l).
    """
    depth = np.asarray(depth, dtype=float)
    theory = kappa_theory(activation, phase, m, depth, chi_1=chi_1, q_star=q_star, sb2=sb2, dropout=dropout,
                          slope=slope, architecture=architecture, positions=positions, prefactors=prefactors)
    rho = 1.0 if dropout is None else float(dropout)
    if phase != "ordered" or rho < 1.0:
        return theory
    out = np.full(depth.shape, np.nan)
    gap = math.nan if ordered_gap is None else float(ordered_gap)
    if not (0.0 < chi_1 < 1.0 and math.isfinite(q_star) and q_star > 0.0 and math.isfinite(gap)):
        return out
    if gap <= 0.0:
        out[:] = math.inf
        return out
    p_star = q_star / (1.0 - chi_1)
    ell = depth + 1.0
    log_kappa = math.log(m * p_star / gap) - np.log(ell) - ell * math.log(chi_1)
    with np.errstate(over="ignore"):
        out[:] = np.where(log_kappa < 709.78, np.exp(np.minimum(log_kappa, 709.78)), np.inf)
    return out


def nngp_kappa_theory(phase, m, depth, *, q_star, c_star, sb2=0.0, dropout=None) -> np.ndarray:
    """Large-depth kappa of the NNGP: chaotic K -> q*((1 - c*) I + c* 11^T):
    (1 + (m - 1) c*) / (1 - c*) (dropout adds (1/rho - 1)(q* - sb2) to the diagonal);
    it diverges in the other phases (NaN)."""
    depth = np.asarray(depth, dtype=float)
    out = np.full(depth.shape, np.nan)
    if phase == "chaotic" and np.isfinite(c_star) and np.isfinite(q_star) and q_star > 0:
        g = 0.0 if dropout is None else (1.0 / float(dropout) - 1.0) * (q_star - sb2)
        out[:] = (q_star * (1.0 + (m - 1) * c_star) + g) / (q_star * (1.0 - c_star) + g)
    return out


def lambda_max_theory(activation, phase, m, depth, *, chi_1, q_star, sb2=0.0, dropout=None,
                      slope: float = DEFAULT_SLOPE, architecture: str = "fc", positions: int = 1,
                      prefactors=None) -> np.ndarray:
    """Large-depth lambda_max of the NTK (normalized inputs): m p* (ordered), the diagonal
    p^{l+1} = q* (chi_1^{l+1} - 1)/(chi_1 - 1) (chaotic, kappa -> 1), (l + 1) q* (1 + (m - 1) a)
    (critical); plus the dropout shift (1/rho - 1)(q* - sb2 + chi_1 p^l).  CNN-P (d positions):
    p^{l+1} / d (chaotic), (l + 1) q* ((1 - a)/d + m a) (critical).  Chaotic with ``prefactors`` (the
    inputs' A(x) in units of q* / (chi_1 - 1), ``kappa_theory``): the largest diagonal
    A_max q* chi_1^{l+1} / (chi_1 - 1) - q* / (chi_1 - 1) = p^{l+1} (1 + (A_max - 1) / (1 - chi_1^-(l+1)))."""
    depth = np.asarray(depth, dtype=float)
    out = np.full(depth.shape, np.nan)
    if not (np.isfinite(q_star) and q_star > 0 and np.isfinite(chi_1)):
        return out
    extra = 0.0 if dropout is None else 1.0 / float(dropout) - 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        if abs(chi_1 - 1.0) < 1e-12:
            p_l = depth * q_star
        else:
            p_l = q_star * np.expm1(np.minimum(depth * math.log(chi_1), 709.0)) / (chi_1 - 1.0)
        p_next = q_star + chi_1 * p_l
        shift = extra * (q_star - sb2 + chi_1 * p_l)
        if phase == "ordered":
            p_star = q_star / (1.0 - chi_1)
            out[:] = m * p_star + extra * (p_star - sb2)
        elif phase == "chaotic":
            top = 1.0
            if prefactors is not None:
                a_max = float(np.max(prefactors)) if np.all(np.isfinite(prefactors)) else math.nan
                top = 1.0 + (a_max - 1.0) / -np.expm1(-(depth + 1.0) * math.log(chi_1))
            out[:] = p_next * top / _pooled(architecture, positions) + shift
        elif phase == "critical":
            a = critical_ratio(activation, slope)
            pool = _pooled(architecture, positions)
            out[:] = p_next * ((1.0 - a) / pool + m * a) + shift
    return out


def learning_rates(lambda_max, m, loss: str = "sum"):
    """(eta_max, eta_catapult) = (2, 4) / lambda_max for the sum loss 1/2 sum (f - y)^2;
    (2m, 4m) / lambda_max for the mean loss 1/(2m) sum (as neural-tangents'
    max_learning_rate).  Below eta_max: lazy (NTK) regime; eta_max .. eta_catapult: catapult."""
    if loss not in ("sum", "mean"):
        raise InputError(f"loss must be 'sum' or 'mean', got {loss!r}", "loss")
    m = int(m)
    if m < 1:
        raise InputError("m must be >= 1", "m")
    lam = np.asarray(lambda_max, dtype=float)
    f = 1.0 if loss == "sum" else float(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(lam > 0, 2.0 * f / lam, np.nan)
    return eta, 2.0 * eta


def predictor_limit_weight(activation, phase, m, *, q_star, c_star, chi_1, sb2=0.0, ridge=0.0, dropout=None,
                           nngp=False, normalize=True, slope: float = DEFAULT_SLOPE, architecture: str = "fc",
                           positions: int = 1) -> float:
    """gamma with P(Theta*) Y = gamma 1 (1^T Y): the infinite-depth predictor of the point's phase (docs/theory.md,
    "residual predictor").  Every limit kernel has the form (diag - off) Id + off 11^T on the train rows and off
    11^T between test and train rows, so P(Theta*) = off / (diag - off + m off + ridge) 11^T, ridge in the
    limit's units (0 where the limit's scale diverges).

    NTK: chaotic (Theta / p -> Id): 0.  Critical (units l q*): off = a (``critical_ratio``), diag 1 (1/rho
    with dropout; CNN-P 1/d + (1 - 1/d) a).  Ordered (units 1): off = p* = q*/(1 - chi_1), diag p* plus the
    dropout shift (1/rho - 1)(p* - sb2), the ridge added (without a ridge the limit is the pseudo-inverse
    one, 11^T / m).  NNGP (units 1): chaotic off = q* c*, diag q* (+ (1/rho - 1)(q* - sb2); CNN-P
    q* (1/d + (1 - 1/d) c*)); ordered and critical off = q*, diag q* (+ the dropout shift).
    NaN where the limit depends on the data: a linear network on the critical line, and data as given with a
    homogeneous activation (relu, ...) on the critical line or for the NNGP outside the ordered phase."""
    act = ACTIVATIONS[activation]
    rho = 1.0 if dropout is None else float(dropout)
    pool = _pooled(architecture, positions)
    if not (np.isfinite(q_star) and q_star > 0):
        return 0.0 if (phase == "chaotic" and not nngp) else math.nan
    if not normalize and act.homogeneous and (phase == "critical" or (nngp and phase != "ordered")):
        return math.nan
    shift_k = (1.0 / rho - 1.0) * (q_star - sb2)
    if not nngp:
        if phase == "chaotic":
            return 0.0
        if phase == "critical":
            a = critical_ratio(activation, slope)
            diag = 1.0 / pool + (1.0 - 1.0 / pool) * a if pool > 1.0 else 1.0 / rho
            return a / (diag - a + m * a)
        if phase == "ordered" and 0 < chi_1 < 1:
            p_star = q_star / (1.0 - chi_1)
            return p_star / ((1.0 / rho - 1.0) * (p_star - sb2) + m * p_star + ridge)
        return math.nan
    if phase == "chaotic":
        if not np.isfinite(c_star):
            return math.nan
        off = q_star * c_star
        diag = q_star * (1.0 / pool + (1.0 - 1.0 / pool) * c_star) if pool > 1.0 else q_star + shift_k
        return off / (diag - off + m * off + ridge)
    if phase in ("ordered", "critical"):
        return q_star / (shift_k + m * q_star + ridge)
    return math.nan
