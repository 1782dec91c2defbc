"""Two-parameter error surfaces from the lecture, with exact gradients and Hessians.

Every function takes θ of shape (..., 2) — any number of points or runs at once — and returns
the loss (...), the gradient (..., 2) or the Hessian (..., 2, 2), in float64 unless θ is
another floating dtype.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np
import torch

Point = tuple[float, float]
Bounds = tuple[Point, Point]

# The course's Pokémon demo (ML 2017 homework 1 demo): x = CP before, y = CP after evolution.
POKEMON_X = (338.0, 333.0, 328.0, 207.0, 226.0, 25.0, 179.0, 60.0, 208.0, 606.0)
POKEMON_Y = (640.0, 633.0, 619.0, 393.0, 428.0, 27.0, 193.0, 66.0, 226.0, 1591.0)


class Surface(ABC):
    """A loss L(θ1, θ2) with its exact gradient and Hessian.

    ``minima`` are its global minima θ* (``minimum``, the first of them, is the only one on
    most surfaces; ``saddle`` has two), ``saddle_points`` the saddle points its picture shows,
    ``start`` the default starting point, ``bounds`` the plot window ((θ1 low, θ1 high),
    (θ2 low, θ2 high)), ``labels`` the parameters' names. Distances to θ* are measured to the
    nearest minimum (:meth:`distance`).
    """

    name: str
    labels: tuple[str, str]
    start: Point
    bounds: Bounds
    description: str

    @abstractmethod
    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """L(θ) for θ of shape (..., 2)."""

    @abstractmethod
    def gradient(self, theta: torch.Tensor) -> torch.Tensor:
        """∇L(θ), shape (..., 2)."""

    # ∇L at one point (θ1, θ2) given and returned as two Python floats, the same formula as
    # ``gradient``: a single descent's loop then runs without a tensor operation per step
    # (:func:`ravine.surfaces.descend`). None for a surface without it (it steps on tensors).
    point_gradient: Callable[[float, float], Point] | None = None

    def hessian(self, theta: torch.Tensor) -> torch.Tensor:
        """∇²L(θ), shape (..., 2, 2); by double backward unless a subclass has it closed form."""
        theta = theta.detach()
        flat = theta.reshape(-1, 2)
        rows = [torch.autograd.functional.hessian(self.loss, point) for point in flat]
        return torch.stack(rows).reshape(*theta.shape, 2)

    @property
    @abstractmethod
    def minimum(self) -> Point:
        """The global minimum θ*; where there are several, the first of :attr:`minima`."""

    @property
    def minima(self) -> tuple[Point, ...]:
        """Every global minimum θ*: by default the one :attr:`minimum`."""
        return (self.minimum,)

    saddle_points: tuple[Point, ...] = ()  # saddle points marked (and named) on a map

    def nearest_minimum(self, theta: torch.Tensor) -> torch.Tensor:
        """The minimum θ* nearest each θ of shape (..., 2), shape (..., 2) in θ's dtype."""
        return nearest(theta, self.minima)[0]

    def distance(self, theta: torch.Tensor) -> torch.Tensor:
        """‖θ − θ*‖ to the nearest minimum, shape (...): finite wherever the true distance is
        (no overflow for a start far away)."""
        return nearest(theta, self.minima)[1]

    def __repr__(self) -> str:
        return f"<surface {self.name}: {self.description}>"


