"""phasecli: infinite-width theory of deep networks from the command line.

The numeric core (``phasecli.meanfield``, ``phasecli.ntk``) returns numpy arrays and
never prints; ``phasecli.cli`` is the command-line front end.
"""

__version__ = "0.1.0"
