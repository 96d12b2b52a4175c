"""``abs`` (phi(x) = |x|) in every command that takes --activation, against oracles independent of phasecli.

abs belongs to the arc-cosine family (phi = x for x > 0, a x for x < 0, a = -1).  What the oracles use:

- phi'^2 = 1 everywhere, so E[phi(sqrt(q) z)^2] = q (the q-map is the linear network's: q* = sb2 / (1 - sw2)
  for sw2 < 1, q* = q0 at sw2 = 1 with sb2 = 0, infinite otherwise) and chi_1 = sw2 at every q;
- the two-point kernel ``naive.abs_pair_closed`` (E|u1||u2| = sqrt(s11 s22) (2/pi)(sqrt(1 - c^2) + c asin c),
  E[sign u1 sign u2] = (2/pi) asin c), itself checked here against the nested ``scipy.integrate.quad`` of
  ``naive.pair`` (phi, phi' written from the definition);
- the plain NNGP / NTK recursions of ``naive_ntk`` (fc), ``naive_cnn`` (CNN-F / CNN-P) and
  ``naive_generalize`` (mean predictor), all with that kernel;
- the Jacobian of an abs network is a linear network's up to signs (D^2 = I): its squared singular values
  follow Fuss-Catalan moments for Gaussian weights (s2 / sw2^L has moments binom((L+1)k, k) / (Lk + 1),
  edge (L+1)^(L+1) / L^L) and equal sw2^L for orthogonal weights;
- Monte Carlo with independent numpy networks (``naive_finite``, ``naive_train``), fixed seeds: finite-width
  means within 4 standard errors.  For abs two finite-width means are exact at any width (|D v| = |v|):
  E[q^L] = the q recursion and E[mean_s2] = sw2^L.

Required accuracy: relative 1e-8 on every deterministic column.  The whole file runs in ~30 s on 2 cores.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

import naive as nv
import naive_cnn as ncnn
import naive_finite as nfin
import naive_generalize as ngen
import naive_ntk as nn
import naive_train as ntr

REL = 1e-8

# (sw2, sb2): ordered, ordered just below the edge, critical (sb2 = 0, q* = q0), critical with sb2 > 0 (q* = inf),
# chaotic (q* = inf), and the zero fixed point (sb2 = 0, sw2 < 1)
ORDERED = [(0.5, 0.1), (0.99, 0.1)]
CRITICAL = (1.0, 0.0)


def run_rows(cli, *args, status=0):
    r = cli(*args, "-f", "csv")
    assert r.returncode == status, (args, r.returncode, r.stderr)
    return list(csv.DictReader(io.StringIO(r.stdout)))


def f(row, key):
    return float(row[key])


def close(got, want, what, rel=REL, atol=0.0):
    if math.isinf(want) or math.isnan(want):
        assert got == want or (math.isnan(want) and math.isnan(got)), f"{what}: got {got!r}, want {want!r}"
        return
    assert abs(got - want) <= rel * abs(want) + atol, (
        f"{what}: got {got!r}, want {want!r}, rel err {abs(got - want) / abs(want) if want else abs(got):.3g}")


def q_star(sw2, sb2, q0=1.0):
    """The fixed point of q <- sw2 q + sb2 reached from q0 (closed form)."""
    if sw2 < 1.0:
        return sb2 / (1.0 - sw2)
    if sw2 == 1.0 and sb2 == 0.0:
        return q0
    return math.inf


def xi(chi):
    return -1.0 / math.log(chi) if chi != 1.0 else math.inf


# --------------------------------------------------------------------------- the oracle's own kernel


@pytest.mark.parametrize("q,c", [(0.3, 0.5), (2.0, -0.3), (1.0, 0.0), (5.0, 0.999999), (0.7, -0.999999),
                                 (1.0, 1.0), (1.3, -1.0)])
def test_closed_form_kernel_equals_nested_quadrature(q, c):
    t, td = nv.abs_pair_closed(q, c)
    t_ref, td_ref = nv.pair("abs", q, c)  # phi = |x|, phi' = sign x, by nested quad
    close(t, t_ref, f"T(q={q}, c={c})", rel=1e-11)
    close(td, td_ref, f"Tdot(q={q}, c={c})", rel=1e-11, atol=1e-15)
    # E[phi^2] = q, E[phi'^2] = 1: the q-map is the linear network's
    close(nv.length_map("abs", q), q, "E[|u|^2]", rel=1e-12)
    close(nv.dphi2("abs", q), 1.0, "E[phi'^2]", rel=1e-12)
    # the general-covariance form used by the NTK oracle
    t2, td2 = nn.pair("abs", q, 2.0 * q, c * q * math.sqrt(2.0))
    close(t2, math.sqrt(2.0) * t, "T at unequal variances", rel=1e-13)
    close(td2, td, "Tdot at unequal variances", rel=1e-13, atol=1e-16)


# --------------------------------------------------------------------------- phase, critical, depth-scale


def test_phase(cli):
    rows = run_rows(cli, "phase", "-a", "abs", "--sw2", "0.5,0.99,1,1.5", "--sb2", "0,0.1")
    assert len(rows) == 8
    for row in rows:
        sw2, sb2 = f(row, "sw2"), f(row, "sb2")
        qs = q_star(sw2, sb2)
        where = f"phase -a abs --sw2 {sw2} --sb2 {sb2}"
        close(f(row, "chi_1"), sw2 * nv.dphi2("abs", 1.0 if not 0 < qs < math.inf else qs), where + " chi_1")
        close(f(row, "xi_grad"), xi(sw2), where + " xi_grad")
        if sw2 < 1.0 and sb2 > 0.0:  # finite stable fixed point
            q = f(row, "q_star")
            close(q, qs, where + " q*")
            # the oracle's q-map residual changes sign across it
            assert nv.q_residual("abs", q * (1 - 1e-9), sw2, sb2) > 0 > nv.q_residual("abs", q * (1 + 1e-9), sw2, sb2)
            close(f(row, "q_slope"), nv.q_slope("abs", qs, sw2), where + " q-map slope")
            assert row["fixed_point"] == "stable" and row["phase"] == "ordered"
            assert f(row, "c_star") == 1.0
            # c* = 1 is stable: the c-map's slope there is chi_c = sw2 E[phi'(u1) phi'(u2)] at c = 1
            close(f(row, "chi_c"), nv.chi_c("abs", sw2, qs, 1.0), where + " chi_c")
            for key in ("xi_q", "xi_c", "xi_1"):
                close(f(row, key), xi(sw2), f"{where} {key}")
            assert math.isnan(f(row, "xi_star"))
            close(f(row, "max_trainable_depth"), 6.0 * xi(sw2), where + " max_trainable_depth")
        elif sw2 < 1.0:  # sb2 = 0: the signal dies
            assert row["fixed_point"] == "zero" and f(row, "q_star") == 0.0 and math.isnan(f(row, "c_star"))
            close(f(row, "chi_1"), sw2 * nv.dphi2("abs", 1e-300), where + " chi_1 at q* = 0")
        elif sw2 == 1.0 and sb2 == 0.0:  # every q is a fixed point: q* = q0
            assert row["fixed_point"] == "marginal" and row["phase"] == "critical"
            assert f(row, "q_star") == 1.0 and f(row, "c_star") == 1.0 and f(row, "chi_c") == 1.0
        else:  # q^{l+1} - q^l = (sw2 - 1) q^l + sb2 > 0 at every q: no fixed point
            assert all(nv.q_residual("abs", 10.0 ** k, sw2, sb2) > 0 for k in range(-3, 12, 3))
            assert row["fixed_point"] == "infinite" and f(row, "q_star") == math.inf
            assert math.isnan(f(row, "c_star"))
            assert row["phase"] == ("critical" if sw2 == 1.0 else "chaotic")


def test_phase_q0_on_the_marginal_line(cli):
    rows = run_rows(cli, "phase", "-a", "abs", "--sw2", "1", "--sb2", "0", "--q0", "2.5")
    assert f(rows[0], "q_star") == 2.5 and rows[0]["fixed_point"] == "marginal"


def test_q_map_is_linear_but_c_map_is_not(cli):
    args = ("--sw2", "0.5,0.99", "--sb2", "0.1")
    a = run_rows(cli, "phase", "-a", "abs", *args)
    lin = run_rows(cli, "phase", "-a", "linear", *args)
    for ra, rl in zip(a, lin):
        for key in ("q_star", "q_slope", "chi_1", "xi_q", "xi_grad"):
            close(f(ra, key), f(rl, key), f"abs vs linear {key}", rel=1e-12)
    # the correlation map differs: verify's c_theory at depth 4 (c^1 = 0.5) against both recursions
    common = ("--sw2", "0.9", "--sb2", "0.1", "--width", "16", "--depth", "4", "--samples", "4")
    ca = f(run_rows(cli, "verify", "-a", "abs", *common)[0], "c_theory")
    cl = f(run_rows(cli, "verify", "-a", "linear", *common)[0], "c_theory")
    want_abs = recursion_two_inputs(0.9, 0.1, 4, "abs")[1][4]
    want_lin = recursion_two_inputs(0.9, 0.1, 4, "linear")[1][4]
    close(ca, want_abs, "abs c^4")
    close(cl, want_lin, "linear c^4")
    assert abs(want_abs - want_lin) > 1e-2


def test_critical(cli):
    rows = run_rows(cli, "critical", "-a", "abs", "--sb2", "0,0.1")
    assert [r["status"] for r in rows] == ["ok", "ok"]
    # chi_1 = sw2 E[phi'^2] = sw2 at every q: chi_1 = 1 exactly at sw2 = 1 (the oracle's E[phi'^2] = 1)
    for r in rows:
        close(f(r, "sw2_critical"), 1.0 / nv.dphi2("abs", 1.0), "critical sw2")
    assert f(rows[0], "q_star") == 1.0  # sb2 = 0: q* = q0
    assert f(rows[1], "q_star") == math.inf  # q^l = q0 + (l - 1) sb2 on the critical line
    rows = run_rows(cli, "critical", "-a", "abs", "--sb2", "0", "--q0", "3")
    assert f(rows[0], "q_star") == 3.0


def test_depth_scale(cli):
    rows = run_rows(cli, "depth-scale", "-a", "abs", "--sw2", "0.5,0.99,1,1.5", "--sb2", "0.1",
                    "--trainable-multiple", "4.5")
    for row in rows:
        sw2 = f(row, "sw2")
        close(f(row, "chi_1"), sw2, "chi_1")
        close(f(row, "xi_grad"), xi(sw2), f"xi_grad sw2={sw2}")
        if sw2 < 1.0:
            for key in ("xi_q", "xi_c", "xi_1"):
                close(f(row, key), xi(sw2), f"{key} sw2={sw2}")
            close(f(row, "max_trainable_depth"), 4.5 * xi(sw2), "max_trainable_depth")
            assert math.isnan(f(row, "xi_star"))
        else:  # q* infinite
            assert row["fixed_point"] == "infinite" and math.isnan(f(row, "xi_c"))


# --------------------------------------------------------------------------- kappa, lr: fc


def write_inputs(tmp_path, m=5, d=4, seed=3):
    X = np.random.default_rng(seed).standard_normal((m, d))
    path = tmp_path / "x.csv"
    np.savetxt(path, X, delimiter=",", fmt="%.17g")
    return X, str(path)


def fc_reference(X, sw2, sb2, depths, normalize=True):
    if normalize:
        X = nn.normalize_rows(X, sw2, sb2, q_star(sw2, sb2))
    out = {}
    for depth, (K, Th, _, _) in nn.kernels("abs", X, sw2, sb2, depths).items():
        out[depth] = (nn.spectrum(Th), nn.spectrum(K))
    return out


FC_POINTS = [(0.5, 0.1, True), (0.99, 0.1, True), (1.0, 0.0, True), (0.9, 0.1, False), (1.0, 0.1, False),
             (1.5, 0.1, False)]


@pytest.mark.parametrize("sw2,sb2,normalize", FC_POINTS)
def test_kappa_fc(cli, tmp_path, sw2, sb2, normalize):
    X, path = write_inputs(tmp_path)
    m = X.shape[0]
    depths = [1, 3, 10]
    rows = run_rows(cli, "kappa", "-a", "abs", "--sw2", sw2, "--sb2", sb2, "--data", path, "--depth", "1,3,10",
                    "--normalize" if normalize else "--no-normalize")
    ref = fc_reference(X, sw2, sb2, depths, normalize)
    assert [int(r["depth"]) for r in rows] == depths
    for row in rows:
        L = int(row["depth"])
        (lmax, lmin, lbulk, kap), (nmax, nmin, nbulk, nkap) = ref[L]
        where = f"kappa -a abs sw2={sw2} sb2={sb2} depth {L}"
        assert row["status"] == "ok" and row["resolved"] == "true", (where, row)
        for key, want in (("lambda_max", lmax), ("lambda_min", lmin), ("lambda_bulk", lbulk), ("kappa", kap),
                          ("nngp_lambda_max", nmax), ("nngp_lambda_min", nmin), ("nngp_lambda_bulk", nbulk),
                          ("nngp_kappa", nkap)):
            close(f(row, key), want, f"{where} {key}")
        if normalize and sw2 < 1.0:  # ordered: m p* / (l chi_1^l), p* = q* / (1 - chi_1) the NTK diagonal's fixed point
            pstar = q_star(sw2, sb2) / (1.0 - sw2)
            close(f(row, "kappa_theory"), m * pstar / (L * sw2 ** L), where + " kappa_theory")
        if (sw2, sb2) == CRITICAL:  # phi' jumps at 0: (m + 3) / 3
            close(f(row, "kappa_theory"), (m + 3) / 3, where + " kappa_theory")


def test_kappa_fc_critical_limit_is_m_plus_3_over_3(cli):
    """The large-depth critical constant for abs: the c-map near c = 1 is 1 - eps -> 1 - eps + (2/(3 pi))(2 eps)^1.5
    (twice relu's correction) and Tdot = 1 - 2 theta / pi with theta ~ 3 pi / (2 l): Tdot ~ 1 - 3/l as for relu,
    so Theta_ab / Theta_aa -> 1/4.  Checked on the oracle's own recursion at depth 3000 (m = 3)."""
    X = np.random.default_rng(5).standard_normal((3, 4))
    X = nn.normalize_rows(X, 1.0, 0.0, 1.0)
    K, Th, _, _ = nn.kernels("abs", X, 1.0, 0.0, [3000])[3000]
    ratio = (Th.sum() - np.trace(Th)) / 6.0 / np.mean(np.diag(Th))
    assert abs(ratio - 0.25) < 0.01, ratio


@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_lr(cli, tmp_path, loss):
    X, path = write_inputs(tmp_path)
    m = X.shape[0]
    for sw2, sb2 in ORDERED + [CRITICAL]:
        rows = run_rows(cli, "lr", "-a", "abs", "--sw2", sw2, "--sb2", sb2, "--data", path, "--depth", "2,7",
                        "--loss", loss)
        ref = fc_reference(X, sw2, sb2, [2, 7])
        scale = m if loss == "mean" else 1
        for row in rows:
            lmax = ref[int(row["depth"])][0][0]
            close(f(row, "lambda_max"), lmax, f"lr lambda_max sw2={sw2}")
            close(f(row, "eta_max"), scale * 2.0 / lmax, f"lr eta_max sw2={sw2} loss={loss}")
            close(f(row, "eta_catapult"), scale * 4.0 / lmax, f"lr eta_catapult sw2={sw2}")


# --------------------------------------------------------------------------- kappa: CNN-F and CNN-P


@pytest.mark.parametrize("sw2,sb2", [(0.9, 0.1), CRITICAL])
def test_kappa_cnn(cli, tmp_path, sw2, sb2):
    image = (3, 3, 1)
    X = np.random.default_rng(7).standard_normal((3, 9))
    path = tmp_path / "img.csv"
    np.savetxt(path, X, delimiter=",", fmt="%.17g")
    rows = run_rows(cli, "kappa", "-a", "abs", "--sw2", sw2, "--sb2", sb2, "--data", str(path), "--depth", "1,3",
                    "--architecture", "cnn-f,cnn-p", "--image-shape", "3,3,1", "--filter", "3", "--no-normalize")
    assert sorted({r["architecture"] for r in rows}) == ["cnn-f", "cnn-p"]
    for arch in ("cnn-f", "cnn-p"):
        ref = ncnn.cnn_kernels("abs", X, image, 3, sw2, sb2, [1, 3], pooled=arch == "cnn-p")
        for row in (r for r in rows if r["architecture"] == arch):
            L = int(row["depth"])
            nngp, ntk = ref[L]
            tmax, tmin = ncnn.spectrum(ntk)
            kmax, kmin = ncnn.spectrum(nngp)
            where = f"kappa -a abs --architecture {arch} sw2={sw2} sb2={sb2} depth {L}"
            assert row["status"] == "ok", (where, row)
            close(f(row, "lambda_max"), tmax, where + " lambda_max")
            close(f(row, "lambda_min"), tmin, where + " lambda_min")
            close(f(row, "kappa"), tmax / tmin, where + " kappa")
            close(f(row, "lambda_bulk"), (np.trace(ntk) - tmax) / 2, where + " lambda_bulk")
            close(f(row, "nngp_lambda_max"), kmax, where + " nngp_lambda_max")
            close(f(row, "nngp_lambda_min"), kmin, where + " nngp_lambda_min")
            pixels = 9 if arch == "cnn-p" else 1
            if sw2 < 1.0:
                pstar = q_star(sw2, sb2) / (1.0 - sw2)
                close(f(row, "kappa_theory"), pixels * 3 * pstar / (L * sw2 ** L), where + " kappa_theory")
            else:
                close(f(row, "kappa_theory"), (pixels * 3 + 3) / 3, where + " kappa_theory")


# --------------------------------------------------------------------------- generalize


def blobs(m, dim, k, seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, dim)) * 1.5
    y = np.arange(m) % k
    return centers[y] + rng.normal(size=(m, dim)), y


