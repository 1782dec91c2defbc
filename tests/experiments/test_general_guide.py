"""The general-guide experiment in quick mode: every case is named by the guide from measured
runs, the numbers agree with the tasks and with each other, and the criterion fails when any
case's runs would be read otherwise."""

import copy
import json

import pytest
import torch

from ravine.diagnose import mean_prediction_loss
from ravine.experiments import ORDER, experiment, general_guide, model_selection
from ravine.tasks import task
from ravine.training import split

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("general-guide")
    return out, general_guide.run(out, quick=True)


def test_registered_under_its_name():
    assert ORDER["general-guide"] == "general_guide"
    assert experiment("general-guide") is general_guide
    assert general_guide.NAME == "general-guide"


def test_quick_run_reproduces_with_a_figure_per_case_and_json_numbers(quick):
    out, result = quick
    assert (result.name, result.title, result.claim) == (
        general_guide.NAME,
        general_guide.TITLE,
        general_guide.CLAIM,
    )
    assert result.reproduced is general_guide.holds(result.numbers)
    assert result.verdict == general_guide.verdict(result.numbers, result.reproduced)
    said = {"held": "Reproduced: ", "partial": "Partly reproduced: ", "not held": "Not rep"}
    assert result.outcome == general_guide.outcome(result.numbers)
    assert result.verdict.startswith(said[result.outcome])
    assert general_guide.cases_hold(result.numbers)
    assert [f.name for f in result.figures] == [
        "model-bias.png",
        "optimization-issue.png",
        "overfitting.png",
        "fine.png",
        "selection.png",
        "mismatch.png",
    ]
    assert set(general_guide.CAPTIONS) == {f.name for f in result.figures}
    for figure in result.figures:
        assert not figure.is_absolute() and figure.parts[0] == "general-guide"
        assert (out / figure).read_bytes()[:8] == PNG
    assert json.loads(json.dumps(result.numbers, allow_nan=False)) == result.numbers
    json.dumps(result.to_json(), allow_nan=False)


def test_each_case_is_named_from_its_own_runs(quick):
    _, result = quick
    cases = result.numbers["cases"]
    assert list(cases) == ["model bias", "optimization issue", "overfitting", "fine"]
    for case, n in cases.items():
        assert n["verdict"] == case
        assert n["target"] == pytest.approx(0.1 * n["baseline"], rel=1e-12)
        assert n["epochs"] == general_guide.SETTINGS[general_guide.CASES[case][0]]["epochs"] // (
            general_guide.QUICK_FRACTION
        )
    assert cases["model bias"]["notes"] == dict.fromkeys(
        ["linear", "sigmoid ×1", "sigmoid 1×1×1"], "model bias"
    )
    assert cases["optimization issue"]["deciding_run"] == "sigmoid, 8 layers of 16"
    assert cases["overfitting"]["deciding_run"] == "ReLU, 256 units"
    assert cases["fine"]["deciding_run"] == "ReLU, 3 layers of 32"


def test_numbers_agree_with_the_tasks(quick):
    _, result = quick
    cases = result.numbers["cases"]
    # parameters by hand: linear 1+1; sigmoid 1 unit 2+2; 1→1→1→1 sigmoids 3·2;
    # 3 ReLU layers of 32 on 1 input 64 + 2·(32·32+32) + 33; 256 ReLUs on 10 inputs 256·11 + 257
    sizes = {r["name"]: (r["size"], r["parameters"]) for c in cases.values() for r in c["runs"]}
    assert sizes["sigmoid ×1"] == (4, 4) and sizes["sigmoid 1×1×1"] == (6, 6)
    assert sizes["ReLU, 3 layers of 32"] == (2209, 2209)
    assert sizes["ReLU, 256 units"] == (3073, 3073)
    assert [r["size"] for r in cases["optimization issue"]["runs"]] == [1, 8]  # hidden layers
    assert [r["size"] for r in cases["overfitting"]["runs"]] == [11, 3073]
    # B: the variance of the training targets, on the split train() draws
    for case, name, n_train, n_val in [
        ("model bias", "sinc", 160, 40),
        ("optimization issue", "diabetes", 354, 88),
        ("overfitting", "diabetes", 88, 354),
    ]:
        n = cases[case]
        train_idx, _ = split(task(name).size, n["validation"], 0)
        y = task(name).targets[train_idx].double()
        assert n["baseline"] == pytest.approx(float(y.var(unbiased=False)), rel=1e-9)
        assert {(r["train_size"], r["val_size"]) for r in n["runs"]} == {(n_train, n_val)}
    # "fine" adds one run to the model-bias runs, trained once
    assert cases["fine"]["runs"][:3] == cases["model bias"]["runs"]


