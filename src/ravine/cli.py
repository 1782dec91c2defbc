"""The ``ravine`` command. Thin: it parses arguments and calls the library.

ravine optimizers [--json]
ravine verify [--optimizer NAME ...] [--lr X] [--opt key=value ...] [--schedule SPEC]
              [--steps N] [--dtype float32|float64] [--json]
ravine schedule SPEC [--lr BASE] --steps N [--plot FILE.png] [--json]
ravine descend SURFACE --optimizer NAME [--lr X|X,Y,...|A:B:N] [--opt key=value ...]
               [--schedule SPEC] [--steps N] [--start b,w] [--plot FILE.png] [--json]
ravine sweep --task NAME --optimizer NAME --lr X,Y,...|A:B:N [--opt key=value ...]
             [--schedule SPEC] [--steps N] [--seed S] [--plot FILE.png] [--json]
ravine reproduce [--out DIR] [--only NAME ...] [--quick]
ravine critical [--task NAME] [--seed S] [--json]
ravine train --task NAME [--model SPEC] [--loss NAME] --optimizer NAME [--lr X]
             [--opt key=value ...] [--schedule SPEC] [--batch-size B] [--epochs E]
             [--validation F | --folds K] [--seed S] [--monitor] [--tensorboard DIR]
             [--plot DIR] [--json]
ravine lr-find --task NAME --optimizer NAME [--lr-min X] [--lr-max X] [--steps N]
               [--batch-size B] [--opt key=value ...] [--seed S] [--json] [--plot FILE.png]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
import typing
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from . import experiments, schedules, surfaces, tasks
from .optim import catalog
from .optim.equivalence import compare_with_torch

# Largest relative gap accepted between ravine and torch.optim (the tests use the same bars).
TOLERANCE = {"float64": 1e-9, "float32": 1e-4}


def add_optimizer_arguments(
    parser: argparse.ArgumentParser, *, many: bool = False, sweep: bool = False
) -> None:
    """``--optimizer NAME``, ``--lr X`` and repeated ``--opt key=value``, as every command has.
    With ``sweep``, ``--lr`` also takes a list or a log-spaced grid (a list of η)."""
    names = ", ".join(catalog.CATALOG)
    if many:
        parser.add_argument(
            "--optimizer",
            action="append",
            metavar="NAME",
            help=f"optimizer to use, repeatable (default: all); one of {names}",
        )
    else:
        parser.add_argument("--optimizer", metavar="NAME", required=True, help=f"one of {names}")
    if sweep:
        from .sweep import LR_SPEC_HELP

        parser.add_argument("--lr", type=_lr_spec, metavar="SPEC", help=LR_SPEC_HELP)
    else:
        parser.add_argument("--lr", type=float, metavar="X", help="learning rate η")
    parser.add_argument(
        "--opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an optimizer hyperparameter, repeatable (e.g. --opt betas=0.9,0.98)",
    )
    parser.add_argument(
        "--schedule",
        metavar="SPEC",
        type=_schedule_spec,
        help="η^t as a multiple of --lr, e.g. 'linear-warmup:steps=10 >> cosine:steps=90'",
    )


def _lr_spec(text: str) -> list[float]:
    """argparse type: η as X, X,Y,... or A:B:N (log-spaced), refused with its one-line reason."""
    from .sweep import parse_lrs

    try:
        return parse_lrs(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _schedule_spec(text: str) -> schedules.Schedule:
    """argparse type: a schedule spec, refused with its one-line reason."""
    try:
        return schedules.from_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _one_of(kind: str, names: Iterable[str]) -> Callable[[str], str]:
    """argparse type: a name from ``names``; anything else is refused listing the valid ones."""
    valid = list(names)

    def check(text: str) -> str:
        if text not in valid:
            raise argparse.ArgumentTypeError(f"unknown {kind} {text!r}; valid: {', '.join(valid)}")
        return text

    return check


def _argument(
    convert: Callable[[str], Any], kind: str, ok: Callable[[Any], bool], domain: str
) -> Callable[[str], Any]:
    """An argparse type: ``convert(text)`` (refused as not ``kind``), then ``ok(value)`` (refused
    with ``domain``), each with a one-line reason."""

    def check(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{domain}, got {text}")
        return value

    return check


_positive_int = _argument(int, "a whole number", lambda v: v >= 1, "must be >= 1")
_positive_float = _argument(
    float, "a number", lambda v: math.isfinite(v) and v > 0, "must be a finite number > 0"
)
_fold_count = _argument(
    int, "a whole number", lambda v: v >= 2, "K-fold cross-validation needs K >= 2"
)
_fraction = _argument(float, "a number", lambda v: 0 <= v < 1, "must be a fraction in [0, 1)")


def optimizer_options(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments that ``--lr`` and ``--opt`` give the optimizer ``name``."""
    options = catalog.parse_options(name, args.opt)
    if args.lr is not None:
        options["lr"] = args.lr
    return options


