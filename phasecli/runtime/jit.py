"""numba for phasecli's kernels: ``njit`` / ``prange``, with the on-disk cache kept out of the package.

numba's default cache sits in ``__pycache__`` beside the source file.  For an installed
package that is ``site-packages/phasecli/__pycache__``; a later ``pip install -e`` leaves
that folder behind as an empty namespace package that shadows the real one.  So the
kernels of this package are cached in a per-user directory instead:

- ``$NUMBA_CACHE_DIR`` when set (numba's own setting, honoured as numba does);
- otherwise ``$XDG_CACHE_HOME/phasecli/numba`` (``~/.cache/phasecli/numba``);
- otherwise, when that is not writable, ``<tmp>/phasecli-<uid>/numba``;

and inside it in ``phasecli-<version>-<stamp>/`` (``_cachedir.cache_subdir``): keyed on the
kernel sources' contents, not on the install path as numba's own locator is, so every
virtualenv or image holding the same phasecli shares one cache.

Only functions defined in phasecli's own files are redirected (a locator class put first
in numba's list); other numba code in the same process keeps numba's defaults.  Every
kernel module imports ``njit`` and ``prange`` from here, so the locator is installed
before the first kernel is decorated.
"""

from __future__ import annotations

import contextlib
import os

from numba import njit, prange  # noqa: F401  (re-exported for the kernel modules)
from numba.core import caching

from phasecli.runtime.cache import cache_dir, cache_subdir, source_stamp

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the phasecli package


class _PhasecliCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """numba's source-file locator, pointed at ``cache_dir()``, for phasecli's own files only, keyed on
    phasecli's version and kernel sources instead of the install path (so virtualenvs share it)."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(cache_dir(), cache_subdir(py_file))

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        """One stamp over every kernel file's contents: a kernel inlines njit functions of other files, so a
        change to any of them must invalidate all (numba alone stamps only the defining file, by mtime)."""
        return source_stamp()

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.abspath(py_file).startswith(PACKAGE_DIR + os.sep):
            return None
        return super().from_function(py_func, py_file)


def _install() -> None:
    classes = getattr(caching.CacheImpl, "_locator_classes", None)
    if isinstance(classes, list):
        if _PhasecliCacheLocator not in classes:
            classes.insert(0, _PhasecliCacheLocator)
    else:  # an unknown numba layout: redirect numba's cache as a whole (still outside the package)
        from numba.core import config

        if not config.CACHE_DIR:
            config.CACHE_DIR = cache_dir()


_install()


@contextlib.contextmanager
def threads_for(items: int):
    """Run the parallel (``prange``) kernel called inside on one thread when it has a single item: starting
    the thread pool for one item costs more than the item (measured on 2 cores: a one-point
    ``meanfield.length_map`` 8 ms of CPU and 36-48 ms wall with two OpenMP threads on a loaded machine,
    0.07 ms on one).  Several items keep every thread."""
    if items > 1:
        yield
        return
    import numba

    before = numba.get_num_threads()
    if before == 1:
        yield
        return
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)
