"""NIR export (optional extra `nir`) of the float hard-spike network or of its integer deployment, mapped so
that a forward-Euler NIR consumer (Norse, snnTorch) runs our discrete step; docs/hardware.md, "NIR export".

Graph: input -> per layer [Flatten] [crop] -> Affine | Conv2d -> LIF -> output. A pooling is folded into the
next operator (fold.py), as the integer hardware runs it (Norse 1.1.0 maps no AvgPool2d); where the pooling's floor
leaves a border unread, a dense operator gets zero weights there and a convolution reads a crop, written as
an exact selection Conv2d. With a = 1 - tau per neuron:
- synapse: weights W / a, bias b / a (the operator's input gain 1 / a), so the node's current is I / a;
- LIF: tau_mem = dt / a, r = 1, v_leak = 0, v_reset = 0 (zero reset), v_threshold = theta. Forward Euler,
  v <- v + (dt / tau_mem) (r I / a - v) = tau v + I, with the consumer's reset of v to 0 right after a spike
  is our u (1 - s) at the next step: v is our membrane u, step by step, strict threshold included;
- readout: a LIF whose threshold 2^ceil(log2 2U) exceeds the readout's state bound U (THEORY.md P1), so it
  never spikes and its membrane is our readout's u; logits = mean over t of that membrane (read from the
  consumer's state: NIR has no node for the mean, and Norse 1.1.0 drops LI nodes, snnTorch 1.0.0 refuses them);
- Flatten over the per-sample axes only, written with negative dims (start_dim = -ndim): torch.nn.Flatten,
  which both consumers build from the node, counts a batch axis, NIR's own shape rule does not.
dt defaults to 1e-4 because snnTorch 1.0.0's importer fixes dt = 1e-4; Norse takes it as
`from_nir(graph, dt=1e-4)`. With a power of two a (tau = 0.5, 0.75, ...) every constant is exact in
float32. A NIRSemanticsWarning says what NIR cannot carry (the integer network's rounding and saturation, a
non-zero reset, the mean over time); a NIRConsumerWarning says what a consumer cannot import.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sast_core.errors import InputError
from sast_theory.description import ConvLIFRecord, NetworkDescription
from sast_theory.norms import row_abs_sums

from ..describe import describe
from ..networks import LIFNetwork
from .deploy import IntLayer, IntNetwork
from .fold import operator_after

DEFAULT_DT = 1e-4  # snnTorch 1.0.0's NIR importer hard-codes dt = 1e-4
SNNTORCH_DT = 1e-4
RESET_TIMING = "the spike of step t-1 resets the potential that step t leaks (THEORY.md sec. 1)"


class NIRSemanticsWarning(UserWarning):
    """NIR's continuous-time nodes cannot express part of the exported discrete semantics."""


class NIRConsumerWarning(UserWarning):
    """A NIR consumer (Norse, snnTorch) cannot import or execute part of the exported graph as intended."""


@dataclass(frozen=True)
class NIRLayer:
    """One layer in float units as the graph carries it: I = W x + b, u[t] = tau r(u[t-1], s[t-1]) + I[t]."""

    name: str
    conv: bool
    weight: np.ndarray  # float64; dense (n_out, prod(source_shape)), conv (C_out, C_in, kh, kw)
    bias: np.ndarray  # (n_out,) or (C_out,)
    stride: int
    padding: int
    source_shape: tuple[int, ...]  # per-sample shape of what the previous stage emits
    crop: tuple[int, int] | None  # conv only: the top-left spatial window it reads (a pooling's floor)
    lif_shape: tuple[int, ...]
    tau: np.ndarray  # lif_shape
    theta: np.ndarray | None  # lif_shape; None for the readout
    reset: str
    input_bound: float  # S: inputs in [0, S] (X for layer 1, 1 for spikes)
    synapse_metadata: dict[str, Any] = field(default_factory=dict)
    neuron_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def spiking(self) -> bool:
        return self.theta is not None


