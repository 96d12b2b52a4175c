"""Activations given as an expression in x: parsing, normal form, exact derivatives, facts, source.

An activation can be written as an expression in ``x`` over a fixed whitelist::

    number      123, 0.5, 1e-3, 2.5E+2          (finite; |value| <= 1e15)
    x           the variable (the only name besides the functions below)
    a + b   a - b   a * b   a / b   -a   +a
    a ** c      c a number (or -number), |c| <= 64
    exp log log1p expm1 sqrt abs sin cos tanh sinh cosh erf erfc sigmoid softplus   (one argument)
    min(a, c)   max(a, c)     one argument a number, the other an expression in x
    where(l OP r, a, b)       a where l OP r holds, else b; OP one of < <= > >=

sigmoid(u) = 1 / (1 + exp(-u)) and softplus(u) = log(1 + exp(u)) are evaluated in their
numerically stable forms.  Examples:

    Mish                 x * tanh(softplus(x))
    a scaled sine        sin(2*x)/2
    hard-swish           x * min(max(x + 3, 0), 6) / 6        (kinks at x = -3 and x = 3)
    elu, written out     where(x < 0, expm1(x), x)             (kink at 0, phi' continuous)

Anything else (other names, attribute access, subscripts, keyword arguments, strings,
comparisons outside ``where``, ...) is refused with a one-line :class:`ExpressionError` that
names the offending token.  The text is only ever parsed into a syntax tree
(``ast.parse``); it is never evaluated, executed or compiled to code.  Limits: at most
``MAX_LENGTH`` characters, ``MAX_NODES`` syntax nodes, nesting depth ``MAX_DEPTH``.

What this module provides (pure Python; numpy and scipy are imported only by
:func:`analyze`):

- :func:`parse` -> :class:`Expression` (``.tree``, ``.canonical``, ``.digest``, ``.dphi``,
  ``.d2phi``): the normal form is a canonical string (``"tanh( x )"`` and ``"tanh(x)"`` give
  the same), its sha256 the cache key;
- :func:`derivative`: exact symbolic d/dx over the whitelist, with constant folding and the
  simplifications x*0, x*1, x+0, ... (a dozen rules, a few hundred lines: no sympy, whose
  import alone takes longer than phasecli's ``--help``);
- :func:`generate_source`: Python source of ``phi(x)``, ``dphi(x)``, ``d2phi(x)`` using only
  the ``math`` module (scalar code numba's ``njit`` compiles);
- :func:`analyze` -> :class:`ExpressionFacts`: the registry's facts found at run time
  (kind, parity, boundedness, homogeneity, kinks and jumps of phi', range of phi'^2, active
  scale), each either established or ``None`` (unknown), never guessed;
- :func:`activation`: an :class:`phasecli.activations.Activation` built from those facts.
"""

from __future__ import annotations

import ast
import hashlib
import math
from dataclasses import dataclass, field

from phasecli.errors import InputError

MAX_LENGTH = 500  # characters of the expression text
MAX_NODES = 200  # nodes of its syntax tree
MAX_DEPTH = 64  # nesting depth of the syntax tree (a sum of n terms is n deep)
MAX_EXPONENT = 64.0  # |c| in a ** c
MAX_CONSTANT = 1e15  # |number|
MAX_DERIVATIVE_NODES = 200_000  # distinct nodes of phi'' (a guard against pathological growth)

UNARY_FUNCTIONS = ("exp", "log", "log1p", "expm1", "sqrt", "abs", "sin", "cos", "tanh", "sinh", "cosh", "erf",
                   "erfc", "sigmoid", "softplus")
FUNCTIONS = UNARY_FUNCTIONS + ("min", "max", "where")
COMPARISONS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}

GRAMMAR = __doc__.split("::\n\n", 1)[1].split("\n\nsigmoid(u)", 1)[0]  # the grammar block above, for listings
HASH_SCHEME = "phasecli-expression-v1"  # changes when the normal form's rules change (invalidates cache keys)


class ExpressionError(InputError):
    """An activation expression refused: one line naming the offending token (``param='activation'``)."""

    def __init__(self, message: str, token: str | None = None, column: int | None = None):
        text = f"activation expression: {message}"
        if column is not None:
            text += f" (column {column + 1})"
        super().__init__(text, "activation")
        self.token = token
        self.column = column


class _FoldError(Exception):
    """Constant folding failed (division by zero, overflow, domain); reported against the source."""


# ----------------------------------------------------------------------------- the expression tree
def _fmt_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


# precedence for printing: 1 sums, 2 products, 3 unary minus, 4 powers, 5 atoms (calls, x, numbers >= 0)
class Node:
    """A node of an expression tree, immutable and interned by its canonical text ``key``.

    ``op`` is one of: const (``value``), x, add, mul, div, neg, pow (``value`` = exponent), fn
    (``name``), min / max (``value`` = the constant), where (``name`` = comparison "<" or "<=",
    ``args`` = (l, r, a, b)).
    """

    __slots__ = ("op", "args", "value", "name", "key", "prec", "_hash")

    def __init__(self, op: str, args: tuple = (), value: float | None = None, name: str | None = None):
        self.op = op
        self.args = args
        self.value = value
        self.name = name
        self.key, self.prec = self._render()
        self._hash = hash(self.key)

    def __eq__(self, other):
        return isinstance(other, Node) and self.key == other.key

    def __hash__(self):
        return self._hash

    def __repr__(self):
        return f"Node({self.key!r})"

    @property
    def is_const(self) -> bool:
        return self.op == "const"

    def _render(self):
        op, a = self.op, self.args
        if op == "const":
            s = _fmt_number(self.value)
            return s, (3 if self.value < 0 else 5)
        if op == "x":
            return "x", 5
        if op == "add":
            left = _paren(a[0], 1, False)
            rhs = a[1]
            if rhs.op == "neg":
                return f"{left} - {_paren(rhs.args[0], 1, True)}", 1
            if rhs.op == "const" and rhs.value < 0:
                return f"{left} - {_fmt_number(-rhs.value)}", 1
            return f"{left} + {_paren(rhs, 1, True)}", 1
        if op in ("mul", "div"):
            sym = " * " if op == "mul" else " / "
            return _paren(a[0], 2, False) + sym + _paren(a[1], 2, True), 2
        if op == "neg":
            return "-" + _paren(a[0], 3, False), 3
        if op == "pow":
            return f"{_paren(a[0], 4, True)} ** {_fmt_number(self.value)}", 4
        if op == "fn":
            return f"{self.name}({a[0].key})", 5
        if op in ("min", "max"):
            return f"{op}({a[0].key}, {_fmt_number(self.value)})", 5
        if op == "where":
            return f"where({a[0].key} {self.name} {a[1].key}, {a[2].key}, {a[3].key})", 5
        raise AssertionError(op)


def _paren(node: Node, prec: int, strict: bool) -> str:
    """node's text, in parentheses when it binds less tightly than ``prec`` (or equally, if ``strict``)."""
    if node.prec < prec or (strict and node.prec == prec):
        return f"({node.key})"
    return node.key


X = Node("x")


def const(v: float) -> Node:
    v = float(v)
    if not math.isfinite(v):
        raise _FoldError("a constant is not finite")
    if v == 0.0:
        v = 0.0  # no -0.0 in the normal form
    return Node("const", value=v)


ZERO, ONE = const(0.0), const(1.0)


