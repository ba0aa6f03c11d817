"""NIR export of the deployed network (optional extra `nir`): what the hardware runs, with its exact discrete
semantics recorded in node metadata.

Graph: input -> per layer [Flatten] -> Affine | Conv2d (the integer operator with its pooling fold, fold.py,
weights s Wq, bias LSB bq) -> LIF (spiking) or LI (readout) -> output. Discrete-time mapping with step dt
(forward Euler, the convention of snnTorch/Norse exports): u[t] = tau_q u[t-1] + I[t] is
tau_mem du/dt = -u + r I with tau_mem = dt / (1 - tau_q), r = tau_mem / dt; v_threshold = LSB theta_q,
v_reset = 0. NIR's continuous-time LIF cannot carry the integer details, so every neuron node's metadata
records them (flat keys, as nir.write stores metadata): dt, reset type and timing, strict comparison,
leak numerator and shift (trunc(m v / 2^k)), register and fractional bits, threshold and bias in LSBs;
synapse nodes record the integer weights, their scale and bit width. Where NIR's LIF semantics differ
(subtract or no reset, rounding, saturation, the readout's mean over time) a NIRSemanticsWarning says so.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from sast_core.errors import InputError

from .deploy import IntLayer, IntNetwork

RESET_TIMING = "the spike of step t-1 resets the potential that step t leaks (THEORY.md sec. 1)"


class NIRSemanticsWarning(UserWarning):
    """NIR's continuous-time node cannot express part of the deployed discrete semantics."""


def _synapse(nir: Any, layer: IntLayer) -> Any:
    scale = layer.scale.reshape((-1,) + (1,) * (layer.weight.ndim - 1))
    weight, bias = layer.weight * scale, layer.bias * layer.lsb
    metadata = {"weight_int": layer.weight, "weight_scale": layer.scale, "weight_bits": layer.weight_bits,
                "per_channel": int(layer.per_channel), "bias_lsb": layer.bias}
    if layer.kind != "conv_lif":
        if layer.crop is not None:  # the folded pooling's crop = zero weights on the unread positions
            full = np.zeros((weight.shape[0], *layer.source_shape))
            full[:, :, : layer.crop[0], : layer.crop[1]] = weight.reshape(weight.shape[0], -1, *layer.crop)
            weight = full.reshape(weight.shape[0], -1)
        return nir.Affine(weight=weight, bias=bias, metadata=metadata)
    if layer.crop is not None and tuple(layer.crop) != tuple(layer.source_shape[1:]):
        raise InputError(f"NIR export: layer {layer.name} reads a crop {layer.crop} of its input "
                         f"{layer.source_shape} (a pooling that does not divide the map): not expressible")
    return nir.Conv2d(input_shape=tuple(layer.source_shape[1:]), weight=weight, stride=layer.stride,
                      padding=layer.padding, dilation=1, groups=1, bias=bias, metadata=metadata)


def _neuron(nir: Any, layer: IntLayer, dt: float) -> Any:
    shape = layer.lif_shape
    tau_q = np.broadcast_to(layer.tau_q(), shape)
    tau_mem = dt / (1.0 - tau_q)
    r = tau_mem / dt
    lsb = np.broadcast_to(layer.lsb.reshape(layer.channel_view), shape)
    metadata = {"dt": dt, "discretization": "forward Euler: tau_q = 1 - dt / tau_mem, r = tau_mem / dt",
                "leak": "u <- trunc(m u / 2^k) (product rounded toward zero)",
                "leak_numerator": np.broadcast_to(layer.leak_m, shape).copy(), "leak_shift": layer.leak_k,
                "register_bits": layer.register.bits, "frac_bits": layer.register.frac,
                "saturation": "clamp to [-2^(B-1), 2^(B-1) - 1] LSBs", "lsb": lsb.copy(),
                "reset": layer.reset, "reset_timing": RESET_TIMING}
    if not layer.spiking:
        return nir.LI(tau=tau_mem, r=r, v_leak=np.zeros(shape), metadata=metadata)
    threshold = np.broadcast_to(layer.theta.reshape(layer.channel_view), shape)
    metadata.update(spike="strict: s = 1 iff u > theta", threshold_lsb=threshold.copy())
    return nir.LIF(tau=tau_mem, r=r, v_leak=np.zeros(shape), v_threshold=threshold * lsb,
                   v_reset=np.zeros(shape), metadata=metadata)


def _unrepresentable(net: IntNetwork) -> list[str]:
    """What NIR's continuous-time LIF / LI nodes cannot express about this network (one line each)."""
    notes = ["integer currents, the leak's rounding toward zero and register saturation are not NIR "
             "semantics (node metadata records them)",
             f"logits = mean over time of the readout LI node {net.layers[-1].name} (not a NIR node)"]
    for layer in net.layers:
        if layer.spiking and layer.reset != "zero":
            notes.append(f"reset {layer.reset!r} of {layer.name} is not NIR's LIF reset to v_reset")
    return notes


def export_nir(net: IntNetwork, dt: float = 1e-3) -> Any:
    """The deployed network as a nir.NIRGraph (needs the `nir` extra); warns where NIR cannot express it."""
    try:
        import nir
    except ModuleNotFoundError:
        raise InputError("NIR export needs the optional extra: pip install 'sast-toolkit[nir]'") from None
    if not (dt > 0 and np.isfinite(dt)):
        raise InputError(f"dt = {dt}: expected a finite time step > 0")
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(net.input_shape)})}
    chain, shape = ["input"], net.input_shape
    for index, layer in enumerate(net.layers):
        if layer.kind != "conv_lif" and len(shape) > 1:
            nodes[f"flatten{index}"] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0,
                                                   end_dim=-1)
            chain.append(f"flatten{index}")
        nodes[f"synapse{index}"] = _synapse(nir, layer)
        nodes[f"neuron{index}"] = _neuron(nir, layer, dt)
        chain += [f"synapse{index}", f"neuron{index}"]
        shape = layer.lif_shape
    nodes["output"] = nir.Output(output_type={"output": np.array(net.layers[-1].lif_shape)})
    chain.append("output")
    for note in _unrepresentable(net):
        warnings.warn(note, NIRSemanticsWarning, stacklevel=2)
    metadata = {"producer": "sast_models.hardware", "dt": dt, "logits": "mean over t of the readout"}
    edges = list(zip(chain[:-1], chain[1:], strict=True))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
