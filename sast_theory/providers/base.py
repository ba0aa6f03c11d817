"""The per-layer constant-provider protocol (one provider per layer kind of sast_theory.description).

A provider turns one layer record plus what the layer before hands over (`Incoming`) into the layer's numbers
(`LayerInputs`: norms or caps, leak, certified kappa, surrogate slopes, the P2/P3 factors) and what it hands to
the next layer. The same `LayerInputs` feed both independent paths: `numeric.layer_terms` (floats) and
`symbolic.layer_terms` (sympy, in the provider's own symbols, from `symbols`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from ..description import LayerRecord


@dataclass(frozen=True)
class Setting:
    """What one composition is computed under: the surrogate, the input bound X, and a priori (caps) or a
    posteriori (weights)."""

    surrogate: str
    beta: float
    input_bound: float
    posterior: bool


@dataclass(frozen=True)
class Incoming:
    """What layer l receives: input entries in [0, scale]; for a posteriori P2, the previous layer's per-neuron
    slope bounds (None for the raw input), its membrane shape and its pooling size."""

    scale: float
    slopes: np.ndarray | None = None
    shape: tuple[int, ...] = ()
    pool: int = 1


@dataclass(frozen=True)
class LayerInputs:
    """The numbers of one layer that every constant is composed from (a priori or a posteriori)."""

    index: int  # 1-based layer number l
    kind: str
    name: str
    spiking: bool
    n_in: int
    scale_in: float  # S_{l-1}
    c: float  # ||W||_inf (bound)
    omega: float  # ||W||_2 (certified bound)
    bbar: float  # ||b||_inf (bound)
    taubar: float
    theta: float
    reset: str
    r0: float
    kappa1: float  # sup |r'| over the state interval (1 for the readout)
    kappa2: float  # sup |r''| over the state interval (0 for the readout)
    slope: float  # sup phi' along trajectories (M1 a priori)
    curvature: float  # sup |phi''| along trajectories (M2 a priori)
    a: float  # ||dW s + db|| <= a ||(dW, db)||
    q: float  # ||dW||_op <= q ||dW||_F
    pool_gain: float  # ||P|| of the output map (1/k for k x k average pooling, else 1)
    gain: float | None  # a posteriori ||W P_{l-1} diag(slopes_{l-1})||; None a priori (composed symbolically)
    detail: dict[str, Any] = field(default_factory=dict, compare=False)  # per-neuron intervals etc. (report)


class LayerProvider(ABC):
    """One layer type: its numbers and its symbols. Registered by the record's `kind` in providers/__init__."""

    kind: str
    spiking: bool

    @abstractmethod
    def inputs(
        self, record: LayerRecord, incoming: Incoming, index: int, setting: Setting
    ) -> tuple[LayerInputs, Incoming]:
        """This layer's numbers and what it hands to the next layer."""

    @abstractmethod
    def param_factors(self, index: int, scale_in: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        """(a, q) as sympy expressions in this layer's symbols (dense: sqrt(n S^2 + 1) and 1)."""

    def pool_expr(self, index: int) -> sp.Expr:
        """||P|| of the output map as a sympy expression."""
        return sp.Integer(1)

    def values(self, li: LayerInputs) -> dict[str, float]:
        """Values of the provider-specific symbols of `param_factors` and `pool_expr`."""
        return {}
