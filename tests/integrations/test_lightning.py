"""The doctor's Lightning callback: on the four runs of known cause it gives their verdicts,
it logs the Monitor's numbers through the Trainer's logger, and a run resumed from a Lightning
checkpoint goes on with exactly the record of a run never stopped."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from trainer_runs import RUNS, STEPS, Run, hand_written_history, same_records

pl = pytest.importorskip("lightning.pytorch")
pytestmark = [  # Lightning's advice on num_workers, logging intervals; its own deprecations
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*LeafSpec"),
]

from ravine.integrations.lightning import DoctorCallback  # noqa: E402


class Module(pl.LightningModule):
    """A run's model and loss as a LightningModule, with the run's optimizer."""

    def __init__(self, run: Run, momentum: float = 0.0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.run, self.net, self.momentum = run, run.make_model(), momentum

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.run.loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        if self.momentum:
            return torch.optim.SGD(self.parameters(), lr=self.run.lr, momentum=self.momentum)
        return self.run.optimizer(self.parameters())


def fit(run: Run, callback: DoctorCallback, steps: int = STEPS, **options) -> pl.Trainer:
    """``steps`` optimizer steps, one full batch each (one batch per epoch)."""
    data = DataLoader(TensorDataset(run.inputs, run.targets), batch_size=len(run.inputs))
    module = options.pop("module", None) or Module(run)
    ckpt_path = options.pop("ckpt_path", None)
    settings = dict(
        callbacks=[callback],
        max_epochs=steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer = pl.Trainer(**{**settings, **options})
    trainer.fit(module, data, ckpt_path=ckpt_path)
    return trainer


def test_the_verdict_of_each_run(run, capsys):
    doctor = DoctorCallback(critical=True)
    fit(run, doctor)
    assert len(doctor.monitor.history) == STEPS
    assert doctor.diagnosis.verdict == run.verdict
    assert doctor.diagnosis.kind == run.kind
    printed = capsys.readouterr().out
    assert f"{STEPS} steps recorded" in printed
    assert f": {run.verdict}" in printed
    assert "evidence:" in printed and f"remedy: {doctor.diagnosis.remedy}" in printed


def test_the_record_is_a_hand_written_loops():
    """Step for step the numbers of a plain loop: g^t read after Lightning's closure has
    computed it (not the previous step's), L(θ^t) the training step's loss."""
    for run in RUNS[:3]:
        doctor = DoctorCallback()
        fit(run, doctor, steps=17)
        assert same_records(doctor.monitor.history, hand_written_history(run, 17)), run.name


def test_the_numbers_go_through_the_trainers_logger(tmp_path):
    run = RUNS[0]
    doctor = DoctorCallback()
    logger = pl.loggers.CSVLogger(tmp_path, name="run", version=0)
    fit(run, doctor, logger=logger, log_every_n_steps=1)
    with open(tmp_path / "run" / "version_0" / "metrics.csv", newline="") as file:
        rows = [row for row in csv.DictReader(file) if row.get("doctor/loss")]
    assert len(rows) == STEPS
    for row, record in zip(rows, doctor.monitor.history, strict=True):
        assert float(row["doctor/loss"]) == pytest.approx(record["loss"], rel=1e-6)
        assert float(row["doctor/gradient_norm"]) == pytest.approx(
            record["gradient_norm"], rel=1e-6
        )
        assert float(row["doctor/lr"]) == pytest.approx(run.lr, rel=1e-6)
        measured = math.isfinite(record["update_ratio"])  # on every 8th step, θ ≠ 0
        assert bool(row["doctor/update_ratio"]) == measured
        if measured:
            assert float(row["doctor/update_ratio"]) == pytest.approx(
                record["update_ratio"], rel=1e-6
            )
    assert sum(bool(row["doctor/gradient_cosine"]) for row in rows) == STEPS // 8 - 1  # not t = 0


def test_the_reading_every_n_steps():
    lines: list[str] = []
    doctor = DoctorCallback(every=10, report=lines.append)
    fit(RUNS[0], doctor)
    assert len(lines) == STEPS // 10 + 1  # steps 10, 20, 30, 40 and the end of fit
    assert [line.split(",")[1].split()[0] for line in lines] == ["10", "20", "30", "40", "40"]
    assert all(": progressing" in line.splitlines()[0] for line in lines)


def test_a_resumed_run_goes_on_with_the_same_record(tmp_path):
    """16 steps of momentum SGD at once, and 8, a checkpoint, 8 more: the same 16 records,
    including step 8's cos(g⁸, g⁷), which needs g⁷ from the checkpoint."""
    run = RUNS[0]
    whole = DoctorCallback()
    fit(run, whole, steps=16, module=Module(run, momentum=0.9))

    first = DoctorCallback()
    saver = pl.callbacks.ModelCheckpoint(tmp_path, every_n_train_steps=8, save_top_k=-1)
    fit(
        run,
        first,
        steps=8,
        module=Module(run, momentum=0.9),
        enable_checkpointing=True,
        callbacks=[first, saver],
    )
    (path,) = tmp_path.glob("*.ckpt")
    second = DoctorCallback()
    fit(run, second, steps=16, module=Module(run, momentum=0.9), ckpt_path=str(path))

    assert len(first.monitor.history) == 8
    assert same_records(second.monitor.history, whole.monitor.history)
    assert not math.isnan(second.monitor.history[8]["gradient_cosine"])
    assert same_records([second.diagnosis.evidence], [whole.diagnosis.evidence])


def test_the_kind_of_critical_point_needs_a_batch_for_the_hessian():
    """Given a batch, the Hessian on it says saddle; without one the kind stays unknown."""
    saddle = RUNS[3]
    given = DoctorCallback(critical=(saddle.inputs, saddle.targets), report=lambda line: None)
    fit(saddle, given, steps=8)
    assert given.diagnosis.kind == "saddle point"
    assert given.diagnosis.evidence["min_eigenvalue"] == pytest.approx(-2.0)
    unasked = DoctorCallback(report=lambda line: None)
    fit(saddle, unasked, steps=8)
    assert unasked.diagnosis.verdict == "near a critical point"
    assert unasked.diagnosis.kind is None


def test_accumulated_batches_make_one_step_with_their_mean_loss():
    """Two half batches accumulated per step: the full batch's step, loss and gradient."""
    run = RUNS[0]
    doctor = DoctorCallback(report=lambda line: None)
    half = len(run.inputs) // 2
    data = DataLoader(TensorDataset(run.inputs, run.targets), batch_size=half)
    trainer = pl.Trainer(
        max_epochs=9,
        accumulate_grad_batches=2,
        callbacks=[doctor],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Module(run), data)
    ours, theirs = doctor.monitor.history, hand_written_history(run, 9)
    assert len(ours) == 9
    for a, b in zip(ours, theirs, strict=True):
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7, nan_ok=True), key


