"""NetworkSpec: the hyperparameters that define a LIF network (architecture, neuron, parameterization).

A plain frozen dataclass, serialised into every checkpoint header, validated on construction: an invalid
value raises InputError naming the field and the expected range.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from sast_core.errors import InputError
from sast_theory.description import ARCHS, DEFAULT_CAPS, PARAMETERIZATIONS, check_leak
from sast_theory.surrogates import RESETS, SURROGATES

LEGACY_FIELDS = ("extra",)  # written by version-1 headers before the redesign (always {}), ignored on load


@dataclass(frozen=True)
class NetworkSpec:
    """A dense LIF MLP ('mlp') or conv -> LIF -> avgpool blocks, then dense LIF layers ('conv'); then a readout.

    tau is the leak of every spiking layer, taubar its A3 cap (defaults to tau; must exceed tau when the leak
    is learned); readout_tau the readout's leak (defaults to tau). Caps (contractive parameterization only):
    ||W||_inf <= inf_cap, certified ||W||_2 <= spectral_cap, ||b||_inf <= bias_cap. input_bound is X of A1.
    """

    arch: str = "mlp"
    input_shape: tuple[int, ...] = (2, 34, 34)
    n_classes: int = 10
    hidden: tuple[int, ...] = (512,)
    channels: tuple[int, ...] = ()
    kernel: int = 3
    stride: int = 1
    padding: int = 1
    pool: int = 2
    surrogate: str = "sigmoid"
    beta: float = 5.0
    theta: float = 1.0
    tau: float = 0.5
    taubar: float | None = None
    readout_tau: float | None = None
    reset: str = "zero"
    tau_per_neuron: bool = False
    learn_tau: bool = False
    parameterization: str = "contractive"
    input_bound: float = 1.0
    inf_cap: float = DEFAULT_CAPS.inf
    spectral_cap: float = DEFAULT_CAPS.spectral
    bias_cap: float = DEFAULT_CAPS.bias
    init_gain: float = 3.0

    def __post_init__(self) -> None:
        for name in ("input_shape", "hidden", "channels"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        _choice("arch", self.arch, ARCHS)
        _choice("surrogate", self.surrogate, SURROGATES)
        _choice("reset", self.reset, RESETS)
        _choice("parameterization", self.parameterization, PARAMETERIZATIONS)
        if any(v < 1 for v in self.input_shape + self.hidden + self.channels) or self.n_classes < 2:
            raise InputError("network sizes: every width, channel count and input dimension must be >= 1, "
                             "n_classes >= 2")
        if self.arch == "conv" and (not self.channels or len(self.input_shape) != 3):
            raise InputError("arch conv needs --channels (one or more) and an input shape (C, H, W)")
        if self.arch == "mlp" and self.channels:
            raise InputError("arch mlp takes no conv channels")
        _positive("beta", self.beta)
        _positive("input_bound", self.input_bound)
        _finite_nonnegative("theta", self.theta)
        for name in ("inf_cap", "spectral_cap"):
            _positive(name, getattr(self, name))
        _finite_nonnegative("bias_cap", self.bias_cap)
        _positive("init_gain", self.init_gain)
        if min(self.kernel, self.stride, self.pool) < 1 or self.padding < 0:
            raise InputError("conv geometry: kernel, stride, pool must be >= 1 and padding >= 0")
        for name in ("tau", "leak_cap", "readout_leak"):
            check_leak(name, getattr(self, name))
        if self.learn_tau and not (0.0 < self.tau < self.leak_cap):
            raise InputError(f"learn_tau needs 0 < tau < taubar (got tau={self.tau}, taubar={self.leak_cap})")
        if self.tau > self.leak_cap:
            raise InputError(f"tau = {self.tau} exceeds its cap taubar = {self.leak_cap}")

    @property
    def leak_cap(self) -> float:
        """taubar of the spiking layers."""
        return self.tau if self.taubar is None else float(self.taubar)

    @property
    def readout_leak(self) -> float:
        return self.tau if self.readout_tau is None else float(self.readout_tau)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in ("input_shape", "hidden", "channels"):
            out[name] = list(out[name])
        return out

    @classmethod
    def from_dict(cls, data: Any) -> NetworkSpec:
        """The spec of a JSON object (a checkpoint header's architecture), every field checked against its
        declared type first: '16' is not a width and "5" not a beta."""
        if not isinstance(data, dict):
            raise InputError(f"network spec: expected a JSON object, got {type(data).__name__}")
        data = {key: value for key, value in data.items() if key not in LEGACY_FIELDS}
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise InputError(f"network spec: unknown field(s) {', '.join(unknown)}")
        for name, value in data.items():
            if not _JSON_TYPES[fields[name]](value):
                raise InputError(f"network spec: {name} = {value!r}: expected {_TYPE_NAMES[fields[name]]}")
        return cls(**data)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# JSON checks of the field annotations of NetworkSpec (strings: the module uses postponed annotations)
_JSON_TYPES = {"str": lambda v: isinstance(v, str), "int": _is_int, "float": _is_number,
               "bool": lambda v: isinstance(v, bool), "float | None": lambda v: v is None or _is_number(v),
               "tuple[int, ...]": lambda v: isinstance(v, list) and all(_is_int(x) for x in v)}
_TYPE_NAMES = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
               "float | None": "a number or null", "tuple[int, ...]": "a list of integers"}


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"{name} = {value!r}: expected one of {', '.join(allowed)}")


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{name} = {value}: expected a finite value > 0")


def _finite_nonnegative(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise InputError(f"{name} = {value}: expected a finite value >= 0")
