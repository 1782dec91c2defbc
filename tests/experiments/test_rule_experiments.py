"""The experiments on the full rule and warm-up: quick runs, their numbers, and their
criteria, which must be able to come out False."""

import copy
import json
import math

import pytest
import torch

from ravine.experiments import full_rule, warmup_attention, warmup_variance
from ravine.optim.magnitudes import rectification_lengths

PNG = b"\x89PNG\r\n\x1a\n"


def check_result(result, module, out):
    """The protocol: name/title/claim from the module, PNGs under ``out`` named relative to it,
    strict-JSON numbers, a verdict that agrees with ``reproduced``, which the module's own
    criterion computes from the numbers."""
    assert (result.name, result.title, result.claim) == (module.NAME, module.TITLE, module.CLAIM)
    assert 1 <= len(result.figures) <= 3
    for figure in result.figures:
        assert not figure.is_absolute()
        assert (out / figure).read_bytes()[:8] == PNG
    json.dumps(result.to_json(), allow_nan=False)
    assert result.reproduced == module.holds(result.numbers)
    assert result.verdict.startswith("Reproduced" if result.reproduced else "Not reproduced")


# --- warmup-variance ------------------------------------------------------------------------


def test_warmup_variance_reproduces(tmp_path):
    result = warmup_variance.run(tmp_path, quick=True)
    check_result(result, warmup_variance, tmp_path)
    assert result.reproduced
    n = result.numbers
    # ρ_5 = 4.996 <= 5 < ρ_6 = 5.994 for β2 = 0.999: RAdam's first adaptive step is t = 6
    assert rectification_lengths(0.999, 5)[0] <= 5 < rectification_lengths(0.999, 6)[0]
    assert n["first_rectified_step"] == 6
    assert n["rho_inf"] == pytest.approx(1999.0)
    for row in n["per_mean"]:
        assert row["adam_drop"] >= 10
        assert row["radam_spread"] <= 4
        # Adam's variance at step 3 dwarfs the rectified one anywhere
        assert row["adam_variance_step_3"] > 100 * row["radam_variance_last"]


def test_warmup_variance_simulation_matches_the_formulas_by_hand():
    """Var[1/σ_t] and Var[r_t/σ_t] recomputed from the same draws with the equations."""
    adam, radam = warmup_variance.adaptive_step_variance(means=(0.0, 1.0), runs=500, steps=8)
    generator = torch.Generator().manual_seed(warmup_variance.SEED)
    mu = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    v = torch.zeros(2, 500, dtype=torch.float64)
    beta2, eps = 0.999, 1e-8
    for t in range(1, 9):
        g = mu + torch.randn((2, 500), generator=generator, dtype=torch.float64)
        v = beta2 * v + (1 - beta2) * g * g
        sigma = torch.sqrt(v / (1 - beta2**t)) + eps  # σ_t = sqrt(v̂_t) + ε
        torch.testing.assert_close(adam[t - 1], (1 / sigma).var(dim=1), rtol=1e-9, atol=0)
        rho, rho_inf = rectification_lengths(beta2, t)
        if rho <= 5:
            assert radam[t - 1].tolist() == [0.0, 0.0]
        else:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            step = r * math.sqrt(1 - beta2**t) / (v.sqrt() + eps)
            torch.testing.assert_close(radam[t - 1], step.var(dim=1), rtol=1e-9, atol=0)


def _warmup_numbers():
    """The quick run's numbers for μ = 0 and μ = 2: Adam's spread over RAdam's steps is 68.3×
    at μ = 0 and 50.4× at μ = 2, the least."""

    def row(mu, spread, step_1):
        return {
            "mu": mu,
            "adam_variance_step_1": step_1,
            "adam_variance_step_3": 1.54,
            "adam_variance_last": 0.00253,
            "adam_drop": 609.0,
            "adam_spread_rectified_steps": spread,
            "radam_spread": 2.82,
        }

    return {
        "runs": 10000,
        "steps": 200,
        "means": [0.0, 2.0],
        "early_step": 3,
        "drop_at_least": 10.0,
        "spread_at_most": 4.0,
        "first_rectified_step": 6,
        "rho_first_rectified": 5.99,
        "per_mean": [row(0.0, 68.3, 6.18e4), row(2.0, 50.4, 12.0)],
        "adam_drop_min": 172.0,
        "radam_spread_max": 2.82,
    }


