"""A Pair (two Python floats) does what a float64 tensor of two numbers does, to rounding, and
keeps IEEE's answers where Python would raise (x/0, √negative, overflow)."""

from __future__ import annotations

import math
import random

import pytest
import torch

from ravine.optim.pair import Pair


def tensor(pair: Pair) -> torch.Tensor:
    return torch.tensor(pair.tolist(), dtype=torch.float64)


def close(pair: Pair, expected: torch.Tensor, scale: float = 0.0) -> None:
    """Equal to rounding: a last-bit difference (torch may fuse a multiply-add into one
    rounding) relative to the result, or to ``scale`` (the operands' size) where the result
    cancels."""
    atol = 1e-15 * scale
    torch.testing.assert_close(tensor(pair), expected, rtol=1e-15, atol=atol, equal_nan=True)


def numbers(rng: random.Random) -> list[float]:
    return [rng.uniform(-3, 3) * 10 ** rng.uniform(-4, 4) for _ in range(2)]


OPERATIONS = {
    "mul_": lambda a, b, c, w: a.mul_(b),
    "mul_ number": lambda a, b, c, w: a.mul_(w),
    "add_": lambda a, b, c, w: a.add_(b),
    "add_ alpha": lambda a, b, c, w: a.add_(b, alpha=w),
    "sub_": lambda a, b, c, w: a.sub_(b),
    "div_": lambda a, b, c, w: a.div_(b),
    "addcmul_": lambda a, b, c, w: a.addcmul_(b, c, value=w),
    "addcdiv_": lambda a, b, c, w: a.addcdiv_(b, c, value=w),
    "lerp_ small": lambda a, b, c, w: a.lerp_(b, w / 4),
    "lerp_ large": lambda a, b, c, w: a.lerp_(b, 1 - w / 4),
    "sqrt": lambda a, b, c, w: a.abs().sqrt(),
    "sqrt_": lambda a, b, c, w: a.abs().sqrt_(),
    "copy_": lambda a, b, c, w: a.copy_(b),
    "clone": lambda a, b, c, w: a.clone(),
    "add": lambda a, b, c, w: a.add(b, alpha=w),
    "mul": lambda a, b, c, w: a.mul(b),
    "div": lambda a, b, c, w: a.div(w),
    "addcmul": lambda a, b, c, w: a.addcmul(b, c, value=-1),
    "neg": lambda a, b, c, w: -a,
    "times": lambda a, b, c, w: w * a * b,
    "over": lambda a, b, c, w: a / b,
    "masked_fill_": lambda a, b, c, w: a.masked_fill_(a == a.x, 7.0),
}


@pytest.mark.parametrize("name", OPERATIONS)
def test_each_operation_equals_the_tensor_one(name):
    rng = random.Random(name)
    operation = OPERATIONS[name]
    for _ in range(200):
        a, b, c = numbers(rng), numbers(rng), numbers(rng)
        w = rng.uniform(0.01, 0.99)
        on_pairs = operation(Pair(*a), Pair(*b), Pair(*c), w)
        as_tensors = [torch.tensor(v, dtype=torch.float64) for v in (a, b, c)]
        if name == "masked_fill_":
            expected = as_tensors[0].masked_fill_(as_tensors[0] == a[0], 7.0)
        else:
            expected = operation(*as_tensors, w)
        scale = max(abs(v) for v in (*a, *b, *c, b[0] * c[0], b[1] * c[1]))
        close(on_pairs, expected, scale)


def test_in_place_operations_return_the_pair_itself():
    pair = Pair(1.0, 2.0)
    assert pair.mul_(2.0) is pair and pair.add_(pair) is pair and pair.sqrt_() is pair
    assert pair.tolist() == [2.0, math.sqrt(8.0)]


def test_ieee_answers_where_python_raises():
    zero = Pair(0.0, 0.0)
    close(Pair(1.0, 0.0).div(zero), torch.tensor([math.inf, math.nan], dtype=torch.float64))
    close(Pair(-1.0, 1.0).div(Pair(0.0, -0.0)), torch.tensor([-math.inf, -math.inf]).double())
    close(Pair(-4.0, math.nan).sqrt(), torch.tensor([math.nan, math.nan], dtype=torch.float64))
    close(Pair(1.0, 1.0).addcdiv_(zero, zero), torch.tensor([math.nan, math.nan]).double())
    close(Pair(1e200, -1e200).mul_(1e200), torch.tensor([math.inf, -math.inf]).double())


def test_running_maximum_keeps_nan_as_torch_does():
    pair = Pair(1.0, math.nan).maximum_(Pair(2.0, 0.0))
    expected = torch.maximum(torch.tensor([1.0, math.nan]), torch.tensor([2.0, 0.0]))
    close(pair, expected.double())
