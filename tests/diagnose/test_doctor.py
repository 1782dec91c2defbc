"""The doctor: a built-in task trained under the Monitor, diagnosed on cases whose truth is
known by construction, from Python and from the command line."""

import json

import pytest

from ravine import cli
from ravine.diagnose.doctor import task_names, train_and_diagnose


@pytest.mark.parametrize(
    ("task", "optimizer", "lr", "steps", "verdict", "kind"),
    [
        # η·400 = 4 > 2 on the valley's floor: bouncing between the walls
        ("valley", "gd", 1e-2, 400, "oscillating", None),
        # far past the stability limit: the loss explodes
        ("valley", "gd", 0.1, 200, "diverged", None),
        # GD leaves the saddle along its negative direction and settles in a minimum
        ("saddle", "gd", 0.1, 300, "near a critical point", "local minimum"),
        # a healthy start: the loss is still falling
        ("minimum", "gd", 1e-3, 100, "progressing", None),
    ],
)
def test_verdicts_on_runs_whose_truth_is_known(task, optimizer, lr, steps, verdict, kind):
    found = train_and_diagnose(task, optimizer, lr=lr, steps=steps)
    assert found.diagnosis.verdict == verdict, found.diagnosis
    assert found.diagnosis.kind == kind
    assert found.diagnosis.remedy


def test_oscillation_evidence_quotes_the_curvature_the_step_crosses():
    evidence = train_and_diagnose("valley", "gd", lr=1e-2, steps=400).diagnosis.evidence
    assert evidence["lr_times_max_eigenvalue"] == pytest.approx(4.0, rel=1e-9)  # η·400
    assert evidence["mean_gradient_cosine"] < -0.99
    assert evidence["gradient_norm_now"] > 380


def test_unknown_task_lists_the_valid_ones():
    valid = "valid: sinc, diabetes, digits, reverse, pokemon"
    with pytest.raises(ValueError, match=f"unknown task 'valey'; {valid}"):
        train_and_diagnose("valey", "gd")
    assert "valley" in task_names()


def test_command_line_json(capsys):
    argv = ["doctor", "--task", "valley", "--optimizer", "gd", "--lr", "1e-2", "--steps", "300"]
    code = cli.main([*argv, "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 0
    assert report["verdict"] == "oscillating"
    assert set(report) >= {"verdict", "evidence", "remedy"}
    assert "step 300/300" in err  # the progress bar


def test_command_line_text_and_bad_task(capsys):
    assert cli.main(["doctor", "--task", "minimum", "--optimizer", "gd", "--steps", "50"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("minimum, gd, 50 steps: ")
    assert "remedy: " in out
    assert cli.main(["doctor", "--task", "nope", "--optimizer", "gd"]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "unknown task 'nope'" in err


def test_a_sinc_network_trained_to_a_critical_point_is_diagnosed_as_one():
    import ravine.optim
    from ravine.diagnose import KINDS, Monitor, train_to_critical_point
    from ravine.tasks import task

    sinc = task("sinc", seed=1)
    model = sinc.model()
    reached = train_to_critical_point(model, sinc.loss_fn, sinc.inputs, sinc.targets)
    assert reached.gradient_norm < 1e-3
    optimizer = ravine.optim.SGD(model.parameters(), lr=1e-4)
    monitor = Monitor(model, optimizer, layers=False)
    for _ in range(20):
        optimizer.zero_grad()
        loss = sinc.loss(model)
        loss.backward()
        optimizer.step()
        monitor.step(loss)
    found = monitor.diagnose(window=10, critical=(sinc.loss_fn, sinc.inputs, sinc.targets))
    assert found.verdict == "near a critical point"
    assert found.kind in KINDS and found.kind != "not critical"
