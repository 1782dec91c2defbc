"""The doctor's Hugging Face callback: on the four runs of known cause it gives their verdicts,
it adds the Monitor's numbers to the Trainer's logs, and a run resumed from a Trainer
checkpoint goes on with exactly the record of a run never stopped."""

from __future__ import annotations

import math

import pytest
import torch
from trainer_runs import RUNS, STEPS, Run, hand_written_history, same_records

transformers = pytest.importorskip("transformers")

from ravine.integrations.transformers import STATE_FILE, DoctorCallback  # noqa: E402

pytestmark = [  # the Trainer's notes on a model that is not a PreTrainedModel, and the like
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


class Model(torch.nn.Module):
    """A run's model whose forward returns ``{'loss': …}``, as the Trainer expects."""

    def __init__(self, run: Run) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.run, self.net = run, run.make_model()

    def forward(self, x, labels):
        return {"loss": self.run.loss(self.net(x), labels)}


class Samples(torch.utils.data.Dataset):
    def __init__(self, run: Run) -> None:
        self.run = run

    def __len__(self) -> int:
        return len(self.run.inputs)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.run.inputs[i], "labels": self.run.targets[i]}


def train(run: Run, doctor: DoctorCallback, output, steps: int = STEPS, model=None, **options):
    """``steps`` optimizer steps of the run's optimizer at constant η, one full batch each."""
    resume = options.pop("resume_from_checkpoint", None)
    momentum = options.pop("momentum", 0.0)
    model = model or Model(run)
    settings = dict(
        output_dir=str(output),
        per_device_train_batch_size=len(run.inputs),
        max_steps=steps,
        lr_scheduler_type="constant",
        max_grad_norm=0.0,  # no clipping: the runs are the plain gradient descent they say
        report_to="none",
        use_cpu=True,
        logging_steps=1,
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    args = transformers.TrainingArguments(**{**settings, **options})
    optimizer = (
        torch.optim.SGD(model.parameters(), lr=run.lr, momentum=momentum)
        if momentum
        else run.optimizer(model.parameters())
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=Samples(run), optimizers=(optimizer, None)
    )
    doctor.attach(trainer)
    trainer.train(resume_from_checkpoint=resume)
    return trainer


def test_the_verdict_of_each_run(run, tmp_path, capsys):
    doctor = DoctorCallback(critical=True)
    train(run, doctor, tmp_path)
    assert len(doctor.monitor.history) == STEPS
    assert doctor.diagnosis.verdict == run.verdict
    assert doctor.diagnosis.kind == run.kind
    printed = capsys.readouterr().out
    assert f"{STEPS} steps recorded" in printed
    assert f": {run.verdict}" in printed
    assert "evidence:" in printed and f"remedy: {doctor.diagnosis.remedy}" in printed


def test_the_record_is_a_hand_written_loops(tmp_path):
    """Step for step the numbers of a plain loop (to rounding: the Trainer shuffles the samples
    of the full batch, which changes the order of the sums)."""
    for run in RUNS[:3]:
        doctor = DoctorCallback()
        train(run, doctor, tmp_path / run.name, steps=17)
        ours, theirs = doctor.monitor.history, hand_written_history(run, 17)
        assert len(ours) == len(theirs) == 17
        for a, b in zip(ours, theirs, strict=True):
            assert a.keys() == b.keys()
            for key in a:
                assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6, nan_ok=True), key


def test_the_numbers_reach_the_trainers_loggers(tmp_path, monkeypatch):
    """Logged every step: in the Trainer's log history and, since attach() puts the doctor
    first, in the TensorBoard events its reporting integration writes."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = RUNS[0]
    doctor = DoctorCallback()
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    trainer = train(run, doctor, tmp_path, report_to="tensorboard")
    logged = [entry for entry in trainer.state.log_history if "doctor/loss" in entry]
    assert len(logged) == STEPS
    for entry, record in zip(logged, doctor.monitor.history, strict=True):
        assert entry["step"] == record["step"] + 1  # the Trainer's count of steps taken
        assert entry["doctor/loss"] == record["loss"]
        assert entry["doctor/gradient_norm"] == record["gradient_norm"]
        assert entry["doctor/lr"] == pytest.approx(run.lr)
        assert ("doctor/update_ratio" in entry) == math.isfinite(record["update_ratio"])
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    for key in ("loss", "gradient_norm", "update_ratio", "gradient_cosine", "lr"):
        assert f"train/doctor/{key}" in scalars, scalars
    losses = [event.value for event in events.Scalars("train/doctor/loss")]
    assert losses == pytest.approx(list(doctor.monitor.loss), rel=1e-6)


def test_the_reading_every_n_steps(tmp_path):
    lines: list[str] = []
    train(RUNS[0], DoctorCallback(every=10, report=lines.append), tmp_path)
    assert [line.split(",")[1].split()[0] for line in lines] == ["10", "20", "30", "40", "40"]
    assert all(": progressing" in line.splitlines()[0] for line in lines)


def test_a_resumed_run_goes_on_with_the_same_record(tmp_path):
    """16 steps of momentum SGD at once, and 8, a checkpoint, 8 more: the same 16 records,
    including step 8's cos(g⁸, g⁷), which needs g⁷ from the checkpoint."""
    run = RUNS[0]
    whole = DoctorCallback()
    train(run, whole, tmp_path / "whole", steps=16, momentum=0.9)

    first = DoctorCallback()
    saving = dict(save_strategy="steps", save_steps=8, momentum=0.9)
    train(run, first, tmp_path / "parts", steps=8, **saving)
    checkpoint = tmp_path / "parts" / "checkpoint-8"
    assert (checkpoint / STATE_FILE).is_file()
    second = DoctorCallback()
    train(
        run, second, tmp_path / "parts", steps=16, resume_from_checkpoint=str(checkpoint), **saving
    )

    assert len(first.monitor.history) == 8
    assert same_records(second.monitor.history, whole.monitor.history)
    assert not math.isnan(second.monitor.history[8]["gradient_cosine"])
    assert same_records([second.diagnosis.evidence], [whole.diagnosis.evidence])


