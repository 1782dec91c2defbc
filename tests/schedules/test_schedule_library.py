"""The schedule library: values by hand, combinators, specs, pickling and parameter checks."""

import dataclasses
import math
import pickle

import pytest
import torch

from ravine.optim import Adagrad as TorchStyleAdagrad
from ravine.optim import lecture
from ravine.schedules import (
    SCHEDULES,
    Constant,
    Cosine,
    CosineRestarts,
    Exponential,
    InverseSqrt,
    InverseTime,
    Join,
    LinearWarmup,
    MultiStep,
    OneCycle,
    Plateau,
    Polynomial,
    Product,
    ResNetWarmup,
    Scale,
    Scheduler,
    StepDecay,
    Transformer,
    WarmupCosine,
    from_spec,
)

T_RANGE = range(201)


# --- the Transformer schedule ------------------------------------------------------------------


def test_transformer_peaks_at_the_end_of_warmup():
    s = Transformer(d_model=512, warmup=4000)
    values = s.values(10_000)
    peak = max(range(10_000), key=values.__getitem__)
    assert peak == 3999
    assert values[3999] == 512**-0.5 * 4000**-0.5
    assert values.count(values[3999]) == 1
    assert s(0) == 512**-0.5 * 4000**-1.5
    assert s.warmup_end == 3999
    # linear in n = t + 1 up to the peak, 1/√n after it
    assert s(999) == pytest.approx(512**-0.5 * 1000 * 4000**-1.5, rel=1e-15)
    assert s(8999) == pytest.approx(512**-0.5 * 9000**-0.5, rel=1e-15)


# --- InverseSqrt turns the lecture's Adagrad into torch's ----------------------------------------


def _adagrad_run(make_optimizer, steps=50):
    torch.manual_seed(0)
    a = torch.tensor([1.0, 3.0, 0.5, 2.0], dtype=torch.float64)
    b = torch.tensor([0.3, -1.0, 2.0, 0.7], dtype=torch.float64)
    p = torch.tensor([1.5, 0.2, -0.4, 3.0], dtype=torch.float64, requires_grad=True)
    opt = make_optimizer([p])
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (a * (p - b) ** 2).sum() + (p**3).sum() * 0.01
        loss.backward()
        assert bool((p.grad != 0).all())
        opt.step()
    return p.detach().clone()


def test_inverse_sqrt_makes_lecture_adagrad_the_classic_one():
    classic = _adagrad_run(lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=0))
    classic_ravine = _adagrad_run(lambda ps: TorchStyleAdagrad(ps, lr=0.1, eps=0))
    lecture_sqrt = _adagrad_run(lambda ps: lecture.Adagrad(ps, lr=0.1 * InverseSqrt()))
    lecture_fixed = _adagrad_run(lambda ps: lecture.Adagrad(ps, lr=0.1))
    torch.testing.assert_close(lecture_sqrt, classic, rtol=1e-12, atol=0)
    torch.testing.assert_close(lecture_sqrt, classic_ravine, rtol=1e-12, atol=0)
    # … and without the 1/√(t+1) they are different optimizers
    assert (lecture_fixed - classic).abs().max() > 1e-3


# --- every library schedule: pickling, repr, specs ------------------------------------------------


def _observed(schedule):
    """A metric-driven schedule after some observations (its state is then not the default)."""
    for step, metric in enumerate([0.9, 0.85, 0.5, 0.6, 0.6, 0.6, 0.7]):
        schedule.observe(metric, step)
    return schedule


def library():
    """One schedule of each kind, every parameter away from its default."""
    return [
        Constant(value=0.5, steps=20),
        StepDecay(step_size=7, gamma=0.5, steps=100),
        MultiStep(milestones=(30, 60, 61), gamma=0.5, steps=90),
        Exponential(gamma=0.97, steps=50),
        InverseTime(k=0.5, steps=30),
        InverseSqrt(steps=40),
        Polynomial(steps=80, power=2.0, end=0.1),
        Cosine(steps=100, end=0.05),
        CosineRestarts(period=7, mult=2, end=0.1, steps=300),
        LinearWarmup(steps=20, start=0.1, end=0.9),
        Transformer(d_model=256, warmup=100, steps=1000),
        WarmupCosine(warmup=10, steps=100, end=0.05),
        OneCycle(
            steps=200,
            pct_start=0.25,
            div_factor=10.0,
            final_div_factor=100.0,
            anneal="linear",
            three_phase=True,
        ),
        ResNetWarmup(low=0.02, high=0.2, threshold=0.7, milestones=(6, 9), gamma=0.5),
        Plateau(
            factor=0.5,
            patience=2,
            threshold=0.01,
            threshold_mode="abs",
            mode="max",
            cooldown=1,
            min_scale=0.01,
        ),
    ]


