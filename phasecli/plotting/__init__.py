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


def figure(name: str):
    """The figure function ``name``: 'module:function' (``phasecli.plotting.<module>``) or a name above."""
    if ":" in name:
        module, function = name.split(":", 1)
        return getattr(importlib.import_module(f"phasecli.plotting.{module}"), function)
    return __getattr__(name)


def __getattr__(name):
    module = _FIGURES.get(name)
    if module is None:
        raise AttributeError(f"module 'phasecli.plotting' has no attribute {name!r}")
    return getattr(importlib.import_module(f"phasecli.plotting.{module}"), name)