def _conv_crop(conv: bool, crop: tuple[int, int] | None, source: tuple[int, ...]) -> tuple[int, int] | None:
    """The spatial crop a convolution reads, None when it reads the whole map."""
    return None if not conv or crop is None or tuple(crop) == tuple(source[1:]) else tuple(crop)


def _dense_operator(weight: np.ndarray, conv: bool, crop: tuple[int, int] | None,
                    source: tuple[int, ...]) -> np.ndarray:
    """A dense operator on the whole input (its crop as zero weights); a convolution unchanged."""
    if conv or crop is None or tuple(crop) == tuple(source[1:]):
        return weight
    full = np.zeros((weight.shape[0], *source))
    full[:, :, : crop[0], : crop[1]] = weight.reshape(weight.shape[0], -1, *crop)
    return full.reshape(weight.shape[0], -1)


def _float_layers(description: NetworkDescription) -> list[NIRLayer]:
    """The float network of a description (sast_theory.description), poolings folded."""
    layers, previous = [], None
    for record, bound in zip(description.layers, description.input_bounds(), strict=True):
        operator = operator_after(record.weight, record, previous)
        conv = isinstance(record, ConvLIFRecord)
        weight = _dense_operator(operator.weight / operator.divisor, conv, operator.crop, operator.source_shape)
        tau = record.tau.reshape(record.lif_shape) if record.per_neuron_tau else record.tau
        layers.append(NIRLayer(
            name=record.name, conv=conv, weight=weight, bias=np.array(record.bias, dtype=np.float64),
            stride=operator.stride, padding=operator.padding, source_shape=operator.source_shape,
            crop=_conv_crop(conv, operator.crop, operator.source_shape), lif_shape=record.lif_shape,
            tau=np.broadcast_to(tau, record.lif_shape),
            theta=np.full(record.lif_shape, record.theta) if record.spiking else None, reset=record.reset,
            input_bound=bound))
        previous = record
    return layers


def _deployed_layer(layer: IntLayer, bound: float) -> NIRLayer:
    """An integer layer in float units (weights s Wq, bias LSB bq, tau_q, threshold LSB theta_q), with its
    integer details as node metadata (flat keys, as nir.write stores metadata)."""
    conv = layer.kind == "conv_lif"
    scale = layer.scale.reshape((-1,) + (1,) * (layer.weight.ndim - 1))
    weight = _dense_operator(layer.weight * scale, conv, layer.crop, layer.source_shape)
    lsb = np.broadcast_to(layer.lsb.reshape(layer.channel_view), layer.lif_shape)
    synapse = {"weight_int": layer.weight, "weight_scale": layer.scale, "weight_bits": layer.weight_bits,
               "per_channel": int(layer.per_channel), "bias_lsb": layer.bias}
    neuron = {"leak": "u <- trunc(m u / 2^k) (product rounded toward zero)",
              "leak_numerator": np.broadcast_to(layer.leak_m, layer.lif_shape).copy(), "leak_shift": layer.leak_k,
              "register_bits": layer.register.bits, "frac_bits": layer.register.frac,
              "saturation": "clamp to [-2^(B-1), 2^(B-1) - 1] LSBs", "lsb": lsb.copy()}
    theta = None
    if layer.spiking:
        threshold = np.broadcast_to(layer.theta.reshape(layer.channel_view), layer.lif_shape)
        neuron["threshold_lsb"] = threshold.copy()
        theta = threshold * lsb
    return NIRLayer(
        name=layer.name, conv=conv, weight=weight, bias=layer.bias * layer.lsb, stride=layer.stride,
        padding=layer.padding, source_shape=layer.source_shape,
        crop=_conv_crop(conv, layer.crop, layer.source_shape), lif_shape=layer.lif_shape,
        tau=np.broadcast_to(layer.tau_q(), layer.lif_shape), theta=theta, reset=layer.reset, input_bound=bound,
        synapse_metadata=synapse, neuron_metadata=neuron)


def nir_layers(net: LIFNetwork | IntNetwork) -> list[NIRLayer]:
    """The float hard-spike network (LIFNetwork) or the integer deployment (IntNetwork) as NIRLayers."""
    if isinstance(net, IntNetwork):
        return [_deployed_layer(layer, bound) for layer, bound in zip(net.layers, net.input_bounds(), strict=True)]
    return _float_layers(describe(net))


