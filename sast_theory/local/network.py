"""The narrow input of the local constants: per-layer arrays and geometry, nothing else (no description dict).

`from_description` is the one adapter from the typed network description (sast_theory.description); everything
in sast_theory.local reads these records. Operators act on one flat signal per sample: a dense layer maps
(N, n_in) -> (N, n_out); a conv layer maps the previous layer's pooled output (N, C, H, W) to (N, C_out, H', W'),
stride and zero padding as in the ConvLIFRecord; a conv block's k x k average pooling is the layer's `pool`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sast_core.errors import InputError

from ..description import NetworkDescription


@dataclass(frozen=True)
class LocalLayer:
    kind: str  # "dense_lif" | "conv_lif" | "readout"
    name: str
    weight: np.ndarray  # dense (n_out, n_in); conv (C_out, C_in, kh, kw); float64
    bias: np.ndarray  # (n_out,) dense, (C_out,) conv
    tau: np.ndarray  # per neuron, flat (n_neurons,)
    theta: float
    reset: str  # "zero" | "subtract" | "none" (the readout: "none")
    in_shape: tuple[int, ...]  # per-sample shape of the input signal (pooled output of the layer before)
    lif_shape: tuple[int, ...]
    stride: int = 1
    padding: int = 0
    pool: int = 1

    @property
    def spiking(self) -> bool:
        return self.kind != "readout"

    @property
    def conv(self) -> bool:
        return self.kind == "conv_lif"

    @property
    def n_neurons(self) -> int:
        return int(np.prod(self.lif_shape))

    @property
    def channels(self) -> int:
        """Parameter rows: output channels of a conv (shared by its positions), neurons of a dense layer."""
        return int(self.weight.shape[0])

    @property
    def feeds(self) -> int:
        """h: the most output positions one input entry feeds (dense: 1); ||dK||_op <= sqrt(h) ||dK||_F."""
        if not self.conv:
            return 1
        kh, kw = self.weight.shape[2:]
        return -(-kh // self.stride) * -(-kw // self.stride)

    def channel_of(self) -> np.ndarray:
        """Index of the parameter row of every neuron (flat)."""
        if not self.conv:
            return np.arange(self.n_neurons)
        return np.repeat(np.arange(self.channels), int(np.prod(self.lif_shape[1:])))


@dataclass(frozen=True)
class LocalNetwork:
    layers: tuple[LocalLayer, ...]
    surrogate: str
    beta: float
    input_bound: float
    input_shape: tuple[int, ...]


def from_description(description: NetworkDescription) -> LocalNetwork:
    """The adapter from the typed description (with weights) to the narrow records."""
    if not description.has_weights:
        raise InputError("local constants need the weights in the description (a checkpoint)")
    layers = tuple(
        LocalLayer(
            kind=record.kind,
            name=record.name,
            weight=np.asarray(record.weight, dtype=np.float64),
            bias=np.asarray(record.bias, dtype=np.float64),
            tau=np.array(record.leaks, dtype=np.float64),
            theta=float(record.theta),
            reset=record.reset,
            in_shape=tuple(record.in_shape),
            lif_shape=tuple(record.lif_shape),
            stride=int(getattr(record, "stride", 1)),
            padding=int(getattr(record, "padding", 0)),
            pool=int(record.pool),
        )
        for record in description.layers
    )
    return LocalNetwork(layers, description.surrogate, description.beta, description.input_bound,
                        tuple(description.input_shape))
