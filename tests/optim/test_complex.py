"""Complex parameters, as torch.optim treats them: each complex number a pair of reals."""

from __future__ import annotations

import pytest
import torch

import ravine.optim as ro

CASES = [
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adagrad", {}),
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.9, "centered": True}),
    ("Adam", {}),
    ("Adam", {"amsgrad": True}),
    ("AdamW", {}),
    ("RAdam", {}),
    ("NAdam", {}),
]


@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}{o}" for n, o in CASES])
def test_complex_parameters_match_torch(name, options):
    torch.manual_seed(0)
    start = torch.randn(5, 3, dtype=torch.complex128)
    ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    ours_opt = getattr(ro, name)([ours], lr=0.01, **options)
    theirs_opt = getattr(torch.optim, name)([theirs], lr=0.01, **options)
    for _ in range(10):
        grad = torch.randn(5, 3, dtype=torch.complex128)
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        ours_opt.step()
        theirs_opt.step()
    assert torch.allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    saved = ours_opt.state_dict()["state"][0]
    for key, value in theirs_opt.state_dict()["state"][0].items():
        if isinstance(value, torch.Tensor) and key != "step":
            assert saved[key].dtype == value.dtype and saved[key].shape == value.shape
            assert torch.allclose(saved[key], value, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["GD", "Momentum", "Adagrad", "RMSProp"])
def test_the_lectures_rules_step_each_real_and_imaginary_part(name):
    """The lecture's rules on a complex θ equal the same rules on its pairs of reals."""
    torch.manual_seed(1)
    start = torch.randn(4, dtype=torch.complex128)
    complex_theta = torch.nn.Parameter(start.clone())
    real_theta = torch.nn.Parameter(torch.view_as_real(start).clone())
    on_complex = getattr(ro.lecture, name)([complex_theta], lr=0.1)
    on_reals = getattr(ro.lecture, name)([real_theta], lr=0.1)
    for _ in range(5):
        grad = torch.randn(4, dtype=torch.complex128)
        complex_theta.grad, real_theta.grad = grad, torch.view_as_real(grad).clone()
        on_complex.step()
        on_reals.step()
    assert torch.equal(torch.view_as_real(complex_theta.detach()), real_theta.detach())
