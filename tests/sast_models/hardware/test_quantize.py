"""Quantizer properties, format validation, discrete leaks and their rounding toward zero, pooling fold."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sast_core.errors import InputError
from sast_models.hardware.fold import fold_pool
from sast_models.hardware.formats import HardwareConfig, LeakFormat, MembraneFormat, discrete_leak
from sast_models.hardware.quantize import quantize_weights, to_membrane_units, weight_qmax
from sast_models.hardware.simulator import truncating_leak

weights = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=5),
                     elements=st.floats(-4, 4, allow_subnormal=False))


@settings(max_examples=200, deadline=None)
@given(weight=weights, bits=st.integers(2, 16), per_channel=st.booleans())
def test_quantizer_is_symmetric_bounded_and_within_half_a_step(weight, bits, per_channel):
    quantized, scale = quantize_weights(weight, bits, per_channel)
    qmax = weight_qmax(bits)
    view = scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    assert quantized.dtype == np.int64 and np.abs(quantized).max() <= qmax
    assert np.all(np.abs(quantized * view - weight) <= view / 2 * (1 + 1e-12))
    negated, _ = quantize_weights(-weight, bits, per_channel)
    np.testing.assert_array_equal(negated, -quantized)  # symmetric
    rows = np.abs(weight).reshape(len(weight), -1).max(1)
    peak = rows if per_channel else np.full(len(weight), rows.max())
    np.testing.assert_array_equal(scale, np.where(peak > 0, peak / qmax, 1.0))  # max |W| / qmax
    reached = np.abs(quantized).reshape(len(weight), -1).max(1)
    assert reached.max() == (qmax if peak.max() > 0 else 0)  # the range is used fully
    if per_channel:
        np.testing.assert_array_equal(reached[peak > 0], qmax)


def test_quantizer_rounds_half_to_even():
    # per-tensor scale 1 (max |W| = qmax = 7): the halves round to the even neighbour
    weight = np.array([[7.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.4999]])
    quantized, scale = quantize_weights(weight, 4, per_channel=False)
    assert scale.tolist() == [1.0]
    assert quantized.tolist() == [[7, 0, 2, 2, 0, -2, -2, 3]]


def test_per_channel_scales_are_independent():
    weight = np.array([[0.5, -0.25], [8.0, 1.0], [0.0, 0.0]])
    quantized, scale = quantize_weights(weight, 8, per_channel=True)
    np.testing.assert_array_equal(scale, [0.5 / 127, 8.0 / 127, 1.0])
    assert quantized.tolist() == [[127, -64], [127, 16], [0, 0]]  # -63.5 and 15.875 round to -64 and 16


def test_membrane_units_round_biases_and_floor_thresholds():
    lsb = np.array([0.25, 0.25, 0.25])
    assert to_membrane_units(np.array([0.375, -0.375, 0.125]), lsb, "rne").tolist() == [2, -2, 0]
    # strict u > theta on integers: theta = 0.3 -> 1.2 LSB -> 1 (u = 2 > 1.2 spikes, u = 1 does not)
    assert to_membrane_units(np.array([0.3, 0.25, 0.0]), lsb, "floor").tolist() == [1, 1, 0]
    with pytest.raises(InputError, match="too large"):
        to_membrane_units(np.array([1.0]), np.array([1e-30]), "rne")


@pytest.mark.parametrize("make", [
    lambda: MembraneFormat(8, 8),
    lambda: MembraneFormat(8, -1),
    lambda: MembraneFormat(1, 0),
    lambda: MembraneFormat(64, 8),
    lambda: HardwareConfig(weight_bits=1),
    lambda: HardwareConfig(weight_bits=17),
    lambda: HardwareConfig(register_bits=6, frac=6),
    lambda: LeakFormat("mult", 0),
    lambda: LeakFormat("shift", 16),
    lambda: LeakFormat("exp", 4),
])
def test_impossible_formats_are_rejected_with_one_line(make):
    with pytest.raises(InputError) as info:
        make()
    assert "\n" not in str(info.value)


def test_discrete_leak_picks_the_nearest_representable_value():
    mult = LeakFormat("mult", 4)
    assert discrete_leak(np.array([0.3, 0.5, 0.99, 0.0]), mult).tolist() == [5, 8, 15, 0]  # 4.8->5, 15.84->15
    shift = LeakFormat("shift", 12)
    tau_q = discrete_leak(np.array([0.9, 0.5, 0.0, 0.97, 0.3]), shift) / 2**12
    np.testing.assert_array_equal(tau_q, [0.875, 0.5, 0.0, 0.96875, 0.5])  # 1 - 2^-j nearest; 0.3 -> 0.5
    assert discrete_leak(np.array(0.75), LeakFormat("shift", 1)).tolist() == 1  # j <= k: 0.5 is the best


def test_leak_rounds_the_product_toward_zero():
    values = torch.tensor([5, -5, 1, -1, 4, -4, 7, -7, 0])
    three_quarters = truncating_leak(torch.tensor(3), 2)
    assert three_quarters(values).tolist() == [3, -3, 0, 0, 3, -3, 5, -5, 0]  # trunc(0.75 v)
    half = truncating_leak(torch.tensor(1), 1)  # shift form 1 - 2^-1
    assert half(values).tolist() == [2, -2, 0, 0, 2, -2, 3, -3, 0]
    # shift form 1 - 2^-2 with k = 3 (m = 6): v - sign(v) ceil(|v| / 4)
    assert truncating_leak(torch.tensor(6), 3)(values).tolist() == [3, -3, 0, 0, 3, -3, 5, -5, 0]


@settings(max_examples=50, deadline=None)
@given(channels=st.integers(1, 3), height=st.integers(2, 7), width=st.integers(2, 7), pool=st.integers(1, 3),
       kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1),
       seed=st.integers(0, 999))
def test_folded_operator_equals_operator_after_pooling(channels, height, width, pool, kernel, stride, padding,
                                                       seed):
    if height < pool or width < pool:
        return
    gen = torch.Generator().manual_seed(seed)
    spikes = (torch.rand(4, channels, height, width, generator=gen) < 0.5).double()
    pooled = F.avg_pool2d(spikes, pool)
    cropped = spikes[..., : pooled.shape[2] * pool, : pooled.shape[3] * pool]
    dense = torch.randn(3, pooled[0].numel(), generator=gen, dtype=torch.float64)
    folded = fold_pool(dense.numpy(), tuple(pooled.shape[1:]), pool)
    ours = cropped.flatten(1) @ torch.from_numpy(folded.weight).T / folded.scale_divisor
    torch.testing.assert_close(ours, pooled.flatten(1) @ dense.T)
    if pooled.shape[2] + 2 * padding < kernel or pooled.shape[3] + 2 * padding < kernel:
        return
    conv = torch.randn(2, channels, kernel, kernel, generator=gen, dtype=torch.float64)
    folded = fold_pool(conv.numpy(), tuple(pooled.shape[1:]), pool, stride, padding)
    ours = F.conv2d(cropped, torch.from_numpy(folded.weight), stride=folded.stride,
                    padding=folded.padding) / folded.scale_divisor
    torch.testing.assert_close(ours, F.conv2d(pooled, conv, stride=stride, padding=padding))
