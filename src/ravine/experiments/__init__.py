"""The lecture's claims as experiments: run → data, figures, a verdict from measured numbers.

Each module has NAME, TITLE, CLAIM and ``run(out, quick) -> Result``; :data:`ORDER` lists
them in the lecture's order and :func:`run_all` runs them.
"""

from __future__ import annotations

import importlib
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch

from ..report import Result
from ..validation import check_count
from .base import Experiment, failure, torch_threads

# name → module, in the order the lecture makes the claims
ORDER: dict[str, str] = {
    "piecewise-linear": "piecewise_linear",
    "fat-or-tall": "fat_or_tall",
    "more-layers": "more_layers",
    "stuck": "stuck",
    "gd-critical": "gd_critical",
    "tiny-lr": "tiny_lr",
    "adagrad-bursts": "adagrad_bursts",
    "decay": "decay",
    "rmsprop": "rmsprop",
    "full-rule": "full_rule",
    "adam-parts": "adam_parts",
    "adam-defaults": "adam_defaults",
    "resnet-warmup": "resnet_warmup",
    "transformer-schedule": "transformer_schedule",
    "warmup-variance": "warmup_variance",
    "warmup-attention": "warmup_attention",
    "classification-loss": "classification_loss",
    "normalization": "normalization",
    "saddle-escape": "saddle_escape",
    "minimum-ratio": "minimum_ratio",
    "batch-size": "batch_size",
    "momentum": "momentum",
    "batch-norm": "batch_norm",
    "lr-find": "lr_find",
    "general-guide": "general_guide",
}

# The experiments that take longest at full size (about 10 s or more on one core), longest
# first: parallel workers start them before the others, so that the short ones fill in at the
# end and the workers finish together. The results keep the lecture's order either way.
LONGEST_FIRST = (
    "minimum-ratio",
    "general-guide",
    "warmup-attention",
    "batch-norm",
    "batch-size",
    "lr-find",
    "classification-loss",
    "transformer-schedule",
)


def experiment(name: str) -> Experiment:
    """The experiment module called ``name``; ValueError listing the valid names otherwise."""
    if name not in ORDER:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(ORDER)}")
    return importlib.import_module(f"{__name__}.{ORDER[name]}")  # type: ignore[return-value]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_all`: a KeyboardInterrupt that keeps what was done.
    ``results`` are the experiments that finished (in the lecture's order), ``lost`` those that
    were running and were stopped (their work is lost), ``not_run`` those not started."""

    def __init__(self, results: list[Result], lost: list[str], not_run: list[str]) -> None:
        super().__init__("the run was interrupted")
        self.results, self.lost, self.not_run = results, lost, not_run


def run_all(
    out: Path,
    only: Iterable[str] | None = None,
    quick: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    jobs: int = 1,
) -> list[Result]:
    """Run the experiments (all, or ``only`` those); figures go under ``out``; the results come
    in the lecture's order.

    ``jobs`` > 1 runs that many experiments at once, each in a worker process of its own; the
    numbers and figures are the same as one after another, since every experiment starts from
    the same seed of torch's global generator either way. ``progress(name, done, total)`` is
    called as experiments start (one by one) or finish (in parallel). An experiment that
    raises becomes a failed Result; the others' results are kept. Ctrl-C (KeyboardInterrupt)
    stops the experiments running (and the workers) and raises :class:`RunInterrupted` with
    the results finished so far."""
    names = list(ORDER) if not only else list(dict.fromkeys(only))  # each name once, in order
    modules = [experiment(name) for name in names]  # unknown names fail before any run
    check_count("jobs", jobs)
    out.mkdir(parents=True, exist_ok=True)
    # a module made in memory (no source file) cannot be imported by a worker: run here
    in_files = all(getattr(m, "__file__", None) for m in modules)
    if jobs == 1 or len(modules) == 1 or not in_files:
        results = []
        for index, module in enumerate(modules):
            if progress is not None:
                progress(module.NAME, index, len(modules))
            try:
                results.append(_run_one(module.NAME, out, quick))
            except KeyboardInterrupt:
                raise RunInterrupted(results, [module.NAME], names[index + 1 :]) from None
    else:
        results = _run_in_parallel([m.NAME for m in modules], out, quick, progress, jobs)
    if progress is not None:
        progress("", len(modules), len(modules))
    return results


def _run_one(name: str, out: Path, quick: bool) -> Result:
    """One experiment, timed, on one CPU thread (:func:`~.base.torch_threads`: two workers
    on two cores would otherwise wait on each other's threads), from torch's global generator
    seeded with 0; a run that raises becomes a failed Result."""
    module = experiment(name)
    torch.manual_seed(0)  # the same start alone, after another, or in a worker
    start = time.perf_counter()
    try:
        with torch_threads(1):
            result = module.run(out, quick=quick)
    except Exception as error:  # one broken experiment must not lose the others' results
        result = failure(module, error)
    result.seconds = time.perf_counter() - start
    return result


def _run_in_parallel(
    names: list[str],
    out: Path,
    quick: bool,
    progress: Callable[[str, int, int], None] | None,
    jobs: int,
) -> list[Result]:
    """``names`` run by ``jobs`` worker processes (started fresh: no thread pool is inherited
    half-used), the longest first (:func:`longest_first`), collected in their order."""
    context = multiprocessing.get_context("spawn")
    done: dict[str, Result] = {}
    started = longest_first(names)
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(names)), mp_context=context, initializer=_ignore_ctrl_c
    )
    running: dict = {}
    try:
        running = {pool.submit(_run_one, name, out, quick): name for name in started}
        if progress is not None:
            progress(started[0], 0, len(names))
        for future in as_completed(running):
            name = running[future]
            try:
                done[name] = future.result()
            except Exception as error:  # the worker itself died
                done[name] = failure(experiment(name), error)
            waiting = [n for n in started if n not in done]
            if progress is not None and waiting:  # the last is reported once, by run_all
                progress(waiting[0], len(done), len(names))
    except KeyboardInterrupt:
        for future, name in running.items():  # finished, not yet collected
            if future.done() and not future.cancelled() and future.exception() is None:
                done.setdefault(name, future.result())
        lost = [running[f] for f in running if f.running()]
        _stop_workers(pool)
        finished = [done[name] for name in names if name in done]
        not_run = [name for name in names if name not in done and name not in lost]
        raise RunInterrupted(finished, [n for n in names if n in lost], not_run) from None
    finally:
        pool.shutdown(cancel_futures=True)
    return [done[name] for name in names]


def _ignore_ctrl_c() -> None:
    """A worker's start: Ctrl-C at the terminal reaches every process of the group; the
    workers leave it to the main process, which stops them (:func:`_stop_workers`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Stop ``pool``'s workers now, the experiments they run lost, and cancel the rest."""
    workers = list((pool._processes or {}).values())  # the executor has no public handle
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.join()


def longest_first(names: Iterable[str]) -> list[str]:
    """``names`` in the order a pool should start them: those of :data:`LONGEST_FIRST` in its
    order, then the others in theirs."""
    names = list(names)
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    return sorted(names, key=lambda name: rank.get(name, len(rank)))


__all__ = [
    "LONGEST_FIRST",
    "ORDER",
    "Experiment",
    "Result",
    "RunInterrupted",
    "experiment",
    "longest_first",
    "run_all",
]
