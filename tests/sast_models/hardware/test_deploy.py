"""Hand-computed integer trajectories (leak toward zero, saturation counts) and THEORY.md P6's safe width:
never saturated by adversarial inputs, and one bit less saturates where the bound is tight."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sast_models.describe import describe
from sast_models.hardware.deploy import IntNetwork, deploy
from sast_models.hardware.formats import HardwareConfig, LeakFormat
from sast_models.hardware.simulator import IntegerSimulator
from sast_models.networks import LIFNetwork, build_network
from sast_models.spec import NetworkSpec
from sast_theory.registers import safe_register_bits


def mlp(weights: list[np.ndarray], *, theta: float = 100.0, tau: float = 0.75, reset: str = "none",
        biases: list[np.ndarray] | None = None, input_bound: float = 1.0) -> LIFNetwork:
    """A plain MLP with the given weight matrices (the last one is the readout's)."""
    spec = NetworkSpec(arch="mlp", input_shape=(weights[0].shape[1],),
                       hidden=tuple(w.shape[0] for w in weights[:-1]), n_classes=weights[-1].shape[0],
                       parameterization="plain", theta=theta, tau=tau, reset=reset, input_bound=input_bound)
    net = build_network(spec, seed=0).double()
    with torch.no_grad():
        for index, (layer, weight) in enumerate(zip(net.layers, weights, strict=True)):
            layer.raw_weight.copy_(torch.as_tensor(weight, dtype=torch.float64))
            layer.raw_bias.copy_(torch.as_tensor(biases[index] if biases else np.zeros(len(weight))))
    return net


def simulate(net: LIFNetwork, config: HardwareConfig, x: np.ndarray) -> tuple[IntNetwork, list]:
    deployed = deploy(describe(net), config)
    return deployed, IntegerSimulator(deployed)(torch.as_tensor(x, dtype=torch.float64)).layers


def test_leak_trajectory_rounds_toward_zero():
    # weights 7 and -7 (4-bit, scale 1), f = 0, tau = 3/4 exactly, one input event at t = 1
    net = mlp([np.array([[7.0], [-7.0]]), np.zeros((2, 2))])
    config = HardwareConfig(weight_bits=4, frac=0, leak=LeakFormat("mult", 2))
    _, layers = simulate(net, config, np.array([1, 0, 0, 0, 0, 0.0]).reshape(6, 1, 1))
    # trunc(0.75 u): 7 -> 5 -> 3 -> 2 -> 1 -> 0, mirrored (floor would give -7 -> -6 -> -5 -> -4 -> -3 -> -3)
    assert layers[0].membranes[:, 0].tolist() == [[7, -7], [5, -5], [3, -3], [2, -2], [1, -1], [0, 0]]


def test_saturation_events_are_clamped_and_counted():
    net = mlp([np.array([[7.0], [-7.0]]), np.zeros((2, 2))])
    config = HardwareConfig(weight_bits=4, frac=0, register_bits=4, leak=LeakFormat("mult", 2))  # [-8, 7]
    x = np.zeros((4, 2, 1))
    x[[0, 2, 3], 0, 0] = 2  # sample 0: I = +-14 at t = 1, 3, 4; sample 1: silent
    _, layers = simulate(net, config, x)
    # +: 14 -> 7 (sat), 5, 5 + 14 -> 7 (sat), 5 + 14 -> 7 (sat); -: -14 -> -8 (sat), -6, -18 -> -8, -20 -> -8
    assert layers[0].membranes[:, 0].tolist() == [[7, -8], [5, -6], [7, -8], [7, -8]]
    assert layers[0].saturation == 6 and layers[1].saturation == 0


@pytest.mark.parametrize("frac", [0, 2])
def test_safe_width_holds_and_one_bit_less_saturates_on_a_tight_case(frac):
    # I = 28 2^f every step, tau_q = 1/2, reset none: u climbs to 2 I - 2, P6 bound U_q = 2 (I + 1)
    net = mlp([np.full((1, 4), 7.0), np.zeros((2, 1))], tau=0.5)
    x = np.ones((40, 1, 4))
    config = HardwareConfig(weight_bits=4, frac=frac, leak=LeakFormat("mult", 1))
    deployed, layers = simulate(net, config, x)
    current = 28 * 2**frac
    assert deployed.layers[0].state_bound(1.0) == 2 * (current + 1)
    safe = deployed.layers[0].register.bits
    bound = deployed.layers[0].state_bound(1.0)
    assert safe == safe_register_bits(bound, frac) == (2 * current + 2).bit_length() + 1
    assert layers[0].saturation == 0
    assert int(layers[0].membranes.max()) == 2 * current - 1  # 55 (f = 0), 223 (f = 2): tight to 2 LSBs + 1
    _, narrow = simulate(net, HardwareConfig(weight_bits=4, frac=frac, register_bits=safe - 1,
                                             leak=LeakFormat("mult", 1)), x)
    assert narrow[0].saturation > 0


def adversarial_inputs(net: LIFNetwork, bound: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """All-X input, per first-layer neuron the inputs maximising / minimising its current, random counts."""
    weight = describe(net).layers[0].weight
    patterns = [np.full(weight.shape[1], bound)]
    patterns += [bound * (row > 0) for row in weight] + [bound * (row < 0) for row in weight]
    constant = np.repeat(np.array(patterns, dtype=np.float64)[None], steps, axis=0)
    random = rng.integers(0, bound + 1, size=(steps, 16, weight.shape[1])).astype(np.float64)
    return np.concatenate([constant, random], axis=1)


def search_worst(deployed: IntNetwork, start: np.ndarray, bound: int, rng: np.random.Generator,
                 generations: int = 15) -> tuple[np.ndarray, list]:
    """Gradient-free search (mutate, keep the fittest) for inputs driving some |u| / 2^(B-1) highest."""
    simulator = IntegerSimulator(deployed)

    def fitness(x: np.ndarray) -> tuple[np.ndarray, list]:
        layers = simulator(torch.as_tensor(x)).layers
        scores = [trace.membranes.abs().amax(dim=(0, 2)).double() / 2 ** (layer.register.bits - 1)
                  for trace, layer in zip(layers, deployed.layers, strict=True)]
        return torch.stack(scores).amax(0).numpy(), layers

    population = start
    for _ in range(generations):
        children = population.copy()
        flips = rng.random(children.shape) < 0.1
        children[flips] = rng.integers(0, bound + 1, size=int(flips.sum()))
        both = np.concatenate([population, children], axis=1)
        scores, _ = fitness(both)
        population = both[:, np.argsort(scores)[::-1][: population.shape[1]]]
    return population, fitness(population)[1]


@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
@pytest.mark.parametrize("bits", [8, 4])
def test_p6_safe_width_never_saturates_on_adversarial_inputs(reset, bits):
    rng = np.random.default_rng(bits)
    weights = [rng.normal(0, 0.6, (8, 10)), rng.normal(0, 0.6, (6, 8)), rng.normal(0, 0.6, (3, 6))]
    biases = [rng.uniform(-0.3, 0.3, len(w)) for w in weights]
    net = mlp(weights, theta=1.0, tau=0.8, reset=reset, biases=biases, input_bound=3.0)
    deployed = deploy(describe(net), HardwareConfig(weight_bits=bits, frac=4))
    x = adversarial_inputs(net, 3, 12, rng)
    _, layers = search_worst(deployed, x, 3, rng)
    for trace, layer, bound in zip(layers, deployed.layers, [3.0, 1.0, 1.0], strict=True):
        assert trace.saturation == 0
        assert int(trace.membranes.abs().max()) <= layer.state_bound(bound)


@pytest.mark.parametrize("per_channel", [False, True])
def test_dequantized_holds_the_deployed_values_in_float_units(per_channel):
    """dequantized: weights s Wq (within s/2 of W), biases LSB bq (the folded LSB), leaks tau_q; the structure and
    theta are the description's, and its caps are dropped (Q(W) may exceed them)."""
    from sast_models.hardware.deploy import dequantized

    spec = NetworkSpec(arch="conv", input_shape=(2, 8, 8), channels=(3,), hidden=(5,), n_classes=3, tau=0.7,
                       beta=2.0)
    description = describe(build_network(spec, seed=4))
    config = HardwareConfig(weight_bits=4, per_channel=per_channel, frac=3, leak=LeakFormat("shift", 4))
    deployed, values = deploy(description, config), dequantized(description, config)
    assert values.parameterization == "plain" and all(layer.caps is None for layer in values.layers)
    for record, quant, layer in zip(description.layers, values.layers, deployed.layers, strict=True):
        assert quant.weight.shape == record.weight.shape and quant.theta == record.theta
        scale = np.abs(record.weight).reshape(len(record.weight), -1).max(axis=1 if per_channel else None) / 7
        scale = np.broadcast_to(scale, (len(record.weight),)).reshape((-1,) + (1,) * (record.weight.ndim - 1))
        assert np.allclose(quant.weight / scale, np.rint(quant.weight / scale), atol=1e-9)
        assert np.all(np.abs(quant.weight - record.weight) <= scale / 2 * (1 + 1e-12))
        assert np.array_equal(quant.bias, layer.bias * layer.lsb)
        assert np.allclose(quant.leaks, np.broadcast_to(layer.tau_q(), record.lif_shape).reshape(-1))
