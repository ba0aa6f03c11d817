"""The network description: typed, self-validating records of a LIF network (docs/describe_schema.md).

The contract between the models and the theory: `sast_models.describe` writes one from a network,
`sast_models.from_description` builds the network back, and the theory providers, the hardware deployment and
the report read its attributes. Frozen dataclasses in the style of NIR's nodes: construction validates every
field (an inconsistency is one InputError line naming the layer and the field), the derived quantities (shapes,
neuron counts, per-neuron leaks, row abs-sums, norms) are defined here once, and `to_dict` / `from_dict` give
the plain layout of docs/describe_schema.md (schema SCHEMA; arrays stay numpy float64 unless dropped).

Semantics (THEORY.md sec. 1): a spiking layer runs u[t] = tau r(u[t-1], s[t-1]) + W s_in[t] + b,
s[t] = phi(u[t] - theta); a conv block's output is the k x k average pooling of its spikes; the readout is
u[t] = tau u[t-1] + W s[t] + b with logits mean_t u[t]. Inputs of layer 1 lie in [0, X], later ones in [0, 1].
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sast_core.errors import InputError

from .geometry import conv_output_size
from .norms import inf_norm, one_norm, row_abs_sums
from .surrogates import RESETS, SURROGATES

SCHEMA = "sast.describe/1"
ARCHS = ("mlp", "conv")
PARAMETERIZATIONS = ("contractive", "plain")


def check_leak(what: str, tau: Any) -> np.ndarray:
    """tau as a float64 array (any shape), refused (InputError naming `what`) unless every entry is in [0, 1)."""
    try:
        values = np.asarray(tau, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} = {tau!r}: expected a number or a list of numbers in [0, 1)") from None
    bad = values[~((values >= 0) & (values < 1))]  # NaN fails both comparisons
    if bad.size:
        shown = repr(float(bad.flat[0])) if values.ndim == 0 else f"{bad.size} value(s) such as {float(bad.flat[0])!r}"
        raise InputError(f"{what} = {shown}: a leak must lie in [0, 1)")
    return values


def _frozen(what: str, value: Any) -> np.ndarray:
    """A read-only float64 copy of `value`, refused unless finite."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what}: expected an array of numbers") from None
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what} contains NaN or infinite entries")
    array.setflags(write=False)
    return array


def _count(what: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{what} = {value!r}: expected an integer >= {low}")
    return int(value)


def _shape(what: str, value: Any, length: int | None = None) -> tuple[int, ...]:
    if not isinstance(value, Sequence | np.ndarray) or (length is not None and len(value) != length):
        expected = f"{length} entries" if length is not None else "a list of sizes"
        raise InputError(f"{what} = {value!r}: expected {expected}")
    return tuple(_count(what, v) for v in value)


def _number(what: str, value: Any, *, low: float = 0.0, strict: bool = False) -> float:
    ok = isinstance(value, int | float | np.floating | np.integer) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < low or (strict and value == low):
        raise InputError(f"{what} = {value!r}: expected a finite number {'>' if strict else '>='} {low:g}")
    return float(value)


@dataclass(frozen=True)
class Caps:
    """The A3 caps of a contractive layer: ||W||_inf <= inf, certified ||W||_2 <= spectral, ||b||_inf <= bias."""

    inf: float
    spectral: float
    bias: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "inf", _number("cap inf", self.inf, strict=True))
        object.__setattr__(self, "spectral", _number("cap spectral", self.spectral, strict=True))
        object.__setattr__(self, "bias", _number("cap bias", self.bias))

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Caps | None:
        if data is None:
            return None
        try:
            return cls(inf=data["inf"], spectral=data["spectral"], bias=data["bias"])
        except (KeyError, TypeError):
            raise InputError(f"caps {data!r}: expected {{'inf', 'spectral', 'bias'}}") from None


DEFAULT_CAPS = Caps(inf=20.0, spectral=20.0, bias=1.0)  # the defaults of sast_models.NetworkSpec


