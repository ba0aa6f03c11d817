"""Validation of a network description (docs/describe_schema.md) and a priori descriptions built from flags."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InputError
from .surrogates import RESETS, SURROGATES

SCHEMA = "sast.describe/1"
LAYER_TYPES = ("dense_lif", "conv_lif", "readout")
# A3 caps by default: the same numbers as sast_models.spec.NetworkSpec (inf_cap, spectral_cap, bias_cap); this
# package cannot import sast_models, so tests/test_theory_report.py checks that they agree.
DEFAULT_CAPS = {"inf": 20.0, "spectral": 20.0, "bias": 1.0}


def validate(description: dict[str, Any]) -> None:
    """Raise InputError (one line) for anything the theory cannot use."""
    if not isinstance(description, dict) or description.get("schema") != SCHEMA:
        raise InputError(f"network description: expected a dict with schema {SCHEMA!r}")
    surrogate = description.get("surrogate", {})
    if surrogate.get("name") not in SURROGATES:
        raise InputError(f"description surrogate {surrogate.get('name')!r}: expected one of {SURROGATES}")
    beta, bound = surrogate.get("beta"), description.get("input", {}).get("bound")
    for what, value in (("surrogate beta", beta), ("input bound X", bound)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise InputError(f"description {what} = {value!r}: expected a finite number > 0")
    layers = description.get("layers")
    if not layers or layers[-1].get("type") != "readout" or any(rec.get("type") == "readout" for rec in layers[:-1]):
        raise InputError("description layers: expected spiking layers followed by exactly one readout (last)")
    for layer in layers:
        name = layer.get("name", "?")
        if layer.get("type") not in LAYER_TYPES:
            raise InputError(f"layer {name}: unknown type {layer.get('type')!r}; expected one of {LAYER_TYPES}")
        if layer["type"] != "readout":
            if layer.get("reset") not in RESETS:
                raise InputError(f"layer {name}: reset {layer.get('reset')!r}; expected one of {RESETS}")
            theta = layer.get("theta")
            if not isinstance(theta, int | float) or not math.isfinite(theta) or theta < 0:
                raise InputError(f"layer {name}: theta {theta!r}; expected a finite number >= 0")
        taubar = layer.get("taubar")
        if not isinstance(taubar, int | float) or not 0 <= taubar < 1:
            raise InputError(f"layer {name}: taubar {taubar!r}; expected a number in [0, 1)")
        for key in ("weight", "bias"):
            if key in layer and not np.all(np.isfinite(np.asarray(layer[key], dtype=float))):
                raise InputError(f"layer {name}: {key} contains NaN or infinite entries")
        if "weight" in layer:
            _check_shapes(layer)


def _check_shapes(layer: dict[str, Any]) -> None:
    weight, bias = np.asarray(layer["weight"]), np.asarray(layer.get("bias", []))
    n_in, n_out = int(layer["n_in"]), int(layer["n_out"])
    if layer["type"] == "conv_lif":
        per_channel = int(np.prod(layer["lif_shape"][1:]))
        ok = (
            weight.ndim == 4
            and weight.shape[0] * per_channel == n_out
            and bias.shape == (weight.shape[0],)
            and weight.shape[1] == layer["in_shape"][0]
        )
    else:
        ok = weight.shape == (n_out, n_in) and bias.shape == (n_out,)
    if not ok:
        raise InputError(
            f"layer {layer.get('name', '?')}: weight {weight.shape} / bias {bias.shape} do not match "
            f"n_in={n_in}, n_out={n_out}"
        )


def has_weights(description: dict[str, Any]) -> bool:
    return all("weight" in layer and "bias" in layer for layer in description["layers"])


def has_caps(description: dict[str, Any]) -> bool:
    return all(layer.get("caps") for layer in description["layers"])


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
    inf_cap: float = DEFAULT_CAPS["inf"],
    spectral_cap: float = DEFAULT_CAPS["spectral"],
    bias_cap: float = DEFAULT_CAPS["bias"],
    readout_tau: float | None = None,
    kernel: int = 3,
    stride: int = 1,
    padding: int = 1,
    pool: int = 2,
) -> dict[str, Any]:
    """A weight-free description (caps only) of an 'mlp' or 'conv' network, for a priori constants."""
    caps = {"inf": inf_cap, "spectral": spectral_cap, "bias": bias_cap}
    layers: list[dict[str, Any]] = []
    shape = list(input_shape) if arch == "conv" else [int(np.prod(input_shape))]
    spiking = {"tau": tau, "taubar": tau, "theta": theta, "reset": reset, "caps": caps}
    for index, out_channels in enumerate(channels if arch == "conv" else ()):
        c_in, height, width = shape
        h1 = (height + 2 * padding - kernel) // stride + 1
        w1 = (width + 2 * padding - kernel) // stride + 1
        lif = [out_channels, h1, w1]
        out = [out_channels, h1 // pool, w1 // pool]
        layers.append(
            {
                "type": "conv_lif",
                "name": f"conv.{index}",
                "in_shape": shape,
                "lif_shape": lif,
                "out_shape": out,
                "n_in": int(np.prod(shape)),
                "n_out": int(np.prod(lif)),
                "kernel": [kernel, kernel],
                "stride": stride,
                "padding": padding,
                "pool": pool,
                **spiking,
            }
        )
        shape = out
    width = int(np.prod(shape))
    for index, size in enumerate(hidden):
        layers.append(
            {
                "type": "dense_lif",
                "name": f"dense.{index}",
                "in_shape": [width],
                "lif_shape": [size],
                "out_shape": [size],
                "n_in": width,
                "n_out": size,
                **spiking,
            }
        )
        width = size
    leak = tau if readout_tau is None else readout_tau
    layers.append(
        {
            "type": "readout",
            "name": "readout",
            "in_shape": [width],
            "lif_shape": [n_classes],
            "out_shape": [n_classes],
            "n_in": width,
            "n_out": n_classes,
            "tau": leak,
            "taubar": leak,
            "caps": caps,
        }
    )
    return {
        "schema": SCHEMA,
        "arch": arch,
        "parameterization": "contractive",
        "input": {"shape": list(input_shape), "bound": input_bound},
        "surrogate": {"name": surrogate, "beta": beta},
        "layers": layers,
    }
