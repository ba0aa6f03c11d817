"""describe(net): the plain network description that `sast_theory` computes constants from.

Schema: docs/describe_schema.md ("sast.describe/1"). Values are Python scalars/lists plus float64 numpy
arrays for weights and biases; `description_to_json` drops the arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .layers import ConvLIF
from .networks import LIFNetwork

SCHEMA = "sast.describe/1"


def _norms(weight: np.ndarray, bias: np.ndarray) -> dict[str, float]:
    magnitude = np.abs(weight)
    inf_norm = float(magnitude.reshape(weight.shape[0], -1).sum(1).max())
    one_norm = float(np.swapaxes(magnitude, 0, 1).reshape(weight.shape[1], -1).sum(1).max())
    return {"inf": inf_norm, "one": one_norm, "spectral_bound": float(np.sqrt(inf_norm * one_norm)),
            "bias_inf": float(np.abs(bias).max()) if bias.size else 0.0}


def describe(net: LIFNetwork) -> dict[str, Any]:
    """Per layer: type, shapes, tau, taubar, theta, reset, caps, norms, explicit weight and bias (float64)."""
    spec = net.spec
    layers = []
    with torch.no_grad():
        for index, layer in enumerate(net.layers):
            weight, bias, tau = (t.detach().double().cpu().numpy() for t in layer.explicit())
            record: dict[str, Any] = {
                "type": layer.kind,
                "name": f"layers.{index}",
                "in_shape": list(layer.in_shape),
                "lif_shape": list(layer.lif_shape),
                "out_shape": list(layer.out_shape),
                "n_in": int(np.prod(layer.in_shape)),
                "n_out": int(np.prod(layer.lif_shape)),
                "tau": float(tau) if tau.ndim == 0 else tau.reshape(-1).tolist(),
                "taubar": layer.leak.taubar if spec.parameterization == "contractive" else float(tau.max()),
                "caps": layer.caps._asdict() if layer.caps is not None else None,
                "norms": _norms(weight, bias),
                "weight": weight,
                "bias": bias,
            }
            if layer.spiking:
                record.update(theta=layer.theta, reset=layer.reset)
            if isinstance(layer, ConvLIF):
                record.update(kernel=[layer.kernel, layer.kernel], stride=layer.stride, padding=layer.padding,
                              pool=layer.pool_size)
            layers.append(record)
    return {
        "schema": SCHEMA,
        "arch": spec.arch,
        "parameterization": spec.parameterization,
        "input": {"shape": list(spec.input_shape), "bound": spec.input_bound},
        "surrogate": {"name": spec.surrogate, "beta": spec.beta},
        "layers": layers,
    }


def description_to_json(description: dict[str, Any]) -> dict[str, Any]:
    """The description without its arrays (weights, biases): JSON-serialisable."""
    out = {key: value for key, value in description.items() if key != "layers"}
    out["layers"] = [{k: v for k, v in layer.items() if not isinstance(v, np.ndarray)}
                     for layer in description["layers"]]
    return out