@dataclass(frozen=True, eq=False, kw_only=True)
class LayerRecord:
    """Fields every layer has: its name, leak tau (one value or one per neuron, flat), the A3 leak cap taubar,
    the A3 caps (None: plain parameterization), and the explicit weight and bias (None: a priori, caps only).
    Every record also has `pool` (k of the k x k average pooling of its output: a field of conv blocks, the
    constant 1 of dense layers), `theta` and `reset` (0 and 'none' for the readout)."""

    kind: ClassVar[str]
    spiking: ClassVar[bool]

    name: str
    tau: Any
    taubar: float
    caps: Caps | None = None
    weight: Any = None
    bias: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"layer name {self.name!r}: expected a non-empty string")
        self._set("taubar", float(check_leak(f"layer {self.name}: taubar", self.taubar)))
        tau = check_leak(f"layer {self.name}: tau", self.tau).copy()  # never freeze the caller's array
        if tau.ndim > 1 or (tau.ndim == 1 and tau.size != self.n_out):
            raise InputError(f"layer {self.name}: tau has {tau.size} values for {self.n_out} neurons; expected "
                             "one value or one per neuron")
        tau.setflags(write=False)
        self._set("tau", tau)
        if isinstance(self.caps, Mapping):
            self._set("caps", Caps.from_dict(self.caps))
        elif self.caps is not None and not isinstance(self.caps, Caps):
            raise InputError(f"layer {self.name}: caps {self.caps!r}: expected Caps or None")
        if (self.weight is None) != (self.bias is None):
            raise InputError(f"layer {self.name}: weight and bias must be given together")
        if self.weight is not None:
            self._set("weight", _frozen(f"layer {self.name}: weight", self.weight))
            self._set("bias", _frozen(f"layer {self.name}: bias", self.bias))
            if self.weight.shape != self.weight_shape or self.bias.shape != (self.weight_shape[0],):
                raise InputError(f"layer {self.name}: weight {self.weight.shape} / bias {self.bias.shape}, expected "
                                 f"{self.weight_shape} / {(self.weight_shape[0],)}")

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    # ---- shapes (per sample) -----------------------------------------------------------------------------
    @property
    def in_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def lif_shape(self) -> tuple[int, ...]:
        """Shape of the membrane u."""
        raise NotImplementedError

    @property
    def out_shape(self) -> tuple[int, ...]:
        """Shape of what the next layer receives (after pooling)."""
        return self.lif_shape

    @property
    def weight_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def n_in(self) -> int:
        return math.prod(self.in_shape)

    @property
    def n_out(self) -> int:
        """Number of neurons: prod(lif_shape)."""
        return math.prod(self.lif_shape)

    # ---- derived quantities ------------------------------------------------------------------------------
    @property
    def has_weights(self) -> bool:
        return self.weight is not None

    @property
    def per_neuron_tau(self) -> bool:
        return self.tau.ndim == 1

    @property
    def leaks(self) -> np.ndarray:
        """tau per neuron, flat (n_out,)."""
        return np.broadcast_to(self.tau, (self.n_out,))

    @property
    def tau_max(self) -> float:
        return float(self.tau.max())

    def row_abs_sums(self) -> np.ndarray:
        """sum_j |W_ij| per output row (dense) or output channel (conv)."""
        return row_abs_sums(self._weights())

    def norms(self) -> dict[str, float]:
        """||W||_inf, ||W||_1, sqrt(||W||_1 ||W||_inf) (the parameterization's spectral bound), ||b||_inf."""
        weight = self._weights()
        inf, one = inf_norm(weight), one_norm(weight)
        return {"inf": inf, "one": one, "spectral_bound": float(np.sqrt(inf * one)),
                "bias_inf": float(np.abs(self.bias).max()) if self.bias.size else 0.0}

    def _weights(self) -> np.ndarray:
        if self.weight is None:
            raise InputError(f"layer {self.name}: has no weights (an a priori description)")
        return self.weight

    # ---- plain dict (docs/describe_schema.md) -------------------------------------------------------------
    def to_dict(self, arrays: bool = True) -> dict[str, Any]:
        """The record as plain values; `arrays=False` drops weight and bias (for JSON)."""
        out: dict[str, Any] = {
            "type": self.kind,
            "name": self.name,
            "in_shape": list(self.in_shape),
            "lif_shape": list(self.lif_shape),
            "out_shape": list(self.out_shape),
            "n_in": self.n_in,
            "n_out": self.n_out,
            "tau": self.tau.tolist() if self.per_neuron_tau else float(self.tau),
            "taubar": self.taubar,
            "caps": self.caps.to_dict() if self.caps is not None else None,
            **self._extra_fields(),
        }
        if self.weight is not None:
            out["norms"] = self.norms()
            if arrays:
                out["weight"], out["bias"] = self.weight.copy(), self.bias.copy()
        return out

    def _extra_fields(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LayerRecord:
        """The record of `data` (the layout of `to_dict`); derived entries, when present, must agree."""
        name = data.get("name", "?")
        known = set(cls._own_keys()) | {"type", "name", "in_shape", "lif_shape", "out_shape", "n_in", "n_out",
                                        "tau", "taubar", "caps", "norms", "weight", "bias"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"layer {name}: unknown field(s) {', '.join(unknown)} for type {cls.kind}")
        try:
            record = cls(name=name, tau=data["tau"], taubar=data["taubar"], caps=data.get("caps"),
                         weight=data.get("weight"), bias=data.get("bias"), **cls._own_fields(data))
        except KeyError as err:
            raise InputError(f"layer {name}: missing field {err.args[0]!r}") from None
        for key in ("in_shape", "lif_shape", "out_shape", "n_in", "n_out"):
            if key in data and _plain(data[key]) != _plain(getattr(record, key)):
                raise InputError(f"layer {name}: {key} {data[key]!r} does not match the layer's "
                                 f"{_plain(getattr(record, key))!r}")
        return record

    @classmethod
    def _own_keys(cls) -> tuple[str, ...]:
        """The dict keys of the subclass's own fields (cooperative: each subclass adds to super's)."""
        return ()

    @classmethod
    def _own_fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """The subclass's own constructor arguments read from a dict (cooperative)."""
        return {}


def _plain(value: Any) -> Any:
    return [int(v) for v in value] if isinstance(value, Sequence | np.ndarray) else int(value)


@dataclass(frozen=True, eq=False, kw_only=True)
class SpikingRecord(LayerRecord):
    """A spiking layer: threshold theta >= 0 and reset mode (zero, subtract, none)."""

    spiking: ClassVar[bool] = True

    theta: float
    reset: str

    def __post_init__(self) -> None:
        self._set("theta", _number(f"layer {self.name}: theta", self.theta))
        if self.reset not in RESETS:
            raise InputError(f"layer {self.name}: reset {self.reset!r}; expected one of {', '.join(RESETS)}")
        super().__post_init__()

    def _extra_fields(self) -> dict[str, Any]:
        return {**super()._extra_fields(), "theta": self.theta, "reset": self.reset}

    @classmethod
    def _own_keys(cls) -> tuple[str, ...]:
        return (*super()._own_keys(), "theta", "reset")

    @classmethod
    def _own_fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {**super()._own_fields(data), "theta": data["theta"], "reset": data["reset"]}


@dataclass(frozen=True, eq=False, kw_only=True)
class DenseRecord(LayerRecord):
    """A layer whose operator is a dense W (n_out, n_in) on the flattened input: I = W s_in + b."""

    pool: ClassVar[int] = 1
    inputs: int
    neurons: int

    def __post_init__(self) -> None:
        self._set("inputs", _count(f"layer {self.name}: n_in", self.inputs))
        self._set("neurons", _count(f"layer {self.name}: n_out", self.neurons))
        super().__post_init__()

    @property
    def in_shape(self) -> tuple[int, ...]:
        return (self.inputs,)

    @property
    def lif_shape(self) -> tuple[int, ...]:
        return (self.neurons,)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.neurons, self.inputs)

    @classmethod
    def _own_fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {**super()._own_fields(data), "inputs": data["n_in"], "neurons": data["n_out"]}


