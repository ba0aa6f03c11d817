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


def rounding_margin(dtype: torch.dtype, n_terms: int) -> float:
    """Relative slack covering the float rounding of the scale, the product and the float64 sums."""
    return 8 * torch.finfo(dtype).eps + 4 * n_terms * torch.finfo(torch.float64).eps


def capped_weight(raw: Tensor, inf_cap: float, spectral_cap: float) -> Tensor:
    """Map raw V to W with ||W||_inf <= inf_cap and sqrt(||W||_1 ||W||_inf) <= spectral_cap (see module doc)."""
    return _CappedWeight.apply(raw, inf_cap, spectral_cap)


class _CappedWeight(torch.autograd.Function):
    """W = V * t_i, t_i = r_i s, with an analytic vector-Jacobian product (3-4 passes over V instead of the ~25
    float64 passes autograd records; tested against autograd of the same formula with float64 gradcheck).

    With A = |V|, R_i = sum_j A_ij, r_i = min(1, k1 / R_i), rho_i = r_i R_i (row sums of A r), kappa_j = sum_i
    r_i A_ij (column sums), beta = sqrt(max rho * max kappa), s = min(1, k2 / beta), and G = dL/dW:
        g_t_i = <G_i, V_i>;   g_r_i = g_t_i s + [s active] (g_rho_i R_i + sum_j A_ij g_kappa_j)
        g_R_i = -k1 g_r_i / R_i^2 where the row cap is active (r_i = k1 / R_i < 1), else 0
        dV    = G t + sgn(V) (g_R_i + [s active] (r_i g_rho_i + r_i g_kappa_j))
    where g_rho, g_kappa are the gradients of s through the two maxima (shared among ties, as torch does).
    An inactive cap contributes nothing, so an all-zero row gets a finite (zero-norm-term) gradient.
    """

    @staticmethod
    def forward(ctx, raw: Tensor, inf_cap: float, spectral_cap: float) -> Tensor:
        shrink = 1.0 - rounding_margin(raw.dtype, raw[0].numel() + raw.shape[0])
        k_row, k_spec = inf_cap * shrink, spectral_cap * shrink
        view = (-1,) + (1,) * (raw.dim() - 1)
        magnitude = raw.abs().double()
        rows = magnitude.flatten(1).sum(1)
        row_active = rows > k_row
        row_scale = torch.where(row_active, k_row / torch.where(row_active, rows, 1.0), 1.0)
        magnitude.mul_(row_scale.view(view))
        row_sums = magnitude.flatten(1).sum(1)
        col_sums = magnitude.transpose(0, 1).flatten(1).sum(1)
        inf_norm, one_norm = row_sums.max(), col_sums.max()
        bound = torch.sqrt(inf_norm * one_norm)
        spec_active = bool(bound > k_spec)
        global_scale = k_spec / bound if spec_active else torch.ones_like(bound)
        total = row_scale * global_scale
        ctx.save_for_backward(raw, rows, row_active, row_scale, row_sums, col_sums, inf_norm, one_norm, bound,
                              global_scale, total)
        ctx.caps, ctx.spec_active = (k_row, k_spec), spec_active
        if total.min() < torch.finfo(raw.dtype).tiny / torch.finfo(raw.dtype).eps:  # avoid subnormal scales
            return (raw.double() * total.view(view)).to(raw.dtype)
        return raw * total.to(raw.dtype).view(view)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (raw, rows, row_active, row_scale, row_sums, col_sums, inf_norm, one_norm, bound, global_scale,
         total) = ctx.saved_tensors
        k_row, k_spec = ctx.caps
        view = (-1,) + (1,) * (raw.dim() - 1)
        col_view = (1, -1) + (1,) * (raw.dim() - 2)
        out = grad * total.to(raw.dtype).view(view)
        g_total = torch.linalg.vecdot(grad.flatten(1), raw.flatten(1)).double()
        g_r = g_total * global_scale
        g_abs_row = torch.zeros_like(rows)
        g_abs_col = None
        if ctx.spec_active:
            g_s = (g_total * row_scale).sum()
            g_bound = -g_s * k_spec / bound**2
            g_inf, g_one = g_bound * one_norm / (2 * bound), g_bound * inf_norm / (2 * bound)
            hit_rows, hit_cols = row_sums == inf_norm, col_sums == one_norm
            g_rho = hit_rows * (g_inf / hit_rows.sum())
            g_kappa = hit_cols * (g_one / hit_cols.sum())
            g_r = g_r + g_rho * rows + (raw.abs().double() * g_kappa.view(col_view)).flatten(1).sum(1)
            g_abs_row = row_scale * g_rho
            g_abs_col = row_scale.view(view) * g_kappa.view(col_view)
        g_rows = torch.where(row_active, -g_r * k_row / torch.where(row_active, rows, 1.0) ** 2, 0.0)
        g_abs_row = g_abs_row + g_rows
        if g_abs_col is None:
            out.addcmul_(raw.sign(), g_abs_row.to(raw.dtype).view(view))
        else:
            out.add_((raw.sign().double() * (g_abs_row.view(view) + g_abs_col)).to(raw.dtype))
        return out, None, None


def capped_bias(raw: Tensor, bias_cap: float) -> Tensor:
    """b = bbar tanh(raw / bbar): |b| <= bbar elementwise, identity near 0; bbar = 0 gives b = 0."""
    if bias_cap == 0:
        return torch.zeros_like(raw)
    return bias_cap * torch.tanh(raw / bias_cap)


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
