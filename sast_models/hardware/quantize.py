"""Weights to integers and float values to membrane LSBs (the units of docs/hardware.md):

    s_i = max |W| / (2^(b-1) - 1)        per tensor or per output channel i (s = 1 for an all-zero W)
    Wq = rne(W / s),  |Wq| <= 2^(b-1) - 1,  |s Wq - W| <= s / 2
    v_lsb = rne(v / LSB) (biases) or floor(v / LSB) (thresholds: u > theta / LSB <=> u > floor(theta / LSB))
"""

from __future__ import annotations

import numpy as np

from sast_core.errors import InputError

from .formats import INT_LIMIT, check_weight_bits


def weight_qmax(bits: int) -> int:
    """Largest integer weight magnitude of a symmetric b-bit format: 2^(b-1) - 1."""
    check_weight_bits(bits)
    return 2 ** (bits - 1) - 1


def weight_scales(weight: np.ndarray, bits: int, per_channel: bool) -> np.ndarray:
    """The quantum s per output channel, shape (n_out,): max |W| / (2^(b-1) - 1) per tensor or per channel."""
    qmax = weight_qmax(bits)
    magnitude = np.abs(np.asarray(weight, dtype=np.float64)).reshape(weight.shape[0], -1)
    peak = magnitude.max(1) if per_channel else np.full(weight.shape[0], magnitude.max())
    return np.where(peak > 0, peak / qmax, 1.0)


def quantize_weights(weight: np.ndarray, bits: int, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """(Wq int64 of the shape of W, s (n_out,)) with Wq = rne(W / s), symmetric, |Wq| <= 2^(b-1) - 1."""
    weight = np.asarray(weight, dtype=np.float64)
    if not np.all(np.isfinite(weight)):
        raise InputError("cannot quantize weights containing NaN or inf")
    scale = weight_scales(weight, bits, per_channel)
    view = (-1,) + (1,) * (weight.ndim - 1)
    quantized = np.rint(weight / scale.reshape(view)).astype(np.int64)
    assert np.abs(quantized).max(initial=0) <= weight_qmax(bits)  # |W / s| <= qmax (1 + eps) rounds to qmax
    return quantized, scale


def to_membrane_units(values: np.ndarray, lsb: np.ndarray, rounding: str) -> np.ndarray:
    """values / lsb as int64, rounded 'rne' (biases) or 'floor' (strict thresholds); refuses overflow."""
    ratio = np.asarray(values, dtype=np.float64) / lsb
    if not np.all(np.abs(ratio) < INT_LIMIT):
        raise InputError(f"a bias or threshold is {np.abs(ratio).max():.3g} membrane LSBs: too large for the "
                         f"integer format (use fewer fractional bits)")
    rounded = np.rint(ratio) if rounding == "rne" else np.floor(ratio)
    return rounded.astype(np.int64)
