"""The one train/validation split of the toolkit (train, evaluate, sweep, and users of `sast_models.data`).

`stratified_split`: per class, a seeded permutation; the validation share of each class is allotted by largest
remainder so that the total is exactly round(N * val_fraction) and every class is represented in proportion
(a class with at least 2 samples keeps at least one sample for training). A pure function of
(labels, val_fraction, seed).
"""

from __future__ import annotations

import numpy as np

from sast_core.errors import InputError


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices), both sorted, disjoint, covering range(len(labels))."""
    labels = np.asarray(labels)
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"val_fraction {val_fraction}: expected a value in [0, 1)")
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


SUBSETS = ("all", "val", "train")


def check_subset(subset: str, hyperparameters: dict, *, data: str, split: str) -> None:
    """InputError unless `subset` of (data, split) can be reproduced from the training run's hyperparameters."""
    if subset == "all":
        return
    if "val_fraction" not in hyperparameters or "seed" not in hyperparameters:
        raise InputError(f"--subset {subset}: the checkpoint records no validation split; use --subset all")
    if subset == "val" and hyperparameters["val_fraction"] == 0:
        raise InputError("--subset val: the training run kept no validation part (--val-fraction 0); evaluate "
                         "another split (e.g. --split test) or --subset all")
    trained = (hyperparameters.get("data"), hyperparameters.get("split", "train"))
    if (data, split) != trained:
        raise InputError(f"--subset {subset}: the training run's held-out part is of --data {trained[0]} --split "
                         f"{trained[1]}, not --data {data} --split {split}; pass --split {trained[1]}")


def run_subset(labels: np.ndarray, subset: str, hyperparameters: dict, *, data: str, split: str,
               seed: int | None = None) -> np.ndarray:
    """Indices of `subset` of a split: all samples, or the validation / training part of the training run whose
    hyperparameters are given (its stratified split, reproduced: it needs that run's data and split)."""
    check_subset(subset, hyperparameters, data=data, split=split)
    if subset == "all":
        return np.arange(len(labels))
    train, val = stratified_split(labels, hyperparameters["val_fraction"],
                                  hyperparameters["seed"] if seed is None else seed)
    return val if subset == "val" else train
