"""The report's figures speak one visual language: one colour per optimizer on every figure,
never a colour of an optimizer for a line that names none, and legends outside the data."""

import matplotlib
import pytest

from ravine.report import plots
from ravine.report.plots import OPTIMIZER_COLORS, optimizer_of, series_colors


@pytest.mark.parametrize(
    ("label", "optimizer"),
    [
        ("GD, η = 0.01", "GD"),
        ("SGD η = 0.1, MSE", "GD"),
        ("gradient descent, η = 0.01", "GD"),
        ("momentum, η = 0.01, λ = 0.9", "Momentum"),
        ("Adagrad, η^t = 1/√(t+1)", "Adagrad"),
        ("RMSProp (α = 0.5)", "RMSProp"),
        ("Adam η = 0.07, no warm-up", "Adam"),
        ("RAdam r/σ, μ = 0", "RAdam"),
        ("loss L(θ)", None),
        ("cross-entropy", None),
    ],
)
def test_the_optimizer_a_label_names(label, optimizer):
    assert optimizer_of(label) == optimizer


def test_an_optimizer_has_the_same_colour_on_every_figure():
    one = series_colors(["GD, η = 0.01", "Adam, η = 0.1", "RAdam"])
    other = series_colors(["RAdam η = 3", "loss", "SGD η = 0.1"])
    assert one == [OPTIMIZER_COLORS["GD"], OPTIMIZER_COLORS["Adam"], OPTIMIZER_COLORS["RAdam"]]
    assert other[0] == one[2] and other[2] == one[0]


def test_a_line_that_names_no_optimizer_never_takes_an_optimizers_colour():
    colors = series_colors([f"fold {k}" for k in range(12)])
    assert len(set(colors)) == 12
    assert set(colors).isdisjoint(OPTIMIZER_COLORS.values())


def test_two_lines_of_one_optimizer_keep_its_hue_in_different_shades():
    fixed, decayed, third = series_colors(["Adagrad, η = 1", "Adagrad, η^t = 1/√(t+1)", "adagrad"])
    assert fixed == OPTIMIZER_COLORS["Adagrad"]
    assert len({fixed, decayed, third}) == 3
    assert sum(matplotlib.colors.to_rgb(decayed)) < sum(matplotlib.colors.to_rgb(fixed))
    assert sum(matplotlib.colors.to_rgb(third)) > sum(matplotlib.colors.to_rgb(fixed))


def test_the_legend_stands_outside_the_axes(tmp_path, monkeypatch):
    figures = []

    def keep(fig, path):  # draw the figure and keep it, instead of writing and closing it
        fig.canvas.draw()
        figures.append(fig)
        return path

    monkeypatch.setattr(plots, "save_figure", keep)
    series = {"GD, η = 0.01": [3.0, 2.0, 1.0, 0.5], "Adam, η = 0.1": [3.0, 1.0, 0.3, 0.1]}
    plots.plot_curves(series, tmp_path / "c.png", title="t", right={"‖∇L‖": [1, 1, 1, 1]})
    (fig,) = figures
    axes = fig.axes[0].get_window_extent()
    (legend,) = fig.legends
    box = legend.get_window_extent()
    assert box.y1 <= axes.y0  # below the axes, over no data
    lines = fig.axes[0].get_lines()
    assert [line.get_color() for line in lines] == [
        OPTIMIZER_COLORS["GD"],
        OPTIMIZER_COLORS["Adam"],
    ]
    assert fig.get_figwidth() * fig.dpi >= 700  # legible at the page's width


def _kept_figures(monkeypatch) -> list:
    """The figures the plot helpers draw from now on (drawn, not written)."""
    figures = []

    def keep(fig, path):
        fig.canvas.draw()
        figures.append(fig)
        return path

    monkeypatch.setattr(plots, "save_figure", keep)
    return figures


def _kept_contour(monkeypatch, tmp_path, surface_name, paths, **options):
    """The figure plot_contour draws (drawn, not written), with its axes."""
    from ravine.surfaces import surface

    figures = _kept_figures(monkeypatch)
    plots.plot_contour(surface(surface_name), paths, tmp_path / "map.png", **options)
    (fig,) = figures
    return fig, fig.axes[0]


def test_a_long_map_title_stays_over_the_map_and_the_markers_are_named(tmp_path, monkeypatch):
    title = "saddle: 1,000 updates each; label: η and final distance to the nearest minimum " * 2
    labels = [f"an optimizer with a long label {k}: 1.4e-23" for k in range(4)]
    paths = {label: [[1.5, 0.001], [1.0, 0.5]] for label in labels}
    fig, ax = _kept_contour(monkeypatch, tmp_path, "saddle", paths, title=title)
    box, axes = ax.title.get_window_extent(), ax.get_window_extent()
    assert ax.title.get_text().count("\n") >= 1
    assert axes.x0 <= box.x0 and box.x1 <= axes.x1  # over the map, not past its edges
    (legend,) = fig.legends
    assert legend.get_window_extent().x0 >= box.x1  # the title does not run into the legend
    names = [t.get_text() for t in legend.get_texts()]
    assert "saddle point" in names and "minima" in names and "minimum" not in names


