"""Validation at the library boundary: one place that checks what a caller passes in.

Every public function of the numeric core checks its arguments here, once, and raises
``InputError`` (a ``ValueError``) whose ``param`` names the offending parameter, so the
command line can blame the right option (``param='ridge'`` is ``--ridge``).  Anything
else a numeric function raises is a bug or a runtime failure, never "bad input".

Pure Python plus numpy (imported lazily by the array helpers only).
"""

from __future__ import annotations

import math

from phasecli.errors import InputError

MAX_DEPTH = 1_000_000
__all__ = ["InputError", "number", "integer", "variance", "variances", "q0", "slope", "dropout", "activation",
           "normalize", "NORMALIZATIONS", "parse_depths", "depths"]


def number(name: str, value, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
           hi_open: bool = False, finite: bool = True) -> float:
    """``value`` as a float, finite (unless ``finite=False``) and within [lo, hi] (open ends as asked)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}", name) from None
    if math.isnan(v) or (finite and math.isinf(v)):
        raise InputError(f"{name} must be a finite number, got {value!r}", name)
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise InputError(f"{name} must be {'>' if lo_open else '>='} {lo:g}, got {v:g}", name)
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise InputError(f"{name} must be {'<' if hi_open else '<='} {hi:g}, got {v:g}", name)
    return v


def integer(name: str, value, *, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int (a float must be whole), within [lo, hi]."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be an integer, got {value!r}", name)
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be an integer, got {value!r}", name) from None
    if not math.isfinite(f) or f != int(f):
        raise InputError(f"{name} must be an integer, got {value!r}", name)
    v = int(f) if not isinstance(value, int) else value
    if lo is not None and v < lo:
        raise InputError(f"{name} must be >= {lo}, got {v}", name)
    if hi is not None and v > hi:
        raise InputError(f"{name} must be <= {hi}, got {v}", name)
    return v


def variance(name: str, value) -> float:
    """A variance (sw2, sb2, q): a finite number >= 0."""
    v = number(name, value)
    if v < 0:
        raise InputError(f"{name} is a variance and must be >= 0, got {v:g}", name)
    return v


def variances(name: str, values):
    """A number or a 1-D list of variances, as a float64 numpy array."""
    import numpy as np

    try:
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number or a list of numbers", name) from None
    if arr.ndim != 1:
        raise InputError(f"{name} must be a number or a 1-D list of numbers", name)
    if arr.size == 0:
        raise InputError(f"{name} holds no values", name)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite", name)
    if np.any(arr < 0):
        raise InputError(f"{name} is a variance and must be >= 0 (got {arr[arr < 0][0]:g})", name)
    return arr


def q0(value) -> float:
    """The inputs' variance q^1: a positive finite number."""
    return number("q0", value, lo=0.0, lo_open=True)


def slope(value) -> float:
    """leaky_relu's negative slope, in [0, 1]."""
    return number("slope", value, lo=0.0, hi=1.0)


def dropout(value):
    """A dropout keep rate in (0, 1], or None."""
    if value is None:
        return None
    v = number("dropout", value)
    if not 0.0 < v <= 1.0:
        raise InputError(f"dropout is the keep rate RHO and must lie in (0, 1], got {v:g}", "dropout")
    return v


NORMALIZATIONS = ("example", "position")  # the ways of scaling inputs to q* (False: data as given)


def normalize(value):
    """The input normalization: 'example' (True is the same: each input's mean first-layer variance is q*),
    'position' (every position of every image at q*; a fully connected input is one position, so there it is
    'example'), or False (data as given)."""
    if value is True or (isinstance(value, str) and value == "example"):
        return "example"
    if isinstance(value, str) and value == "position":
        return "position"
    if value is False:
        return False
    try:  # numpy booleans
        import numpy as np

        if isinstance(value, np.bool_):
            return "example" if bool(value) else False
    except ImportError:  # pragma: no cover
        pass
    raise InputError(f"normalize must be True or 'example', 'position', or False (data as given), got {value!r}",
                     "normalize")


def activation(name: str):
    """The registry entry of ``name``: a registered name, an installed expression's normal form, or an expression
    in x, installed here (``phasecli.activations.install_expression``: one expression per process).  InputError
    naming the choices (a bare unknown word) or the offending token (an expression refused) otherwise."""
    from phasecli.activations import ACTIVATIONS, NAMES, install_expression

    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        if not isinstance(name, str) or (name.isidentifier() and name != "x"):
            raise InputError(f"unknown activation {name!r}; choose from {', '.join(NAMES)}, or give an expression "
                             "in x", "activation") from None
    return install_expression(name)