@pytest.mark.parametrize("sw2,sb2", ORDERED + [CRITICAL])
def test_generalize(cli, tmp_path, sw2, sb2):
    X, y = blobs(24, 5, 3, 1)
    Xt, yt = blobs(15, 5, 3, 2)
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    np.savetxt(train, np.column_stack([X, y]), delimiter=",", fmt="%.17g")
    np.savetxt(test, np.column_stack([Xt, yt]), delimiter=",", fmt="%.17g")
    rows = run_rows(cli, "generalize", "-a", "abs", "--train", train, "--test", test, "--sw2", sw2, "--sb2", sb2,
                    "--depth", "1,4")
    Y = (yt[:, None] == np.arange(3)[None, :]) - 1.0 / 3
    for row in rows:
        L = int(row["depth"])
        mu = ngen.predictions("abs", X, y, Xt, sw2, sb2, L)
        K, Th = ngen.kernels("abs", X, sw2, sb2, L)
        lam = np.linalg.eigvalsh(Th)
        where = f"generalize -a abs sw2={sw2} sb2={sb2} depth {L}"
        assert row["status"] == "ok", (where, row)
        close(f(row, "test_accuracy"), float(np.mean(np.argmax(mu, axis=1) == yt)), where + " test_accuracy",
              rel=1e-15)
        close(f(row, "test_mse"), float(np.mean((mu - Y) ** 2)), where + " test_mse")
        close(f(row, "prediction_scale"), float(np.sqrt(np.mean(mu ** 2)) / np.sqrt(np.mean(Y ** 2))),
              where + " prediction_scale")
        close(f(row, "kappa"), lam[-1] / lam[0], where + " kappa")
        assert f(row, "train_accuracy") == 1.0


