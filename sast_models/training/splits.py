"""Seeded data splits and per-epoch orders: every index sequence is a pure function of (seed, epoch, stream).

- `stratified_split`: per class, a seeded permutation; the validation share of each class is allotted by
  largest remainder so that the total is exactly round(N * val_fraction) and every class is represented in
  proportion (a class with at least 2 samples keeps at least one sample for training).
- `epoch_order`: the permutation of the training set for one epoch. Stream 0 orders the descent batches B;
  stream 1 orders SAST's perturbation batches B' (an independent draw, THEORY.md P5).
- `batches`: consecutive global minibatches of an order; `shard` cuts a global batch into this process's
  part (torch.distributed), so N processes see exactly the samples one process would.
"""

from __future__ import annotations

import numpy as np

from sast_theory.errors import InputError

DESCENT_STREAM = 0
PERTURB_STREAM = 1


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices), both sorted, disjoint, covering range(len(labels))."""
    labels = np.asarray(labels)
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"--val-fraction {val_fraction}: expected a value in [0, 1)")
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * val_fraction
    take = np.floor(quota).astype(int)
    short = int(round(len(labels) * val_fraction)) - int(take.sum())
    order = np.lexsort((classes, -(quota - take)))  # largest remainder first, ties by class
    take[order[:short]] += 1
    take = np.minimum(take, np.maximum(counts - 1, 0))
    rng = np.random.default_rng([seed, 0x5EED])
    val = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take, strict=True)]
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx)
    return train_idx.astype(np.int64), val_idx.astype(np.int64)


def epoch_order(n: int, seed: int, epoch: int, stream: int = DESCENT_STREAM) -> np.ndarray:
    """A permutation of range(n), fixed by (seed, epoch, stream)."""
    return np.random.default_rng([seed, epoch, stream]).permutation(n)


def batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive slices of `order` of `batch_size` (the last one may be smaller)."""
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def shard(batch: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This process's part of a global batch (contiguous, sizes differ by at most one)."""
    return np.array_split(batch, world)[rank]