class Quadratic(Surface):
    """L(θ) = θᵀAθ − 2vᵀθ + c: gradient 2(Aθ − v), Hessian 2A, minimum A⁻¹v."""

    def __init__(self, a: torch.Tensor, v: torch.Tensor, c: float) -> None:
        self.a = a.to(torch.float64)
        self.v = v.to(torch.float64)
        self.c = float(c)
        self._two_a = 2 * self.a
        self._minus_two_v = -2 * self.v
        self._as_floats = (*self._two_a.tolist(), self._minus_two_v.tolist())

    def loss(self, theta):
        a, v = self.a.to(theta.dtype), self.v.to(theta.dtype)
        return ((theta @ a) * theta).sum(-1) - 2 * (theta @ v) + self.c

    def gradient(self, theta):
        two_a, minus_two_v = self._two_a, self._minus_two_v
        if theta.dtype != two_a.dtype:
            two_a, minus_two_v = two_a.to(theta.dtype), minus_two_v.to(theta.dtype)
        if theta.dim() == 2:  # the descent loop's shape: one fused op
            return torch.addmm(minus_two_v, theta, two_a)
        return theta @ two_a + minus_two_v

    def point_gradient(self, x: float, y: float) -> Point:
        (a, b), (c, d), (u, v) = self._as_floats  # 2(Aθ − v), written out
        return x * a + y * c + u, x * b + y * d + v

    def hessian(self, theta):
        return self._two_a.to(theta.dtype).expand(*theta.shape[:-1], 2, 2)

    @property
    def minimum(self) -> Point:
        b, w = torch.linalg.solve(self.a, self.v).tolist()
        return (b, w)


class LinearRegression(Quadratic):
    """L(b, w) = Σ_n (y_n − b − w·x_n)², summed as the course's demo sums it. A quadratic in
    (b, w) with A = [[N, Σx], [Σx, Σx²]], v = [Σy, Σxy], c = Σy²."""

    labels = ("b", "w")

    def __init__(self, x: tuple[float, ...], y: tuple[float, ...]) -> None:
        xs = torch.tensor(x, dtype=torch.float64)
        ys = torch.tensor(y, dtype=torch.float64)
        self.x, self.y = xs, ys
        a = torch.stack(
            [torch.stack([torch.tensor(float(len(x))), xs.sum()]), torch.stack([xs.sum(), xs @ xs])]
        )
        super().__init__(a, torch.stack([ys.sum(), xs @ ys]), float(ys @ ys))

    def loss(self, theta):
        # from the residuals: exact near the minimum, where the quadratic form cancels
        x, y = self.x.to(theta.dtype), self.y.to(theta.dtype)
        residual = y - theta[..., :1] - theta[..., 1:] * x
        return (residual * residual).sum(-1)


class Pokemon(LinearRegression):
    """The course's demo: y = b + w·x on ten Pokémon. Flat along b, steep along w (the Hessian's
    eigenvalues differ by a factor of about 10⁵)."""

    name = "pokemon"
    start = (-120.0, -4.0)
    bounds = ((-200.0, -100.0), (-5.0, 5.0))
    description = "Σ (y − b − w·x)² on the course's ten Pokémon: flat along b, steep along w"

    def __init__(self) -> None:
        super().__init__(POKEMON_X, POKEMON_Y)


class PokemonNormalized(LinearRegression):
    """The same data with x standardized, x' = (x − mean)/std: the Hessian becomes 2N·I, the
    valley round, and one gradient step of η = 1/(2N) lands on the minimum."""

    name = "pokemon-normalized"
    description = "the Pokémon loss with x standardized: a round bowl"

    def __init__(self) -> None:
        xs = torch.tensor(POKEMON_X, dtype=torch.float64)
        standardized = (xs - xs.mean()) / xs.std(unbiased=False)
        super().__init__(tuple(standardized.tolist()), POKEMON_Y)
        b, w = self.minimum
        self.start = (b - 300.0, w - 300.0)
        self.bounds = ((b - 400.0, b + 400.0), (w - 400.0, w + 400.0))


class Minimum(Quadratic):
    """L(x, y) = x² + 2·y²: a local (here also global) minimum at the origin; the Hessian
    diag(2, 4) is positive definite."""

    name = "minimum"
    labels = ("θ1", "θ2")
    start = (1.5, -1.2)
    bounds = ((-2.0, 2.0), (-2.0, 2.0))
    description = "x² + 2y²: a local minimum at (0, 0), both Hessian eigenvalues > 0"

    def __init__(self) -> None:
        super().__init__(torch.diag(torch.tensor([1.0, 2.0])), torch.zeros(2), 0.0)


