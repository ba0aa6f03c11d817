"""The typed network description: round trips (dict, JSON), validation on construction, derived quantities
defined once (conv geometry, row abs-sums, per-neuron leaks), one naming scheme, immutability."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from theory_strategies import descriptions, make_description

from sast_core.errors import InputError
from sast_theory.description import (
    DEFAULT_CAPS,
    ConvLIFRecord,
    NetworkDescription,
    ReadoutRecord,
    a_priori_description,
    check_leak,
)


def same_dicts(a: dict, b: dict) -> bool:
    """Equal plain dicts, numpy arrays compared bit for bit."""
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray):
            if not (isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y)):
                return False
        elif isinstance(x, dict):
            if not (isinstance(y, dict) and same_dicts(x, y)):
                return False
        elif isinstance(x, list) and x and isinstance(x[0], dict):
            if len(x) != len(y) or not all(same_dicts(p, q) for p, q in zip(x, y, strict=True)):
                return False
        elif x != y:
            return False
    return True


@settings(max_examples=25, deadline=None)
@given(description=descriptions())
def test_dict_round_trip_is_exact(description: NetworkDescription) -> None:
    plain = description.to_dict()
    again = NetworkDescription.from_dict(plain)
    assert same_dicts(plain, again.to_dict())
    for layer in again.layers:
        assert not layer.weight.flags.writeable and not layer.bias.flags.writeable and not layer.tau.flags.writeable


@given(arch=st.sampled_from(["mlp", "conv"]), tau=st.floats(0.0, 0.99), per_layer=st.booleans())
def test_json_round_trip_of_an_a_priori_description(arch: str, tau: float, per_layer: bool) -> None:
    description = a_priori_description(arch, 2.0, tau, channels=(3,) if arch == "conv" else (), hidden=(5,),
                                       input_shape=(2, 8, 8), readout_tau=0.3 if per_layer else None)
    text = json.dumps(description.to_dict(arrays=False))
    assert NetworkDescription.from_dict(json.loads(text)).to_dict(arrays=False) == description.to_dict(arrays=False)


def _valid() -> dict:
    return make_description(np.random.default_rng(3), "conv", "zero", "sigmoid", 2.0, 1.0, 0.5, (2, 4)).to_dict()


@pytest.mark.parametrize(
    ("breaker", "needle"),
    [
        (lambda d: d["layers"][0].update(tau=1.0), "layers.0: tau"),
        (lambda d: d["layers"][0].update(tau=[0.5] * 3), "layers.0: tau has 3 values"),
        (lambda d: d["layers"][1].update(taubar=-0.1), "layers.1: taubar"),
        (lambda d: d["layers"][1].update(theta=float("nan")), "layers.1: theta"),
        (lambda d: d["layers"][1].update(reset="reboot"), "layers.1: reset"),
        (lambda d: d["layers"][0].update(stride=0), "layers.0: stride"),
        (lambda d: d["layers"][0].update(pool=7), "smaller than the pooling"),
        (lambda d: d["layers"][0].update(out_shape=[2, 2, 2]), "layers.0: out_shape"),
        (lambda d: d["layers"][1].update(n_in=7), "layers.1: weight (4, 18)"),
        (lambda d: d["layers"][1].update(weight=np.ones((3, 3))), "layers.1: weight"),
        (lambda d: d["layers"][2].update(bias=np.array([np.nan] * 3)), "NaN"),
        (lambda d: d["layers"][2].pop("weight"), "together"),
        (lambda d: d["layers"][2].update(caps={"inf": -1.0, "spectral": 1.0, "bias": 0.0}), "cap inf"),
        (lambda d: d["layers"][1].update(colour="blue"), "unknown field"),
        (lambda d: d["layers"].pop(), "readout"),
        (lambda d: d["layers"].reverse(), "readout"),
        (lambda d: d.update(arch="mlp"), "arch"),
        (lambda d: d["surrogate"].update(name="relu"), "surrogate"),
        (lambda d: d["input"].update(bound=0.0), "input bound"),
        (lambda d: d.update(schema="sast.describe/0"), "schema"),
    ],
)
def test_invalid_fields_are_one_line_input_errors(breaker, needle: str) -> None:
    description = _valid()
    description["layers"] = [dict(layer) for layer in description["layers"]]
    description["input"], description["surrogate"] = dict(description["input"]), dict(description["surrogate"])
    breaker(description)
    with pytest.raises(InputError) as info:
        NetworkDescription.from_dict(description)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_records_are_frozen_and_replace_revalidates() -> None:
    description = NetworkDescription.from_dict(_valid())
    layer = description.layers[1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        layer.theta = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        layer.weight[0, 0] = 1.0
    with pytest.raises(InputError):
        dataclasses.replace(layer, tau=1.5)
    with pytest.raises(InputError):
        dataclasses.replace(description, layers=description.layers[:-1])


@settings(max_examples=60, deadline=None)
@given(size=st.integers(3, 12), kernel=st.integers(1, 4), stride=st.integers(1, 3), padding=st.integers(0, 2),
       pool=st.integers(1, 3), channels=st.integers(1, 3))
def test_conv_geometry_is_torchs(size, kernel, stride, padding, pool, channels) -> None:
    def record() -> ConvLIFRecord:
        return ConvLIFRecord(name="c", input_shape=(2, size, size + 1), channels=channels, kernel=(kernel, kernel),
                             stride=stride, padding=padding, pool=pool, tau=0.5, taubar=0.5, theta=1.0, reset="zero")

    x = torch.zeros(1, 2, size, size + 1)
    conv = (F.conv2d(x, torch.zeros(channels, 2, kernel, kernel), stride=stride, padding=padding)
            if size + 2 * padding >= kernel else None)  # torch refuses a kernel larger than the padded input
    if conv is None or min(conv.shape[2:]) < pool:
        with pytest.raises(InputError):
            record()
        return
    record = record()
    assert record.lif_shape == tuple(conv.shape[1:])
    assert record.out_shape == tuple(F.avg_pool2d(conv, pool).shape[1:])
    assert record.n_out == conv[0].numel() and record.n_in == x[0].numel()


def test_derived_quantities() -> None:
    weight = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    record = ReadoutRecord(name="r", inputs=3, neurons=2, tau=[0.25, 0.5], taubar=0.5, weight=weight,
                           bias=np.array([0.5, -1.5]))
    assert record.row_abs_sums().tolist() == [3.5, 4.0]
    assert record.norms() == {"inf": 4.0, "one": 5.0, "spectral_bound": pytest.approx(np.sqrt(20.0)),
                              "bias_inf": 1.5}
    assert record.leaks.tolist() == [0.25, 0.5] and record.tau_max == 0.5 and record.per_neuron_tau
    assert (record.theta, record.reset, record.spiking, record.pool) == (0.0, "none", False, 1)


def test_one_naming_scheme_for_models_and_a_priori_descriptions() -> None:
    from sast_models.describe import describe
    from sast_models.networks import LIFNetwork
    from sast_models.spec import NetworkSpec

    spec = NetworkSpec(arch="conv", input_shape=(2, 8, 8), channels=(3, 4), hidden=(5,), n_classes=3)
    ours = describe(LIFNetwork(spec))
    prior = a_priori_description("conv", spec.beta, spec.tau, channels=(3, 4), hidden=(5,), input_shape=(2, 8, 8),
                                 n_classes=3)
    shapes = [(layer.name, layer.kind, layer.in_shape, layer.lif_shape, layer.out_shape) for layer in ours.layers]
    assert shapes == [(layer.name, layer.kind, layer.in_shape, layer.lif_shape, layer.out_shape)
                      for layer in prior.layers]
    assert [layer.name for layer in ours.layers] == ["layers.0", "layers.1", "layers.2", "layers.3"]
    assert all(layer.caps == DEFAULT_CAPS for layer in ours.layers + prior.layers)


@given(value=st.one_of(st.floats(allow_nan=True), st.lists(st.floats(-0.5, 1.5), max_size=5)))
def test_check_leak(value) -> None:
    entries = np.atleast_1d(np.asarray(value, dtype=float))
    if np.all((entries >= 0) & (entries < 1)):
        np.testing.assert_array_equal(check_leak("tau", value), np.asarray(value, dtype=float))
    else:
        with pytest.raises(InputError, match="a leak must lie in"):
            check_leak("tau", value)
