"""The critical point in the narrow window below the divergence of q* (gelu, silu at larger sb2).

For activations that grow like relu for x > 0, q* becomes infinite as sw2 -> 2; at larger sb2 chi_1
reaches 1 just before (gelu at sb2 = 0.3 near sw2 = 1.956), in a window the critical solver's 1.5x
bracket steps used to jump over (reporting q_infinite).  Checked against the quadrature oracle
``tests/naive.py`` (nothing from phasecli): chi_1 - 1 changes sign across sw2_critical (1 +- 1e-7).
"""

from __future__ import annotations

import math

import pytest

import naive as nv
from phasecli import meanfield


@pytest.mark.parametrize("act, sb2", [("gelu", 0.3), ("silu", 1.0)])
def test_critical_point_below_the_divergence_of_q_star(act, sb2):
    line = meanfield.solve_critical(act, [sb2])
    assert line.status[0] == "ok", line.status[0]
    sw2c = float(line.sw2_critical[0])
    assert 1.9 < sw2c < 2.0
    below, above = sw2c * (1 - 1e-7), sw2c * (1 + 1e-7)
    assert nv.chi_1(act, below, nv.q_star(act, below, sb2)) < 1.0 < nv.chi_1(act, above, nv.q_star(act, above, sb2))
    assert float(line.q_star[0]) == pytest.approx(nv.q_star(act, sw2c, sb2), rel=1e-8)


def test_no_critical_point_when_chi_1_stays_below_one_up_to_the_divergence():
    line = meanfield.solve_critical("gelu", [0.05])
    assert line.status[0] == "q_infinite" and math.isnan(line.sw2_critical[0])
    for sw2 in (1.9, 1.98):
        assert nv.chi_1("gelu", sw2, nv.q_star("gelu", sw2, 0.05)) < 1.0
