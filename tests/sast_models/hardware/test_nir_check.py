"""The exported NIR graph executed by the consumers users have (Norse, snnTorch; each skipped when not
installed): step by step, the same spike trains as our float hard network and as the integer simulator.

- Dyadic networks (weights k 2^-7 with the per-tensor maximum 127 2^-7, leaks 0, 1/2, 3/4, so that the input
  gain 1 / (1 - tau) is a power of two; binary inputs; T small enough that every value our network and the
  consumer compute has at most 24 significant bits): every spike and every readout membrane is EQUAL, for the
  hard export against `net.trace(x, 'hard')` and for the int8 export against the integer simulator (there
  the deployment is the identity: test_simulator.py).
- Generic float networks (any leak, any weights): where spike trains differ at all, the first difference
  sits at our |u - theta| of float rounding size (the layer's inputs still agreed there).
- The integer deployment of generic networks: the first difference is within one truncated leak's reach,
  |u - theta| < LSB / (1 - tau_q) (the consumer runs the leak without rounding toward zero).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_models.describe import describe
from sast_models.evaluation.modes import EVALUATION_MODES
from sast_models.hardware.deploy import deploy
from sast_models.hardware.formats import HardwareConfig, LeakFormat
from sast_models.hardware.modes import HARDWARE_MODES
from sast_models.hardware.nir_check import Agreement, consumer_runner
from sast_models.hardware.nir_export import export_nir, nir_layers
from sast_models.hardware.simulator import IntegerSimulator
from sast_models.networks import build_network
from sast_models.spec import NetworkSpec

nir = pytest.importorskip("nir")
pytest.importorskip("nirtorch")

EXPONENT = 7  # weights k 2^-7, |k| <= 127: |w| < 1; fan-in <= 32


@pytest.fixture(scope="module", params=["norse", "snntorch"])
def consumer(request) -> str:
    pytest.importorskip(request.param)
    return request.param


def spec_for(arch: str, tau: float, theta: float, **overrides) -> NetworkSpec:
    common = dict(n_classes=3, tau=tau, theta=theta, reset="zero", parameterization="plain")
    if arch == "mlp":
        return NetworkSpec(arch="mlp", input_shape=(2, 4, 4), hidden=(12, 7), **common, **overrides)
    if arch == "crop":  # 7x7 maps pooled by 2: the second conv reads a 6x6 crop (a selection Conv2d node)
        return NetworkSpec(arch="conv", input_shape=(2, 7, 7), channels=(2, 2), hidden=(5,), **common,
                           **overrides)
    return NetworkSpec(arch="conv", input_shape=(2, 6, 6), channels=(3,), hidden=(6,), **common, **overrides)


def dyadic_network(spec: NetworkSpec, rng: np.random.Generator):
    net = build_network(spec, seed=0)
    with torch.no_grad():
        for layer in net.layers:
            weight = rng.integers(-127, 128, size=layer.raw_weight.shape)
            weight.flat[0] = 127  # the per-tensor maximum: the INT8 quantum is exactly 2^-7
            layer.raw_weight.copy_(torch.from_numpy(weight * 2.0**-EXPONENT))
            bias = rng.integers(-16, 17, size=layer.raw_bias.shape) * 2.0**-EXPONENT
            layer.raw_bias.copy_(torch.from_numpy(bias))
    return net


def run_graph(consumer: str, net, x: torch.Tensor):
    graph = export_nir(net)
    return consumer_runner(consumer, graph, [])(x)


def binary_input(rng: np.random.Generator, steps: int, shape: tuple[int, ...], density: float) -> torch.Tensor:
    return torch.from_numpy((rng.random((steps, 3, *shape)) < density).astype(np.float32))


def assert_identical(reference, run) -> None:
    spiking = reference.layers[:-1]
    assert len(run.spikes) == len(spiking)
    for ours, theirs in zip(spiking, run.spikes, strict=True):
        torch.testing.assert_close(theirs.double().reshape(ours.spikes.shape), ours.spikes.double(), rtol=0,
                                   atol=0)
    torch.testing.assert_close(run.readout, reference.layers[-1].membranes.double(), rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), arch=st.sampled_from(["mlp", "conv", "crop"]),
       leak=st.sampled_from([(0.0, 7), (0.5, 7), (0.75, 4)]), theta=st.sampled_from([0.5, 1.0]),
       density=st.floats(0.1, 0.9))
def test_dyadic_networks_give_identical_spike_trains_in_the_consumer(consumer, seed, arch, leak, theta, density):
    """Budget: |I| <= 33, |u| <= 132, the Euler step's I / a - v <= 264 (9 integer bits); fractional bits
    7 (+2 after a folded pooling) + (leak bits) (T - 1) <= 15: at most 24 bits, exact in float32."""
    tau, steps = leak
    rng = np.random.default_rng(seed)
    spec = spec_for(arch, tau, theta)
    net = dyadic_network(spec, rng)
    x = binary_input(rng, steps, spec.input_shape, density)
    reference = net.trace(x, "hard")
    assert_identical(reference, run_graph(consumer, net, x))
    # the INT8 deployment of the same network is the identity here; its export runs the same spikes
    config = HardwareConfig(weight_bits=8, per_channel=False, frac=2 * steps + 4, leak=LeakFormat("mult", 2))
    deployed = deploy(describe(net), config)
    simulated = IntegerSimulator(deployed)(x)
    for ours, theirs in zip(reference.layers, simulated.layers, strict=True):
        torch.testing.assert_close(theirs.spikes.double(), ours.spikes.double(), rtol=0, atol=0)
    run = run_graph(consumer, deployed, x)
    for ours, theirs in zip(simulated.layers[:-1], run.spikes, strict=True):
        torch.testing.assert_close(theirs.double().reshape(ours.spikes.shape), ours.spikes.double(), rtol=0,
                                   atol=0)
    lsb = float(deployed.layers[-1].lsb[0])
    torch.testing.assert_close(run.readout, simulated.layers[-1].membranes.double() * lsb, rtol=0, atol=0)


def agreement(consumer: str, target, reference, x: torch.Tensor) -> dict:
    report = Agreement([layer.theta for layer in nir_layers(target) if layer.spiking])
    report.add(reference(x), run_graph(consumer, target, x), torch.zeros(x.shape[1], dtype=torch.long))
    return report.report()


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), arch=st.sampled_from(["mlp", "conv", "crop"]), tau=st.floats(0.0, 0.95),
       gain=st.floats(1.0, 4.0), density=st.floats(0.1, 0.9), steps=st.integers(1, 12))
def test_generic_float_networks_differ_only_by_float_rounding(consumer, seed, arch, tau, gain, density, steps):
    spec = spec_for(arch, float(np.float32(tau)), 1.0, init_gain=gain)
    net = build_network(spec, seed=seed % 10_000)
    x = binary_input(np.random.default_rng(seed), steps, spec.input_shape, density)
    report = agreement(consumer, net, EVALUATION_MODES["hard"](net), x)
    assert report["layers"] and report["samples"] == 3
    distance = report["max_first_divergence_distance"]
    assert distance is None or distance < 1e-5, report["first_divergences"]
    scale = 1.0 + float(net.trace(x, "hard").layers[-1].membranes.abs().max())
    assert report["max_logit_difference_identical_samples"] <= 1e-5 * scale


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), arch=st.sampled_from(["mlp", "conv", "crop"]), tau=st.floats(0.0, 0.95),
       density=st.floats(0.1, 0.9), steps=st.integers(1, 12))
def test_the_int8_export_differs_from_the_integer_simulator_only_by_the_truncated_leak(consumer, seed, arch, tau,
                                                                                     density, steps):
    spec = spec_for(arch, float(np.float32(tau)), 1.0, init_gain=3.0)
    net = build_network(spec, seed=seed % 10_000)
    x = binary_input(np.random.default_rng(seed), steps, spec.input_shape, density)
    deployed = deploy(describe(net), HARDWARE_MODES["int8"])  # what EVALUATION_MODES["int8"] simulates
    report = agreement(consumer, deployed, EVALUATION_MODES["int8"](net), x)
    # |v - LSB u_int| < sum_k tau_q^k LSB: each step's leak rounds toward zero by less than one LSB
    reach = max(float(layer.lsb.max() / (1.0 - layer.tau_q().max())) for layer in deployed.layers[:-1])
    for divergence in report["first_divergences"]:
        assert divergence["distance_to_threshold"] < reach * (1 + 1e-6), report["first_divergences"]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_one_sample_without_a_batch_axis_runs_as_in_a_batch(consumer, arch):
    """The Flatten node's negative dims flatten the same axes with or without a batch axis."""
    rng = np.random.default_rng(1)
    spec = spec_for(arch, 0.5, 1.0)
    net = dyadic_network(spec, rng)
    x = binary_input(rng, 5, spec.input_shape, 0.5)
    run = consumer_runner(consumer, export_nir(net), [])
    batched = run(x)
    for sample in range(x.shape[1]):
        alone = run(x[:, sample])
        torch.testing.assert_close(alone.readout, batched.readout[:, sample], rtol=0, atol=0)
        for ours, theirs in zip(batched.spikes, alone.spikes, strict=True):
            torch.testing.assert_close(theirs, ours[:, sample], rtol=0, atol=0)
