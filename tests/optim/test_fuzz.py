"""Random runs of every catalog optimizer: shapes (0-d and empty included), dtypes, hyperparameters
over their domains and out of them, several groups, parameters without gradients, groups added
mid-run, nan/inf gradients under each ``nonfinite`` policy and learning-rate schedules that go bad.

Two properties must hold on every run:

- nothing raises but the documented errors (ValueError for a value out of its domain or a
  parameter given twice, NonFiniteGradientError under ``nonfinite="raise"``), and a refused call
  leaves every parameter and the optimizer state bitwise as they were;
- where torch.optim has the same algorithm, its twin fed the same gradients and groups ends at
  the same parameters (float64 and float32 within rounding; bfloat16 only finite).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ravine.optim import CATALOG, NonFiniteGradientError, create
from ravine.optim.optimizer import NONFINITE_POLICIES

EXAMPLES = 30
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DTYPES = (torch.float64, torch.float32, torch.bfloat16)
TOLERANCE = {torch.float64: (1e-9, 1e-12), torch.float32: (1e-4, 1e-6)}  # (rtol, atol)
SHAPES = ((), (0,), (1,), (3,), (2, 3), (0, 4), (2, 1, 2))
SCALES = (1e-3, 1.0, 10.0)  # gradient sizes
POISONS = (math.nan, math.inf, -math.inf)

# --- hyperparameters over their domains ----------------------------------------------------
# Each bundle is a set of options that must be drawn together to stay valid (nesterov needs
# momentum > 0 and dampening 0). Domain edges are drawn as often as interior points. torch's
# presets keep ε > 0: with ε = 0 an exactly-zero gradient entry is 0/0 in torch as in ravine,
# and the run is then only nan (the lecture's rules, which take σ = 0 as 1, get ε = 0 too).

lr = st.one_of(st.just(0.0), st.floats(1e-4, 0.5))
decay = st.one_of(st.just(0.0), st.floats(1e-4, 0.1))
flag = st.booleans()
unit = st.one_of(st.just(0.0), st.floats(0.0, 0.99))  # [0, 1)
eps = st.one_of(st.just(1e-10), st.floats(1e-10, 1e-3))
# ε > 0 so small that it rounds to 0 in θ's dtype is tested on its own
# (test_lecture_sigma_with_an_eps_that_underflows_is_not_nan)
lecture_eps = st.one_of(st.just(0.0), st.floats(1e-10, 1e-3))
betas = st.tuples(st.one_of(st.just(0.0), st.floats(0.0, 0.99)), st.floats(0.0, 0.9999))


@st.composite
def heavy_ball(draw):
    """torch's SGD momentum (any μ >= 0), dampening and nesterov, drawn consistent."""
    mu = draw(st.one_of(st.just(0.0), st.floats(0.0, 1.5)))
    nesterov = mu > 0 and draw(flag)
    dampening = 0.0 if nesterov else draw(st.one_of(st.just(1.0), st.floats(0.0, 1.0)))
    return {"momentum": mu, "dampening": dampening, "nesterov": nesterov}


def single(**strategies):
    """One bundle per option: ((its name,), a strategy drawing {name: value})."""
    return [((key,), st.fixed_dictionaries({key: value})) for key, value in strategies.items()]


HEAVY_BALL = (("momentum", "dampening", "nesterov"), heavy_ball())


