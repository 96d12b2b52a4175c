"""LAPACK through ctypes (``phasecli.runtime.lapack``, issue 24): tridiagonal reductions and the ends of a spectrum.

The oracle is ``numpy.linalg.eigvalsh`` (LAPACK dsyevd: its own reduction and dsterf) and closed forms
(2 x 2, diagonal, rank-deficient Gram matrices, prescribed spectra); the spectra summaries must be those of
the fallback path (numpy's eigvalsh, taken when the library is missing) to rounding, and both must match
the independent oracle ``tests/naive_ntk.py``.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_ntk as oracle
from phasecli import ntk
from phasecli.runtime import lapack

EPS = np.finfo(np.float64).eps
pytestmark = pytest.mark.skipif(lapack.available() is None, reason="no LAPACK with the symbols found beside numpy")


def _sym(n, seed, scale=1.0):
    x = np.random.default_rng(seed).standard_normal((n, n)) * scale
    return x + x.T


def _ends_ok(a, ends, k=20.0):
    w = np.linalg.eigvalsh(a)
    tol = k * max(a.shape[0], 1) * EPS * max(float(np.abs(w).max()), np.finfo(float).tiny)
    assert ends[0] == pytest.approx(w[0], abs=tol)
    assert ends[1] == pytest.approx(w[-1], abs=tol)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 33, 130])
def test_ends_match_numpy(n):
    a = _sym(n, n)
    ends = lapack.extreme_eigenvalues(a.copy())
    _ends_ok(a, ends)


def test_two_by_two_closed_form_and_diagonal():
    a, b, c = 3.0, 1e-3, -2.0
    half = 0.5 * (a - c)
    want = (0.5 * (a + c) - np.hypot(half, b), 0.5 * (a + c) + np.hypot(half, b))
    got = lapack.extreme_eigenvalues(np.array([[a, b], [b, c]]))
    assert got == pytest.approx(want, rel=8 * EPS)
    d = np.array([5.0, -1e-300, 7.5, 2.0])  # a diagonal matrix: every off-diagonal zero (split points)
    assert lapack.extreme_eigenvalues(np.diag(d)) == (-1e-300, 7.5)
    assert lapack.extreme_eigenvalues(np.array([[-4.25]])) == (-4.25, -4.25)


def test_ill_conditioned_prescribed_spectrum():
    """Q diag(lam) Q^T with lam from 1e-13 to 1: lambda_min to the reduction's absolute precision eps ||A||."""
    n = 90
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((n, n)))
    lam = np.logspace(-13, 0, n)
    a = (q * lam) @ q.T
    a = 0.5 * (a + a.T)
    lo, hi = lapack.extreme_eigenvalues(a.copy())
    assert hi == pytest.approx(1.0, rel=1e-13)
    assert abs(lo - 1e-13) < 50 * n * EPS
    _ends_ok(a, (lo, hi))


def test_rank_deficient_gram_matrix():
    """X X^T of rank 5 in dimension 60: lambda_min is 0 up to rounding, lambda_max that of X^T X."""
    x = np.random.default_rng(2).standard_normal((60, 5))
    a = x @ x.T
    lo, hi = lapack.extreme_eigenvalues(a.copy())
    top = float(np.linalg.eigvalsh(x.T @ x)[-1])
    assert hi == pytest.approx(top, rel=1e-13)
    assert abs(lo) < 100 * 60 * EPS * top


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_is_an_error(bad):
    a = _sym(6, 0)
    a[2, 4] = a[4, 2] = bad
    with pytest.raises(ValueError, match="non-finite"):
        lapack.extreme_eigenvalues(a)


