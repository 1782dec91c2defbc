"""The adam-defaults experiment in quick mode (three η at the default β): the grid is trained
from one θ⁰, the ratio to the best and the share worse are computed from it, and the outcome
is held, partial or not held on numbers made to be each."""

import json

import pytest

from ravine.experiments import ORDER, adam_defaults, experiment
from ravine.report import plots

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("adam-defaults")
    return out, adam_defaults.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["adam-defaults"] == "adam_defaults"
    assert experiment("adam-defaults") is adam_defaults


def test_full_grid_is_eighteen_settings_with_the_defaults():
    settings = adam_defaults.grid()
    assert len(settings) == 18 == len(set(settings))
    assert (1e-3, 0.9, 0.999) in settings


def test_quick_run_numbers_figure_and_json(quick):
    out, result = quick
    n = result.numbers
    assert [(s["lr"], s["beta1"], s["beta2"]) for s in n["settings"]] == adam_defaults.grid(True)
    assert result.reproduced is adam_defaults.holds(n)
    assert result.outcome == adam_defaults.outcome(n)
    assert (out / result.figures[0]).read_bytes()[:8] == PNG
    assert n["rank"] == adam_defaults.rank(n["settings"])
    caption = result.captions["grid.png"]
    assert "Each of the 3 settings'" in caption and "18" not in caption
    assert f"rank {n['rank']}" in caption and "rank 1 = best" in caption
    assert "at η = 0.001" not in result.verdict  # no other β ran there: nothing to compare
    assert n["ratio_to_best_at_default_lr"] is None
    assert not any("best β" in e.name for e in result.evidence)
    json.dumps(result.to_json(), allow_nan=False)
    losses = [s["val_loss"] for s in n["settings"]]
    assert n["best"]["val_loss"] == min(losses)
    assert n["ratio_to_best"] == pytest.approx(n["default"]["val_loss"] / min(losses))
    # in 3 epochs η = 1e-4 barely moves from chance (ln 10 ≈ 2.3 nats)
    assert n["settings"][0]["val_loss"] > 1.5 > n["default"]["val_loss"]


def _numbers(default, others):
    settings = [{"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "val_loss": default}]
    settings += [{"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "val_loss": x} for x in others]
    for s in settings:
        s["val_accuracy"] = 0.9
    return adam_defaults.summarize({"task": "t", "margin": 0.1, "settings": settings})


def test_outcomes_from_made_numbers():
    held = _numbers(1.1, [1.0, 2.0, 3.0])
    assert adam_defaults.holds(held) and adam_defaults.outcome(held) == "held"
    assert adam_defaults.verdict(held, True).startswith("Reproduced: ")
    partial = _numbers(1.2, [1.0, 2.0, 3.0])  # 2 of 3 others worse
    assert not adam_defaults.holds(partial) and adam_defaults.outcome(partial) == "partial"
    failed = _numbers(1.2, [1.0, 1.1, 3.0])  # 1 of 3 worse
    assert adam_defaults.outcome(failed) == "not held"
    assert adam_defaults.verdict(failed, False).startswith("Not reproduced: ")
    assert [e.holds for e in adam_defaults.evidence(failed)][:2] == [False, False]


def test_verdict_counts_the_settings_and_compares_the_betas_plainly():
    settings = [
        {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "val_loss": 0.361, "val_accuracy": 0.933},
        {"lr": 1e-3, "beta1": 0.5, "beta2": 0.99, "val_loss": 0.3464, "val_accuracy": 0.94},
        {"lr": 1e-2, "beta1": 0.5, "beta2": 0.999, "val_loss": 0.102, "val_accuracy": 0.978},
        {"lr": 1e-4, "beta1": 0.9, "beta2": 0.999, "val_loss": 1.2, "val_accuracy": 0.8},
        {"lr": 1e-4, "beta1": 0.5, "beta2": 0.999, "val_loss": 1.3, "val_accuracy": 0.8},
        {"lr": 1e-4, "beta1": 0.5, "beta2": 0.99, "val_loss": 1.4, "val_accuracy": 0.8},
    ]
    n = adam_defaults.summarize({"task": "digits", "margin": 0.1, "settings": settings})
    text = adam_defaults.verdict(n, False)
    assert text.startswith("Partly reproduced: ")
    assert "3 of the 5 other settings (60%) did worse than the defaults" in text
    assert (
        "at η = 0.001 the defaults' loss was 1.04× that of the best β there (β1 = 0.5, "
        "β2 = 0.99: 0.346)."
    ) in text
    assert "better than the default β" not in text
    settings[1]["val_loss"] = 0.5  # the defaults' β is the best at their η
    n = adam_defaults.summarize({"task": "digits", "margin": 0.1, "settings": settings})
    assert (
        "at η = 0.001 none of the 1 other β did better than the defaults' β1 = 0.9, β2 = 0.999."
    ) in adam_defaults.verdict(n, False)


def test_verdict_names_the_defaults_rank_counting_from_one():
    n = _numbers(1.1, [1.0, 2.0, 3.0])
    assert n["rank"] == 2
    assert "rank 2 of 4 (1 = best)" in adam_defaults.verdict(n, True)
    assert adam_defaults.rank(_numbers(0.5, [1.0])["settings"]) == 1


def test_quick_grid_claims_no_comparison_of_betas():
    n = _numbers(1.1, [1.0, 2.0])  # no other β at the defaults' η
    text = adam_defaults.verdict(n, True)
    assert "no β did better" not in text and "other β" not in text
    assert text.endswith("did worse than the defaults.")
    assert len(adam_defaults.evidence(n)) == 3


def test_the_figure_marks_the_defaults_at_their_rank(tmp_path, monkeypatch):
    figures = []

    def keep(fig, path):
        figures.append(fig)
        return path

    numbers = _numbers(1.1, [1.0, 2.0, 3.0])
    monkeypatch.setattr(adam_defaults, "measure", lambda quick: numbers)
    monkeypatch.setattr(plots, "save_figure", keep)
    result = adam_defaults.run(tmp_path, quick=True)
    (fig,) = figures
    ax = fig.axes[0]
    assert ax.get_xlabel() == "rank of the setting (1 = best)"
    marked = [line for line in ax.get_lines() if line.get_label().startswith("the defaults")]
    (line,) = marked
    assert line.get_label() == "the defaults (rank 2)"
    assert line.get_marker() == "o" and line.get_linestyle() == "None"
    x, y = line.get_xdata(), line.get_ydata()
    drawn = [(a, b) for a, b in zip(x, y, strict=True) if b == b]
    assert drawn == [(2, 1.1)]
    assert "Each of the 4 settings'" in result.captions["grid.png"]
