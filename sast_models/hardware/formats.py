"""Number formats of the deployed network: weight bits, membrane registers, discrete leaks (docs/hardware.md).

Membrane: u = s 2^-f u_int (s the weight quantum, f fractional bits); a B-bit register holds
[-2^(B-1), 2^(B-1) - 1] and saturates outside. Leak: tau_q = m / 2^k, applied as trunc(m v / 2^k) (Lava's
decay); Rockpool's shift leak 1 - 2^-j is m = 2^k - 2^(k - j). The one leak rounding rule of the toolkit is
`discrete_leak`: the representable tau_q nearest to the float tau.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sast_core.errors import InputError

WEIGHT_BITS = (2, 16)  # inclusive range of weight widths
MAX_REGISTER_BITS = 48  # |v| m < 2^(B - 1 + k) must fit int64: B + k <= 63 with k <= LEAK_BITS[1]
LEAK_BITS = (1, 15)  # inclusive range of the leak's denominator exponent k
LEAK_FORMS = ("mult", "shift")
INT_LIMIT = 2**62  # integer quantities (biases, thresholds, currents) must stay well inside int64


def check_weight_bits(bits: int) -> None:
    if not (WEIGHT_BITS[0] <= bits <= WEIGHT_BITS[1]):
        raise InputError(f"weight bits = {bits}: expected an integer in {WEIGHT_BITS[0]}..{WEIGHT_BITS[1]}")


@dataclass(frozen=True)
class MembraneFormat:
    """A signed register of `bits` bits whose LSB is 2^-frac weight quanta."""

    bits: int
    frac: int

    def __post_init__(self) -> None:
        if not (2 <= self.bits <= MAX_REGISTER_BITS):
            raise InputError(f"register bits = {self.bits}: expected an integer in 2..{MAX_REGISTER_BITS}")
        if not (0 <= self.frac < self.bits):
            raise InputError(f"fractional bits = {self.frac} with a {self.bits}-bit register: expected "
                             f"0 <= f < {self.bits}")

    @property
    def low(self) -> int:
        return -(2 ** (self.bits - 1))

    @property
    def high(self) -> int:
        return 2 ** (self.bits - 1) - 1


@dataclass(frozen=True)
class LeakFormat:
    """Leak discretisation: 'mult' (tau_q = m / 2^k, any integer m) or 'shift' (tau_q = 1 - 2^-j, j <= k)."""

    form: str
    k: int

    def __post_init__(self) -> None:
        if self.form not in LEAK_FORMS:
            raise InputError(f"leak form {self.form!r}: expected one of {', '.join(LEAK_FORMS)}")
        if not (LEAK_BITS[0] <= self.k <= LEAK_BITS[1]):
            raise InputError(f"leak bits k = {self.k}: expected an integer in {LEAK_BITS[0]}..{LEAK_BITS[1]}")


def discrete_leak(tau: np.ndarray, fmt: LeakFormat) -> np.ndarray:
    """Nearest representable numerators m (tau_q = m / 2^k) to the float leaks tau in [0, 1), elementwise.

    'mult': m = rne(tau 2^k) clipped to 2^k - 1 (tau_q < 1 keeps the neuron leaky).
    'shift': the nearest of 1 - 2^-j, j = 0..k (ties go to the smaller leak); m = 2^k - 2^(k - j).
    """
    tau = np.asarray(tau, dtype=np.float64)
    scale = 2 ** fmt.k
    if fmt.form == "mult":
        return np.minimum(np.rint(tau * scale), scale - 1).astype(np.int64)
    candidates = scale - 2 ** (fmt.k - np.arange(fmt.k + 1, dtype=np.int64))  # 0, 2^(k-1), ..., 2^k - 1
    nearest = np.abs(tau[..., None] - candidates / scale).argmin(-1)
    return candidates[nearest]


@dataclass(frozen=True)
class HardwareConfig:
    """Everything that fixes the deployed formats: weights (bits, per channel), membrane (B, f), leak.

    register_bits None picks, per layer, the smallest width that THEORY.md P6 proves never saturates.
    """

    weight_bits: int = 8
    per_channel: bool = False
    frac: int = 8
    register_bits: int | None = None
    leak: LeakFormat = LeakFormat("mult", 12)

    def __post_init__(self) -> None:
        check_weight_bits(self.weight_bits)
        if self.register_bits is not None:
            MembraneFormat(self.register_bits, self.frac)
        elif not (0 <= self.frac < MAX_REGISTER_BITS):
            raise InputError(f"fractional bits = {self.frac}: expected 0 <= f < {MAX_REGISTER_BITS}")