def _optimizers(args: argparse.Namespace) -> int:
    rows = [catalog.describe(name) for name in catalog.CATALOG]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    width = max(len(r["name"]) for r in rows)
    print("θ ← θ − (η^t/σ^t)·m^t   — each optimizer is a choice of m, σ and η\n")
    for r in rows:
        print(f"{r['name']:<{width}}  η={r['lr']:<6g}  {r['direction']}")
        print(f"{'':<{width}}  {'':<8}{r['magnitude']}   [{r['summary']}]")
    return 0


def _verify(args: argparse.Namespace) -> int:
    names = args.optimizer or [n for n, e in catalog.CATALOG.items() if e.torch_class]
    dtype = getattr(torch, args.dtype)
    tolerance = TOLERANCE[args.dtype]
    results = []
    for name in names:
        options = optimizer_options(name, args)
        if catalog.entry(name).torch_class is None:
            raise ValueError(f"{name} is the lecture's own rule and has no torch.optim counterpart")
        found = compare_with_torch(
            name, options, steps=args.steps, dtype=dtype, scheduler=_scheduler_factory(args)
        )
        results.append(
            {**vars(found), "tolerance": tolerance, "ok": found.relative_error <= tolerance}
        )
        if not args.json:
            r = results[-1]
            verdict = "matches" if r["ok"] else "DIFFERS"
            torch_name = catalog.describe(name)["torch"]
            print(
                f"{name:<17} vs {torch_name:<22} {r['steps']} steps {r['dtype']}: "
                f"max relative gap {r['relative_error']:.2e} (bar {tolerance:.0e})  {verdict}",
                flush=True,
            )
    if args.json:
        print(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


def _scheduler_factory(args: argparse.Namespace):
    """Each optimizer gets its own Scheduler over its own copy of --schedule (a metric-driven
    schedule keeps state, which must not be shared)."""
    if args.schedule is None:
        return None
    return lambda optimizer: schedules.Scheduler(optimizer, copy.deepcopy(args.schedule))


def _schedule(args: argparse.Namespace) -> int:
    schedule = args.spec
    values = [args.lr * m for m in schedule.values(args.steps)]
    peak = max(range(len(values)), key=values.__getitem__)
    warmup_end = schedule.warmup_end
    if args.plot:
        from .report.plots import plot_schedule

        title = f"$\\eta^t$ = {args.lr:g} × {schedule.spec}\n{schedule.formula()}"
        plot_schedule(values, args.plot, title=title, warmup_end=warmup_end)
    if args.json:
        print(
            json.dumps(
                {
                    "spec": schedule.spec,
                    "lr": args.lr,
                    "steps": args.steps,
                    "values": values,
                    "peak": {"step": peak, "value": values[peak]},
                    "warmup_end": warmup_end,
                }
            )
        )
        return 0
    print(f"{schedule.spec}")
    print(f"  η^t = {args.lr:g} × {schedule.formula()}")
    print(f"  peak {values[peak]:.6g} at step {peak}", end="")
    print("" if warmup_end is None else f"; warm-up ends at step {warmup_end}")
    marks = sorted({0, args.steps // 4, args.steps // 2, 3 * args.steps // 4, args.steps - 1})
    print("  " + "   ".join(f"t={t}: {values[t]:.4g}" for t in marks))
    if schedule.metric_driven:
        print("  (metric-driven: without observed metrics the rate stays where it starts)")
    if args.plot:
        print(f"  plot: {args.plot}")
    return 0


def _point(text: str) -> tuple[float, float]:
    """argparse type: θ⁰ as two numbers 'b,w'."""
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(
            f"expected two finite numbers separated by a comma, like --start=-120,-4; got {text!r}"
        )
    return values  # type: ignore[return-value]


def _descend(args: argparse.Namespace) -> int:
    from .experiments.adagrad_bursts import find_bursts
    from .report.html import jsonable

    surface = surfaces.surface(args.surface)
    if args.lr is not None and len(args.lr) > 1:  # many η: a sweep
        return _sweep(args, surface)
    args.lr = None if args.lr is None else args.lr[0]
    options = optimizer_options(args.optimizer, args)
    lr = options.pop("lr", catalog.entry(args.optimizer).defaults()["lr"])
    trajectory = surfaces.descend(
        surface,
        args.optimizer,
        lr=lr,
        options=options,
        schedule=args.schedule,
        steps=args.steps,
        start=args.start,
    )
    path = trajectory.theta[:, 0]  # (N+1, 2): the one run
    final = path[-1].tolist()
    loss = float(trajectory.loss[-1, 0])
    distance = float(trajectory.distance[0])
    gradient_norm = float(trajectory.gradient_norm[-1, 0])
    start = path[0].tolist()
    # runs of steps with |θ2 − θ2*| > 1 after first coming that close (Adagrad's bursts)
    bursts = len(find_bursts(trajectory))
    if args.plot:
        from .report.plots import plot_contour

        schedule = "" if args.schedule is None else f", η^t: {args.schedule.spec}"
        title = f"{surface.name}: {args.optimizer}, η = {lr:g}{schedule}, {args.steps} steps"
        plot_contour(surface, {args.optimizer: path.tolist()}, args.plot, title=title)
    if args.json:
        found = {
            "surface": surface.name,
            "optimizer": args.optimizer,
            "steps": trajectory.steps,
            "final": final,
            "loss": loss,
            "minimum": list(surface.minimum),
            "distance": distance,
            "gradient_norm": gradient_norm,
            "bursts": bursts,
        }
        print(json.dumps(jsonable(found), allow_nan=False))
        return 0
    b, w = surface.labels
    schedule = "" if args.schedule is None else f" × {args.schedule.spec}"
    print(f"{surface.name}: {args.optimizer}, η = {lr:g}{schedule}, {trajectory.steps} steps")
    print(f"  start        ({b}, {w}) = ({start[0]:.6g}, {start[1]:.6g})")
    print(f"  final        ({b}, {w}) = ({final[0]:.6g}, {final[1]:.6g})")
    print(f"  loss         L = {loss:.6g}")
    minimum = ", ".join(f"{v:.6g}" for v in surface.minimum)
    print(f"  distance to the minimum ({minimum}) = {distance:.6g}")
    print(f"  gradient norm ‖∇L‖ = {gradient_norm:.6g}")
    print(f"  bursts       {bursts} (runs of |{w} − {w}*| > 1 after first coming within 1)")
    if args.plot:
        print(f"  plot: {args.plot}")
    return 0


def _sweep(args: argparse.Namespace, problem: Any = None) -> int:
    """``ravine sweep``, and ``ravine descend`` given many η: one batched run per η."""
    from .report.html import jsonable
    from .sweep import sweep

    problem = args.task if problem is None else problem
    result = sweep(
        problem,
        args.optimizer,
        lrs=args.lr,
        steps=args.steps,
        options=catalog.parse_options(args.optimizer, args.opt),
        schedule=args.schedule,
        seed=getattr(args, "seed", None),
        start=getattr(args, "start", None),
    )
    schedule = "" if args.schedule is None else f" × {args.schedule.spec}"
    lrs = result.lrs
    title = (
        f"{result.problem}: {args.optimizer}, {len(lrs)} η from {min(lrs):g} to {max(lrs):g}"
        f"{schedule}, {result.steps} steps"
    )
    if args.plot:
        from .sweep.plot import plot_sweep

        plot_sweep(result, args.plot, title=title)
    if args.json:
        print(json.dumps(jsonable(result.to_json()), allow_nan=False, ensure_ascii=False))
        return 0
    batch = " (full batch)" if result.kind == "task" else ""
    print(f"{title}{batch}")
    distance = result.distance
    header = f"  {'η':>12}  {'final loss':>12}"
    print(header + ("  distance to the minimum" if distance is not None else ""))
    diverged_at = result.diverged_at
    for r, lr in enumerate(lrs):
        loss = float(result.final_loss[r])
        if diverged_at[r] is not None:
            row = f"  {lr:>12.4g}  {loss:>12.6g}  diverged (from step {diverged_at[r]})"
        else:
            row = f"  {lr:>12.4g}  {loss:>12.6g}"
            if distance is not None:
                row += f"  {float(distance[r]):.6g}"
        print(row + ("   ← best" if r == result.best_index else ""))
    if result.best_index is None:
        print(f"  best         none: every run diverged (L⁰ = {result.initial_loss:.6g})")
    else:
        print(
            f"  best         η = {result.best_lr:.4g}: loss {result.best_loss:.6g} "
            f"(L⁰ = {result.initial_loss:.6g})"
        )
    print(f"  diverged     {int(result.diverged.sum())} of {len(lrs)}")
    print(
        f"  time         {result.seconds:.3g} s, "
        f"{result.settings_steps_per_second:.4g} settings·steps per second"
    )
    if args.plot:
        print(f"  plot: {args.plot}")
    return 0


class _ProgressBar:
    """One line on stderr per experiment, as readable in a log as on a terminal (no cursor
    tricks): ``[########------------] 4/10  running rmsprop  (12.3 s)``."""

    width = 20

    def __init__(self, stream: typing.TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()

    def __call__(self, name: str, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self.start
        what = f"running {name}" if name else "done"
        print(f"[{bar}] {done}/{total}  {what}  ({elapsed:.1f} s)", file=self.stream, flush=True)


def _sweep_command(args: argparse.Namespace) -> int:
    if args.lr is None:
        raise ValueError("ravine sweep needs --lr: a list X,Y,... or a grid A:B:N")
    return _sweep(args)


def _reproduce(args: argparse.Namespace) -> int:
    from .report.html import write_report

    results = experiments.run_all(
        args.out, only=args.only, quick=args.quick, progress=_ProgressBar()
    )
    index = write_report(results, args.out)
    width = max((len(r.name) for r in results), default=0)
    for r in results:
        print(f"{r.name:<{width}}  {'✓' if r.reproduced else '✗'}  {r.verdict}")
    passed = sum(r.reproduced for r in results)
    print(f"\n{passed} of {len(results)} claims reproduced")
    print(f"report: {index}")
    return 0 if passed == len(results) else 1


def _critical(args: argparse.Namespace) -> int:
    from .diagnose.critical import GRAD_TOL, classify_critical_point, train_to_critical_point
    from .report.html import jsonable

    task = tasks.task(args.task, seed=args.seed)
    model = task.model()
    training = train_to_critical_point(model, task.loss_fn, task.inputs, task.targets)
    point = classify_critical_point(model, task.loss_fn, task.inputs, task.targets)
    found = {
        "task": task.name,
        "seed": args.seed,
        "training_loss": point.loss,
        "gradient_norm": point.gradient_norm,
        "min_eigenvalue": point.min_eigenvalue,
        "max_eigenvalue": point.max_eigenvalue,
        "minimum_ratio": point.minimum_ratio,
        "kind": point.kind,
    }
    if args.json:
        print(json.dumps(jsonable(found), allow_nan=False))
        return 0
    ratio = "n/a" if point.minimum_ratio is None else f"{point.minimum_ratio:.4f}"
    print(f"{task.name} (seed {args.seed}): {task.description}")
    print(
        f"  trained        {training.descent_steps} Adam steps + {training.newton_steps} Newton "
        f"steps on ∇L = 0"
    )
    print(f"  training loss  L = {point.loss:.6g}")
    print(f"  gradient norm  ‖∇L‖ = {point.gradient_norm:.3g} (critical below {GRAD_TOL:g})")
    print(
        f"  eigenvalues    λ_min = {point.min_eigenvalue:.6g}, λ_max = {point.max_eigenvalue:.6g}"
    )
    if point.positive is not None:
        print(
            f"                 {point.positive} > 0, {point.negative} < 0, {point.zero} zero "
            f"(|λ| ≤ {point.zero_tolerance:.2g}) of P = {point.parameters}"
        )
    print(f"  minimum ratio  {ratio} (fraction of eigenvalues > 0, zero ones not counted)")
    print(f"  kind           {point.kind}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from .diagnose.doctor import checkup

    options = optimizer_options(args.optimizer, args)
    lr = options.pop("lr", None)
    every = max(1, args.steps // 20)

    def progress(step: int, total: int, loss: float) -> None:
        if step % every == 0 or step == total or loss != loss:
            bar = "#" * (20 * step // total)
            print(
                f"[{bar:<20}] step {step}/{total}  loss {loss:.6g}",
                file=sys.stderr,
                flush=True,
            )

    found = checkup(
        args.task,
        args.optimizer,
        lr=lr,
        options=options,
        schedule=args.schedule,
        steps=args.steps,
        seed=args.seed,
        progress=progress,
    )
    report = found.to_json()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    kind = f" ({report['kind']})" if report["kind"] else ""
    print(f"{args.task}, {args.optimizer}, {report['steps']} steps: {report['verdict']}{kind}")
    print("evidence:")
    for key, value in report["evidence"].items():
        shown = "n/a" if value is None else f"{value:.6g}" if isinstance(value, float) else value
        print(f"  {key:<26} {shown}")
    print(f"remedy: {report['remedy']}")
    return 0


def _epoch_line(metric_name: str, start: float, fold: str = ""):
    """``progress`` for :func:`ravine.training.train`: one line on stderr per epoch, like the
    doctor's, ``[######--------------] epoch 6/20  train loss 0.31  val loss 0.35  val accuracy
    0.91  (1.2 s)``; ``fold`` prefixes it (``fold 2/5  ``)."""

    def progress(record, epochs: int) -> None:
        bar = "#" * (20 * record.epoch // epochs)
        parts = [f"[{bar:<20}] {fold}epoch {record.epoch}/{epochs}"]
        parts.append(f"train loss {record.train_loss:.4g}")
        if record.val_loss is not None:
            parts.append(f"val loss {record.val_loss:.4g}")
        if record.val_metric is not None:
            parts.append(f"val {metric_name} {record.val_metric:.4g}")
        elif record.train_metric is not None:
            parts.append(f"train {metric_name} {record.train_metric:.4g}")
        parts.append(f"({time.perf_counter() - start:.1f} s)")
        print("  ".join(parts), file=sys.stderr, flush=True)

    return progress


def _shown(value: float | None, spread: float | None = None) -> str:
    """A final number as printed: 4 significant digits, "n/a" when there is none."""
    if value is None:
        return "n/a"
    return f"{value:.4g}" if spread is None else f"{value:.4g} ± {spread:.2g}"


def _duration(seconds: float) -> str:
    """Seconds as printed: milliseconds below one second, 3 significant digits."""
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _train(args: argparse.Namespace) -> int:
    from .report.html import jsonable
    from .training import VALIDATION, CrossValidation, cross_validate, train

    task = tasks.task(args.task, seed=args.seed, model=args.model, loss=args.loss)
    options = optimizer_options(args.optimizer, args)
    lr = options.pop("lr", None)
    if args.folds is not None and args.validation is not None:
        raise ValueError(
            f"--validation {args.validation:g} does not apply with --folds {args.folds}: each "
            f"fold in turn is the validation set"
        )
    start = time.perf_counter()

    settings = dict(
        lr=lr,
        options=options,
        schedule=args.schedule,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=args.seed,
        monitor=args.monitor or args.tensorboard is not None,
    )

    def fold_settings(i: int) -> dict[str, Any]:
        """Fold i's own progress prefix and TensorBoard folder."""
        return {
            "progress": _epoch_line(task.metric_name, start, f"fold {i + 1}/{args.folds}  "),
            "tensorboard": None if args.tensorboard is None else args.tensorboard / f"fold-{i + 1}",
        }

    try:
        if args.folds is None:
            validation = VALIDATION if args.validation is None else args.validation
            progress = _epoch_line(task.metric_name, start)
            one = train(
                task,
                args.optimizer,
                validation=validation,
                tensorboard=args.tensorboard,
                progress=progress,
                **settings,
            )
            runs = [one]
        else:
            folds = cross_validate(
                task, args.optimizer, folds=args.folds, each_fold=fold_settings, **settings
            )
            runs = folds.runs
    except ImportError as error:  # --tensorboard without the tensorboard package
        raise ValueError(str(error)) from None

    first = runs[0]
    schedule = "" if first.schedule is None else f" × {first.schedule}"
    what = f"{task.name}: {task.model_spec}, loss {task.loss_name}"
    base = lr if lr is not None else catalog.entry(args.optimizer).defaults()["lr"]
    how = f"{args.optimizer} η = {base:g}{schedule}, batch {args.batch_size}, "
    how += f"{args.epochs} epochs"
    setting = f"{what}, {how}"
    plots: list[Path] = []
    if args.plot is not None:
        from .report.plots import plot_training

        folds = "" if args.folds is None else f", {args.folds}-fold cross-validation"
        title = f"{what}\n{how}{folds}"
        plots.append(plot_training(runs, args.plot / "loss.png", title=title, ylabel="loss"))
        if task.metric is not None:
            plots.append(
                plot_training(
                    runs,
                    args.plot / "metric.png",
                    title=title,
                    quantity="metric",
                    ylabel=task.metric_name,
                )
            )
    for run in runs:
        if run.stopped is not None:
            where = "" if run.fold is None else f"fold {run.fold + 1}: "
            print(f"ravine: {where}{run.stopped}", file=sys.stderr)
    status = 1 if any(run.stopped is not None for run in runs) else 0

    if args.json:
        found = first.to_json() if args.folds is None else CrossValidation(runs).to_json()
        print(json.dumps(jsonable(found), allow_nan=False, ensure_ascii=False))
        return status

    metric = task.metric_name
    print(setting)
    if args.folds is None:
        final = first.final
        numbers = (
            (None,) * 4
            if final is None
            else (final.train_loss, final.val_loss, final.train_metric, final.val_metric)
        )
        print(f"  examples     {first.train_size} training, {first.val_size} validation")
        print(f"  train loss   {_shown(numbers[0])}", end="")
        print("" if task.metric is None else f"   {metric} {_shown(numbers[2])}")
        if first.val_size:
            print(f"  val loss     {_shown(numbers[1])}", end="")
            print("" if task.metric is None else f"   {metric} {_shown(numbers[3])}")
        if first.stopped is not None:
            after = "" if final is None else f"; the numbers above are after epoch {final.epoch}"
            print(
                f"  stopped      at update {first.stopped.update} in epoch "
                f"{first.stopped.epoch} ({first.stopped.reason}){after}"
            )
    else:
        folds = CrossValidation(runs)
        keys = ["train_loss", "val_loss"]
        header = ["fold", "train loss", "val loss"]
        if task.metric is not None:
            keys += ["train_metric", "val_metric"]
            header += [f"train {metric}", f"val {metric}"]
        rows = [header]
        for run in runs:
            final = run.final
            values = [None if final is None else getattr(final, key) for key in keys]
            label = f"{run.fold + 1}" + ("" if run.stopped is None else " stopped")
            rows.append([label, *(_shown(v) for v in values)])
        rows.append(["mean ± std", *(_shown(folds.mean(k), folds.std(k)) for k in keys)])
        widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
        print(f"  {args.folds}-fold cross-validation of {task.size} examples")
        for row in rows:
            print(
                "  "
                + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
    updates = sum(run.updates for run in runs)
    epochs = sum(len(run.history) for run in runs)
    per_update = sum(run.update_seconds for run in runs) / max(1, updates)
    per_epoch = sum(sum(e.seconds for e in run.history) for run in runs) / max(1, epochs)
    each = "" if args.folds is None else " in all folds"
    print(f"  updates      {updates}{each} ({-(-first.train_size // args.batch_size)} per epoch)")
    print(f"  time         {_duration(per_update)} per update, {_duration(per_epoch)} per epoch")
    for run in runs:
        if run.diagnosis is not None and args.monitor:
            where = "" if run.fold is None else f" (fold {run.fold + 1})"
            kind = f" ({run.diagnosis.kind})" if run.diagnosis.kind else ""
            print(f"  monitor{where}: {run.diagnosis.verdict}{kind}")
            print(f"    remedy: {run.diagnosis.remedy}")
    if args.tensorboard is not None:
        print(f"  tensorboard  {args.tensorboard}")
    if plots:
        print(f"  plots        {', '.join(str(p) for p in plots)}")
    return status


def _lr_find(args: argparse.Namespace) -> int:
    from .report.html import jsonable
    from .training import lr_find

    test = lr_find(
        args.task,
        args.optimizer,
        options=catalog.parse_options(args.optimizer, args.opt),
        lr_min=args.lr_min,
        lr_max=args.lr_max,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    if args.plot:
        from .report.plots import plot_range_test

        title = (
            f"Range test: {args.task}, {args.optimizer}, batches of {args.batch_size}, "
            f"seed {args.seed}"
        )
        plot_range_test(test, args.plot, title=title)
    if args.json:
        print(json.dumps(jsonable(test.to_json()), allow_nan=False, ensure_ascii=False))
        return 0
    print(
        f"{args.task}, {args.optimizer}, batch {args.batch_size}: η from {test.lr_min:g} to "
        f"{test.lr_max:g} over {test.steps} updates"
    )
    print(f"  recorded     {len(test.lrs)} updates", end="")
    print("" if test.stopped is None else f"; stopped: {test.stopped}")
    if test.minimum is not None:
        print(
            f"  minimum      smoothed loss {test.smoothed[test.minimum]:.4g} at "
            f"η = {test.minimum_lr:.3g} (smoothing β = {test.smoothing:g}, lag about "
            f"×{test.lag_factor:.2g} in η)"
        )
    shown = "none" if test.suggestion is None else f"η* = {test.suggestion:.3g}"
    print(f"  suggestion   {shown}")
    print(f"  rule         {test.rule}")
    if test.warning is not None:
        print(f"  warning      {test.warning}")
    if args.plot:
        print(f"  plot: {args.plot}")
    return 0


class _Parser(argparse.ArgumentParser):
    """Bad command lines fail with one clear line (and exit status 2), not a usage dump."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ravine",
        description="Adaptive learning rates for PyTorch: θ ← θ − (η^t/σ^t)·m^t.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("optimizers", help="every optimizer with its m, σ and η")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=_optimizers)

    verify = commands.add_parser(
        "verify", help="train a small network with ravine and torch.optim and compare"
    )
    add_optimizer_arguments(verify, many=True)
    verify.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    verify.add_argument("--dtype", choices=sorted(TOLERANCE), default="float64")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(run=_verify)

    schedule = commands.add_parser("schedule", help="the values of a learning-rate schedule")
    schedule.add_argument(
        "spec",
        metavar="SPEC",
        type=_schedule_spec,
        help="e.g. 'linear-warmup:steps=500 >> cosine:steps=9500' or "
        f"'transformer:d_model=512,warmup=4000'; names: {', '.join(schedules.SCHEDULES)}",
    )
    schedule.add_argument("--lr", type=_positive_float, default=1.0, help="base η (default 1)")
    schedule.add_argument("--steps", type=_positive_int, required=True, help="steps to show")
    schedule.add_argument("--plot", metavar="FILE.png", help="save a plot of η^t")
    schedule.add_argument("--json", action="store_true", help="print JSON")
    schedule.set_defaults(run=_schedule)

    descend = commands.add_parser(
        "descend", help="descend a 2-parameter error surface (once, or once per η of a sweep)"
    )
    descend.add_argument(
        "surface",
        metavar="SURFACE",
        type=_one_of("surface", surfaces.SURFACES),
        help=f"one of {', '.join(surfaces.SURFACES)}",
    )
    add_optimizer_arguments(descend, sweep=True)
    descend.add_argument(
        "--steps", type=_positive_int, default=1000, metavar="N", help="updates (default 1000)"
    )
    descend.add_argument(
        "--start",
        type=_point,
        metavar="b,w",
        help="θ⁰ as θ1,θ2 (default: the surface's start), e.g. --start -120,-4",
    )
    descend.add_argument(
        "--plot",
        metavar="FILE.png",
        help="save the path on the contours (a sweep: the loss against η)",
    )
    descend.add_argument("--json", action="store_true", help="print JSON")
    descend.set_defaults(run=_descend)

    sweeping = commands.add_parser(
        "sweep", help="train one copy per η of a task's network (or a surface) all at once"
    )
    sweeping.add_argument(
        "--task",
        required=True,
        type=_one_of("task or surface", [*tasks.TASKS, *surfaces.SURFACES]),
        metavar="NAME",
        help=f"a task ({', '.join(tasks.TASKS)}) or a surface ({', '.join(surfaces.SURFACES)})",
    )
    add_optimizer_arguments(sweeping, sweep=True)
    sweeping.add_argument(
        "--steps", type=_positive_int, default=500, metavar="N", help="updates (default 500)"
    )
    sweeping.add_argument(
        "--seed", type=int, metavar="S", help="the network's seed, the same θ⁰ for every η"
    )
    sweeping.add_argument("--plot", metavar="FILE.png", help="save the loss against η")
    sweeping.add_argument("--json", action="store_true", help="print JSON")
    sweeping.set_defaults(run=_sweep_command)

    reproduce = commands.add_parser(
        "reproduce", help="run the lecture's experiments and write the HTML report"
    )
    reproduce.add_argument(
        "--out",
        type=Path,
        default=Path("out/reproduce"),
        metavar="DIR",
        help="folder for index.html, results.json and the figures (default out/reproduce)",
    )
    reproduce.add_argument(
        "--only",
        nargs="+",
        action="extend",
        type=_one_of("experiment", experiments.ORDER),
        metavar="NAME",
        help="run only these experiments (default: all, in the lecture's order)",
    )
    reproduce.add_argument("--quick", action="store_true", help="smaller runs, same checks")
    reproduce.set_defaults(run=_reproduce)

    critical = commands.add_parser(
        "critical",
        help="train a task's network to a critical point and classify it by its Hessian",
    )
    critical.add_argument(
        "--task",
        type=_one_of("task", tasks.TASKS),
        default="sinc",
        metavar="NAME",
        help=f"one of {', '.join(tasks.TASKS)} (default sinc)",
    )
    critical.add_argument(
        "--seed", type=int, default=0, metavar="S", help="the network's seed (default 0)"
    )
    critical.add_argument("--json", action="store_true", help="print JSON")
    critical.set_defaults(run=_critical)
    doctor = commands.add_parser(
        "doctor", help="train a built-in task under the Monitor and say why it is stuck"
    )
    doctor.add_argument(
        "--task",
        required=True,
        metavar="NAME",
        help="a network task (sinc, diabetes, digits, reverse) or an error surface "
        "(valley, saddle, pokemon, ...)",
    )
    add_optimizer_arguments(doctor)
    doctor.add_argument("--steps", type=_positive_int, default=500, help="updates (default 500)")
    doctor.add_argument("--seed", type=int, default=0, help="the model's seed (default 0)")
    doctor.add_argument("--json", action="store_true", help="print JSON: verdict, evidence, remedy")
    doctor.set_defaults(run=_doctor)
    training = commands.add_parser(
        "train", help="train a built-in task in mini-batches and plot its loss curves"
    )
    training.add_argument(
        "--task", required=True, metavar="NAME", help=f"one of {', '.join(tasks.TASKS)}"
    )
    training.add_argument(
        "--model",
        metavar="SPEC",
        help="linear, sigmoid:units=K, relu:units=K or "
        "deep:layers=L,units=K,activation=relu|sigmoid,norm=none|batch (default: the task's)",
    )
    training.add_argument(
        "--loss",
        metavar="NAME",
        help="regression: mse, mae; classification: cross-entropy, mse (default: the task's)",
    )
    add_optimizer_arguments(training)
    training.add_argument(
        "--batch-size", type=_positive_int, default=32, metavar="B", help="default 32"
    )
    training.add_argument(
        "--epochs", type=_positive_int, default=20, metavar="E", help="default 20"
    )
    training.add_argument(
        "--validation",
        type=_fraction,
        metavar="F",
        help="fraction held out for validation, in [0, 1) (default 0.2)",
    )
    training.add_argument(
        "--folds", type=_fold_count, metavar="K", help="K-fold cross-validation instead (K >= 2)"
    )
    training.add_argument(
        "--seed", type=int, default=0, metavar="S", help="model, split and shuffling (default 0)"
    )
    training.add_argument(
        "--monitor", action="store_true", help="attach the Monitor and print its diagnosis"
    )
    training.add_argument(
        "--tensorboard", type=Path, metavar="DIR", help="log the Monitor's numbers to TensorBoard"
    )
    training.add_argument(
        "--plot", type=Path, metavar="DIR", help="save loss.png (and metric.png) in DIR"
    )
    training.add_argument("--json", action="store_true", help="print JSON")
    training.set_defaults(run=_train)
    from .training import LR_MAX, LR_MIN, STEPS

    finder = commands.add_parser(
        "lr-find", help="the learning-rate range test: sweep η up for a few hundred updates"
    )
    finder.add_argument(
        "--task",
        required=True,
        type=_one_of("task", tasks.TASKS),
        metavar="NAME",
        help=f"one of {', '.join(tasks.TASKS)}",
    )
    finder.add_argument(
        "--optimizer",
        required=True,
        type=_one_of("optimizer", catalog.CATALOG),
        metavar="NAME",
        help=f"one of {', '.join(catalog.CATALOG)}",
    )
    finder.add_argument(
        "--lr-min", type=_positive_float, default=LR_MIN, metavar="X", help=f"default {LR_MIN:g}"
    )
    finder.add_argument(
        "--lr-max", type=_positive_float, default=LR_MAX, metavar="X", help=f"default {LR_MAX:g}"
    )
    finder.add_argument(
        "--steps", type=_positive_int, default=STEPS, metavar="N", help=f"updates (default {STEPS})"
    )
    finder.add_argument(
        "--batch-size", type=_positive_int, default=32, metavar="B", help="default 32"
    )
    finder.add_argument(
        "--opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an optimizer hyperparameter other than lr, repeatable (e.g. --opt betas=0.9,0.98)",
    )
    finder.add_argument(
        "--seed", type=int, default=0, metavar="S", help="model, split and shuffling (default 0)"
    )
    finder.add_argument("--plot", metavar="FILE.png", help="save the loss against η")
    finder.add_argument("--json", action="store_true", help="print JSON")
    finder.set_defaults(run=_lr_find)
    return parser


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--start -120,-4`` → ``--start=-120,-4``: argparse would take ``-120,-4`` for an option."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--start" and arg.startswith("-"):
            joined[-1] = f"--start={arg}"
        else:
            joined.append(arg)
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_negative_values(list(sys.argv[1:] if argv is None else argv)))
    try:
        return args.run(args)
    except ValueError as error:
        print(f"ravine: error: {error}", file=sys.stderr)
        return 2
