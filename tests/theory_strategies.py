"""Hypothesis strategies and fixed constructors of small random network descriptions (sast_theory.description)
for the theory tests. No simulator here: the tests run the real network, `network_from_description`.
Every description is expressible by one NetworkSpec (one theta, reset, surrogate and conv geometry)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from sast_theory import norms
from sast_theory.description import SCHEMA, Caps, ConvLIFRecord, LayerRecord, NetworkDescription


def caps_from_weights(layer: LayerRecord, slack: float = 0.0) -> Caps:
    """Caps = the layer's certified norms, widened to cover every weight within Frobenius distance `slack`:
    ||E||_inf <= sqrt(row length) ||E||_F, ||E||_2 <= sqrt(h) ||E||_F (h = 9 for a 3x3 stride-1 conv, else 1)."""
    weight = layer.weight
    if isinstance(layer, ConvLIFRecord):
        omega = norms.conv_spectral_bound(weight, layer.in_shape[1:], layer.padding)
        feeds = layer.kernel[0] * layer.kernel[1]
    else:
        omega, feeds = norms.dense_spectral_norm(weight), 1
    row = math.sqrt(int(np.prod(weight.shape[1:])))
    return Caps(
        inf=norms.inf_norm(weight) + row * slack,
        spectral=omega + math.sqrt(feeds) * slack,
        bias=float(np.max(np.abs(layer.bias))) + slack,
    )


def with_caps(description: NetworkDescription, slack: float) -> NetworkDescription:
    """The description with every layer's caps widened by `slack` (caps_from_weights)."""
    layers = tuple(dataclasses.replace(layer, caps=caps_from_weights(layer, slack)) for layer in description.layers)
    return dataclasses.replace(description, layers=layers)


def make_description(
    rng: np.random.Generator,
    arch: str,
    reset_mode: str,
    surrogate: str,
    beta: float,
    theta: float,
    tau: float,
    sizes: tuple[int, ...],
    input_bound: float = 1.0,
    scale: float = 1.0,
    per_neuron_tau: bool = False,
) -> NetworkDescription:
    """A random small network as a description with weights (and caps equal to its norms)."""
    layers: list[dict[str, Any]] = []
    common = {"theta": theta, "reset": reset_mode}

    def leak(n: int) -> Any:
        return rng.uniform(0.3 * tau, tau, size=n).tolist() if per_neuron_tau else tau

    if arch == "conv":
        shape = [2, 6, 6]
        c_out = sizes[0]
        weight = rng.normal(size=(c_out, 2, 3, 3)) * scale / 3
        lif = [c_out, 6, 6]
        out = [c_out, 3, 3]
        layers.append(
            {
                "type": "conv_lif",
                "name": "layers.0",
                "in_shape": shape,
                "lif_shape": lif,
                "out_shape": out,
                "n_in": 72,
                "n_out": c_out * 36,
                "kernel": [3, 3],
                "stride": 1,
                "padding": 1,
                "pool": 2,
                "weight": weight,
                "bias": rng.normal(size=c_out) * 0.3 * scale,
                "tau": leak(c_out * 36),
                **common,
            }
        )
        width = c_out * 9
        hidden = sizes[1:]
        input_shape = shape
    else:
        width = sizes[0]
        hidden = sizes[1:-1] if len(sizes) > 2 else sizes[1:2]
        input_shape = [width]
    for size in hidden:
        layers.append(
            {
                "type": "dense_lif",
                "name": f"layers.{len(layers)}",
                "in_shape": [width],
                "lif_shape": [size],
                "out_shape": [size],
                "n_in": width,
                "n_out": size,
                "weight": rng.normal(size=(size, width)) * scale / math.sqrt(width),
                "bias": rng.normal(size=size) * 0.3 * scale,
                "tau": leak(size),
                **common,
            }
        )
        width = size
    classes = 3
    layers.append(
        {
            "type": "readout",
            "name": f"layers.{len(layers)}",
            "in_shape": [width],
            "lif_shape": [classes],
            "out_shape": [classes],
            "n_in": width,
            "n_out": classes,
            "weight": rng.normal(size=(classes, width)) / math.sqrt(width),
            "bias": rng.normal(size=classes) * 0.1,
            "tau": leak(classes),
        }
    )
    for layer in layers:
        layer["taubar"] = float(np.max(layer["tau"]))
    description = NetworkDescription.from_dict({
        "schema": SCHEMA,
        "arch": "conv" if arch == "conv" else "mlp",
        "parameterization": "contractive",
        "input": {"shape": input_shape, "bound": input_bound},
        "surrogate": {"name": surrogate, "beta": beta},
        "layers": layers,
    })
    return with_caps(description, 0.0)


@st.composite
def descriptions(draw, arch: str | None = None) -> NetworkDescription:
    arch = draw(st.sampled_from(("mlp", "conv"))) if arch is None else arch
    seed = draw(st.integers(0, 2**31 - 1))
    sizes = (
        (draw(st.integers(1, 4)), draw(st.integers(2, 6)))
        if arch == "conv"
        else tuple(draw(st.lists(st.integers(2, 7), min_size=2, max_size=4)))
    )
    return make_description(
        np.random.default_rng(seed),
        arch,
        draw(st.sampled_from(("zero", "subtract", "none"))),
        draw(st.sampled_from(("sigmoid", "arctan"))),
        draw(st.floats(0.5, 8.0)),
        draw(st.floats(0.2, 2.0)),
        draw(st.floats(0.05, 0.95)),
        sizes,
        input_bound=draw(st.floats(0.5, 3.0)),
        scale=draw(st.floats(0.2, 2.0)),
        per_neuron_tau=draw(st.booleans()),
    )
