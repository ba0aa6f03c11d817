"""P6: fixed-point deployment with hard spikes -- weight quantization, integer membrane units, and the
smallest membrane register that can never saturate, in exact rational arithmetic (`fractions.Fraction`).

The one implementation of P6: the integer simulator (`sast_models.hardware`), its tests, the verification
and the report (`register_widths`) all use it. Units (docs/hardware.md): symmetric b-bit weights,
round-to-nearest-even, one scale per tensor or per output channel i:
    s_i = max |W| / (2^(b-1) - 1)   (over the tensor or over row / channel i; s = 1 for an all-zero W)
    Wq = rne(W / s) in [-(2^(b-1) - 1), 2^(b-1) - 1],   |s Wq - W| <= s / 2
and the membrane counts LSB_i = s_i 2^-f (f fractional bits below the weight quantum, THEORY.md P6's units):
    bias bq = rne(b / LSB), threshold theta_q = floor(theta / LSB) (for integer u: u > theta / LSB <=> u > theta_q).

State bound. One step is u[t] = trunc(tau_q r(u[t-1])) + I[t] with tau_q = m / 2^k, |trunc(tau_q v)| <= tau_q |v|,
|r(u)| <= |u| (hard spikes: r0 = 0 for EVERY reset, docs/theory.md sec. 3 and sec. 9 item 3 -- for u > theta_q >= 0
the subtract reset gives 0 <= u - theta_q <= u; this tightens THEORY.md's tau_q theta / 2) and
|I_i[t]| <= 2^f S ||Wq_i||_1 + |bq_i| for inputs in [0, S] (S = X for layer 1, 1 for spikes). Hence per output
channel i, with P6's one-LSB rounding allowance,
    |u_int| <= U_q = max_i (2^f S ||Wq_i||_1 + |bq_i| + 1) / (1 - tau_q),   tau_q = max m / 2^k
(P6's (||Q(W)||_inf S + ||Q(b)||_inf + 2^-f) / (1 - tau_q) times 2^f, per channel). A register of B bits holds
[-2^(B-1), 2^(B-1) - 1] and u_int is an integer, so it never saturates iff 2^(B-1) > floor(U_q): the smallest
safe B is bit_length(floor(U_q)) + 1 (and at least f + 1 and 2).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import InputError

INT_LIMIT = 2**62  # integer quantities (biases, thresholds, currents) must stay well inside int64


def weight_qmax(bits: int) -> int:
    """Largest integer weight magnitude of a symmetric b-bit format: 2^(b-1) - 1 (b >= 2)."""
    if bits < 2:
        raise InputError(f"weight bits {bits}: expected >= 2")
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


def state_bound(row_abs_sums: np.ndarray, bias: np.ndarray, leak_m: np.ndarray | int, leak_k: int, frac: int,
                input_bound: float) -> Fraction:
    """U_q of P6 in LSBs, exactly: max_i (2^f S ||Wq_i||_1 + |bq_i| + 1) / (1 - max m / 2^k).

    row_abs_sums: sum_j |Wq_ij| per output channel (integers); bias: bq per channel (LSBs); leak numerators m
    (tau_q = m / 2^k, any shape); inputs in [0, input_bound].
    """
    tau_q = Fraction(int(np.max(leak_m)), 2**leak_k)
    if not 0 <= tau_q < 1:
        raise InputError(f"P6: leak tau_q = {tau_q} outside [0, 1)")
    scale = Fraction(input_bound) * 2**frac
    worst = max(scale * int(rows) + abs(int(b)) + 1 for rows, b in zip(row_abs_sums, bias, strict=True))
    return worst / (1 - tau_q)


def smallest_safe_bits(bound: Fraction, frac: int) -> int:
    """Smallest B with 2^(B-1) > floor(bound), B > frac, B >= 2."""
    return max(int(bound).bit_length() + 1, frac + 1, 2)


def safe_register_bits(bound: Fraction, frac: int, max_bits: int | None = None) -> int:
    """`smallest_safe_bits`, refused (InputError) beyond `max_bits` (the largest register available)."""
    bits = smallest_safe_bits(bound, frac)
    if max_bits is not None and bits > max_bits:
        raise InputError(f"P6 needs a {bits}-bit membrane register (bound {float(bound):.3g} LSBs); at most "
                         f"{max_bits} bits are supported: use fewer fractional bits")
    return bits


def leak_numerator(tau: float, frac_bits: int, leak_shift: int | None) -> tuple[int, int]:
    """(m, k) with tau_q = m / 2^k: 1 - 2^-shift for a shift leak, else tau rounded UP to the 2^-f grid
    (conservative for the bound), kept < 1."""
    if leak_shift is not None:
        if leak_shift < 1:
            raise InputError(f"leak shift {leak_shift}: expected >= 1")
        return 2**leak_shift - 1, leak_shift
    return min(math.ceil(tau * 2**frac_bits), 2**frac_bits - 1), frac_bits


def register_widths(
    description: dict[str, Any],
    weight_bits: int,
    frac_bits: int,
    leak_shift: int | None = None,
    per_channel: bool = False,
) -> list[dict[str, Any]]:
    """P6 per layer of a description (weights quantized as above, biases to LSBs, the layer's largest leak):
    the largest weight quantum, tau_q, U_q in LSBs (`U_q_lsb`) and the smallest safe register width B.

    Average pooling is not folded here (the pooled spikes, in [0, 1], are the next layer's input), so for conv
    networks the units differ from the integer simulator's folded layers; the bound is valid for both.
    """
    out, scale = [], float(description["input"]["bound"])
    for layer in description["layers"]:
        weight, step = quantize_weights(np.asarray(layer["weight"]), weight_bits, per_channel)
        bias = to_membrane_units(layer["bias"], step * 2.0**-frac_bits, "rne")
        m, k = leak_numerator(float(np.max(layer["tau"])), frac_bits, leak_shift)
        rows = np.abs(weight).reshape(weight.shape[0], -1).sum(1)
        bound = state_bound(rows, bias, m, k, frac_bits, scale)
        out.append(
            {
                "name": layer["name"],
                "weight_step": float(step.max()),
                "tau_q": m / 2**k,
                "U_q_lsb": float(bound),
                "bits": smallest_safe_bits(bound, frac_bits),
            }
        )
        scale = 1.0
    return out
