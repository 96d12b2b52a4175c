"""The activation registry (pure Python: importing it must stay cheap).

Each activation has a stable integer code used by the numba kernels in
``phasecli._kernels``.  ``KIND`` tells the kernels how Gaussian expectations are taken:

- ``closed``: closed forms (erf arcsine kernel, relu / leaky_relu arc-cosine kernel, linear);
- ``smooth``: analytic activations, Hermite (dual-activation) series with a certified
  tail bound, falling back to 2-D quadrature;
- ``piecewise``: activations with kinks (elu, selu, hard_tanh); the inner Gaussian
  expectation is taken in closed form and the outer 1-D integral is split at the kinks.
"""

from __future__ import annotations

from dataclasses import dataclass

SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


@dataclass(frozen=True)
class Activation:
    name: str
    code: int
    kind: str  # "closed" | "smooth" | "piecewise"
    description: str
    odd: bool  # phi(-x) = -phi(x): with sb2 = 0 the signal can die (q* = 0)
    bounded: bool  # |phi| bounded: q* is always finite
    homogeneous: bool  # phi(a x) = a phi(x) for a > 0: chi_1 independent of q


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("tanh", 0, "smooth", "hyperbolic tangent", True, True, False),
        Activation("erf", 1, "closed", "error function erf(x) (closed-form arcsine kernel)", True, True, False),
        Activation("relu", 2, "closed", "max(0, x) (closed-form arc-cosine kernel)", False, False, True),
        Activation("leaky_relu", 3, "closed", "max(x, slope*x), slope set by --slope (default 0.01)", False, False, True),
        Activation("elu", 4, "piecewise", "x for x > 0, exp(x) - 1 otherwise (alpha = 1)", False, False, False),
        Activation("selu", 5, "piecewise", "scaled elu, lambda = 1.0507, alpha = 1.6733 (Klambauer et al.)", False, False, False),
        Activation("gelu", 6, "smooth", "exact x * Phi(x), Phi the standard normal CDF", False, False, False),
        Activation("silu", 7, "smooth", "x * sigmoid(x), also called swish", False, False, False),
        Activation("softplus", 8, "smooth", "log(1 + exp(x))", False, False, False),
        Activation("sigmoid", 9, "smooth", "logistic 1 / (1 + exp(-x))", False, True, False),
        Activation("sin", 10, "smooth", "sine", True, True, False),
        Activation("linear", 11, "closed", "identity x (deep linear network)", True, False, True),
        Activation("hard_tanh", 12, "piecewise", "clip(x, -1, 1)", True, True, False),
    ]
}

NAMES = tuple(ACTIVATIONS)


def get(name: str) -> Activation:
    """The activation called ``name``; ValueError naming the choices otherwise."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(NAMES)}") from None
