"""Layer constant providers, keyed by the layer "type" of the description. Adding a layer type = one module
with a `LayerProvider` subclass plus one line here; the combinator is untouched."""

from __future__ import annotations

from ..errors import InputError
from .base import Context, Incoming, LayerInputs, LayerProvider
from .conv import ConvLIF
from .dense import DenseLIF
from .readout import Readout

PROVIDERS: dict[str, LayerProvider] = {p.kind: p for p in (DenseLIF(), ConvLIF(), Readout())}


def provider_for(kind: str) -> LayerProvider:
    if kind not in PROVIDERS:
        raise InputError(f"unknown layer type {kind!r}; expected one of {', '.join(PROVIDERS)}")
    return PROVIDERS[kind]


__all__ = ["PROVIDERS", "Context", "Incoming", "LayerInputs", "LayerProvider", "provider_for"]
