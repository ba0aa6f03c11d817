"""sast_theory.layer_maps (W P of one layer in numpy) against explicit operator matrices and torch, and the
signed slope ranges of calculus.derivative_range_on against dense sampling."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from theory_strategies import make_description

from sast_theory import calculus, norms
from sast_theory.layer_maps import LayerMap


def _operator(record, source) -> np.ndarray:
    """W P as an explicit matrix on the flat source (previous membrane, or the raw input)."""
    if record.kind == "conv_lif":
        matrix = norms.conv_matrix(record.weight, tuple(record.in_shape), record.stride, record.padding)
    else:
        matrix = np.asarray(record.weight)
    if source is not None and source.pool > 1:
        matrix = matrix @ norms.pooling_matrix(tuple(source.lif_shape), source.pool)
    return matrix


@settings(max_examples=25, deadline=None)
@given(arch=st.sampled_from(("mlp", "conv")), seed=st.integers(0, 2**16))
def test_layer_map_matches_the_operator_matrix(arch, seed) -> None:
    rng = np.random.default_rng(seed)
    sizes = (2, 5) if arch == "conv" else (7, 5, 4)
    description = make_description(rng, arch, "zero", "sigmoid", 2.0, 1.0, 0.5, sizes)
    for index, record in enumerate(description.layers):
        source = description.layers[index - 1] if index else None
        linear, matrix = LayerMap(record, source), _operator(record, source)
        v = rng.normal(size=(3, matrix.shape[1]))
        assert np.allclose(linear(v), v @ matrix.T, atol=1e-12)
        lo, hi = np.minimum(v, 0.3 * v), np.maximum(v, 0.3 * v)
        low, high = linear.box(lo, hi)
        inside = lo + rng.uniform(size=(50, *lo.shape)) * (hi - lo)
        values = np.einsum("sbj,ij->sbi", inside, matrix)
        assert np.all(values >= low - 1e-12) and np.all(values <= high + 1e-12)
        corner = np.where(matrix[None, :, :] > 0, hi[:, None, :], lo[:, None, :])  # attains the upper end
        assert np.allclose(np.einsum("bij,ij->bi", corner, matrix), high, atol=1e-12)
        mu = rng.uniform(0, 2, size=(3, matrix.shape[1]))
        scaled = matrix[None] * mu[:, None, :]
        assert np.all(linear.row_norms(mu) >= np.linalg.norm(scaled, axis=2) * (1 - 1e-12))
        assert np.all(linear.gain(mu) >= np.linalg.norm(scaled, ord=2, axis=(1, 2)) * (1 - 1e-12))


def test_conv_matches_torch() -> None:
    rng = np.random.default_rng(0)
    x, kernel = rng.normal(size=(4, 3, 9, 8)), rng.normal(size=(5, 3, 3, 3))
    from sast_theory.layer_maps import conv2d

    for stride, padding in ((1, 1), (2, 0), (2, 2)):
        expected = F.conv2d(torch.tensor(x), torch.tensor(kernel), stride=stride, padding=padding).numpy()
        assert np.allclose(conv2d(x, kernel, stride, padding), expected, atol=1e-12)


@given(surrogate=st.sampled_from(("sigmoid", "arctan")), beta=st.floats(0.3, 10.0), order=st.sampled_from((0, 1, 2)),
       a=st.floats(-6.0, 6.0), width=st.floats(0.0, 6.0))
@settings(max_examples=60, deadline=None)
def test_derivative_range_on_is_the_exact_range(surrogate, beta, order, a, width) -> None:
    lo, hi = calculus.derivative_range_on(surrogate, beta, order, np.array([a]), np.array([a + width]))
    samples = calculus.surrogate_values(surrogate, beta, order, np.linspace(a, a + width, 4001))
    assert lo[0] <= samples.min() + 1e-12 and samples.max() <= hi[0] + 1e-12
    assert samples.min() - lo[0] <= 1e-3 * (1 + abs(lo[0])) and hi[0] - samples.max() <= 1e-3 * (1 + abs(hi[0]))
