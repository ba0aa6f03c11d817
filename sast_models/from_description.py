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

import torch

from sast_core.errors import InputError
from sast_theory.description import ConvLIFRecord, DenseLIFRecord, LayerRecord, NetworkDescription

from .networks import LIFNetwork
from .spec import NetworkSpec


def _same(layers: list[LayerRecord], key: str) -> object:
    values = [getattr(layer, key) for layer in layers]
    if any(v != values[0] for v in values[1:]):
        raise InputError(f"network description: layers differ in {key} ({values}); a NetworkSpec has one "
                         f"{key} for all spiking layers")
    return values[0]


def spec_from_description(description: NetworkDescription) -> NetworkSpec:
    """The plain NetworkSpec of a description (InputError when one spec cannot express it)."""
    spiking, readout = list(description.layers[:-1]), description.layers[-1]
    conv = [layer for layer in spiking if isinstance(layer, ConvLIFRecord)]
    dense = [layer for layer in spiking if isinstance(layer, DenseLIFRecord)]
    options: dict[str, object] = {}
    if conv:
        kernel = _same(conv, "kernel")
        if kernel[0] != kernel[1]:
            raise InputError(f"network description: kernel {list(kernel)} is not square")
        options.update(channels=tuple(layer.channels for layer in conv), kernel=kernel[0],
                       stride=_same(conv, "stride"), padding=_same(conv, "padding"), pool=_same(conv, "pool"))
    return NetworkSpec(
        arch=description.arch,
        input_shape=description.input_shape,
        n_classes=readout.n_out,
        hidden=tuple(layer.n_out for layer in dense),
        surrogate=description.surrogate,
        beta=description.beta,
        theta=_same(spiking, "theta") if spiking else 1.0,
        reset=_same(spiking, "reset") if spiking else "zero",
        tau=max((layer.tau_max for layer in spiking), default=readout.tau_max),
        readout_tau=readout.tau_max,
        tau_per_neuron=any(layer.per_neuron_tau for layer in description.layers),
        parameterization="plain",
        input_bound=description.input_bound,
        **options,
    )


def network_from_description(description: NetworkDescription, *, dtype: torch.dtype = torch.float64) -> LIFNetwork:
    """A plain LIFNetwork (in `dtype`) whose explicit weights, biases and leaks are the description's."""
    if not description.has_weights:
        raise InputError("network description: needs every layer's weight and bias")
    spec = spec_from_description(description)
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten: leave the global RNG alone
        net = LIFNetwork(spec).to(dtype)
    if len(net.layers) != len(description.layers):
        raise InputError("network description: its layers do not form a network of its arch")
    with torch.no_grad():
        for layer, record in zip(net.layers, description.layers, strict=True):
            if (layer.kind, layer.lif_shape, layer.out_shape) != (record.kind, record.lif_shape, record.out_shape):
                raise InputError(f"layer {record.name}: {record.kind} {list(record.lif_shape)} does not match the "
                                 f"network's {layer.kind} {list(layer.lif_shape)}")
            layer.raw_weight.copy_(torch.tensor(record.weight))
            layer.raw_bias.copy_(torch.tensor(record.bias))
            tau = torch.tensor(record.tau)
            layer.leak.raw.copy_((tau.reshape(layer.lif_shape) if tau.ndim else tau).expand_as(layer.leak.raw))
    return net
