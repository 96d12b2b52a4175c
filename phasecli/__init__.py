"""phasecli: infinite-width theory of deep networks from the command line and from Python.

The numeric core (``phasecli.meanfield``, ``phasecli.ntk``, ...) returns numpy arrays and
never prints; ``phasecli.cli`` is the command-line front end; ``phasecli.api`` the Python
one: a function per command, named after it (``phasecli.phase``, ``phasecli.kappa``,
``phasecli.depth_scale``, ...; ``phasecli.api.activations``, as ``phasecli.activations`` is the
registry module), loaded on first use so that ``import phasecli`` stays fast.
"""

__version__ = "0.1.0"


def __getattr__(name):
    """phasecli.phase, phasecli.kappa, ...: the Python API's functions (phasecli.api), on first use."""
    if name.startswith("_"):
        raise AttributeError(name)
    import importlib
    import importlib.util

    if importlib.util.find_spec(f"phasecli.{name}") is not None:  # a submodule (phasecli.activations): itself
        return importlib.import_module(f"phasecli.{name}")
    api = importlib.import_module("phasecli.api")  # a submodule import never comes back here
    try:
        return getattr(api, name)
    except AttributeError:
        raise AttributeError(f"module 'phasecli' has no attribute {name!r}") from None


def __dir__():
    import importlib
    import importlib.util

    api = importlib.import_module("phasecli.api")
    return sorted(set(globals()) | {n for n in api.__all__ if importlib.util.find_spec(f"phasecli.{n}") is None})
