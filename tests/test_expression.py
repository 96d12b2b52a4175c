"""Activation expressions (phasecli/activations/expression.py): the whitelist parser refuses hostile text
cleanly without running anything, the normal form and its hash, the exact derivatives (against mpmath and
hand-written functions, and as generated math-only source), and the facts found at run time (against
closed forms and independent computations written here)."""

import ast
import builtins
import contextlib
import hashlib
import math
import subprocess
import sys

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from phasecli.activations import Activation
from phasecli.activations import expression as E
from phasecli.errors import InputError

# ----------------------------------------------------------------------------- hostile text
# (expression, a piece of the offending token the one-line message must quote)
HOSTILE = [
    ("x.__class__", "x.__class__"),
    ("(1).__class__", "__class__"),
    ("x.real", "x.real"),
    ("__import__('os')", "__import__"),
    ("__import__('os').system('touch /tmp/phasecli_pwned')", "system"),
    ("__builtins__", "__builtins__"),
    ("globals()", "globals"),
    ("open('f')", "open"),
    ("eval('1')", "eval"),
    ("getattr(x, 'y')", "getattr"),
    ("print(1)", "print"),
    ("math.exp(x)", "math.exp"),
    ("exp.__call__(x)", "exp.__call__"),
    ("lambda: 0", "lambda"),
    ("(lambda x: x)(1)", "lambda"),
    ("(x)**1e6", "1e6"),
    ("x**65", "65"),
    ("x**x", "x"),
    ("2**x", "x"),
    ("1/0", "1/0"),
    ("x/(1-1)", "x/(1-1)"),
    ("0**-1", "0**-1"),
    ("log(0)", "log(0)"),
    ("exp(1000)", "exp(1000)"),
    ("sqrt(-1)", "sqrt(-1)"),
    ("nan", "nan"),
    ("inf", "inf"),
    ("-inf", "inf"),
    ("1e999", "1e999"),
    ("1e308*10", "1e308"),
    ("gamma(x)", "gamma"),
    ("relu(x)", "relu"),
    ("y", "y"),
    ("X", "X"),
    ("sin", "sin"),
    ("x + " * 2600 + "x", "too long"),
    ("tanh(" * 70 + "x" + ")" * 70, "tanh(tanh("),
    ("-" * 100 + "x", "---"),
    ("exp(x=1)", "x=1"),
    ("exp(*x)", "*x"),
    ("exp(**x)", "**x"),
    ("f'{x}'", "f'{x}'"),
    ("[x for x in (1, 2)]", "for x in"),
    ("(y := x)", "y := x"),
    ("x[0]", "x[0]"),
    ("b'x'", "b'x'"),
    ("'x'", "'x'"),
    ("1j", "1j"),
    ("x + 2j", "2j"),
    ("True", "True"),
    ("None", "None"),
    ("...", "..."),
    ("x < 1", "x < 1"),
    ("x == 0", "x == 0"),
    ("where(x == 0, 1, 0)", "x == 0"),
    ("where(x, 1, 0)", "x"),
    ("where(0 < x < 1, x, 0)", "0 < x < 1"),
    ("min(x, x)", "min(x, x)"),
    ("max(1, 2, x)", "max(1, 2, x)"),
    ("exp(x, 1)", "exp(x, 1)"),
    ("exp()", "exp()"),
    ("x if x > 0 else 0", "x if x > 0 else 0"),
    ("x and 1", "x and 1"),
    ("not x", "not x"),
    ("~x", "~x"),
    ("x // 2", "//"),
    ("x % 2", "%"),
    ("x ^ 2", "^"),
    ("x @ x", "@"),
    ("{x}", "{x}"),
    ("{x: 1}", "{x: 1}"),
    ("(x, x)", "(x, x)"),
    ("[x]", "[x]"),
    ("x; import os", "; import o"),
    ("import os", "import os"),
    ("x = 1", "= 1"),
    ("x\n+1", "\\n"),
    ("x\x00", "\\x00"),
    ("\uff58", "\uff58"),
    ("await x", "await x"),
    ("(yield)", "yield"),
    ("exp(x)(1)", "exp(x)"),
    ("1e16*x", "1e16"),
    ("exp(40) * x", "exp(40)"),  # a folded constant obeys the same limit, so the normal form parses again
    ("", "empty"),
    ("tanh(x))", ")"),
]