# --------------------------------------------------------------------------- jacobian


def fuss_catalan_var(L):
    """Variance of the Fuss-Catalan law of order L (moments binom((L+1)k, k) / (Lk + 1))."""
    m1 = math.comb(L + 1, 1) / (L + 1)
    m2 = math.comb(2 * (L + 1), 2) / (2 * L + 1)
    return m2 - m1 * m1


@pytest.mark.parametrize("sw2,sb2", ORDERED + [CRITICAL, (0.5, 0.0)])
def test_jacobian(cli, sw2, sb2):
    rows = run_rows(cli, "jacobian", "-a", "abs", "--sw2", sw2, "--sb2", sb2, "--depth", "1,4,16")
    lin = run_rows(cli, "jacobian", "-a", "linear", "--sw2", sw2, "--sb2", sb2, "--depth", "1,4,16")
    assert len(rows) == 6
    for row, lrow in zip(rows, lin):
        L = int(row["depth"])
        s = sw2 ** L
        where = f"jacobian -a abs sw2={sw2} sb2={sb2} depth {L} {row['weights']}"
        close(f(row, "q_star"), q_star(sw2, sb2), where + " q*")
        close(f(row, "chi_1"), sw2 * nv.dphi2("abs", 1.0), where + " chi_1")
        close(f(row, "mean_s2"), s, where + " mean_s2")
        if row["weights"] == "gaussian":
            close(f(row, "var_s2"), s * s * fuss_catalan_var(L), where + " var_s2")
            close(f(row, "s2_max"), s * (L + 1) ** (L + 1) / L ** L, where + " s2_max")
            assert f(row, "s2_min") == 0.0
        else:
            close(f(row, "var_s2"), 0.0, where + " var_s2", atol=1e-14 * s * s)
            close(f(row, "s2_max"), s, where + " s2_max")
            close(f(row, "s2_min"), s, where + " s2_min")
        for key in ("mean_s2", "var_s2", "s2_max", "s2_min"):  # the linear network's spectrum
            close(f(row, key), f(lrow, key), f"{where} {key} vs linear", atol=1e-14 * s * s)