class Valley(Surface):
    """L(w1, w2) = 400·log cosh(w1) + ½·w2², the lecture's first figure: a convex valley, steep
    across (curvature 400 on its floor, slope up to 400 on its walls) and flat along
    (curvature 1), minimum at (0, 0).

    Gradient descent with η = 1e-2 overshoots the floor (η·400 = 4 > 2) and settles into
    bouncing between the walls at w1 ≈ ±1.915, where the gradient stays about 383 while the
    loss stops falling; with η = 1e-7 it creeps down the wall without bouncing and, after
    100,000 updates, has moved along the flat w2 by only about 1%.
    """

    name = "valley"
    labels = ("w1", "w2")
    start = (3.0, 8.0)
    bounds = ((-4.0, 4.0), (-2.0, 10.0))
    description = "400·log cosh(w1) + ½·w2²: steep across, flat along"
    steep = 400.0

    def loss(self, theta):
        w1, w2 = theta[..., 0], theta[..., 1]
        # log cosh(w) = |w| + log1p(e^{−2|w|}) − log 2, stable for large |w|
        a = w1.abs()
        return self.steep * (a + torch.log1p(torch.exp(-2 * a)) - math.log(2)) + 0.5 * w2 * w2

    def gradient(self, theta):
        return torch.stack(self._gradient(theta[..., 0], theta[..., 1], torch.tanh), dim=-1)

    def point_gradient(self, x: float, y: float) -> Point:
        return self._gradient(x, y, math.tanh)

    def _gradient(self, w1, w2, tanh):
        return self.steep * tanh(w1), w2

    def hessian(self, theta):
        w1 = theta[..., 0]
        out = torch.zeros(*theta.shape[:-1], 2, 2, dtype=theta.dtype)
        out[..., 0, 0] = self.steep / torch.cosh(w1) ** 2
        out[..., 1, 1] = 1.0
        return out

    @property
    def minimum(self) -> Point:
        return (0.0, 0.0)


class Saddle(Surface):
    """L(x, y) = x² − y² + ¼·y⁴: a saddle point at (0, 0) — Hessian diag(2, −2), one negative
    eigenvalue whose eigenvector (0, 1) is the way out — and two minima at (0, ±√2), where
    ∂L/∂y = −2y + y³ vanishes again (y² = 2) and L = −2 + 1 = −1."""

    name = "saddle"
    labels = ("θ1", "θ2")
    start = (1.5, 1e-3)
    bounds = ((-2.0, 2.0), (-2.2, 2.2))
    description = "x² − y² + y⁴/4: a saddle at (0, 0), minima at (0, ±√2)"
    saddle_points = ((0.0, 0.0),)

    def loss(self, theta):
        x, y = theta[..., 0], theta[..., 1]
        return x * x - y * y + 0.25 * y**4

    def gradient(self, theta):
        return torch.stack(self._gradient(theta[..., 0], theta[..., 1]), dim=-1)

    def point_gradient(self, x: float, y: float) -> Point:
        return self._gradient(x, y)

    @staticmethod
    def _gradient(x, y):
        return 2 * x, -2 * y + y * y * y  # (y·y·y: a float's y**3 raises on overflow)

    def hessian(self, theta):
        y = theta[..., 1]
        out = torch.zeros(*theta.shape[:-1], 2, 2, dtype=theta.dtype)
        out[..., 0, 0] = 2.0
        out[..., 1, 1] = -2.0 + 3 * y * y
        return out

    @property
    def minimum(self) -> Point:
        return self.minima[0]

    @property
    def minima(self) -> tuple[Point, ...]:
        root = math.sqrt(2.0)  # y² = 2
        return ((0.0, root), (0.0, -root))