@pytest.mark.parametrize("logger", ["csv", "tensorboard"])
def test_the_doctor_reads_the_same_verdict_from_the_trainers_log(run, tmp_path, logger):
    """``ravine doctor --log`` on what the Trainer's own logger wrote (a CSVLogger's
    metrics.csv, a TensorBoardLogger's events) gives the callback's verdict."""
    from ravine.diagnose.monitor.read_logs import read_log

    if logger == "tensorboard":
        pytest.importorskip("tensorboard")
        made = pl.loggers.TensorBoardLogger(tmp_path, name="run", version=0)
    else:
        made = pl.loggers.CSVLogger(tmp_path, name="run", version=0)
    doctor = DoctorCallback()
    fit(run, doctor, logger=made, log_every_n_steps=1)
    from_log = read_log(tmp_path / "run" / "version_0").diagnose()
    assert from_log.verdict == doctor.diagnosis.verdict == run.verdict


def test_numbers_measured_every_kth_step_are_not_logged_again_between(tmp_path):
    """Several batches per epoch: Lightning hands each number logged earlier in the epoch to
    the logger again on every step, so ‖Δθ‖/‖θ‖ and cos(g^t, g^{t−1}) were written as copies on
    the steps between their measurements — and ``ravine doctor --log`` averaged the copies."""
    from ravine.diagnose.monitor.read_logs import read_log

    run = RUNS[0]
    doctor = DoctorCallback(report=lambda line: None)
    quarter = len(run.inputs) // 4
    data = DataLoader(TensorDataset(run.inputs, run.targets), batch_size=quarter)
    logger = pl.loggers.CSVLogger(tmp_path, name="run", version=0)
    trainer = pl.Trainer(
        max_epochs=10,
        callbacks=[doctor],
        accelerator="cpu",
        logger=logger,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Module(run), data)
    history = doctor.monitor.history
    assert len(history) == 40
    with open(tmp_path / "run" / "version_0" / "metrics.csv", newline="") as file:
        rows = [row for row in csv.DictReader(file) if row.get("doctor/loss")]
    assert [int(row["step"]) for row in rows] == [int(r["step"]) for r in history]
    for row, record in zip(rows, history, strict=True):
        for key in ("update_ratio", "gradient_cosine"):
            assert bool(row[f"doctor/{key}"]) == math.isfinite(record[key]), (key, row)
    from_log = read_log(tmp_path / "run" / "version_0").diagnose()
    ours = doctor.diagnosis.evidence["mean_gradient_cosine"]
    assert from_log.evidence["mean_gradient_cosine"] == pytest.approx(ours, rel=1e-6)
