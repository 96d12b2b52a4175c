"""Issue 21, figures: log-spaced depths and the depth axis, robust colour limits, the adaptive critical
line, panels that say why they are empty, and `lr --png` drawing its own quantities."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from phasecli.errors import InputError
from phasecli.validate import parse_depths


# ------------------------------------------------------------------ the depth grammar: log:START:STOP:NUM
def test_log_depths_are_the_rounded_geometric_points():
    assert parse_depths("log:1:1000:4") == [1, 10, 100, 1000]
    assert parse_depths("log:2:32:5") == [2, 4, 8, 16, 32]
    assert parse_depths("log:1:100:3,7,1:3") == [1, 2, 3, 7, 10, 100]
    assert parse_depths("LOG:10:1000:3") == [10, 100, 1000]


@settings(max_examples=60, deadline=None)
@given(start=st.integers(1, 500), factor=st.integers(2, 2000), num=st.integers(2, 80))
def test_log_depths_property(start, factor, num):
    stop = start * factor
    got = parse_depths(f"log:{start}:{stop}:{num}")
    expected = sorted({int(v) for v in np.rint(np.geomspace(start, stop, num))})  # numpy's geometric grid
    assert got == expected
    assert got[0] == start and got[-1] == stop and len(got) <= num


@pytest.mark.parametrize("spec", ["log:1:1000", "log:0:10:5", "log:10:1:5", "log:5:5:3", "log:1:10:1",
                                  "log:1:10:x", "log:1.5:10:4", "log:1:2000000:5", "log:1:10:4:2"])
def test_malformed_log_depths_are_refused(spec):
    with pytest.raises(InputError) as exc:
        parse_depths(spec)
    assert exc.value.param == "depth" and "\n" not in str(exc.value)


@pytest.mark.parametrize("spec", ["log:1:10", "log:0:10:5", "log:1:10:x"])
def test_malformed_log_depths_exit_2_with_one_line(spec):
    r = run_cli("kappa", "--m", "4", "--depth", spec)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr and "depth" in lines[0], r.stderr


# ------------------------------------------------------------------ axes from the sampling
def test_depth_axis_is_logarithmic_only_for_log_spaced_depths():
    from phasecli.plotting.base import log_spaced

    assert log_spaced([1, 10, 100, 1000])
    assert log_spaced(parse_depths("log:1:1000:30"))
    assert log_spaced([1, 100])
    assert not log_spaced(range(1, 61))
    assert not log_spaced(range(1, 1001, 10))
    assert not log_spaced([1, 2, 3])  # spans less than a factor 10
    assert not log_spaced([5])


def test_cell_edges_are_half_way_linear_or_geometric():
    from phasecli.plotting.base import cell_edges

    assert np.allclose(cell_edges([1.0, 2.0, 4.0]), [0.5, 1.5, 3.0, 5.0])
    assert np.allclose(cell_edges([1.0, 10.0, 100.0], log=True), [10 ** -0.5, 10 ** 0.5, 10 ** 1.5, 10 ** 2.5])
    assert np.allclose(cell_edges([3.0]), [2.5, 3.5])


# ------------------------------------------------------------------ robust colour limits
def test_a_few_extreme_cells_do_not_set_the_colour_range():
    from phasecli.plotting.base import robust_norm

    rng = np.random.default_rng(0)
    bulk = rng.uniform(1.0, 10.0, 2000)
    values = np.concatenate([bulk, [1e6, 1e8, 1e10], [np.nan, np.inf]])
    norm, extend, note = robust_norm(values, log=True)
    assert 1.0 <= norm.vmin < 1.5 and 9.0 < norm.vmax <= 10.0
    assert extend in ("max", "both") and "clipped" in note
    norm, extend, note = robust_norm(bulk[:15])  # too few cells to trim: the full range, no arrows
    assert (norm.vmin, norm.vmax) == (bulk[:15].min(), bulk[:15].max()) and extend == "neither" and note == ""
    norm, extend, _ = robust_norm(np.linspace(0, 80, 400), max_span=8, keep="high")
    assert norm.vmax - norm.vmin == pytest.approx(8) and extend == "both"  # the top 2% and all but 8 decades
    norm, extend, _ = robust_norm(np.linspace(0, 80, 400), cap=6)
    assert norm.vmax == 6 and extend == "both"


# ------------------------------------------------------------------ the critical line sampled where it bends
def test_refined_line_follows_a_steep_curve():
    from phasecli.plotting.meanfield import REFINE_TOLERANCE, refine_line

    def curve(sb2):  # a closed form with an infinite slope at sb2 = 0, like tanh's critical line
        return 1.0 + np.sqrt(np.asarray(sb2, dtype=float))

    coarse = np.linspace(0.0, 1.0, 12)
    line = SimpleNamespace(sb2=coarse, sw2_critical=curve(coarse))
    solve = lambda sb2: SimpleNamespace(sb2=np.asarray(sb2), sw2_critical=curve(sb2))  # noqa: E731
    sb2, sw2 = refine_line(line, solve)
    dense = np.linspace(0.0, 1.0, 20001)
    assert np.max(np.abs(np.interp(dense, coarse, curve(coarse)) - curve(dense))) > 0.05  # straight segments
    assert np.max(np.abs(np.interp(dense, sb2, sw2) - curve(dense))) < 3 * REFINE_TOLERANCE
    assert np.all(np.diff(sb2) > 0) and set(coarse) <= set(sb2)
    assert np.median(np.diff(sb2)[:5]) < np.median(np.diff(sb2)[-5:])  # the points crowd where it bends
    # a straight line gains nothing
    flat = SimpleNamespace(sb2=coarse, sw2_critical=2.0 + 0 * coarse)
    assert refine_line(flat, lambda s: SimpleNamespace(sb2=s, sw2_critical=2.0 + 0 * s))[0].size == coarse.size


# ------------------------------------------------------------------ empty panels say why
def _capture(monkeypatch, module):
    figures = []
    monkeypatch.setattr(module, "save", lambda fig, path: figures.append(fig))
    return figures


def test_phase_line_panels_without_values_say_why(monkeypatch):
    import phasecli.plotting.meanfield as mf

    figures = _capture(monkeypatch, mf)
    sb2 = np.linspace(0.0, 1.0, 5)
    nan = np.full((1, 5), np.nan)
    grid = SimpleNamespace(activation="relu", sw2=np.array([2.0]), sb2=sb2, chi_1=np.ones((1, 5)),
                           c_star=nan, xi_c=nan,
                           fixed_point=np.array([["infinite"] * 5], dtype=object))
    mf.phase_figure(grid, None, layout="line-sb2", path="unused.png")
    _, ax_c, ax_xi = figures[0].axes
    for ax in (ax_c, ax_xi):
        text = " ".join(t.get_text().replace("\n", " ") for t in ax.texts)
        assert "undefined at 5 of 5 points" in text and "infinite" not in text and r"\infty" in text
        assert ax.get_xlim() == (0.0, 1.0)


def test_white_heatmap_cells_are_explained_in_the_panel_that_has_them(monkeypatch):
    import phasecli.plotting.meanfield as mf

    figures = _capture(monkeypatch, mf)
    sw2, sb2 = np.linspace(0.5, 4.0, 8), np.linspace(0.0, 1.0, 6)
    chaotic = sw2[:, None] > 2.0 + 0 * sb2[None, :]
    c_star = np.where(chaotic, np.nan, 1.0)
    grid = SimpleNamespace(activation="relu", sw2=sw2, sb2=sb2, chi_1=np.tile(sw2[:, None] / 2, (1, 6)),
                           c_star=c_star, xi_c=np.where(chaotic, np.nan, 3.0),
                           fixed_point=np.where(chaotic, "infinite", "stable").astype(object))
    mf.phase_figure(grid, None, layout="heatmap", path="unused.png")
    fig = figures[0]
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert not panels[0].texts  # chi_1 has no white cells
    for ax in panels[1:]:
        assert any("no finite fixed point" in t.get_text() for t in ax.texts)
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "white in $c^*$ and $\\xi_c$" in legend and "at 24 points" in legend


@pytest.mark.parametrize("sb2_top, sw2_top", [(1.0, 4.0), (3e-4, 4.0), (3000.0, 1e4), (1e-12, 1e4)])
def test_phase_heatmaps_fit_the_figure_without_overlaps(monkeypatch, sb2_top, sw2_top):
    """The fixed layout of the phase figure (fitted once to its labels): long tick labels (0.00030, 3000)
    push the panels apart and inward; nothing leaves the figure and no colorbar runs into the next panel."""
    import phasecli.plotting.meanfield as mf
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figures = _capture(monkeypatch, mf)
    sw2, sb2 = np.linspace(0.5, sw2_top, 8), np.linspace(0.0, sb2_top, 6)
    c_star, xi_c, fixed_point = np.full((8, 6), 0.5), np.full((8, 6), 3.0), np.full((8, 6), "stable", dtype=object)
    c_star[0, 0], xi_c[0, 0], fixed_point[0, 0] = np.nan, np.nan, "zero"  # a white cell: the legend explains it
    grid = SimpleNamespace(activation="tanh", sw2=sw2, sb2=sb2, chi_1=np.tile(sw2[:, None] / 2, (1, 6)),
                           c_star=c_star, xi_c=xi_c, fixed_point=fixed_point)
    mf.phase_figure(grid, None, layout="heatmap", path="unused.png")
    fig = figures[0]
    renderer = FigureCanvasAgg(fig).get_renderer()
    panels = [ax for ax in fig.axes if ax.get_title()]
    bars = [ax for ax in fig.axes if not ax.get_title()]
    assert len(panels) == 3 and len(bars) == 3
    boxes = [ax.get_tightbbox(renderer) for ax in panels]
    bar_boxes = [ax.get_tightbbox(renderer) for ax in bars]
    assert boxes[0].x0 >= 0 and bar_boxes[-1].x1 <= fig.bbox.width
    for bar, box in zip(bar_boxes[:-1], boxes[1:]):
        assert bar.x1 < box.x0
    # an axis offset (1e-12) lifts the panel titles: they stay below the figure's title, the legend below all
    title = fig._suptitle.get_window_extent(renderer)
    legend = fig.legends[0].get_window_extent(renderer)
    assert max(b.y1 for b in boxes + bar_boxes) < title.y0
    assert min(b.y0 for b in boxes + bar_boxes) > legend.y1 > 0


# ------------------------------------------------------------------ lr --png is not kappa --png
def test_lr_figure_draws_the_learning_rates_not_kappa(tmp_path):
    args = ["-a", "erf", "--sw2", "1,2,3", "--sb2", "0.05", "--m", "5", "--depth", "1:8", "-f", "csv"]
    paths = {}
    for command in ("kappa", "lr"):
        paths[command] = tmp_path / f"{command}.png"
        r = run_cli(command, *args, "--png", str(paths[command]))
        assert r.returncode == 0, r.stderr
    assert paths["kappa"].read_bytes() != paths["lr"].read_bytes()
    from matplotlib.image import imread

    kappa, lr = imread(str(paths["kappa"])), imread(str(paths["lr"]))
    assert kappa.shape == lr.shape and np.mean(np.abs(kappa - lr)) > 0.01
    assert math.isfinite(float(np.mean(lr)))


# ------------------------------------------------------------------ diverged runs have no finite y
def test_train_summary_draws_diverged_runs_off_the_data_axes(monkeypatch):
    import phasecli.plotting.training as training

    figures = _capture(monkeypatch, training)
    lr = [0.5, 1.0, 2.0, 4.0, 6.0]
    regime = ["lazy", "catapult", "catapult", "divergent", "divergent"]
    final = [1e-3, 1e-2, 1e-1, np.inf, 3e4]  # a diverged run may still hold a finite (meaningless) number
    runs = [SimpleNamespace(lr_factor=f, regime=g, median_curve=np.geomspace(1.0, 1e-3, 11), final_loss=v,
                            eta_lambda_init=f, eta=0.1 * f, lambda_max_final=10.0 if g != "divergent" else np.nan)
            for f, g, v in zip(lr, regime, final)]
    setup = SimpleNamespace(samples=3, n_steps=10, activation="relu", depth=3, width=64, sw2=2.0, sb2=0.0, m=8,
                            outputs=1, eta_max=0.1)
    training.train_figure(runs, setup, layout="curves+summary", path="unused.png")
    ax_final, ax_el = figures[0].axes[1], figures[0].axes[2]
    for ax in (ax_final, ax_el):
        on_data, in_strip = [], []
        for line in ax.get_lines():
            x, y = (np.asarray(v, dtype=float) for v in line.get_data())
            if x.size == 0 or line.get_linestyle() not in ("None", "", " ", "none") or "t = 0" in line.get_label():
                continue  # lines, and eta lambda at t = 0 (before any run diverged)
            (on_data if line.get_transform() == ax.transData else in_strip).append(x[np.isfinite(y)])
        drawn = np.concatenate(on_data) if on_data else np.array([])
        assert not set(drawn) & {4.0, 6.0}, drawn  # no diverged run at a finite y
        assert set(np.concatenate(in_strip)) == {4.0, 6.0}


# ------------------------------------------------------------------ the README's figures
def test_readme_figures_exist_and_are_made_by_the_script():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\((docs/figures/[\w.-]+\.png)\)", readme)
    script = (root / "docs" / "figures" / "make.sh").read_text()
    assert len(images) >= 8
    for image in images:
        assert (root / image).read_bytes()[:4] == b"\x89PNG", image
        assert f"draw {Path(image).stem} " in script, image
        assert (root / image).stat().st_size < 200_000, image