def _fold(fn, *vals) -> Node:
    try:
        v = fn(*vals)
    except ZeroDivisionError:
        raise _FoldError("division by zero") from None
    except OverflowError:
        raise _FoldError("a constant overflows") from None
    except ValueError:
        raise _FoldError("a function is evaluated outside its domain") from None
    if isinstance(v, complex) or not math.isfinite(v):
        raise _FoldError("a constant is not finite (overflow or domain)")
    return const(v)


def _order(a: Node, b: Node):
    """Operands of + and * in a canonical order (exact: a + b == b + a in floating point)."""
    ka = (0 if a.is_const else 1, 1 if a.op == "neg" else 0, len(a.key), a.key)
    kb = (0 if b.is_const else 1, 1 if b.op == "neg" else 0, len(b.key), b.key)
    return (a, b) if ka <= kb else (b, a)


def add(a: Node, b: Node) -> Node:
    if a.is_const and b.is_const:
        return _fold(lambda p, q: p + q, a.value, b.value)
    if a == ZERO:
        return b
    if b == ZERO:
        return a
    ka = (1 if a.is_const else 0, 1 if a.op == "neg" else 0, len(a.key), a.key)
    kb = (1 if b.is_const else 0, 1 if b.op == "neg" else 0, len(b.key), b.key)
    return Node("add", (a, b) if ka <= kb else (b, a))  # x - y + 3: terms, negated terms, the constant


def neg(a: Node) -> Node:
    if a.is_const:
        return const(-a.value)
    if a.op == "neg":
        return a.args[0]
    return Node("neg", (a,))


def sub(a: Node, b: Node) -> Node:
    if a == b:
        return ZERO
    return add(a, neg(b))


def mul(a: Node, b: Node) -> Node:
    if a.is_const and b.is_const:
        return _fold(lambda p, q: p * q, a.value, b.value)
    if a == ZERO or b == ZERO:
        return ZERO
    if a == ONE:
        return b
    if b == ONE:
        return a
    a, b = _order(a, b)
    if a.is_const and a.value == -1.0:
        return neg(b)
    if a.is_const and b.op == "mul" and b.args[0].is_const:  # c1 * (c2 * u) -> (c1 c2) * u
        return mul(_fold(lambda p, q: p * q, a.value, b.args[0].value), b.args[1])
    if a.is_const and b.op == "neg":
        return mul(const(-a.value), b.args[0])
    if a.op == "neg" and b.op == "neg":
        return mul(a.args[0], b.args[0])
    if a.op == "neg" or b.op == "neg":
        return neg(mul(a.args[0] if a.op == "neg" else a, b.args[0] if b.op == "neg" else b))
    return Node("mul", (a, b))


def div(a: Node, b: Node) -> Node:
    if b == ZERO:
        raise _FoldError("division by zero")
    if a.is_const and b.is_const:
        return _fold(lambda p, q: p / q, a.value, b.value)
    if a == ZERO:
        return ZERO
    if b == ONE:
        return a
    if b.is_const and b.value == -1.0:
        return neg(a)
    if a.op == "neg":
        return neg(div(a.args[0], b))
    if b.op == "neg":
        return neg(div(a, b.args[0]))
    return Node("div", (a, b))


def power(a: Node, c: float) -> Node:
    c = float(c)
    if not math.isfinite(c) or abs(c) > MAX_EXPONENT:
        raise _FoldError(f"the exponent {c:g} is too large (|exponent| <= {MAX_EXPONENT:g})")
    if a.is_const:
        return _fold(_pow, a.value, c)
    if c == 0.0:
        return ONE
    if c == 1.0:
        return a
    if a.op == "neg" and c == int(c):
        inner = power(a.args[0], c)
        return inner if int(c) % 2 == 0 else neg(inner)
    return Node("pow", (a,), value=c)


def _pow(base: float, c: float) -> float:
    if base == 0.0 and c < 0:
        raise ZeroDivisionError
    return math.pow(base, c)


def _sigmoid(u: float) -> float:
    if u >= 0.0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


def _softplus(u: float) -> float:
    return math.log1p(math.exp(-abs(u))) + max(u, 0.0)


SCALAR = {"exp": math.exp, "log": math.log, "log1p": math.log1p, "expm1": math.expm1, "sqrt": math.sqrt,
          "abs": abs, "sin": math.sin, "cos": math.cos, "tanh": math.tanh, "sinh": math.sinh, "cosh": math.cosh,
          "erf": math.erf, "erfc": math.erfc, "sigmoid": _sigmoid, "softplus": _softplus}


def fn(name: str, a: Node) -> Node:
    if a.is_const:
        return _fold(SCALAR[name], a.value)
    if name == "abs" and a.op == "neg":
        return fn("abs", a.args[0])
    return Node("fn", (a,), name=name)


def minmax(op: str, a: Node, c: float) -> Node:
    if a.is_const:
        return const(min(a.value, c) if op == "min" else max(a.value, c))
    return Node(op, (a,), value=float(c))


def where(cmp: str, left: Node, right: Node, a: Node, b: Node) -> Node:
    """a where (left cmp right) else b; cmp one of < <= > >= (> and >= are stored swapped as < and <=)."""
    if cmp in (">", ">="):
        cmp, left, right = cmp.replace(">", "<"), right, left
    if left.is_const and right.is_const:
        holds = left.value < right.value if cmp == "<" else left.value <= right.value
        return a if holds else b
    if a.op == "where" and (a.name, a.args[0], a.args[1]) == (cmp, left, right):
        a = a.args[2]  # where(c, where(c, p, q), r) = where(c, p, r)
    if b.op == "where" and (b.name, b.args[0], b.args[1]) == (cmp, left, right):
        b = b.args[3]  # where(c, p, where(c, q, r)) = where(c, p, r)
    if a == b:
        return a
    return Node("where", (left, right, a, b), name=cmp)


# ----------------------------------------------------------------------------- parsing (ast, whitelist only)
_REFUSED = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambda", ast.IfExp:
    "conditional expressions (use where(cond, a, b))", ast.BoolOp: "and / or", ast.NamedExpr: "assignment (:=)",
    ast.List: "lists", ast.Tuple: "tuples", ast.Set: "sets", ast.Dict: "dicts", ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions", ast.DictComp: "comprehensions", ast.GeneratorExp: "generator expressions",
    ast.JoinedStr: "f-strings", ast.FormattedValue: "f-strings", ast.Starred: "starred arguments",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "slices",
}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_OTHER_BINOPS = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.BitXor: "^ (for powers write **)",
                 ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>"}


