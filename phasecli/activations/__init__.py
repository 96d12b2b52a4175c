"""The activation registry: every fact about an activation is written here once, as data.

Three modules make up the activations layer and nothing outside it tests an activation's
name or integer code:

- this registry (pure Python): names, codes and every per-activation fact (kind, closed-form
  family, kinks, jumps of phi', active scale, phi''(0), range of phi'^2, small-q series ...);
  per-code tuples of these facts are what the numba code reads (compile-time constants);
- ``phasecli.activations.functions``: phi, phi', phi'' and the exact gaps of phi'^2 (numba);
- ``phasecli.activations.smallq``: the series of E[phi^2] at small q (numba).

The closed-form kernels (erf arcsine kernel, the arc-cosine kernel of relu, leaky_relu and
abs, linear) are selected by the registry's ``closed_form`` family, never by name, so an
activation that belongs to a family needs nothing but its entry here.
``tests/test_activations.py`` checks every entry against the function itself.

``kind`` tells the kernels how Gaussian expectations are taken:

- ``closed``: closed forms (erf arcsine kernel, relu / leaky_relu / abs arc-cosine kernel, linear);
- ``smooth``: analytic activations, Hermite (dual-activation) series with a certified
  tail bound, falling back to 2-D quadrature;
- ``piecewise``: activations with kinks (elu, selu, hard_tanh); the inner Gaussian
  expectation is taken in closed form and the outer 1-D integral is split at the kinks.

Adding an activation: one entry below; its phi, phi' (and phi'' if smooth) in
``functions.py``; its small-q series in ``smallq.py`` if phi(0) = 0 and it is neither
homogeneous nor has E[phi^2] / q increasing at q -> 0.  See docs/theory.md, "Activations".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
KIND_CODES = {"closed": 0, "piecewise": 1, "smooth": 2}


# closed-form families (``Activation.closed_form``): the kernels branch on these, never on a name
CLOSED_FORMS = {None: -1, "arcsine": 0, "relu": 1, "leaky": 2, "linear": 3}
# piecewise forms (``Activation.piecewise_form``): exponential left branch (elu, selu) or a clip (hard_tanh)
PIECEWISE_FORMS = {None: -1, "exp": 0, "clip": 1}
GENERIC_ACTIVE_SCALE = 42.0  # |u| beyond which a smooth activation is linear or constant to double precision


@dataclass(frozen=True)
class Activation:
    name: str
    code: int
    kind: str  # "closed" | "smooth" | "piecewise"
    description: str
    odd: bool  # phi(-x) = -phi(x): with sb2 = 0 the signal can die (q* = 0)
    bounded: bool  # |phi| bounded: q* is always finite
    homogeneous: bool  # phi(a x) = a phi(x) for a > 0: chi_1 independent of q
    kinks: tuple = ()  # points where phi is not differentiable
    phi_prime_jumps: bool = False  # phi' jumps at a kink (relu, ...; not elu, whose phi' is continuous)
    closed_form: str | None = None  # family of the closed-form kernel (kind "closed"): CLOSED_FORMS
    fixed_slope: float | None = None  # "leaky" family: the slope for x < 0 (None: taken from --slope)
    piecewise_form: str | None = None  # kind "piecewise": PIECEWISE_FORMS
    exp_lambda: float = 1.0  # "exp" form: phi = lambda x for x > 0, lambda alpha (e^x - 1) for x < 0
    exp_alpha: float = 1.0
    active_scale: float = GENERIC_ACTIVE_SCALE  # half-width in u beyond which phi is linear / constant (inf: never)
    d2phi_at_zero: float = 0.0  # phi''(0) (the q -> 0 slope of the length map when phi(0) != 0)
    phi_prime_sq_range: tuple = (0.0, 1.0)  # (inf, sup) of phi'(x)^2 ("leaky" family: from the slope)
    gap_noise: float = 0.0  # rounding of sup phi'^2 - phi'^2 near its maximum, relative (0: exact expression)
    oscillatory: bool = False  # phi oscillates at every scale (sin): quadrature panels stay below 1/sqrt(q)
    jump_sq_fixed: float = 0.0  # sum of squared jumps of phi' (families "relu" / "leaky": from the slope)

    @property
    def kind_code(self) -> int:
        return KIND_CODES[self.kind]

    @property
    def exp_scale(self) -> float:
        """"exp" form: phi'' = exp_scale e^x for x < 0."""
        return self.exp_lambda * self.exp_alpha

    @property
    def jump_at_zero(self) -> float:
        """"exp" form: the jump phi'(0+) - phi'(0-)."""
        return self.exp_lambda * (1.0 - self.exp_alpha)

    @property
    def takes_slope(self) -> bool:
        """True when --slope changes phi (leaky_relu)."""
        return self.closed_form == "leaky" and self.fixed_slope is None

    def negative_slope(self, slope: float = 0.01) -> float:
        """phi'(x) for x < 0 of the "relu" / "leaky" families (the fixed one, else --slope)."""
        if self.closed_form == "relu":
            return 0.0
        return slope if self.fixed_slope is None else self.fixed_slope

    def jump_sq(self, slope: float = 0.01) -> float:
        """Sum over the kinks of the squared jump J^2 of phi' (0 where phi' is continuous)."""
        if not self.phi_prime_jumps:
            return 0.0
        if self.closed_form in ("relu", "leaky"):
            return (1.0 - self.negative_slope(slope)) ** 2
        return self.jump_sq_fixed

    def dphi_sq_range(self, slope: float = 0.01) -> tuple:
        """(inf, sup) of phi'(x)^2 over the real line (the support of the law of phi'^2 for q* > 0)."""
        if self.closed_form == "leaky":
            a = self.negative_slope(slope) ** 2
            return min(a, 1.0), max(a, 1.0)
        return self.phi_prime_sq_range

    def is_linear(self, slope: float = 0.01) -> bool:
        """phi is the identity (linear, or leaky_relu with --slope 1)."""
        return self.closed_form == "linear" or (self.closed_form == "leaky" and self.negative_slope(slope) >= 1.0)


