"""The combinator: runs the layer providers in order and composes the network constants on both paths.

It knows nothing about layer types (providers/__init__ dispatches on the record's `kind`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from sast_core.errors import InputError

from . import numeric, symbolic
from .description import NetworkDescription
from .providers import Incoming, LayerInputs, Setting, provider_for


@dataclass(frozen=True)
class Constants:
    """Every constant of one description, a priori (caps) or a posteriori (weights), on both paths."""

    posterior: bool
    setting: Setting
    layers: list[LayerInputs]
    layer_numeric: list[dict[str, float]]
    layer_symbolic: list[dict[str, sp.Expr]]
    network_numeric: dict[str, float]
    network_symbolic: dict[str, sp.Expr]
    values: dict[str, float]

    def symbolic_value(self, expr: sp.Expr) -> float:
        return symbolic.evaluate(expr, self.values)

    def disagreement(self) -> float:
        """Largest relative gap between the two paths over every finite constant."""
        pairs = [(n[key], s[key]) for n, s in zip(self.layer_numeric, self.layer_symbolic, strict=True) for key in n]
        pairs += [(self.network_numeric[key], self.network_symbolic[key]) for key in self.network_numeric]
        gaps = [
            abs(value - self.symbolic_value(expr)) / max(abs(value), 1e-300)
            for value, expr in pairs
            if math.isfinite(value)
        ]
        return max(gaps, default=0.0)


def compose(description: NetworkDescription, posterior: bool) -> Constants:
    """All constants of `description`; posterior=True uses its weights, False its caps (A3)."""
    if not isinstance(description, NetworkDescription):
        raise InputError(f"compose: expected a NetworkDescription, got {type(description).__name__}")
    setting = Setting(
        surrogate=description.surrogate, beta=description.beta, input_bound=description.input_bound,
        posterior=posterior,
    )
    if posterior and not description.has_weights:
        raise InputError("a posteriori constants need the weights in the description (a checkpoint)")
    incoming = Incoming(setting.input_bound)
    flow_n, flow_s = numeric.input_flow(setting.input_bound), symbolic.input_flow()
    layers, layer_n, layer_s, values = [], [], [], {}
    for index, record in enumerate(description.layers, start=1):
        li, incoming = provider_for(record.kind).inputs(record, incoming, index, setting)
        flow_n, terms_n = numeric.layer_terms(li, flow_n)
        flow_s, terms_s = symbolic.layer_terms(li, flow_s, setting.surrogate, posterior)
        values.update(symbolic.layer_values(li, setting.surrogate, setting.beta, setting.input_bound))
        layers.append(li)
        layer_n.append(terms_n)
        layer_s.append(terms_s)
    network_n, network_s = numeric.network_terms(flow_n), symbolic.network_terms(flow_s)
    return Constants(posterior, setting, layers, layer_n, layer_s, network_n, network_s, values)