class _Parser:
    def __init__(self, text: str, offset: int = 0):
        self.text = text  # stripped; ``offset`` characters of leading blanks were removed
        self.offset = offset
        self.nodes = 0

    def token(self, node) -> str:
        seg = ast.get_source_segment(self.text, node)
        return seg if seg is not None else type(node).__name__

    def fail(self, node, what: str):
        tok = self.token(node)
        shown = tok if len(tok) <= 40 else tok[:37] + "..."
        col = getattr(node, "col_offset", None)
        raise ExpressionError(f"{shown!r}: {what}", tok, None if col is None else col + self.offset)

    def convert(self, node, depth: int = 1) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(node, f"too long: more than {MAX_NODES} terms")
        if depth > MAX_DEPTH:
            self.fail(node, f"nested more than {MAX_DEPTH} deep")
        try:
            out = self._convert(node, depth)
        except _FoldError as exc:
            self.fail(node, str(exc))
        if out.is_const and abs(out.value) > MAX_CONSTANT:  # literals and folded constants alike
            self.fail(node, f"number too large (|number| <= {MAX_CONSTANT:g})")
        return out

    def _const_value(self, node, depth) -> float | None:
        """The value of a subtree without x (a number after folding), else None."""
        sub = self.convert(node, depth)
        return sub.value if sub.is_const else None

    def _convert(self, node, depth) -> Node:
        kind = type(node)
        if kind is ast.Constant:
            v = node.value
            if isinstance(v, bool) or v is None or v is Ellipsis:
                self.fail(node, "not a number")
            if isinstance(v, complex):
                self.fail(node, "complex numbers are not allowed")
            if isinstance(v, (str, bytes)):
                self.fail(node, "strings are not allowed")
            if not isinstance(v, (int, float)):
                self.fail(node, "not a number")
            try:
                f = float(v)
            except OverflowError:
                self.fail(node, "number too large")
            if not math.isfinite(f):
                self.fail(node, "non-finite number")
            if abs(f) > MAX_CONSTANT:
                self.fail(node, f"number too large (|number| <= {MAX_CONSTANT:g})")
            return const(f)
        if kind is ast.Name:
            if node.id == "x":
                return X
            if node.id in FUNCTIONS:
                self.fail(node, f"{node.id} is a function; call it as {node.id}(...)")
            if node.id.lower() in ("nan", "inf", "infinity"):
                self.fail(node, "non-finite numbers are not allowed")
            self.fail(node, "unknown name (the variable is x; functions: " + ", ".join(FUNCTIONS) + ")")
        if kind is ast.UnaryOp:
            inner = self.convert(node.operand, depth + 1)
            if isinstance(node.op, ast.USub):
                return neg(inner)
            if isinstance(node.op, ast.UAdd):
                return inner
            self.fail(node, "operator not allowed (use + - * / **)")
        if kind is ast.BinOp:
            op = type(node.op)
            if op not in _BINOPS:
                sym = _OTHER_BINOPS.get(op, type(node.op).__name__)
                self.fail(node, f"operator {sym} not allowed (use + - * / **)")
            left = self.convert(node.left, depth + 1)
            if op is ast.Pow:
                c = self._const_value(node.right, depth + 1)
                if c is None:
                    self.fail(node.right, "the exponent of ** must be a number")
                if abs(c) > MAX_EXPONENT:
                    self.fail(node.right, f"exponent too large (|exponent| <= {MAX_EXPONENT:g})")
                return power(left, c)
            right = self.convert(node.right, depth + 1)
            if op is ast.Div and right == ZERO:
                self.fail(node, "division by zero")
            return {ast.Add: add, ast.Sub: sub, ast.Mult: mul, ast.Div: div}[op](left, right)
        if kind is ast.Call:
            return self._call(node, depth)
        if kind is ast.Compare:
            self.fail(node, "comparisons are allowed only as the condition of where(cond, a, b)")
        what = _REFUSED.get(kind, f"{kind.__name__} is not allowed")
        self.fail(node, what if kind not in _REFUSED else f"{what} not allowed")

    def _call(self, node, depth) -> Node:
        if not isinstance(node.func, ast.Name):
            self.fail(node.func, "only the whitelisted functions can be called")
        name = node.func.id
        if name not in FUNCTIONS:
            self.fail(node.func, "not an allowed function (allowed: " + ", ".join(FUNCTIONS) + ")")
        if node.keywords:
            self.fail(node.keywords[0], "keyword arguments are not allowed")
        for a in node.args:
            if isinstance(a, ast.Starred):
                self.fail(a, "starred arguments are not allowed")
        nargs = {"min": 2, "max": 2, "where": 3}.get(name, 1)
        if len(node.args) != nargs:
            self.fail(node, f"{name} takes {nargs} argument{'s' if nargs > 1 else ''}, got {len(node.args)}")
        if name in ("min", "max"):
            a, b = (self.convert(arg, depth + 1) for arg in node.args)
            if a.is_const and b.is_const:
                return const(min(a.value, b.value) if name == "min" else max(a.value, b.value))
            if not (a.is_const or b.is_const):
                self.fail(node, f"{name} takes an expression in x and a number")
            expr, c = (b, a.value) if a.is_const else (a, b.value)
            return minmax(name, expr, c)
        if name == "where":
            cond = node.args[0]
            if not isinstance(cond, ast.Compare):
                self.fail(cond, "the first argument of where must be a comparison (< <= > >=)")
            if len(cond.ops) != 1:
                self.fail(cond, "chained comparisons are not allowed (nest where instead)")
            op = type(cond.ops[0])
            if op not in COMPARISONS:
                self.fail(cond, "comparison not allowed (use < <= > >=)")
            left = self.convert(cond.left, depth + 2)
            right = self.convert(cond.comparators[0], depth + 2)
            a = self.convert(node.args[1], depth + 1)
            b = self.convert(node.args[2], depth + 1)
            return where(COMPARISONS[op], left, right, a, b)
        return fn(name, self.convert(node.args[0], depth + 1))


@dataclass(frozen=True, eq=False)
class Expression:
    """A parsed activation expression: ``tree`` (a :class:`Node`), its normal form ``canonical`` and
    ``digest`` (the cache key), and the trees of phi' and phi'' (``dphi``, ``d2phi``), built on first use."""

    source: str
    tree: Node
    _derivatives: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def canonical(self) -> str:
        return self.tree.key

    @property
    def digest(self) -> str:
        return digest_of(self.tree.key)

    @property
    def dphi(self) -> Node:
        if "d1" not in self._derivatives:
            self._derivatives["d1"] = _checked_derivative(self.tree)
        return self._derivatives["d1"]

    @property
    def d2phi(self) -> Node:
        if "d2" not in self._derivatives:
            self._derivatives["d2"] = _checked_derivative(self.dphi)
        return self._derivatives["d2"]


def digest_of(canonical: str) -> str:
    """sha256 (hex) of a normal form, tagged with the normal form's scheme: stable across runs and Pythons."""
    return hashlib.sha256(f"{HASH_SCHEME}\n{canonical}".encode("ascii")).hexdigest()


def parse(text) -> Expression:
    """Parse an activation expression (the grammar in this module's docstring); ExpressionError otherwise."""
    if not isinstance(text, str):
        raise ExpressionError(f"must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"too long ({len(text)} characters; at most {MAX_LENGTH})", text[:20])
    for i, ch in enumerate(text):
        if not (" " <= ch <= "~"):
            raise ExpressionError(f"character {ch!r} not allowed (printable ASCII only)", ch, i)
    if not text.strip():
        raise ExpressionError("empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")  # a syntax tree only: nothing is compiled to code or run
    except SyntaxError as exc:
        off = (exc.offset or 1) - 1
        stripped = text.strip()
        near = stripped[off:off + 10] or stripped[-10:]
        col = off + (len(text) - len(text.lstrip()))
        raise ExpressionError(f"syntax error ({exc.msg}) near {near!r}", near, col) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"cannot be parsed ({type(exc).__name__})") from None
    p = _Parser(text.strip(), len(text) - len(text.lstrip()))
    node = p.convert(tree.body)
    return Expression(text, node)


def normalize(text: str) -> str:
    """The canonical text of an expression: the same for every spelling of the same tree."""
    return parse(text).canonical


# ----------------------------------------------------------------------------- exact derivatives
def derivative(node: Node, _memo: dict | None = None) -> Node:
    """d node / dx, exact, over the whitelist.  At a kink the branch taken at equality is the one the
    function itself takes there (abs: u >= 0, min: u < c, max: u > c), so values there are one-sided."""
    memo = {} if _memo is None else _memo
    got = memo.get(node)
    if got is not None:
        return got
    d = _derivative(node, memo)
    memo[node] = d
    return d