class _Sentinel:
    """Records any attempt to evaluate, execute, compile to code or import while watching."""

    def __init__(self, monkeypatch):
        self.events = []
        self.monkeypatch = monkeypatch

    @contextlib.contextmanager
    def watch(self):
        real_compile, real_import = builtins.compile, builtins.__import__

        def no_eval(*a, **k):
            self.events.append(("eval/exec", a[:1]))
            raise AssertionError("eval/exec called")

        def only_ast(source, filename, mode, flags=0, *a, **k):
            if not flags & ast.PyCF_ONLY_AST:  # ast.parse builds a syntax tree through compile(..., PyCF_ONLY_AST)
                self.events.append(("compile", source))
                raise AssertionError("compile to code called")
            return real_compile(source, filename, mode, flags, *a, **k)

        def watched_import(name, *a, **k):
            if name in ("os", "subprocess", "sys", "shutil", "socket", "importlib"):
                self.events.append(("import", name))
            return real_import(name, *a, **k)

        with self.monkeypatch.context() as mp:
            mp.setattr(builtins, "eval", no_eval)
            mp.setattr(builtins, "exec", no_eval)
            mp.setattr(builtins, "compile", only_ast)
            mp.setattr(builtins, "__import__", watched_import)
            yield self


@pytest.fixture
def sentinel(monkeypatch):
    return _Sentinel(monkeypatch)


def test_at_least_thirty_hostile_cases():
    assert len(HOSTILE) >= 30


@pytest.mark.parametrize("text,token", HOSTILE, ids=[repr(t[:24]) for t, _ in HOSTILE])
def test_hostile_expression_is_one_clean_line_naming_the_token(text, token, sentinel, tmp_path):
    with sentinel.watch(), pytest.raises(E.ExpressionError) as info:
        E.parse(text)
    err = info.value
    msg = str(err)
    assert isinstance(err, InputError) and err.param == "activation"
    assert "\n" not in msg and msg.startswith("activation expression: ")
    assert token in msg, msg
    assert len(msg) < 300
    assert sentinel.events == []
    assert not (tmp_path / "phasecli_pwned").exists()


def test_error_column_counts_leading_blanks():
    for text, col in (("x.y", 1), ("   x.y", 4), ("  1 + gamma(x)", 7), ("  x +* 2", 6)):
        with pytest.raises(E.ExpressionError) as info:
            E.parse(text)
        assert info.value.column + 1 == col and f"(column {col})" in str(info.value)


def test_parsing_never_evaluates_user_text(sentinel):
    with sentinel.watch():
        for text in ("x * tanh(softplus(x))", "x*min(max(x+3,0),6)/6", "where(x > 0, x, 0.01 * x)", "sin(2*x)/2"):
            E.parse(text).d2phi
    assert sentinel.events == []


