"""P7 (sast_theory.transfer): the bound holds on hypothesis-generated networks in every deployment mode (hard
spikes and the integer simulator in int8, int4, fixed), the deployed trajectory it reads reproduces the
simulator's own logits, a certified sample always agrees, the known part is exact when nothing is unknown, and
the injected errors add up to the exact residual."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from theory_strategies import descriptions, make_description

from sast_models.from_description import network_from_description
from sast_models.hardware.deploy import dequantized
from sast_models.hardware.modes import HARDWARE_MODES, hardware_runner
from sast_theory.combinator import compose
from sast_theory.description import NetworkDescription
from sast_theory.transfer import DeployedLayer, injected_errors, transfer_bound

MODES = ("hard", *HARDWARE_MODES)


def _deployed(net, mode: str, x: torch.Tensor) -> tuple[list[DeployedLayer], np.ndarray]:
    with torch.no_grad():
        trace = net.trace(x, "hard") if mode == "hard" else hardware_runner(net, mode)(x)
    layers = [DeployedLayer(layer.membranes.flatten(2).double().numpy(), layer.spikes.flatten(2).double().numpy())
              for layer in trace.layers]
    return layers, trace.logits.double().numpy()


def _intervals(description: NetworkDescription):
    post = compose(description, posterior=True)
    return [(li.detail["surrogate_low"], li.detail["surrogate_high"]) if "surrogate_low" in li.detail else None
            for li in post.layers]


def _inputs(description: NetworkDescription, seed: int, steps: int = 6, batch: int = 5) -> torch.Tensor:
    """Integer event counts in [0, X] (the simulator needs counts; A1)."""
    generator = torch.Generator().manual_seed(seed)
    bound = description.input_bound
    counts = torch.floor(torch.rand(steps, batch, *description.input_shape, generator=generator, dtype=torch.float64)
                         * (np.floor(bound) + 1))
    return counts.clamp(max=np.floor(bound))


def _integer_bound(description: NetworkDescription) -> NetworkDescription:
    """The description with X rounded down to an integer >= 1 (integer counts must be able to reach it)."""
    return dataclasses.replace(description, input_bound=float(max(1, int(description.input_bound))))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(description=descriptions(), mode=st.sampled_from(MODES), seed=st.integers(0, 2**16))
def test_delta_bounds_the_measured_deviation_in_every_mode(description, mode, seed) -> None:
    description = _integer_bound(description)
    net = network_from_description(description)
    x = _inputs(description, seed)
    layers, z_hat = _deployed(net, mode, x)
    with torch.no_grad():
        z = net(x, "surrogate").numpy()
    bound = transfer_bound(description, x.numpy(), layers, _intervals(description))
    d = z - z_hat
    assert np.all(bound.low <= d) and np.all(d <= bound.high), (mode, (d - bound.high).max(), (bound.low - d).max())
    assert np.all(np.abs(d).max(axis=1) <= bound.delta)
    pairs = d[:, :, None] - d[:, None, :]
    assert np.all(bound.pair_low <= pairs) and np.all(pairs <= bound.pair_high)
    agree = z.argmax(1) == z_hat.argmax(1)
    for pairwise in (False, True):
        assert np.all(agree[bound.certified(z, pairwise=pairwise)])
    assert np.all(agree[bound.certified(z_hat, pairwise=True, side="deployed")])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(description=descriptions(), mode=st.sampled_from(tuple(HARDWARE_MODES)), seed=st.integers(0, 2**16))
def test_the_deployed_trajectory_reproduces_the_simulator_logits(description, mode, seed) -> None:
    """The bound reads u^ = LSB u_int; its readout mean is the simulator's own z (LSB sum_t u_int / T)."""
    description = _integer_bound(description)
    net = network_from_description(description)
    layers, z_hat = _deployed(net, mode, _inputs(description, seed))
    readout = layers[-1].membranes.mean(axis=0)
    assert np.allclose(readout, z_hat, rtol=1e-12, atol=1e-12 * (1 + np.abs(z_hat).max()))


