"""THEORY.md P6: the smallest membrane register that can never saturate, in exact rational arithmetic.

In LSB units (formats.py: weights count 2^f LSBs, biases and thresholds are integers) one step is
u[t] = trunc(tau_q r(u[t-1])) + I[t] with |trunc(tau_q v)| <= tau_q |v|, |r(u)| <= |u| + r0 (r0 = theta_q / 2
for 'subtract', else 0) and |I_i[t]| <= 2^f S sum_j |Wq_ij| + |bq_i| for inputs in [0, S] (S = X for layer 1,
1 for spikes). Hence, per output channel i and with P6's one-LSB rounding allowance,
    |u_int| <= U_q = max_i (2^f S ||Wq_i||_1 + |bq_i| + 1 + tau_q r0_i) / (1 - tau_q),   tau_q = max m / 2^k
(the per-channel form of P6's (||Q(W)||_inf S + ||Q(b)||_inf + 2^-f + tau_q r0) / (1 - tau_q), times 2^f).
A register of B bits holds [-2^(B-1), 2^(B-1) - 1] and |u_int| is an integer, so it never saturates iff
2^(B-1) > floor(U_q): the smallest safe B is bit_length(floor(U_q)) + 1 (and at least f + 1 and 2).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from sast_theory.errors import InputError

from .formats import MAX_REGISTER_BITS

if TYPE_CHECKING:
    from .deploy import IntLayer


def state_bound(layer: IntLayer, input_bound: float) -> Fraction:
    """U_q of P6 for `layer` in LSBs, exactly (inputs in [0, input_bound])."""
    tau_q = Fraction(int(layer.leak_m.max()), 2**layer.leak_k)
    r0_factor = Fraction(1, 2) if layer.reset == "subtract" else Fraction(0)
    scale = Fraction(input_bound) * 2**layer.register.frac
    worst = max(scale * int(rows) + abs(int(bias)) + 1 + tau_q * r0_factor * int(theta)
                for rows, bias, theta in zip(layer.row_abs_sums(), layer.bias, layer.theta, strict=True))
    return worst / (1 - tau_q)


def smallest_safe_bits(bound: Fraction, frac: int) -> int:
    """Smallest B with 2^(B-1) > floor(bound), B > frac, B >= 2."""
    return max(int(bound).bit_length() + 1, frac + 1, 2)


def safe_register_bits(bound: Fraction, frac: int) -> int:
    """`smallest_safe_bits`, refused (InputError) beyond the simulator's registers."""
    bits = smallest_safe_bits(bound, frac)
    if bits > MAX_REGISTER_BITS:
        raise InputError(f"P6 needs a {bits}-bit membrane register (bound {float(bound):.3g} LSBs); the "
                         f"simulator supports at most {MAX_REGISTER_BITS}: use fewer fractional bits")
    return bits