def test_jacobian_default_sw2_is_critical(cli):
    rows = run_rows(cli, "jacobian", "-a", "abs", "--sb2", "0", "--depth", "3", "--weights", "gaussian")
    close(f(rows[0], "sw2"), 1.0, "critical sw2")
    close(f(rows[0], "var_s2"), fuss_catalan_var(3), "var_s2 at sw2 = 1")


def test_jacobian_empirical(cli):
    """Finite networks: chi_1 measured = sw2 mean(phi'^2) = sw2 exactly; E[mean_s2] = sw2^L exactly at any width
    (|D v| = |v|); orthogonal weights: J / sw2^(L/2) is orthogonal, every s2 = sw2^L."""
    sw2, L = 0.9, 3
    rows = run_rows(cli, "jacobian", "-a", "abs", "--sw2", sw2, "--sb2", "0.1", "--depth", L, "--empirical",
                    "--width", "48", "--samples", "16", "--seed", "2")
    for row in rows:
        close(f(row, "chi_1"), sw2, "measured chi_1", rel=1e-12)
        if row["weights"] == "gaussian":
            assert abs(f(row, "mean_s2") - sw2 ** L) <= 4 * f(row, "mean_s2_se"), row
        else:
            close(f(row, "mean_s2"), sw2 ** L, "orthogonal mean_s2", rel=1e-12)
            close(f(row, "s2_max"), sw2 ** L, "orthogonal s2_max", rel=1e-12)
            close(f(row, "s2_min"), sw2 ** L, "orthogonal s2_min", rel=1e-12)


