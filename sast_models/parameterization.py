"""Direct (raw, unconstrained) parameters -> explicit (constrained) weights, leaks and biases.

Contractive parameterization (THEORY.md A3), valid for EVERY finite raw value V:
    W = V * r_i * s         r_i = min(1, c (1-m) / ||V_i||_1)         (per output row / output channel)
                            s   = min(1, omega (1-m) / sqrt(||W'||_1 ||W'||_inf))   (W' = V * r_i)
so ||W||_inf <= c and ||W||_2 <= sqrt(||W||_1 ||W||_inf) <= omega (a certified bound, no power iteration),
    b = bbar * tanh(raw_b / bbar)      -> ||b||_inf <= bbar
    tau = taubar * sigmoid(raw_tau)    -> tau in [0, taubar]   (only when the leak is learned)
The margin m absorbs float rounding so the caps hold for the stored float tensors, not just in exact math.
Norms are summed in float64. The explicit tensors are computed once per forward pass, never per time step.
For a convolution kernel K (C_out, C_in, kh, kw), row i is output channel i: the operator's inf-norm is at
most max_o sum |K[o]| and its 1-norm at most max_c sum |K[:, c]| (padding only removes terms).

The plain parameterization is W = V, b = raw_b: the baseline, checked against A4 after the fact.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

PARAMETERIZATIONS = ("contractive", "plain")


def rounding_margin(dtype: torch.dtype, n_terms: int) -> float:
    """Relative slack covering the float rounding of the scale, the product and the float64 sums."""
    return 8 * torch.finfo(dtype).eps + 4 * n_terms * torch.finfo(torch.float64).eps


def operator_abs_sums(weight: Tensor) -> tuple[Tensor, Tensor]:
    """(row sums, column sums) of |W| in float64: output-row and input-column abs-sums of the operator.

    Dense (n_out, n_in): rows and columns. Conv (C_out, C_in, kh, kw): per output / per input channel.
    """
    magnitude = weight.abs().double()
    rows = magnitude.flatten(1).sum(1)
    cols = magnitude.transpose(0, 1).flatten(1).sum(1)
    return rows, cols


def capped_weight(raw: Tensor, inf_cap: float, spectral_cap: float) -> Tensor:
    """Map raw V to W with ||W||_inf <= inf_cap and sqrt(||W||_1 ||W||_inf) <= spectral_cap (see module doc)."""
    margin = rounding_margin(raw.dtype, raw[0].numel() + raw.shape[0])
    shrink = 1.0 - margin
    rows = raw.abs().double().flatten(1).sum(1)
    row_scale = torch.clamp(inf_cap * shrink / rows, max=1.0)  # rows == 0 -> inf -> 1
    view = (-1,) + (1,) * (raw.dim() - 1)
    magnitude = raw.abs().double() * row_scale.view(view)
    inf_norm = magnitude.flatten(1).sum(1).max()
    one_norm = magnitude.transpose(0, 1).flatten(1).sum(1).max()
    bound = torch.sqrt(inf_norm * one_norm)
    global_scale = torch.clamp(spectral_cap * shrink / bound, max=1.0)
    total = row_scale * global_scale
    if total.min() < torch.finfo(raw.dtype).tiny / torch.finfo(raw.dtype).eps:
        return (raw.double() * total.view(view)).to(raw.dtype)
    return raw * total.to(raw.dtype).view(view)


def capped_bias(raw: Tensor, bias_cap: float) -> Tensor:
    """b = bbar tanh(raw / bbar): |b| <= bbar elementwise, identity near 0; bbar = 0 gives b = 0."""
    if bias_cap == 0:
        return torch.zeros_like(raw)
    return bias_cap * torch.tanh(raw / bias_cap)


def raw_bias_for(bias: Tensor, bias_cap: float) -> Tensor:
    """Inverse of `capped_bias` on (-bbar, bbar): the raw value that maps to `bias`."""
    if bias_cap == 0:
        return torch.zeros_like(bias)
    return bias_cap * torch.atanh(torch.clamp(bias / bias_cap, -1 + 1e-6, 1 - 1e-6))


class Leak(nn.Module):
    """The leak tau of one layer, per layer (shape ()) or per neuron (the membrane's shape).

    Fixed (a buffer equal to `tau`) unless `learn`; learned leaks are tau = taubar * sigmoid(raw), initialised
    at `tau` (which must then lie strictly inside (0, taubar)).
    """

    def __init__(self, tau: float, taubar: float, shape: tuple[int, ...], learn: bool) -> None:
        super().__init__()
        self.taubar = float(taubar)
        self.learn = learn
        init = torch.full(shape, float(tau))
        if learn:
            ratio = torch.clamp(init / taubar, 1e-6, 1 - 1e-6)
            self.raw = nn.Parameter(torch.log(ratio) - torch.log1p(-ratio))
        else:
            self.register_buffer("raw", init)

    def forward(self) -> Tensor:
        if self.learn:
            return self.taubar * torch.sigmoid(self.raw)
        return self.raw