def _gelu_dphi_sq_sup() -> float:
    """sup gelu'^2, attained at x = sqrt(2) (gelu'' = phi(x)(2 - x^2))."""
    x = math.sqrt(2.0)
    top = 0.5 * math.erfc(-x / math.sqrt(2.0)) + x * math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return top * top * (1.0 + 4e-16)


def _silu_dphi_sq_sup() -> float:
    """sup silu'^2, at the x > 0 with x tanh(x/2) = 2 (Newton)."""
    x = 2.4
    for _ in range(60):
        t = math.tanh(0.5 * x)
        f = x * t - 2.0
        x -= f / (t + 0.5 * x * (1.0 - t * t))
        if abs(f) < 1e-16:
            break
    s = 1.0 / (1.0 + math.exp(-x))
    top = s * (1.0 + x * (1.0 - s))
    return top * top * (1.0 + 4e-16)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("tanh", 0, "smooth", "hyperbolic tangent", True, True, False, active_scale=20.0),
        Activation("erf", 1, "closed", "error function erf(x) (closed-form arcsine kernel)", True, True, False,
                   closed_form="arcsine", phi_prime_sq_range=(0.0, 4.0 / math.pi)),
        Activation("relu", 2, "closed", "max(0, x) (closed-form arc-cosine kernel)", False, False, True,
                   kinks=(0.0,), phi_prime_jumps=True, closed_form="relu", active_scale=0.0),
        Activation("leaky_relu", 3, "closed", "max(x, slope*x), slope set by --slope (default 0.01)", False, False,
                   True, kinks=(0.0,), phi_prime_jumps=True, closed_form="leaky", active_scale=0.0),
        Activation("elu", 4, "piecewise", "x for x > 0, exp(x) - 1 otherwise (alpha = 1)", False, False, False,
                   kinks=(0.0,), piecewise_form="exp"),
        Activation("selu", 5, "piecewise", "scaled elu, lambda = 1.0507, alpha = 1.6733 (Klambauer et al.)", False,
                   False, False, kinks=(0.0,), phi_prime_jumps=True, piecewise_form="exp",
                   exp_lambda=SELU_LAMBDA, exp_alpha=SELU_ALPHA,
                   phi_prime_sq_range=(0.0, (SELU_LAMBDA * SELU_ALPHA) ** 2),
                   jump_sq_fixed=(SELU_LAMBDA * (1.0 - SELU_ALPHA)) ** 2),
        Activation("gelu", 6, "smooth", "exact x * Phi(x), Phi the standard normal CDF", False, False, False,
                   active_scale=10.0, d2phi_at_zero=2.0 * (1.0 / math.sqrt(2.0 * math.pi)),
                   phi_prime_sq_range=(0.0, _gelu_dphi_sq_sup()), gap_noise=1e-15),
        Activation("silu", 7, "smooth", "x * sigmoid(x), also called swish", False, False, False,
                   d2phi_at_zero=0.5, phi_prime_sq_range=(0.0, _silu_dphi_sq_sup()), gap_noise=1e-15),
        Activation("softplus", 8, "smooth", "log(1 + exp(x))", False, False, False, d2phi_at_zero=0.25),
        Activation("sigmoid", 9, "smooth", "logistic 1 / (1 + exp(-x))", False, True, False,
                   phi_prime_sq_range=(0.0, 1.0 / 16.0)),
        Activation("sin", 10, "smooth", "sine", True, True, False, active_scale=math.inf, gap_noise=1e-15,
                   oscillatory=True),
        Activation("linear", 11, "closed", "identity x (deep linear network)", True, False, True,
                   closed_form="linear", active_scale=0.0, phi_prime_sq_range=(1.0, 1.0)),
        Activation("hard_tanh", 12, "piecewise", "clip(x, -1, 1)", True, True, False, kinks=(-1.0, 1.0),
                   phi_prime_jumps=True, piecewise_form="clip", active_scale=0.0, jump_sq_fixed=2.0),
        Activation("abs", 13, "closed", "absolute value |x| (closed-form arc-cosine kernel, slope -1)", False,
                   False, True, kinks=(0.0,), phi_prime_jumps=True, closed_form="leaky", fixed_slope=-1.0,
                   active_scale=0.0),
    ]
}

