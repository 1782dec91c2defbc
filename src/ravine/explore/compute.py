"""One run of the explorer: :func:`ravine.surfaces.descend` with the page's settings, the
numbers the page shows, the series it draws (thinned for drawing, never for computing), and a
bounded cache that answers a slider's next position before it is asked.

Every run is one call of ``descend`` with exactly the page's η — not a row of a stacked run of
many η: a stacked row rounds differently in the last bit (the kernels differ for one row and
for many), and on the lecture's chaotic runs that changes what the page would show (Adagrad on
Pokémon, η = 1, 100,000 steps: 59 bursts as a row of a 74-row run, 62 alone, as
``ravine reproduce`` counts them). Speed comes from the cache instead: after a run, the η
slider's neighbouring positions are computed in the background, nearest first, so moving the
slider is answered from memory.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch

from ..experiments.adagrad_bursts import THRESHOLD, find_bursts
from ..surfaces import Trajectory, descend, surface
from .rules import Settings

DRAWN = 2000  # at most this many points of each series go to the page
BUCKETS = 399  # the path is kept by buckets: first point and extremes of each (≤ 1,995 + 3)


def trajectory(found: Settings, stop: Callable[[], bool] | None = None) -> Trajectory:
    """The run: ``descend`` with these settings (the numbers the page shows come from it);
    ``stop`` as descend takes it (raises :class:`ravine.surfaces.Stopped`)."""
    return descend(
        surface(found.surface),
        found.rule(),
        lr=found.lr,
        options=found.options(),
        schedule=found.schedule_callable(),
        steps=found.steps,
        start=found.start,
        stop=stop,
    )


def drawn_steps(theta: torch.Tensor, diverged: int | None) -> torch.Tensor:
    """The steps t kept for drawing a path θ^t (N+1, 2): in each of :data:`BUCKETS` stretches
    of equal length its first step and the steps where θ1 and θ2 are smallest and largest (so
    a burst or a bounce keeps its tip), plus the first step, the last and where it diverged."""
    count = theta.shape[0]
    if count <= DRAWN:
        return torch.arange(count)
    finite = torch.nan_to_num(theta, nan=0.0, posinf=1e300, neginf=-1e300)
    width = math.ceil(count / BUCKETS)
    padded = torch.cat([finite, finite[-1:].expand(width * BUCKETS - count, 2)])
    blocks = padded.reshape(BUCKETS, width, 2)
    offsets = torch.arange(BUCKETS).unsqueeze(-1) * width
    extremes = torch.cat([blocks.argmin(1), blocks.argmax(1)], dim=1) + offsets
    kept = torch.cat([offsets.flatten(), extremes.flatten(), torch.tensor([0, count - 1])])
    if diverged is not None:
        kept = torch.cat([kept, torch.tensor([diverged])])
    return torch.unique(kept.clamp(max=count - 1))


def numbers(run: Trajectory, found: Settings, loss: torch.Tensor | None = None) -> dict[str, Any]:
    """What the page prints: the final point, its distance to the minimum, the first step within
    ``tolerance`` of the way (‖θ^t − θ*‖ <= tolerance·‖θ⁰ − θ*‖), where it diverged (the first
    step whose loss is not finite), and the bursts counted as :mod:`ravine.experiments.
    adagrad_bursts` counts them (|θ2 − θ2*| > τ after first coming within τ). θ* is the minimum
    nearest each θ^t (``saddle`` has two); ``minimum`` the one nearest the final point. A
    distance too large for a float is null. ``loss``: L(θ^t) of run 0 when already computed."""
    theta = run.theta[:, 0]
    distance = run.surface.distance(theta)  # ‖θ^t − θ*‖
    minimum = run.surface.nearest_minimum(theta[-1])
    loss = run.loss[:, 0] if loss is None else loss
    bad = ~torch.isfinite(loss) | ~torch.isfinite(theta).all(-1)
    diverged = int(bad.int().argmax()) if bool(bad.any()) else None
    within = distance <= found.tolerance * distance[0]
    bursts = find_bursts(run, loss=loss) if diverged is None else []
    return {
        "optimizer": run.optimizer,
        "start": theta[0].tolist(),
        "minimum": minimum.tolist(),
        "final": _finite(theta[-1].tolist()),
        "loss_final": _finite(float(loss[-1])),
        "loss_minimum": float(run.surface.loss(minimum)),
        "distance_start": _finite(float(distance[0])),
        "distance_final": _finite(float(distance[-1])),
        "tolerance": found.tolerance,
        "steps_to_within": int(within.int().argmax()) if bool(within.any()) else None,
        "diverged_at": diverged,
        "bursts": len(bursts),
        "burst_threshold": THRESHOLD,
        "burst_starts": [b.start for b in bursts][:200],
    }


def response(found: Settings, stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """The page's answer for one run: the settings, the numbers and the thinned series."""
    run = trajectory(found, stop)
    theta = run.theta[:, 0]
    loss = run.loss[:, 0]  # L(θ^t), once
    shown = numbers(run, found, loss)
    kept = drawn_steps(theta, shown["diverged_at"])
    updates = kept[kept < run.steps]  # σ^t and η^t exist for t = 0 … N−1
    series: dict[str, Any] = {
        "t": kept.tolist(),
        "theta1": finite_list(theta[kept, 0]),
        "theta2": finite_list(theta[kept, 1]),
        "loss": finite_list(loss[kept]),
        # ‖∇L(θ^t)‖ as Trajectory.gradient_norm computes it, at the drawn steps only
        "gradient_norm": finite_list(
            torch.linalg.vector_norm(run.surface.gradient(run.theta[kept]), dim=-1)[:, 0]
        ),
        "update_t": updates.tolist(),
        "rate": finite_list(run.rates[updates, 0]),
    }
    sigma = run.sigma[updates, 0] if run.sigma is not None else None
    effective = run.effective_lr[updates, 0]
    for i in (0, 1):
        series[f"sigma{i + 1}"] = finite_list(sigma[:, i]) if sigma is not None else None
        series[f"effective_lr{i + 1}"] = finite_list(effective[:, i])
    return {"settings": settings_json(found), "numbers": shown, "series": series}


