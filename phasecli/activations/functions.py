"""phi, phi', phi'' of every registered activation, and the exact gaps of phi'^2 (numba).

The one place where numba code branches on an activation: by its integer code (from the
registry, ``phasecli.activations``) or by its closed-form family.  Everything else calls
these functions or reads the registry's per-code tables (docs/theory.md, "Activations").
"""

import math

from phasecli.runtime.jit import njit
from phasecli.activations import (ACTIVE_SCALE, CLOSED_FORM, CODE, D2PHI_AT_ZERO, DPHI_SQ_MIN, EXPRESSION_CODE,
                                  EXPRESSION_KINKS, F_LEAKY, F_LINEAR, F_RELU, FIXED_SLOPE, GAP_NOISE, KIND_CODE, KINK_0, KINK_1,
                                  KINK_COUNT, SELU_ALPHA, SELU_LAMBDA, expression_source)

TANH, ERF, ELU, SELU, GELU, SILU, SOFTPLUS, SIGMOID, SIN, HARD_TANH = (
    CODE[n] for n in ("tanh", "erf", "elu", "selu", "gelu", "silu", "softplus", "sigmoid", "sin", "hard_tanh"))
INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
SQRT2 = math.sqrt(2.0)


def _expression_functions():
    """phi, phi', phi'' of the installed activation expression as numba dispatchers: compiled from the source
    ``expression.generate_source`` writes from the parsed, whitelisted tree (math only; never the user's text).
    Without an expression: stubs returning nan.  Inlined into the kernels that call them, so cached with
    them (the kernels of an expression live in a cache folder of their own: ``runtime.cache.cache_subdir``)."""
    source = expression_source()
    if source is None:
        source = "def phi(x):\n    return math.nan\n\n\ndef dphi(x):\n    return math.nan\n\n\n" \
                 "def d2phi(x):\n    return math.nan\n"
    namespace = {"math": math}
    exec(compile(source, "<phasecli activation expression>", "exec"), namespace)  # noqa: S102 (generated code)
    # error_model numpy: a division by zero gives inf / nan (as the analysis assumed), never a Python exception
    return tuple(njit(error_model="numpy")(namespace[n]) for n in ("phi", "dphi", "d2phi"))


expression_phi, expression_dphi, expression_d2phi = _expression_functions()


@njit(cache=True)
def sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def negative_slope(code, slope):
    """phi'(x) for x < 0 of the "relu" / "leaky" families: the registry's fixed slope, else ``slope``."""
    if CLOSED_FORM[code] == F_RELU:
        return 0.0
    fixed = FIXED_SLOPE[code]
    return slope if math.isnan(fixed) else fixed


@njit(cache=True)
def phi(code, x, slope):
    if code == EXPRESSION_CODE:
        return expression_phi(x)
    if code == TANH:
        return math.tanh(x)
    if code == ERF:
        return math.erf(x)
    family = CLOSED_FORM[code]
    if family == F_RELU:
        return x if x > 0.0 else 0.0
    if family == F_LEAKY:
        return x if x > 0.0 else negative_slope(code, slope) * x
    if family == F_LINEAR:
        return x
    if code == ELU:
        return x if x > 0.0 else math.expm1(x)
    if code == SELU:
        return SELU_LAMBDA * (x if x > 0.0 else SELU_ALPHA * math.expm1(x))
    if code == GELU:
        return x * 0.5 * math.erfc(-x / SQRT2)
    if code == SILU:
        return x * sigmoid(x)
    if code == SOFTPLUS:
        return math.log1p(math.exp(-abs(x))) + (x if x > 0.0 else 0.0)
    if code == SIGMOID:
        return sigmoid(x)
    if code == SIN:
        return math.sin(x)
    if code == HARD_TANH:
        return -1.0 if x < -1.0 else (1.0 if x > 1.0 else x)
    return math.nan


@njit(cache=True)
def dphi(code, x, slope):
    if code == EXPRESSION_CODE:
        return expression_dphi(x)
    if code == TANH:
        t = math.tanh(x)
        return 1.0 - t * t
    if code == ERF:
        return 2.0 / math.sqrt(math.pi) * math.exp(-x * x)
    family = CLOSED_FORM[code]
    if family == F_RELU:
        return 1.0 if x > 0.0 else 0.0
    if family == F_LEAKY:
        return 1.0 if x > 0.0 else negative_slope(code, slope)
    if family == F_LINEAR:
        return 1.0
    if code == ELU:
        return 1.0 if x > 0.0 else math.exp(x)
    if code == SELU:
        return SELU_LAMBDA * (1.0 if x > 0.0 else SELU_ALPHA * math.exp(x))
    if code == GELU:
        return 0.5 * math.erfc(-x / SQRT2) + x * INV_SQRT2PI * math.exp(-0.5 * x * x)
    if code == SILU:
        s = sigmoid(x)
        return s * (1.0 + x * (1.0 - s))
    if code == SOFTPLUS:
        return sigmoid(x)
    if code == SIGMOID:
        s = sigmoid(x)
        return s * (1.0 - s)
    if code == SIN:
        return math.cos(x)
    if code == HARD_TANH:
        return 1.0 if -1.0 < x < 1.0 else 0.0
    return math.nan


