"""Grid specifications for --sw2 / --sb2: a number, a list, or an inclusive linspace.

``1.76``           one value
``1,1.5,2``        a list
``0.5:4:200``      START:STOP:NUM, NUM points from START to STOP inclusive (numpy.linspace)

Values are variances (sigma^2), never standard deviations.  Pure Python: returns lists.
"""

from __future__ import annotations

import math
from fractions import Fraction

MAX_AXIS = 10_000_000


class GridSpecError(ValueError):
    """A malformed or out-of-range grid specification."""


def list_items(spec: str, what: str = "value") -> list[str]:
    """The stripped items of a comma list; an empty item ('1,,2', '1,2,', ',1') is a malformed list."""
    items = [item.strip() for item in str(spec).split(",")]
    if any(not item for item in items):
        raise GridSpecError(f"{what}: {spec!r} has an empty item (a list is a,b,c with no empty entries)")
    return items


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise GridSpecError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise GridSpecError(f"{what}: {text.strip()!r} is not finite")
    return value


def _exact(text: str) -> Fraction:
    """The decimal the user typed, exactly (the binary value where Fraction does not read the text)."""
    try:
        return Fraction(text.strip())
    except ValueError:
        return Fraction(float(text))


def linspace_as_typed(start: str, stop: str, num: int) -> list[float]:
    """``num`` points from START to STOP inclusive, each the double nearest to the exact decimal point
    start + i (stop - start) / (num - 1): a value the user could type comes out as typed (0:1:21 holds
    0.05 and 0.35, not 0.35000000000000003).  Exact integer arithmetic; int / int rounds correctly."""
    a, b = _exact(start).as_integer_ratio()
    c, d = _exact(stop).as_integer_ratio()
    n = num - 1
    base, span, denominator = a * d * n, c * b - a * d, b * d * n
    return [(base + i * span) / denominator for i in range(num)]


def parse_grid(spec: str, what: str = "value", *, minimum: float | None = 0.0) -> list[float]:
    """Parse a grid spec into a list of floats (see the module docstring)."""
    spec = spec.strip()
    if not spec:
        raise GridSpecError(f"{what}: empty specification")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise GridSpecError(f"{what}: {spec!r} is not START:STOP:NUM (e.g. 0.5:4:200)")
        start, _ = _number(parts[0], what), _number(parts[1], what)  # checked; the points come from the text
        try:
            num = int(parts[2])
        except ValueError:
            raise GridSpecError(f"{what}: NUM in {spec!r} must be a whole number of points") from None
        if num < 1:
            raise GridSpecError(f"{what}: NUM in {spec!r} must be at least 1")
        if num > MAX_AXIS:
            raise GridSpecError(f"{what}: {num:,} points is too many (at most {MAX_AXIS:,} per axis)")
        values = linspace_as_typed(parts[0], parts[1], num) if num > 1 else [start]
    else:
        values = [_number(p, what) for p in list_items(spec, what)]
    values = [v + 0.0 for v in values]  # -0 is 0 (a variance has no sign)
    if minimum is not None:
        bad = [v for v in values if v < minimum]
        if bad:
            raise GridSpecError(f"{what}: {bad[0]:g} is negative; {what} is a variance and must be >= {minimum:g}")
    return values