def test_train_one_curves_start_at_the_initial_model_and_end_at_the_final_record():
    setting = {**general_guide.SETTINGS["sinc"], "batch_size": 80}
    numbers = general_guide.train_one(setting, "relu:units=4", epochs=3)
    curves = numbers["curves"]
    assert len(curves["train"]) == len(curves["val"]) == 4
    assert curves["train"][-1] == numbers["train_loss"]
    assert curves["val"][-1] == numbers["val_loss"]
    sinc = task("sinc", model="relu:units=4")
    train_idx, val_idx = split(sinc.size, 0.2, 0)
    with torch.no_grad():
        model = sinc.model(0)
        for idx, first in ((train_idx, curves["train"][0]), (val_idx, curves["val"][0])):
            error = model(sinc.inputs[idx]) - sinc.targets[idx]
            assert first == pytest.approx(float((error**2).mean()), rel=1e-12)
    assert numbers["baseline"] == pytest.approx(mean_prediction_loss(sinc.targets[train_idx]))


def _runs(numbers, case):
    return {r["name"]: r for r in numbers["cases"][case]["runs"]}


def test_criterion_fails_when_any_case_would_be_read_otherwise(quick):
    _, result = quick
    good = result.numbers

    def changed(case, name, **values):
        numbers = copy.deepcopy(good)
        b = numbers["cases"][case]["baseline"]
        _runs(numbers, case)[name].update({k: v * b for k, v in values.items()})
        return numbers

    good = copy.deepcopy(good)
    good["selection"].update(single_split_choice=["a", "b", "a"], k_fold_choice=["a", "a"])
    for run in good["mismatch"]["runs"]:
        run.update(train_loss=0.0, val_loss=0.0, shifted_val_loss=10.0)
    assert general_guide.holds(good) and general_guide.outcome(good) == "held"
    # the largest tiny model fits the training data: no longer model bias
    assert not general_guide.holds(changed("model bias", "sigmoid 1×1×1", train_loss=0.01))
    # the deep net ties the shallow one: model bias, not an optimization issue
    shallow = _runs(good, "optimization issue")["sigmoid, 1 layer of 16"]["train_loss"]
    tie = shallow / good["cases"]["optimization issue"]["baseline"]
    assert not general_guide.holds(
        changed("optimization issue", "sigmoid, 8 layers of 16", train_loss=tie)
    )
    # the large net generalizes: fine, not overfitting
    assert not general_guide.holds(changed("overfitting", "ReLU, 256 units", val_loss=0.05))
    # the flexible sinc net overfits, or does not fit: not fine
    assert not general_guide.holds(changed("fine", "ReLU, 3 layers of 32", val_loss=0.5))
    assert not general_guide.holds(changed("fine", "ReLU, 3 layers of 32", train_loss=0.5))
    # a missing case
    missing = copy.deepcopy(good)
    del missing["cases"]["overfitting"]
    assert not general_guide.holds(missing)
    # and the verdict says what the guide said instead
    numbers = changed("overfitting", "ReLU, 256 units", val_loss=0.05)
    numbers["cases"]["overfitting"]["verdict"] = "fine"
    text = general_guide.verdict(numbers, general_guide.holds(numbers))
    assert general_guide.outcome(numbers) == "partial"
    assert text.startswith("Partly reproduced: the guide named 3 of 4 cases as built")
    assert "the guide said “fine” instead." in text and "said 'fine'" not in text


