"""Symmetric tridiagonal reduction and extreme eigenvalues from the LAPACK bundled with numpy (ctypes).

numpy's and scipy's wrappers offer only whole eigensolves (numpy's ``eigvalsh`` is ``dsyevd``:
the reduction ``dsytrd`` and then every eigenvalue by ``dsterf``, a third of the time at order
600-2000 on these kernels) or hold the GIL (``scipy.linalg.lapack``).  The eigen-summaries of
``phasecli.ntk.spectra`` need the two ends of a spectrum only, so they call the reduction
``dsytrd`` itself and bisect its tridiagonal form for the two ends (``dstebz``, O(m) per step):
1.4-2.1x faster than ``eigvalsh`` at m = 600-2000 (bench/RESULTS_eig_2stage.md, where LAPACK's
two-stage reduction, ``dsytrd_sy2sb`` + ``dsytrd_sb2st``, measured slower than ``dsytrd`` at every
size and band width on this machine, so it is not used).

The foreign calls release the GIL (``ctypes.CDLL``) and obey ``phasecli.runtime.blas``'s thread
limit (the library is the one numpy loaded).  Where the library or a symbol is missing, or LAPACK
reports a failure, the callers fall back to ``numpy.linalg.eigvalsh`` (``available()`` says which).
"""

from __future__ import annotations

import ctypes
import glob
import math
import os
import threading

import numpy as np

_LOCK = threading.Lock()
_LIB = None  # _Lapack, or False once the search has failed
_NAMES = ("dsytrd", "dstebz")


class _Lapack:
    """The resolved symbols of one shared library and its LAPACK integer type."""

    def __init__(self, path, funcs, int_type):
        self.path = path
        self.int_type = int_type
        for name, fn in funcs.items():
            fn.restype = None
            setattr(self, name, fn)


def _candidate_paths():
    """numpy's own OpenBLAS first (wheel layout: numpy.libs beside the package), then scipy's."""
    paths = []
    for pkg in ("numpy", "scipy"):
        try:
            mod = __import__(pkg)
        except ImportError:  # pragma: no cover - numpy is a dependency
            continue
        base = os.path.dirname(os.path.dirname(mod.__file__))
        for pattern in (f"{pkg}.libs/lib*openblas*.so*", f"{pkg}/.dylibs/lib*openblas*.dylib"):
            paths.extend(sorted(glob.glob(os.path.join(base, pattern))))
    return paths


def _resolve(handle):
    """({name: function}, int type) for the first symbol spelling the library exports, else None."""
    for prefix, suffix, int_type in (("scipy_", "_64_", ctypes.c_int64), ("scipy_", "64_", ctypes.c_int64),
                                     ("", "_64_", ctypes.c_int64), ("", "64_", ctypes.c_int64),
                                     ("scipy_", "_", ctypes.c_int32), ("", "_", ctypes.c_int32)):
        try:
            funcs = {name: getattr(handle, f"{prefix}{name}{suffix}") for name in _NAMES}
        except AttributeError:
            continue
        return funcs, int_type
    return None


def _load():
    global _LIB
    with _LOCK:
        if _LIB is None:
            _LIB = False
            if os.environ.get("PHASECLI_NO_LAPACK_CTYPES"):
                return _LIB
            for path in _candidate_paths():
                try:
                    handle = ctypes.CDLL(path)
                except OSError:
                    continue
                found = _resolve(handle)
                if found is not None:
                    _LIB = _Lapack(path, *found)
                    break
    return _LIB


def available():
    """The library's path when the ctypes routines are usable, else None (callers use numpy.linalg)."""
    lib = _load()
    return lib.path if lib else None


def _ptr(x, start=0):
    """The address of x[start] (x stays referenced by the caller for the call's duration)."""
    return ctypes.c_void_p(x.ctypes.data + start * x.itemsize)


def _chars(*s):
    return [ctypes.byref(ctypes.c_char(c.encode())) for c in s]


_STR = ctypes.c_size_t(1)  # the hidden length of each CHARACTER*1 argument (gfortran convention)


def tridiagonalize(a):
    """(c, d, e, tau) of ``dsytrd`` with lower storage on a (symmetric, C or F contiguous, overwritten).

    c is F-ordered, its strict lower part holds the reflectors exactly as scipy.linalg.lapack.dsytrd
    returns them; None when the library is missing or LAPACK reports a failure.
    """
    lib = _load()
    if not lib:
        return None
    c = _fortran_view(a)
    n = c.shape[0]
    it = lib.int_type
    d = np.empty(n)
    e = np.empty(max(n - 1, 1))
    tau = np.empty(max(n - 1, 1))
    info = it(0)
    uplo, = _chars("L")
    work = np.empty(1)
    args = (uplo, ctypes.byref(it(n)), _ptr(c), ctypes.byref(it(max(n, 1))), _ptr(d), _ptr(e), _ptr(tau))
    lib.dsytrd(*args, _ptr(work), ctypes.byref(it(-1)), ctypes.byref(info), _STR)
    if info.value != 0:
        return None
    lwork = max(1, int(work[0]))
    work = np.empty(lwork)
    lib.dsytrd(*args, _ptr(work), ctypes.byref(it(lwork)), ctypes.byref(info), _STR)
    if info.value != 0:
        return None
    return c, d, e[: max(n - 1, 0)], tau[: max(n - 1, 0)]