# --------------------------------------------------------------------------- check, init


def test_check(cli, tmp_path):
    X, path = write_inputs(tmp_path)
    rows = run_rows(cli, "check", "-a", "abs", "--sw2", "0.5,0.99,1", "--sb2", "0,0.1", "--depth", "5,200",
                    status=1)
    assert len(rows) == 12
    for row in rows:
        sw2, sb2, L = f(row, "sw2"), f(row, "sb2"), int(row["depth"])
        qs = q_star(sw2, sb2)
        where = f"check -a abs sw2={sw2} sb2={sb2} depth {L}"
        close(f(row, "q_star"), qs, where + " q*")
        close(f(row, "chi_1"), sw2, where + " chi_1")
        if sw2 < 1.0:
            close(f(row, "xi_1"), xi(sw2), where + " xi_1")
            close(f(row, "max_conditioned_depth"), 6 * xi(sw2), where + " max_conditioned_depth")
        if 0.0 < qs < math.inf:
            close(f(row, "chi_c"), sw2, where + " chi_c")
            close(f(row, "xi_c"), xi(sw2), where + " xi_c")
            close(f(row, "max_trainable_depth"), 6 * xi(sw2), where + " max_trainable_depth")
        # the verdict from the criteria: signal (q* finite, non-zero unless critical), depth <= 6 xi_c, 6 xi_1
        signal = math.isfinite(qs) and (qs > 0.0 or sw2 == 1.0)
        trainable = signal and L <= 6 * xi(sw2)  # xi_c = xi_1 = xi(sw2) for abs (inf at sw2 = 1)
        assert row["verdict"] == ("pass" if trainable else "fail"), (where, row["verdict"], row["reason"])
        assert row["signal"] == ("pass" if signal else "fail"), where
    # with --lr: eta_max = 2 / lambda_max of the NTK on the (normalized) inputs
    ref = fc_reference(X, 0.5, 0.1, [5])
    eta_max = 2.0 / ref[5][0][0]
    for eta, verdict, status in ((0.99 * eta_max, "pass", 0), (1.01 * eta_max, "fail", 1)):
        row = run_rows(cli, "check", "-a", "abs", "--sw2", "0.5", "--sb2", "0.1", "--depth", "5", "--lr", eta,
                       "--data", path, status=status)[0]
        close(f(row, "eta_max"), eta_max, "check eta_max")
        assert row["verdict"] == verdict and row["learning_rate"] == verdict, row