class Crescent(Surface):
    """A curved (crescent-shaped) valley whose floor's slope goes steep → flat → steep → 0:

        L(θ1, θ2) = h(θ1) + 5·(θ2 − 0.25·θ1²)²,
        h'(θ1) = θ1·(0.3 + 8·s(10·(θ1 − 2.5)) + 24·s(10·(1.5 − θ1)))

    with s the logistic function: descending from θ1 = 4, the slope h' along θ1 is steep
    above 2.5 (33 at θ1 = 4), flat between 1.5 and 2.5 (1.0 at θ1 = 2), steep again below 1.5
    (28 at θ1 = 1.25) and vanishes at the minimum (0, 0). The RMSProp argument: the same
    parameter needs a small step, then a large one, then a small one again.
    """

    name = "crescent"
    labels = ("θ1", "θ2")
    start = (4.0, 4.0)
    bounds = ((-1.0, 4.5), (-1.0, 5.5))
    description = "a curved valley whose slope along θ1 goes steep → flat → steep"
    _bend = 0.25
    _wall = 5.0

    @staticmethod
    def _slope(x, sigmoid=torch.sigmoid):
        return x * (0.3 + 8 * sigmoid(10 * (x - 2.5)) + 24 * sigmoid(10 * (1.5 - x)))

    def loss(self, theta):
        x, y = theta[..., 0], theta[..., 1]
        # h(x) = ∫₀ˣ h'(u) du by Gauss–Legendre quadrature, 64 nodes on each of the pieces
        # [0, 1.5], [1.5, 2.5], [2.5, x] that x reaches (the slope turns at 1.5 and 2.5), which
        # is exact to rounding
        nodes, weights = _gauss_legendre(64, theta.dtype)
        ends = [torch.where(x >= 0, x.clamp(0, corner), x) for corner in (1.5, 2.5)] + [x]
        h = torch.zeros_like(x)
        low = torch.zeros_like(x)
        for high in ends:
            half = (high - low) / 2
            u = (low + half).unsqueeze(-1) + half.unsqueeze(-1) * nodes
            h = h + (self._slope(u) * weights).sum(-1) * half
            low = high
        return h + self._wall * (y - self._bend * x * x) ** 2

    def gradient(self, theta):
        return torch.stack(self._gradient(theta[..., 0], theta[..., 1], torch.sigmoid), dim=-1)

    def point_gradient(self, x: float, y: float) -> Point:
        return self._gradient(x, y, _sigmoid)

    def _gradient(self, x, y, sigmoid):
        floor = y - self._bend * x * x
        gx = self._slope(x, sigmoid) - 4 * self._wall * self._bend * x * floor
        return gx, 2 * self._wall * floor

    @property
    def minimum(self) -> Point:
        return (0.0, 0.0)


def the_minimum(minima: Sequence[Point] | None) -> str:
    """How θ* is named in words: "the nearest minimum" where a surface has several."""
    return "the nearest minimum" if len(minima or ()) > 1 else "the minimum"


def nearest(theta: torch.Tensor, points: Sequence[Point]) -> tuple[torch.Tensor, torch.Tensor]:
    """For θ of shape (..., 2): the point of ``points`` nearest each θ, (..., 2), and the
    distance ‖θ − θ*‖ to it, (...), both in θ's dtype. A tie goes to the earlier point."""
    targets = torch.tensor(points, dtype=theta.dtype).reshape(-1, 2)
    if len(targets) == 1:
        return targets[0].expand(theta.shape), length(theta - targets[0])
    lengths = length(theta.unsqueeze(-2) - targets)  # (..., K)
    return targets[lengths.argmin(-1)], lengths.min(-1).values


def length(d: torch.Tensor) -> torch.Tensor:
    """‖d‖ over the last axis without overflow or underflow: where the squares fit the dtype
    (their largest component between √tiny/ε and √max/2, or 0) exactly vector_norm's sum of
    squares, elsewhere the same norm of d scaled by its largest component (math.hypot's
    scaling): ‖(10²⁰⁰, 0)‖ = 10²⁰⁰, not inf."""
    plain = torch.linalg.vector_norm(d, dim=-1)
    scale = d.abs().amax(-1)
    info = torch.finfo(d.dtype)
    fits = (scale >= math.sqrt(info.tiny) / info.eps) & (scale <= math.sqrt(info.max) / 2)
    fits |= (scale == 0) | ~torch.isfinite(scale)
    if bool(fits.all()):
        return plain
    divisor = torch.where(fits, torch.ones_like(scale), scale).unsqueeze(-1)
    return torch.where(fits, plain, scale * torch.linalg.vector_norm(d / divisor, dim=-1))