def test_resuming_without_the_monitors_state_says_so(tmp_path):
    run = RUNS[0]
    saving = dict(save_strategy="steps", save_steps=4)
    train(run, DoctorCallback(), tmp_path, steps=4, **saving)
    (tmp_path / "checkpoint-4" / STATE_FILE).unlink()
    doctor = DoctorCallback()
    with pytest.warns(UserWarning, match="without the Monitor's state"):
        train(run, doctor, tmp_path, steps=8, resume_from_checkpoint=str(tmp_path / "checkpoint-4"))
    assert len(doctor.monitor.history) == 4  # a record begun anew


def test_the_kind_of_critical_point_needs_a_batch_for_the_hessian(tmp_path):
    """Given a batch, the Hessian on it says saddle; without one the kind stays unknown."""
    saddle = RUNS[3]
    batch = {"x": saddle.inputs, "labels": saddle.targets}
    given = DoctorCallback(critical=batch, report=lambda line: None)
    train(saddle, given, tmp_path / "given", steps=8)
    assert given.diagnosis.kind == "saddle point"
    assert given.diagnosis.evidence["min_eigenvalue"] == pytest.approx(-2.0)
    unasked = DoctorCallback(report=lambda line: None)
    train(saddle, unasked, tmp_path / "unasked", steps=8)
    assert unasked.diagnosis.verdict == "near a critical point"
    assert unasked.diagnosis.kind is None


def test_accumulated_batches_make_one_step_with_their_mean_loss(tmp_path):
    """Two half batches accumulated per step: the full batch's step, loss and gradient."""
    run = RUNS[0]
    doctor = DoctorCallback(report=lambda line: None)
    half = len(run.inputs) // 2
    train(
        run,
        doctor,
        tmp_path,
        steps=9,
        per_device_train_batch_size=half,
        gradient_accumulation_steps=2,
    )
    ours, theirs = doctor.monitor.history, hand_written_history(run, 9)
    assert len(ours) == 9
    for a, b in zip(ours, theirs, strict=True):
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6, nan_ok=True), key


def test_the_gradient_is_read_before_the_trainer_clips_it(tmp_path):
    """With clipping (the Trainer's default max_grad_norm = 1), ‖g‖ is the gradient's own norm,
    the one the Trainer logs as grad_norm, not the clipped one (at most 1); the update is the
    clipped step actually taken."""
    run = RUNS[0]  # from w = 0 the first gradients are about 4.5 long
    doctor = DoctorCallback(report=lambda line: None, measure_every=1)
    trainer = train(run, doctor, tmp_path, steps=6, max_grad_norm=1.0)
    logged = [entry["grad_norm"] for entry in trainer.state.log_history if "grad_norm" in entry]
    ours = doctor.monitor.gradient_norm
    assert len(logged) == len(ours) == 6 and ours[0] > 4
    assert list(ours) == pytest.approx(logged, rel=1e-5)
    update = doctor.monitor.history[1]["update_norm"]  # θ moved by η·g·(1/‖g‖), clipped
    assert update == pytest.approx(run.lr, rel=1e-4)
    assert not hasattr(trainer.accelerator, "__dict__") or (
        "clip_grad_norm_" not in vars(trainer.accelerator)  # given back after training
    )


def test_passed_without_attach_the_doctor_sees_the_clipped_gradient(tmp_path):
    """``Trainer(callbacks=[doctor])``: the doctor does not know the Trainer, and reads g where
    the optimizer steps, after clipping (as the module docstring says)."""
    run = RUNS[0]
    doctor = DoctorCallback(report=lambda line: None)
    model = Model(run)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=len(run.inputs), max_steps=3,
        lr_scheduler_type="constant", max_grad_norm=1.0, report_to="none", use_cpu=True,
        save_strategy="no", disable_tqdm=True, seed=0,
    )  # fmt: skip
    optimizer = run.optimizer(model.parameters())
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=Samples(run),
        optimizers=(optimizer, None),
        callbacks=[doctor],
    )
    trainer.train()
    assert max(doctor.monitor.gradient_norm) <= 1.0 + 1e-6
