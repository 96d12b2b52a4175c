"""The critical line at tiny sigma_b^2 (down to 5e-324) against a high-precision mpmath oracle
(tests/naive_critical.py), and the sb2 -> 0 limits 1/phi'(0)^2."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_critical as N

# (activation, sb2, bracket of q* for the oracle, oracle method, digits)
CASES = [
    pytest.param("tanh", 9e-11, (1e-4, 1e-3), "taylor", 60, marks=pytest.mark.slow),
    ("tanh", 1e-25, (1e-10, 1e-8), "taylor", 60),
    ("tanh", 1e-40, (1e-15, 1e-12), "taylor", 80),
    ("tanh", 1e-300, (1e-102, 1e-98), "taylor", 330),
    ("tanh", 5e-324, (1e-109, 1e-106), "taylor", 360),
    ("erf", 1e-25, (1e-10, 1e-8), "taylor", 60),
    pytest.param("erf", 1e-300, (1e-102, 1e-98), "taylor", 330, marks=pytest.mark.slow),
    ("sin", 1e-40, (1e-15, 1e-12), "taylor", 80),
    pytest.param("sin", 5e-324, (1e-109, 1e-106), "taylor", 360, marks=pytest.mark.slow),
    ("elu", 1e-25, (1e-14, 1e-11), "closed", 120),
    ("elu", 5e-324, (1e-163, 1e-160), "closed", 400),
    ("selu", 1e-40, (1e-21, 1e-18), "closed", 120),
    ("selu", 1e-300, (1e-152, 1e-148), "closed", 400),
    pytest.param("hard_tanh", 1e-20, (1e-3, 1e-1), "tail", 40, marks=pytest.mark.slow),
    pytest.param("hard_tanh", 1e-100, (1e-3, 1e-2), "tail", 40, marks=pytest.mark.slow),
    ("hard_tanh", 5e-324, (1e-4, 3e-3), "tail", 40),
]


@pytest.mark.parametrize("activation,sb2,bracket,method,dps", CASES)
def test_critical_line_at_tiny_sb2_matches_the_oracle(cli, activation, sb2, bracket, method, dps):
    r = cli("critical", "-a", activation, "--sb2", repr(sb2), "-f", "csv")
    assert r.returncode == 0, r.stderr
    name, _, sw2, q, status = r.stdout.splitlines()[1].split(",")
    assert (name, status) == (activation, "ok")
    sw2_ref, q_ref = N.critical(activation, sb2, bracket, method, dps)
    assert float(sw2) == pytest.approx(sw2_ref, rel=1e-14, abs=0)
    assert float(q) == pytest.approx(q_ref, rel=1e-12, abs=0)


@pytest.mark.slow
def test_the_taylor_oracle_agrees_with_quadrature():
    """The oracle's two routes for analytic phi, where both reach (quadrature is slow at high precision)."""
    for name in ("tanh", "erf"):
        by_taylor = N.critical(name, 1e-20, (1e-8, 1e-6), "taylor", 60)
        by_quad = N.critical(name, 1e-20, (1e-8, 1e-6), "quad", 30)
        assert by_taylor == pytest.approx(by_quad, rel=1e-13)


@pytest.mark.parametrize("activation,limit", [("tanh", 1.0), ("erf", math.pi / 4), ("sin", 1.0), ("elu", 1.0),
                                              ("hard_tanh", 1.0), ("relu", 2.0), ("linear", 1.0)])
def test_sb2_zero_and_the_smallest_double_give_the_limit(cli, activation, limit):
    """sw2_critical -> 1/phi'(0)^2 as sb2 -> 0; q* -> 0 (relu, linear: q* = inf for any sb2 > 0)."""
    r = cli("critical", "-a", activation, "--sb2", "0,5e-324", "-f", "csv")
    assert r.returncode == 0, r.stderr
    rows = [line.split(",") for line in r.stdout.splitlines()[1:]]
    for _, sb2, sw2, q, status in rows:
        assert status == "ok" and float(sw2) == pytest.approx(limit, rel=1e-15)
    if activation in ("relu", "linear"):
        assert float(rows[1][3]) == math.inf
    else:
        assert float(rows[0][3]) == 0.0 and 0.0 < float(rows[1][3]) < 1e-3


@settings(max_examples=25, deadline=None)
@given(st.floats(-323, -10.5), st.floats(-323, -10.5), st.sampled_from(["tanh", "erf", "sin", "elu", "hard_tanh"]))
def test_critical_line_is_monotone_at_tiny_sb2(e1, e2, activation):
    """Smaller sb2: smaller q* and sw2_critical no larger (the line approaches its limit from above)."""
    from phasecli import meanfield

    lo, hi = sorted((10.0 ** e1, 10.0 ** e2))
    line = meanfield.solve_critical(activation, [lo, hi])
    assert list(line.status) == ["ok", "ok"]
    assert line.q_star[0] <= line.q_star[1] and line.sw2_critical[0] <= line.sw2_critical[1]
    assert line.sw2_critical[0] >= 1.0 / {"erf": 4 / math.pi}.get(activation, 1.0) * (1 - 1e-15)
