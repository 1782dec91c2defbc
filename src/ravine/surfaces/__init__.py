"""Two-parameter error surfaces with exact gradients and Hessians, and descent on them."""

from .descend import Composition, Stopped, Trajectory, descend
from .library import (
    SURFACES,
    Classification,
    Crescent,
    Minimum,
    Pokemon,
    PokemonNormalized,
    Quadratic,
    Saddle,
    Surface,
    TwoMinima,
    Valley,
    surface,
)
from .module import SurfaceModel, surface_loss

__all__ = [
    "SURFACES",
    "Classification",
    "Composition",
    "Crescent",
    "Minimum",
    "Pokemon",
    "PokemonNormalized",
    "Quadratic",
    "Saddle",
    "Stopped",
    "Surface",
    "SurfaceModel",
    "Trajectory",
    "TwoMinima",
    "Valley",
    "descend",
    "surface",
    "surface_loss",
]
