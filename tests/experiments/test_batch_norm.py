"""The batch-norm experiment: a quick run reproduces with figures and JSON numbers; its Hessian
numbers agree with the exact eigenvalues on a small net; its criterion fails on numbers that
break each part."""

import copy
import json

import pytest
import torch

from ravine.diagnose import exact_hessian
from ravine.experiments import ORDER, batch_norm, experiment
from ravine.tasks import task
from ravine.training import split

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def one_thread():
    """These nets are tiny: on a busy machine more threads only contend (the experiment's own
    measure does the same)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("batch-norm")
    return out, batch_norm.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["batch-norm"] == "batch_norm"
    assert experiment("batch-norm") is batch_norm


def test_quick_run_reproduces_with_figures_and_json_numbers(quick):
    out, result = quick
    assert (result.name, result.title, result.claim) == (
        batch_norm.NAME,
        batch_norm.TITLE,
        batch_norm.CLAIM,
    )
    assert result.reproduced is True, result.verdict
    assert result.reproduced == batch_norm.holds(result.numbers)
    assert result.verdict.startswith("Reproduced: ")
    assert [f.name for f in result.figures] == ["loss.png", "hessian-spread.png"]
    for figure in result.figures:
        assert not figure.is_absolute() and figure.parts[0] == "batch-norm"
        assert (out / figure).read_bytes()[:8] == PNG
    text = json.dumps(result.numbers, allow_nan=False)
    assert json.loads(text) == result.numbers
    json.dumps(result.to_json(), allow_nan=False)


def test_quick_numbers(quick):
    n = quick[1].numbers
    assert n["same_linear_weights"] is True
    assert n["parameters"]["batch"] - n["parameters"]["none"] == 2 * 5 * 32  # γ, β per unit
    row = n["sgd"]["1"]
    assert row["none"]["updates"] == row["batch"]["updates"] == 10 * 45  # 1,438 / 32 → 45
    assert row["batch"]["updates_to_level"] is not None
    assert row["batch"]["updates_to_level"] % 45 == 0  # counted at the end of an epoch
    assert row["none"]["updates_to_level"] is None
    assert row["none"]["final_train_loss"] == pytest.approx(2.30, abs=0.05)  # chance: ln 10
    assert len(row["none"]["train_loss"]) == 11  # before training and after each epoch
    initial = n["hessian"]["initial"]
    # the untrained nets on the fixed batch: both near chance, same Linear weights
    for norm in ("none", "batch"):
        assert initial[norm]["loss"] == pytest.approx(2.3, abs=0.1)
        h = initial[norm]
        assert h["spread"] == pytest.approx(h["lambda_max"] / h["mean_abs_lambda"])
        assert h["lambda_min"] <= h["mean_abs_lambda"] <= h["lambda_max"]
    assert initial["none"]["spread"] >= 5 * initial["batch"]["spread"]
    curves = n["spectrum_curves"]["initial"]["batch"]
    assert len(curves) == 101 and curves == sorted(curves)


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_hessian_numbers_match_the_exact_eigenvalues_of_a_small_net(norm):
    """λ_max and λ_min to Lanczos's tolerance, mean |λ| and κ to the quadrature's accuracy
    (within 15 %), against eigvalsh of the exact 300-odd × 300-odd Hessian on the same batch,
    BatchNorm in training mode."""
    net = task("digits", model=f"deep:layers=2,units=4,activation=sigmoid,norm={norm}")
    model = net.model(0)
    before = [b.clone() for b in model.buffers()]
    numbers, curve = batch_norm.hessian_spectrum(net, model, 4, 60)
    assert all(torch.equal(a, b) for a, b in zip(before, model.buffers(), strict=True))
    training, _ = split(net.size, 0.2, 0)
    batch = training[: batch_norm.HESSIAN_BATCH]
    h = exact_hessian(model.train(), net.loss_fn, net.inputs[batch], net.targets[batch])
    eigenvalues = torch.linalg.eigvalsh(h.double())
    scale = float(eigenvalues.abs().max())
    assert numbers["lambda_max"] == pytest.approx(float(eigenvalues[-1]), abs=1e-4 * scale)
    assert numbers["lambda_min"] == pytest.approx(float(eigenvalues[0]), abs=1e-4 * scale)
    mean = float(eigenvalues.abs().mean())
    assert numbers["mean_abs_lambda"] == pytest.approx(mean, rel=0.15)
    assert numbers["spread"] == pytest.approx(float(eigenvalues[-1]) / mean, rel=0.15)
    assert numbers["abs_lambda_90"] == pytest.approx(
        float(eigenvalues.abs().quantile(0.9)), rel=0.15
    )
    largest = float(eigenvalues.abs().max())  # |λ|_100%, as a fraction of λ_max
    assert curve[-1] == pytest.approx(largest / float(eigenvalues[-1]), rel=0.01)


def test_quantiles_and_mean_of_a_known_density():
    """φ uniform on [−1, 1]: |λ| is uniform on [0, 1], so |λ|_q = q and mean |λ| = ½."""
    grid = torch.linspace(-1, 1, 20001, dtype=torch.float64)
    density = torch.full_like(grid, 0.5)
    quantiles = batch_norm.magnitude_quantiles(grid, density, (0.25, 0.5, 0.9, 1.0))
    assert quantiles == pytest.approx([0.25, 0.5, 0.9, 1.0], abs=2e-4)
    assert batch_norm.mean_magnitude(grid, density) == pytest.approx(0.5, abs=1e-4)
    # all the mass at t = 0.3 (a narrow bump): every quantile is 0.3
    bump = torch.exp(-0.5 * ((grid - 0.3) / 1e-3) ** 2)
    assert batch_norm.magnitude_quantiles(grid, bump, (0.1, 0.9)) == pytest.approx(
        [0.3, 0.3], abs=5e-3
    )
    assert batch_norm.mean_magnitude(grid, bump) == pytest.approx(0.3, abs=1e-4)


def test_bad_input_is_refused_with_the_value():
    grid = torch.linspace(-1, 1, 11)
    with pytest.raises(ValueError, match=r"quantile levels must be in \(0, 1\], got 1.5"):
        batch_norm.magnitude_quantiles(grid, torch.ones(11), (1.5,))
    with pytest.raises(ValueError, match=r"same length >= 2, got shapes \(11,\) and \(10,\)"):
        batch_norm.mean_magnitude(grid, torch.ones(10))
    with pytest.raises(ValueError, match="no positive mass"):
        batch_norm.magnitude_quantiles(grid, torch.zeros(11))
    with pytest.raises(ValueError, match="norm must be one of none, batch, got 'layer'"):
        batch_norm.digits_net("layer")
    with pytest.raises(ValueError, match=r"rates must include the main η = 1, got \(0.1,\)"):
        batch_norm.measure(rates=(0.1,))


def _broken(numbers, change):
    n = copy.deepcopy(numbers)
    change(n)
    return n


def test_criterion_fails_on_numbers_that_break_each_part(quick):
    n = quick[1].numbers
    assert batch_norm.holds(n) is True
    row = "1"
    breaks = {
        "different initial weights": lambda n: n.update(same_linear_weights=False),
        "batch norm never reaches the level": lambda n: n["sgd"][row]["batch"].update(
            updates_to_level=None
        ),
        "without it only 4x slower": lambda n: n["sgd"][row]["none"].update(
            updates_to_level=4 * n["sgd"][row]["batch"]["updates_to_level"]
        ),
        "spread at the start only 4x smaller": lambda n: n["hessian"]["initial"]["none"].update(
            spread=4 * n["hessian"]["initial"]["batch"]["spread"]
        ),
        "spread after training not smaller": lambda n: n["hessian"]["trained"]["batch"].update(
            spread=n["hessian"]["trained"]["none"]["spread"]
        ),
    }
    for why, change in breaks.items():
        assert batch_norm.holds(_broken(n, change)) is False, why
    # exactly FASTER× as many updates still counts
    exact = _broken(
        n,
        lambda n: n["sgd"][row]["none"].update(
            updates_to_level=5 * n["sgd"][row]["batch"]["updates_to_level"]
        ),
    )
    assert batch_norm.holds(exact) is True


def _verdict_numbers():
    def run(reached, final):
        return {"updates": 900, "updates_to_level": reached, "final_train_loss": final}

    def spread(value, lam):
        return {"spread": value, "lambda_max": lam}

    return {
        "same_linear_weights": True,
        "lr": 1.0,
        "level": 0.5,
        "adam_lr": 0.001,
        "sgd": {
            "0.1": {"none": run(None, 2.3047), "batch": run(360, 0.1145)},
            "1": {"none": run(None, 2.3055), "batch": run(90, 0.05)},
        },
        "adam": {"none": run(None, 1.73), "batch": run(540, 0.2)},
        "hessian": {
            "initial": {"none": spread(664, 1.41), "batch": spread(40, 3.23)},
            "trained": {"none": spread(508, 0.121), "batch": spread(235, 0.565)},
        },
    }


def test_verdict_compares_the_two_nets_in_words():
    numbers = _verdict_numbers()
    text = batch_norm.verdict(numbers, True)
    assert "(the same initial Linear weights with and without BatchNorm)" in text
    assert (
        "updates to a training loss of 0.5 nats with BatchNorm against without — η = 0.1: 360 "
        "against more than 900 (final loss without: 2.3); η = 1: 90 against more than 900"
    ) in text
    assert text.endswith(
        " Adam (η = 0.001, not judged): 540 against more than 900 (final loss without: 1.73)."
    )
    assert "after training at η = 1, κ = λ_max / mean |λ| = 508 without and 235 with" in text
    assert "True" not in text and "without not in" not in text and "with after" not in text
    numbers["same_linear_weights"] = False
    assert "(not the same initial Linear weights" in batch_norm.verdict(numbers, False)


def test_the_spectrum_figure_draws_lambda_max_as_math(quick, tmp_path, monkeypatch):
    """|λ| / λ_max on the axis and in the title is mathtext's λ with a subscript, not the
    underscore text 'λ_max'."""
    drawn = []
    monkeypatch.setattr(batch_norm, "measure", lambda *args, **options: quick[1].numbers)
    monkeypatch.setattr(batch_norm, "plot_curves", lambda series, path, **kw: drawn.append(kw))
    batch_norm.run(tmp_path, quick=True)
    (spectrum,) = drawn
    assert spectrum["ylabel"] == r"|λ| / $\lambda_{\max}$"
    assert r"$\lambda_{\max}$" in spectrum["title"]
    assert "λ_max" not in spectrum["title"] + spectrum["ylabel"]


def test_the_loss_axis_reads_as_plain_numbers(quick, tmp_path, monkeypatch):
    """The log axis of the losses spans 0.1 to 2.4: its ticks read 0.2, 0.3, 2, not
    2×10⁻¹ or 2×10⁰."""
    figures = []
    monkeypatch.setattr(batch_norm, "save_figure", lambda fig, path: figures.append(fig))
    batch_norm.plot_losses(quick[1].numbers["sgd"]["1"], tmp_path / "loss.png", title="t")
    (fig,) = figures
    fig.canvas.draw()
    ax = fig.axes[0]
    shown = [t.get_text() for t in ax.get_yticklabels(which="both") if t.get_text()]
    assert shown and not any("times" in text or "^" in text for text in shown), shown
    assert "0.2" in shown and "2" in shown
    assert "0.9" not in shown  # only 1, 2, 3 and 5 of each decade: no labels run together
