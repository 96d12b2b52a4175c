"""The activation registry: every fact about an activation is written here once (pure Python).

The numba kernels import their integer codes and per-code tables from this module
(``CODE``, ``KIND_CODE``, ``KINKS``, ...), so a fact cannot disagree between files;
``tests/test_activations.py`` checks every entry against the function itself.

``kind`` tells the kernels how Gaussian expectations are taken:

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
KIND_CODES = {"closed": 0, "piecewise": 1, "smooth": 2}


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

    @property
    def kind_code(self) -> int:
        return KIND_CODES[self.kind]

    def jump_sq(self, slope: float = 0.01) -> float:
        """Sum over the kinks of the squared jump J^2 of phi' (0 where phi' is continuous)."""
        if not self.phi_prime_jumps:
            return 0.0
        if self.name == "relu":
            return 1.0
        if self.name == "leaky_relu":
            return (1.0 - slope) ** 2
        if self.name == "selu":
            return (SELU_LAMBDA * (1.0 - SELU_ALPHA)) ** 2
        if self.name == "hard_tanh":
            return 2.0
        raise NotImplementedError(self.name)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("tanh", 0, "smooth", "hyperbolic tangent", True, True, False),
        Activation("erf", 1, "closed", "error function erf(x) (closed-form arcsine kernel)", True, True, False),
        Activation("relu", 2, "closed", "max(0, x) (closed-form arc-cosine kernel)", False, False, True,
                   kinks=(0.0,), phi_prime_jumps=True),
        Activation("leaky_relu", 3, "closed", "max(x, slope*x), slope set by --slope (default 0.01)", False, False,
                   True, kinks=(0.0,), phi_prime_jumps=True),
        Activation("elu", 4, "piecewise", "x for x > 0, exp(x) - 1 otherwise (alpha = 1)", False, False, False,
                   kinks=(0.0,)),
        Activation("selu", 5, "piecewise", "scaled elu, lambda = 1.0507, alpha = 1.6733 (Klambauer et al.)", False,
                   False, False, kinks=(0.0,), phi_prime_jumps=True),
        Activation("gelu", 6, "smooth", "exact x * Phi(x), Phi the standard normal CDF", False, False, False),
        Activation("silu", 7, "smooth", "x * sigmoid(x), also called swish", False, False, False),
        Activation("softplus", 8, "smooth", "log(1 + exp(x))", False, False, False),
        Activation("sigmoid", 9, "smooth", "logistic 1 / (1 + exp(-x))", False, True, False),
        Activation("sin", 10, "smooth", "sine", True, True, False),
        Activation("linear", 11, "closed", "identity x (deep linear network)", True, False, True),
        Activation("hard_tanh", 12, "piecewise", "clip(x, -1, 1)", True, True, False, kinks=(-1.0, 1.0),
                   phi_prime_jumps=True),
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


def get(name: str) -> Activation:
    """The activation called ``name``; ValueError naming the choices otherwise."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(NAMES)}") from None
