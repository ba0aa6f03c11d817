"""Memory estimates of a network, from its spec alone (nothing is allocated): parameters, optimizer state and
the per-step traces of a batch. Commands add them to the framed data's size and check the total against
`--max-memory` (sast_core.memory) before building anything.

The factors are deliberate overestimates of what the toolkit keeps per value: training holds the parameters,
their gradients, SAM's copy and Adam's two moments (STATE_COPIES), and per neuron, step and sample the current,
membrane, spike and the tensors autograd saves for the backward pass (TRACE_VALUES); inference keeps a trace of
current, membrane and spike (INFERENCE_TRACE_VALUES). An estimate within a small factor is all a refusal of
absurd sizes (a million time bins, a billion neurons) needs.
"""

from __future__ import annotations

import math

from sast_theory.description import a_priori_description

from .spec import NetworkSpec

STATE_COPIES = 6
TRACE_VALUES = 8
INFERENCE_TRACE_VALUES = 3


def network_sizes(spec: NetworkSpec) -> tuple[int, int]:
    """(parameters, neurons per time step and sample) of the network `spec` describes."""
    description = a_priori_description(
        spec.arch, spec.beta, spec.tau, theta=spec.theta, reset=spec.reset, surrogate=spec.surrogate,
        hidden=spec.hidden, channels=spec.channels, input_shape=spec.input_shape, n_classes=spec.n_classes,
        input_bound=spec.input_bound, kernel=spec.kernel, stride=spec.stride, padding=spec.padding, pool=spec.pool)
    parameters = sum(math.prod(layer.weight_shape) + 2 * math.prod(layer.lif_shape) for layer in description.layers)
    neurons = sum(math.prod(layer.lif_shape) for layer in description.layers)
    return parameters, neurons


def network_memory(spec: NetworkSpec, *, batch: int, time_bins: int, training: bool,
                   value_bytes: int = 4) -> dict[str, float]:
    """Estimated bytes (description -> size) of running `spec` on batches of `batch` samples of `time_bins`
    steps: the parameters (with the optimizer state when training) and the traces of one batch."""
    parameters, neurons = network_sizes(spec)
    copies = STATE_COPIES if training else 1
    per_value = TRACE_VALUES if training else INFERENCE_TRACE_VALUES
    inputs = math.prod(spec.input_shape)
    return {f"{parameters:,} parameters{' with optimizer state' if training else ''}":
            float(parameters) * copies * value_bytes,
            f"traces of a batch ({time_bins} steps x {batch} samples x {neurons:,} neurons)":
            float(time_bins) * batch * (neurons * per_value + inputs) * value_bytes}
