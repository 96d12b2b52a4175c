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
  expectation is taken in closed form and the outer 1-D integral is split at the kinks;
- ``kinked``: an activation expression with kinks (``install_expression``): nested 2-D
  quadrature, both integrals split at the kinks (no closed form, no Hermite series).

Adding an activation: one entry below; its phi, phi' (and phi'' if smooth) in
``functions.py``; its small-q series in ``smallq.py`` if phi(0) = 0 and it is neither
homogeneous nor has E[phi^2] / q increasing at q -> 0.  See docs/theory.md, "Activations".
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
KIND_CODES = {"closed": 0, "piecewise": 1, "smooth": 2, "kinked": 3}


# closed-form families (``Activation.closed_form``): the kernels branch on these, never on a name
CLOSED_FORMS = {None: -1, "arcsine": 0, "relu": 1, "leaky": 2, "linear": 3}
# piecewise forms (``Activation.piecewise_form``): exponential left branch (elu, selu) or a clip (hard_tanh)
PIECEWISE_FORMS = {None: -1, "exp": 0, "clip": 1}
GENERIC_ACTIVE_SCALE = 42.0  # |u| beyond which a smooth activation is linear or constant to double precision


@dataclass(frozen=True)
class Activation:
    name: str
    code: int
    kind: str  # "closed" | "smooth" | "piecewise" | "kinked" (an expression with kinks)
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
    phi_prime_jumps_at: tuple = ()  # an expression: phi'(k+) - phi'(k-) at each of its kinks (0.0: phi' continuous)

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

# ----------------------------------------------------------------------------- the expression slot
# One more code, after the registered ones and not in NAMES: the activation given as an expression
# (``--activation 'x*tanh(softplus(x))'``), at most one per process.  Its row of the per-code tables is
# filled by ``install_expression`` from the facts ``expression.analyze`` establishes, or from the neutral
# placeholder below when none is installed.  The tables are compile-time constants of the kernels, so
# the slot is filled before any kernel module is imported, and the kernels compiled with an expression
# are cached in a folder of their own (``phasecli.runtime.cache.cache_subdir``).
EXPRESSION_CODE = len(_BY_CODE)
MAX_EXPRESSION_KINKS = 4  # kinks of an expression the kernels take (``functions.kinks``' buffers)
_PLACEHOLDER = Activation("<expression>", EXPRESSION_CODE, "smooth", "no expression installed", False, False, False)
_installed = None  # (Expression, Activation) of the installed expression, or None


def _fill_tables(slot: Activation) -> None:
    """(Re)build the per-code tables (module globals) with ``slot`` in the expression slot."""
    rows = list(_BY_CODE) + [slot]
    g = globals()
    g["KIND_CODE"] = tuple(a.kind_code for a in rows)
    g["HOMOGENEOUS"] = tuple(bool(a.homogeneous) for a in rows)
    g["BOUNDED"] = tuple(bool(a.bounded) for a in rows)  # unknown (None): not known bounded, no shortcut taken
    g["KINK_COUNT"] = tuple(len(a.kinks) for a in rows)
    g["KINK_0"] = tuple(a.kinks[0] if a.kinks else 0.0 for a in rows)
    g["KINK_1"] = tuple(a.kinks[1] if len(a.kinks) > 1 else 0.0 for a in rows)
    g["CLOSED_FORM"] = tuple(CLOSED_FORMS[a.closed_form] for a in rows)
    g["PIECEWISE_FORM"] = tuple(PIECEWISE_FORMS[a.piecewise_form] for a in rows)
    g["FIXED_SLOPE"] = tuple(math.nan if a.fixed_slope is None else a.fixed_slope for a in rows)
    g["EXP_LAMBDA"] = tuple(a.exp_lambda for a in rows)
    g["EXP_ALPHA"] = tuple(a.exp_alpha for a in rows)
    g["EXP_SCALE"] = tuple(a.exp_scale for a in rows)
    g["JUMP_AT_ZERO"] = tuple(a.jump_at_zero for a in rows)
    g["ACTIVE_SCALE"] = tuple(1e300 if a.active_scale == math.inf else a.active_scale for a in rows)
    g["D2PHI_AT_ZERO"] = tuple(0.0 if a.d2phi_at_zero is None else a.d2phi_at_zero for a in rows)
    g["GAP_NOISE"] = tuple(a.gap_noise for a in rows)
    g["EXPRESSION_KINKS"] = tuple(float(slot.kinks[i]) if i < len(slot.kinks) else 0.0
                                  for i in range(MAX_EXPRESSION_KINKS))
    g["EXPRESSION_JUMPS"] = tuple(float(slot.phi_prime_jumps_at[i]) if i < len(slot.phi_prime_jumps_at) else 0.0
                                  for i in range(MAX_EXPRESSION_KINKS))
    g["DPHI_SQ_MIN"] = tuple(a.phi_prime_sq_range[0] for a in rows)  # inf phi'^2 (``functions.gap_low``)
    g["BY_CODE"] = tuple(rows)  # BY_CODE[code] is the activation with that integer code


# the names of the per-code tables: a module holding one of them (a from-import) has compiled it in
TABLES = ("KIND_CODE", "HOMOGENEOUS", "BOUNDED", "KINK_COUNT", "KINK_0", "KINK_1", "CLOSED_FORM", "PIECEWISE_FORM",
          "FIXED_SLOPE", "EXP_LAMBDA", "EXP_ALPHA", "EXP_SCALE", "JUMP_AT_ZERO", "ACTIVE_SCALE", "D2PHI_AT_ZERO",
          "GAP_NOISE", "DPHI_SQ_MIN", "EXPRESSION_KINKS", "EXPRESSION_JUMPS", "BY_CODE")
