"""Layer constant providers, keyed by the record's `kind` (sast_theory.description). Adding a layer type = one
module with a `LayerProvider` subclass plus one entry here; the combinator is untouched."""

from __future__ import annotations

from sast_core.errors import InputError

from .base import Incoming, LayerInputs, LayerProvider, Setting
from .conv import ConvLIFProvider
from .dense import DenseLIFProvider
from .readout import ReadoutProvider

PROVIDERS: dict[str, LayerProvider] = {p.kind: p for p in (DenseLIFProvider(), ConvLIFProvider(), ReadoutProvider())}


def provider_for(kind: str) -> LayerProvider:
    if kind not in PROVIDERS:
        raise InputError(f"unknown layer type {kind!r}; expected one of {', '.join(PROVIDERS)}")
    return PROVIDERS[kind]


__all__ = ["PROVIDERS", "Incoming", "LayerInputs", "LayerProvider", "Setting", "provider_for"]
