"""Weight quantization and the conversion of thresholds, biases and leaks to integer membrane units.

Symmetric b-bit weights, round-to-nearest-even (np.rint), one scale per tensor or per output channel:
    s = max |W| / (2^(b-1) - 1)        (over the tensor, or over output row / channel i; s = 1 for all-zero W)
    Wq = rne(W / s)  in [-(2^(b-1) - 1), 2^(b-1) - 1],    |s Wq - W| <= s / 2.
The scale is folded into the membrane (formats.py): with LSB = s 2^-f per output channel,
    bias     bq    = rne(b / LSB)                   (|LSB bq - b| <= LSB / 2)
    threshold theta_q = floor(theta / LSB)     (for integer u: u > theta / LSB  <=>  u > theta_q, exactly)
so per-channel scales give per-channel thresholds and biases in integer units.
"""

from __future__ import annotations

import numpy as np

from sast_theory.errors import InputError

from .formats import weight_qmax

INT_LIMIT = 2**62  # integer quantities (biases, thresholds, currents) must stay well inside int64


def weight_scales(weight: np.ndarray, bits: int, per_channel: bool) -> np.ndarray:
    """The quantum s per output channel, shape (n_out,): max |W| / (2^(b-1) - 1) per tensor or per channel."""
    qmax = weight_qmax(bits)
    magnitude = np.abs(np.asarray(weight, dtype=np.float64)).reshape(weight.shape[0], -1)
    peak = magnitude.max(1) if per_channel else np.full(weight.shape[0], magnitude.max())
    return np.where(peak > 0, peak / qmax, 1.0)


def quantize_weights(weight: np.ndarray, bits: int, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """(Wq int64 of the shape of W, s (n_out,)) with Wq = rne(W / s), symmetric, |Wq| <= 2^(b-1) - 1."""
    if not np.all(np.isfinite(weight)):
        raise InputError("cannot quantize weights containing NaN or inf")
    scale = weight_scales(weight, bits, per_channel)
    view = (-1,) + (1,) * (weight.ndim - 1)
    quantized = np.rint(np.asarray(weight, dtype=np.float64) / scale.reshape(view)).astype(np.int64)
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