def parse_depths(spec, name: str = "depth", limit: int = MAX_DEPTH) -> list[int]:
    """Depths from '1,2,5,10', '1:60' (inclusive, step 1), 'START:STOP:STEP', 'log:START:STOP:NUM'
    (NUM log-spaced depths from START to STOP, both included, rounded to integers) or a mix
    '1:10,20,50:100:10'; positive integers.  Returned SORTED and de-duplicated, as every
    command reports depths in increasing order (one pass of the recursion serves them all)."""
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",")]
    elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
        items = [str(spec)]
    else:
        try:
            items = [str(v) for v in spec]
        except TypeError:
            raise InputError(f"{name}: {spec!r} is not a list of depths", name) from None
    out: set[int] = set()
    for item in items:
        if not item:
            raise InputError(f"{name}: empty item in {spec!r}", name)
        if item.lower().startswith("log:"):
            out.update(_log_depths(item, name, limit))
            continue
        parts = item.split(":")
        if len(parts) > 3:
            raise InputError(f"{name}: {item!r} is not N, START:STOP or START:STOP:STEP", name)
        nums = [_integer_text(p.strip(), name) for p in parts]
        if len(nums) == 1:
            vals = nums
        else:
            start, stop = nums[0], nums[1]
            step = nums[2] if len(nums) == 3 else 1
            if step <= 0:
                raise InputError(f"{name}: step must be positive in {item!r}", name)
            if stop < start:
                raise InputError(f"{name}: {item!r} is empty (STOP < START)", name)
            if (stop - start) // step > MAX_DEPTH:
                raise InputError(f"{name}: {item!r} has too many values", name)
            vals = range(start, stop + 1, step)
        for v in vals:
            if v <= 0:
                what = " (number of hidden layers)" if name == "depth" else ""
                raise InputError(f"{name}s must be positive integers{what}, got {v}", name)
            if v > limit:
                raise InputError(f"{name} {v} exceeds the limit {limit}", name)
            out.add(int(v))
    if not out:
        raise InputError(f"{name}: nothing given", name)
    return sorted(out)


def _integer_text(text: str, name: str, where: str = "") -> int:
    """One whole number of a depth / width spec ('12', '1e3'); InputError naming it otherwise."""
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"{name}: {text!r}{where} is not an integer", name) from None
    if not math.isfinite(v) or v != int(v):
        raise InputError(f"{name}: {text!r}{where} is not an integer", name)
    return int(v)


def _log_depths(item: str, name: str, limit: int = MAX_DEPTH) -> list[int]:
    """'log:START:STOP:NUM': NUM depths spaced evenly in log(depth) from START to STOP (both included),
    rounded to the nearest integer (so fewer than NUM distinct depths where they crowd below NUM)."""
    parts = [p.strip() for p in item.split(":")[1:]]
    if len(parts) != 3:
        raise InputError(f"{name}: {item!r} is not log:START:STOP:NUM", name)
    start, stop, num = (_integer_text(p, name, f" in {item!r}") for p in parts)
    if start <= 0:
        raise InputError(f"{name}: log-spaced depths start at 1 or more, got {start} in {item!r}", name)
    if stop > limit:
        raise InputError(f"{name} {stop} exceeds the limit {limit}", name)
    if stop <= start:
        raise InputError(f"{name}: {item!r} needs STOP > START", name)
    if not 2 <= num <= MAX_DEPTH:
        raise InputError(f"{name}: {item!r} needs NUM >= 2 depths (at most {MAX_DEPTH})", name)
    ratio = math.log(stop / start)
    values = {int(round(start * math.exp(ratio * k / (num - 1)))) for k in range(num)}
    return sorted(values | {start, stop})


def depths(values, name: str = "depth"):
    """Depths as a sorted, de-duplicated int64 numpy array (strings go through ``parse_depths``)."""
    import numpy as np

    if isinstance(values, str):
        return np.asarray(parse_depths(values, name), dtype=np.int64)
    arr = np.atleast_1d(np.asarray(values))
    if arr.size == 0:
        raise InputError(f"{name}: nothing given", name)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InputError(f"{name}s must be positive integers", name)
    elif arr.dtype.kind not in "iu":
        raise InputError(f"{name}s must be positive integers", name)
    arr = arr.astype(np.int64).ravel()
    if np.any(arr <= 0):
        raise InputError(f"{name}s must be positive integers (number of hidden layers), got {arr[arr <= 0][0]}",
                         name)
    if np.any(arr > MAX_DEPTH):
        raise InputError(f"{name} {arr.max()} exceeds the limit {MAX_DEPTH}", name)
    return np.unique(arr)
