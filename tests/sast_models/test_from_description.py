"""network_from_description is the inverse of describe: the round trip is bit-exact in float64 (weights, biases,
leaks and every other field) and the rebuilt network has the same traces; descriptions that one NetworkSpec
cannot express are refused with InputError."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from theory_strategies import descriptions

from sast_core.errors import InputError
from sast_models.describe import describe
from sast_models.from_description import network_from_description
from sast_models.networks import build_network
from sast_models.spec import NetworkSpec
from sast_theory.description import NetworkDescription

PLAIN_FIELDS = ("parameterization", "caps", "taubar")  # what the plain copy reports differently


def assert_same(a: NetworkDescription, b: NetworkDescription, ignore: tuple[str, ...] = ()) -> None:
    """Every field of the two descriptions' dict forms equal (arrays bit for bit), except `ignore`."""
    a, b = a.to_dict(), b.to_dict()
    assert {k: v for k, v in a.items() if k not in ("layers", *ignore)} == {
        k: v for k, v in b.items() if k not in ("layers", *ignore)
    }
    assert len(a["layers"]) == len(b["layers"])
    for x, y in zip(a["layers"], b["layers"], strict=True):
        assert set(x) - set(ignore) == set(y) - set(ignore)
        for key in x:
            if key in ignore:
                continue
            if isinstance(x[key], np.ndarray):
                assert x[key].dtype == y[key].dtype == np.float64 and x[key].shape == y[key].shape
                assert np.array_equal(x[key], y[key]), key  # bit-exact
            else:
                assert x[key] == y[key], key


specs = st.fixed_dictionaries(
    {
        "arch": st.sampled_from(("mlp", "conv")),
        "reset": st.sampled_from(("zero", "subtract", "none")),
        "surrogate": st.sampled_from(("sigmoid", "arctan")),
        "tau_per_neuron": st.booleans(),
        "parameterization": st.sampled_from(("plain", "contractive")),
        "float64": st.booleans(),
        "seed": st.integers(0, 2**16),
        "readout_tau": st.sampled_from((None, 0.25)),
    }
)


@settings(max_examples=12, deadline=None)
@given(options=specs)
def test_round_trip_is_exact_and_traces_agree(options) -> None:
    shape = {"mlp": dict(input_shape=(5,), hidden=(6, 4)), "conv": dict(input_shape=(2, 6, 6), channels=(3, 2),
                                                                         hidden=(4,), pool=1, kernel=3)}
    spec = NetworkSpec(arch=options["arch"], n_classes=3, reset=options["reset"], surrogate=options["surrogate"],
                       tau_per_neuron=options["tau_per_neuron"], parameterization=options["parameterization"],
                       beta=2.0, tau=0.6, readout_tau=options["readout_tau"], input_bound=2.0,
                       **shape[options["arch"]])
    net = build_network(spec, seed=options["seed"])
    if options["float64"]:
        net = net.double()
    if options["tau_per_neuron"]:  # distinct leaks per neuron
        generator = torch.Generator().manual_seed(options["seed"])
        with torch.no_grad():
            for layer in net.layers:
                layer.leak.raw.copy_(torch.rand(layer.leak.raw.shape, generator=generator) * 0.9)
    original = describe(net)
    rebuilt = network_from_description(original)
    assert all(p.dtype == torch.float64 for p in rebuilt.parameters())
    again = describe(rebuilt)
    plain = options["parameterization"] == "plain"
    assert_same(original, again, ignore=() if plain else PLAIN_FIELDS)
    assert again.parameterization == "plain"
    assert_same(again, describe(network_from_description(again)))  # a fixed point
    x = torch.rand(7, 3, *spec.input_shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    reference = net.double()
    with torch.no_grad():
        for mode in ("surrogate", "hard"):
            expected, got = reference.trace(x, mode), rebuilt.trace(x, mode)
            assert torch.equal(expected.logits, got.logits), mode
            for a, b in zip(expected.layers, got.layers, strict=True):
                assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True)), mode


@settings(max_examples=10, deadline=None)
@given(description=descriptions())
def test_strategy_descriptions_are_expressible(description) -> None:
    """The theory tests' random descriptions rebuild exactly (leaks per layer or per neuron included)."""
    net = network_from_description(description)
    assert_same(description, describe(net), ignore=("parameterization", "caps", "name", "norms"))


def test_float32_network() -> None:
    spec = NetworkSpec(input_shape=(4,), hidden=(3,), n_classes=2, parameterization="plain")
    description = describe(build_network(spec, seed=0))
    net = network_from_description(description, dtype=torch.float32)
    assert all(p.dtype == torch.float32 for p in net.parameters())


def _mlp_description() -> dict:
    spec = NetworkSpec(input_shape=(4,), hidden=(3, 3), n_classes=2, parameterization="plain")
    return describe(build_network(spec, seed=0)).to_dict()


@pytest.mark.parametrize(
    "breaker",
    [
        lambda d: d["layers"][1].update(theta=2.0),
        lambda d: d["layers"][1].update(reset="subtract"),
        lambda d: d["layers"][0].update(weight=np.ones((3, 5))),
        lambda d: d["layers"][0].update(tau=[0.5] * 4),
        lambda d: d["layers"][0].update(tau=1.5),
        lambda d: d["layers"][0].pop("weight"),
        lambda d: d.update(arch="conv"),
        lambda d: d["layers"][1].update(lif_shape=[4]),
    ],
)
def test_inexpressible_or_broken_descriptions_are_input_errors(breaker) -> None:
    description = _mlp_description()
    description["layers"] = [dict(layer) for layer in description["layers"]]
    breaker(description)
    with pytest.raises(InputError):
        network_from_description(NetworkDescription.from_dict(description))