def _derivative(n: Node, memo) -> Node:
    op = n.op
    if op == "const":
        return ZERO
    if op == "x":
        return ONE
    D = lambda m: derivative(m, memo)  # noqa: E731
    if op == "add":
        return add(D(n.args[0]), D(n.args[1]))
    if op == "neg":
        return neg(D(n.args[0]))
    if op == "mul":
        a, b = n.args
        return add(mul(D(a), b), mul(a, D(b)))
    if op == "div":
        a, b = n.args
        da, db = D(a), D(b)
        if db == ZERO:
            return div(da, b)
        return div(sub(mul(da, b), mul(a, db)), power(b, 2.0))
    if op == "pow":
        (a,), c = n.args, n.value
        return mul(mul(const(c), power(a, c - 1.0)), D(a))
    if op in ("min", "max"):
        (a,), c = n.args, n.value
        da = D(a)
        return where("<", a, const(c), da, ZERO) if op == "min" else where("<", const(c), a, da, ZERO)
    if op == "where":
        left, right, a, b = n.args
        return where(n.name, left, right, D(a), D(b))
    # fn
    (u,), name = n.args, n.name
    du = D(u)
    if du == ZERO:
        return ZERO
    if name == "exp":
        outer = n
    elif name == "log":
        return div(du, u)
    elif name == "log1p":
        return div(du, add(ONE, u))
    elif name == "expm1":
        outer = fn("exp", u)
    elif name == "sqrt":
        return div(du, mul(const(2.0), n))
    elif name == "abs":
        return where("<", u, ZERO, neg(du), du)
    elif name == "sin":
        outer = fn("cos", u)
    elif name == "cos":
        outer = neg(fn("sin", u))
    elif name == "tanh":
        outer = sub(ONE, power(n, 2.0))
    elif name == "sinh":
        outer = fn("cosh", u)
    elif name == "cosh":
        outer = fn("sinh", u)
    elif name in ("erf", "erfc"):
        outer = mul(const(2.0 / math.sqrt(math.pi)), fn("exp", neg(power(u, 2.0))))
        if name == "erfc":
            outer = neg(outer)
    elif name == "sigmoid":
        outer = mul(n, fn("sigmoid", neg(u)))  # sigma(u) sigma(-u): no cancellation in 1 - sigma
    elif name == "softplus":
        outer = fn("sigmoid", u)
    else:  # pragma: no cover - the whitelist is closed
        raise AssertionError(name)
    return mul(outer, du)


def _count(node: Node, seen: set) -> None:
    stack = [node]
    while stack:
        m = stack.pop()
        if m.key in seen:
            continue
        seen.add(m.key)
        if len(seen) > MAX_DERIVATIVE_NODES:
            return
        stack.extend(m.args)


def _checked_derivative(node: Node) -> Node:
    try:
        d = derivative(node)
    except _FoldError as exc:
        raise ExpressionError(f"cannot be differentiated: {exc}") from None
    seen: set = set()
    _count(d, seen)
    if len(seen) > MAX_DERIVATIVE_NODES:
        raise ExpressionError("too complex to differentiate (derivatives grow too large)")
    return d


def nodes(node: Node):
    """Every distinct node under ``node`` (itself included), children before parents."""
    out, seen = [], set()

    def visit(m):
        if m.key in seen:
            return
        seen.add(m.key)
        for c in m.args:
            visit(c)
        out.append(m)

    visit(node)
    return out


# ----------------------------------------------------------------------------- generated source (math only)
class _Emitter:
    """Straight-line scalar code, one temporary per distinct node (common subexpressions computed once);
    ``where`` becomes an if / else whose branches are computed only when taken."""

    def __init__(self):
        self.lines: list[str] = []
        self.count = 0

    def new(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def emit(self, node: Node, scopes: list, indent: str) -> str:
        if node.op == "x":
            return "x"
        if node.op == "const":
            return f"({node.value!r})" if node.value < 0 else repr(node.value)
        for scope in reversed(scopes):
            if node.key in scope:
                return scope[node.key]
        op = node.op
        if op == "add" and node.args[1].op == "neg":  # a - b, without a temporary for -b
            a = [self.emit(node.args[0], scopes, indent), self.emit(node.args[1].args[0], scopes, indent)]
            op = "sub"
        else:
            a = [self.emit(c, scopes, indent) for c in node.args[:2]] if op != "where" else None
        if op == "where":
            l_, r_ = (self.emit(c, scopes, indent) for c in node.args[:2])
            name = self.new()
            self.lines.append(f"{indent}if {l_} {node.name} {r_}:")
            branch = {}
            va = self.emit(node.args[2], scopes + [branch], indent + "    ")
            self.lines.append(f"{indent}    {name} = {va}")
            self.lines.append(f"{indent}else:")
            branch = {}
            vb = self.emit(node.args[3], scopes + [branch], indent + "    ")
            self.lines.append(f"{indent}    {name} = {vb}")
            scopes[-1][node.key] = name
            return name
        if op == "add":
            code = f"{a[0]} + {a[1]}"
        elif op == "sub":
            code = f"{a[0]} - {a[1]}"
        elif op == "mul":
            code = f"{a[0]} * {a[1]}"
        elif op == "div":
            code = f"{a[0]} / {a[1]}"
        elif op == "neg":
            code = f"-{a[0]}"
        elif op == "pow":
            c = node.value
            if c == 2.0:
                code = f"{a[0]} * {a[0]}"
            elif c == int(c) and abs(c) <= MAX_EXPONENT:
                code = f"{a[0]} ** {int(c)}"
            else:
                code = f"math.pow({a[0]}, {c!r})"
        elif op == "min":
            c = repr(node.value)
            code = f"{a[0]} if {a[0]} < {c} else {c}"
        elif op == "max":
            c = repr(node.value)
            code = f"{a[0]} if {a[0]} > {c} else {c}"
        elif op == "fn":
            u = a[0]
            if node.name == "abs":
                code = f"abs({u})"
            elif node.name == "sigmoid":
                e = self.new()
                self.lines.append(f"{indent}{e} = math.exp(-abs({u}))")
                code = f"1.0 / (1.0 + {e}) if {u} >= 0.0 else {e} / (1.0 + {e})"
            elif node.name == "softplus":
                code = f"math.log1p(math.exp(-abs({u}))) + ({u} if {u} > 0.0 else 0.0)"
            else:
                code = f"math.{node.name}({u})"
        else:  # pragma: no cover
            raise AssertionError(op)
        name = self.new()
        self.lines.append(f"{indent}{name} = {code}")
        scopes[-1][node.key] = name
        return name


def function_source(node: Node, name: str) -> str:
    """Source of ``def NAME(x): ...`` computing ``node`` with the math module only (float in, float out)."""
    em = _Emitter()
    result = em.emit(node, [{}], "    ")
    if result == "x" or node.is_const:
        result = f"x * 0.0 + {result}" if node.is_const else "x + 0.0"  # always a float, typed from x
    return "\n".join([f"def {name}(x):"] + em.lines + [f"    return {result}"]) + "\n"


def generate_source(expr: Expression) -> str:
    """Python source defining ``phi(x)``, ``dphi(x)`` and ``d2phi(x)`` of ``expr`` using only ``math``:
    plain scalar code that numba's ``njit`` compiles as it stands.  The text is generated from the
    whitelisted tree (numbers are written with ``repr``), never copied from the user's text."""
    head = f"# activation {expr.canonical}\n# sha256 {expr.digest}\nimport math\n\n\n"
    return head + "\n\n".join(function_source(t, n) for t, n in
                              ((expr.tree, "phi"), (expr.dphi, "dphi"), (expr.d2phi, "d2phi")))


# ----------------------------------------------------------------------------- numerical evaluation (numpy)
def evaluate(node: Node, xs):
    """``node`` at the points ``xs`` (numpy, float64; never raises on overflow or domain: inf / nan)."""
    import numpy as np

    xs = np.asarray(xs, dtype=np.float64)
    flat = xs.ravel()
    out = np.empty_like(flat)
    with np.errstate(all="ignore"):
        for s in range(0, flat.size, 8192):
            out[s:s + 8192] = _evaluate_chunk(node, flat[s:s + 8192])
    return out.reshape(xs.shape)


def _evaluate_chunk(node: Node, xs):
    import numpy as np
    from scipy import special

    memo: dict = {}
    for m in nodes(node):
        op = m.op
        if op == "const":
            v = np.full(xs.shape, m.value)
        elif op == "x":
            v = xs
        elif op == "where":
            left, right, a, b = (memo[c.key] for c in m.args)
            v = np.where(left < right if m.name == "<" else left <= right, a, b)
        else:
            a = memo[m.args[0].key]
            if op == "add":
                v = a + memo[m.args[1].key]
            elif op == "mul":
                v = a * memo[m.args[1].key]
            elif op == "div":
                v = a / memo[m.args[1].key]
            elif op == "neg":
                v = -a
            elif op == "pow":
                v = np.power(a, m.value)
            elif op == "min":
                v = np.where(a < m.value, a, m.value)
            elif op == "max":
                v = np.where(a > m.value, a, m.value)
            elif m.name == "sigmoid":
                e = np.exp(-np.abs(a))
                v = np.where(a >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))
            elif m.name == "softplus":
                v = np.log1p(np.exp(-np.abs(a))) + np.where(a > 0.0, a, 0.0)
            elif m.name in ("erf", "erfc"):
                v = getattr(special, m.name)(a)
            else:
                v = getattr(np, m.name)(a)
        memo[m.key] = v
    return memo[node.key]