def settings_json(found: Settings) -> dict[str, Any]:
    return {
        "surface": found.surface,
        "optimizer": found.optimizer,
        "direction": found.direction,
        "magnitude": found.magnitude,
        "parameters": dict(found.parameters),
        "lr": found.lr,
        "schedule": found.schedule,
        "steps": found.steps,
        "start": list(found.start) if found.start else None,
        "tolerance": found.tolerance,
    }


def table(
    found: Settings, stop: Callable[[], bool] | None = None
) -> tuple[list[str], list[list[float]]]:
    """The whole run, every step (not thinned), as columns and rows for CSV and JSON."""
    run = trajectory(found, stop)
    columns = ["t", "theta1", "theta2", "loss", "gradient_norm", "eta", "sigma1", "sigma2"]
    columns += ["effective_lr1", "effective_lr2"]
    nan = torch.full((1,), float("nan"), dtype=run.theta.dtype)
    sigma = run.sigma[:, 0] if run.sigma is not None else torch.ones(run.steps, 2).double()
    parts = [
        torch.arange(run.steps + 1, dtype=run.theta.dtype),
        run.theta[:, 0, 0],
        run.theta[:, 0, 1],
        run.loss[:, 0],
        run.gradient_norm[:, 0],
        torch.cat([run.rates[:, 0], nan]),
        torch.cat([sigma[:, 0], nan]),
        torch.cat([sigma[:, 1], nan]),
        torch.cat([run.effective_lr[:, 0, 0], nan]),
        torch.cat([run.effective_lr[:, 0, 1], nan]),
    ]
    return columns, torch.stack(parts, dim=1).tolist()


def _finite(value: Any) -> Any:
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value if math.isfinite(value) else None


