"""The contraction parameterization meets its caps for EVERY raw value (A3), huge and tiny ones included."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sast_models.parameterization import Leak, capped_bias, capped_weight

finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
wild32 = st.one_of(finite32, st.floats(min_value=-2.0**-100, max_value=2.0**-100, width=32),
                   st.sampled_from([0.0, 1e-45, -1e-45, 3.4e38, -3.4e38, 1.0]).map(lambda v: float(np.float32(v))))
caps = st.floats(min_value=1e-3, max_value=1e3)


def _operator_norms(weight: np.ndarray) -> tuple[float, float, float]:
    """(inf-norm, 1-norm, exact spectral norm) of the dense operator, in float64."""
    w = weight.astype(np.float64).reshape(weight.shape[0], -1) if weight.ndim == 2 else None
    if w is None:  # conv kernel: the bounds per channel
        magnitude = np.abs(weight.astype(np.float64))
        return (magnitude.reshape(weight.shape[0], -1).sum(1).max(),
                np.swapaxes(magnitude, 0, 1).reshape(weight.shape[1], -1).sum(1).max(), float("nan"))
    return (np.abs(w).sum(1).max(), np.abs(w).sum(0).max(), np.linalg.norm(w, 2))


@settings(max_examples=150, deadline=None)
@given(raw=arrays(np.float32, st.tuples(st.integers(1, 9), st.integers(1, 9)), elements=wild32),
       inf_cap=caps, spectral_cap=caps)
def test_dense_caps_hold_for_any_raw_value(raw, inf_cap, spectral_cap):
    weight = capped_weight(torch.from_numpy(raw), inf_cap, spectral_cap).numpy()
    assert np.isfinite(weight).all()
    inf_norm, one_norm, spectral = _operator_norms(weight)
    assert inf_norm <= inf_cap
    assert np.sqrt(inf_norm * one_norm) <= spectral_cap
    assert spectral <= spectral_cap


@settings(max_examples=80, deadline=None)
@given(raw=arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
                                        st.integers(1, 3)), elements=wild32),
       inf_cap=caps, spectral_cap=caps)
def test_conv_caps_hold_for_any_raw_value(raw, inf_cap, spectral_cap):
    weight = capped_weight(torch.from_numpy(raw), inf_cap, spectral_cap).numpy()
    inf_norm, one_norm, _ = _operator_norms(weight)
    assert np.isfinite(weight).all()
    assert inf_norm <= inf_cap and np.sqrt(inf_norm * one_norm) <= spectral_cap


@settings(max_examples=60, deadline=None)
@given(raw=arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e300, 1e300)),
       bias_cap=st.floats(0, 1e3))
def test_bias_cap(raw, bias_cap):
    bias = capped_bias(torch.from_numpy(raw), bias_cap)
    assert bool((bias.abs() <= bias_cap).all())


@settings(max_examples=60, deadline=None)
@given(raw=arrays(np.float64, st.integers(1, 10), elements=st.floats(-1e300, 1e300)),
       taubar=st.floats(0.01, 0.999))
def test_learned_leak_stays_in_range(raw, taubar):
    leak = Leak(taubar / 2, taubar, (raw.size,), learn=True).double()
    with torch.no_grad():
        leak.raw.copy_(torch.from_numpy(raw))
    tau = leak()
    assert bool(((tau >= 0) & (tau <= taubar)).all())


def test_weights_under_the_caps_are_unchanged():
    raw = torch.tensor([[0.1, -0.2], [0.05, 0.0]], dtype=torch.float64)
    assert torch.allclose(capped_weight(raw, 10.0, 10.0), raw, rtol=1e-12, atol=0)


def test_caps_are_differentiable():
    raw = torch.randn(5, 7, requires_grad=True)
    capped_weight(raw, 0.5, 0.5).pow(2).sum().backward()
    assert raw.grad is not None and bool(torch.isfinite(raw.grad).all()) and raw.grad.abs().sum() > 0


def test_zero_rows_and_zero_weights_have_finite_gradients():
    """An all-zero raw row (or an all-zero matrix) must not turn the gradient into NaN (0 * inf)."""
    for raw in (torch.tensor([[0.0, 0.0, 0.0], [3.0, -4.0, 1.0]]), torch.zeros(2, 3)):
        raw.requires_grad_()
        capped_weight(raw, 0.5, 0.4).sum().backward()
        assert bool(torch.isfinite(raw.grad).all())


def _autograd_reference(raw: torch.Tensor, inf_cap: float, spectral_cap: float) -> torch.Tensor:
    """The same map written with plain differentiable torch ops: the oracle for the analytic backward."""
    from sast_models.parameterization import rounding_margin

    shrink = 1.0 - rounding_margin(raw.dtype, raw[0].numel() + raw.shape[0])
    view = (-1,) + (1,) * (raw.dim() - 1)
    magnitude = raw.abs().double()
    rows = magnitude.flatten(1).sum(1)
    row_scale = torch.clamp(inf_cap * shrink / rows, max=1.0)
    scaled = magnitude * row_scale.view(view)
    bound = torch.sqrt(scaled.flatten(1).sum(1).max() * scaled.transpose(0, 1).flatten(1).sum(1).max())
    total = row_scale * torch.clamp(spectral_cap * shrink / bound, max=1.0)
    return raw * total.to(raw.dtype).view(view)


CASES = [((6, 5), 0.7, 9.0), ((6, 5), 9.0, 0.6), ((6, 5), 0.7, 0.5), ((4, 3, 2, 2), 0.9, 0.8),
         ((5, 7), 50.0, 50.0), ((3, 3, 3, 3), 50.0, 0.5)]


def test_analytic_backward_matches_autograd_of_the_formula():
    generator = torch.Generator().manual_seed(0)
    for shape, inf_cap, spectral_cap in CASES:
        raw = torch.randn(shape, dtype=torch.float64, generator=generator, requires_grad=True)
        assert torch.equal(capped_weight(raw, inf_cap, spectral_cap), _autograd_reference(raw, inf_cap, spectral_cap))
        assert torch.equal(capped_weight(raw.float(), inf_cap, spectral_cap),
                           _autograd_reference(raw.float(), inf_cap, spectral_cap))
        assert torch.autograd.gradcheck(lambda v, c=inf_cap, w=spectral_cap: capped_weight(v, c, w), (raw,))
        upstream = torch.randn(shape, dtype=torch.float64, generator=generator)
        (ours,) = torch.autograd.grad(capped_weight(raw, inf_cap, spectral_cap), raw, upstream)
        (reference,) = torch.autograd.grad(_autograd_reference(raw, inf_cap, spectral_cap), raw, upstream)
        torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-12)


def test_tiny_caps_take_the_float64_product():
    raw = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    weight = capped_weight(raw, 1e-33, 1e-33)
    assert weight.abs().max() > 0 and weight.abs().sum(1).max() <= 1e-33
