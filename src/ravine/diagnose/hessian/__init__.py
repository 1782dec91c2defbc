"""The Hessian H of the loss over a model's trainable parameters, from Hessian-vector products.

Around θ′ the lecture writes the loss as its Taylor expansion

    L(θ) ≈ L(θ′) + (θ − θ′)ᵀ g + ½ (θ − θ′)ᵀ H (θ − θ′),   g = ∇L(θ′),  H_ij = ∂²L/∂θ_i∂θ_j (θ′)

At a critical point (g = 0) the eigenvalues λ of H decide: all λ > 0 is a local minimum; some
λ < 0 is a saddle point, and stepping along that eigenvector u lowers the loss, since
uᵀHu = λ‖u‖² < 0.

Everything here needs only H·v, computed by double backward (Pearlmutter's trick):
H·v = ∇_θ (∇_θ L · v), one extra backward pass and never the P×P matrix. On top of it:

- :func:`hessian_vector_product` — H·v;
- :func:`exact_hessian` — the whole matrix, column by column, for small models (tests, pictures);
- :func:`hessian_eigs` — the extreme eigenpairs (λ, u) by Lanczos iteration;
- :func:`hessian_trace` — tr(H) by Hutchinson's estimator;
- :func:`hessian_density` — the smoothed eigenvalue density by stochastic Lanczos quadrature.

The first two, and θ as one flat vector, are in :mod:`.product`; the eigenvalues in
:mod:`.spectrum`.

Conventions shared by all of them:

- **θ** is the flat vector of the model's trainable parameters (``requires_grad=True``) in the
  order of ``model.parameters()``; vectors v and results H·v are flat in that order (see
  :func:`flatten` and :func:`unflatten`). P is its length.
- **Data.** ``inputs, targets`` are one batch, and L = ``loss_fn(model(inputs), targets)``. Or
  ``inputs`` is an iterable of ``(x, y)`` batches (a DataLoader) and ``targets`` is None: then
  L is the average over every sample, L = Σ_b n_b L_b / Σ_b n_b, each batch weighted by its
  size n_b (the length of x's first dimension) — which is right when ``loss_fn`` averages over
  its batch (``reduction="mean"``, torch's default). A DataLoader is iterated once per H·v; a
  one-shot iterator (a generator) is read into a list first. Tensors are moved to the
  parameters' device.
- **Mode.** Nothing here calls ``model.train()`` or ``model.eval()``: the Hessian is that of the
  model in the mode the caller set. In train mode dropout and batch normalization make L, and
  so H, depend on the random masks and the batch (and batch normalization updates its running
  statistics on every forward pass); call ``model.eval()`` first for the Hessian of the
  deterministic network. ``.grad`` fields are left untouched.
- **Precision.** H·v is computed in the parameters' dtype; the Lanczos vectors, the tridiagonal
  matrix and the results of the eigen-solvers are float64.
"""

from .product import LossFn as LossFn  # the type of loss_fn (ravine.distributed's too)
from .product import _HessianOperator as _HessianOperator  # benchmarks count its calls: H·v
from .product import (
    exact_hessian,
    flatten,
    hessian_vector_product,
    trainable_parameters,
    unflatten,
)
from .spectrum import WHICH as WHICH
from .spectrum import hessian_density, hessian_eigs, hessian_trace

__all__ = [
    "exact_hessian",
    "flatten",
    "hessian_density",
    "hessian_eigs",
    "hessian_trace",
    "hessian_vector_product",
    "trainable_parameters",
    "unflatten",
]