ADAM_LIKE = dict(lr=lr, betas=betas, eps=eps, weight_decay=decay, maximize=flag)
DOMAINS = {
    "gd": single(lr=lr, weight_decay=decay, maximize=flag),
    "sgd": [HEAVY_BALL, *single(lr=lr, weight_decay=decay, maximize=flag)],
    "adagrad": single(
        lr=lr,
        lr_decay=decay,
        weight_decay=decay,
        initial_accumulator_value=st.one_of(st.just(0.0), st.floats(0.0, 1.0)),
        eps=eps,
        maximize=flag,
    ),
    "rmsprop": single(
        lr=st.one_of(st.just(0.0), st.floats(1e-4, 0.05)),
        alpha=unit,
        eps=eps,
        weight_decay=decay,
        momentum=st.one_of(st.just(0.0), st.floats(0.0, 0.9)),
        centered=flag,
        maximize=flag,
    ),
    "adam": single(**ADAM_LIKE, amsgrad=flag, decoupled_weight_decay=flag),
    "adamw": single(**ADAM_LIKE, amsgrad=flag),
    "radam": single(**ADAM_LIKE, decoupled_weight_decay=flag),
    "nadam": single(
        **ADAM_LIKE,
        momentum_decay=st.one_of(st.just(0.0), st.floats(0.0, 0.01)),
        decoupled_weight_decay=flag,
    ),
    "lecture-momentum": single(lr=lr, momentum=unit, weight_decay=decay, maximize=flag),
    "lecture-adagrad": single(lr=lr, eps=lecture_eps, weight_decay=decay, maximize=flag),
    "lecture-rmsprop": single(
        lr=lr,
        alpha=st.one_of(st.just(1e-3), st.floats(1e-3, 0.999)),
        eps=lecture_eps,
        weight_decay=decay,
        maximize=flag,
    ),
}
DOMAINS["momentum"] = DOMAINS["sgd"]

# --- and out of them --------------------------------------------------------------------------
# (options, the name the error must mention). Flags must be True or False, not 1 or "yes".

nan, inf = math.nan, math.inf
BAD_COMMON = [
    *[({"lr": v}, "lr") for v in (-0.1, nan, inf, True, "0.1")],
    *[({"weight_decay": v}, "weight_decay") for v in (-0.01, nan, inf)],
    ({"maximize": 1}, "maximize"),
    ({"maximize": "yes"}, "maximize"),
]
BAD_EPS = [({"eps": v}, "eps") for v in (-1e-8, nan, inf)]
BAD_BETAS = [
    ({"betas": (1.0, 0.999)}, "betas[0]"),
    ({"betas": (-0.1, 0.999)}, "betas[0]"),
    ({"betas": (0.9, 1.0)}, "betas[1]"),
    ({"betas": (0.9, nan)}, "betas[1]"),
    ({"betas": (0.9,)}, "betas"),
]
BAD_HEAVY_BALL = [
    ({"momentum": -0.1}, "momentum"),
    ({"momentum": nan}, "momentum"),
    ({"dampening": 1.5}, "dampening"),
    ({"dampening": -0.1}, "dampening"),
    ({"nesterov": True, "momentum": 0.0}, "momentum"),
    ({"nesterov": True, "momentum": 0.9, "dampening": 0.5}, "dampening"),
    ({"nesterov": "no"}, "nesterov"),
]
BAD = {
    "gd": BAD_COMMON,
    "sgd": BAD_COMMON + BAD_HEAVY_BALL,
    "adagrad": BAD_COMMON
    + BAD_EPS
    + [({"lr_decay": -1.0}, "lr_decay"), ({"initial_accumulator_value": -1.0}, "initial")],
    "rmsprop": BAD_COMMON
    + BAD_EPS
    + [
        ({"alpha": -0.1}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"momentum": -0.5}, "momentum"),
        ({"centered": 0}, "centered"),
    ],
    "adam": BAD_COMMON
    + BAD_EPS
    + BAD_BETAS
    + [({"amsgrad": "true"}, "amsgrad"), ({"decoupled_weight_decay": 1}, "decoupled")],
    "adamw": BAD_COMMON + BAD_EPS + BAD_BETAS + [({"amsgrad": 0}, "amsgrad")],
    "radam": BAD_COMMON + BAD_EPS + BAD_BETAS + [({"decoupled_weight_decay": "no"}, "decoupled")],
    "nadam": BAD_COMMON
    + BAD_EPS
    + BAD_BETAS
    + [({"momentum_decay": -1e-3}, "momentum_decay"), ({"decoupled_weight_decay": 0}, "decoupled")],
    "lecture-momentum": BAD_COMMON + [({"momentum": v}, "momentum") for v in (1.0, -0.1, nan)],
    "lecture-adagrad": BAD_COMMON + BAD_EPS,
    "lecture-rmsprop": BAD_COMMON + BAD_EPS + [({"alpha": v}, "alpha") for v in (0.0, 1.0, nan)],
}
BAD["momentum"] = BAD["sgd"]

NAMES = sorted(CATALOG)