def tridiagonal_eigenvalue(d, e, index):
    """The index-th smallest (zero-based) eigenvalue of tridiag(e, d, e) by bisection (``dstebz``,
    absolute tolerance the safe minimum: to the tridiagonal form's relative precision); None on failure."""
    lib = _load()
    if not lib:
        return None
    n = d.shape[0]
    it = lib.int_type
    # dstebz does not scale (dsterf does): squares of entries below 1e-154 underflow and read as splits, above
    # 1e154 overflow.  A power of two brings the largest entry near 1, exactly.
    top = max(float(np.abs(d).max()), float(np.abs(e).max()) if n > 1 else 0.0)
    scale = _power_of_two_scale(top)
    d = np.ascontiguousarray(d, dtype=np.float64) * scale
    e = np.ascontiguousarray(e, dtype=np.float64) * scale if n > 1 else np.zeros(1)
    w = np.empty(n)
    # IBLOCK gets one slot in front of the n LAPACK may use: when bisection fails (INFO = 2, a cluster it cannot
    # split) with M = 0, DSTEBZ's discard loop writes IBLOCK(IW) with IW = 0, one element before the array --
    # over the heap's bookkeeping of a plain n-element buffer (a crash later, anywhere).
    iblock = np.empty(n + 1, dtype=np.int64 if it is ctypes.c_int64 else np.int32)
    isplit = np.empty(n, dtype=iblock.dtype)
    work = np.empty(4 * n)
    iwork = np.empty(3 * n, dtype=iblock.dtype)
    m_found, nsplit, info = it(0), it(0), it(0)
    rng, order = _chars("I", "E")
    lib.dstebz(rng, order, ctypes.byref(it(n)), ctypes.byref(ctypes.c_double(0.0)),
               ctypes.byref(ctypes.c_double(0.0)), ctypes.byref(it(index + 1)), ctypes.byref(it(index + 1)),
               ctypes.byref(ctypes.c_double(2.0 * np.finfo(np.float64).tiny)), _ptr(d), _ptr(e),
               ctypes.byref(m_found), ctypes.byref(nsplit), _ptr(w), _ptr(iblock, 1), _ptr(isplit), _ptr(work),
               _ptr(iwork), ctypes.byref(info), _STR, _STR)
    if info.value != 0 or m_found.value != 1:
        return None
    return float(w[0]) / scale


def _fortran_view(a):
    """a as an F-contiguous float64 array sharing its memory (a symmetric matrix is its own transpose)."""
    if a.dtype != np.float64 or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError("a square float64 matrix is required")
    if a.flags.f_contiguous and a.flags.writeable:
        return a
    if a.flags.c_contiguous and a.flags.writeable:
        return a.T
    raise ValueError("a writable contiguous matrix is required")


def _power_of_two_scale(top):
    """2^k with 2^k top in [0.5, 1) (k at most 1020: a subnormal top is brought up as far as representable)."""
    if not (top > 0.0 and math.isfinite(top)):
        return 1.0
    return math.ldexp(1.0, min(-math.frexp(top)[1], 1020))


def extreme_eigenvalues(a):
    """(lambda_min, lambda_max) of the symmetric matrix a (overwritten) from one tridiagonal reduction (dsytrd) and
    two bisections, or None (missing library, LAPACK failure): the caller then uses numpy.linalg.eigvalsh.
    Non-finite entries raise ValueError (LAPACK's result would be meaningless)."""
    if not np.isfinite(a).all():
        raise ValueError("the matrix has non-finite entries")
    n = a.shape[0]
    if n == 0:
        raise ValueError("an empty matrix has no eigenvalues")
    # as dsyevd does: a matrix whose largest entry lies outside [sqrt(safmin / eps), sqrt(eps / safmin)] is
    # scaled into it first (products in the reduction would underflow or overflow), by a power of two
    top = float(np.abs(a).max())
    tiny = np.finfo(np.float64).tiny / np.finfo(np.float64).eps
    sigma = 1.0
    if 0.0 < top < math.sqrt(tiny) or top > 1.0 / math.sqrt(tiny):
        sigma = _power_of_two_scale(top)
        a *= sigma
    tri = tridiagonalize(a)
    if tri is None:
        return None
    d, e = tri[1:3]
    lo = tridiagonal_eigenvalue(d, e, 0)
    hi = tridiagonal_eigenvalue(d, e, n - 1) if n > 1 else lo
    if lo is None or hi is None:
        return None
    return lo / sigma, hi / sigma