def test_init(cli):
    rows = run_rows(cli, "init", "-a", "abs", "--depth", "10,100", "--weights", "gaussian,orthogonal",
                    "--fan-in", "512")
    assert len(rows) == 4
    for row in rows:
        L = int(row["depth"])
        # chi_1 = sw2 E[phi'^2] = 1 only at sw2 = 1, where q* is finite only for sb2 = 0 (He-like rule)
        close(f(row, "sw2"), 1.0 / nv.dphi2("abs", 1.0), "init sw2")
        assert f(row, "sb2") == 0.0 and row["sb2_rule"] == "he"
        close(f(row, "w_std"), 1.0, "w_std")
        close(f(row, "w_std_standard"), math.sqrt(1.0 / 512), "w_std_standard")
        close(f(row, "q_star"), 1.0, "q* (= q0)")
        close(f(row, "chi_1"), 1.0, "chi_1")
        close(f(row, "mean_s2"), 1.0, "mean_s2")
        want = fuss_catalan_var(L) if row["weights"] == "gaussian" else 0.0
        close(f(row, "var_s2"), want, f"init var_s2 depth {L} {row['weights']}", atol=1e-12)
        assert f(row, "xi_c") == math.inf and f(row, "max_trainable_depth") == math.inf
    # sb2 > 0: q^l = q0 + (l - 1) sb2 at sw2 = 1, no finite critical point
    r = cli("init", "-a", "abs", "--sb2", "0.1", "--depth", "10")
    assert r.returncode == 1 and "infinite" in r.stderr and r.stdout == ""