def test_bad_shapes_are_errors():
    with pytest.raises(ValueError):
        lapack.extreme_eigenvalues(np.zeros((0, 0)))
    with pytest.raises(ValueError):
        lapack.extreme_eigenvalues(np.zeros((3, 4)))
    with pytest.raises(ValueError):
        lapack.extreme_eigenvalues(np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(ValueError):
        lapack.extreme_eigenvalues(_sym(8, 1)[::2, ::2])  # not contiguous: LAPACK would read other memory


def test_tridiagonalize_matches_scipy_dsytrd():
    """The same routine as scipy.linalg.lapack.dsytrd (lower storage): d, e, tau and the reflectors agree to
    rounding (another build of LAPACK), and the C-ordered input is reduced in place as its F-ordered transpose."""
    from scipy.linalg import eigvalsh_tridiagonal
    from scipy.linalg import lapack as sl

    a = _sym(40, 3)
    c, d, e, tau = lapack.tridiagonalize(a.copy())
    c2, d2, e2, tau2, info = sl.dsytrd(a.copy(), lower=1)
    assert info == 0 and c.flags.f_contiguous
    np.testing.assert_allclose(d, d2, atol=1e-12)
    np.testing.assert_allclose(e, e2, atol=1e-12)
    np.testing.assert_allclose(tau, tau2, atol=1e-12)
    np.testing.assert_allclose(np.tril(c, -2), np.tril(c2, -2), atol=1e-12)
    np.testing.assert_allclose(eigvalsh_tridiagonal(d, e), np.linalg.eigvalsh(a), atol=1e-12)


def test_tridiagonal_eigenvalue_every_index():
    from scipy.linalg import eigvalsh_tridiagonal

    rng = np.random.default_rng(4)
    d, e = rng.standard_normal(25), rng.standard_normal(24)
    e[[3, 11]] = 0.0  # split into blocks
    want = eigvalsh_tridiagonal(d, e)
    got = [lapack.tridiagonal_eigenvalue(d, e, k) for k in range(25)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14 * np.abs(want).max())
    assert lapack.tridiagonal_eigenvalue(np.array([2.5]), np.zeros(0), 0) == 2.5
    # graded: tiny eigenvalues to high relative accuracy (the bisection's absolute tolerance is the safe minimum)
    dg = np.array([1e-30, 1.0, 2.0])
    assert lapack.tridiagonal_eigenvalue(dg, np.zeros(2), 0) == 1e-30


def test_tiny_huge_and_subnormal_scales():
    """Scaled as dsyevd scales (a power of two): no underflow of squared entries (read as splits by the
    bisection) or overflow, down to subnormal matrices."""
    a = _sym(12, 6)
    w = np.linalg.eigvalsh(a)
    for scale in (2.0**-1060, 1e-300, 1e-160, 1e160, 1e300):
        lo, hi = lapack.extreme_eigenvalues(a * scale)
        rel = 1e-13 if scale > 1e-300 else 1e-3  # subnormal entries carry few digits
        assert lo == pytest.approx(w[0] * scale, rel=rel) and hi == pytest.approx(w[-1] * scale, rel=rel), scale
    assert lapack.extreme_eigenvalues(np.zeros((3, 3))) == (0.0, 0.0)


def test_foreign_calls_release_the_gil():
    """ctypes releases the GIL around a call unless the function carries FUNCFLAG_PYTHONAPI (PyDLL): the
    NTK and NNGP summaries of a layer rely on it to run on two cores."""
    lib = lapack._load()
    for name in ("dsytrd", "dstebz"):
        fn = getattr(lib, name)
        assert not fn._flags_ & ctypes._FUNCFLAG_PYTHONAPI, name


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 24), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1e-300, 1e-200, 1e-8, 1.0, 1e150, 1e300]), rank=st.integers(0, 24))
def test_property_ends_bracket_the_spectrum(n, seed, scale, rank):
    """Every matrix: the ends agree with numpy's and bracket the diagonal (Rayleigh quotients of e_i)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, min(rank, n) or 1)) * np.sqrt(scale)
    a = x @ x.T - (0.5 * scale) * np.eye(n) * (seed % 2)
    lo, hi = lapack.extreme_eigenvalues(a.copy())
    _ends_ok(a, (lo, hi))
    tol = 20 * n * EPS * max(float(np.abs(a).sum(axis=1).max()), 1e-300)
    assert lo <= float(np.diag(a).min()) + tol and hi >= float(np.diag(a).max()) - tol


def _spectra(monkeypatch, off, *args, **kw):
    with monkeypatch.context() as mp:
        if off:
            mp.setattr(lapack, "_LIB", False)  # as if no library were found: numpy.linalg.eigvalsh
        return ntk.ntk_spectra(*args, **kw)


COLUMNS = ("lambda_max", "lambda_min", "lambda_bulk", "kappa", "nngp_lambda_max", "nngp_lambda_min",
           "nngp_lambda_bulk", "nngp_kappa")


@pytest.mark.parametrize("normalize", [True, False], ids=["normalized", "as_given"])
@pytest.mark.parametrize("sw2,depths", [(1.5, [1, 3, 8]), (0.8, [2, 40])], ids=["chaotic", "ordered_deep"])
def test_summaries_equal_the_fallback_and_the_oracle(monkeypatch, normalize, sw2, depths):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((70, 9)) * rng.uniform(0.5, 1.5, size=(70, 1))
    got = _spectra(monkeypatch, False, "erf", X, sw2, 0.1, depths, normalize=normalize)
    ref = _spectra(monkeypatch, True, "erf", X, sw2, 0.1, depths, normalize=normalize)
    for c in COLUMNS:
        np.testing.assert_allclose(getattr(got, c), getattr(ref, c), rtol=1e-11, err_msg=c)
    np.testing.assert_array_equal(got.resolved, ref.resolved)
    assert list(got.method) == list(ref.method)
    Xo = oracle.normalize_rows(X, sw2, 0.1, oracle.q_star("erf", sw2, 0.1)) if normalize else X
    kern = oracle.kernels("erf", Xo, sw2, 0.1, depths)
    for i, depth in enumerate(depths):
        for prefix, mat in (("", kern[depth][1]), ("nngp_", kern[depth][0])):
            lmax, lmin, bulk, kappa = oracle.spectrum(mat)
            assert getattr(got, prefix + "lambda_max")[i] == pytest.approx(lmax, rel=1e-9)
            assert getattr(got, prefix + "lambda_bulk")[i] == pytest.approx(bulk, rel=1e-9)
            if getattr(got, prefix + "resolved")[i] and kappa < 1e6:
                assert getattr(got, prefix + "lambda_min")[i] == pytest.approx(lmin, rel=1e-7)


def test_summaries_use_the_ctypes_path(monkeypatch):
    """The spectra call the reduction through ctypes (not numpy's eigvalsh) when the library is there."""
    calls = []
    real = lapack.extreme_eigenvalues

    def spy(a, *args, **kw):
        calls.append(a.shape[0])
        return real(a, *args, **kw)

    monkeypatch.setattr(lapack, "extreme_eigenvalues", spy)
    monkeypatch.setattr(np.linalg, "eigvalsh", lambda *a, **k: pytest.fail("numpy eigvalsh called"))
    X = np.random.default_rng(9).standard_normal((30, 4))
    s = ntk.ntk_spectra("erf", X, 1.5, 0.05, [1, 2], normalize=False)
    assert s.status == "ok" and calls and set(calls) <= {30, 29}


# A tridiagonal form the NTK summaries met (kappa -a erf --sw2 0.5:4:20 --sb2 0.1 --depth 1:100): twenty eigenvalues
# within 4e-15 of 1.  dstebz's bisection cannot split the cluster (INFO = 2, M = 0) and its discard loop then writes
# IBLOCK(0), one element before the array: with a plain n-element buffer that corrupted the heap and a later,
# unrelated allocation aborted the process ("corrupted size vs. prev_size").
_CLUSTER_D = [float.fromhex(h) for h in (
    "0x1.0000000000000p+0", "0x1.000000000000cp+0", "0x1.ffffffffffffep-1", "0x1.ffffffffffffep-1",
    "0x1.ffffffffffffep-1", "0x1.ffffffffffffep-1", "0x1.0000000000001p+0", "0x1.ffffffffffffap-1",
    "0x1.ffffffffffff6p-1", "0x1.ffffffffffffap-1", "0x1.ffffffffffffep-1", "0x1.ffffffffffffep-1",
    "0x1.ffffffffffffap-1", "0x1.0000000000001p+0", "0x1.0000000000001p+0", "0x1.0000000000001p+0",
    "0x1.ffffffffffffep-1", "0x1.ffffffffffff6p-1", "0x1.ffffffffffffep-1", "0x1.ffffffffffffep-1")]
_CLUSTER_E = [float.fromhex(h) for h in (
    "-0x1.8c0ff67ada015p-51", "0x1.ccf0d384eac9ep-54", "-0x1.99fb5ecc17c24p-54", "0x1.381c209c9668cp-53",
    "0x1.e02327304fff2p-54", "-0x1.a3bfad7ff6ad2p-54", "-0x1.9b0f669dc8d8ep-52", "0x1.ad6e596b4ae7ep-51",
    "0x1.ee74f1e858fbep-52", "-0x1.3db616c1adf7fp-53", "0x1.7bfd07100e0eep-54", "0x1.0b9bfa6aacdcap-53",
    "-0x1.52d225c644cdep-53", "-0x1.acd1eb2d3f3e1p-52", "0x1.62841a88ce359p-53", "-0x1.c0d22741bbda0p-52",
    "0x1.21879d7e42050p-52", "-0x1.e27cd464bf22bp-54", "-0x1.f98ef4cb147cap-58")]


def test_failed_bisection_leaves_the_heap_intact():
    """The cluster's top eigenvalue: dstebz fails (None: the callers fall back to scipy), and 200 such calls in a
    fresh interpreter under glibc's checking allocator (MALLOC_CHECK_=3, its debug library preloaded where glibc
    ships one) exit cleanly; before the fix this aborted."""
    import os
    import subprocess
    import sys

    from scipy.linalg import eigvalsh_tridiagonal

    d, e = np.array(_CLUSTER_D), np.array(_CLUSTER_E)
    top = lapack.tridiagonal_eigenvalue(d, e, d.size - 1)
    want = float(eigvalsh_tridiagonal(d, e)[-1])
    assert top is None or abs(top - want) <= 4 * EPS
    assert phasecli_ends(d, e) == pytest.approx((float(eigvalsh_tridiagonal(d, e)[0]), want), abs=4 * EPS)
    env = dict(os.environ, MALLOC_CHECK_="3", MALLOC_PERTURB_="165")
    debug = [p for p in ("/lib/x86_64-linux-gnu/libc_malloc_debug.so.0", "/usr/lib64/libc_malloc_debug.so.0",
                         "/lib64/libc_malloc_debug.so.0", "/usr/lib/libc_malloc_debug.so.0") if os.path.exists(p)]
    if debug:
        env["LD_PRELOAD"] = debug[0]
    code = ("import gc, numpy as np\nfrom phasecli.runtime import lapack\n"
            f"d, e = np.array({_CLUSTER_D!r}), np.array({_CLUSTER_E!r})\n"
            "for _ in range(200):\n    lapack.tridiagonal_eigenvalue(d, e, d.size - 1)\n"
            "    junk = [bytearray(k) for k in range(1, 400)]\ngc.collect()\nprint('clean')\n")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "clean", (proc.returncode, proc.stderr[-400:])


def phasecli_ends(d, e):
    from phasecli.ntk.spectra import _tridiagonal_ends

    return _tridiagonal_ends(d, e)