F_ARCSINE, F_RELU, F_LEAKY, F_LINEAR = (CLOSED_FORMS[f] for f in ("arcsine", "relu", "leaky", "linear"))
P_EXP, P_CLIP = PIECEWISE_FORMS["exp"], PIECEWISE_FORMS["clip"]
_fill_tables(_PLACEHOLDER)


def installed_expression():
    """The installed :class:`phasecli.activations.expression.Expression`, or None."""
    return None if _installed is None else _installed[0]


def expression_digest() -> str | None:
    """sha256 of the installed expression's normal form (the cache key of its kernels), or None."""
    return None if _installed is None else _installed[0].digest


def expression_source() -> str | None:
    """Python source (math only) of phi, dphi, d2phi of the installed expression, or None."""
    if _installed is None:
        return None
    from phasecli.activations import expression

    return expression.generate_source(_installed[0])


def _tables_bound() -> list:
    """Modules that already hold (compiled in, or will) the current per-code tables."""
    import sys

    if "phasecli.activations.functions" in sys.modules:
        return ["phasecli.activations.functions"]
    g = globals()
    held = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("phasecli.") or name == __name__ or module is None:
            continue
        d = getattr(module, "__dict__", {})
        if any(d.get(t) is g[t] for t in TABLES):
            held.append(name)
    return held


def is_expression(name) -> bool:
    """True when ``name`` is not a registered activation's name (so it is taken as an expression)."""
    return isinstance(name, str) and name not in NAMES


def install_expression(text: str) -> Activation:
    """Parse and analyze an activation expression and put it in the expression slot; return its entry
    (``ACTIVATIONS[entry.name]``, the name being the normal form).  ExpressionError (an InputError) for
    an expression refused; InputError when another expression is already compiled into this process's
    kernels (one expression per process).  The same expression again is a no-op."""
    global _installed
    from phasecli.activations import expression
    from phasecli.errors import InputError

    expr = expression.parse(text)
    if _installed is not None and _installed[0].canonical == expr.canonical:
        _alias(text, _installed[1])
        return _installed[1]
    if _installed is None and expr.canonical in ACTIVATIONS:  # pragma: no cover (normal forms have spaces)
        return ACTIVATIONS[expr.canonical]
    held = _tables_bound()
    if held:
        now = "no expression" if _installed is None else f"the expression {_installed[0].canonical!r}"
        raise InputError(f"one expression per process: the kernels are already loaded with {now}, so "
                         f"{expr.canonical!r} needs a new process (a new phasecli command or Python interpreter; "
                         "from Python, give the expression before any kernel module is imported)", "activation")
    facts = expression.analyze(expr)
    if len(facts.kinks) > MAX_EXPRESSION_KINKS:
        raise expression.ExpressionError(f"{expr.canonical!r} has {len(facts.kinks)} kinks: the kernels take at "
                                         f"most {MAX_EXPRESSION_KINKS}")
    if facts.kinks and facts.homogeneous is not False:
        raise expression.ExpressionError(
            f"{expr.canonical!r} is (or may be) positively homogeneous (relu-like): use a registered activation "
            "(relu, leaky_relu --slope, abs, linear)")
    if not facts.kinks and facts.homogeneous is not False:
        raise expression.ExpressionError(
            f"{expr.canonical!r} is linear (c * x): use --activation linear (and scale sigma_w^2 by c^2)")
    if facts.d2phi_at_zero is None and float(expression.evaluate(expr.tree, [0.0])[0]) != 0.0:
        raise expression.ExpressionError(
            f"{expr.canonical!r} has phi(0) != 0 and a kink at 0 where phi'' jumps: phi''(0), which the length "
            "map's slope at q = 0 needs, is unknown")
    entry = expression.activation(expr, EXPRESSION_CODE, facts)
    if facts.kinks:
        entry = dataclasses.replace(entry, kind="kinked")
    for name in [n for n, a in ACTIVATIONS.items() if a.code == EXPRESSION_CODE]:
        del ACTIVATIONS[name]
    _fill_tables(entry)
    ACTIVATIONS[entry.name] = entry
    _installed = (expr, entry)
    _alias(text, entry)
    return entry


def require_closed_inner(activation: str, what: str) -> None:
    """InputError when ``activation`` is an expression with kinks: ``what`` (the convolutional and residual
    NTK / NNGP kernels) has no path for one yet (the fully connected kernels and the two-point maps do)."""
    from phasecli.errors import InputError

    entry = ACTIVATIONS.get(activation)
    if entry is not None and entry.kind == "kinked":
        raise InputError(f"{what} of an activation expression with kinks ({entry.name!r}) are not supported yet "
                         "(no error-controlled map for them); the fully connected ones are (--architecture fc)",
                         "activation")


def _alias(text: str, entry: Activation) -> None:
    """The expression's text as given also names its entry (library calls keep the caller's spelling)."""
    if isinstance(text, str) and text not in NAMES:
        ACTIVATIONS.setdefault(text, entry)


def get(name: str) -> Activation:
    """The activation called ``name``; ValueError naming the choices otherwise."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(NAMES)}") from None
