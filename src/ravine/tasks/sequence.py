"""The synthetic sequence task of the warm-up experiment: reverse a sequence of tokens.

data     2,048 sequences of LENGTH = 8 tokens drawn uniformly from VOCAB = 16 (a generator
         seeded with ``data_seed``); the target is the sequence reversed
model    ``transformer`` (the only one): token embedding + learned position embedding
         (d_model 32), one post-LN Transformer block — h ← LayerNorm(h + SelfAttention(h)),
         h ← LayerNorm(h + MLP(h)), 4 heads, MLP of width 128 with ReLU — and a linear
         read-out to the vocabulary; post-LN is the original Transformer's layout
loss     cross-entropy per position (chance: ln 16 ≈ 2.77 nats)
metric   token accuracy
"""

from __future__ import annotations

import torch
from torch import nn

from .base import Task
from .losses import accuracy, cross_entropy, pick_loss

VOCAB, LENGTH = 16, 8
D_MODEL, HEADS = 32, 4
SEQUENCES = 2048
SEQUENCE_MODEL = "transformer"


class ReverseModel(nn.Module):
    """Embeddings, one post-LN self-attention block, a linear read-out: tokens (B, L) →
    logits (B, L, VOCAB). Initialized from the global random state (seed it first)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D_MODEL)
        self.position = nn.Parameter(0.02 * torch.randn(LENGTH, D_MODEL))
        self.attention = nn.MultiheadAttention(D_MODEL, HEADS, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(D_MODEL), nn.LayerNorm(D_MODEL)
        self.mlp = nn.Sequential(
            nn.Linear(D_MODEL, 4 * D_MODEL), nn.ReLU(), nn.Linear(4 * D_MODEL, D_MODEL)
        )
        self.readout = nn.Linear(D_MODEL, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens) + self.position
        h = self.norm1(h + self.attention(h, h, h, need_weights=False)[0])
        h = self.norm2(h + self.mlp(h))
        return self.readout(h)


def reverse_data(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` sequences of LENGTH tokens and their reversals, each (count, LENGTH)."""
    tokens = torch.randint(0, VOCAB, (count, LENGTH), generator=generator)
    return tokens, tokens.flip(-1)


def reverse_model(seed: int = 0) -> nn.Module:
    """A :class:`ReverseModel` initialized from ``seed``; the global random state is kept."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ReverseModel()


def reverse_task(
    seed: int = 0, model: str | None = None, loss: str | None = None, data_seed: int = 0
) -> Task:
    """The reversal task: ``SEQUENCES`` sequences from ``data_seed``, model from ``seed``."""
    if model not in (None, SEQUENCE_MODEL):
        raise ValueError(f"task 'reverse' has one model, {SEQUENCE_MODEL!r}; got {model!r}")
    loss_name = loss or "cross-entropy"
    loss_fn = pick_loss("reverse", loss_name, {"cross-entropy": cross_entropy})
    inputs, targets = reverse_data(SEQUENCES, torch.Generator().manual_seed(data_seed))
    return Task(
        name="reverse",
        description=(
            f"reverse {LENGTH} tokens of {VOCAB} ({SEQUENCES} sequences) with a post-LN "
            f"attention block (d_model {D_MODEL}, {HEADS} heads), cross-entropy per token"
        ),
        inputs=inputs,
        targets=targets,
        make_model=reverse_model,
        loss_fn=loss_fn,
        seed=seed,
        model_spec=SEQUENCE_MODEL,
        loss_name=loss_name,
        metric=accuracy,
        metric_name="accuracy",
        classes=VOCAB,
    )