def readout_threshold(layer: NIRLayer) -> float:
    """2^ceil(log2 2U) for the readout's state bound U = max_i (S ||W_i||_1 + |b_i|) / (1 - max tau) (P1):
    the membrane never reaches it, so the LIF integrates like our readout and never spikes."""
    rows = row_abs_sums(layer.weight) * layer.input_bound
    bound = float((rows + np.abs(layer.bias)).max(initial=0.0)) / (1.0 - float(layer.tau.max()))
    return 2.0 ** math.ceil(math.log2(max(2.0 * bound, 1.0)))


def _gain_fits_operator(gain: np.ndarray, layer: NIRLayer) -> bool:
    """Whether the input gain 1 / a can go into the operator: any per-neuron gain for a dense layer, one per
    output channel for a convolution (its weights are shared over positions)."""
    return not layer.conv or bool(np.all(gain == gain.reshape(gain.shape[0], -1)[:, :1, None]))


def _synapse(nir: Any, layer: NIRLayer, gain: np.ndarray | None) -> Any:
    weight, bias = layer.weight, layer.bias
    metadata = dict(layer.synapse_metadata)
    if gain is not None:  # the input gain 1 / (1 - tau) folded into the operator
        rows = gain if not layer.conv else gain.reshape(gain.shape[0], -1)[:, 0]
        weight = weight * rows.reshape((-1,) + (1,) * (weight.ndim - 1))
        bias = bias * rows
        metadata["input_gain"] = rows.copy()
    if not layer.conv:
        return nir.Affine(weight=weight, bias=bias, metadata=metadata)
    return nir.Conv2d(input_shape=layer.crop or tuple(layer.source_shape[1:]), weight=weight, stride=layer.stride,
                      padding=layer.padding, dilation=1, groups=1, bias=bias, metadata=metadata)


def _crop(nir: Any, channels: int, source: tuple[int, int], crop: tuple[int, int]) -> Any:
    """x -> x[:, :crop_h, :crop_w] as a Conv2d (kernel (h - crop_h + 1, w - crop_w + 1), a single 1 per channel
    at its origin, no padding): exact in floating point, and both consumers import Conv2d."""
    kernel = np.zeros((channels, channels, source[0] - crop[0] + 1, source[1] - crop[1] + 1))
    kernel[np.arange(channels), np.arange(channels), 0, 0] = 1.0
    return nir.Conv2d(input_shape=source, weight=kernel, stride=1, padding=0, dilation=1, groups=1,
                      bias=np.zeros(channels), metadata={"role": "crop: the window a pooling's floor reads"})


def _neuron(nir: Any, layer: NIRLayer, dt: float, r: np.ndarray) -> Any:
    shape = layer.lif_shape
    a = 1.0 - layer.tau
    metadata = {"dt": dt, "discretization": "forward Euler: tau = 1 - dt / tau_mem, v = our membrane u",
                "reset": layer.reset, "reset_timing": RESET_TIMING, **layer.neuron_metadata}
    if layer.spiking:
        metadata["spike"] = "strict: s = 1 iff u > theta"
        threshold = np.array(layer.theta, dtype=np.float64)
    else:
        metadata["role"] = ("readout: never spikes (threshold above its state bound); logits = mean over t of "
                            "its membrane v")
        threshold = np.full(shape, readout_threshold(layer))
    return nir.LIF(tau=dt / a, r=r, v_leak=np.zeros(shape), v_threshold=threshold, v_reset=np.zeros(shape),
                   metadata=metadata)


def _semantic_notes(net: LIFNetwork | IntNetwork, layers: list[NIRLayer]) -> list[str]:
    """What NIR's nodes cannot express about this network (one line each)."""
    notes = [f"logits = mean over time of the membrane v of the readout node neuron{len(layers) - 1} (a LIF that "
             f"never spikes); NIR has no node for the mean"]
    if isinstance(net, IntNetwork):
        notes.insert(0, "integer currents, the leak's rounding toward zero and register saturation are not NIR "
                        "semantics (node metadata records them); a float consumer runs the exact leak")
    notes += [f"reset {layer.reset!r} of {layer.name} is not NIR's LIF reset to v_reset (neither Norse nor "
              f"snnTorch can run it)" for layer in layers if layer.spiking and layer.reset != "zero"]
    return notes


