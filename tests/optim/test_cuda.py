"""On a CUDA device, every path of ravine's step against torch.optim: the default (lists of
tensors, torch's multi-tensor kernels), per tensor, and the fast path (flat buffers, one
compiled kernel), in float32 and bfloat16. Skipped where torch sees no CUDA device."""

from __future__ import annotations

import inspect

import pytest
import torch

from ravine.optim import CATALOG, create, fused

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SHAPES = [(64, 32), (32,), (8, 4, 4), (1,)]
STEPS = 20
TORCH_NAMED = [name for name, entry in CATALOG.items() if entry.torch_class is not None]
# float32 on the GPU: the kernels may contract a multiply and an add where the CPU does not;
# bfloat16 keeps 8 bits of mantissa
TOLERANCE = {
    torch.float32: {"rtol": 1e-5, "atol": 1e-6},
    torch.bfloat16: {"rtol": 2e-2, "atol": 2e-2},
}


def _params(dtype: torch.dtype) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(0)
    return [
        torch.nn.Parameter(torch.randn(s, generator=gen).to(device="cuda", dtype=dtype))
        for s in SHAPES
    ]


def _train(optimizer, params) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    for _ in range(STEPS):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen).to(device="cuda", dtype=p.dtype)
        optimizer.step()
    return [p.detach().float().cpu() for p in params]


def _ravine(name: str, dtype: torch.dtype, **flags) -> list[torch.Tensor]:
    params = _params(dtype)
    foreach = flags.pop("foreach", None)
    optimizer = create(name, params, **flags)
    optimizer.foreach = foreach
    return _train(optimizer, params)


def _torch(name: str, dtype: torch.dtype, **flags) -> list[torch.Tensor]:
    entry = CATALOG[name]
    params = _params(dtype)
    accepted = inspect.signature(entry.torch_class).parameters
    options = {k: v for k, v in entry.defaults().items() if k in accepted and k != "fused"}
    return _train(entry.torch_class(params, **options, **flags), params)


def _assert_close(a: list[torch.Tensor], b: list[torch.Tensor], dtype: torch.dtype) -> None:
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", TORCH_NAMED)
def test_the_default_step_on_cuda_equals_torch(name, dtype):
    default = _ravine(name, dtype)
    _assert_close(default, _torch(name, dtype, foreach=True), dtype)
    _assert_close(default, _torch(name, dtype, foreach=False), dtype)


@pytest.mark.parametrize("name", list(CATALOG))
def test_lists_equal_the_per_tensor_step_on_cuda(name):
    lists = _ravine(name, torch.float32)
    one_by_one = _ravine(name, torch.float32, foreach=False)
    _assert_close(lists, one_by_one, torch.float32)


@pytest.mark.skipif(not fused.FUSED_AVAILABLE, reason="torch.compile unavailable")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", list(CATALOG))
def test_the_flat_buffer_on_cuda_equals_the_eager_step(name, dtype):
    fast = _ravine(name, dtype, fused=True)
    _assert_close(fast, _ravine(name, dtype), dtype)


@pytest.mark.parametrize("name", [n for n in TORCH_NAMED if n in ("adam", "adamw", "sgd")])
def test_the_fast_path_on_cuda_equals_torchs_fused_kernel(name):
    if not fused.FUSED_AVAILABLE:
        pytest.skip("torch.compile unavailable")
    _assert_close(
        _ravine(name, torch.float32, fused=True),
        _torch(name, torch.float32, fused=True),
        torch.float32,
    )