def composites():
    return [
        LinearWarmup(5) >> Cosine(10) >> Constant(0.5),
        Constant(1.0, steps=3) >> Exponential(0.5, steps=4) >> Cosine(8, end=0.1),
        0.5 * Cosine(10),
        Cosine(100) * LinearWarmup(10),
        Cosine(100) * Exponential(0.99) * InverseSqrt(),
        (0.1 * LinearWarmup(5)) >> (Cosine(10) * Exponential(0.9, steps=10)) >> Constant(0.5),
        LinearWarmup(10) >> Plateau(factor=0.5, patience=1),
    ]


def ids(schedules):
    return [s.spec for s in schedules]


def test_the_library_covers_every_schedule_name():
    assert {s.name for s in library()} == set(SCHEDULES)
    for s in library():
        default = type(s)(**{k: v for k, v in s.params().items() if k in _required(type(s))})
        assert s.spec != default.spec, f"{s.spec}: a parameter left at its default"


def _required(cls):
    return {
        f.name
        for f in dataclasses.fields(cls)
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


@pytest.mark.parametrize("schedule", library() + composites(), ids=ids(library() + composites()))
def test_pickle_round_trip(schedule):
    if schedule.metric_driven:
        schedule = _observed(schedule)
    copy = pickle.loads(pickle.dumps(schedule))
    assert type(copy) is type(schedule)
    assert copy.spec == schedule.spec
    assert copy.state_dict() == schedule.state_dict()
    assert [copy(t) for t in T_RANGE] == [schedule(t) for t in T_RANGE]


@pytest.mark.parametrize("schedule", library(), ids=ids(library()))
def test_repr_is_spec_and_formula(schedule):
    text = repr(schedule)
    assert text.startswith(schedule.spec)
    assert schedule.formula() in text
    assert text == f"{schedule.spec}  [{schedule.formula()}]"
    # every non-default parameter is written in the spec
    for key in schedule.params():
        assert f"{key}=" in schedule.spec


def test_repr_examples():
    assert repr(Cosine(100)) == "cosine:steps=100  [½·(1 + cos(π·min(t, 100)/100))]"
    assert Exponential(0.99).formula() == "0.99^t"
    assert "4000" in repr(Transformer()) and "512" in repr(Transformer())
    assert Transformer().spec == "transformer"
    j = LinearWarmup(5) >> Cosine(10)
    assert repr(j).startswith("linear-warmup:steps=5 >> cosine:steps=10  [")
    assert Cosine(10).formula() in repr(j) and LinearWarmup(5).formula() in repr(j)
    assert (0.5 * Cosine(10)).spec == "0.5 * cosine:steps=10"
    assert "0.5" in (0.5 * Cosine(10)).formula()


@pytest.mark.parametrize("schedule", library() + composites(), ids=ids(library() + composites()))
def test_from_spec_rebuilds_the_schedule(schedule):
    rebuilt = from_spec(schedule.spec)
    assert rebuilt.spec == schedule.spec
    assert type(rebuilt) is type(schedule)
    assert rebuilt.length == schedule.length
    assert rebuilt.warmup_end == schedule.warmup_end
    # a Scale of a Product is parsed as a Scale around the Product: one rounding apart
    assert [rebuilt(t) for t in T_RANGE] == pytest.approx(
        [schedule(t) for t in T_RANGE], rel=1e-15, abs=0
    )
    if not isinstance(schedule, (Product, Scale, Join)):
        assert [rebuilt(t) for t in T_RANGE] == [schedule(t) for t in T_RANGE]
        assert rebuilt.params() == schedule.params()


def test_from_spec_of_library_schedules_is_equal():
    for schedule in library():
        if not schedule.metric_driven:  # frozen dataclasses compare by parameters
            assert from_spec(schedule.spec) == schedule


@pytest.mark.parametrize(
    "schedule",
    [
        Exponential(0.9999999),
        Cosine(100, end=1 / 3),
        Scale(Cosine(10), 0.123456789),
        Plateau(factor=0.1234567, patience=1),
    ],
    ids=["exponential", "cosine", "scale", "plateau"],
)
def test_from_spec_keeps_every_digit(schedule):
    rebuilt = from_spec(schedule.spec)
    assert rebuilt.params() == schedule.params()
    assert [rebuilt(t) for t in range(2000)] == [schedule(t) for t in range(2000)]


def test_a_scaled_join_has_a_repr_and_can_be_checkpointed():
    schedule = 0.1 * (LinearWarmup(10) >> Cosine(50))
    assert schedule(5) == pytest.approx(0.05)
    assert "linear-warmup:steps=10" in repr(schedule)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = Scheduler(opt, schedule)
    state = sched.state_dict()
    assert [from_spec(state["schedule_spec"])(t) for t in range(60)] == pytest.approx(
        schedule.values(60), rel=1e-15
    )


# --- joins, products and scales ----------------------------------------------------------------


def test_join_pieces_see_steps_from_their_own_start():
    j = LinearWarmup(5) >> Cosine(10)
    assert j(0) == 0.0
    assert j(3) == pytest.approx(0.6, rel=1e-15)
    assert j(5) == Cosine(10)(0) == 1.0
    assert j(10) == Cosine(10)(5) == pytest.approx(0.5, rel=1e-15)
    assert j(15) == Cosine(10)(10) == 0.0
    assert j(1000) == 0.0
    assert j.length == 15
    assert j.warmup_end == 5
    assert isinstance(j, Join)


def test_three_piece_join():
    j = Constant(1.0, steps=3) >> Exponential(0.5, steps=4) >> Cosine(8)
    expected = [1.0, 1.0, 1.0, 1.0, 0.5, 0.25, 0.125]
    expected += [Cosine(8)(t) for t in range(10)]
    assert j.values(17) == expected
    assert j.length == 15
    assert j.warmup_end is None
    # warm-up in a later piece is counted from the join's start
    assert (Cosine(10) >> LinearWarmup(5)).warmup_end == 15
    assert (Constant(1.0, steps=3) >> Cosine(10) >> Transformer(warmup=4)).warmup_end == 16
    # an unbounded last piece leaves the join unbounded
    assert (Cosine(10) >> Exponential(0.9)).length is None
    assert (Cosine(10) >> Exponential(0.9))(12) == 0.9**2


def test_joins_flatten():
    a, b, c = LinearWarmup(5), Cosine(10), Constant(0.5)
    assert ((a >> b) >> c).pieces == (a >> (b >> c)).pieces == (a, b, c)
    assert (a >> b >> c).spec == "linear-warmup:steps=5 >> cosine:steps=10 >> constant:value=0.5"


@pytest.mark.parametrize(
    "first",
    [Exponential(0.9), Constant(0.5), InverseSqrt(), Transformer(), StepDecay(10), Plateau()],
    ids=lambda s: s.spec,
)
def test_a_piece_without_steps_must_be_last(first):
    with pytest.raises(ValueError, match=r"piece 1 \(.*\) has no steps="):
        first >> Cosine(10)
    with pytest.raises(ValueError, match="piece 2"):
        LinearWarmup(3) >> first >> Cosine(10)
    with pytest.raises(ValueError, match="at least two"):
        Join((Cosine(10),))
    assert (Cosine(10) >> first).length is None


def test_product_and_scale_values():
    p = Cosine(10) * Exponential(0.9)
    assert isinstance(p, Product)
    for t in range(15):
        assert p(t) == Cosine(10)(t) * 0.9**t
    assert p.length == 10
    assert (Exponential(0.9) * InverseSqrt()).length is None
    assert (Exponential(0.9) * Cosine(20) * Polynomial(30)).length == 20
    assert (LinearWarmup(5) * Cosine(20)).warmup_end == 5
    assert (Cosine(20) * LinearWarmup(5)).warmup_end == 5
    s = 0.5 * Cosine(10)
    assert isinstance(s, Scale)
    assert s(0) == 0.5
    assert s(5) == pytest.approx(0.25, rel=1e-15)
    assert (Cosine(10) * 2)(0) == 2.0
    assert s.length == 10
    assert (0.1 * LinearWarmup(7)).warmup_end == 7
    assert (3 * (0.5 * Constant(0.2)))(4) == pytest.approx(0.3, rel=1e-15)


# --- CosineRestarts: restarts exactly where they belong -------------------------------------------


def _restart(period, mult, n):
    return period * (mult**n - 1) // (mult - 1)


@pytest.mark.parametrize("mult", [2, 3])
@pytest.mark.parametrize("period", [1, 2, 5, 7, 10])
def test_cosine_restarts_restart_positions(period, mult):
    s = CosineRestarts(period=period, mult=mult)
    n = 0
    while _restart(period, mult, n) <= 10**12:
        start = _restart(period, mult, n)
        length = period * mult**n
        assert s.position(start) == (0, length), f"restart {n} at {start}"
        assert s(start) == 1.0
        if n > 0:
            before = length // mult
            assert s.position(start - 1) == (before - 1, before), f"before restart {n}"
            assert s(start - 1) < 1.0 or before == 1  # a period of 1 step is all restart
            assert s(start - 1) == pytest.approx(
                0.5 * (1 + math.cos(math.pi * (before - 1) / before)), rel=1e-12, abs=1e-300
            )
        assert s.position(start + length - 1) == (length - 1, length)
        n += 1
    assert n > 20


@pytest.mark.parametrize(("period", "mult"), [(1, 2), (3, 2), (1, 3), (7, 3)])
def test_cosine_restarts_every_step_to_100_000(period, mult):
    s = CosineRestarts(period=period, mult=mult)
    start, length = 0, period
    for t in range(100_001):
        if t == start + length:
            start, length = start + length, length * mult
        assert s.position(t) == (t - start, length), t


def test_cosine_restarts_mult_1():
    s = CosineRestarts(period=10, end=0.2)
    for t in (0, 10, 20, 12340):
        assert s(t) == 1.0
    assert s(5) == pytest.approx(0.6, rel=1e-15)
    assert s(19) == s(9)


# --- bad parameters ---------------------------------------------------------------------------

BAD = [
    (lambda: Constant(value=0), "value", "0"),
    (lambda: Constant(value=-1.5), "value", "-1.5"),
    (lambda: Constant(steps=0), "steps", "0"),
    (lambda: StepDecay(0), "step_size", "0"),
    (lambda: StepDecay(2.5), "step_size", "2.5"),
    (lambda: StepDecay(10, gamma=0.0), "gamma", "0.0"),
    (lambda: StepDecay(10, gamma=1.5), "gamma", "1.5"),
    (lambda: StepDecay(10, steps=-5), "steps", "-5"),
    (lambda: MultiStep((5, 3)), "milestones", "[5, 3]"),
    (lambda: MultiStep((3, 3)), "milestones", "[3, 3]"),
    (lambda: MultiStep((0, 3)), "milestone", "0"),
    (lambda: MultiStep((3, 5), gamma=-0.1), "gamma", "-0.1"),
    (lambda: Exponential(0.0), "gamma", "0.0"),
    (lambda: Exponential(1.01), "gamma", "1.01"),
    (lambda: Exponential(math.nan), "gamma", "nan"),
    (lambda: InverseTime(k=0), "k", "0"),
    (lambda: InverseTime(k=-1.0), "k", "-1.0"),
    (lambda: InverseTime(k=math.inf), "k", "inf"),
    (lambda: InverseSqrt(steps=0), "steps", "0"),
    (lambda: Polynomial(0), "steps", "0"),
    (lambda: Polynomial(10, power=0.0), "power", "0.0"),
    (lambda: Polynomial(10, end=1.0), "end", "1.0"),
    (lambda: Polynomial(10, end=-0.1), "end", "-0.1"),
    (lambda: Cosine(-5), "steps", "-5"),
    (lambda: Cosine(10.0), "steps", "10.0"),
    (lambda: Cosine(True), "steps", "True"),
    (lambda: Cosine(10, end=1.0), "end", "1.0"),
    (lambda: Cosine(10, end=-0.5), "end", "-0.5"),
    (lambda: CosineRestarts(0), "period", "0"),
    (lambda: CosineRestarts(10, mult=0), "mult", "0"),
    (lambda: CosineRestarts(10, mult=1.5), "mult", "1.5"),
    (lambda: CosineRestarts(10, end=2.0), "end", "2.0"),
    (lambda: LinearWarmup(0), "steps", "0"),
    (lambda: LinearWarmup(10, start=-0.1), "start", "-0.1"),
    (lambda: LinearWarmup(10, end=0.0), "end", "0.0"),
    (lambda: Transformer(d_model=0), "d_model", "0"),
    (lambda: Transformer(warmup=0), "warmup", "0"),
    (lambda: WarmupCosine(10, 10), "warmup", "10"),
    (lambda: WarmupCosine(11, 10), "warmup", "11"),
    (lambda: WarmupCosine(-1, 10), "warmup", "-1"),
    (lambda: WarmupCosine(2, 10, end=1.0), "end", "1.0"),
    (lambda: OneCycle(0), "steps", "0"),
    (lambda: OneCycle(100, pct_start=0.0), "pct_start", "0.0"),
    (lambda: OneCycle(100, pct_start=1.0), "pct_start", "1.0"),
    (lambda: OneCycle(100, div_factor=0.0), "div_factor", "0.0"),
    (lambda: OneCycle(100, final_div_factor=-1.0), "final_div_factor", "-1.0"),
    (lambda: OneCycle(100, anneal="cosine"), "anneal", "'cosine'"),
    (lambda: ResNetWarmup(low=0.0), "low", "0.0"),
    (lambda: ResNetWarmup(high=-1.0), "high", "-1.0"),
    (lambda: ResNetWarmup(threshold=math.nan), "threshold", "nan"),
    (lambda: ResNetWarmup(milestones=(0, 5)), "milestone", "0"),
    (lambda: ResNetWarmup(gamma=2.0), "gamma", "2.0"),
    (lambda: Plateau(mode="mean"), "mode", "'mean'"),
    (lambda: Plateau(threshold_mode="relative"), "threshold_mode", "'relative'"),
    (lambda: Plateau(factor=1.0), "factor", "1.0"),
    (lambda: Plateau(factor=0.0), "factor", "0.0"),
    (lambda: Plateau(patience=-1), "patience", "-1"),
    (lambda: Plateau(threshold=-0.1), "threshold", "-0.1"),
    (lambda: Plateau(cooldown=-1), "cooldown", "-1"),
    (lambda: Plateau(min_scale=1.5), "min_scale", "1.5"),
    (lambda: 0 * Cosine(10), "factor", "0"),
    (lambda: Cosine(10) * -2.0, "factor", "-2.0"),
    (lambda: math.inf * Cosine(10), "factor", "inf"),
]


@pytest.mark.parametrize(("make", "name", "value"), BAD, ids=[f"{n}={v}" for _, n, v in BAD])
def test_bad_parameters_raise_value_error(make, name, value):
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert name in message
    assert f"got {value}" in message or f"({value})" in message, message


def test_resnet_warmup_refuses_unordered_milestones():
    with pytest.raises(ValueError, match=r"milestones.*\[9, 6\]"):
        ResNetWarmup(milestones=(9, 6))


def test_one_cycle_refuses_a_non_bool_three_phase():
    with pytest.raises(ValueError, match="three_phase"):
        OneCycle(100, three_phase="yes")


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_with_an_empty_warmup_is_refused_or_finite(three_phase):
    try:
        s = OneCycle(10, pct_start=0.1, three_phase=three_phase)
    except ValueError as error:
        assert "pct_start" in str(error)
        return
    assert all(math.isfinite(v) for v in s.values(12))


@pytest.mark.parametrize("cls", [MultiStep, ResNetWarmup])
def test_milestones_must_be_a_list(cls):
    with pytest.raises(ValueError, match="milestones"):
        cls(milestones=30)


@pytest.mark.parametrize("schedule", library() + composites(), ids=ids(library() + composites()))
@pytest.mark.parametrize("t", [-1, 1.5, True, "3", None, 2.0])
def test_a_step_must_be_a_nonnegative_int(schedule, t):
    with pytest.raises(ValueError, match="step must be an integer >= 0"):
        schedule(t)


def test_only_metric_driven_schedules_observe():
    with pytest.raises(ValueError, match="takes no metric"):
        Cosine(10).observe(0.5, 0)
    with pytest.raises(ValueError, match="takes no metric"):
        (LinearWarmup(5) >> Cosine(10)).observe(0.5, 0)
    with pytest.raises(ValueError, match="keeps no state"):
        Cosine(10).load_state_dict({"scale": 0.5})
    with pytest.raises(ValueError, match="finite"):
        Plateau().observe(math.nan, 0)


# --- a ravine optimizer takes a schedule as its lr ---------------------------------------------


def test_gd_with_a_schedule_as_lr():
    schedule = 0.5 * Cosine(10)
    c = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    p = torch.tensor([1.0, 2.0, -3.0], dtype=torch.float64, requires_grad=True)
    opt = lecture.GD([p], lr=schedule)
    expected = p.detach().clone()
    assert opt.param_groups[0]["lr"] == 0.5
    for t in range(3):
        opt.zero_grad()
        loss = (c * p**2).sum()  # gradient 2·c·p
        loss.backward()
        grad = 2 * c * expected
        torch.testing.assert_close(p.grad, grad, rtol=0, atol=0)
        opt.step()
        expected = expected - 0.5 * Cosine(10)(t) * grad
        torch.testing.assert_close(p.detach(), expected, rtol=1e-15, atol=0)
        assert opt.param_groups[0]["lr"] == pytest.approx(0.5 * Cosine(10)(t + 1), rel=1e-15)
    # three steps at 0.5·cos: the first moves p by exactly 0.5·grad
    assert Cosine(10)(0) == 1.0