def _sigmoid(z: float) -> float:
    """1/(1 + e^{−z}) for a float, without overflow for any z."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _gauss_legendre(n: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return torch.tensor(nodes, dtype=dtype), torch.tensor(weights, dtype=dtype)


def _softplus(z: torch.Tensor) -> torch.Tensor:
    """log(1 + e^z), as z + log(1 + e^{−z}) for z > 0 and log(1 + e^z) otherwise: exact and
    finite for every z, and so are its first and second derivatives under autograd (each
    branch is evaluated only where it is used, so the unused one cannot overflow). torch's
    softplus returns z itself above its threshold 20, off by e^{−z} ≈ 2·10⁻⁹ there, which broke
    the loss's agreement with its closed-form gradient."""
    positive = z > 0
    zero = torch.zeros_like(z)
    above, below = torch.where(positive, z, zero), torch.where(positive, zero, z)
    return torch.where(
        positive, above + torch.log1p(torch.exp(-above)), torch.log1p(torch.exp(below))
    )


class Classification(Surface):
    """A two-parameter softmax classifier on a fixed 1-D data set (Lecture 2**): logits
    (w·x + b, 0), so p(class 1) = softmax(...)₀ = sigmoid(w·x + b), for 12 points of two
    classes. ``loss_kind`` is ``"mse"`` (squared distance between the softmax output and the
    one-hot label, summed over classes and averaged over points) or ``"cross-entropy"``.

    Started far on the wrong side, (w, b) = (−6, −6), every output is confidently wrong: MSE is
    nearly flat there (its gradient carries p·(1 − p) ≈ 0) while cross-entropy's is not.
    """

    labels = ("w", "b")
    start = (-6.0, -6.0)
    bounds = ((-10.0, 10.0), (-10.0, 10.0))

    def __init__(self, loss_kind: str) -> None:
        if loss_kind not in ("mse", "cross-entropy"):
            raise ValueError(f"loss_kind must be 'mse' or 'cross-entropy', got {loss_kind!r}")
        self.loss_kind = loss_kind
        self.name = f"classification-{'mse' if loss_kind == 'mse' else 'ce'}"
        self.description = f"softmax classifier, two parameters, {loss_kind} loss"
        self.x = torch.tensor(
            [-2.5, -2.0, -1.6, -1.1, -0.7, -0.2, 0.3, 0.6, 1.0, 1.5, 2.1, 2.6], dtype=torch.float64
        )
        self.label = torch.tensor([0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1], dtype=torch.float64)

    def _probability(self, theta):
        w, b = theta[..., :1], theta[..., 1:]
        return torch.sigmoid(w * self.x.to(theta.dtype) + b)  # p(class 1), shape (..., N)

    def loss(self, theta):
        p = self._probability(theta)
        label = self.label.to(theta.dtype)
        if self.loss_kind == "mse":  # (p − y)² + ((1 − p) − (1 − y))² = 2(p − y)²
            return (2 * (p - label) ** 2).mean(-1)
        z = theta[..., :1] * self.x.to(theta.dtype) + theta[..., 1:]
        # −[y·log p + (1 − y)·log(1 − p)] = y·softplus(−z) + (1 − y)·softplus(z)
        return (_softplus(-z) * label + _softplus(z) * (1 - label)).mean(-1)

    def gradient(self, theta):
        p = self._probability(theta)
        label = self.label.to(theta.dtype)
        if self.loss_kind == "mse":
            dz = 4 * (p - label) * p * (1 - p)  # dL/dz: vanishes where p saturates
        else:
            dz = p - label  # does not
        x = self.x.to(theta.dtype)
        return torch.stack([(dz * x).mean(-1), dz.mean(-1)], dim=-1)

    @property
    def minimum(self) -> Point:
        theta = torch.zeros(2, dtype=torch.float64)  # inside the basin, away from saturation
        for _ in range(200):  # Newton's method on this smooth 2-D problem
            step = torch.linalg.solve(self.hessian(theta), self.gradient(theta))
            theta = theta - step
            if float(step.abs().max()) < 1e-13:
                break
        w, b = theta.tolist()
        return (w, b)


