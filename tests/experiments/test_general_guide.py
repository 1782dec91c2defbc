"""The general-guide experiment in quick mode: every case is named by the guide from measured
runs, the numbers agree with the tasks and with each other, and the criterion fails when any
case's runs would be read otherwise."""

import copy
import json

import pytest
import torch

from ravine.diagnose import mean_prediction_loss
from ravine.experiments import ORDER, experiment, general_guide
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
    assert result.reproduced is general_guide.holds(result.numbers) is True
    assert result.verdict == general_guide.verdict(result.numbers, result.reproduced)
    assert result.verdict.startswith("Reproduced: ")
    assert [f.name for f in result.figures] == [
        "model-bias.png",
        "optimization-issue.png",
        "overfitting.png",
        "fine.png",
    ]
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
        assert n["epochs"] == general_guide.SETTINGS[general_guide.CASES[case][0]]["epochs"] // 4
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
    assert text.startswith("Not reproduced: ") and "said 'fine'" in text