def finite_list(values: torch.Tensor) -> list[float | None]:
    """Numbers for JSON: a non-finite value (a diverged run) becomes null."""
    return [v if math.isfinite(v) else None for v in values.tolist()]


class Answers:
    """A bounded least-recently-used cache of answers by settings, with a background worker
    that fills it ahead of the η slider.

    ``compute(settings, stop)`` makes an answer; ``limit`` bounds the sum of their ``size``
    (by default their length: the server caches encoded JSON, about 170 kB for a run drawn
    with 2,000 points), the oldest answers dropped past it. :meth:`prefetch` replaces the
    worker's queue with the given settings (the nearest slider positions first); the run in
    flight is stopped when the new queue no longer holds it, so the worker never computes for
    settings the page has left.
    """

    def __init__(
        self,
        limit: int = 64 * 2**20,
        compute: Callable = response,
        size: Callable[[Any], int] = len,
    ) -> None:
        self.limit, self.compute, self.size = limit, compute, size
        self._answers: OrderedDict[Settings, Any] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()
        self._queue: list[Settings] = []
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._worker: threading.Thread | None = None
        self._computing = False
        self._generation = 0  # counts prefetch calls: a run no longer queued is dropped

    def get(self, found: Settings, stop: Callable[[], bool] | None = None) -> tuple[Any, bool]:
        """(the answer, whether it came from the cache); ``stop`` as descend takes it."""
        with self._lock:
            if found in self._answers:
                self._answers.move_to_end(found)
                return self._answers[found], True
        answer = self.compute(found, stop)
        self._store(found, answer)
        return answer, False

    def _store(self, found: Settings, answer: Any) -> None:
        with self._lock:
            if found in self._answers:
                return
            self._held += self.size(answer)
            self._answers[found] = answer
            while self._held > self.limit and len(self._answers) > 1:
                _, old = self._answers.popitem(last=False)
                self._held -= self.size(old)

    def __contains__(self, found: Settings) -> bool:
        with self._lock:
            return found in self._answers

    def prefetch(self, upcoming: list[Settings]) -> None:
        """Compute ``upcoming`` in the background, in order, skipping what is cached."""
        with self._lock:
            if self._closed:
                return
            self._queue = list(upcoming)
            self._generation += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, daemon=True, name="prefetch")
                self._worker.start()
            self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                found = self._queue.pop(0)
                if found in self._answers:
                    continue
                self._computing = True
                generation = self._generation

            def unwanted(found=found, generation=generation) -> bool:
                with self._lock:
                    moved = generation != self._generation and found not in self._queue
                    return self._closed or moved

            try:
                self._store(found, self.compute(found, unwanted))
            except Exception:  # stopped, or refused: the page never asked for it
                continue
            finally:
                with self._lock:
                    self._computing = False

    @property
    def idle(self) -> bool:
        """True when the background has nothing queued and nothing in flight."""
        with self._lock:
            return not self._queue and not self._computing

    def close(self, wait: float = 30.0) -> None:
        """Stop the worker: drop its queue, stop the run in flight (within
        :data:`ravine.surfaces.descend.STOP_EVERY` steps) and wait for it (at most ``wait``
        seconds), so no computation is cut off when the process exits."""
        with self._lock:
            self._closed = True
            self._queue = []
            self._wake.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(wait)


PREFETCHED_STEPS = 200_000  # steps computed ahead per answer: 4 positions each way at 10,000


def neighbours(found: Settings, grid: list[float], reach: int | None = None) -> list[Settings]:
    """The settings at the η slider's positions around ``found.lr``, nearest first: ``reach``
    positions each way (default: as many as :data:`PREFETCHED_STEPS` allows, 1 to 4)."""
    if found.lr not in grid:
        return []
    if reach is None:
        reach = max(1, min(4, PREFETCHED_STEPS // (2 * found.steps)))
    here = grid.index(found.lr)
    order = []
    for distance in range(1, reach + 1):
        order += [here + distance, here - distance]
    return [found.with_lr(grid[i]) for i in order if 0 <= i < len(grid)]
