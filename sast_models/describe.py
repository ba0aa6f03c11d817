"""describe(net): the typed network description (sast_theory.description) that the theory, the hardware
deployment and the report read. Each torch layer writes its own record (`LIFLayer.record`); layers are named
'layers.<i>', their module path in the network (and the prefix of their checkpoint tensors).
"""

from __future__ import annotations

import torch

from sast_theory.description import NetworkDescription

from .networks import LIFNetwork


def describe(net: LIFNetwork) -> NetworkDescription:
    """The explicit weights, biases and leaks (float64) of every layer, with its shapes, caps and neuron settings.

    taubar is the A3 leak cap of a contractive network and max(tau) of a plain one.
    """
    spec = net.spec
    records = []
    with torch.no_grad():
        for index, layer in enumerate(net.layers):
            weight, bias, tau = (t.detach().double().cpu().numpy() for t in layer.explicit())
            records.append(layer.record(
                name=f"layers.{index}",
                tau=float(tau) if tau.ndim == 0 else tau.reshape(-1),
                taubar=layer.leak.taubar if spec.parameterization == "contractive" else float(tau.max()),
                caps=layer.caps,
                weight=weight,
                bias=bias,
            ))
    return NetworkDescription(arch=spec.arch, parameterization=spec.parameterization, input_shape=spec.input_shape,
                              input_bound=spec.input_bound, surrogate=spec.surrogate, beta=spec.beta,
                              layers=tuple(records))
