"""Evaluation modes int8 / int4 / fixed: runner stats, the evaluation plug-in, silent networks, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_simulator import dyadic_network, exact_config

from sast_core.errors import InputError
from sast_models.describe import describe
from sast_models.evaluation.measure import measure
from sast_models.evaluation.modes import EVALUATION_MODES
from sast_models.hardware.modes import HARDWARE_MODES, hardware_runner
from sast_models.hardware.synops import hard_synops
from sast_models.networks import build_network
from sast_models.spec import NetworkSpec


def small_net(**overrides):
    spec = dict(arch="mlp", input_shape=(2, 4, 4), hidden=(12,), n_classes=3, theta=0.3, init_gain=3.0,
                input_bound=3.0, parameterization="plain")
    return build_network(NetworkSpec(**{**spec, **overrides}), seed=0).eval()


def frames(seed: int = 0, batch: int = 6) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    shape = (5, batch, 2, 4, 4)
    return torch.as_tensor(rng.integers(0, 4, size=shape) * (rng.random(shape) < 0.5), dtype=torch.float32)


@pytest.mark.parametrize("mode", ["int8", "int4", "fixed"])
def test_runner_reports_stats_per_layer(mode):
    net = small_net()
    x = frames()
    trace = hardware_runner(net, mode)(x)
    stats = trace.stats.to_dict()
    assert trace.logits.shape == (6, 3) and len(trace.layers) == 2
    assert stats["samples"] == 6 and set(stats["spike_rate"]) == {"layers.0", "layers.1"}
    assert stats["spikes"]["layers.0"] == int(trace.layers[0].spikes.sum()) > 0
    assert stats["spike_rate"]["layers.0"] == stats["spikes"]["layers.0"] / (5 * 6 * 12)
    assert stats["spike_rate"]["layers.1"] is None  # the readout does not spike
    assert stats["silent_layers"] == [] and stats["saturation_total"] == 0
    # SynOps: input events x 12 into layer 1, spikes x 3 into the readout
    expected = (int((x != 0).sum()) * 12 + stats["spikes"]["layers.0"] * 3) / 6
    assert stats["synops_total_per_sample"] == expected
    formats = stats["formats"]
    assert [f["weight_bits"] for f in formats] == [HARDWARE_MODES[mode].weight_bits] * 2
    if HARDWARE_MODES[mode].register_bits is None:  # int8/int4: the P6-safe register of each layer
        assert all(f["register_bits"] == f["p6_safe_bits"] for f in formats)
    if mode == "fixed":  # tau = 0.5 is the shift leak 1 - 2^-1 exactly
        assert formats[0]["tau_q"] == [0.5, 0.5] and formats[0]["max_leak_error"] == 0.0


def test_stats_add_over_batches():
    run = hardware_runner(small_net(), "int8")
    first, second = run(frames(0)).stats, run(frames(1)).stats
    total = (first + second).to_dict()
    assert total["samples"] == 12
    assert total["spikes"]["layers.0"] == first.spikes[0] + second.spikes[0]
    assert total["synops_total_per_sample"] == (sum(first.synops) + sum(second.synops)) / 12


def test_modes_plug_into_the_evaluation_loop():
    assert {"surrogate", "hard", *HARDWARE_MODES} == set(EVALUATION_MODES)
    net = small_net()
    x = frames(batch=8).transpose(0, 1)  # (N, T, ...) as the evaluation loop stores frames
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    report = measure(EVALUATION_MODES["int4"](net), x, labels, n_classes=3, theta=net.spec.theta, band=0.1,
                     batch_size=3)
    assert report["n_samples"] == 8 and 0 <= report["accuracy"] <= 100 and report["spike_rate"][0] > 0


def test_integer_synops_equal_hard_synops_on_an_exact_network():
    spec = NetworkSpec(arch="mlp", input_shape=(2, 4, 4), hidden=(12,), n_classes=3, parameterization="plain",
                       theta=0.5, tau=0.5)
    net = dyadic_network(spec, np.random.default_rng(0), bits=4, k=2, per_channel=False)
    x = frames().double()
    config = exact_config(4, 2, 5, per_channel=False)
    trace = hardware_runner(net, "int4", frac=config.frac, leak=config.leak)(x)
    float_trace = net.trace(x, "hard")
    assert torch.equal(trace.layers[0].spikes.double(), float_trace.layers[0].spikes)
    hard = hard_synops(describe(net), x, [layer.output for layer in float_trace.layers])
    assert [int(s.sum()) for s in hard] == trace.stats.synops and trace.stats.spikes[0] > 0


def test_a_quantized_network_with_no_activity_is_reported_silent():
    # one large weight on an input that never fires sets the 4-bit per-tensor scale (1.4 / 7 = 0.2); the
    # useful weights 0.09 round to 0: the float network spikes, the int4 network is silent.
    net = small_net(input_shape=(8,), hidden=(4,), theta=0.5, tau=0.5)
    with torch.no_grad():
        weight = torch.full((4, 8), 0.09)
        weight[0, 7] = 1.4
        net.layers[0].raw_weight.copy_(weight)
        net.layers[0].raw_bias.zero_()
    x = torch.zeros(4, 2, 8)
    x[:, :, :7] = 1
    assert net(x, "hard").shape == (2, 3) and net.trace(x, "hard").layers[0].spikes.sum() > 0
    stats = hardware_runner(net, "int4")(x).stats.to_dict()
    assert stats["silent_layers"] == ["layers.0"] and stats["spike_rate"]["layers.0"] == 0.0
    assert hardware_runner(net, "int8")(x).stats.silent_layers == []


def test_bad_modes_and_inputs_are_refused_with_one_line():
    net = small_net()
    with pytest.raises(InputError, match="int3"):
        hardware_runner(net, "int3")
    with pytest.raises(InputError, match="fractional bits"):
        hardware_runner(net, "fixed", register_bits=6, frac=6)
    with pytest.raises(InputError, match="unknown option"):
        hardware_runner(net, "int8", bits=3)
    run = hardware_runner(net, "int8")
    with pytest.raises(InputError, match="integer-valued"):
        run(frames() + 0.5)
    with pytest.raises(InputError, match="integer-valued"):
        run(frames() * float("nan"))
    with pytest.raises(InputError, match=">= 0"):
        run(-frames())
    infinite = frames()
    infinite[0, 0, 0, 0, 0] = float("inf")
    with pytest.raises(InputError, match="finite"):
        run(infinite)
    with pytest.raises(InputError, match="expected"):
        run(torch.zeros(5, 2, 7))


def test_hard_mode_in_the_evaluation_is_the_float_network_with_synops():
    net = small_net()
    x = frames().float()
    trace = EVALUATION_MODES["hard"](net)(x)
    float_trace = net.trace(x, "hard")
    assert torch.equal(trace.logits, float_trace.logits)
    expected = hard_synops(describe(net), x, [layer.output for layer in float_trace.layers])
    assert trace.stats.synops == [int(s.sum()) for s in expected] and trace.stats.synops[0] > 0
    assert trace.stats.saturation == [0, 0]
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    report = measure(EVALUATION_MODES["hard"](net), x.transpose(0, 1), labels, n_classes=3, theta=net.spec.theta,
                     band=0.1, batch_size=4)
    assert report["hardware"]["synops_total_per_sample"] == sum(trace.stats.synops) / 6
