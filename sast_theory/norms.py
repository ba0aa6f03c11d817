"""Certified operator norms of dense and convolution layers (upper bounds; never a power iteration).

* Dense W: the largest singular value from LAPACK's SVD, inflated by the backward-error margin
  4 max(m, n) eps ||W||_F (an SVD's computed singular values are exact for a matrix within that distance).
* Convolution K (C_out, C_in, kh, kw) with zero padding p and stride s on an H x W input: the padded linear
  cross-correlation equals, on its valid outputs, a CIRCULAR cross-correlation on an N_h x N_w grid with
  N >= H + 2p + k (no wrap-around reaches a valid output), composed with an isometric embedding and a
  coordinate restriction (norm <= 1); stride only drops outputs (another restriction). The circular
  operator is block-diagonalised by the 2-D DFT, so its norm is max over frequencies of the spectral norm of
  the C_out x C_in transfer matrix K_hat(omega). Also sqrt(||.||_1 ||.||_inf) is an upper bound; the smaller
  one is returned.
* ||.||_inf of a conv operator <= max_o sum |K[o]| (equal when one output sees the whole kernel);
  ||.||_1 <= max_c sum_{o, q} |K[o, c, q]|.
* k x k average pooling with stride k: ||P||_2 = 1/k (each output averages k^2 disjoint inputs).
"""

from __future__ import annotations

import numpy as np

from sast_core.errors import InputError

from .geometry import conv_output_size

_EPS = np.finfo(float).eps


def _finite(array: np.ndarray, what: str) -> np.ndarray:
    out = np.asarray(array, dtype=float)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{what} contains NaN or infinite entries")
    return out


def dense_spectral_norm(weight: np.ndarray) -> float:
    """Certified ||W||_2 of a dense (n_out, n_in) matrix: SVD plus its backward-error margin."""
    w = _finite(weight, "dense weight")
    if w.size == 0:
        return 0.0
    sigma = float(np.linalg.svd(w, compute_uv=False)[0])
    return float(sigma + 4 * max(w.shape) * _EPS * float(np.linalg.norm(w)))


def row_abs_sums(weight: np.ndarray) -> np.ndarray:
    """sum_j |W_ij| per output row i; for a conv kernel (C_out, C_in, kh, kw) per output channel (the kernel)."""
    w = np.abs(np.asarray(weight))
    return w.reshape(w.shape[0], -1).sum(axis=1)


def inf_norm(weight: np.ndarray) -> float:
    """||W||_inf = max row abs-sum; for a conv kernel (C_out, C_in, kh, kw) the bound max_o sum |K[o]|."""
    w = _finite(weight, "weight")
    return float(row_abs_sums(w).max()) if w.size else 0.0


def one_norm(weight: np.ndarray) -> float:
    """||W||_1 = max column abs-sum; for a conv kernel the bound max_c sum_{o, q} |K[o, c, q]|."""
    w = np.abs(_finite(weight, "weight"))
    return float(np.swapaxes(w, 0, 1).reshape(w.shape[1], -1).sum(axis=1).max()) if w.size else 0.0


def conv_fft_norm(kernel: np.ndarray, in_hw: tuple[int, int], padding: int) -> float:
    """Certified ||conv||_2 from the transfer matrices on a circular grid of size H + 2p + k (any stride)."""
    k = _finite(kernel, "conv kernel")
    c_out, c_in, kh, kw = k.shape
    grid = (in_hw[0] + 2 * padding + kh, in_hw[1] + 2 * padding + kw)
    transfer = np.fft.fft2(k, s=grid)  # (C_out, C_in, Nh, Nw)
    stacked = np.moveaxis(transfer, (0, 1), (-2, -1)).reshape(-1, c_out, c_in)
    sigma = float(np.linalg.svd(stacked, compute_uv=False)[:, 0].max())
    return float(sigma + 4 * max(c_out, c_in) * kh * kw * _EPS * float(np.linalg.norm(k)) * np.sqrt(grid[0] * grid[1]))


def conv_spectral_bound(kernel: np.ndarray, in_hw: tuple[int, int], padding: int) -> float:
    """min(FFT bound, sqrt(||.||_1 ||.||_inf)): a certified upper bound on the conv operator's 2-norm."""
    return min(conv_fft_norm(kernel, in_hw, padding), float(np.sqrt(one_norm(kernel) * inf_norm(kernel))))


def pooling_norm(pool: int) -> float:
    """||P||_2 = 1/k for k x k average pooling with stride k."""
    if pool < 1:
        raise InputError(f"pooling size {pool} must be >= 1")
    return 1.0 / pool


def conv_matrix(kernel: np.ndarray, in_shape: tuple[int, int, int], stride: int, padding: int) -> np.ndarray:
    """The conv operator as a dense (C_out H_out W_out, C_in H W) matrix (small layers and tests)."""
    k = _finite(kernel, "conv kernel")
    c_out, c_in, kh, kw = k.shape
    _, height, width = in_shape
    h_out = conv_output_size(height, kh, stride, padding)
    w_out = conv_output_size(width, kw, stride, padding)
    matrix = np.zeros((c_out, h_out, w_out, c_in, height, width))
    for i in range(h_out):
        for j in range(w_out):
            for di in range(kh):
                for dj in range(kw):
                    y, x = i * stride + di - padding, j * stride + dj - padding
                    if 0 <= y < height and 0 <= x < width:
                        matrix[:, i, j, :, y, x] += k[:, :, di, dj]
    return matrix.reshape(c_out * h_out * w_out, c_in * height * width)


def pooling_matrix(shape: tuple[int, int, int], pool: int) -> np.ndarray:
    """k x k average pooling (stride k, floor) on (C, H, W) as a dense matrix."""
    channels, height, width = shape
    h_out, w_out = height // pool, width // pool
    matrix = np.zeros((channels, h_out, w_out, channels, height, width))
    for c in range(channels):
        for i in range(h_out):
            for j in range(w_out):
                matrix[c, i, j, c, i * pool : (i + 1) * pool, j * pool : (j + 1) * pool] = 1.0 / pool**2
    return matrix.reshape(channels * h_out * w_out, channels * height * width)
