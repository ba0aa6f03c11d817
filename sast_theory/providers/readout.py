"""Leaky readout: u = tau u + W s + b, no reset, no spike; logits = mean_t u (norm <= sup_t ||u||)."""

from __future__ import annotations

from typing import Any

import sympy as sp

from .. import intervals
from ..description import ReadoutRecord
from .base import Incoming, LayerInputs, LayerProvider, Setting
from .dense import DenseLIFProvider, dense_layer_inputs, dense_norms


class ReadoutProvider(LayerProvider):
    kind = ReadoutRecord.kind
    spiking = False

    def inputs(
        self, record: ReadoutRecord, incoming: Incoming, index: int, setting: Setting
    ) -> tuple[LayerInputs, Incoming]:
        norm_bounds = dense_norms(record, setting)
        detail: dict[str, Any] = {}
        if setting.posterior:
            tau = record.leaks
            low, high = intervals.current_ranges(
                self.kind, record.weight, record.bias, incoming.scale, record.lif_shape
            )
            lo, hi, certified = intervals.invariant_intervals(
                low, high, tau, "none", setting.surrogate, setting.beta, 0.0, 0.0
            )
            detail = {
                "current_low": low,
                "current_high": high,
                "interval_low": lo,
                "interval_high": hi,
                "interval_certified": certified,
            }
            taubar = float(tau.max())
        else:
            taubar = record.taubar
        li = dense_layer_inputs(self, record, incoming, index, setting, norm_bounds, taubar=taubar,
                                theta=record.theta, reset=record.reset, r0=0.0, kappa1=1.0, kappa2=0.0, slope=0.0,
                                curvature=0.0, detail=detail)
        return li, Incoming(0.0, None, record.lif_shape, 1)

    def param_factors(self, index: int, scale_in: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        return DenseLIFProvider().param_factors(index, scale_in)

    def values(self, li: LayerInputs) -> dict[str, float]:
        return DenseLIFProvider().values(li)
