"""The linear map of one layer in numpy: v -> W P v, the layer's weight after the previous layer's pooling P.

`v` is a batch of flat vectors shaped like the previous layer's membrane (or the raw input for layer 1): the
operator P (k x k average pooling of a conv block's spikes, the identity otherwise) and the dense or conv W of
THEORY.md sec. 1, without the bias. Besides applying it, a `LayerMap` gives what P7's propagation needs:
the exact range of W P v over a box lo <= v <= hi (W+ and W- applied to the ends: the range of a linear map
over a box), per-output bounds on the row norms of W P diag(mu) (Cauchy-Schwarz), the row abs-sums
(floating-point allowances) and a certified bound on ||W P diag(mu)||_2.

Dense after dense or the input: W itself. Dense after a conv block: `providers.dense.expanded_weight`, the
pooling spread into W. Conv: pooling, then a zero-padded strided cross-correlation. Conv row norms:
||(K * P)_o||_2 <= ||K_o||_F / k (each kernel tap reads the mean of k^2 inputs); conv gains:
conv_spectral_bound(K) / k * max mu.
"""

from __future__ import annotations

import numpy as np

from .description import ConvLIFRecord, LayerRecord
from .norms import conv_spectral_bound, dense_spectral_norm, pooling_norm
from .providers.base import Incoming
from .providers.dense import expanded_weight

EXACT_GAIN_ENTRIES = 1 << 14  # ||M diag(mu)||_2 by a batched SVD per sample up to this many matrix entries
_EPS = np.finfo(float).eps
_CHUNK = 256  # samples per conv batch (bounds the sliding-window memory)


def avgpool(v: np.ndarray, shape: tuple[int, int, int], pool: int) -> np.ndarray:
    """k x k average pooling (stride k, floor) of flat (N, C H W) vectors -> (N, C, H // k, W // k)."""
    channels, height, width = shape
    grid = v.reshape(-1, channels, height, width)
    if pool == 1:
        return grid
    h, w = height // pool, width // pool
    return grid[:, :, : h * pool, : w * pool].reshape(-1, channels, h, pool, w, pool).mean(axis=(3, 5))


def conv2d(x: np.ndarray, kernel: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Zero-padded strided cross-correlation (as torch's conv2d, no bias): (N, C, H, W) -> (N, O, Ho, Wo)."""
    kh, kw = kernel.shape[2:]
    out = []
    for start in range(0, x.shape[0], _CHUNK):
        part = np.pad(x[start:start + _CHUNK], ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        windows = np.lib.stride_tricks.sliding_window_view(part, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
        out.append(np.einsum("nchwij,ocij->nohw", windows, kernel, optimize=True))
    return np.concatenate(out) if out else np.zeros((0, kernel.shape[0], 0, 0))


class LayerMap:
    """v -> W P v for layer `record`, whose input is `source` (the previous record) or the raw input (None)."""

    def __init__(self, record: LayerRecord, source: LayerRecord | None, weight: np.ndarray | None = None) -> None:
        self.record = record
        weight = np.asarray(record.weight if weight is None else weight, dtype=float)
        self.pool = source.pool if source is not None else 1
        self.source_shape = tuple(source.lif_shape) if source is not None else tuple(record.in_shape)
        self.conv = isinstance(record, ConvLIFRecord)
        if self.conv:
            self.kernel = weight
            self.parts = (np.maximum(weight, 0.0), np.minimum(weight, 0.0))
            self.stride, self.padding = record.stride, record.padding
            self.row_norm = np.repeat(np.sqrt((weight**2).reshape(weight.shape[0], -1).sum(1)) / self.pool,
                                      int(np.prod(record.lif_shape[1:])))
            self.abs_rows = np.repeat(np.abs(weight).reshape(weight.shape[0], -1).sum(1),
                                      int(np.prod(record.lif_shape[1:])))
            spectral = conv_spectral_bound(weight, tuple(record.in_shape[1:]), record.padding)
            self.norm = spectral * pooling_norm(self.pool)
        else:
            incoming = Incoming(1.0, None, self.source_shape, self.pool)
            self.matrix = expanded_weight(weight, incoming) if self.pool > 1 else weight
            self.parts = (np.maximum(self.matrix, 0.0), np.minimum(self.matrix, 0.0))
            self.squares = self.matrix**2
            self.abs_rows = np.abs(self.matrix).sum(1)
            self.abs_cols = np.abs(self.matrix).sum(0)
            self.norm = dense_spectral_norm(self.matrix)

    def _apply(self, operator: np.ndarray, v: np.ndarray) -> np.ndarray:
        v = v.reshape(v.shape[0], -1)
        if not self.conv:
            return v @ operator.T
        if len(self.source_shape) == 3:
            pooled = avgpool(v, self.source_shape, self.pool)
        else:
            pooled = v.reshape(v.shape[0], *self.record.in_shape)
        return conv2d(pooled, operator, self.stride, self.padding).reshape(v.shape[0], -1)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        """W P v for v (N, n_source) -> (N, n_out)."""
        return self._apply(self.kernel if self.conv else self.matrix, v)

    def box(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The exact range of W P v over lo <= v <= hi: (W+ P lo + W- P hi, W+ P hi + W- P lo) (P >= 0)."""
        pos, neg = self.parts
        return self._apply(pos, lo) + self._apply(neg, hi), self._apply(pos, hi) + self._apply(neg, lo)

    def row_norms(self, mu: np.ndarray) -> np.ndarray:
        """Upper bounds on ||(W P diag(mu))_i||_2 per output i, for mu (N, n_source) >= 0 -> (N, n_out)."""
        if self.conv:
            return self.row_norm[None, :] * mu.max(axis=1, initial=0.0)[:, None]
        return np.sqrt(np.maximum(mu**2 @ self.squares.T, 0.0)) * (1 + 4 * _EPS * self.matrix.shape[1])

    def gain(self, mu: np.ndarray) -> np.ndarray:
        """Certified upper bounds on ||W P diag(mu)||_2 per sample, for mu (N, n_source) >= 0 -> (N,)."""
        peak = mu.max(axis=1, initial=0.0)
        bound = self.norm * peak
        if self.conv:
            return bound
        inf = (mu @ np.abs(self.matrix).T).max(axis=1, initial=0.0)  # ||M D||_inf
        one = (mu * self.abs_cols[None, :]).max(axis=1, initial=0.0)  # ||M D||_1
        bound = np.minimum(bound, np.sqrt(inf * one))
        if self.matrix.size <= EXACT_GAIN_ENTRIES and len(mu):
            scaled = self.matrix[None, :, :] * mu[:, None, :]
            sigma = np.linalg.svd(scaled, compute_uv=False)[:, 0]
            frobenius = np.sqrt((scaled**2).sum(axis=(1, 2)))
            bound = np.minimum(bound, sigma + 4 * max(self.matrix.shape) * _EPS * frobenius)
        return bound
