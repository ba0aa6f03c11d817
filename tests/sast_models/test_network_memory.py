"""The memory estimate counts exactly the parameters and neurons of the networks it describes, without building
them, and grows with what it should."""

from __future__ import annotations

import math

import pytest
import torch

from sast_models.memory import network_memory, network_sizes
from sast_models.networks import LIFNetwork
from sast_models.spec import NetworkSpec

SPECS = [NetworkSpec(input_shape=(2, 6, 6), hidden=(7, 5), n_classes=3),
         NetworkSpec(input_shape=(2, 6, 6), hidden=(), n_classes=4),
         NetworkSpec(arch="conv", input_shape=(2, 12, 12), channels=(3, 4), hidden=(6,), n_classes=5),
         NetworkSpec(input_shape=(2, 6, 6), hidden=(4,), tau_per_neuron=True, learn_tau=True, taubar=0.8, tau=0.4)]


@pytest.mark.parametrize("spec", SPECS)
def test_parameters_and_neurons_are_those_of_the_built_network(spec):
    parameters, neurons = network_sizes(spec)
    net = LIFNetwork(spec)
    weights = sum(math.prod(layer.explicit().weight.shape) for layer in net.layers)
    assert weights <= parameters <= weights + 2 * neurons  # weights exactly; biases and leaks at most per neuron
    assert sum(p.numel() for p in net.parameters()) <= parameters
    trace = net.trace(torch.zeros(1, 1, *spec.input_shape))  # one step, one sample
    assert neurons == sum(layer.membranes.numel() for layer in trace.layers)


def test_absurd_sizes_are_estimated_without_allocating():
    spec = NetworkSpec(input_shape=(2, 34, 34), hidden=(10**9,))
    parts = network_memory(spec, batch=64, time_bins=100_000, training=True)
    assert sum(parts.values()) > 1e15  # computed from the shapes alone, instantly


def test_training_needs_more_than_inference_and_traces_grow_with_time_and_batch():
    spec = SPECS[0]
    train = sum(network_memory(spec, batch=8, time_bins=10, training=True).values())
    infer = sum(network_memory(spec, batch=8, time_bins=10, training=False).values())
    longer = sum(network_memory(spec, batch=8, time_bins=20, training=True).values())
    wider = sum(network_memory(spec, batch=16, time_bins=10, training=True).values())
    assert infer < train < longer and train < wider