# --------------------------------------------------------------------------- verify (Monte Carlo)


def recursion_two_inputs(sw2, sb2, depth, act, q0=1.0, c0=0.5):
    """q^l, c^l (l = 1..depth) and the NTK diagonal Theta^{l+1} of a depth-l network for two inputs."""
    q, c, th = {1: q0}, {1: c0}, {}
    theta = q0  # Theta^1(x1, x1)
    for l in range(1, depth + 1):
        if act == "abs":
            t, td = nv.abs_pair_closed(q[l], c[l])
        else:  # linear
            t = q[l] * c[l]
        q_next = sw2 * q[l] + sb2
        theta = q_next + sw2 * theta  # Tdot(q, q) = E[phi'^2] = 1
        th[l] = theta
        q[l + 1], c[l + 1] = q_next, (sw2 * t + sb2) / q_next
    return q, c, th


VERIFY_POINTS = [(0.9, 0.1), (0.99, 0.1), (1.0, 0.0), (1.0, 0.1)]


def test_verify(cli):
    width, samples, depths = 48, 160, [1, 2, 5]
    rows = run_rows(cli, "verify", "-a", "abs", "--sw2", "0.9,0.99,1", "--sb2", "0,0.1", "--width", width,
                    "--depth", "1,2,5", "--samples", samples, "--seed", "11")
    configs = [("abs", sw2, sb2) for sw2, sb2 in VERIFY_POINTS]
    mc = nfin.sample_many(configs, width, depths, samples, seed=5, chunk=32)
    seen = 0
    for row in rows:
        sw2, sb2, L = f(row, "sw2"), f(row, "sb2"), int(row["depth"])
        if (sw2, sb2) not in VERIFY_POINTS:
            continue
        seen += 1
        q, c, th = recursion_two_inputs(sw2, sb2, L, "abs")
        where = f"verify -a abs sw2={sw2} sb2={sb2} depth {L}"
        close(f(row, "q_theory"), q[L], where + " q_theory")
        close(f(row, "c_theory"), c[L], where + " c_theory")
        close(f(row, "ntk_theory"), th[L], where + " ntk_theory")
        # E[q^L] is exact at finite width for abs (|phi(h)|^2 = |h|^2)
        assert abs(f(row, "q_mean") - q[L]) <= 4 * f(row, "q_se"), (where, row["q_mean"], row["q_se"])
        # c and Theta: against the independent numpy networks (same width), 4 combined standard errors
        k = depths.index(L)
        ref = mc[("abs", sw2, sb2)]
        for key, col in (("c", "c_mean"), ("ntk", "ntk_mean"), ("q", "q_mean")):
            x = ref[key][:, k]
            se = math.hypot(f(row, col.replace("mean", "se")), x.std(ddof=1) / math.sqrt(x.size))
            assert abs(f(row, col) - x.mean()) <= 4 * se, (where, key, f(row, col), x.mean(), se)
    assert seen == 12