# --- the learning rate as a schedule that may go bad ------------------------------------------


@dataclass(frozen=True)
class Decay:
    """η^t = base·0.9^t, and nan from step ``bad_at`` on (never when None)."""

    base: float
    bad_at: int | None

    def __call__(self, t: int) -> float:
        return math.nan if self.bad_at is not None and t >= self.bad_at else self.base * 0.9**t


def draw_options(data, name: str, label: str) -> dict:
    """A random subset of the optimizer's options, each drawn over its domain."""
    bundles = DOMAINS[name]
    chosen = data.draw(st.sets(st.integers(0, len(bundles) - 1)), label=f"{label} keys")
    options = {}
    for i in sorted(chosen):
        options.update(data.draw(bundles[i][1], label=f"{label} option"))
    return options


def draw_lr(data, label: str):
    """η as a number or, sometimes, a callable schedule that may turn bad at some step."""
    if data.draw(st.integers(0, 7), label=f"{label} schedule?") > 0:
        return None
    bad_at = data.draw(st.one_of(st.none(), st.integers(0, 5)), label=f"{label} bad at")
    return Decay(data.draw(st.floats(1e-3, 0.1), label=f"{label} base"), bad_at)


# --- bitwise snapshots ------------------------------------------------------------------------

_SAME_SIZE_INT = {8: torch.int64, 4: torch.int32, 2: torch.int16}


def bits(t: torch.Tensor) -> torch.Tensor:
    """The tensor's bits as integers: torch.equal on them is bitwise (nan == nan, −0 != 0)."""
    t = t.detach()
    if t.is_floating_point():
        return t.view(_SAME_SIZE_INT[t.element_size()]).clone()
    return t.clone()


