"""The one seeded stratified train/validation split (sast_models.data.splits)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_core.errors import InputError
from sast_models.data.splits import check_subset, run_subset, stratified_split


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


def test_one_split_for_the_data_package_and_the_commands():
    import sast_models.data

    assert sast_models.data.stratified_split is stratified_split
    for fraction in (-0.1, 1.0, 1.5):
        with pytest.raises(InputError, match="val_fraction"):
            stratified_split(np.arange(10) % 2, fraction, 0)
    train, val = stratified_split(np.arange(10) % 2, 0.0, 0)
    assert val.size == 0 and np.array_equal(train, np.arange(10))


def test_nmnist_sized_split_is_800_200():
    labels = np.repeat(np.arange(10), [95, 110, 98, 102, 100, 97, 103, 99, 96, 100])
    train, val = stratified_split(labels, 0.2, 0)
    assert (len(train), len(val)) == (800, 200)
    assert not np.array_equal(val, stratified_split(labels, 0.2, 1)[1])


def test_a_training_runs_held_out_part_is_reproduced_from_its_hyperparameters():
    labels = np.repeat(np.arange(5), 8)
    hyper = {"data": "nmnist:D", "split": "train", "val_fraction": 0.25, "seed": 3}
    train, val = stratified_split(labels, 0.25, 3)
    assert np.array_equal(run_subset(labels, "val", hyper, data="nmnist:D", split="train"), val)
    assert np.array_equal(run_subset(labels, "train", hyper, data="nmnist:D", split="train"), train)
    assert np.array_equal(run_subset(labels, "all", hyper, data="x", split="test"), np.arange(40))


@pytest.mark.parametrize(("hyper", "data", "split", "needle"), [
    ({"data": "nmnist:D", "split": "train", "val_fraction": 0.2, "seed": 0}, "nmnist:D", "test", "pass --split train"),
    ({"data": "nmnist:D", "split": "train", "val_fraction": 0.2, "seed": 0}, "nmnist:E", "train", "--data nmnist:D"),
    ({}, "nmnist:D", "train", "records no validation split"),
])
def test_a_held_out_part_of_other_data_is_refused(hyper, data, split, needle):
    with pytest.raises(InputError, match=needle):
        check_subset("val", hyper, data=data, split=split)
