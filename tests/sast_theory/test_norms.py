"""Certified operator norms against exact norms of the explicit operator matrices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_core.errors import InputError
from sast_theory import norms


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), rows=st.integers(1, 30), cols=st.integers(1, 30))
def test_dense_norms_are_exact(seed: int, rows: int, cols: int) -> None:
    w = np.random.default_rng(seed).normal(size=(rows, cols))
    exact = np.linalg.norm(w, 2)
    assert exact <= norms.dense_spectral_norm(w) <= exact * (1 + 1e-12)
    assert norms.inf_norm(w) == pytest.approx(np.linalg.norm(w, np.inf), rel=1e-14)
    assert norms.one_norm(w) == pytest.approx(np.linalg.norm(w, 1), rel=1e-14)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    c_out=st.integers(1, 4),
    c_in=st.integers(1, 3),
    size=st.integers(3, 7),
    kernel=st.sampled_from([1, 2, 3]),
    stride=st.sampled_from([1, 2]),
    padding=st.integers(0, 2),
)
def test_conv_bound_is_certified(
    seed: int, c_out: int, c_in: int, size: int, kernel: int, stride: int, padding: int
) -> None:
    k = np.random.default_rng(seed).normal(size=(c_out, c_in, kernel, kernel))
    matrix = norms.conv_matrix(k, (c_in, size, size), stride, padding)
    exact = np.linalg.norm(matrix, 2)
    bound = norms.conv_spectral_bound(k, (size, size), padding)
    assert exact <= bound * (1 + 1e-12)
    assert np.linalg.norm(matrix, np.inf) <= norms.inf_norm(k) * (1 + 1e-12)
    assert np.linalg.norm(matrix, 1) <= norms.one_norm(k) * (1 + 1e-12)


def test_conv_inf_norm_exact_with_interior_position() -> None:
    k = np.random.default_rng(3).normal(size=(3, 2, 3, 3))
    matrix = norms.conv_matrix(k, (2, 6, 6), 1, 1)
    assert norms.inf_norm(k) == pytest.approx(np.linalg.norm(matrix, np.inf), rel=1e-14)


@pytest.mark.parametrize("pool", [1, 2, 3])
def test_pooling_norm(pool: int) -> None:
    matrix = norms.pooling_matrix((2, 6, 6), pool)
    assert norms.pooling_norm(pool) == pytest.approx(np.linalg.norm(matrix, 2), rel=1e-14)


def test_composed_conv_pool_bound() -> None:
    k = np.random.default_rng(5).normal(size=(3, 2, 3, 3))
    composed = norms.pooling_matrix((3, 6, 6), 2) @ norms.conv_matrix(k, (2, 6, 6), 1, 1)
    bound = norms.conv_spectral_bound(k, (6, 6), 1) * norms.pooling_norm(2)
    assert np.linalg.norm(composed, 2) <= bound


def test_bad_weights_are_input_errors() -> None:
    with pytest.raises(InputError):
        norms.dense_spectral_norm(np.array([[1.0, np.nan]]))
    with pytest.raises(InputError):
        norms.pooling_norm(0)
