"""Conv LIF block: conv (stride s, zero padding p) -> LIF -> k x k average pooling (||P|| = 1/k).

Parameter factors (docs/theory.md, P3): with h = ceil(kh/s) ceil(kw/s) (the most output positions one input
pixel feeds) and P_out output positions, ||dK * x|| <= ||dK||_F sqrt(h) ||x||, and the bias is shared over
positions, so ||dK * s + db|| <= sqrt(S^2 m + P_out) ||(dK, db)||, m = min(P_out C_in kh kw, h n_in);
q = sqrt(h).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from .. import intervals, norms
from ..description import ConvLIFRecord
from .base import Incoming, LayerInputs, LayerProvider, Setting
from .spiking import caps_of, spiking_numbers


def geometry(record: ConvLIFRecord) -> tuple[int, float, int]:
    """(h, m, P_out) of the module docstring."""
    kh, kw = record.kernel
    c_in = record.in_shape[0]
    positions = math.prod(record.lif_shape[1:])
    feeds = math.ceil(kh / record.stride) * math.ceil(kw / record.stride)
    return feeds, float(min(positions * c_in * kh * kw, feeds * record.n_in)), positions


class ConvLIFProvider(LayerProvider):
    kind = ConvLIFRecord.kind
    spiking = True

    def inputs(
        self, record: ConvLIFRecord, incoming: Incoming, index: int, setting: Setting
    ) -> tuple[LayerInputs, Incoming]:
        if setting.posterior:
            kernel, bias = record.weight, record.bias
            c, omega = norms.inf_norm(kernel), norms.conv_spectral_bound(kernel, record.in_shape[1:], record.padding)
            bbar = float(np.max(np.abs(bias), initial=0.0))
            ranges = intervals.current_ranges(self.kind, kernel, bias, incoming.scale, record.lif_shape)
        else:
            (c, omega, bbar), ranges = caps_of(record), None
        nums = spiking_numbers(record, incoming, setting, c, bbar, ranges)
        slopes = nums.pop("slopes")
        feeds, m, positions = geometry(record)
        gain = None
        if setting.posterior:
            previous = 1.0 if incoming.slopes is None else float(incoming.slopes.max()) / incoming.pool
            gain = omega * previous
        pool = record.pool
        nums["detail"]["geometry"] = {
            f"m_{index}": m,
            f"P_{index}": float(positions),
            f"h_{index}": float(feeds),
            f"k_{index}": float(pool),
        }
        li = LayerInputs(
            index=index,
            kind=self.kind,
            name=record.name,
            spiking=True,
            n_in=record.n_in,
            scale_in=incoming.scale,
            c=c,
            omega=omega,
            bbar=bbar,
            a=math.sqrt(incoming.scale**2 * m + positions),
            q=math.sqrt(feeds),
            pool_gain=norms.pooling_norm(pool),
            gain=gain,
            **nums,
        )
        return li, Incoming(1.0, slopes, record.lif_shape, pool)

    def param_factors(self, index: int, scale_in: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
        m, positions, feeds = (sp.Symbol(f"{name}_{index}", positive=True) for name in ("m", "P", "h"))
        return sp.sqrt(scale_in**2 * m + positions), sp.sqrt(feeds)

    def pool_expr(self, index: int) -> sp.Expr:
        return 1 / sp.Symbol(f"k_{index}", positive=True)

    def values(self, li: LayerInputs) -> dict[str, float]:
        return dict(li.detail["geometry"])