def test_steps_on_a_map_keep_paths_that_coincide_apart(tmp_path, monkeypatch):
    one = [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]
    few = [[0.0, 0.0], [0.5, 0.5], [0.9, 0.9], [1.0, 1.0]]
    _, ax = _kept_contour(
        monkeypatch,
        tmp_path,
        "valley",
        {"GD, η = 1": one, "GD, η = 0.5": few},
        title="t",
        steps=True,
    )
    first, second = (line for line in ax.get_lines() if line.get_label().startswith("GD"))
    assert first.get_marker() not in ("None", "", None)
    assert (first.get_marker(), first.get_linestyle()) != (
        second.get_marker(),
        second.get_linestyle(),
    )
    assert first.get_markersize() > second.get_markersize()  # the one below shows around it


def test_a_colour_has_a_name_for_the_caption():
    assert plots.color_name(OPTIMIZER_COLORS["Adagrad"]) == "green"
    assert plots.color_name(plots.NEUTRAL_COLORS[0]) == "dark grey"
    with pytest.raises(ValueError, match="a named colour must be one of"):
        plots.color_name("#123456")


@pytest.mark.parametrize(
    ("text", "drawn"),
    [
        ("η^t = 1/√(t+1)", "η$^{t}$ = 1/√(t+1)"),
        ("(1−β1^t)/sqrt(1−β2^t)", "(1−β1$^{t}$)/sqrt(1−β2$^{t}$)"),
        ("512^−0.5·min(n^−0.5, n·4000^−1.5)", "512$^{-0.5}$·min(n$^{-0.5}$, n·4000$^{-1.5}$)"),
        ("η^t/η = 0.5^⌊t/1000⌋", r"η$^{t}$/η = 0.5$^{\lfloor t/1000\rfloor }$"),
        ("θ^{t+1}, while η^t is large.", "θ$^{t+1}$, while η$^{t}$ is large."),
        ("no power here", "no power here"),
    ],
)
def test_a_power_written_with_a_caret_is_drawn_raised(text, drawn):
    assert plots.superscripts(text) == drawn


def test_raised_powers_render(tmp_path):
    """matplotlib's mathtext accepts what superscripts writes."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], label=plots.superscripts("0.5^⌊t/1000⌋, #^{m ∈ [1, 2]}, n^−0.5"))
    ax.legend()
    plots.save_figure(fig, tmp_path / "powers.png")
    assert (tmp_path / "powers.png").stat().st_size > 0


def test_a_title_keeps_its_line_breaks_and_wraps_each_line(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    plots._title(ax, "first line\n" + "word " * 30)
    lines = ax.get_title().splitlines()
    assert lines[0] == "first line" and len(lines) >= 3  # 4 inches: about 44 characters a line
    assert all(len(line) <= 44 for line in lines)
    plt.close(fig)


def test_two_runs_of_one_optimizer_on_a_map_differ_in_line_style(tmp_path, monkeypatch):
    stuck = [[1.5, 0.0], [0.5, 0.0], [0.0, 0.0]]
    freed = [[0.0, 0.01], [0.0, 0.5], [0.0, 1.4]]
    paths = {"GD into the saddle": stuck, "GD out along u": freed, "Adam": freed}
    _, ax = _kept_contour(monkeypatch, tmp_path, "saddle", paths, title="t")
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles["GD into the saddle"] == "-" and styles["GD out along u"] == "--"
    assert styles["Adam"] == "-"  # another optimizer keeps the solid line


def test_a_short_series_gets_whole_numbers_on_its_x_axis(tmp_path, monkeypatch):
    figures = _kept_figures(monkeypatch)
    plots.plot_curves({"loss by rank": [0.2, 1.4, 2.3]}, tmp_path / "r.png", title="t", start=1)
    (fig,) = figures
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)  # no rank 1.25


def test_a_line_equal_to_one_drawn_before_stays_visible_over_it(tmp_path, monkeypatch):
    """adam-parts' "parts" and "ravine Adam" differ from torch's by 0 at every step: the second
    line, exactly over the first, is dashed with markers so both can be seen."""
    figures = _kept_figures(monkeypatch)
    zero = [1e-18] * 40
    series = {"parts": zero, "ravine Adam": list(zero), "by hand": [2e-16] * 40}
    plots.plot_curves(series, tmp_path / "d.png", title="t", logy=True)
    (fig,) = figures
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert lines["parts"].get_linestyle() == "-" and lines["by hand"].get_linestyle() == "-"
    assert lines["ravine Adam"].get_linestyle() == "--"
    assert lines["ravine Adam"].get_marker() == "o"


def test_curves_take_a_style_per_label(tmp_path, monkeypatch):
    figures = _kept_figures(monkeypatch)
    styles = {"b": {"color": "#123456", "linestyle": "--"}}
    plots.plot_curves({"a": [1, 2], "b": [2, 3]}, tmp_path / "c.png", title="t", styles=styles)
    lines = {line.get_label(): line for line in figures[0].axes[0].get_lines()}
    assert (lines["b"].get_color(), lines["b"].get_linestyle()) == ("#123456", "--")
    assert lines["a"].get_linestyle() == "-"
