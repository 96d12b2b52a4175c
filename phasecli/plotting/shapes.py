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


def _ntk_compare(n_sw2: int, n_sb2: int, n_depth: int, n_arch: int) -> str:
    """Several architectures (generalize --architecture cnn-f,cnn-p): the layouts of ``_ntk``, one panel each
    (a heatmap pair adds their difference); at most three."""
    if n_arch > 3:
        raise FigureError("compares at most three architectures in one figure")
    return _ntk(n_sw2, n_sb2, n_depth)


def _critical(n_sb2: int) -> str:
    if n_sb2 < 2:
        raise FigureError("the critical line needs at least two sb2 values")
    return "line"


def _verify(n_points: int, n_depth: int) -> str:
    if n_depth < 2:
        raise FigureError("draws the ratio against depth: give --depth several values")
    if n_points > 6:
        raise FigureError(f"draws one panel per (sw2, sb2) point, at most 6 (got {n_points})")
    return "panels"


CATAPULT_MAX_CURVES = 200
CATAPULT_MAX_POINTS = 20_000_000  # lr factors x (steps + 1) kept for the curves


def _catapult(n_lr: int, steps: int) -> str:
    if n_lr <= CATAPULT_MAX_CURVES and n_lr * (steps + 1) <= CATAPULT_MAX_POINTS:
        return "curves" if n_lr < 3 else "curves+summary"
    if n_lr < 3:
        raise FigureError(f"{n_lr} curves of {steps + 1:,} points are too many to draw "
                          f"(at most {CATAPULT_MAX_POINTS:,}): lower --steps or give a scan of lr factors")
    return "summary"


def _train(n_lr: int, n_depth: int = 1) -> str:
    """One depth: loss curves (and a summary against lr_factor); several: Xiao et al.'s Figure 2, a heatmap
    over (depth, lr_factor)."""
    if n_depth > 1:
        return "depth-heatmap"
    return "curves" if n_lr < 2 else "curves+summary"


JACOBIAN_MAX_DENSITIES = 8


def _jacobian(n_sw2: int, n_sb2: int, n_depth: int) -> str:
    """One point: singular-value densities per depth; an sb2 (or sw2) sweep: var_s2 against it."""
    if n_sw2 > 1 and n_sb2 > 1:
        raise FigureError("draws one point (densities) or a sweep of sb2 or of sw2 (var_s2): keep one of "
                          "--sw2 / --sb2 a single value")
    if n_sw2 == 1 and n_sb2 == 1:
        if n_depth > JACOBIAN_MAX_DENSITIES:
            raise FigureError(f"draws the density of at most {JACOBIAN_MAX_DENSITIES} depths (got {n_depth})")
        return "density"
    return "variance-sb2" if n_sb2 > 1 else "variance-sw2"


# one rule per command: shape keywords -> layout name (or FigureError)
RULES = {
    "phase": _grid,
    "depth-scale": _grid,
    "critical": _critical,
    "kappa": _ntk,
    "lr": _ntk,
    "generalize": _ntk,
    "generalize-compare": _ntk_compare,
    "verify": _verify,
    "catapult": _catapult,
    "train": _train,
    "jacobian": _jacobian,
}


def choose(kind: str, **shape) -> str:
    """The layout for command ``kind`` given the sizes of its sweep axes (see ``RULES``)."""
    rule = RULES.get(kind)
    if rule is None:
        raise FigureError(f"no figure for {kind!r}")
    return rule(**shape)
