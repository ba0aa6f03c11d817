"""Dense LIF layer: I = W s + b with W (n_out, n_in); a = sqrt(n_in S^2 + 1), q = 1 (||dW||_2 <= ||dW||_F)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from .. import intervals, norms
from ..description import DenseLIFRecord, DenseRecord
from .base import Incoming, LayerInputs, LayerProvider, Setting
from .spiking import caps_of, spiking_numbers


def expanded_weight(weight: np.ndarray, incoming: Incoming) -> np.ndarray:
    """W P_{l-1}: a dense weight seen from the previous layer's membrane (k x k average pooling spread out)."""
    if incoming.pool == 1:
        return weight
    channels, height, width = incoming.shape
    k = incoming.pool
    grid = weight.reshape(weight.shape[0], channels, height // k, width // k)
    spread = np.repeat(np.repeat(grid, k, axis=2), k, axis=3) / k**2
    full = np.zeros((weight.shape[0], channels, height, width))
    full[:, :, : spread.shape[2], : spread.shape[3]] = spread
    return full.reshape(weight.shape[0], -1)


def dense_gain(weight: np.ndarray, incoming: Incoming) -> float:
    """Certified ||W P_{l-1} diag(slopes_{l-1})|| (a posteriori P2 factor); ||W|| on the raw input."""
    if incoming.slopes is None:
        return norms.dense_spectral_norm(weight)
    return norms.dense_spectral_norm(expanded_weight(weight, incoming) * incoming.slopes[None, :])


def dense_norms(record: DenseRecord, setting: Setting) -> tuple[float, float, float]:
    """(c, omega, bbar): caps a priori, certified norms of W and b a posteriori."""
    if not setting.posterior:
        return caps_of(record)
    weight, bias = record.weight, record.bias
    return norms.inf_norm(weight), norms.dense_spectral_norm(weight), float(np.max(np.abs(bias), initial=0.0))


def dense_layer_inputs(
    provider: LayerProvider,
    record: DenseRecord,
    incoming: Incoming,
    index: int,
    setting: Setting,
    norm_bounds: tuple[float, float, float],
    **numbers: Any,
) -> LayerInputs:
    """The LayerInputs of a layer with a dense operator: (c, omega, bbar) = `norm_bounds`, a = sqrt(n_in S^2 + 1),
    q = 1, no pooling, and `numbers` (leak, reset, kappa, slopes) from the provider."""
    c, omega, bbar = norm_bounds
    return LayerInputs(
        index=index,
        kind=provider.kind,
        name=record.name,
        spiking=provider.spiking,
        n_in=record.n_in,
        scale_in=incoming.scale,
        c=c,
        omega=omega,
        bbar=bbar,
        a=math.sqrt(record.n_in * incoming.scale**2 + 1),
        q=1.0,
        pool_gain=1.0,
        gain=dense_gain(record.weight, incoming) if setting.posterior else None,
        **numbers,
    )


class DenseLIFProvider(LayerProvider):
    kind = DenseLIFRecord.kind
    spiking = True

    def inputs(
        self, record: DenseLIFRecord, incoming: Incoming, index: int, setting: Setting
    ) -> tuple[LayerInputs, Incoming]:
        c, omega, bbar = dense_norms(record, setting)
        ranges = (
            intervals.current_ranges(self.kind, record.weight, record.bias, incoming.scale, record.lif_shape)
            if setting.posterior
            else None
        )
        nums = spiking_numbers(record, incoming, setting, c, bbar, ranges)
        slopes = nums.pop("slopes")
        li = dense_layer_inputs(self, record, incoming, index, setting, (c, omega, bbar), **nums)
        return li, Incoming(1.0, slopes, record.lif_shape, 1)

    def param_factors(self, index: int, scale_in: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        return sp.sqrt(sp.Symbol(f"n_{index}", positive=True) * scale_in**2 + 1), sp.Integer(1)

    def values(self, li: LayerInputs) -> dict[str, float]:
        return {f"n_{li.index}": float(li.n_in)}
