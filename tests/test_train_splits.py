"""Seeded splits, epoch orders, sharding, and the pickle-free packing of optimizer state."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_models.training.splits import batches, epoch_order, shard, stratified_split
from sast_models.training.state import pack, unpack


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(1, 40), min_size=2, max_size=10), fraction=st.floats(0.05, 0.6),
       seed=st.integers(0, 2**31))
def test_stratified_split_is_exact_disjoint_and_proportional(counts, fraction, seed):
    labels = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(labels)
    train, val = stratified_split(labels, fraction, seed)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(len(labels)))
    per_class = np.bincount(labels[val], minlength=len(counts))
    target = np.array(counts) * fraction
    assert np.all(np.abs(per_class - target) < 1 + 1e-9)  # floor or ceil of the class's share
    assert np.all(per_class <= np.maximum(np.array(counts) - 1, 0))  # a class keeps a training sample
    if all(c >= 2 for c in counts) and round(len(labels) * fraction) <= sum(c - 1 for c in counts):
        assert len(val) == round(len(labels) * fraction)
    again = stratified_split(labels, fraction, seed)
    assert np.array_equal(again[1], val)


def test_nmnist_sized_split_is_800_200():
    labels = np.repeat(np.arange(10), [95, 110, 98, 102, 100, 97, 103, 99, 96, 100])
    train, val = stratified_split(labels, 0.2, 0)
    assert (len(train), len(val)) == (800, 200)
    assert not np.array_equal(val, stratified_split(labels, 0.2, 1)[1])


def test_epoch_orders_are_fixed_by_seed_epoch_and_stream():
    a = epoch_order(50, seed=3, epoch=2, stream=0)
    assert np.array_equal(a, epoch_order(50, seed=3, epoch=2, stream=0))
    assert np.array_equal(np.sort(a), np.arange(50))
    for other in (epoch_order(50, 3, 3, 0), epoch_order(50, 3, 2, 1), epoch_order(50, 4, 2, 0)):
        assert not np.array_equal(a, other)


@pytest.mark.parametrize("world", [1, 2, 3])
def test_shards_partition_every_batch(world):
    for batch in batches(np.arange(23), 8):
        parts = [shard(batch, r, world) for r in range(world)]
        assert np.array_equal(np.concatenate(parts), batch)
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize("make", [lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.9))])
def test_packed_optimizer_state_restores_exactly(make):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = make(model.parameters())
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(4, 3)).square().sum().backward()
        optimizer.step()
    tree, tensors = pack(optimizer.state_dict(), "optim")
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    clone = torch.nn.Linear(3, 2)
    clone.load_state_dict(model.state_dict())
    restored = make(clone.parameters())
    restored.load_state_dict(unpack(tree, tensors))
    x = torch.randn(4, 3)
    for m, o in ((model, optimizer), (clone, restored)):
        o.zero_grad()
        m(x).square().sum().backward()
        o.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), clone.parameters(), strict=True))
    with pytest.raises(TypeError):
        pack({"bad": object()})