# ----------------------------------------------------------------------------- symbolic facts
def _parity(n: Node, memo: dict):
    """'odd', 'even' or None (not established) for n(x) under x -> -x."""
    if n.key in memo:
        return memo[n.key]
    op = n.op
    P = lambda m: _parity(m, memo)  # noqa: E731
    r = None
    if op == "const":
        r = "even"
    elif op == "x":
        r = "odd"
    elif op == "neg":
        r = P(n.args[0])
    elif op == "add":
        pa, pb = P(n.args[0]), P(n.args[1])
        r = pa if pa == pb else None
    elif op in ("mul", "div"):
        pa, pb = P(n.args[0]), P(n.args[1])
        r = None if pa is None or pb is None else ("even" if pa == pb else "odd")
    elif op == "pow":
        pa, c = P(n.args[0]), n.value
        if pa == "even":
            r = "even"
        elif pa == "odd" and c == int(c):
            r = "odd" if int(c) % 2 else "even"
    elif op == "fn":
        pa = P(n.args[0])
        if pa == "even":
            r = "even"
        elif pa == "odd":
            r = {"sin": "odd", "tanh": "odd", "sinh": "odd", "erf": "odd", "cos": "even", "cosh": "even",
                 "abs": "even"}.get(n.name)
    elif op in ("min", "max"):
        inner = n.args[0]
        if P(inner) == "even":
            r = "even"
        elif (inner.op in ("min", "max") and inner.op != op and inner.value == -n.value
              and P(inner.args[0]) == "odd"):
            r = "odd"  # a symmetric clip: min(max(u, -c), c) or max(min(u, c), -c) of an odd u
    elif op == "where":
        left, right, a, b = (P(c) for c in n.args)
        if left == "even" and right == "even" and a == b:
            r = a
    memo[n.key] = r
    return r


ANY = "any"  # the degree of the constant 0 (homogeneous of every degree)


def _degree(n: Node, memo: dict):
    """d with n(t x) = t^d n(x) for every t > 0 (ANY for 0), or None (not established)."""
    if n.key in memo:
        return memo[n.key]
    op = n.op
    G = lambda m: _degree(m, memo)  # noqa: E731
    r = None
    if op == "const":
        r = ANY if n.value == 0.0 else 0.0
    elif op == "x":
        r = 1.0
    elif op == "neg":
        r = G(n.args[0])
    elif op == "add":
        da, db = G(n.args[0]), G(n.args[1])
        r = db if da == ANY else da if db == ANY else da if da == db else None
    elif op in ("mul", "div"):
        da, db = G(n.args[0]), G(n.args[1])
        if da is not None and db is not None:
            r = ANY if ANY in (da, db) else (da + db if op == "mul" else da - db)
    elif op == "pow":
        da = G(n.args[0])
        r = da if da in (None, ANY) else da * n.value
    elif op == "fn":
        da = G(n.args[0])
        if n.name == "abs":
            r = da
        elif da == 0.0:
            r = 0.0
    elif op in ("min", "max"):
        da = G(n.args[0])
        if n.value == 0.0 or da == 0.0:
            r = da
    elif op == "where":
        dl, dr, da, db = (G(c) for c in n.args)
        if dl is not None and dr is not None and (ANY in (dl, dr) or dl == dr):
            r = db if da == ANY else da if db == ANY else da if da == db else None
    memo[n.key] = r
    return r


_INF = math.inf


def _hull(*ivs):
    return min(i[0] for i in ivs), max(i[1] for i in ivs)


def _imul(a, b):
    def m(p, q):
        return 0.0 if p == 0.0 or q == 0.0 else p * q
    ps = [m(a[0], b[0]), m(a[0], b[1]), m(a[1], b[0]), m(a[1], b[1])]
    return min(ps), max(ps)


