"""SynOps against a brute-force count over every synapse (explicit loops), in float hard and integer modes."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sast_models.describe import describe
from sast_models.hardware.deploy import deploy
from sast_models.hardware.formats import HardwareConfig
from sast_models.hardware.simulator import IntegerSimulator
from sast_models.hardware.synops import conv_fanout, count_synops, hard_synops, layer_fanout
from sast_models.networks import build_network
from sast_models.spec import NetworkSpec


def brute_conv(events: np.ndarray, out_channels: int, kernel: int, stride: int, padding: int,
               crop: tuple[int, int] | None = None) -> np.ndarray:
    """Per-sample count of (event, synapse) pairs: loop over outputs, kernel taps and input channels."""
    steps, batch, channels, height, width = events.shape
    if crop is not None:
        events = events[..., : crop[0], : crop[1]]
        height, width = crop
    out_h = (height + 2 * padding - kernel) // stride + 1
    out_w = (width + 2 * padding - kernel) // stride + 1
    counts = np.zeros(batch, dtype=np.int64)
    loops = (steps, batch, out_channels, out_h, out_w, channels, kernel, kernel)
    for t, b, _, oy, ox, c, a, d in itertools.product(*map(range, loops)):
        y, x = oy * stride + a - padding, ox * stride + d - padding
        if 0 <= y < height and 0 <= x < width and events[t, b, c, y, x] != 0:
            counts[b] += 1
    return counts


def brute_dense(events: np.ndarray, n_out: int) -> np.ndarray:
    flat = events.reshape(events.shape[0], events.shape[1], -1)
    counts = np.zeros(events.shape[1], dtype=np.int64)
    for t, b, j in itertools.product(*map(range, flat.shape)):
        counts[b] += n_out * (flat[t, b, j] != 0)
    return counts


@settings(max_examples=40, deadline=None)
@given(channels=st.integers(1, 2), height=st.integers(1, 6), width=st.integers(1, 6), out=st.integers(1, 3),
       kernel=st.integers(1, 3), stride=st.integers(1, 3), padding=st.integers(0, 2), seed=st.integers(0, 99))
def test_conv_synops_equal_brute_force(channels, height, width, out, kernel, stride, padding, seed):
    assume(height + 2 * padding >= kernel and width + 2 * padding >= kernel)
    rng = np.random.default_rng(seed)
    shape = (2, 2, channels, height, width)
    events = rng.integers(0, 3, size=shape) * (rng.random(shape) < 0.5)
    fanout = conv_fanout((channels, height, width), out, (kernel, kernel), stride, padding)
    ours = count_synops(torch.as_tensor(events), torch.as_tensor(fanout))
    np.testing.assert_array_equal(ours.numpy(), brute_conv(events, out, kernel, stride, padding))


def test_count_valued_frames_count_events_not_values():
    events = torch.tensor([[[0.0, 3.0, 1.0]]])  # T = 1, B = 1: two nonzero entries, total value 4
    assert count_synops(events, torch.tensor([5, 5, 5])).tolist() == [10]


def test_integer_and_hard_mode_synops_equal_brute_force_on_a_conv_network():
    spec = NetworkSpec(arch="conv", input_shape=(2, 7, 7), channels=(2, 2), hidden=(3,), kernel=3, padding=1,
                       pool=2, n_classes=2, parameterization="plain", theta=0.2, init_gain=3.0)
    net = build_network(spec, seed=3).double()
    description = describe(net)
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.integers(0, 3, size=(3, 2, 2, 7, 7)) * (rng.random((3, 2, 2, 7, 7)) < 0.4),
                        dtype=torch.float64)
    # float hard network: x into conv 1, pooled spikes into conv 2 and into dense, spikes into readout
    trace = net.trace(x, "hard")
    sources = [x.numpy()] + [layer.output.detach().numpy() for layer in trace.layers[:-1]]
    expected = [brute_conv(sources[0], 2, 3, 1, 1), brute_conv(sources[1], 2, 3, 1, 1),
                brute_dense(sources[2], 3), brute_dense(sources[3], 2)]
    ours = hard_synops(description, x, [layer.output for layer in trace.layers])
    assert all(e.sum() > 0 for e in expected[:3])
    for mine, theirs in zip(ours, expected, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs)
    # integer network: binary spikes into the folded operators (kernel 6, stride 2, padding 2; crop 6 x 6)
    deployed = deploy(description, HardwareConfig(weight_bits=8))
    result = IntegerSimulator(deployed)(x)
    spikes = [x.numpy()] + [layer.spikes.numpy() for layer in result.layers[:-1]]
    conv2 = deployed.layers[1]
    assert (conv2.weight.shape[2], conv2.stride, conv2.padding, conv2.crop) == (6, 2, 2, (6, 6))
    expected = [brute_conv(spikes[0], 2, 3, 1, 1), brute_conv(spikes[1], 2, 6, 2, 2, crop=(6, 6)),
                brute_dense(spikes[2][..., :2, :2], 3), brute_dense(spikes[3], 2)]
    for layer, events, theirs in zip(deployed.layers, spikes, expected, strict=True):
        mine = count_synops(torch.as_tensor(events), torch.as_tensor(layer_fanout(layer)))
        np.testing.assert_array_equal(mine.numpy(), theirs)
