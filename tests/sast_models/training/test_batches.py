"""Per-epoch orders and the sharding of global minibatches (sast_models.training.batches)."""

from __future__ import annotations

import numpy as np
import pytest

from sast_models.training.batches import batches, epoch_order, shard


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
