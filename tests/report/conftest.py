"""Fake experiment results with real (tiny) PNG figures, for the report's tests."""

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen first

from ravine.report import Evidence, Result

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
    four figures under ``out`` (one in a folder with a space in its name). The first is held and
    has everything a teaching page shows (the lecture's words, a caption by file name for one of
    its two figures, evidence, a command); the second, hostile, has none of them and is held
    when ``all_reproduced``, else not held; the third holds in part, its caption by path."""
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
            verdict="Reproduced: loss flat (Δ = 1.2e-05) while ‖∇L‖ = 383 stays large. It bounces.",
            numbers={
                "loss": {"first": 1200.5, "last": 3.25},
                "gradient_norm": [383.0 + i for i in range(100)],
                "runs": [{"lr": 0.01, "distance": 1.5}, {"lr": 1e-7, "distance": 64.74}],
            },
            figures=[Path("stuck/loss.png"), Path("stuck/contour.png")],
            seconds=1.25,
            explore="ravine explore --preset stuck",
            lecture="卡住 (stuck) ≠ 梯度很小 (small gradient): the loss stops, ‖g‖ does not.",
            captions={"loss.png": "The loss goes flat by step 50 while the gradient norm stays."},
            evidence=[
                Evidence(
                    name="relative change of the loss, last half",
                    value=1.2e-05,
                    threshold="< 0.001",
                    why="a loss that moves by less than 0.1% looks flat on a curve",
                    holds=True,
                ),
                Evidence(
                    name="smallest gradient norm, last half",
                    value=383.0,
                    unit="× 1",
                    threshold="> 10% of the first",
                    why="a gradient shrunk by 90% would be 'small'",
                    holds=True,
                ),
                Evidence(name="updates", value=2000, unit="steps"),
            ],
            command="ravine descend valley --optimizer gd --lr 1e-2 --steps 2000 --plot v.png",
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
            verdict="3 bursts measured on 1 of 2 surfaces",
            numbers={"bursts": 3},
            figures=[out / "bursts.png"],  # absolute: the report makes it relative
            seconds=12.0,
            outcome="partial",
            captions={"bursts.png": "Each spike of the loss is one burst."},
        ),
    ]


@pytest.fixture(scope="session")
def make_results():
    return fake_results


@pytest.fixture(scope="session")
def hostile_text():
    return HOSTILE
