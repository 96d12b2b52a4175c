"""Table 1 large-depth limits for CNN-F and CNN-P (Xiao et al. Figure 1 (c)-(e); THEORY.md)."""

from __future__ import annotations

import numpy as np
import pytest

from phasecli import meanfield as mf
from phasecli import ntk
from phasecli.ntk.asymptotics import kappa_theory

IMAGE = (3, 3, 1)  # d = 9
M = 4
X = ntk.synthetic_data(M, 9, 0)


def _spectra(act, sw2, sb2, arch, depths):
    return ntk.ntk_spectra(act, X, sw2, sb2, depths, architecture=arch, image_shape=IMAGE)


def test_critical_erf_limits_and_pooling_slows_convergence_by_d():
    """kappa -> (m + 2)/2 = 3 (CNN-F) and (d m + 2)/2 = 19 (CNN-P); |kappa - limit| of CNN-P is ~d times CNN-F's."""
    sw2 = float(mf.solve_critical("erf", [0.05]).sw2_critical[0])
    depths = [100, 1000, 3000]
    flat, pooled = _spectra("erf", sw2, 0.05, "cnn-f", depths), _spectra("erf", sw2, 0.05, "cnn-p", depths)
    assert flat.phase == "critical"
    np.testing.assert_allclose(flat.kappa_theory, (M + 2) / 2)
    np.testing.assert_allclose(pooled.kappa_theory, (9 * M + 2) / 2)
    assert abs(flat.kappa[-1] / 3.0 - 1) < 3e-3 and abs(pooled.kappa[-1] / 19.0 - 1) < 5e-3
    gap_f = np.abs(flat.kappa - 3.0)
    gap_p = np.abs(pooled.kappa - 19.0)
    ratio = gap_p[:2] / gap_f[:2]  # measured 5.9 and 19
    assert np.all((ratio > 9 / 3) & (ratio < 9 * 3)), ratio  # a factor d = 9, within a factor 3


def test_critical_relu_limits_when_phi_prime_jumps():
    """relu (phi' jumps): (m + 3)/3 and (d m + 3)/3, at depth 1e4 (THEORY.md: 13.03 vs 13)."""
    depths = [10_000]
    flat, pooled = _spectra("relu", 2.0, 0.0, "cnn-f", depths), _spectra("relu", 2.0, 0.0, "cnn-p", depths)
    assert flat.phase == "critical"
    np.testing.assert_allclose(flat.kappa_theory, (M + 3) / 3)
    np.testing.assert_allclose(pooled.kappa_theory, (9 * M + 3) / 3)
    assert abs(flat.kappa[0] / ((M + 3) / 3) - 1) < 3e-3
    assert abs(pooled.kappa[0] / ((9 * M + 3) / 3) - 1) < 3e-3


@pytest.mark.parametrize("arch", ["cnn-f", "cnn-p"])
def test_chaotic_kappa_to_one_without_overflow(arch):
    s = _spectra("erf", 4.0, 0.05, arch, [10, 100, 1000])
    assert s.phase == "chaotic" and s.resolved.all()
    assert abs(s.kappa[-1] - 1.0) < 1e-3 and s.kappa[0] > s.kappa[-1]
    assert np.isfinite(s.log10_lambda_max).all() and s.log10_lambda_max[-1] > 100  # chi_1^1000: carried as a scale


@pytest.mark.parametrize("arch", ["cnn-f", "cnn-p"])
def test_ordered_kappa_diverges_at_rate_l_chi1_power_l(arch):
    """kappa l chi_1^l -> a constant (Figure 1b); resolved at depth 400 (kappa ~ 1e60) by deviation tracking."""
    depths = np.array([200, 300, 400])
    s = _spectra("erf", 0.5, 0.05, arch, depths)
    assert s.phase == "ordered" and s.resolved.all()
    scaled = s.kappa * depths * s.chi_1 ** depths
    assert np.all(np.abs(scaled / scaled[-1] - 1) < 0.02), scaled
    assert s.kappa[-1] > 1e50


def test_kappa_theory_pooling_formula():
    kw = dict(chi_1=1.0, q_star=0.5)
    assert kappa_theory("erf", "critical", 10, [5], architecture="cnn-p", positions=36, **kw)[0] == 1 + 36 * 10 / 2
    assert kappa_theory("relu", "critical", 10, [5], architecture="cnn-p", positions=36, **kw)[0] == 1 + 36 * 10 / 3
    assert kappa_theory("erf", "critical", 10, [5], architecture="cnn-f", positions=36, **kw)[0] == 6.0
