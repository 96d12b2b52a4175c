"""Grid values come out as typed: START:STOP:NUM points are the doubles nearest to the exact decimal points
(oracle: Python's decimal module at 80 digits), so a CSV holds 0.35, never 0.35000000000000003."""

import decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from phasecli.grids import parse_grid


def decimal_linspace(start, stop, num):
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        a, b = decimal.Decimal(start), decimal.Decimal(stop)
        return [float(a + (b - a) * i / (num - 1)) for i in range(num)]


typed = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False).map(str)


@settings(max_examples=300, deadline=None)
@given(typed, typed, st.integers(2, 400))
def test_linspace_points_are_the_nearest_doubles(start, stop, num):
    assert parse_grid(f"{start}:{stop}:{num}") == decimal_linspace(start, stop, num)


def test_typed_values_print_as_typed():
    values = parse_grid("0:1:21")
    assert [repr(v) for v in values[1::6]] == ["0.05", "0.35", "0.65", "0.95"]
    assert repr(parse_grid("0.5:4:36", "lr_factor")[33]) == "3.8"
    assert parse_grid("-1:1:3", minimum=None) == [-1.0, 0.0, 1.0]
    assert parse_grid("1e-3:2e-3:3") == [0.001, 0.0015, 0.002]


def test_phase_csv_holds_the_typed_values(cli):
    r = cli("phase", "-a", "erf", "--sw2", "0:1:21", "--sb2", "0.05", "-f", "csv", "--columns", "sw2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[1:] == [repr(v) for v in decimal_linspace("0", "1", 21)]
    assert {"0.05", "0.35", "0.95"} <= set(r.stdout.split())