def test_warmup_variance_says_which_variance_is_infinite_and_which_spread():
    """Steps 1 and 2: a sampled variance (finite) where the theoretical one is infinite; the
    verdict and the table quote the same spread of Adam's, and say at which μ."""
    n = _warmup_numbers()
    text = warmup_variance.verdict(n, True)
    assert "at steps 1 and 2 the variance is infinite in theory" in text
    assert "6.18e+04 at step 1 only reflects its smallest |g|" in text
    spread = "50.4× or more (the least, at μ = 2)"
    assert f"Adam's spans {spread} over the same steps" in text and "68.3" not in text
    drop, steady, first = warmup_variance.evidence(n)
    assert "step 3 is the first whose variance is finite in theory" in drop.why
    assert "the first with a finite variance" not in drop.why
    assert spread in steady.why
    assert (first.value, first.unit) == ("step 6", "")


def test_warmup_variance_command_reruns_the_measurement():
    assert warmup_variance.COMMAND.startswith("ravine reproduce --only warmup-variance")


def test_warmup_variance_criterion_can_fail():
    good = {
        "drop_at_least": 10.0,
        "spread_at_most": 4.0,
        "per_mean": [{"adam_drop": 2000.0, "radam_spread": 2.1}],
    }
    assert warmup_variance.holds(good)
    flat_adam = copy.deepcopy(good)
    flat_adam["per_mean"][0]["adam_drop"] = 3.0
    assert not warmup_variance.holds(flat_adam)
    unsteady_radam = copy.deepcopy(good)
    unsteady_radam["per_mean"].append({"adam_drop": 500.0, "radam_spread": 9.0})
    assert not warmup_variance.holds(unsteady_radam)


def test_warmup_variance_verdict_reads_as_a_comparison():
    row = {
        "mu": 0.0,
        "adam_variance_step_1": 61771.5,
        "adam_variance_step_3": 1.5362,
        "adam_variance_last": 0.0025332,
        "adam_spread_rectified_steps": 68.31,
    }
    numbers = {
        "runs": 10000,
        "steps": 200,
        "means": [0.0, 0.5, 1.0, 2.0],
        "first_rectified_step": 6,
        "rho_first_rectified": 5.994,
        "early_step": 3,
        "drop_at_least": 10.0,
        "spread_at_most": 4.0,
        "per_mean": [row],
        "adam_drop_min": 172.25,
        "radam_spread_max": 2.8213,
    }
    text = warmup_variance.verdict(numbers, True)
    assert (
        "the variance between runs of Adam's adaptive step 1/σ_t is at least 172× larger at "
        "step 3 than at step 200 for every μ of 0, 0.5, 1 and 2 (μ = 0: 1.54 vs 0.00253"
    ) in text
    assert "the variance of RAdam's rectified r_t/σ_t, from its first adaptive step t = 6" in text
    assert "varies 172× or more between runs" not in text


# --- full-rule ------------------------------------------------------------------------------


def test_full_rule_reproduces(tmp_path):
    result = full_rule.run(tmp_path, quick=True)
    check_result(result, full_rule, tmp_path)
    assert result.reproduced
    n = result.numbers
    assert len(n["table"]) == len(full_rule.SURFACES) * len(full_rule.OPTIMIZERS)
    assert n["full_rule_falls_short_on"] == []
    assert "pokemon" in n["gd_falls_short_on"]
    assert n["momentum_steps_to_leave_ridge"] < n["gd_steps_to_leave_ridge"]
    row = full_rule._row(n["table"], "pokemon", "adam")
    assert row["distance_final"] <= 0.01 * row["distance_start"]
    # RAdam's first steps (σ = 1) take η·m̂ with |g| ~ 10⁷ on the Pokémon loss: it blows up
    assert full_rule._row(n["table"], "pokemon", "radam")["diverged"]