@njit(cache=True)
def d2phi(code, x):
    """phi'' of the smooth activations (used for the Mehler tail bound of Tdot)."""
    if code == EXPRESSION_CODE:
        return expression_d2phi(x)
    if code == TANH:
        t = math.tanh(x)
        return -2.0 * t * (1.0 - t * t)
    if code == GELU:
        return INV_SQRT2PI * math.exp(-0.5 * x * x) * (2.0 - x * x)
    if code == SILU:
        sg = sigmoid(x)
        return sg * (1.0 - sg) * (2.0 + x * (1.0 - 2.0 * sg))
    if code == SOFTPLUS:
        sg = sigmoid(x)
        return sg * (1.0 - sg)
    if code == SIGMOID:
        sg = sigmoid(x)
        return sg * (1.0 - sg) * (1.0 - 2.0 * sg)
    if code == SIN:
        return -math.sin(x)
    return math.nan


@njit(cache=True)
def dphi2_at_zero(code, slope):
    """lim_{q -> 0} E[phi'(sqrt(q) z)^2] = (phi'(0+)^2 + phi'(0-)^2) / 2 (kinks at 0 included)."""
    dp = dphi(code, 1e-30, slope)
    dm = dphi(code, -1e-30, slope)
    return 0.5 * (dp * dp + dm * dm)


@njit(cache=True)
def d2phi_at_zero(code):
    """phi''(0), needed only for the q -> 0 limit of the q-map slope when phi(0) != 0."""
    return D2PHI_AT_ZERO[code]


@njit(cache=True)
def active_scale(code):
    """Half-width in u beyond which phi is linear / constant to double precision."""
    return ACTIVE_SCALE[code]


@njit(cache=True)
def activation_kind(code):
    """0 closed forms, 1 piecewise, 2 smooth, 3 kinked expression (the registry's kind)."""
    return KIND_CODE[code]


@njit(cache=True)
def kinks(code, out):
    """The registry's kinks of phi, written to out (room for 4); returns their count."""
    n = KINK_COUNT[code]
    if code == EXPRESSION_CODE:
        for i in range(n):
            out[i] = EXPRESSION_KINKS[i]
        return n
    if n > 0:
        out[0] = KINK_0[code]
    if n > 1:
        out[1] = KINK_1[code]
    return n


# ----------------------------------------------------------------------------- d = phi'^2 and its gaps
@njit(cache=True)
def dphi_sq(code, x, slope):
    d = dphi(code, x, slope)
    return d * d


@njit(cache=True)
def gap(code, x, slope, dmax):
    """d_max - phi'(x)^2, exact where a closed expression exists (cancellation-free near d_max)."""
    family = CLOSED_FORM[code]
    if family == F_RELU:
        return 0.0 if x > 0.0 else 1.0
    if family == F_LEAKY:
        a = negative_slope(code, slope)
        return 0.0 if x > 0.0 else 1.0 - a * a
    if family == F_LINEAR:
        return 0.0
    if code == TANH:
        t = math.tanh(x)
        t2 = t * t
        return t2 * (2.0 - t2)
    if code == ERF:
        return 4.0 / math.pi * (-math.expm1(-2.0 * x * x))
    if code == SIN:
        s = math.sin(x)
        return s * s
    if code == SIGMOID:
        u = 0.5 * math.tanh(0.5 * x)
        s = sigmoid(x)
        return u * u * (0.25 + s * (1.0 - s))
    if code == SOFTPLUS:
        return sigmoid(-x) * (1.0 + sigmoid(x))
    if code == ELU:
        return 0.0 if x > 0.0 else -math.expm1(2.0 * x)
    if code == SELU:
        if x > 0.0:
            return SELU_LAMBDA * SELU_LAMBDA * (SELU_ALPHA * SELU_ALPHA - 1.0)
        return (SELU_LAMBDA * SELU_ALPHA) ** 2 * (-math.expm1(2.0 * x))
    if code == HARD_TANH:
        return 0.0 if -1.0 < x < 1.0 else 1.0
    d = dphi(code, x, slope)
    return max(dmax - d * d, 0.0)


@njit(cache=True)
def gap_noise(code):
    """Absolute rounding of ``gap`` near the maximum of phi'^2, relative to d_max: 0 where the expression is exact
    there (a maximum at 0, or a plateau), ~1e-15 for the generic d_max - phi'^2 (gelu, silu) and for sin's
    maxima at k pi."""
    return GAP_NOISE[code]


@njit(cache=True)
def gap_low(code, x, slope):
    """phi'(x)^2 - d_min: exact for the laws with d_min > 0 (leaky_relu, linear); phi'^2 otherwise (d_min = 0; an
    expression: phi'^2 - inf phi'^2 by difference)."""
    family = CLOSED_FORM[code]
    if family == F_LEAKY:
        a = negative_slope(code, slope)
        return 1.0 - a * a if x > 0.0 else 0.0
    if family == F_LINEAR:
        return 0.0
    if code == EXPRESSION_CODE:
        return max(dphi_sq(code, x, slope) - DPHI_SQ_MIN[code], 0.0)
    return dphi_sq(code, x, slope)