def _bounds(n: Node, memo: dict):
    """An interval certainly holding n(x) for every real x where n is finite ((-inf, inf): no bound known)."""
    if n.key in memo:
        return memo[n.key]
    B = lambda m: _bounds(m, memo)  # noqa: E731
    op = n.op
    whole = (-_INF, _INF)
    r = whole
    try:
        if op == "const":
            r = (n.value, n.value)
        elif op == "x":
            r = whole
        elif op == "neg":
            lo, hi = B(n.args[0])
            r = (-hi, -lo)
        elif op == "add":
            a, b = B(n.args[0]), B(n.args[1])
            r = (a[0] + b[0], a[1] + b[1])
        elif op == "mul":
            r = _imul(B(n.args[0]), B(n.args[1]))
        elif op == "div":
            a, b = B(n.args[0]), B(n.args[1])
            if b[0] > 0.0 or b[1] < 0.0:  # 1 / [b0, b1] = [1 / b1, 1 / b0] when 0 is outside (1 / inf = 0)
                r = _imul(a, (0.0 if b[1] == _INF else 1.0 / b[1], 0.0 if b[0] == -_INF else 1.0 / b[0]))
        elif op == "pow":
            lo, hi = B(n.args[0])
            c = n.value
            if c > 0 and c == int(c) and int(c) % 2 == 0:
                m = max(abs(lo), abs(hi))
                lo2 = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi)) ** c
                r = (lo2, m ** c if m != _INF else _INF)
            elif c > 0 and c == int(c):
                r = (lo ** c if lo != -_INF else -_INF, hi ** c if hi != _INF else _INF)
            elif c > 0 and lo >= 0.0:
                r = (lo ** c, hi ** c if hi != _INF else _INF)
            elif c < 0 and lo > 0.0:
                r = (hi ** c if hi != _INF else 0.0, lo ** c)
        elif op in ("min", "max"):
            lo, hi = B(n.args[0])
            c = n.value
            r = (min(lo, c), min(hi, c)) if op == "min" else (max(lo, c), max(hi, c))
        elif op == "where":
            r = _hull(B(n.args[2]), B(n.args[3]))
        else:
            lo, hi = B(n.args[0])
            name = n.name
            if name in ("sin", "cos"):
                r = (-1.0, 1.0)
            elif name in ("tanh", "erf"):
                r = (-1.0 if lo == -_INF else SCALAR[name](lo), 1.0 if hi == _INF else SCALAR[name](hi))
            elif name == "erfc":
                r = (0.0 if hi == _INF else math.erfc(hi), 2.0 if lo == -_INF else math.erfc(lo))
            elif name == "sigmoid":
                r = (0.0 if lo == -_INF else _sigmoid(lo), 1.0 if hi == _INF else _sigmoid(hi))
            elif name in ("exp", "expm1", "softplus", "sinh"):
                f = SCALAR[name]
                low = {"exp": 0.0, "expm1": -1.0, "softplus": 0.0, "sinh": -_INF}[name]
                r = (low if lo == -_INF else f(lo), _INF if hi == _INF else f(hi))
            elif name == "abs":
                r = (0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))
            elif name == "cosh":
                m = max(abs(lo), abs(hi))
                r = (1.0 if lo <= 0.0 <= hi else math.cosh(min(abs(lo), abs(hi))), _INF if m == _INF else
                     math.cosh(m))
            elif name == "sqrt" and lo >= 0.0:
                r = (math.sqrt(lo), _INF if hi == _INF else math.sqrt(hi))
            elif name == "log" and lo > 0.0:
                r = (math.log(lo), _INF if hi == _INF else math.log(hi))
            elif name == "log1p" and lo > -1.0:
                r = (math.log1p(lo), _INF if hi == _INF else math.log1p(hi))
    except (OverflowError, ValueError, ZeroDivisionError):
        r = whole
    if any(math.isnan(v) for v in r):
        r = whole
    memo[n.key] = r
    return r


def _oscillatory(tree: Node) -> bool:
    """sin or cos of an argument that is not bounded: phi oscillates out to infinity."""
    memo: dict = {}
    for m in nodes(tree):
        if m.op == "fn" and m.name in ("sin", "cos"):
            lo, hi = _bounds(m.args[0], memo)
            if lo == -_INF or hi == _INF:
                return True
    return False


# ----------------------------------------------------------------------------- facts found at run time
SCAN_HALF_WIDTH = 100.0  # |x| range of the fine scan (finiteness, kinks, sup / inf of phi'^2)
SCAN_POINTS = 65537  # points of the fine scan: step 200 / 65536 ~ 3.1e-3
TAIL_LIMIT = 1e6  # geometric scan beyond the fine one, out to |x| = 1e6
FAR_POINTS = (1e10, 1e50, 1e150, 1e300)  # growth probes (boundedness, sup phi'^2 = inf)
HUGE = 1e100  # |phi| (or |phi'|) beyond this at a finite x: unbounded
SUP_MARGIN = 1e-14  # sup phi'^2 raised (inf lowered) by this relative margin: an enclosing range
GAP_NOISE = 1e-14  # rounding of sup phi'^2 - phi'^2 computed by difference (registry field gap_noise)
ONE_SIDED_STEP = 1e-7  # one-sided limits at a kink: 2 f(k +- h) - f(k +- 2h), h = 1e-7 max(1, |k|)
MAX_KINKS = 16  # more kinks than this (abs(sin(x)) has infinitely many) are refused
JUMP_TOL = 1e-8  # a jump of phi' or phi'' smaller than this (relative to max(1, |values|)) is none


@dataclass(frozen=True)
class ExpressionFacts:
    """What the registry states about an activation, found for an expression at run time.

    Same meanings as the fields of :class:`phasecli.activations.Activation`.  ``None`` marks a fact
    that could not be established (``odd``, ``bounded``, ``homogeneous``, ``d2phi_at_zero``).
    """

    expression: str  # the normal form
    digest: str  # sha256 of the normal form: the cache key
    kind: str  # "smooth" (no kinks) | "piecewise"
    odd: bool | None  # True: proved by parity rules; False: a counterexample; None: neither
    bounded: bool | None  # True: proved by interval arithmetic; False: |phi| >= 1e100 somewhere; None
    homogeneous: bool | None  # phi(t x) = t phi(x), t > 0: True proved by degree rules; False: counterexample
    kinks: tuple  # points where phi, phi' or phi'' jump, increasing
    phi_prime_jumps_at: tuple  # phi'(k+) - phi'(k-) at each kink (0.0 where phi' is continuous)
    active_scale: float  # |u| beyond which phi is linear / constant to double precision (inf: never found)
    d2phi_at_zero: float | None  # phi''(0) (None: 0 is a kink where phi'' jumps)
    phi_prime_sq_range: tuple  # (inf, sup) of phi'^2; sup may be inf (phi' unbounded)
    oscillatory: bool  # sin / cos of an unbounded argument
    gap_noise: float = GAP_NOISE

    @property
    def phi_prime_jumps(self) -> bool:
        return any(j != 0.0 for j in self.phi_prime_jumps_at)

    @property
    def jump_sq(self) -> float:
        """Sum over the kinks of the squared jump of phi'."""
        return sum(j * j for j in self.phi_prime_jumps_at)

    @property
    def unknown(self) -> tuple:
        """Names of the facts that could not be established."""
        return tuple(n for n in ("odd", "bounded", "homogeneous", "d2phi_at_zero") if getattr(self, n) is None)


def _scan_grid():
    import numpy as np

    fine = np.linspace(-SCAN_HALF_WIDTH, SCAN_HALF_WIDTH, SCAN_POINTS)
    tail = np.geomspace(SCAN_HALF_WIDTH, TAIL_LIMIT, 2001)[1:]
    return np.concatenate([-tail[::-1], fine, tail])


def _switches(left: Node, cmp: str, right: Node, grid, limit: int | None = None) -> list:
    """Points where the truth of ``left cmp right`` changes (cmp "<" or "<="): exactly when left - right
    is affine, else by a scan of ``grid`` then bisection to adjacent doubles (two switches closer than
    the grid step are missed).  A switch whose bisection ends next to a 12-decimal number where
    left == right holds exactly is put there (x + 3 = 6 at 3.0, not 2.9999999999999996)."""
    import numpy as np

    g = sub(left, right)
    dg = derivative(g)
    if dg.is_const:  # affine: g = a x + b
        if dg.value == 0.0:
            return []
        b = float(evaluate(g, np.zeros(1))[0])
        return [-b / dg.value]

    def holds(xs):
        lv, rv = evaluate(left, xs), evaluate(right, xs)
        return lv < rv if cmp == "<" else lv <= rv

    t = holds(grid)
    idx = np.nonzero(t[:-1] != t[1:])[0]
    if limit is not None and idx.size > limit:
        raise ExpressionError(f"more than {MAX_KINKS} kinks (points where abs, min, max or where switch, here "
                              f"{left.key} {cmp} {right.key}): phasecli handles at most {MAX_KINKS}")
    out = []
    for i in idx:
        lo, hi = float(grid[i]), float(grid[i + 1])
        t_lo = t[i]
        while True:
            mid = 0.5 * (lo + hi)
            if mid in (lo, hi):
                break
            if holds(np.array([mid]))[0] == t_lo:
                lo = mid
            else:
                hi = mid
        x = hi
        nice = round(x, 12)
        if abs(nice - x) <= 4 * math.ulp(max(abs(x), 1e-300)) + 1e-300 and evaluate(g, np.array([nice]))[0] == 0.0:
            x = nice
        out.append(x)
    return out


