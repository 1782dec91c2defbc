"""The lecture's model family for vector inputs x ∈ ℝ^d, written as specs ``name[:key=value,…]``:

    linear                               y = b + Σ_j w_j·x_j
    sigmoid[:units=K]                    y = b + Σ_i c_i·sigmoid(b_i + Σ_j w_ij·x_j)
    relu[:units=K]                       y = b + Σ_i c_i·ReLU(b_i + Σ_j w_ij·x_j)
    deep[:layers=L,units=K,activation=relu|sigmoid,norm=none|batch]
                                         L hidden layers of K units, each Linear – [BatchNorm] –
                                         activation, then a linear read-out

For several outputs (the logits of a classifier) y, b and c_i are vectors. Defaults: K = 64,
L = 3, activation relu, norm none. ``deep:layers=1`` is ``relu`` with the same K.

Every model is initialized as PyTorch initializes ``nn.Linear`` (uniform in ±1/√fan_in), from a
generator seeded with ``seed``; the global random state is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..validation import WHOLE, require

UNITS = 64  # K, hidden units per layer
LAYERS = 3  # L, hidden layers of a deep net
ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}
NORMS = ("none", "batch")

# name → the keys its spec accepts
MODELS: dict[str, tuple[str, ...]] = {
    "linear": (),
    "sigmoid": ("units",),
    "relu": ("units",),
    "deep": ("layers", "units", "activation", "norm"),
}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: ``layers`` hidden layers of ``units`` units (0 layers: linear)."""

    name: str
    layers: int
    units: int
    activation: str
    norm: str

    @property
    def spec(self) -> str:
        """The canonical spec text, every key written out (what ``parse_model`` reads back)."""
        if self.name == "linear":
            return "linear"
        if self.name in ("sigmoid", "relu"):
            return f"{self.name}:units={self.units}"
        return (
            f"deep:layers={self.layers},units={self.units},activation={self.activation},"
            f"norm={self.norm}"
        )

    def build(
        self, inputs: int, outputs: int, seed: int = 0, dtype: torch.dtype = torch.float32
    ) -> nn.Module:
        """A freshly initialized ``nn.Sequential`` mapping (N, inputs) → (N, outputs)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[nn.Module] = []
            width = inputs
            for _ in range(self.layers):
                layers.append(nn.Linear(width, self.units))
                if self.norm == "batch":
                    layers.append(nn.BatchNorm1d(self.units))
                layers.append(ACTIVATIONS[self.activation]())
                width = self.units
            layers.append(nn.Linear(width, outputs))
            model = nn.Sequential(*layers)
        return model.to(dtype)


def parse_model(spec: str) -> ModelSpec:
    """``"deep:layers=4,activation=sigmoid"`` → a :class:`ModelSpec`; ValueError naming what is
    wrong (unknown name or key, a value out of its domain) and what is valid."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"model spec must be text like 'relu:units=64', got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} in {spec!r}; valid: {', '.join(MODELS)}")
    values: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, text = (s.strip() for s in pair.partition("="))
        if not sep or not key or not text:
            raise ValueError(f"model spec {spec!r}: expected key=value, got {pair!r}")
        if key not in MODELS[name]:
            valid = ", ".join(MODELS[name]) or "none"
            raise ValueError(f"model {name!r} has no key {key!r}; valid keys: {valid}")
        values[key] = text
    layers = {"linear": 0, "sigmoid": 1, "relu": 1}.get(name, LAYERS)
    activation = "sigmoid" if name == "sigmoid" else values.get("activation", "relu")
    require(activation in ACTIVATIONS, "activation", activation, f"one of {', '.join(ACTIVATIONS)}")
    norm = values.get("norm", "none")
    require(norm in NORMS, "norm", norm, f"one of {', '.join(NORMS)}")
    return ModelSpec(
        name=name,
        layers=_count_in_spec(values, "layers", layers),
        units=_count_in_spec(values, "units", UNITS),
        activation=activation,
        norm=norm,
    )


def _count_in_spec(values: dict[str, str], key: str, default: int) -> int:
    """The whole number >= 1 written for ``key`` in a spec (``default`` when it is not); the
    message shows the text as given."""
    text = values.get(key)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        number = None
    require(number is not None and number >= 1, key, text, f"{WHOLE} >= 1")
    return number
