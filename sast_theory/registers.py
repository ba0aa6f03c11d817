"""P6: the smallest membrane register a deployed layer can never saturate, in exact rational arithmetic.

For a layer with integer weights Wq, biases bq (LSBs), leak tau_q = m / 2^k, f fractional bits and inputs in
[0, S] (S = X for layer 1, 1 for spikes), hard spikes and any reset (|r(u)| <= |u|):

    |u_int[t]| <= U_q = max_i (2^f S ||Wq_i||_1 + |bq_i| + 1) / (1 - max m / 2^k)

and a B-bit register never saturates iff 2^(B-1) > floor(U_q). Proof and units: docs/theory.md sec. 7 and
docs/hardware.md; the deployed layers these formulas are applied to come from `sast_models.hardware.deploy`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from sast_core.errors import InputError


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
