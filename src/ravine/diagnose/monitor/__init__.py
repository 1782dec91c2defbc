"""The training monitor: record what each optimizer step did, then say why the loss stopped
falling — and, when asked, stop a run that blows up and go back to its last good state.

The lecture's first warning is that *training stuck ≠ small gradient*: a flat loss curve may
mean θ sits at a critical point (‖∇L‖ ≈ 0), or that θ is bouncing between the walls of a
valley while ‖∇L‖ stays large. The two need opposite remedies; the Monitor records the numbers
that tell them apart and :meth:`Monitor.diagnose` reads them. Attach it in two lines::

    monitor = Monitor(model, optimizer)            # 1: hooks on optimizer.step
    for x, y in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        monitor.step(loss)                         # 2: after optimizer.step()
    print(monitor.diagnose(window=100))

One job per module, each importing only those before it:

- :mod:`.remedies` — the lecture's remedy for each verdict;
- :mod:`.verdict` — the doctor's reading: :class:`Diagnosis`, :func:`diagnose_training` and its
  thresholds;
- :mod:`.effective_lr` — η^t/σ_i^t of a ravine optimizer's step, sampled;
- :mod:`.previous_gradient` — g^{t−1}, kept one step for cos(g^t, g^{t−1});
- :mod:`.logs` — the CSV file and TensorBoard;
- :mod:`.read_logs` — the verdict from a run's logs (``ravine doctor --log``): :func:`read_log`;
- :mod:`.guard` — stop and restore: :class:`Guard`, :class:`TrainingStopped`;
- :mod:`.recorder` — what is measured each step: :class:`Monitor`.
"""

from .effective_lr import (
    EFFECTIVE_LR_EVERY,
    EFFECTIVE_LR_KEYS,
    EFFECTIVE_LR_QUANTILES,
    EFFECTIVE_LR_SAMPLE,
)
from .guard import Guard, TrainingStopped
from .read_logs import LoggedRun, read_log
from .recorder import EVERY, LAYER_KEYS, Monitor
from .verdict import (
    DIVERGE_FACTOR,
    EVIDENCE,
    FLAT,
    FLIPPING,
    GRAD_TOL,
    KEPT,
    LARGE,
    LOSS_FLOOR,
    MIN_WINDOW,
    OVERSHOOT,
    REMEDIES,
    SMALL,
    STEADY,
    VERDICTS,
    Diagnosis,
    default_window,
    diagnose_training,
    divergence_line,
)

__all__ = [
    "DIVERGE_FACTOR",
    "EFFECTIVE_LR_EVERY",
    "EFFECTIVE_LR_KEYS",
    "EFFECTIVE_LR_QUANTILES",
    "EFFECTIVE_LR_SAMPLE",
    "EVERY",
    "EVIDENCE",
    "FLAT",
    "FLIPPING",
    "GRAD_TOL",
    "KEPT",
    "LARGE",
    "LAYER_KEYS",
    "LOSS_FLOOR",
    "MIN_WINDOW",
    "OVERSHOOT",
    "REMEDIES",
    "SMALL",
    "STEADY",
    "VERDICTS",
    "Diagnosis",
    "Guard",
    "LoggedRun",
    "Monitor",
    "TrainingStopped",
    "default_window",
    "diagnose_training",
    "divergence_line",
    "read_log",
]
