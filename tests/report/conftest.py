"""Fake experiment results with real (tiny) PNG figures, for the report's tests."""

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen first

from ravine.report import Result

# Text that must come out escaped: tags, ampersands, quotes.
HOSTILE = "<script>alert(\"x\")</script> & <b>bold</b> 'quoted'"


def tiny_png(path: Path, width_px: int = 64, height_px: int = 48) -> Path:
    """A small real PNG drawn by matplotlib (width_px × height_px pixels)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(width_px / 16, height_px / 16), dpi=16)
    ax.plot([0, 1, 2], [2, 0, 1])
    fig.savefig(path)
    plt.close(fig)
    return path


def fake_results(out: Path, *, all_reproduced: bool = True) -> list[Result]:
    """Three results: nested numbers, a long list, a list of records, a NaN, an escaped title;
    four figures under ``out`` (one in a folder with a space in its name)."""
    tiny_png(out / "stuck" / "loss.png")
    tiny_png(out / "stuck" / "contour.png")
    tiny_png(out / "tiny lr" / "path.png")
    tiny_png(out / "bursts.png")
    return [
        Result(
            name="stuck",
            title="Training stuck ≠ small gradient",
            claim="When the loss stops falling, the gradient norm need not be small.",
            reproduced=True,
            verdict="loss flat (Δ = 1.2e-05) while ‖∇L‖ = 383 stays large",
            numbers={
                "loss": {"first": 1200.5, "last": 3.25},
                "gradient_norm": [383.0 + i for i in range(100)],
                "runs": [{"lr": 0.01, "distance": 1.5}, {"lr": 1e-7, "distance": 64.74}],
            },
            figures=[Path("stuck/loss.png"), Path("stuck/contour.png")],
            seconds=1.25,
        ),
        Result(
            name="tiny-lr",
            title=HOSTILE,
            claim=f"claim with {HOSTILE}",
            reproduced=all_reproduced,
            verdict=f"verdict with {HOSTILE}",
            numbers={"ratio": float("nan"), "label": HOSTILE, "ok": all_reproduced},
            figures=[Path("tiny lr/path.png")],
            seconds=0.5,
        ),
        Result(
            name="adagrad-bursts",
            title="Adagrad bursts",
            claim="σ shrinks where the gradient stays small, so the step bursts.",
            reproduced=True,
            verdict="3 bursts measured",
            numbers={"bursts": 3},
            figures=[out / "bursts.png"],  # absolute: the report makes it relative
            seconds=12.0,
        ),
    ]


@pytest.fixture(scope="session")
def make_results():
    return fake_results


@pytest.fixture(scope="session")
def hostile_text():
    return HOSTILE
