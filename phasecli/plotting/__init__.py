"""PNG figures (matplotlib.figure.Figure only, no pyplot state), one module per family of commands.

Importing this package is cheap: the figure functions are loaded from their modules on
first use, and ``phasecli.plotting.shapes`` (which figure fits a sweep) never imports
matplotlib.  Every figure function takes ``path=`` and writes the PNG atomically.
"""

from __future__ import annotations

import importlib

_FIGURES = {
    "phase_figure": "meanfield",
    "depth_scale_figure": "meanfield",
    "critical_figure": "meanfield",
    "ntk_figure": "ntk",
    "generalize_figure": "ntk",
}


def register(name: str, module: str) -> None:
    """Make ``plotting.<name>`` load from ``phasecli.plotting.<module>`` (for figure modules added later)."""
    _FIGURES[name] = module


def __getattr__(name):
    module = _FIGURES.get(name)
    if module is None:
        raise AttributeError(f"module 'phasecli.plotting' has no attribute {name!r}")
    return getattr(importlib.import_module(f"phasecli.plotting.{module}"), name)