def test_without_spiking_layers_the_bound_is_the_exact_deviation() -> None:
    """Readout only: every injected error is known (weights, bias, leak, rounding), nothing is propagated, so Delta
    equals the measured deviation up to the floating-point allowance."""
    rng = np.random.default_rng(3)
    base = make_description(rng, "mlp", "zero", "sigmoid", 2.0, 1.0, 0.7, (9, 4), input_bound=2.0)
    readout = dataclasses.replace(base.layers[-1], name="layers.0", inputs=9, weight=rng.normal(size=(3, 9)),
                                  bias=rng.normal(size=3) * 0.3, caps=None)
    description = dataclasses.replace(base, parameterization="plain", input_shape=(9,), layers=(readout,))
    net = network_from_description(description)
    x = _inputs(description, 1, steps=8, batch=6)
    with torch.no_grad():
        z = net(x, "surrogate").numpy()
    for mode in HARDWARE_MODES:
        layers, z_hat = _deployed(net, mode, x)
        bound = transfer_bound(description, x.numpy(), layers)
        measured = np.abs(z - z_hat).max(axis=1)
        assert np.all(measured <= bound.delta)
        assert np.all(bound.delta - measured <= 1e-8 * (1 + np.abs(z).max())), mode


@pytest.mark.parametrize("mode", tuple(HARDWARE_MODES))
def test_injected_errors_add_up_and_vanish_where_they_must(mode) -> None:
    rng = np.random.default_rng(7)
    description = make_description(rng, "mlp", "subtract", "sigmoid", 3.0, 0.8, 0.6, (8, 6, 5), input_bound=2.0)
    net = network_from_description(description)
    x = _inputs(description, 2)
    layers, _ = _deployed(net, mode, x)
    parts = injected_errors(description, dequantized(description, HARDWARE_MODES[mode]), x.numpy(), layers)
    assert len(parts) == len(description.layers)
    assert parts[0]["reset"]["max"] > 0 or parts[1]["reset"]["max"] > 0
    assert parts[-1]["spike"]["max"] == 0.0 and parts[-1]["reset"]["max"] == 0.0  # the readout
    hard_layers, _ = _deployed(net, "hard", x)
    exact = injected_errors(description, description, x.numpy(), hard_layers)
    for layer in exact:  # hard mode: the same weights, leaks and no registers
        assert layer["weight"]["max"] == 0.0 and layer["bias"]["max"] == 0.0 and layer["leak"]["max"] == 0.0
        assert layer["rounding"]["max"] < 1e-12


def _shared_nmnist():
    import os
    from pathlib import Path

    env = os.environ.get("SAST_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return root / "real" / "nmnist"


@pytest.mark.skipif(not (_shared_nmnist() / "manifest.csv").is_file(), reason="shared N-MNIST data absent")
def test_the_bound_holds_on_genuine_nmnist_samples() -> None:
    """Genuine N-MNIST event frames (binary, 17 x 17 after 2 x 2 downsampling) through a 578-24-10 network."""
    from sast_models.data.loading import load_frames
    from sast_models.describe import describe
    from sast_models.networks import build_network
    from sast_models.spec import NetworkSpec

    frames, _, _ = load_frames(f"nmnist:{_shared_nmnist()}", time_bins=6, downsample=2, mode="binary")
    x = frames[:12].transpose(0, 1).double()
    spec = NetworkSpec(input_shape=(2, 17, 17), hidden=(24,), beta=3.0, tau=0.6, init_gain=6.0)
    net = build_network(spec, seed=1).double().eval()
    description = describe(net)
    with torch.no_grad():
        z = net(x, "surrogate").numpy()
    for mode in MODES:
        layers, z_hat = _deployed(net, mode, x)
        assert layers[0].spikes.mean() > 0.001  # the hidden layer does spike
        bound = transfer_bound(description, x.numpy(), layers, _intervals(description))
        assert np.all(np.abs(z - z_hat).max(axis=1) <= bound.delta), mode
