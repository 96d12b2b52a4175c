"""results.Rows (one way for a result to become rows) and plans (sweeps planned and budgeted before any work)."""

from dataclasses import dataclass

import numpy as np
import pytest

from phasecli.runtime import plans
from phasecli.errors import InputError
from phasecli.results import Rows


@dataclass
class Point(Rows):
    activation: str
    sw2: float
    depth: np.ndarray
    grid: np.ndarray
    label: list

    @property
    def doubled(self):
        return 2 * self.depth

    def row_values(self, n, scale=1.0):
        return {"scaled": self.depth * scale}


def make(n=3):
    return Point("erf", 1.5, np.arange(1, n + 1), np.arange(2 * n).reshape(n, 2)[:, :1], ["a"] * n)


def test_rows_repeat_scalars_take_row_arrays_and_flatten_the_rest():
    p = make()
    t = p.table(("depth", "activation", "sw2", "doubled", "grid", "label", "scaled"), scale=0.5)
    assert t["depth"] is p.depth  # an array of one entry per row: as it is
    assert t["activation"] == ["erf"] * 3 and t["sw2"] == [1.5] * 3
    assert t["doubled"].tolist() == [2, 4, 6]  # a property is a column too
    assert t["grid"].tolist() == [0, 2, 4]  # (n, 1) flattened in C order
    assert t["label"].tolist() == ["a", "a", "a"]
    assert t["scaled"].tolist() == [0.5, 1.0, 1.5]
    assert list(t) == ["depth", "activation", "sw2", "doubled", "grid", "label", "scaled"]  # the caller's order


def test_rows_unknown_column_is_an_input_error():
    with pytest.raises(InputError) as info:
        make().table(("depth", "nope"))
    assert info.value.param == "columns" and "nope" in str(info.value)


def test_every_command_column_is_a_column_of_its_result():
    """Each result type gives every column its command lists, every column one entry per row."""
    from phasecli import gate, meanfield
    from phasecli.cli import columns

    grid = meanfield.solve_phase("erf", [1.0, 2.0], [0.0, 0.1, 0.2])
    for names in (columns.PHASE, columns.DEPTH_SCALE):
        table = grid.table(names)
        assert {len(v) for v in table.values()} == {6}
    line = meanfield.solve_critical("erf", [0.05, 0.1])
    assert {len(v) for v in line.table(columns.CRITICAL).values()} == {2}
    verdicts = gate.check_point("erf", 1.5, 0.05, [3, 10])
    assert {len(v) for v in verdicts.table(columns.CHECK).values()} == {2}


def test_sweep_runs_its_tasks_in_order_and_counts_units():
    sweep = plans.Sweep(lambda x, k: x * k, [{"x": 1}, {"x": 2}, {"x": 3}], {"k": 10}, units=[1, 2, 3])
    assert list(sweep) == [10, 20, 30] and len(sweep) == 3 and sweep.total == 6
    assert plans.Sweep(max, [{"a": 1, "b": 2}]).total == 1


def test_phase_sweep_blocks_cover_the_grid_once_in_order():
    from phasecli import meanfield

    sw2 = list(np.linspace(0.5, 3.0, 37))
    sb2 = [0.0, 0.05, 0.3]
    sweep = meanfield.phase_sweep("erf", sw2, sb2)
    blocks = list(sweep)
    assert len(blocks) == len(sweep) and sweep.total == len(sw2) * len(sb2)
    assert np.concatenate([b.sw2 for b in blocks]).tolist() == sw2
    with pytest.raises(InputError):
        meanfield.phase_sweep("erf", [1.0] * 100_000, [0.1] * 100_000)


def test_budgets_refuse_before_any_work():
    with pytest.raises(plans.BudgetError, match="limits"):
        plans.cnn_works("erf", [("cnn-p", 5000, 0, np.array([100]), (32, 32, 3))])
    assert plans.cnn_works("erf", [("cnn-f", 4, 0, np.array([2]), (4, 4, 1))], scheduler=None)[0] > 0
    with pytest.raises(InputError) as info:
        plans.check_fc_memory(200_000, "examples")
    assert info.value.param == "examples" and not isinstance(info.value, plans.BudgetError)
    plans.check_fc_memory(1000, "examples")
    with pytest.raises(plans.BudgetError, match="unit-layer"):
        plans.check_seconds(1e9, "1e+12 unit-layer steps")
    plans.check_seconds(1e9, "1e+12 unit-layer steps", scheduler="tcp://x:8786")  # a cluster: no local limit
