"""Per-epoch orders and minibatches: every index sequence is a pure function of (seed, epoch, stream).

- `epoch_order`: the permutation of the training set for one epoch. Stream 0 orders the descent batches B;
  stream 1 orders SAST's perturbation batches B' (an independent draw, THEORY.md P5).
- `batches`: consecutive global minibatches of an order; `shard` cuts a global batch into this process's
  part (torch.distributed), so N processes see exactly the samples one process would.
"""

from __future__ import annotations

import numpy as np

DESCENT_STREAM = 0
PERTURB_STREAM = 1


def epoch_order(n: int, seed: int, epoch: int, stream: int = DESCENT_STREAM) -> np.ndarray:
    """A permutation of range(n), fixed by (seed, epoch, stream)."""
    return np.random.default_rng([seed, epoch, stream]).permutation(n)


def batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive slices of `order` of `batch_size` (the last one may be smaller)."""
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def shard(batch: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This process's part of a global batch (contiguous, sizes differ by at most one)."""
    return np.array_split(batch, world)[rank]