def _kink_conditions(tree: Node) -> list:
    """(left, cmp, right) whose truth picks the branch: abs(u): u < 0; min(u, c): u < c; max(u, c): c < u;
    where(l cmp r, ...)."""
    out = []
    for m in nodes(tree):
        if m.op == "fn" and m.name == "abs":
            out.append((m.args[0], "<", ZERO))
        elif m.op == "min":
            out.append((m.args[0], "<", const(m.value)))
        elif m.op == "max":
            out.append((const(m.value), "<", m.args[0]))
        elif m.op == "where":
            out.append((m.args[0], m.name, m.args[1]))
    return out


def _one_sided(node: Node, k: float):
    """(f(k-), f(k+)) by linear extrapolation of f(k -+ h), f(k -+ 2h)."""
    import numpy as np

    h = ONE_SIDED_STEP * max(1.0, abs(k))
    v = evaluate(node, np.array([k - 2 * h, k - h, k + h, k + 2 * h]))
    return 2.0 * v[1] - v[0], 2.0 * v[2] - v[3]


def _fail_not_finite(what: str, x: float, value: float):
    raise ExpressionError(f"{what} is {value!r} at x = {x:.6g}: an activation must be finite (with phi') for "
                          f"every real x (checked for |x| <= {SCAN_HALF_WIDTH:g})")


def analyze(expr: Expression | str) -> ExpressionFacts:
    """The registry's facts about ``expr``, found at run time (module constants state the tolerances):

    - kinks: where the branch of an abs, min, max or where switches (solved exactly when the compared
      quantities differ by an affine function of x, else a scan of |x| <= 1e6, step 3.1e-3 for
      |x| <= 100, then bisection), kept where phi' or phi'' jumps by more than ``JUMP_TOL``
      (one-sided limits extrapolated from ``ONE_SIDED_STEP``); phi must be continuous; at most
      ``MAX_KINKS``;
    - phi, phi' finite on the scan, phi'' off the kinks; poles between grid points are caught when
      phi or phi' there exceeds 1e8 times its largest value on the grid;
    - sup / inf of phi'^2: grid, one-sided limits at kinks, tails and growth probes, the five best
      grid extrema refined (bounded scalar search, x to 1e-12), then widened by ``SUP_MARGIN``;
    - active scale: the largest |u| with |phi''(u)| (1 + |u|) > 2^-52 max(|phi'(u)|, M), M the
      largest |phi'| on [-4, 4] (bisection to 1e-9 relative; a kink there is taken exactly);
    - odd / homogeneous / bounded: proved by rules on the tree, refuted by a counterexample, else None.
    """
    import numpy as np

    if isinstance(expr, str):
        expr = parse(expr)
    phi_t, d1_t, d2_t = expr.tree, expr.dphi, expr.d2phi
    grid = _scan_grid()
    fine = np.abs(grid) <= SCAN_HALF_WIDTH

    # kinks (before the finiteness checks, so points at the kinks are checked too)
    candidates = set()
    for left, cmp, right in _kink_conditions(phi_t):
        for r in _switches(left, cmp, right, grid, limit=4 * MAX_KINKS):
            if math.isfinite(r) and abs(r) <= TAIL_LIMIT:
                candidates.add(r)
    kinks, jumps = [], []
    if len(candidates) > 4 * MAX_KINKS:
        raise ExpressionError(f"more than {MAX_KINKS} kinks (points where abs, min, max or where switch): "
                              f"phasecli handles at most {MAX_KINKS}")
    for k in sorted(c + 0.0 for c in candidates):  # + 0.0: no -0.0
        p_minus, p_plus = _one_sided(phi_t, k)
        d_minus, d_plus = _one_sided(d1_t, k)
        s_minus, s_plus = _one_sided(d2_t, k)
        for what, v in (("phi", p_minus), ("phi", p_plus), ("phi'", d_minus), ("phi'", d_plus)):
            if not math.isfinite(v):
                _fail_not_finite(what, k, v)
        scale = max(1.0, abs(p_minus), abs(p_plus))
        if abs(p_plus - p_minus) > 1e-9 * scale:
            raise ExpressionError(f"phi jumps at x = {k:.6g} (from {p_minus:.6g} to {p_plus:.6g}): an activation "
                                  "must be continuous")
        jump1 = d_plus - d_minus
        tol1 = JUMP_TOL * max(1.0, abs(d_minus), abs(d_plus))
        jumps2 = (s_plus - s_minus) if math.isfinite(s_plus) and math.isfinite(s_minus) else math.inf
        tol2 = JUMP_TOL * max(1.0, abs(s_minus) if math.isfinite(s_minus) else 0.0,
                              abs(s_plus) if math.isfinite(s_plus) else 0.0)
        if abs(jump1) > tol1 or abs(jumps2) > tol2:
            kinks.append(k)
            jumps.append(jump1 if abs(jump1) > tol1 else 0.0)
    if len(kinks) > MAX_KINKS:
        raise ExpressionError(f"{len(kinks)} kinks (points where abs, min, max or where switch): phasecli handles "
                              f"at most {MAX_KINKS}")

    # finiteness of phi and phi' everywhere on the scan, phi'' off the kinks
    xs = np.concatenate([grid[fine], np.array(kinks, dtype=float)])
    phi_v, d1_v = evaluate(phi_t, xs), evaluate(d1_t, xs)
    for what, v in (("phi", phi_v), ("phi'", d1_v)):
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.argmax(bad))
            _fail_not_finite(what, float(xs[i]), float(v[i]))
    d2_v = evaluate(d2_t, grid[fine])
    bad = ~np.isfinite(d2_v)
    if bad.any():
        off = np.array([min((abs(x - k) for k in kinks), default=1.0) > 0.0 for x in grid[fine][bad]])
        if off.any():
            x = float(grid[fine][bad][np.argmax(off)])
            raise ExpressionError(f"phi'' is not finite at x = {x:.6g}: an activation must be smooth between "
                                  "its kinks")
    # poles between grid points: a denominator (or the base of a negative power) changing sign
    for tree in (phi_t, d1_t):
        top = float(np.max(np.abs(evaluate(tree, grid[fine]))))
        for m in nodes(tree):
            den = m.args[1] if m.op == "div" else m.args[0] if (m.op == "pow" and m.value < 0) else None
            if den is None or den.is_const:
                continue
            for r in _switches(den, "<", ZERO, grid[fine]):
                near = evaluate(tree, np.array([np.nextafter(r, -np.inf), r, np.nextafter(r, np.inf)]))
                if not np.all(np.isfinite(near)) or np.max(np.abs(near)) > 1e8 * max(top, 1.0):
                    raise ExpressionError(f"division by zero at x = {r:.6g} (in {den.key!r}): an activation "
                                          "must be finite for every real x")

    # range of phi'^2
    kink_arr = np.array(kinks, dtype=float)
    sq = d1_v[: int(fine.sum())] ** 2
    xf = grid[fine]
    one_sided = [v for k in kinks for v in _one_sided(d1_t, k)]
    tails = np.concatenate([grid[~fine], np.array(FAR_POINTS), -np.array(FAR_POINTS)])
    d1_tail = evaluate(d1_t, tails)
    with np.errstate(over="ignore"):
        tail_sq = d1_tail[np.isfinite(d1_tail)] ** 2
    sup = max(float(sq.max()), max((v * v for v in one_sided), default=0.0),
              float(tail_sq.max()) if tail_sq.size else 0.0)
    inf = min(float(sq.min()), min((v * v for v in one_sided), default=math.inf),
              float(tail_sq.min()) if tail_sq.size else math.inf)
    if np.any(np.isinf(d1_tail)) or sup > HUGE * HUGE:
        sup = math.inf
    else:
        sup = max(sup, _refine(d1_t, xf, sq, kink_arr, +1))
    inf = min(inf, _refine(d1_t, xf, sq, kink_arr, -1))
    phi_prime_sq_range = (float(max(0.0, inf - SUP_MARGIN * sup)), float(sup * (1.0 + SUP_MARGIN)))

    # parity, homogeneity, boundedness
    probe = np.concatenate([np.linspace(0.05, 6.0, 120), [0.3, 1.7, 2.5e-3, 13.0]])
    p_pos, p_neg = evaluate(phi_t, probe), evaluate(phi_t, -probe)
    parity = _parity(phi_t, {})
    if parity == "odd":
        odd = True
    elif np.any(np.abs(p_pos + p_neg) > 1e-9 * np.maximum(np.abs(p_pos) + np.abs(p_neg), 1e-300)):
        odd = False
    else:
        odd = None
    degree = _degree(phi_t, {})
    if degree == 1.0:
        homogeneous = True
    else:
        probe2 = np.concatenate([probe, -probe])
        p1, p3 = evaluate(phi_t, probe2), evaluate(phi_t, 3.0 * probe2)
        homogeneous = False if np.any(np.abs(p3 - 3.0 * p1) > 1e-9 * np.maximum(np.abs(p3), 1e-300)) else None
    lo, hi = _bounds(phi_t, {})
    if math.isfinite(lo) and math.isfinite(hi):
        bounded = True
    else:
        far = np.concatenate([tails, grid[fine]])
        pv = evaluate(phi_t, far)
        bounded = False if np.any(np.abs(pv[~np.isnan(pv)]) >= HUGE) else None

    # phi''(0)
    if any(k == 0.0 for k in kinks):
        s_minus, s_plus = _one_sided(d2_t, 0.0)
        d2phi_at_zero = float(s_plus) + 0.0 if abs(s_plus - s_minus) <= JUMP_TOL * max(1.0, abs(s_plus)) else None
    else:
        d2phi_at_zero = float(evaluate(d2_t, np.zeros(1))[0]) + 0.0  # no -0.0

    return ExpressionFacts(
        expression=expr.canonical, digest=expr.digest, kind="piecewise" if kinks else "smooth", odd=odd,
        bounded=bounded, homogeneous=homogeneous, kinks=tuple(float(k) + 0.0 for k in kinks),
        phi_prime_jumps_at=tuple(float(j) for j in jumps),
        active_scale=_active_scale(d1_t, d2_t, grid, kinks), d2phi_at_zero=d2phi_at_zero,
        phi_prime_sq_range=phi_prime_sq_range, oscillatory=_oscillatory(phi_t))