NAMES = tuple(ACTIVATIONS)
CODE = {a.name: a.code for a in ACTIVATIONS.values()}
_BY_CODE = sorted(ACTIVATIONS.values(), key=lambda a: a.code)
assert [a.code for a in _BY_CODE] == list(range(len(_BY_CODE))), "codes must be 0..n-1"
# per-code tables for the numba kernels (tuples are compile-time constants there)
KIND_CODE = tuple(a.kind_code for a in _BY_CODE)
HOMOGENEOUS = tuple(a.homogeneous for a in _BY_CODE)
BOUNDED = tuple(a.bounded for a in _BY_CODE)
KINK_COUNT = tuple(len(a.kinks) for a in _BY_CODE)
KINK_0 = tuple(a.kinks[0] if a.kinks else 0.0 for a in _BY_CODE)
KINK_1 = tuple(a.kinks[1] if len(a.kinks) > 1 else 0.0 for a in _BY_CODE)
CLOSED_FORM = tuple(CLOSED_FORMS[a.closed_form] for a in _BY_CODE)
F_ARCSINE, F_RELU, F_LEAKY, F_LINEAR = (CLOSED_FORMS[f] for f in ("arcsine", "relu", "leaky", "linear"))
PIECEWISE_FORM = tuple(PIECEWISE_FORMS[a.piecewise_form] for a in _BY_CODE)
P_EXP, P_CLIP = PIECEWISE_FORMS["exp"], PIECEWISE_FORMS["clip"]
FIXED_SLOPE = tuple(math.nan if a.fixed_slope is None else a.fixed_slope for a in _BY_CODE)
EXP_LAMBDA = tuple(a.exp_lambda for a in _BY_CODE)
EXP_ALPHA = tuple(a.exp_alpha for a in _BY_CODE)
EXP_SCALE = tuple(a.exp_scale for a in _BY_CODE)
JUMP_AT_ZERO = tuple(a.jump_at_zero for a in _BY_CODE)
ACTIVE_SCALE = tuple(1e300 if a.active_scale == math.inf else a.active_scale for a in _BY_CODE)
D2PHI_AT_ZERO = tuple(a.d2phi_at_zero for a in _BY_CODE)
GAP_NOISE = tuple(a.gap_noise for a in _BY_CODE)


BY_CODE = tuple(_BY_CODE)  # BY_CODE[code] is the activation with that integer code


def get(name: str) -> Activation:
    """The activation called ``name``; ValueError naming the choices otherwise."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(NAMES)}") from None