def test_full_rule_rates_are_gd_stability_limits():
    """η = 0.8·2/λ_max: λ_max = 400 on the valley's floor, 4 at the saddle surface's minima
    (Hessian diag(2, −2 + 3·2))."""
    assert full_rule.gd_rate(full_rule.surface("valley")) == pytest.approx(0.8 * 2 / 400)
    assert full_rule.gd_rate(full_rule.surface("saddle")) == pytest.approx(0.8 * 2 / 4)
    s = full_rule.surface("saddle")
    theta = torch.tensor([[0.3, 1.0], [0.0, -1.2]], dtype=torch.float64)
    expected = torch.tensor(
        [math.hypot(0.3, math.sqrt(2) - 1.0), math.sqrt(2) - 1.2], dtype=torch.float64
    )
    torch.testing.assert_close(s.distance(theta), expected)  # the surface knows its minima


def test_full_rule_criterion_can_fail(tmp_path):
    numbers, _ = full_rule.measure(steps=1000)
    assert full_rule.holds(numbers)
    gd_everywhere = dict(numbers, gd_falls_short_on=[])
    assert not full_rule.holds(gd_everywhere)
    adam_short = dict(numbers, full_rule_falls_short_on=["pokemon"])
    assert not full_rule.holds(adam_short)
    slow_momentum = dict(numbers, momentum_steps_to_leave_ridge=numbers["gd_steps_to_leave_ridge"])
    assert not full_rule.holds(slow_momentum)
    # with a tenth of the budget Adam cannot cross the Pokémon loss's flat b either
    short, _ = full_rule.measure(steps=100)
    assert "pokemon" in short["full_rule_falls_short_on"]
    assert not full_rule.holds(short)


def _full_rule_numbers():
    """Numbers shaped like a full run's: final distances per surface and optimizer (None:
    diverged), GD short on pokemon and valley, RAdam diverged on pokemon."""
    final = {
        "pokemon": {"gd": 68.1, "lecture-momentum": 65.07, "adam": 0.0427, "radam": None},
        "valley": {"gd": 0.1454, "lecture-momentum": 1.44e-22, "adam": 4.62e-21, "radam": 2.73e-14},
        "saddle": {"gd": 0.0, "lecture-momentum": 1.36e-23, "adam": 5.75e-23, "radam": 4.44e-16},
    }
    start = {"pokemon": 68.76, "valley": 8.544, "saddle": 2.061}
    table = [
        {
            "surface": surface,
            "optimizer": optimizer,
            "tolerance": 0.01 * start[surface],
            "distance_final": distance,
            "diverged": distance is None,
        }
        for surface, row in final.items()
        for optimizer, distance in row.items()
    ]
    return {
        "steps": 1000,
        "tolerance_fraction": 0.01,
        "table": table,
        "reached": {"adam": ["pokemon", "valley", "saddle"]},
        "gd_falls_short_on": ["pokemon", "valley"],
        "full_rule_falls_short_on": [],
        "momentum_closer_where_gd_falls_short": True,
        "gd_steps_to_leave_ridge": 12,
        "momentum_steps_to_leave_ridge": 9,
    }


def test_full_rule_verdict_reads_radam_as_a_sentence():
    n = _full_rule_numbers()
    text = full_rule.verdict(n, full_rule.holds(n))
    assert text.startswith("Reproduced: in 1,000 updates Adam ended within 1% ")
    assert "(final distances: pokemon 0.043, valley 4.6e-21, saddle 5.7e-23)" in text
    assert "GD fell short on 2 (pokemon: 68 > 0.69; valley: 0.15 > 0.085)" in text
    assert "with GD's η, momentum ended closer where GD fell short (pokemon: 65 vs 68; " in text
    assert "left the saddle's ridge at step 9 against GD's at step 12" in text
    assert text.endswith(
        "RAdam (not judged) diverged on pokemon and ended 2.7e-14 from the valley's minimum "
        "and 4.4e-16 from the saddle's."
    )
    assert "ended at pokemon diverged" not in text
    for row in n["table"]:  # RAdam everywhere fine: no "diverged on"
        if row["optimizer"] == "radam":
            row.update(distance_final=0.5, diverged=False)
    text = full_rule.verdict(n, True)
    assert "RAdam (not judged) ended 0.5 from the pokemon's minimum, 0.5 from the valley's" in text
    assert "diverged" not in text


# --- warmup-attention -----------------------------------------------------------------------