# --------------------------------------------------------------------------- train (Monte Carlo)


def median_rank_ok(value, sample, s):
    """The median of s draws of a distribution against a large sample of it: the sample's CDF at the
    median is Beta((s+1)/2, (s+1)/2)-distributed (sd 1/(2 sqrt(s+2))); allow 4 sd plus the ECDF's own."""
    F = np.mean(np.asarray(sample) <= value)
    sd = math.sqrt(1.0 / (4 * (s + 2)) + 1.0 / (4 * len(sample)))
    return abs(F - 0.5) <= 4 * sd, F


@pytest.mark.slow
def test_train(cli, tmp_path):
    sw2, sb2, depth, width, samples, steps = 0.9, 0.1, 2, 32, 41, 30
    X, y = blobs(6, 4, 2, 9)
    path = tmp_path / "train.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", fmt="%.17g")
    rows = run_rows(cli, "train", "-a", "abs", "--train", path, "--sw2", sw2, "--sb2", sb2, "--depth", depth,
                    "--width", width, "--samples", samples, "--steps", steps, "--lr-factor", "0.5", "--seed", "1")
    row = rows[0]
    Xn = nn.normalize_rows(X, sw2, sb2, q_star(sw2, sb2))
    K, Th, _, _ = nn.kernels("abs", Xn, sw2, sb2, [depth])[depth]
    eta = 0.5 * 2.0 / np.linalg.eigvalsh(Th)[-1]
    close(f(row, "eta"), eta, "train eta = lr_factor * 2 / lambda_max (infinite width)")
    # the finite networks: independent numpy trainer, same law (2 classes: 2 outputs, targets one-hot - 1/2)
    Y = (y[:, None] == np.arange(2)[None, :]) - 0.5
    rng = np.random.default_rng(123)
    lam0, final, drift = [], [], []
    for _ in range(300):
        params = ntr.draw(4, width, depth, 2, rng)
        res = ntr.run(params, Xn, Y, "abs", sw2, sb2, eta, steps)
        lam0.append(res["lambda_init"])
        final.append(res["final_loss"])
        drift.append(res["drift"])
    assert f(row, "diverged_fraction") == 0.0 and row["regime"] == "lazy"
    for col, sample in (("lambda_max_init", lam0), ("final_loss", final), ("kernel_drift", drift)):
        ok, F = median_rank_ok(f(row, col), sample, samples)
        assert ok, (col, f(row, col), F, np.median(sample))