def _refine(d1_t: Node, xs, sq, kinks, sign: int) -> float:
    """The extreme (sign +1: max, -1: min) of phi'^2 near the five best interior grid extrema."""
    import numpy as np
    from scipy.optimize import minimize_scalar

    f = sign * sq
    interior = np.nonzero((f[1:-1] >= f[:-2]) & (f[1:-1] >= f[2:]))[0] + 1
    if interior.size == 0:
        return float(sq.max() if sign > 0 else sq.min())
    best = interior[np.argsort(-f[interior])[:5]]
    out = []
    for i in best:
        a, b = float(xs[i - 1]), float(xs[i + 1])
        for k in kinks:  # stay on the side of a kink where the grid point is
            if a < k < b:
                a, b = (a, k) if xs[i] < k else (k, b)
        if not b > a:
            continue
        res = minimize_scalar(lambda t: -sign * float(evaluate(d1_t, np.array([t]))[0]) ** 2, bounds=(a, b),
                              method="bounded", options={"xatol": 1e-12})
        out.append(float(evaluate(d1_t, np.array([res.x]))[0]) ** 2)
        out.append(float(sq[i]))
    if not out:
        return float(sq.max() if sign > 0 else sq.min())
    return max(out) if sign > 0 else min(out)


def _active_scale(d1_t: Node, d2_t: Node, grid, kinks) -> float:
    import numpy as np

    d1 = evaluate(d1_t, grid)
    d2 = evaluate(d2_t, grid)
    inner = np.abs(grid) <= 4.0
    m = float(np.max(np.abs(d1[inner]))) if inner.any() else 0.0
    m = m if m > 0.0 and math.isfinite(m) else 1.0
    eps = 2.0 ** -52

    def nonlinear(d1v, d2v, u):
        with np.errstate(all="ignore"):  # overflow (inf) or nan counts as nonlinear
            flat = np.abs(d2v) * (1.0 + np.abs(u)) <= eps * np.maximum(np.abs(d1v), m)
        return ~(flat & np.isfinite(d1v) & np.isfinite(d2v))

    flags = nonlinear(d1, d2, grid)
    if not flags.any():
        return 0.0
    scale = 0.0
    for side in (-1.0, 1.0):
        sel = np.nonzero(side * grid >= 0.0)[0]
        u, fl = np.abs(grid[sel]), flags[sel]
        order = np.argsort(u)
        u, fl = u[order], fl[order]
        if not fl.any():
            continue
        j = int(np.nonzero(fl)[0][-1])
        if j == u.size - 1:
            return math.inf
        lo, hi = float(u[j]), float(u[j + 1])
        ks = [abs(k) for k in kinks if side * k >= 0.0 and lo <= abs(k) <= hi]
        if ks:
            scale = max(scale, max(ks))
            continue
        while hi - lo > 1e-9 * hi:
            mid = 0.5 * (lo + hi)
            x = np.array([side * mid])
            if nonlinear(evaluate(d1_t, x), evaluate(d2_t, x), x)[0]:
                lo = mid
            else:
                hi = mid
        scale = max(scale, hi)
    return scale


def activation(expr: Expression | str, code: int = -1, facts: ExpressionFacts | None = None):
    """An :class:`phasecli.activations.Activation` for ``expr`` (its name the normal form; ``code`` a
    placeholder until the kernels give expressions codes).  Unknown facts are left ``None``; the caller
    must check ``facts.unknown`` before using ``odd``, ``bounded``, ``homogeneous`` or ``d2phi_at_zero``."""
    from phasecli.activations import Activation

    if isinstance(expr, str):
        expr = parse(expr)
    f = analyze(expr) if facts is None else facts
    return Activation(
        name=f.expression, code=code, kind=f.kind, description=f"expression {f.expression}", odd=f.odd,
        bounded=f.bounded, homogeneous=f.homogeneous, kinks=f.kinks, phi_prime_jumps=f.phi_prime_jumps,
        active_scale=f.active_scale, d2phi_at_zero=f.d2phi_at_zero, phi_prime_sq_range=f.phi_prime_sq_range,
        gap_noise=f.gap_noise, oscillatory=f.oscillatory, jump_sq_fixed=f.jump_sq,
        phi_prime_jumps_at=tuple(f.phi_prime_jumps_at))
