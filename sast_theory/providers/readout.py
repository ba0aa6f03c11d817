"""Leaky readout: u = tau u + W s + b, no reset, no spike; logits = mean_t u (norm <= sup_t ||u||)."""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

from .. import intervals
from .base import Context, Incoming, LayerInputs, LayerProvider
from .dense import DenseLIF, dense_gain, dense_norms
from .spiking import leak_values


class Readout(LayerProvider):
    kind = "readout"
    spiking = False

    def inputs(
        self, record: dict[str, Any], incoming: Incoming, index: int, ctx: Context
    ) -> tuple[LayerInputs, Incoming]:
        c, omega, bbar = dense_norms(record, ctx)
        n_in, n_out = int(record["n_in"]), int(record["n_out"])
        detail: dict[str, Any] = {}
        if ctx.posterior:
            tau = leak_values(record, n_out)
            low, high = intervals.current_ranges(
                self.kind, record["weight"], record["bias"], incoming.scale, record["lif_shape"]
            )
            lo, hi, certified = intervals.invariant_intervals(low, high, tau, "none", ctx.surrogate, ctx.beta, 0.0, 0.0)
            detail = {
                "current_low": low,
                "current_high": high,
                "interval_low": lo,
                "interval_high": hi,
                "interval_certified": certified,
            }
            taubar = float(tau.max())
        else:
            taubar = float(record["taubar"])
        li = LayerInputs(
            index=index,
            kind=self.kind,
            name=str(record["name"]),
            spiking=False,
            n_in=n_in,
            scale_in=incoming.scale,
            c=c,
            omega=omega,
            bbar=bbar,
            taubar=taubar,
            theta=0.0,
            reset="none",
            r0=0.0,
            kappa1=1.0,
            kappa2=0.0,
            slope=0.0,
            curvature=0.0,
            a=math.sqrt(n_in * incoming.scale**2 + 1),
            q=1.0,
            pool_gain=1.0,
            gain=dense_gain(record["weight"], incoming) if ctx.posterior else None,
            detail=detail,
        )
        return li, Incoming(0.0, None, tuple(record["lif_shape"]), 1)

    def param_factors(self, index: int, scale_in: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        return DenseLIF().param_factors(index, scale_in)

    def values(self, li: LayerInputs) -> dict[str, float]:
        return DenseLIF().values(li)
