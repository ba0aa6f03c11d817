"""Fold a conv block's k x k average pooling into the NEXT layer's operator, so hardware sees binary spikes.

avgpool_k(s)[c, y, x] = k^-2 sum_{i,j<k} s[c, k y + i, k x + j] reads only the crop s[:, :k Hp, :k Wp]
(Hp = H // k, as avg_pool2d floors). For the next operator W:
- dense:  (W o P)[o, c, y', x'] = W[o, c, y' // k, x' // k] / k^2 on the cropped (C, k Hp, k Wp) input;
- conv (kernel K, stride r, zero padding p on the pooled map): W o P is the convolution with kernel
  K'[o, c, a', b'] = K[o, c, a' // k, b' // k] / k^2, stride k r, padding k p, on the cropped input (a pooled
  index outside [0, Hp) covers exactly the unpooled indices outside [0, k Hp), so the zero padding agrees).
The integer weights are replicated (Wq unchanged) and the k^-2 goes into the scale: s' = s / k^2.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sast_theory.description import ConvLIFRecord, LayerRecord


class Folded(NamedTuple):
    weight: np.ndarray  # replicated integer weights
    scale_divisor: int  # k^2: the folded layer's quantum is s / k^2
    crop: tuple[int, int]  # spatial crop (k Hp, k Wp) of the unpooled spikes the operator reads
    stride: int
    padding: int


def fold_pool(weight: np.ndarray, pooled_shape: tuple[int, int, int], pool: int, stride: int = 1,
              padding: int = 0) -> Folded:
    """Fold avgpool_pool (applied to spikes whose pooled shape is (C, Hp, Wp)) into `weight`.

    `weight` is (n_out, C Hp Wp) for a dense layer or (C_out, C, kh, kw) for a conv (then stride, padding).
    """
    channels, height, width = pooled_shape
    crop = (height * pool, width * pool)
    if weight.ndim == 2:
        grid = weight.reshape(weight.shape[0], channels, height, width)
        folded = grid.repeat(pool, axis=2).repeat(pool, axis=3).reshape(weight.shape[0], -1)
        return Folded(folded, pool * pool, crop, 1, 0)
    folded = weight.repeat(pool, axis=2).repeat(pool, axis=3)
    return Folded(folded, pool * pool, crop, stride * pool, padding * pool)


class Operator(NamedTuple):
    """A description layer's operator on what the previous stage emits before its pooling."""

    weight: np.ndarray  # replicated weights; the operator is weight / divisor
    divisor: int  # k^2 of a folded pooling, else 1
    stride: int
    padding: int
    crop: tuple[int, int] | None  # spatial crop read (None: the whole input)
    source_shape: tuple[int, ...]  # per-sample shape of what the previous stage emits (before the crop)


def operator_after(weight: np.ndarray, record: LayerRecord, previous: LayerRecord | None) -> Operator:
    """Layer `record` of a description (its weight given: float or quantized) with the previous layer's pooling
    folded in; without pooling the operator is unchanged."""
    stride, padding = (record.stride, record.padding) if isinstance(record, ConvLIFRecord) else (1, 0)
    if previous is None or previous.pool <= 1:
        return Operator(weight, 1, stride, padding, None, record.in_shape)
    folded = fold_pool(weight, previous.out_shape, previous.pool, stride, padding)
    return Operator(folded.weight, folded.scale_divisor, folded.stride, folded.padding, folded.crop,
                    previous.lif_shape)
