"""ravine: adaptive learning rates for PyTorch, from one rule.

    θ_i^{t+1} ← θ_i^t − (η^t / σ_i^t) · m_i^t

m is the direction (past gradients with their signs), σ the magnitude (past gradients' root
mean square), η^t the schedule. See :mod:`ravine.optim`.
"""

__version__ = "0.1.0"