def snapshot(optimizer) -> tuple:
    """Everything a refused call must leave alone: θ, the state, the groups, the skip count."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state = [
        {k: bits(v) if isinstance(v, torch.Tensor) else v for k, v in optimizer.state[p].items()}
        if p in optimizer.state
        else None
        for p in params
    ]
    groups = [
        {k: [id(p) for p in v] if k == "params" else v for k, v in group.items()}
        for group in optimizer.param_groups
    ]
    return [bits(p) for p in params], state, groups, getattr(optimizer, "skipped_steps", None)


def assert_same(before: tuple, after: tuple) -> None:
    (params0, state0, groups0, skipped0), (params1, state1, groups1, skipped1) = before, after
    assert len(params0) == len(params1)
    assert all(torch.equal(a, b) for a, b in zip(params0, params1, strict=True)), "θ changed"
    assert groups0 == groups1, "param_groups changed"
    assert skipped0 == skipped1
    for s0, s1 in zip(state0, state1, strict=True):
        assert (s0 is None) == (s1 is None), "state created"
        if s0 is not None:
            assert s0.keys() == s1.keys()
            for key, value in s0.items():
                if isinstance(value, torch.Tensor):
                    assert torch.equal(value, s1[key]), f"state {key!r} changed"
                else:
                    assert value == s1[key], f"state {key!r} changed"


def test_bitwise_snapshot_sees_the_smallest_change():
    """The comparison must be able to fail: one ulp, or −0 for 0, in θ or in the state."""
    p = torch.zeros(3, requires_grad=True)
    optimizer = create("adam", [p], lr=0.1)
    p.grad = torch.ones(3)
    optimizer.step()
    before = snapshot(optimizer)
    with torch.no_grad():
        p[0] = torch.nextafter(p[0], torch.tensor(1.0))
    with pytest.raises(AssertionError, match="θ changed"):
        assert_same(before, snapshot(optimizer))
    optimizer.state[p]["exp_avg_sq"].zero_()
    before = snapshot(optimizer)
    optimizer.state[p]["exp_avg_sq"].neg_()  # −0 == 0, but not bitwise
    with pytest.raises(AssertionError, match="exp_avg_sq"):
        assert_same(before, snapshot(optimizer))


def test_every_catalog_optimizer_and_option_is_fuzzed():
    assert set(DOMAINS) == set(BAD) == set(CATALOG)
    for name, known in CATALOG.items():
        drawn = {key for keys, _ in DOMAINS[name] for key in keys}
        refused = {key for options, _ in BAD[name] for key in options}
        # the policy is drawn per run; the compiled fast path (fused=True) is not fuzzed here:
        # its compilation alone would take longer than this whole file may
        options = set(known.defaults()) - {"nonfinite", "fused"}
        assert drawn == options, name
        assert refused == options, name


# --- out of the domain: refused at construction ----------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.data())
def test_out_of_domain_option_is_refused_at_construction(name, data):
    options = draw_options(data, name, "valid")
    bad, mentioned = data.draw(st.sampled_from(BAD[name]), label="bad")
    p = torch.randn(3, dtype=torch.float64, requires_grad=True)
    before = bits(p)
    with pytest.raises(ValueError, match=mentioned.replace("[", r"\[").replace("]", r"\]")):
        create(name, [p], **{**options, **bad})
    assert torch.equal(bits(p), before)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_nonfinite_policy_is_refused(name):
    with pytest.raises(ValueError, match="nonfinite"):
        create(name, [torch.zeros(2, requires_grad=True)], nonfinite="warn")


# --- the random runs --------------------------------------------------------------------------


class Run:
    """One ravine optimizer and, where torch has the algorithm, its torch.optim twin, fed the
    same parameters, groups and gradients."""

    def __init__(self, name: str, data, dtype: torch.dtype, policy: str, seed: int) -> None:
        self.name, self.data, self.dtype, self.policy = name, data, dtype, policy
        self.known = CATALOG[name]
        self.generator = torch.Generator().manual_seed(seed)
        self.named = data.draw(flag, label="named parameters")
        self.params: list[torch.Tensor] = []  # ravine's, in order of creation
        self.twins: list[torch.Tensor] = []  # torch's copies
        self.names: list[str] = []
        self.ever_stepped: set[int] = set()  # indices of parameters that got a gradient
        self.scheduled = False  # a callable η: torch.optim takes numbers only
        self.incomparable = False  # an option torch reads differently (see fresh_group)
        self.poisoned = False  # a nan/inf gradient was applied ("ignore")
        self.optimizer = self.twin = None

    # building groups

    def fresh_group(self, label: str, refused: bool = False) -> tuple[dict, dict]:
        """New parameters with drawn options, as (ravine's group, torch's group); a group that
        will be ``refused`` gets no schedule, so only its bad option can refuse it."""
        shapes = self.data.draw(st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3), label)
        mine, theirs = [], []
        for shape in shapes:
            value = torch.randn(shape, generator=self.generator, dtype=torch.float64)
            p = value.to(self.dtype).requires_grad_()
            twin = p.detach().clone().requires_grad_()
            name = f"p{len(self.params)}"
            self.params.append(p)
            self.twins.append(twin)
            self.names.append(name)
            mine.append((name, p) if self.named else p)
            theirs.append((name, twin) if self.named else twin)
        options = draw_options(self.data, self.name, f"{label} options")
        if refused:
            return {"params": mine, **options}, {"params": theirs, **options}
        if self.name == "adagrad" and "initial_accumulator_value" in options:
            # torch's Adagrad fills every group's sum with the constructor's value and ignores
            # a group's own; ravine starts each group from its own value: not comparable
            self.incomparable = True
        schedule = draw_lr(self.data, label)
        if schedule is not None:
            options["lr"], self.scheduled = schedule, True
        return {"params": mine, **options}, {"params": theirs, **options}

    def torch_options(self, options: dict) -> dict:
        keys = inspect.signature(self.known.torch_class).parameters
        return {k: v for k, v in options.items() if k in keys}

    def start(self) -> bool:
        """Build both optimizers; False when the construction was (rightly) refused."""
        count = self.data.draw(st.integers(1, 3), label="groups")
        groups = [self.fresh_group(f"group {i}") for i in range(count)]
        options = draw_options(self.data, self.name, "constructor")
        options["nonfinite"] = self.policy
        bad_at_zero = any(
            isinstance(g["lr"], Decay) and g["lr"].bad_at == 0 for g, _ in groups if "lr" in g
        )
        if bad_at_zero:
            with pytest.raises(ValueError, match="lr schedule value at step 0"):
                create(self.name, [g for g, _ in groups], **options)
            return False
        self.optimizer = create(self.name, [g for g, _ in groups], **options)
        if self.known.torch_class is not None and not (self.scheduled or self.incomparable):
            full = {**self.known.defaults(), **options}
            self.twin = self.known.torch_class(
                [self.twin_group(g) for _, g in groups], **self.torch_options(full)
            )
        return True

    def twin_group(self, group: dict) -> dict:
        return {"params": group["params"], **self.torch_options(group)}

    # events

    def set_gradients(self) -> list[int]:
        """A fresh gradient for some parameters (None for the others); returns who got one."""
        given_to = []
        scale = self.data.draw(st.sampled_from(SCALES), label="gradient scale")
        sparse = self.data.draw(flag, label="zero entries")
        for i, (p, twin) in enumerate(zip(self.params, self.twins, strict=True)):
            if self.data.draw(st.integers(0, 3), label=f"{self.names[i]} without gradient") == 0:
                p.grad = twin.grad = None
                continue
            g = torch.randn(p.shape, generator=self.generator, dtype=torch.float64) * scale
            if sparse:
                g = g * (torch.rand(p.shape, generator=self.generator) < 0.5)
            p.grad = g.to(self.dtype)
            twin.grad = p.grad.clone()
            given_to.append(i)
        return given_to

    def refused_by_schedule(self) -> bool:
        """True when some group's schedule is nan at that group's next step."""
        return any(
            isinstance(g.get("lr_schedule"), Decay)
            and g["lr_schedule"].bad_at is not None
            and g["steps"] >= g["lr_schedule"].bad_at
            for g in self.optimizer.param_groups
        )

    def step(self, poison: bool) -> None:
        given_to = self.set_gradients()
        targets = [i for i in given_to if self.params[i].numel() > 0]
        poisoned = None
        if poison and targets:
            poisoned = self.data.draw(st.sampled_from(targets), label="poisoned parameter")
            p = self.params[poisoned]
            entry = self.data.draw(st.integers(0, p.numel() - 1), label="poisoned entry")
            value = self.data.draw(st.sampled_from(POISONS), label="poison")
            p.grad.view(-1)[entry] = value
            self.twins[poisoned].grad.view(-1)[entry] = value
        before = snapshot(self.optimizer)
        if self.refused_by_schedule():  # η^t is computed for every group before any update
            with pytest.raises(ValueError, match="lr schedule value at step"):
                self.optimizer.step()
            assert_same(before, snapshot(self.optimizer))
            return
        if poisoned is not None and self.policy == "raise":
            with pytest.raises(NonFiniteGradientError) as raised:
                self.optimizer.step()
            assert_same(before, snapshot(self.optimizer))
            self.check_names_the_parameter(raised.value, poisoned)
            return
        if poisoned is not None and self.policy == "skip":
            self.optimizer.step()
            params, state, groups, skipped = before
            assert_same((params, state, groups, skipped + 1), snapshot(self.optimizer))
            return
        self.optimizer.step()
        self.ever_stepped.update(given_to)
        if self.twin is not None:
            self.twin.step()
        if poisoned is not None:  # "ignore": applied as torch applies it
            self.poisoned = True

    def check_names_the_parameter(self, error: NonFiniteGradientError, index: int) -> None:
        # the first non-finite gradient in group order is the only one: exactly one was poisoned
        if self.named:
            assert error.parameter.startswith(repr(self.names[index]))
        else:
            assert error.parameter.startswith("group ")
        group = next(
            g
            for g in self.optimizer.param_groups
            if any(p is self.params[index] for p in g["params"])
        )
        assert error.step == group["steps"]

    def add_group(self) -> None:
        mine, theirs = self.fresh_group(f"added group {len(self.optimizer.param_groups)}")
        schedule = mine.get("lr")
        if isinstance(schedule, Decay) and schedule.bad_at == 0:
            before = snapshot(self.optimizer)
            with pytest.raises(ValueError, match="lr schedule value at step 0"):
                self.optimizer.add_param_group(mine)
            assert_same(before, snapshot(self.optimizer))
            self.forget(len(mine["params"]))
            return
        self.optimizer.add_param_group(mine)
        if self.twin is not None and not (self.scheduled or self.incomparable):
            self.twin.add_param_group(self.twin_group(theirs))
        else:
            self.twin = None

    def forget(self, count: int) -> None:
        del self.params[-count:], self.twins[-count:], self.names[-count:]

    def add_bad_group(self) -> None:
        before = snapshot(self.optimizer)
        if self.data.draw(st.integers(0, 4), label="duplicate?") == 0:
            old = self.data.draw(st.integers(0, len(self.params) - 1), label="duplicate")
            with pytest.raises(ValueError, match="more than one parameter group"):
                p = self.params[old]
                self.optimizer.add_param_group(
                    {"params": [(self.names[old], p) if self.named else p]}
                )
        else:
            mine, _ = self.fresh_group("bad group", refused=True)
            bad, mentioned = self.data.draw(st.sampled_from(BAD[self.name]), label="bad")
            mine = {**mine, **bad}
            with pytest.raises(ValueError, match=mentioned.replace("[", r"\[").replace("]", r"\]")):
                self.optimizer.add_param_group(mine)
            self.forget(len(mine["params"]))
        assert_same(before, snapshot(self.optimizer))

    # the checks after every event

    def check(self) -> None:
        for i, p in enumerate(self.params):
            if i not in self.ever_stepped:  # never a gradient: untouched, no state
                assert torch.equal(bits(p), bits(self.twins[i]))
                assert p not in self.optimizer.state or not self.optimizer.state[p]
        if self.poisoned:
            return  # nan and inf went in on purpose ("ignore"); only torch's values can tell
        if self.degenerate():
            return
        if self.dtype == torch.bfloat16 or self.twin is None:
            for p in self.params:
                assert bool(torch.isfinite(p).all()), "θ went non-finite from finite gradients"

    def degenerate(self) -> bool:
        """True when some group runs centered RMSprop with a small α: σ = sqrt(v − ḡ²) with
        v − ḡ² ≈ α·(1 − α)·g² after one step is then close to the rounding error of v, and the
        root of a rounding error below 0 is nan — in torch.optim as in ravine (α = 0: always
        about half the entries)."""
        return any(
            g.get("centered") and g.get("alpha", 1) < 0.1 for g in self.optimizer.param_groups
        )

    def compare(self) -> None:
        if self.twin is None or self.dtype not in TOLERANCE:
            return
        rtol, atol = TOLERANCE[self.dtype]
        for name, p, twin in zip(self.names, self.params, self.twins, strict=True):
            finite = twin.detach().abs().nan_to_num(0, 0, 0)
            scale = max(1.0, float(finite.max())) if finite.numel() else 1.0
            torch.testing.assert_close(
                p.detach(),
                twin.detach(),
                rtol=rtol,
                atol=atol * scale,
                equal_nan=True,
                msg=lambda m, name=name: f"{self.name} {name} ({self.dtype}): {m}",
            )


EVENTS = st.lists(
    st.sampled_from(["step", "step", "poison", "add", "bad add"]), min_size=1, max_size=6
)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.data())
def test_random_run_refuses_cleanly_and_matches_torch(name, data):
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    policy = data.draw(st.sampled_from(NONFINITE_POLICIES), label="nonfinite")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    run = Run(name, data, dtype, policy, seed)
    if not run.start():
        return
    for event in data.draw(EVENTS, label="events"):
        if event in ("step", "poison"):
            run.step(poison=event == "poison")
        elif event == "add":
            run.add_group()
        else:
            run.add_bad_group()
        run.check()
        run.compare()


@pytest.mark.parametrize("cls", ["lecture-adagrad", "lecture-rmsprop"])
@pytest.mark.parametrize(("dtype", "eps"), [(torch.float32, 1e-46), (torch.bfloat16, 1e-45)])
def test_lecture_sigma_with_an_eps_that_underflows_is_not_nan(cls, dtype, eps):
    p = torch.zeros(2, dtype=dtype, requires_grad=True)
    optimizer = create(cls, [p], lr=0.1, eps=eps)
    p.grad = torch.tensor([0.0, 1.0], dtype=dtype)  # entry 0 has only ever seen g = 0
    optimizer.step()
    assert p[0].item() == 0.0
