"""network_from_description: the inverse of `describe` (docs/describe_schema.md).

Builds a `LIFNetwork` in the plain parameterization (raw parameters == explicit W, b) from a description
with weights and copies the explicit weights, biases and leaks in, so that
`describe(network_from_description(describe(net)))` equals `describe(net)` (apart from `parameterization`,
`caps` and `taubar`, which the plain copy reports as `"plain"`, None and max(tau)), bit for bit in float64.

A `NetworkSpec` has one theta, reset, conv geometry and surrogate for all spiking layers; a description
whose layers differ in those raises InputError. Leaks are per-layer buffers, so each layer gets its own
tau (scalar, or per neuron: when any layer's tau is a list, every layer stores a per-neuron leak).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from sast_theory.description import has_weights, validate
from sast_theory.errors import InputError

from .networks import LIFNetwork
from .spec import NetworkSpec


def _same(layers: list[dict[str, Any]], key: str, what: str) -> Any:
    values = [layer[key] for layer in layers]
    if any(v != values[0] for v in values[1:]):
        raise InputError(f"network description: layers differ in {what} ({values}); a NetworkSpec has one "
                         f"{what} for all spiking layers")
    return values[0]


def _tau_max(layer: dict[str, Any]) -> float:
    return float(np.max(np.asarray(layer["tau"], dtype=np.float64)))


def spec_from_description(description: dict[str, Any]) -> NetworkSpec:
    """The plain NetworkSpec of a description (InputError when one spec cannot express it)."""
    validate(description)
    layers = description["layers"]
    spiking, readout = layers[:-1], layers[-1]
    conv = [layer for layer in spiking if layer["type"] == "conv_lif"]
    dense = [layer for layer in spiking if layer["type"] == "dense_lif"]
    if spiking[: len(conv)] != conv:
        raise InputError("network description: conv blocks must come before the dense layers")
    arch = description["arch"]
    if arch not in ("mlp", "conv") or (arch == "mlp") != (not conv):
        raise InputError(f"network description: arch {arch!r} does not match its layer types")
    options: dict[str, Any] = {}
    if conv:
        kernel = _same(conv, "kernel", "kernel")
        if len(kernel) != 2 or kernel[0] != kernel[1]:
            raise InputError(f"network description: kernel {kernel} is not square")
        options.update(channels=tuple(int(layer["lif_shape"][0]) for layer in conv), kernel=int(kernel[0]),
                       stride=int(_same(conv, "stride", "stride")), padding=int(_same(conv, "padding", "padding")),
                       pool=int(_same(conv, "pool", "pool")))
    per_neuron = any(isinstance(layer["tau"], list | tuple | np.ndarray) for layer in layers)
    return NetworkSpec(
        arch=arch,
        input_shape=tuple(int(v) for v in description["input"]["shape"]),
        n_classes=int(readout["n_out"]),
        hidden=tuple(int(layer["n_out"]) for layer in dense),
        surrogate=description["surrogate"]["name"],
        beta=float(description["surrogate"]["beta"]),
        theta=float(_same(spiking, "theta", "theta")) if spiking else 1.0,
        reset=_same(spiking, "reset", "reset") if spiking else "zero",
        tau=max((_tau_max(layer) for layer in spiking), default=_tau_max(readout)),
        readout_tau=_tau_max(readout),
        tau_per_neuron=per_neuron,
        parameterization="plain",
        input_bound=float(description["input"]["bound"]),
        **options,
    )


def network_from_description(description: dict[str, Any], *, dtype: torch.dtype = torch.float64) -> LIFNetwork:
    """A plain LIFNetwork (in `dtype`) whose explicit weights, biases and leaks are the description's."""
    if not has_weights(description):
        raise InputError("network description: needs every layer's weight and bias")
    spec = spec_from_description(description)
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten: leave the global RNG alone
        net = LIFNetwork(spec).to(dtype)
    if len(net.layers) != len(description["layers"]):
        raise InputError("network description: its layers do not form a network of its arch")
    with torch.no_grad():
        for layer, record in zip(net.layers, description["layers"], strict=True):
            for key in ("in_shape", "lif_shape", "out_shape"):
                if tuple(getattr(layer, key)) != tuple(record[key]):
                    raise InputError(f"layer {record['name']}: {key} {list(record[key])} does not match the "
                                     f"network's {list(getattr(layer, key))}")
            weight = torch.as_tensor(np.asarray(record["weight"], dtype=np.float64))
            bias = torch.as_tensor(np.asarray(record["bias"], dtype=np.float64))
            if weight.shape != layer.raw_weight.shape or bias.shape != layer.raw_bias.shape:
                raise InputError(f"layer {record['name']}: weight {tuple(weight.shape)} / bias "
                                 f"{tuple(bias.shape)}, expected {tuple(layer.raw_weight.shape)} / "
                                 f"{tuple(layer.raw_bias.shape)}")
            tau = torch.as_tensor(np.asarray(record["tau"], dtype=np.float64))
            if tau.ndim:
                if tau.numel() != math.prod(layer.lif_shape):
                    raise InputError(f"layer {record['name']}: {tau.numel()} leaks for "
                                     f"{math.prod(layer.lif_shape)} neurons")
                tau = tau.reshape(layer.lif_shape)
            if torch.any((tau < 0) | (tau >= 1)):
                raise InputError(f"layer {record['name']}: leaks must lie in [0, 1)")
            layer.raw_weight.copy_(weight)
            layer.raw_bias.copy_(bias)
            layer.leak.raw.copy_(tau.expand_as(layer.leak.raw))
    return net