class TwoMinima(Surface):
    """A tilted double well along a slanted valley: a shallow local minimum, a bump, and a
    deeper minimum (the lecture's ball that momentum rolls over the hill):

        L(θ1, θ2) = (θ1² − 1)² + a·θ1 + (θ2 − c·θ1)²,   a = 0.3, c = 0.5
        ∇L = (4θ1(θ1² − 1) + a − 2c·(θ2 − c·θ1),  2(θ2 − c·θ1))
        ∇²L = [[12θ1² − 4 + 2c², −2c], [−2c, 2]],   det ∇²L = 2·(12θ1² − 4)

    The critical points lie on the floor θ2 = c·θ1 where 4θ1³ − 4θ1 + a = 0: θ1 ≈ −1.036 (the
    global minimum, L ≈ −0.305), θ1 ≈ 0.075 (a saddle, the top of the bump, L ≈ 1.01) and
    θ1 ≈ 0.960 (a local minimum, L ≈ 0.294). Gradient descent from the default start (2, 1.5)
    settles in the shallow one.
    """

    name = "two-minima"
    labels = ("θ1", "θ2")
    start = (2.0, 1.5)
    bounds = ((-2.0, 2.5), (-1.8, 2.2))
    description = "(θ1² − 1)² + 0.3·θ1 + (θ2 − θ1/2)²: a shallow minimum, a bump, a deeper one"
    tilt = 0.3  # a
    slant = 0.5  # c

    def loss(self, theta):
        x, y = theta[..., 0], theta[..., 1]
        well = x * x - 1
        floor = y - self.slant * x
        return well * well + self.tilt * x + floor * floor

    def gradient(self, theta):
        return torch.stack(self._gradient(theta[..., 0], theta[..., 1]), dim=-1)

    def point_gradient(self, x: float, y: float) -> Point:
        return self._gradient(x, y)

    def _gradient(self, x, y):
        floor = y - self.slant * x
        return 4 * x * (x * x - 1) + self.tilt - 2 * self.slant * floor, 2 * floor

    def hessian(self, theta):
        x = theta[..., 0]
        out = torch.empty(*theta.shape[:-1], 2, 2, dtype=theta.dtype)
        out[..., 0, 0] = 12 * x * x - 4 + 2 * self.slant**2
        out[..., 0, 1] = out[..., 1, 0] = -2 * self.slant
        out[..., 1, 1] = 2.0
        return out

    def critical_points(self) -> list[Point]:
        """The three critical points (θ1, c·θ1), θ1 the real roots of 4θ1³ − 4θ1 + a = 0 in
        increasing order: the global minimum, the saddle on the bump, the local minimum."""
        roots = sorted(float(r.real) for r in np.roots([4.0, 0.0, -4.0, self.tilt]))
        return [(x, self.slant * x) for x in roots]

    @property
    def minimum(self) -> Point:
        return self.critical_points()[0]

    @property
    def local_minimum(self) -> Point:
        """The shallow minimum, where gradient descent from the default start stops."""
        return self.critical_points()[2]


SURFACES: dict[str, Callable[[], Surface]] = {
    "pokemon": Pokemon,
    "pokemon-normalized": PokemonNormalized,
    "valley": Valley,
    "crescent": Crescent,
    "saddle": Saddle,
    "minimum": Minimum,
    "classification-mse": lambda: Classification("mse"),
    "classification-ce": lambda: Classification("cross-entropy"),
    "two-minima": TwoMinima,
}


def surface(name: str) -> Surface:
    """The surface called ``name``; ValueError listing the valid names otherwise."""
    if name not in SURFACES:
        raise ValueError(f"unknown surface {name!r}; valid: {', '.join(SURFACES)}")
    return SURFACES[name]()