def _consumer_notes(layers: list[NIRLayer], resistances: list[np.ndarray], dt: float) -> list[str]:
    """What Norse 1.1.0 / snnTorch 1.0.0 cannot import as intended (one line each)."""
    notes = []
    if dt != SNNTORCH_DT:
        notes.append(f"snnTorch 1.0.0 assumes dt = {SNNTORCH_DT} in its NIR import: with dt = {dt} its leaks are "
                     f"wrong")
    for index, (layer, r) in enumerate(zip(layers, resistances, strict=True)):
        if np.any(r != 1.0):
            notes.append(f"Norse 1.1.0 ignores r of neuron{index} ({layer.name}: per-position leaks of a "
                         f"convolution): its input current is off by the factor 1 / (1 - tau)")
        if np.unique(layer.tau).size > 1:
            notes.append(f"snnTorch 1.0.0 scales every threshold of neuron{index} ({layer.name}) by its first "
                         f"neuron's leak: per-neuron leaks are not importable")
        if layer.spiking and np.unique(layer.theta).size > 1:
            notes.append(f"snnTorch 1.0.0 refuses neuron{index} ({layer.name}): per-channel thresholds")
    return notes


def export_nir(net: LIFNetwork | IntNetwork, dt: float = DEFAULT_DT) -> Any:
    """The float hard network (LIFNetwork) or its deployment (IntNetwork) as a nir.NIRGraph (needs the `nir`
    extra), mapped as in the module docstring; warns where NIR or a consumer cannot express it."""
    try:
        import nir
    except ModuleNotFoundError:
        raise InputError("NIR export needs the optional extra: pip install 'sast-toolkit[nir]'") from None
    if not (dt > 0 and np.isfinite(dt)):
        raise InputError(f"dt = {dt}: expected a finite time step > 0")
    layers = nir_layers(net)
    input_shape = tuple(net.input_shape) if isinstance(net, IntNetwork) else tuple(net.spec.input_shape)
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(input_shape)})}
    chain, shape, resistances = ["input"], input_shape, []
    for index, layer in enumerate(layers):
        if not layer.conv and len(shape) > 1:  # per-sample axes only, batch-agnostic
            nodes[f"flatten{index}"] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=-len(shape),
                                                   end_dim=-1)
            chain.append(f"flatten{index}")
        if layer.crop is not None:
            nodes[f"crop{index}"] = _crop(nir, shape[0], tuple(shape[1:]), layer.crop)
            chain.append(f"crop{index}")
        gain = 1.0 / (1.0 - layer.tau)
        fits = _gain_fits_operator(gain, layer)
        resistances.append(np.ones(layer.lif_shape) if fits else gain)
        nodes[f"synapse{index}"] = _synapse(nir, layer, gain if fits else None)
        nodes[f"neuron{index}"] = _neuron(nir, layer, dt, resistances[-1])
        chain += [f"synapse{index}", f"neuron{index}"]
        shape = layer.lif_shape
    nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    chain.append("output")
    for note in _semantic_notes(net, layers):
        warnings.warn(note, NIRSemanticsWarning, stacklevel=2)
    for note in _consumer_notes(layers, resistances, dt):
        warnings.warn(note, NIRConsumerWarning, stacklevel=2)
    metadata = {"producer": "sast_models.hardware", "dt": dt, "readout": f"neuron{len(layers) - 1}",
                "logits": "mean over t of the readout node's membrane v",
                "norse": f"norse.torch.from_nir(graph, dt={dt})",
                "snntorch": "snntorch.import_nir.import_from_nir(graph); its membrane mem = v tau_mem / dt"}
    edges = list(zip(chain[:-1], chain[1:], strict=True))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
