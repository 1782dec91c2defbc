"""The interactive explorer (``ravine explore``): a small local server over
:func:`ravine.surfaces.descend` and a page that only draws.

A student picks a surface, composes the rule θ_i^{t+1} ← θ_i^t − (η^t/σ_i^t)·m_i^t from m, σ,
η and η^t, and sees the path, the loss, σ and η/σ redrawn on every change.
"""

from .presets import preset
from .rules import Settings, settings
from .server import make_server

__all__ = ["Settings", "make_server", "preset", "settings"]
