"""The surface maps mark what the surface knows: a gold star on each minimum θ*, a cross on
each saddle point, each named in the legend as what it is."""

import math

import pytest

from ravine.report import plots
from ravine.surfaces import surface


@pytest.fixture
def drawn(tmp_path, monkeypatch):
    """plot_contour's figure, kept open instead of written."""
    figures = []

    def keep(fig, path):
        figures.append(fig)
        return path

    monkeypatch.setattr(plots, "save_figure", keep)

    def draw(name):
        s = surface(name)
        plots.plot_contour(s, {"GD, η = 0.1": [s.start, (0.0, 0.0)]}, tmp_path / "m.png", title="t")
        return {line.get_label(): line for line in figures[-1].axes[0].get_lines()}

    yield draw
    for fig in figures:
        plots.plt.close(fig)


def _points(line):
    return list(zip(line.get_xdata(), line.get_ydata(), strict=True))


def test_the_saddle_map_stars_its_two_minima_and_crosses_its_saddle_point(drawn):
    lines = drawn("saddle")
    root = math.sqrt(2.0)
    assert _points(lines["minima"]) == [(0.0, root), (0.0, -root)]
    assert lines["minima"].get_marker() == "*"
    assert _points(lines["saddle point"]) == [(0.0, 0.0)]
    assert lines["saddle point"].get_marker() == "X"
    assert "minimum" not in lines


def test_a_surface_with_one_minimum_keeps_its_one_star(drawn):
    lines = drawn("valley")
    assert _points(lines["minimum"]) == [surface("valley").minimum]
    assert lines["minimum"].get_marker() == "*"
    assert "saddle point" not in lines and "minima" not in lines
