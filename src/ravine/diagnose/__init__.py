"""Diagnose why training is stuck: the Hessian H at θ, critical points, the training monitor,
and the doctor.

Near a critical point the lecture's Taylor expansion is L(θ) ≈ L(θ′) + ½ (θ − θ′)ᵀ H (θ − θ′);
the eigenvalues λ of H tell a local minimum (all λ > 0) from a saddle point (some λ < 0).
"""

from .critical import (
    KINDS,
    CriticalPoint,
    CriticalTraining,
    classify_critical_point,
    escape_direction,
    move_along,
    train_to_critical_point,
)
from .guide import (
    Guidance,
    RunNote,
    RunSummary,
    general_guide,
    mean_prediction_loss,
    summaries,
)
from .hessian import (
    exact_hessian,
    flatten,
    hessian_density,
    hessian_eigs,
    hessian_trace,
    hessian_vector_product,
    trainable_parameters,
    unflatten,
)
from .monitor import Diagnosis, Guard, Monitor, TrainingStopped, diagnose_training

__all__ = [
    "KINDS",
    "CriticalPoint",
    "CriticalTraining",
    "Diagnosis",
    "Guard",
    "Guidance",
    "Monitor",
    "RunNote",
    "RunSummary",
    "TrainingStopped",
    "classify_critical_point",
    "diagnose_training",
    "escape_direction",
    "exact_hessian",
    "flatten",
    "general_guide",
    "hessian_density",
    "hessian_eigs",
    "hessian_trace",
    "hessian_vector_product",
    "mean_prediction_loss",
    "move_along",
    "summaries",
    "train_to_critical_point",
    "trainable_parameters",
    "unflatten",
]
