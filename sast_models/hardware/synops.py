"""SynOps: synaptic operations = sum over steps and layers of (nonzero presynaptic events) x (their fan-out).

The fan-out of an input position is the number of synapses leaving it, i.e. the number of (output channel,
output position) pairs whose receptive field contains it: n_out for a dense layer; for a convolution
(kernel kh x kw, stride r, zero padding p, output Ho x Wo) C_out * f_h(y) * f_w(x) with
    f_h(y) = #{Y in [0, Ho) : 0 <= y + p - r Y < kh}            (exact, padding and stride included)
and 0 for positions the operator never reads (the crop of a folded pooling, fold.py).
Events: an input entry counts once per step when it is nonzero, whatever its value: a frame pixel holding n
events in one bin is ONE presynaptic event (delivered as one graded spike), not n. Spikes are 0/1 anyway.
The integer network's events are binary spikes into the folded operator W o P; the float hard network's are
the nonzero pooled entries into W; both are exact counts of the operations each implementation performs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sast_theory.description import ConvLIFRecord, NetworkDescription
from sast_theory.geometry import conv_output_size

from .deploy import IntLayer


def conv_fanout_1d(size: int, kernel: int, stride: int, padding: int) -> np.ndarray:
    """f(y) for y in [0, size): the output positions of a 1-D convolution that read input position y."""
    outputs = conv_output_size(size, kernel, stride, padding)
    y = np.arange(size) + padding
    first = np.maximum(0, -((kernel - 1 - y) // stride))  # ceil((y - kernel + 1) / stride)
    last = np.minimum(outputs - 1, y // stride)
    return np.maximum(0, last - first + 1)


def conv_fanout(in_shape: tuple[int, int, int], out_channels: int, kernel: tuple[int, int], stride: int,
                padding: int) -> np.ndarray:
    """Fan-out map (C_in, H, W) of a convolution."""
    channels, height, width = in_shape
    rows = conv_fanout_1d(height, kernel[0], stride, padding)
    cols = conv_fanout_1d(width, kernel[1], stride, padding)
    return np.broadcast_to(out_channels * np.outer(rows, cols), (channels, height, width)).copy()


def layer_fanout(layer: IntLayer) -> np.ndarray:
    """Fan-out map over the deployed layer's source shape (positions outside its crop: 0)."""
    if layer.kind != "conv_lif" and layer.crop is None:
        return np.full(layer.source_shape, layer.weight.shape[0], dtype=np.int64)
    fanout = np.zeros(layer.source_shape, dtype=np.int64)
    height, width = layer.crop or layer.source_shape[1:]
    shape = (layer.source_shape[0], height, width)
    if layer.kind == "conv_lif":
        fanout[:, :height, :width] = conv_fanout(shape, layer.weight.shape[0], layer.weight.shape[2:],
                                                 layer.stride, layer.padding)
    else:
        fanout[:, :height, :width] = layer.weight.shape[0]
    return fanout


def description_fanouts(description: NetworkDescription) -> list[np.ndarray]:
    """Fan-out maps of the float network's layers over their (pooled) input shapes."""
    maps = []
    for record in description.layers:
        if isinstance(record, ConvLIFRecord):
            maps.append(conv_fanout(record.in_shape, record.channels, record.kernel, record.stride, record.padding))
        else:
            maps.append(np.full(record.in_shape, record.lif_shape[0], dtype=np.int64))
    return maps


def count_synops(events: Tensor, fanout: Tensor) -> Tensor:
    """Per-sample SynOps (B,) int64 of events (T, B, *shape) into a layer with fan-out map `fanout`.

    One matrix-vector product per step in float32 when exact (every partial sum is an integer at most
    n_in max(fan-out) < 2^24), else float64 (exact below 2^53); the steps are summed in int64.
    """
    steps, batch = events.shape[:2]
    fanout = fanout.reshape(-1)
    dtype = torch.float32 if fanout.numel() * int(fanout.max()) < 2**24 else torch.float64
    active = (events != 0).reshape(steps * batch, -1).to(dtype)
    return (active @ fanout.to(dtype)).to(torch.int64).view(steps, batch).sum(0)


def hard_synops(description: NetworkDescription, x: Tensor, outputs: list[Tensor]) -> list[Tensor]:
    """Per-layer, per-sample SynOps of the float hard network: x into layer 1, layer l's output into l + 1."""
    fanouts = description_fanouts(description)
    sources = [x, *outputs[:-1]]
    return [count_synops(events, torch.as_tensor(fanout))
            for events, fanout in zip(sources, fanouts, strict=True)]
