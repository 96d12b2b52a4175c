"""Which figure fits a sweep: decided here, in one place, before any work is done (pure Python).

``choose(kind, **shape)`` returns the layout a command's ``--png`` draws, or raises
``FigureError`` with a one-line reason when the sweep cannot be drawn (the command line
turns it into exit status 2).  ``kind`` is the command; ``shape`` gives the sizes of its
sweep axes (``n_sw2``, ``n_sb2``, ``n_depth``, ...).
"""

from __future__ import annotations


class FigureError(ValueError):
    """This sweep has no figure (one line, for the user)."""


def _grid(n_sw2: int, n_sb2: int) -> str:
    if n_sw2 > 1 and n_sb2 > 1:
        return "heatmap"
    if n_sw2 > 1:
        return "line-sw2"
    if n_sb2 > 1:
        return "line-sb2"
    raise FigureError("one (sw2, sb2) point has no figure: give --sw2 or --sb2 several values")


def _ntk(n_sw2: int, n_sb2: int, n_depth: int) -> str:
    if n_sw2 > 1 and n_sb2 > 1:
        raise FigureError("draws an sw2 sweep or an sb2 sweep (keep one of --sw2 / --sb2 a single value), "
                          "or one point against depth")
    axis = "sw2" if n_sw2 > 1 else ("sb2" if n_sb2 > 1 else None)
    if axis is None:
        if n_depth < 2:
            raise FigureError("one point at one depth has no figure: give --depth several values")
        return "depth"
    return f"heatmap-{axis}" if n_depth > 1 else f"line-{axis}"


def _critical(n_sb2: int) -> str:
    if n_sb2 < 2:
        raise FigureError("the critical line needs at least two sb2 values")
    return "line"


# one rule per command: shape keywords -> layout name (or FigureError)
RULES = {
    "phase": _grid,
    "depth-scale": _grid,
    "critical": _critical,
    "kappa": _ntk,
    "lr": _ntk,
    "generalize": _ntk,
}


def choose(kind: str, **shape) -> str:
    """The layout for command ``kind`` given the sizes of its sweep axes (see ``RULES``)."""
    rule = RULES.get(kind)
    if rule is None:
        raise FigureError(f"no figure for {kind!r}")
    return rule(**shape)