@dataclass(frozen=True, eq=False, kw_only=True)
class DenseLIFRecord(SpikingRecord, DenseRecord):
    """Dense LIF layer."""

    kind: ClassVar[str] = "dense_lif"


@dataclass(frozen=True, eq=False, kw_only=True)
class ConvLIFRecord(SpikingRecord):
    """Conv block: conv (kernel kh x kw, stride, zero padding) -> LIF -> k x k average pooling (stride k) of the
    spikes. Weight (C_out, C_in, kh, kw), bias (C_out,) shared over positions."""

    kind: ClassVar[str] = "conv_lif"

    input_shape: tuple[int, int, int]  # (C_in, H, W)
    channels: int
    kernel: tuple[int, int]
    stride: int
    padding: int
    pool: int

    def __post_init__(self) -> None:
        what = f"layer {self.name}"
        self._set("input_shape", _shape(f"{what}: in_shape", self.input_shape, 3))
        self._set("channels", _count(f"{what}: channels", self.channels))
        self._set("kernel", _shape(f"{what}: kernel", self.kernel, 2))
        self._set("stride", _count(f"{what}: stride", self.stride))
        self._set("padding", _count(f"{what}: padding", self.padding, low=0))
        self._set("pool", _count(f"{what}: pool", self.pool))
        height, width = self.lif_shape[1:]
        if min(height, width) < self.pool:
            raise InputError(f"{what}: conv output {height}x{width} on input {list(self.input_shape)} is smaller "
                             f"than the pooling {self.pool}")
        super().__post_init__()

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.input_shape

    @property
    def lif_shape(self) -> tuple[int, ...]:
        _, height, width = self.input_shape
        return (self.channels,
                conv_output_size(height, self.kernel[0], self.stride, self.padding),
                conv_output_size(width, self.kernel[1], self.stride, self.padding))

    @property
    def out_shape(self) -> tuple[int, ...]:
        channels, height, width = self.lif_shape
        return (channels, height // self.pool, width // self.pool)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.channels, self.input_shape[0], *self.kernel)

    def _extra_fields(self) -> dict[str, Any]:
        return {**super()._extra_fields(), "kernel": list(self.kernel), "stride": self.stride,
                "padding": self.padding, "pool": self.pool}

    @classmethod
    def _own_keys(cls) -> tuple[str, ...]:
        return (*super()._own_keys(), "kernel", "stride", "padding", "pool")

    @classmethod
    def _own_fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        if data.get("lif_shape"):
            channels = data["lif_shape"][0]
        elif data.get("weight") is not None:
            channels = np.shape(data["weight"])[0]
        else:
            raise InputError(f"layer {data.get('name', '?')}: needs lif_shape (or a weight) for its channel count")
        return {**super()._own_fields(data), "input_shape": data["in_shape"], "channels": channels,
                "kernel": data["kernel"], "stride": data["stride"], "padding": data["padding"], "pool": data["pool"]}


@dataclass(frozen=True, eq=False, kw_only=True)
class ReadoutRecord(DenseRecord):
    """The leaky readout: u = tau u + W s + b, no spike and no reset (theta = 0, reset 'none' for uniform reads)."""

    kind: ClassVar[str] = "readout"
    spiking: ClassVar[bool] = False
    theta: ClassVar[float] = 0.0
    reset: ClassVar[str] = "none"


RECORD_TYPES: dict[str, type[LayerRecord]] = {cls.kind: cls for cls in (DenseLIFRecord, ConvLIFRecord, ReadoutRecord)}


@dataclass(frozen=True, eq=False, kw_only=True)
class NetworkDescription:
    """A whole network: spiking layers in order, then exactly one readout; input entries in [0, input_bound]
    (X of A1); one surrogate phi_beta for every spiking layer."""

    arch: str
    parameterization: str
    input_shape: tuple[int, ...]
    input_bound: float
    surrogate: str
    beta: float
    layers: tuple[LayerRecord, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise InputError(f"description arch {self.arch!r}: expected one of {', '.join(ARCHS)}")
        if self.parameterization not in PARAMETERIZATIONS:
            raise InputError(f"description parameterization {self.parameterization!r}: expected one of "
                             f"{', '.join(PARAMETERIZATIONS)}")
        if self.surrogate not in SURROGATES:
            raise InputError(f"description surrogate {self.surrogate!r}: expected one of {SURROGATES}")
        object.__setattr__(self, "beta", _number("description surrogate beta", self.beta, strict=True))
        object.__setattr__(self, "input_bound", _number("description input bound X", self.input_bound, strict=True))
        object.__setattr__(self, "input_shape", _shape("description input shape", self.input_shape))
        layers = tuple(self.layers)
        object.__setattr__(self, "layers", layers)
        if (not layers or not isinstance(layers[-1], ReadoutRecord)
                or any(isinstance(layer, ReadoutRecord) for layer in layers[:-1])):
            raise InputError("description layers: expected spiking layers followed by exactly one readout (last)")
        if any(not isinstance(layer, LayerRecord) for layer in layers):
            raise InputError("description layers: expected layer records")
        if (self.arch == "conv") != any(isinstance(layer, ConvLIFRecord) for layer in layers):
            raise InputError(f"description arch {self.arch!r} does not match its layer types")
        shape = self.input_shape
        for layer in layers:
            fits = layer.in_shape == shape if isinstance(layer, ConvLIFRecord) else layer.n_in == math.prod(shape)
            if not fits:
                raise InputError(f"layer {layer.name}: input shape {list(layer.in_shape)} does not match the "
                                 f"previous output {list(shape)}")
            shape = layer.out_shape

    @property
    def has_weights(self) -> bool:
        return all(layer.has_weights for layer in self.layers)

    @property
    def has_caps(self) -> bool:
        return all(layer.caps is not None for layer in self.layers)

    def input_bounds(self) -> tuple[float, ...]:
        """S_{l-1} of every layer: X for the first, 1 after (spikes and pooled spikes lie in [0, 1])."""
        return (self.input_bound,) + (1.0,) * (len(self.layers) - 1)

    def to_dict(self, arrays: bool = True) -> dict[str, Any]:
        """The layout of docs/describe_schema.md; `arrays=False` drops weights and biases (for JSON)."""
        return {
            "schema": SCHEMA,
            "arch": self.arch,
            "parameterization": self.parameterization,
            "input": {"shape": list(self.input_shape), "bound": self.input_bound},
            "surrogate": {"name": self.surrogate, "beta": self.beta},
            "layers": [layer.to_dict(arrays) for layer in self.layers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkDescription:
        """Read the layout of `to_dict` (InputError, one line, for anything invalid)."""
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
            raise InputError(f"network description: expected a dict with schema {SCHEMA!r}")
        layers = data.get("layers")
        if not isinstance(layers, Sequence) or not all(isinstance(layer, Mapping) for layer in layers):
            raise InputError("network description: 'layers' must be a list of layer dicts")
        records = []
        for layer in layers:
            if layer.get("type") not in RECORD_TYPES:
                raise InputError(f"layer {layer.get('name', '?')}: unknown type {layer.get('type')!r}; expected one "
                                 f"of {', '.join(RECORD_TYPES)}")
            records.append(RECORD_TYPES[layer["type"]].from_dict(layer))
        try:
            source, surrogate = data["input"], data["surrogate"]
            return cls(arch=data["arch"], parameterization=data["parameterization"], input_shape=source["shape"],
                       input_bound=source["bound"], surrogate=surrogate["name"], beta=surrogate["beta"],
                       layers=tuple(records))
        except (KeyError, TypeError) as err:
            raise InputError(f"network description: missing or malformed field ({err})") from None


def a_priori_description(
    arch: str,
    beta: float,
    tau: float,
    theta: float = 1.0,
    reset: str = "zero",
    surrogate: str = "sigmoid",
    hidden: tuple[int, ...] = (512,),
    channels: tuple[int, ...] = (),
    input_shape: tuple[int, ...] = (2, 34, 34),
    n_classes: int = 10,
    input_bound: float = 1.0,
    inf_cap: float = DEFAULT_CAPS.inf,
    spectral_cap: float = DEFAULT_CAPS.spectral,
    bias_cap: float = DEFAULT_CAPS.bias,
    readout_tau: float | None = None,
    kernel: int = 3,
    stride: int = 1,
    padding: int = 1,
    pool: int = 2,
) -> NetworkDescription:
    """A weight-free description (caps only) of an 'mlp' or 'conv' network, for a priori constants; layers are
    named 'layers.<i>' as in `sast_models.describe`."""
    caps = Caps(inf=inf_cap, spectral=spectral_cap, bias=bias_cap)
    spiking = {"tau": tau, "taubar": tau, "theta": theta, "reset": reset, "caps": caps}
    layers: list[LayerRecord] = []
    shape = tuple(input_shape) if arch == "conv" else (math.prod(input_shape),)
    for out_channels in channels if arch == "conv" else ():
        block = ConvLIFRecord(name=f"layers.{len(layers)}", input_shape=shape, channels=out_channels,
                              kernel=(kernel, kernel), stride=stride, padding=padding, pool=pool, **spiking)
        layers.append(block)
        shape = block.out_shape
    width = math.prod(shape)
    for size in hidden:
        layers.append(DenseLIFRecord(name=f"layers.{len(layers)}", inputs=width, neurons=size, **spiking))
        width = size
    leak = tau if readout_tau is None else readout_tau
    layers.append(ReadoutRecord(name=f"layers.{len(layers)}", inputs=width, neurons=n_classes, tau=leak,
                                taubar=leak, caps=caps))
    return NetworkDescription(arch=arch, parameterization="contractive", input_shape=tuple(input_shape),
                              input_bound=input_bound, surrogate=surrogate, beta=beta, layers=tuple(layers))