def test_selection_criterion():
    def numbers(single, k_fold):
        return {"single_split_choice": single, "k_fold_choice": k_fold}

    assert model_selection.steadiness(["a", "b", "a", "c"]) == 0.5
    assert model_selection.selection_holds(numbers(["a", "b", "a", "a"], ["a", "a"]))
    # one split never changes its choice: the lecture's point is not shown
    assert not model_selection.selection_holds(numbers(["a", "a", "a"], ["a", "a"]))
    # K folds no steadier than one split
    assert not model_selection.selection_holds(numbers(["a", "b", "a", "b"], ["a", "b"]))
    assert not model_selection.selection_holds(numbers(["a", "b", "a"], ["b", "a", "b"]))


def test_mismatch_criterion():
    def numbers(train, val, moved):
        runs = [
            {"train_loss": t, "val_loss": v, "shifted_val_loss": m}
            for t, v, m in zip(train, val, moved, strict=True)
        ]
        return {"target": 0.2, "runs": runs}

    assert model_selection.mismatch_holds(numbers([0.1, 0.0], [0.3, 0.1], [3.0, 9.0]))
    # one model does fine on the shifted digits: a choice of model helps
    assert not model_selection.mismatch_holds(numbers([0.1, 0.0], [0.3, 0.1], [3.0, 0.15]))
    # a model that does not fit the training data: model bias, not mismatch
    assert not model_selection.mismatch_holds(numbers([0.5, 0.0], [0.3, 0.1], [3.0, 9.0]))
    # no model is small on validation as drawn: overfitting, not mismatch
    assert not model_selection.mismatch_holds(numbers([0.1, 0.0], [0.3, 0.25], [3.0, 9.0]))


def test_shifted_moves_each_row_right_and_blanks_the_left():
    image = torch.arange(64, dtype=torch.float32).reshape(1, 64)
    moved = model_selection.shifted(image, 2).reshape(8, 8)
    assert moved[:, :2].eq(0).all()
    assert torch.equal(moved[:, 2:], image.reshape(8, 8)[:, :6])


def test_quick_selection_and_mismatch_numbers(quick):
    _, result = quick
    selection, mismatch = result.numbers["selection"], result.numbers["mismatch"]
    assert len(selection["single_split_choice"]) == len(selection["seeds"]) == 3
    assert len(selection["k_fold_choice"]) == len(selection["k_fold_seeds"]) == 2
    for losses in selection["single_split_val_loss"].values():
        assert len(losses) == 3
    assert set(selection["private_loss"]) == set(selection["models"])
    # B: the cross-entropy of the training classes' frequencies, near ln 10 (balanced digits)
    assert mismatch["baseline"] == pytest.approx(2.302, abs=0.01)
    assert mismatch["target"] == pytest.approx(0.1 * mismatch["baseline"])
    for run in mismatch["runs"]:
        assert run["shifted_val_loss"] > run["val_loss"]


def test_selection_and_mismatch_text_read_as_words():
    line, small, large = "linear", "relu:units=4", "relu:units=16"
    selection = {
        "task": "diabetes",
        "models": [line, small, large],
        "folds": 4,
        "seeds": list(range(8)),
        "k_fold_seeds": [0, 1, 2],
        "single_split_choice": [line, large, large, line, line, large, line, small],
        "k_fold_choice": [line, large, line],
        "private_loss": {"linear": 0.4096, "relu:units=4": 0.3957, "relu:units=16": 0.4201},
    }
    text = model_selection.selection_text(selection)
    assert text.startswith("choosing among linear, relu:units=4 and relu:units=16 on diabetes")
    assert "chose linear 4 times, relu:units=16 3 times and relu:units=4 once over 8 splits" in text
    assert "chose linear twice and relu:units=16 once over 3 fold draws" in text
    assert "1×" not in text and "4×" not in text
    runs = [
        {"model": m, "train_loss": t, "val_loss": v, "shifted_val_loss": s}
        for m, t, v, s in [
            ("linear", 0.1067, 0.1559, 7.531),
            ("deep:layers=2,units=64", 0.0262, 0.1574, 12.26),
        ]
    ]
    mismatch = {"task": "digits", "shift": 2, "target": 0.2302, "runs": runs}
    text = model_selection.mismatch_text(mismatch)
    assert "were linear 0.11 / 0.16 / 7.53; deep:layers=2,units=64 0.026 / 0.16 / 12.3 nats" in (
        text
    )


