"""NIR export of the deployed network: the discrete semantics in metadata, warnings, and a file round trip."""

from __future__ import annotations

import numpy as np
import pytest

from sast_core.errors import InputError
from sast_models.describe import describe
from sast_models.hardware.deploy import deploy
from sast_models.hardware.formats import HardwareConfig
from sast_models.hardware.nir_export import NIRSemanticsWarning, export_nir
from sast_models.networks import build_network
from sast_models.spec import NetworkSpec

nir = pytest.importorskip("nir")


def deployed(**overrides):
    spec = dict(arch="conv", input_shape=(2, 8, 8), channels=(3, 2), hidden=(5,), n_classes=3, reset="zero",
                parameterization="plain")
    net = build_network(NetworkSpec(**{**spec, **overrides}), seed=0)
    return deploy(describe(net), HardwareConfig(weight_bits=8, per_channel=True))


def test_round_trip_through_a_file_keeps_weights_and_semantics(tmp_path):
    net = deployed()
    with pytest.warns(NIRSemanticsWarning) as record:
        graph = export_nir(net, dt=1e-3)
    messages = [str(w.message) for w in record]
    assert len(messages) == 2 and "rounding toward zero" in messages[0] and "mean over time" in messages[1]
    nir.write(tmp_path / "net.nir", graph)
    back = nir.read(tmp_path / "net.nir")
    assert back.edges == graph.edges and set(back.nodes) == set(graph.nodes)
    kinds = [type(back.nodes[f"synapse{i}"]).__name__ for i in range(4)]
    assert kinds == ["Conv2d", "Conv2d", "Affine", "Affine"]
    for index, layer in enumerate(net.layers):
        synapse, neuron = back.nodes[f"synapse{index}"], back.nodes[f"neuron{index}"]
        np.testing.assert_array_equal(synapse.metadata["weight_int"], layer.weight)
        np.testing.assert_array_equal(synapse.metadata["weight_scale"], layer.scale)
        assert int(neuron.metadata["register_bits"]) == layer.register.bits
        assert int(neuron.metadata["leak_shift"]) == layer.leak_k
        assert float(neuron.metadata["dt"]) == 1e-3
        assert str(neuron.metadata["reset"]) == layer.reset
        tau_q = layer.tau_q() * np.ones(layer.lif_shape)
        np.testing.assert_allclose(1 - 1e-3 / neuron.tau, tau_q, rtol=0, atol=1e-12)  # forward Euler
        if layer.spiking:
            assert "strict" in str(neuron.metadata["spike"])
            lsb = np.broadcast_to(layer.lsb.reshape(layer.channel_view), layer.lif_shape)
            threshold = np.broadcast_to(layer.theta.reshape(layer.channel_view), layer.lif_shape)
            np.testing.assert_array_equal(neuron.metadata["threshold_lsb"], threshold)
            np.testing.assert_array_equal(neuron.v_threshold, threshold * lsb)
    assert type(back.nodes["neuron3"]).__name__ == "LI"


def test_folded_pooling_is_exported_as_the_operator_the_hardware_runs():
    net = deployed()
    with pytest.warns(NIRSemanticsWarning):
        graph = export_nir(net)
    conv2 = graph.nodes["synapse1"]  # 3x3 conv after 2x2 pooling -> 6x6 kernel, stride 2, padding 2
    assert conv2.weight.shape[2:] == (6, 6)
    assert tuple(conv2.stride) == (2, 2) and tuple(conv2.padding) == (2, 2)
    dense = graph.nodes["synapse2"]  # reads the (2, 4, 4) spikes of block 2 directly (pooled to 2 x 2)
    assert dense.weight.shape == (5, 2 * 4 * 4)


def test_unrepresentable_semantics_are_warned_and_refused():
    with pytest.warns(NIRSemanticsWarning) as record:
        export_nir(deployed(reset="subtract"))
    assert sum("'subtract'" in str(w.message) for w in record) == 3  # the three spiking layers
    with pytest.raises(InputError, match="crop"):  # 7x7 map pooled by 2 reads a 6x6 crop: no NIR node for it
        export_nir(deployed(input_shape=(2, 7, 7), channels=(2, 2)))
    with pytest.raises(InputError, match="dt"):
        export_nir(deployed(), dt=0.0)
