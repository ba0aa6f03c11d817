"""NIR export: the mapping onto forward-Euler LIF nodes, the discrete semantics in metadata, warnings, and a
file round trip (nir only; the consumers that execute the file: test_nir_check.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_core.errors import InputError
from sast_models.describe import describe
from sast_models.hardware.deploy import deploy
from sast_models.hardware.formats import HardwareConfig
from sast_models.hardware.nir_export import (
    NIRConsumerWarning,
    NIRSemanticsWarning,
    export_nir,
    nir_layers,
    readout_threshold,
)
from sast_models.networks import build_network
from sast_models.spec import NetworkSpec

nir = pytest.importorskip("nir")

CONV = dict(arch="conv", input_shape=(2, 8, 8), channels=(3, 2), hidden=(5,), n_classes=3, reset="zero",
            parameterization="plain")


def network(**overrides):
    return build_network(NetworkSpec(**{**CONV, **overrides}), seed=0)


def deployed(per_channel=True, **overrides):
    return deploy(describe(network(**overrides)), HardwareConfig(weight_bits=8, per_channel=per_channel))


def exported(net, **kwargs):
    with pytest.warns(UserWarning) as record:
        graph = export_nir(net, **kwargs)
    return graph, record


def messages(record, category):
    return [str(w.message) for w in record if issubclass(w.category, category)]


def test_round_trip_through_a_file_keeps_the_mapping_and_the_integer_semantics(tmp_path):
    net = deployed()
    graph, record = exported(net, dt=1e-4)
    semantics = messages(record, NIRSemanticsWarning)
    assert len(semantics) == 2 and "rounding toward zero" in semantics[0] and "mean over time" in semantics[1]
    consumer = messages(record, NIRConsumerWarning)  # per-channel thresholds of the three spiking layers
    assert len(consumer) == 3 and all("snnTorch" in m and "per-channel thresholds" in m for m in consumer)
    nir.write(tmp_path / "net.nir", graph)
    back = nir.read(tmp_path / "net.nir")
    assert back.edges == graph.edges and set(back.nodes) == set(graph.nodes)
    kinds = [type(back.nodes[f"synapse{i}"]).__name__ for i in range(4)]
    assert kinds == ["Conv2d", "Conv2d", "Affine", "Affine"]
    assert all(type(back.nodes[f"neuron{i}"]).__name__ == "LIF" for i in range(4))
    for index, layer in enumerate(net.layers):
        synapse, neuron = back.nodes[f"synapse{index}"], back.nodes[f"neuron{index}"]
        np.testing.assert_array_equal(synapse.metadata["weight_int"], layer.weight)
        np.testing.assert_array_equal(synapse.metadata["weight_scale"], layer.scale)
        assert int(neuron.metadata["register_bits"]) == layer.register.bits
        assert int(neuron.metadata["leak_shift"]) == layer.leak_k
        assert float(neuron.metadata["dt"]) == 1e-4 and str(neuron.metadata["reset"]) == layer.reset
        tau_q = layer.tau_q() * np.ones(layer.lif_shape)
        np.testing.assert_allclose(1 - 1e-4 / neuron.tau, tau_q, rtol=0, atol=1e-12)  # forward Euler
        np.testing.assert_array_equal(neuron.r, 1.0)
        np.testing.assert_array_equal(neuron.v_reset, 0.0)
        gain = 1.0 / (1.0 - layer.tau_q())  # the synapse carries I / (1 - tau_q)
        np.testing.assert_allclose(synapse.metadata["input_gain"], gain * np.ones(len(layer.scale)))
        np.testing.assert_allclose(synapse.bias, layer.bias * layer.lsb * gain, rtol=1e-15)
        if layer.spiking:
            assert "strict" in str(neuron.metadata["spike"])
            lsb = np.broadcast_to(layer.lsb.reshape(layer.channel_view), layer.lif_shape)
            threshold = np.broadcast_to(layer.theta.reshape(layer.channel_view), layer.lif_shape)
            np.testing.assert_array_equal(neuron.metadata["threshold_lsb"], threshold)
            np.testing.assert_array_equal(neuron.v_threshold, threshold * lsb)
    assert "readout" in str(back.nodes["neuron3"].metadata["role"])
    assert str(back.metadata["readout"]) == "neuron3" and float(back.metadata["dt"]) == 1e-4


def test_the_hard_network_is_exported_with_its_float_weights_scaled_by_the_input_gain():
    net = network(arch="mlp", input_shape=(2, 5, 5), channels=(), hidden=(7, 6), tau=0.75, readout_tau=0.5)
    graph, record = exported(net)
    assert messages(record, NIRConsumerWarning) == []
    assert messages(record, NIRSemanticsWarning) == [
        "logits = mean over time of the membrane v of the readout node neuron2 (a LIF that never spikes); "
        "NIR has no node for the mean"]
    flatten = graph.nodes["flatten0"]  # batch-agnostic: torch.nn.Flatten(-3, -1) on (B, 2, 5, 5) or (2, 5, 5)
    assert (flatten.start_dim, flatten.end_dim) == (-3, -1)
    np.testing.assert_array_equal(flatten.output_type["output"], [50])
    description = describe(net)
    for index, (record_, gain) in enumerate(zip(description.layers, (4.0, 4.0, 2.0), strict=True)):
        synapse, neuron = graph.nodes[f"synapse{index}"], graph.nodes[f"neuron{index}"]
        np.testing.assert_array_equal(synapse.weight, record_.weight * gain)  # powers of two: exact
        np.testing.assert_array_equal(synapse.bias, record_.bias * gain)
        np.testing.assert_array_equal(1e-4 / neuron.tau, 1.0 / gain)  # dt / tau_mem = 1 - tau exactly
    np.testing.assert_array_equal(graph.nodes["neuron0"].v_threshold, net.spec.theta)
    assert "flatten1" not in graph.nodes


def test_folded_pooling_is_exported_as_the_operator_the_hardware_runs():
    graph, _ = exported(deployed())
    conv2 = graph.nodes["synapse1"]  # 3x3 conv after 2x2 pooling -> 6x6 kernel, stride 2, padding 2
    assert conv2.weight.shape[2:] == (6, 6)
    assert tuple(conv2.stride) == (2, 2) and tuple(conv2.padding) == (2, 2)
    dense = graph.nodes["synapse2"]  # reads the (2, 4, 4) spikes of block 2 directly (pooled to 2 x 2)
    assert dense.weight.shape == (5, 2 * 4 * 4)
    hard, _ = exported(network())
    assert hard.nodes["synapse1"].weight.shape[2:] == (6, 6)
    # the float fold: K[o, c, a // 2, b // 2] / 4, times the input gain 2 (tau = 0.5)
    kernel = describe(network()).layers[1].weight
    np.testing.assert_array_equal(hard.nodes["synapse1"].weight, kernel.repeat(2, 2).repeat(2, 3) / 4 * 2)


def test_unrepresentable_semantics_are_warned_and_refused():
    _, record = exported(deployed(reset="subtract"))
    assert sum("'subtract'" in m for m in messages(record, NIRSemanticsWarning)) == 3  # the spiking layers
    with pytest.raises(InputError, match="dt"):
        export_nir(deployed(), dt=0.0)


@pytest.mark.parametrize("deployment", [False, True])
def test_a_convolution_after_a_pooling_floor_reads_its_crop_through_a_selection_conv(deployment):
    """7x7 maps pooled by 2 leave row and column 6 unread: conv 2 reads x[:, :6, :6] (test_nir_check.py runs
    it)."""
    net = network(input_shape=(2, 7, 7), channels=(2, 2))
    graph, _ = exported(deploy(describe(net), HardwareConfig(weight_bits=8)) if deployment else net)
    crop = graph.nodes["crop1"]
    assert crop.weight.shape == (2, 2, 2, 2) and crop.weight.sum() == 2 and crop.weight[0, 0, 0, 0] == 1
    assert ("neuron0", "crop1") in graph.edges and ("crop1", "synapse1") in graph.edges
    np.testing.assert_array_equal(crop.output_type["output"], [2, 6, 6])
    np.testing.assert_array_equal(graph.nodes["synapse1"].input_type["input"], [2, 6, 6])
    assert "crop0" not in graph.nodes and "crop2" not in graph.nodes  # the dense layer: zero weights instead


def test_what_a_consumer_cannot_import_is_warned():
    _, record = exported(network(arch="mlp", input_shape=(6,), channels=(), hidden=(4,)), dt=1e-3)
    assert any("snnTorch" in m and "dt = 0.0001" in m for m in messages(record, NIRConsumerWarning))
    per_neuron = network(arch="mlp", input_shape=(6,), channels=(), hidden=(4,), tau_per_neuron=True,
                         learn_tau=True, tau=0.5, taubar=0.9)
    with torch.no_grad():
        per_neuron.layers[0].leak.raw.uniform_(-2, 2)
    graph, record = exported(per_neuron)
    assert any("neuron0" in m and "per-neuron leaks" in m for m in messages(record, NIRConsumerWarning))
    assert graph.nodes["neuron0"].r.tolist() == [1.0] * 4  # dense: the per-neuron gain fits the weights
    conv = network(tau_per_neuron=True, learn_tau=True, tau=0.5, taubar=0.9)
    with torch.no_grad():
        conv.layers[0].leak.raw.uniform_(-2, 2)
    graph, record = exported(conv)  # a convolution shares weights over positions: the gain goes into r
    assert any("Norse" in m and "ignores r of neuron0" in m for m in messages(record, NIRConsumerWarning))
    tau = nir_layers(conv)[0].tau
    np.testing.assert_allclose(graph.nodes["neuron0"].r, 1.0 / (1.0 - tau))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.0, 0.95), st.sampled_from([1.0, 3.0]))
def test_the_readout_threshold_is_above_every_reachable_membrane(seed, tau, input_bound):
    """The worst input for readout neuron i (s_j = S where W_ij > 0, forever) approaches the P1 bound from
    below; the exported threshold is at least twice that bound."""
    net = build_network(NetworkSpec(arch="mlp", input_shape=(9,), hidden=(), n_classes=4, tau=tau,
                                    parameterization="plain", init_gain=4.0, input_bound=input_bound), seed=seed)
    layer = nir_layers(net)[-1]
    threshold = readout_threshold(layer)
    worst = (np.clip(layer.weight, 0, None).sum(1) * input_bound + layer.bias) / (1.0 - tau)
    assert threshold >= 2 * np.abs(worst).max() and threshold > 0
    assert np.log2(threshold) == int(np.log2(threshold))  # a power of two: exact after any gain