def test_cases_read_one_sentence_each_with_the_run_names_set_off():
    def run(name, train, val):
        return {"name": name, "train_loss": train, "val_loss": val}

    numbers = {
        "cases": {
            "optimization issue": {
                "task": "diabetes",
                "baseline": 1.0,
                "verdict": "optimization issue",
                "runs": [
                    run("sigmoid, 1 layer of 16", 0.4794, 0.479),
                    run("sigmoid, 8 layers of 16", 1.0386, 1.168),
                ],
            },
            "overfitting": {
                "task": "diabetes",
                "baseline": 1.0,
                "verdict": "fine",
                "runs": [run("ReLU, 256 units", 0.0242, 0.05)],
            },
        }
    }
    text = general_guide._cases_text(numbers)
    assert text == (
        "Built as optimization issue (diabetes; training / validation loss — sigmoid, 1 layer "
        "of 16: 0.479·B / 0.479·B; sigmoid, 8 layers of 16: 1.04·B / 1.17·B), the guide named "
        "it. Built as overfitting (diabetes; training / validation loss — ReLU, 256 units: "
        "0.0242·B / 0.05·B), the guide said “fine” instead."
    )


def test_selection_and_mismatch_captions_say_what_this_run_shows():
    """A quick run's linear model ended above T on training (0.29 > 0.23) and one split chose
    the same model at every draw: the captions said 'every model is below T' and 'the chosen
    model changes' all the same. They now say what the run did."""
    runs = [
        {"model": "linear", "train_loss": 0.286, "val_loss": 0.312, "shifted_val_loss": 4.80},
        {"model": "relu:units=64", "train_loss": 0.080, "val_loss": 0.126, "shifted_val_loss": 7.1},
    ]
    mismatch = {"shift": 2, "target": 0.2302, "runs": runs}
    text = model_selection.mismatch_caption(mismatch)
    assert "on training data relu:units=64 below T, linear at 0.29 above it" in text
    assert "every model is below T" not in text
    assert "every model is far above it on the same digits moved 2 pixels (the lowest 4.8, " in text
    runs[0] |= {"train_loss": 0.1, "val_loss": 0.2}
    assert model_selection.mismatch_caption(mismatch).count("every model is below T") == 2
    same = {"folds": 3, "single_split_choice": ["a", "a", "a"], "k_fold_choice": ["a", "a"]}
    text = model_selection.selection_caption(same)
    assert "Here one split chose a at every draw, and 3-fold validation chose a at every draw" in (
        text
    )
    changed = dict(same, single_split_choice=["a", "b", "a"])
    assert "one split changed its choice with the draw (a twice and b once)" in (
        model_selection.selection_caption(changed)
    )


def test_a_quick_run_captions_selection_and_mismatch_from_its_numbers(quick):
    _, result = quick
    numbers = result.numbers
    assert result.captions["selection.png"] == model_selection.selection_caption(
        numbers["selection"]
    )
    assert result.captions["mismatch.png"] == model_selection.mismatch_caption(numbers["mismatch"])


def test_one_model_chosen_reads_singular(quick):
    numbers = copy.deepcopy(quick[1].numbers)
    choice = numbers["selection"]["single_split_choice"]
    numbers["selection"]["single_split_choice"] = [choice[0]] * len(choice)
    row = next(e for e in general_guide.evidence(numbers) if e.name.startswith("models chosen"))
    assert (row.value, row.unit, row.holds) == (1, "different model", False)
    numbers["selection"]["single_split_choice"] = ["linear", "relu:units=16"]
    row = next(e for e in general_guide.evidence(numbers) if e.name.startswith("models chosen"))
    assert (row.value, row.unit) == (2, "different models")


def test_selection_lines_pair_a_colour_per_model_with_a_style_per_method(quick):
    selection = quick[1].numbers["selection"]
    styles = general_guide.selection_styles(selection)
    models = list(selection["single_split_val_loss"])
    colors = {styles[f"{m}: one split"]["color"] for m in models}
    assert len(colors) == len(models)  # no two models share a colour
    for m in models:
        one, folds = styles[f"{m}: one split"], styles[f"{m}: {selection['folds']} folds"]
        assert one["color"] == folds["color"] and (one["linestyle"], folds["linestyle"]) == (
            "-",
            "--",
        )
