"""The linear maps of one layer in numpy float64, on a batch of flat per-sample signals, with the rounding
slack of every float dot product (docs/theory.md sec. 12).

For W (dense, or a conv with stride and zero padding) acting on the previous layer's pooled output:
    apply(x)          W x                       (N, *in_shape) -> (N, n_neurons)
    apply_abs(x)      |W| x
    transpose_abs(y)  |W|^T y                   (N, n_neurons) -> (N, *in_shape)
    patch_energy(e)   sum of e over each neuron's receptive field (dense: over all inputs)
    matrix()          the dense (n_neurons, n_in) matrix (small layers: exact gains)
Pooling: pool(s) = k x k average (stride k, floor) of (N, C, H, W); pool_t(v) its transpose.
A float dot product of length n is within gamma_n sum |terms| of the exact one (gamma_n = n u / (1 - n u),
u = 2^-53, any summation order); `slack(n)` is that factor, doubled to cover the abs-sum's own rounding.
"""

from __future__ import annotations

import numpy as np

from .network import LocalLayer

_U = 2.0**-53


def slack(n: int) -> float:
    """2 gamma_(n+2): covers a length-n dot product (and the bias add) and the rounding of its abs-sum."""
    return 2.0 * (n + 2) * _U / (1.0 - (n + 2) * _U)


class Operator:
    def __init__(self, layer: LocalLayer) -> None:
        self.layer = layer
        self.weight = layer.weight
        self.abs_weight = np.abs(layer.weight)
        self.fan_in = int(np.prod(layer.weight.shape[1:]))

    def _conv(self, x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        layer = self.layer
        p, s = layer.padding, layer.stride
        kh, kw = kernel.shape[2:]
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::s, ::s]
        h_out, w_out = layer.lif_shape[1:]
        windows = windows[:, :, :h_out, :w_out]  # (N, C, Ho, Wo, kh, kw)
        out = np.einsum("nchwij,ocij->nohw", windows, kernel, optimize=True)
        return out.reshape(x.shape[0], -1)

    def _linear(self, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        if self.layer.conv:
            return self._conv(x.reshape(n, *self.layer.in_shape), weight)
        return x.reshape(n, -1) @ weight.T

    def apply(self, x: np.ndarray) -> np.ndarray:
        return self._linear(x, self.weight)

    def apply_abs(self, x: np.ndarray) -> np.ndarray:
        return self._linear(x, self.abs_weight)

    def transpose_abs(self, y: np.ndarray) -> np.ndarray:
        """|W|^T y for y (N, n_neurons) -> (N, prod(in_shape))."""
        n, layer = y.shape[0], self.layer
        if not layer.conv:
            return y @ self.abs_weight
        c_in, height, width = layer.in_shape
        p, s = layer.padding, layer.stride
        kh, kw = self.weight.shape[2:]
        h_out, w_out = layer.lif_shape[1:]
        grid = y.reshape(n, self.weight.shape[0], h_out, w_out)
        out = np.zeros((n, c_in, height + 2 * p + kh + s, width + 2 * p + kw + s))
        for di in range(kh):
            for dj in range(kw):
                part = np.einsum("oc,nohw->nchw", self.abs_weight[:, :, di, dj], grid, optimize=True)
                out[:, :, di:di + s * h_out:s, dj:dj + s * w_out:s] += part
        return out[:, :, p:p + height, p:p + width].reshape(n, -1)

    def patch_energy(self, e: np.ndarray) -> np.ndarray:
        """Per neuron: the sum of e over its receptive field (e >= 0, e.g. squared signal bounds)."""
        n, layer = e.shape[0], self.layer
        if not layer.conv:
            return np.repeat(e.reshape(n, -1).sum(axis=1, keepdims=True), layer.n_neurons, axis=1)
        ones = np.ones((1, *self.weight.shape[1:]))
        per_position = self._conv(e.reshape(n, *layer.in_shape), ones)
        return np.tile(per_position, (1, self.weight.shape[0]))

    def matrix(self) -> np.ndarray:
        """W as a dense (n_neurons, prod(in_shape)) matrix (applied to the identity)."""
        if not self.layer.conv:
            return self.weight
        basis = np.eye(int(np.prod(self.layer.in_shape)))
        return self.apply(basis).T


def pool(s: np.ndarray, layer: LocalLayer) -> np.ndarray:
    """k x k average pooling of spikes (N, n_neurons) of a conv block -> (N, C * Hp * Wp); identity otherwise."""
    k = layer.pool
    if k == 1:
        return s
    n = s.shape[0]
    channels, height, width = layer.lif_shape
    hp, wp = height // k, width // k
    grid = s.reshape(n, channels, height, width)[:, :, : hp * k, : wp * k]
    return grid.reshape(n, channels, hp, k, wp, k).mean(axis=(3, 5)).reshape(n, -1)


def pool_transpose(v: np.ndarray, layer: LocalLayer) -> np.ndarray:
    """P^T: (N, C * Hp * Wp) -> (N, n_neurons), each pooled entry spread / k^2 over its block (0 off the crop)."""
    k = layer.pool
    if k == 1:
        return v
    n = v.shape[0]
    channels, height, width = layer.lif_shape
    hp, wp = height // k, width // k
    spread = np.repeat(np.repeat(v.reshape(n, channels, hp, wp), k, axis=2), k, axis=3) / k**2
    out = np.zeros((n, channels, height, width))
    out[:, :, : hp * k, : wp * k] = spread
    return out.reshape(n, -1)


def pooled_weight(next_matrix: np.ndarray, layer: LocalLayer) -> np.ndarray:
    """W P for W acting on the pooled output of `layer` (a dense (n_next, n_neurons of layer) matrix)."""
    return pool_transpose(next_matrix, layer)
