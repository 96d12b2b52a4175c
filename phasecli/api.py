"""The Python API: one function per command, for notebooks and scripts (``phasecli.cli.api``).

``phasecli.phase(activation="erf", sw2="0.5:3:100", sb2=[0, 0.05])`` computes exactly the rows
of ``phasecli phase -a erf --sw2 0.5:3:100 --sb2 0,0.05``.  The functions run the command line
in this process, so they live with it in ``phasecli.cli.api``; this module is their public name.
"""

from phasecli.cli import api as _impl
from phasecli.cli.api import InputError, PhasecliWarning, Result, RuntimeFailure, functions, run  # noqa: F401

__all__ = list(_impl.__all__)
globals().update({name: getattr(_impl, name) for name in __all__})