def test_module_import_stays_light():
    code = ("import sys, phasecli.activations.expression as e; e.parse('x * tanh(softplus(x))').d2phi; "
            "print(sorted(m for m in ('numpy', 'scipy', 'numba', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_grammar_text_lists_every_function():
    for name in E.FUNCTIONS:
        assert name in E.GRAMMAR


# ----------------------------------------------------------------------------- normal form and hash
@pytest.mark.parametrize("a,b", [
    ("tanh( x )", "tanh(x)"),
    ("x*tanh(softplus(x))", "tanh(softplus(x)) * x"),
    ("2*x", "x*2"),
    ("x + 3", "3 + x"),
    ("(x)", "x"),
    ("+x", "x"),
    ("--x", "x"),
    ("x - -3", "x + 3"),
    ("where(x > 0, x, 0)", "where(0 < x, x, 0)"),
    ("min(6, x)", "min(x, 6)"),
    ("x * 1 + 0", "x"),
    ("2.0 * x", "2 * x"),
    ("1e0 * x ** 1", "x"),
    ("where(x < 0, where(x < 0, x, 5), sin(x))", "where(x < 0, x, sin(x))"),
    ("where(x < 0, x, where(0 > x, 5, sin(x)))", "where(x < 0, x, sin(x))"),
])
def test_spellings_share_the_normal_form_and_hash(a, b):
    ea, eb = E.parse(a), E.parse(b)
    assert ea.canonical == eb.canonical
    assert ea.digest == eb.digest and len(ea.digest) == 64


def test_different_expressions_have_different_hashes():
    texts = ["tanh(x)", "tanh(2*x)", "sin(x)", "x * tanh(softplus(x))", "x", "2*x", "x + 1e-15"]
    assert len({E.parse(t).digest for t in texts}) == len(texts)


def test_hash_is_sha256_of_the_tagged_normal_form():
    # stable across runs and Python versions: sha256 of ASCII text, nothing from hash() or id()
    expr = E.parse("x * tanh(softplus(x))")
    assert expr.canonical == "x * tanh(softplus(x))"
    want = hashlib.sha256(b"phasecli-expression-v1\nx * tanh(softplus(x))").hexdigest()
    assert expr.digest == want
    out = subprocess.run([sys.executable, "-c", "import phasecli.activations.expression as e; "
                          "print(e.parse('x*tanh(softplus( x ))').digest)"], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert out.stdout.strip() == want


# ----------------------------------------------------------------------------- random smooth expressions
def _smooth_exprs():
    """(text, mpmath function) pairs of smooth expressions defined on the whole line, built independently."""
    consts = st.sampled_from([0.5, 2.0, 3.0, 1.5, 0.25, 1.25])
    leaf = st.one_of(st.just(("x", lambda x: x)),
                     consts.map(lambda c: (repr(c), lambda x, c=c: mpmath.mpf(c))))

    def extend(inner):
        unary = {
            "exp": mpmath.exp, "sin": mpmath.sin, "cos": mpmath.cos, "tanh": mpmath.tanh, "erf": mpmath.erf,
            "erfc": mpmath.erfc, "expm1": mpmath.expm1,
            "sigmoid": lambda u: 1 / (1 + mpmath.exp(-u)), "softplus": lambda u: mpmath.log(1 + mpmath.exp(u)),
        }

        def un(name):
            return inner.map(lambda p: (f"{name}({p[0]})", lambda x, f=p[1]: unary[name](f(x))))

        safe = [
            inner.map(lambda p: (f"log(1 + ({p[0]})**2)", lambda x, f=p[1]: mpmath.log(1 + f(x) ** 2))),
            inner.map(lambda p: (f"log1p(({p[0]})**2)", lambda x, f=p[1]: mpmath.log1p(f(x) ** 2))),
            inner.map(lambda p: (f"sqrt(1 + ({p[0]})**2)", lambda x, f=p[1]: mpmath.sqrt(1 + f(x) ** 2))),
            inner.map(lambda p: (f"({p[0]})**3", lambda x, f=p[1]: f(x) ** 3)),
            inner.map(lambda p: (f"-({p[0]})", lambda x, f=p[1]: -f(x))),
        ]
        binary = [
            st.tuples(inner, inner).map(lambda q: (f"({q[0][0]}) + ({q[1][0]})",
                                                   lambda x, f=q[0][1], g=q[1][1]: f(x) + g(x))),
            st.tuples(inner, inner).map(lambda q: (f"({q[0][0]}) - ({q[1][0]})",
                                                   lambda x, f=q[0][1], g=q[1][1]: f(x) - g(x))),
            st.tuples(inner, inner).map(lambda q: (f"({q[0][0]}) * ({q[1][0]})",
                                                   lambda x, f=q[0][1], g=q[1][1]: f(x) * g(x))),
            st.tuples(inner, inner).map(lambda q: (f"({q[0][0]}) / (1 + ({q[1][0]})**2)",
                                                   lambda x, f=q[0][1], g=q[1][1]: f(x) / (1 + g(x) ** 2))),
        ]
        return st.one_of(*[un(n) for n in unary], *safe, *binary)

    return st.recursive(leaf, extend, max_leaves=6)


def _kinked_exprs():
    """(text, mpmath function, switch functions) with abs, min/max with a number and where: the switch
    functions vanish where a branch changes, so the test can stay away from the kinks."""
    consts = st.sampled_from([0.5, -0.5, 1.0, -1.25, 2.0])
    smooth = _smooth_exprs().map(lambda p: (p[0], p[1], ()))

    def extend(inner):
        absolute = inner.map(lambda p: (f"abs({p[0]})", lambda x, f=p[1]: abs(f(x)), p[2] + (p[1],)))
        mins = st.tuples(inner, consts).map(lambda q: (
            f"min({q[0][0]}, {q[1]!r})", lambda x, f=q[0][1], c=q[1]: min(f(x), mpmath.mpf(c)),
            q[0][2] + ((lambda x, f=q[0][1], c=q[1]: f(x) - c),)))
        maxs = st.tuples(inner, consts).map(lambda q: (
            f"max({q[1]!r}, {q[0][0]})", lambda x, f=q[0][1], c=q[1]: max(f(x), mpmath.mpf(c)),
            q[0][2] + ((lambda x, f=q[0][1], c=q[1]: f(x) - c),)))
        wheres = st.tuples(inner, consts, inner, inner, st.sampled_from(["<", "<=", ">", ">="])).map(lambda q: (
            f"where({q[0][0]} {q[4]} {q[1]!r}, {q[2][0]}, {q[3][0]})",
            lambda x, u=q[0][1], c=q[1], a=q[2][1], b=q[3][1], op=q[4]: (
                a(x) if {"<": u(x) < c, "<=": u(x) <= c, ">": u(x) > c, ">=": u(x) >= c}[op] else b(x)),
            q[0][2] + q[2][2] + q[3][2] + ((lambda x, u=q[0][1], c=q[1]: u(x) - c),)))
        plus = st.tuples(inner, inner).map(lambda q: (f"({q[0][0]}) + ({q[1][0]})",
                                                      lambda x, f=q[0][1], g=q[1][1]: f(x) + g(x), q[0][2] + q[1][2]))
        times = st.tuples(inner, inner).map(lambda q: (f"({q[0][0]}) * ({q[1][0]})",
                                                       lambda x, f=q[0][1], g=q[1][1]: f(x) * g(x), q[0][2] + q[1][2]))
        tanh = inner.map(lambda p: (f"tanh({p[0]})", lambda x, f=p[1]: mpmath.tanh(f(x)), p[2]))
        return st.one_of(absolute, mins, maxs, wheres, plus, times, tanh)

    return st.recursive(smooth, extend, max_leaves=4)


@settings(max_examples=40, deadline=None)
@given(_kinked_exprs(), st.floats(-2.0, 2.0))
def test_derivatives_of_random_kinked_expressions_match_mpmath_away_from_kinks(triple, x):
    text, f, switches = triple
    mpmath.mp.dps = 40
    try:
        xm = mpmath.mpf(x)
        assume(all(abs(g(xm)) > 1e-6 for g in switches))  # a smooth point: no branch changes within ~1e-6
        want0, want1, want2 = f(xm), mpmath.diff(f, xm, 1), mpmath.diff(f, xm, 2)
    finally:
        mpmath.mp.dps = 15
    with mpmath.workdps(15):
        rough = f(mpmath.mpf(x))
    assume(max(abs(want0), abs(want1), abs(want2)) < 1e6)
    assume(abs(rough - want0) <= 1e-14 * max(1, abs(want0)))
    try:
        phi, dphi, d2phi = _compiled(text)
    except E.ExpressionError:
        assume(False)
    assert _close(phi(x), want0, 1e-12), text
    assert _close(dphi(x), want1, 1e-9), text
    assert _close(d2phi(x), want2, 1e-7), text


def _compiled(text):
    ns = {"math": math}
    exec(E.generate_source(E.parse(text)), ns)  # our generated text (from the whitelisted tree), not user text
    return ns["phi"], ns["dphi"], ns["d2phi"]


def _close(got, want, rel):
    want = float(want)
    return abs(got - want) <= rel * max(1.0, abs(want))


@settings(max_examples=60, deadline=None)
@given(_smooth_exprs(), st.floats(-2.0, 2.0))
def test_derivatives_of_random_expressions_match_mpmath(pair, x):
    text, f = pair
    mpmath.mp.dps = 40
    try:
        want0 = f(mpmath.mpf(x))
        want1 = mpmath.diff(f, mpmath.mpf(x), 1)
        want2 = mpmath.diff(f, mpmath.mpf(x), 2)
    finally:
        mpmath.mp.dps = 15
    with mpmath.workdps(15):  # ill-conditioned in double precision (cos(exp(19)), exp(exp(...))): not a test
        rough = f(mpmath.mpf(x))
    assume(max(abs(want0), abs(want1), abs(want2)) < 1e6)
    assume(abs(rough - want0) <= 1e-14 * max(1, abs(want0)))
    try:
        phi, dphi, d2phi = _compiled(text)
    except E.ExpressionError:  # a constant subexpression overflows or exceeds 1e15: refused
        assume(False)
    assert _close(phi(x), want0, 1e-12), text
    assert _close(dphi(x), want1, 1e-10), text
    assert _close(d2phi(x), want2, 1e-8), text
    # the numpy evaluator agrees with the generated source
    expr = E.parse(text)
    assert _close(float(E.evaluate(expr.dphi, np.array([x]))[0]), want1, 1e-10)


@settings(max_examples=60, deadline=None)
@given(_smooth_exprs())
def test_normal_form_is_a_fixed_point_and_keeps_the_function(pair):
    text, _ = pair
    try:
        expr = E.parse(text)
    except E.ExpressionError:  # a constant subexpression overflows (exp(expm1(8))): refused, and that is right
        assume(False)
    again = E.parse(expr.canonical)
    assert again.canonical == expr.canonical and again.digest == expr.digest
    xs = np.linspace(-2, 2, 9)
    a, b = E.evaluate(expr.tree, xs), E.evaluate(again.tree, xs)
    assert np.allclose(a, b, rtol=1e-13, atol=1e-13)


# ----------------------------------------------------------------------------- the four must-show activations
MISH_NP = lambda x: x * np.tanh(np.log1p(np.exp(x)))  # noqa: E731
SINE_NP = lambda x: np.sin(2 * x) / 2  # noqa: E731
HSWISH_NP = lambda x: x * np.clip(x + 3, 0, 6) / 6  # noqa: E731
HSWISH_D1 = lambda x: np.where(x < -3, 0.0, np.where(x > 3, 1.0, (2 * x + 3) / 6))  # noqa: E731
HSWISH_D2 = lambda x: np.where(np.abs(x) < 3, 1.0 / 3.0, 0.0)  # noqa: E731
MP = {
    "x * tanh(softplus(x))": lambda x: x * mpmath.tanh(mpmath.log(1 + mpmath.exp(x))),
    "sin(2*x)/2": lambda x: mpmath.sin(2 * x) / 2,
    "tanh(x)": mpmath.tanh,
}
XS = np.concatenate([np.linspace(-20, 20, 161), [-2.999, 2.999, -3.001, 3.001, 1e-3, -1e-3, 0.37]])


@pytest.mark.parametrize("text,ref", [("x * tanh(softplus(x))", MISH_NP), ("sin(2*x)/2", SINE_NP),
                                      ("x*min(max(x+3,0),6)/6", HSWISH_NP), ("tanh(x)", np.tanh)])
def test_generated_phi_matches_hand_written_numpy(text, ref):
    phi, _, _ = _compiled(text)
    got = np.array([phi(float(x)) for x in XS])
    assert np.allclose(got, ref(XS), rtol=2e-15, atol=1e-300)


@pytest.mark.parametrize("text", sorted(MP))
def test_generated_derivatives_of_smooth_must_show_activations_match_mpmath(text):
    _, dphi, d2phi = _compiled(text)
    mpmath.mp.dps = 40
    try:
        for x in XS[::3]:
            w1 = mpmath.diff(MP[text], mpmath.mpf(float(x)), 1)
            w2 = mpmath.diff(MP[text], mpmath.mpf(float(x)), 2)
            assert abs(dphi(float(x)) - float(w1)) <= 1e-14 * max(1.0, abs(float(w1))), (text, x)
            assert abs(d2phi(float(x)) - float(w2)) <= 1e-13 * max(1.0, abs(float(w2))), (text, x)
    finally:
        mpmath.mp.dps = 15


def test_generated_derivatives_of_hard_swish_away_from_kinks():
    _, dphi, d2phi = _compiled("x*min(max(x+3,0),6)/6")
    xs = XS[np.min(np.abs(XS[:, None] - np.array([-3.0, 3.0])), axis=1) > 1e-6]
    assert np.allclose([dphi(float(x)) for x in xs], HSWISH_D1(xs), rtol=1e-15, atol=1e-15)
    assert np.allclose([d2phi(float(x)) for x in xs], HSWISH_D2(xs), rtol=1e-15, atol=1e-15)
    # and by high-order finite differences of the hand-written phi
    for x in (-4.0, -1.2, 0.7, 2.5, 5.0):
        h = 1e-3
        fd = (HSWISH_NP(x - 2 * h) - 8 * HSWISH_NP(x - h) + 8 * HSWISH_NP(x + h) - HSWISH_NP(x + 2 * h)) / (12 * h)
        assert dphi(x) == pytest.approx(fd, abs=1e-10)


def test_generated_source_is_plain_math_scalar_code():
    src = E.generate_source(E.parse("x * tanh(softplus(x)) + where(x < 0, abs(x - 1), sigmoid(x))"))
    tree = ast.parse(src)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert {"phi", "dphi", "d2phi"} <= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert names <= {"x", "math", "abs"} | {f"t{i}" for i in range(1000)}
    assert attrs <= {"exp", "log1p", "tanh", "log", "expm1", "sqrt", "sin", "cos", "sinh", "cosh", "erf", "erfc",
                     "pow"}


def test_generated_source_stable_for_extreme_arguments():
    phi, dphi, d2phi = _compiled("x * tanh(softplus(x)) + sigmoid(x) + softplus(-x)")
    for x in (-745.0, -700.0, 700.0, 1e6):
        for f in (phi, dphi, d2phi):
            assert math.isfinite(f(x))


def test_generated_source_compiles_with_numba():
    numba = pytest.importorskip("numba")
    for text in ("x * tanh(softplus(x))", "x*min(max(x+3,0),6)/6"):
        ns = {"math": math}
        exec(E.generate_source(E.parse(text)), ns)
        for name in ("phi", "dphi", "d2phi"):
            jitted = numba.njit(ns[name])
            for x in (-3.5, -3.0, -0.2, 0.0, 1.3, 3.0, 7.0):
                assert jitted(x) == pytest.approx(ns[name](x), rel=1e-15, abs=1e-300)


# ----------------------------------------------------------------------------- facts found at run time
def _silu_sup():
    """sup silu'^2 at the root of x tanh(x/2) = 2 (Newton), as in the literature."""
    x = 2.4
    for _ in range(60):
        t = math.tanh(0.5 * x)
        x -= (x * t - 2.0) / (t + 0.5 * x * (1.0 - t * t))
    s = 1.0 / (1.0 + math.exp(-x))
    return (s * (1.0 + x * (1.0 - s))) ** 2


def _mish_sup():
    mpmath.mp.dps = 30
    try:
        f = MP["x * tanh(softplus(x))"]
        xm = mpmath.findroot(lambda t: mpmath.diff(f, t, 2), 1.2)
        return float(mpmath.diff(f, xm, 1) ** 2)
    finally:
        mpmath.mp.dps = 15


@pytest.mark.parametrize("text,sup", [
    ("tanh(x)", 1.0), ("sigmoid(x)", 1.0 / 16.0), ("erf(x)", 4.0 / math.pi), ("sin(2*x)/2", 1.0),
    ("x*sigmoid(x)", None), ("x * tanh(softplus(x))", None),
    ("x * erfc(-x / sqrt(2)) / 2", (0.5 * math.erfc(-1.0) + math.sqrt(2) * math.exp(-1.0) / math.sqrt(2 * math.pi))
     ** 2),
    ("x*min(max(x+3,0),6)/6", 2.25), ("softplus(x)", 1.0),
])
def test_sup_of_phi_prime_squared(text, sup):
    if sup is None:
        sup = _silu_sup() if "sigmoid" in text else _mish_sup()
    lo, hi = E.analyze(text).phi_prime_sq_range
    assert sup <= hi <= sup * (1 + 3e-14)
    assert 0.0 <= lo <= 1e-13 * hi


def test_range_of_phi_prime_squared_bounded_away_from_zero_and_infinite():
    assert E.analyze("x").phi_prime_sq_range == pytest.approx((1.0, 1.0), rel=1e-13)
    lo, hi = E.analyze("2*x + 0.5*sin(x)").phi_prime_sq_range  # phi' = 2 + cos(x)/2 in [1.5, 2.5]
    assert 2.25 - 2e-14 * 6.25 <= lo <= 2.25 and 6.25 <= hi <= 6.25 * (1 + 2e-14)
    assert E.analyze("x**2").phi_prime_sq_range[1] == math.inf


def test_hard_swish_facts():
    f = E.analyze("x*min(max(x+3,0),6)/6")
    assert f.kind == "piecewise"
    assert f.kinks == (-3.0, 3.0)
    # phi' = 0 | (2x + 3)/6 | 1: jumps -1/2 at -3 and 1 - 3/2 = -1/2 at 3
    assert f.phi_prime_jumps_at == pytest.approx((-0.5, -0.5), abs=1e-12)
    assert f.phi_prime_jumps and f.jump_sq == pytest.approx(0.5, abs=1e-12)
    assert (f.odd, f.bounded, f.homogeneous, f.oscillatory) == (False, False, False, False)
    assert f.active_scale == 3.0
    assert f.d2phi_at_zero == pytest.approx(1.0 / 3.0, rel=1e-15)


@pytest.mark.parametrize("text,kinks,jumps", [
    ("max(x, 0)", (0.0,), (1.0,)),
    ("abs(x)", (0.0,), (2.0,)),
    ("where(x > 0, x, 0.1 * x)", (0.0,), (0.9,)),
    ("min(max(x, -1), 1)", (-1.0, 1.0), (1.0, -1.0)),
    ("where(x < 0, expm1(x), x)", (0.0,), (0.0,)),  # elu: phi' continuous, phi'' jumps
    ("1.0507009873554805 * where(x < 0, 1.6732632423543772 * expm1(x), x)", (0.0,),
     (1.0507009873554805 * (1 - 1.6732632423543772),)),
    ("abs(2*x - 1)", (0.5,), (4.0,)),
    ("max(3*x + 1, 0)", (-1.0 / 3.0,), (3.0,)),
    ("abs(x**3 - 2)", (2.0 ** (1.0 / 3.0),), (6.0 * 2.0 ** (2.0 / 3.0),)),  # not affine: scan and bisection
    ("where(tanh(x) < 0.5, x, 2 * x - 0.5493061443340549)", (math.atanh(0.5),), (1.0,)),  # continuous
    ("x / (1 + abs(x))", (0.0,), (0.0,)),  # softsign: phi'' jumps at 0
    ("abs(max(x, 0))", (0.0,), (1.0,)),  # abs's argument is 0 on a half-line: no switch of abs there
    ("where(max(x - 1, 0) <= 0, 0, x - 1)", (1.0,), (1.0,)),  # the condition switches where the zeros end
    ("where(x**3 - 2 < 0, 0, x**3 - 2)", (2.0 ** (1.0 / 3.0),), (3.0 * 2.0 ** (2.0 / 3.0),)),
    ("max(x, 0) + min(x, 0)", (), ()),  # = x: nothing happens at 0
    ("where(x < 2, sin(x), sin(x))", (), ()),
])
def test_kinks_and_jumps(text, kinks, jumps):
    f = E.analyze(text)
    assert f.kinks == pytest.approx(kinks, rel=1e-14, abs=1e-15)
    assert f.phi_prime_jumps_at == pytest.approx(jumps, rel=1e-9, abs=1e-12)
    assert f.kind == ("piecewise" if kinks else "smooth")


@pytest.mark.parametrize("text,odd,bounded,homogeneous", [
    ("tanh(x)", True, True, False),
    ("sin(2*x)/2", True, True, False),
    ("x * tanh(softplus(x))", False, False, False),
    ("x*min(max(x+3,0),6)/6", False, False, False),
    ("x", True, False, True),
    ("max(x, 0)", False, False, True),
    ("abs(x)", False, False, True),
    ("where(x < 0, 0.1 * x, x)", False, False, True),
    ("x * sin(1)", True, False, True),
    ("x**3", True, False, False),
    ("x * tanh(x)", False, False, False),
    ("exp(-x**2)", False, True, False),
    ("sigmoid(x)", False, True, False),
    ("1 / (1 + x**2)", False, True, False),
    ("1 / (-2 - x**2)", False, True, False),
    ("x / (2 + sin(x))", False, False, False),
    ("tanh(x) / -3", True, True, False),
    ("x / (1 + abs(x))", True, None, False),  # bounded by 1, but interval arithmetic cannot show it
    ("sigmoid(x) - 0.5", None, True, False),  # odd, but not by the parity rules
    ("min(max(x, -1), 1)", True, True, False),  # a symmetric clip of an odd function
    ("max(min(2 * x, 1.5), -1.5)", True, True, False),
    ("min(max(x, -1), 2)", False, True, False),
])
def test_parity_boundedness_homogeneity_established_or_unknown(text, odd, bounded, homogeneous):
    f = E.analyze(text)
    assert (f.odd, f.bounded, f.homogeneous) == (odd, bounded, homogeneous)
    assert set(f.unknown) >= {n for n, v in (("odd", odd), ("bounded", bounded), ("homogeneous", homogeneous))
                              if v is None}


def test_active_scale():
    t = E.analyze("tanh(x)").active_scale
    assert 1.0 - math.tanh(t) ** 2 < 1e-15 < 1.0 - math.tanh(0.8 * t) ** 2
    g = E.analyze("x * erfc(-x / sqrt(2)) / 2").active_scale  # gelu: phi'' = phi(x)(2 - x^2)
    assert math.exp(-g * g / 2) * g * g < 1e-15 < math.exp(-0.8 * g * 0.8 * g / 2)
    assert E.analyze("sin(2*x)/2").active_scale == math.inf
    assert E.analyze("x**2").active_scale == math.inf
    assert E.analyze("exp(x)").active_scale == math.inf  # overflows, never linear
    assert E.analyze("max(x, 0)").active_scale == 0.0
    assert E.analyze("x").active_scale == 0.0
    assert E.analyze("x * tanh(softplus(x))").active_scale < 60.0


@pytest.mark.parametrize("text,want", [("softplus(x)", 0.25), ("x*sigmoid(x)", 0.5),
                                       ("x * erfc(-x / sqrt(2)) / 2", 2.0 / math.sqrt(2 * math.pi)),
                                       ("tanh(x)", 0.0), ("max(x, 0)", 0.0), ("where(x < 0, expm1(x), x)", None)])
def test_d2phi_at_zero(text, want):
    got = E.analyze(text).d2phi_at_zero
    assert got is None if want is None else got == pytest.approx(want, rel=1e-14, abs=1e-300)


def test_mish_d2phi_at_zero_against_mpmath():
    want = float(mpmath.diff(MP["x * tanh(softplus(x))"], 0, 2))
    assert E.analyze("x * tanh(softplus(x))").d2phi_at_zero == pytest.approx(want, rel=1e-14)


def test_oscillatory():
    assert E.analyze("sin(2*x)/2").oscillatory
    assert E.analyze("x + 0.1 * cos(x)").oscillatory
    assert not E.analyze("sin(tanh(x))").oscillatory
    assert not E.analyze("tanh(x)").oscillatory


@pytest.mark.parametrize("text,words", [
    ("log(x)", "phi is"), ("sqrt(x)", "phi is"), ("x**0.5", "phi is"), ("1/x", "x = 0"),
    ("1 / (x - 0.123456789)", "division by zero"), ("x**-1", "x = 0"),
    ("where(x < 0, -1, 1)", "phi jumps at x = 0 (from -1 to 1)"), ("abs(sin(x))", "more than 16 kinks"),
    (" + ".join(f"abs(x - {k})" for k in range(17)), "17 kinks"), ("sqrt(abs(x))", "phi'"),
    ("where(x < 1, 0, 1) * x", "phi jumps"),
])
def test_analysis_refuses_activations_not_finite_or_not_continuous(text, words):
    with pytest.raises(E.ExpressionError) as info:
        E.analyze(text)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_activation_record():
    act = E.activation("x*min(max(x+3,0),6)/6", code=99)
    assert isinstance(act, Activation)
    assert act.name == "x * min(max(x + 3, 0), 6) / 6" and act.code == 99
    assert act.kind == "piecewise" and act.kinks == (-3.0, 3.0) and act.phi_prime_jumps
    assert act.jump_sq() == pytest.approx(0.5, abs=1e-12)
    assert act.dphi_sq_range() == act.phi_prime_sq_range
    assert act.closed_form is None and act.piecewise_form is None
    sine = E.activation("sin(2*x)/2")
    assert sine.oscillatory and sine.active_scale == math.inf and sine.odd is True and sine.code == -1
    unknown = E.activation("x / (1 + abs(x))")
    assert unknown.bounded is None


# the registered activations written as expressions: the facts found at run time agree with the registry's
# (where the run-time one is established; the registry is itself checked against tests/naive.py)
AS_EXPRESSIONS = {
    "tanh": "tanh(x)", "erf": "erf(x)", "relu": "max(x, 0)", "leaky_relu": "where(x > 0, x, 0.01 * x)",
    "elu": "where(x > 0, x, expm1(x))", "selu": "1.0507009873554805 * where(x > 0, x, 1.6732632423543772 * expm1(x))",
    "gelu": "x * erfc(-x / sqrt(2)) / 2", "silu": "x * sigmoid(x)", "softplus": "softplus(x)",
    "sigmoid": "sigmoid(x)", "sin": "sin(x)", "linear": "x", "hard_tanh": "min(max(x, -1), 1)", "abs": "abs(x)",
}


@pytest.mark.parametrize("name", sorted(AS_EXPRESSIONS))
def test_registered_activations_as_expressions_agree_with_the_registry(name):
    from phasecli.activations import ACTIVATIONS

    reg = ACTIVATIONS[name]
    f = E.analyze(AS_EXPRESSIONS[name])
    for fact in ("odd", "bounded", "homogeneous"):
        assert getattr(f, fact) in (None, getattr(reg, fact)), fact
    assert f.kinks == reg.kinks
    assert f.phi_prime_jumps == reg.phi_prime_jumps
    assert f.jump_sq == pytest.approx(reg.jump_sq(0.01), rel=1e-9, abs=1e-12)
    assert f.kind == ("piecewise" if reg.kinks else "smooth")
    lo, hi = reg.dphi_sq_range(0.01)
    assert f.phi_prime_sq_range[1] == pytest.approx(hi, rel=1e-13)
    assert lo - 1e-13 <= f.phi_prime_sq_range[0]
    assert f.oscillatory == reg.oscillatory
    if f.d2phi_at_zero is not None and reg.kind == "smooth":
        assert f.d2phi_at_zero == pytest.approx(reg.d2phi_at_zero, abs=1e-15)
    assert (f.active_scale == math.inf) == (reg.active_scale == math.inf)
