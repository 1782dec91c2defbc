"""The more-layers experiment: depths and parameter counts as documented, training that
lowers the loss, and a test of the claim that passes only when training falls with depth and
the deepest net's validation loss turns up by 10%."""

import json

import pytest

from ravine.experiments import ORDER, experiment, more_layers

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("more-layers")
    return out, more_layers.run(out, quick=True)


def test_registered_third():
    assert list(ORDER)[:3] == ["piecewise-linear", "fat-or-tall", "more-layers"]
    assert experiment("more-layers") is more_layers


def test_quick_run_trains_every_depth(quick):
    out, result = quick
    nets = result.numbers["nets"]
    assert [n["layers"] for n in nets] == [1, 2, 3, 4, 5]
    assert [n["parameters"] for n in nets] == [385 + 1056 * (d - 1) for d in range(1, 6)]
    for n in nets:
        assert n["curves"]["train"][-1] < n["curves"]["train"][0]
        assert n["lowest_val"] == min(n["curves"]["val"]) <= sum(n["val"]) / 3 + 1e-6
        at = -(-n["lowest_val_update"] // more_layers.EVERY)  # the last record is update 125
        assert n["curves"]["val"][at] == n["lowest_val"]
    # a least-squares line explains about half of the diabetes target's variance
    assert 0.3 < result.numbers["straight_line_val"] < 0.8
    assert result.outcome == more_layers.outcome(result.numbers)
    assert result.verdict == more_layers.verdict(result.numbers, result.reproduced)
    assert [f.name for f in result.figures] == ["depth.png", "curves.png"]
    for figure in result.figures:
        assert (out / figure).read_bytes()[:8] == PNG and figure.name in result.captions
    json.dumps(result.to_json(), allow_nan=False)


def _numbers(train, val, line=0.5):
    nets = [
        {"layers": d, "train": [t] * 3, "val": [v] * 3}
        for d, t, v in zip(range(1, 6), train, val, strict=True)
    ]
    return {"seeds": [0, 1, 2], "updates": 500, "nets": nets, "straight_line_val": line}


def test_criterion_holds_on_the_lecture_shape_and_fails_otherwise():
    lecture = _numbers([0.28, 0.18, 0.14, 0.12, 0.10], [0.43, 0.39, 0.38, 0.40, 0.44])
    assert more_layers.holds(lecture) and more_layers.outcome(lecture) == "held"
    assert [e.holds for e in more_layers.evidence(lecture)] == [True, True, None]
    # every depth already overfitted: training falls, validation never turns
    measured = _numbers([0.11, 0.0087, 0.0027, 0.0012, 0.0007], [1.1, 1.5, 1.1, 1.05, 1.0])
    assert not more_layers.holds(measured) and more_layers.outcome(measured) == "partial"
    text = more_layers.verdict(measured, False)
    assert "past the turn" in text and "short of the 1.1× turn" in text
    for index, net in enumerate(measured["nets"]):
        net.update(lowest_val=0.5 + index / 100, lowest_val_update=30)
    text = more_layers.verdict(measured, False)
    assert "short of the 1.1× turn. Every depth is already past the turn: even 1 layer" in text
    assert "validation loss was lowest early (1 layer: 0.5 at update 30; 2 layers: 0.51 at " in (
        text
    )
    assert "5 layers: 0.54 at update 30), then rose while training kept falling." in text
    assert "at 0.5 at update" not in text
    # 5% worse is a tie, not a turn
    small = _numbers([0.28, 0.18, 0.14, 0.12, 0.10], [0.43, 0.39, 0.38, 0.38, 0.399])
    assert not more_layers.holds(small)
    # training rises with depth (an optimization issue), validation turns: partial
    rises = _numbers([0.28, 0.18, 0.3, 0.4, 0.5], [0.43, 0.39, 0.38, 0.40, 0.44])
    assert more_layers.outcome(rises) == "partial"
    neither = _numbers([0.28, 0.3, 0.4, 0.5, 0.6], [0.43, 0.39, 0.38, 0.38, 0.38])
    assert more_layers.outcome(neither) == "not held"
    assert more_layers.verdict(neither, False).startswith("Not reproduced: ")


def test_the_depth_caption_gives_the_lecture_shape_as_expected_not_as_seen():
    caption = more_layers.CAPTIONS["depth.png"]
    assert "In the lecture's table training falls with every layer" in caption
    assert "look whether each line here does" in caption