def test_warmup_attention_reproduces(tmp_path):
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    result = warmup_attention.run(tmp_path, quick=True)
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (
        threads,
        deterministic,
    )
    # the protocol of check_result, but the verdict's first words follow the outcome, which
    # may be partial here (the decay half needs the full 400 steps to settle)
    module = warmup_attention
    assert (result.name, result.title, result.claim) == (module.NAME, module.TITLE, module.CLAIM)
    assert 1 <= len(result.figures) <= 3
    for figure in result.figures:
        assert (tmp_path / figure).read_bytes()[:8] == PNG
    json.dumps(result.to_json(), allow_nan=False)
    assert result.reproduced == module.holds(result.numbers)
    assert result.outcome == module.outcome(result.numbers)
    said = {"held": "Reproduced", "partial": "Partly reproduced", "not held": "Not reproduced"}
    assert result.verdict.startswith(said[result.outcome])
    assert result.reproduced
    runs = result.numbers["runs"]
    # chance is ln 16 = 2.77 nats; the three runs start from the same weights
    assert len({r["initial_loss"] for r in runs.values()}) == 1
    assert runs["adam"]["initial_loss"] == pytest.approx(math.log(16), abs=0.5)
    # without warm-up the first steps carry the weights much further from where they started
    assert runs["adam"]["moved_after_early"] > 2 * runs["adam + warm-up"]["moved_after_early"]


def test_warmup_attention_is_deterministic():
    first = warmup_attention.train("radam", steps=5)
    second = warmup_attention.train("radam", steps=5)
    assert first["losses"] == second["losses"]


def test_warmup_attention_criterion_can_fail():
    def numbers(plain, warm=60, radam=55):
        steps = {"adam": plain, "adam + warm-up": warm, "radam": radam}
        return {"runs": {kind: {"steps_to_level": value} for kind, value in steps.items()}}

    assert warmup_attention.holds(numbers(None))  # never trains without warm-up
    assert warmup_attention.holds(numbers(120))  # twice the slower remedy's 60 steps
    assert not warmup_attention.holds(numbers(119))
    assert not warmup_attention.holds(numbers(62))  # trains about as fast: no claim
    assert not warmup_attention.holds(numbers(None, radam=None))  # RAdam does not train
    assert not warmup_attention.holds(numbers(None, warm=None))  # warm-up does not train


def test_full_rule_evidence_decides_as_holds_does():
    n = _full_rule_numbers()
    rows = full_rule.evidence(n)
    assert full_rule.holds(n) and all(r.holds for r in rows if r.holds is not None)
    assert [r.value for r in rows[:4]] == [
        "3 of 3",
        "2 (pokemon and valley)",
        "step 9 against step 12",
        "pokemon: 65 vs 68; valley: 1.4e-22 vs 0.15",
    ]
    assert all(r.threshold and r.why for r in rows[:4]) and rows[4].holds is None
    for change, row in [
        ({"full_rule_falls_short_on": ["valley"]}, 0),
        ({"gd_falls_short_on": []}, 1),
        ({"momentum_steps_to_leave_ridge": 12}, 2),
        ({"momentum_steps_to_leave_ridge": None}, 2),
        ({"momentum_closer_where_gd_falls_short": False}, 3),
    ]:
        changed = {**n, **change}
        assert not full_rule.holds(changed)
        assert [r.holds for r in full_rule.evidence(changed)][row] is False


def test_full_rule_says_what_it_runs():
    """Every run keeps η constant: the title says so rather than promise η^t; the saddle
    figure's star is the saddle point, as its caption says."""
    assert "constant η" in full_rule.TITLE and "η^t" not in full_rule.TITLE
    assert "placeholder" not in str(full_rule.CAPTIONS) and "figure 1 of" not in str(
        full_rule.CAPTIONS
    )
    assert set(full_rule.CAPTIONS) == {f"{name}.png" for name in full_rule.SURFACES}
    assert "saddle point (✕)" in full_rule.CAPTIONS["saddle.png"]  # as the map marks it
    assert "minima (★)" in full_rule.CAPTIONS["saddle.png"]
    assert "(η^t/σ_i^t)·m_i^t" in full_rule.LECTURE
