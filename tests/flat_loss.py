"""A network's cross-entropy as a function of its flattened parameters [W1, b1, W2, b2, ...], for the exact
autograd gradients and Hessians the bound tests compare against (plain parameterization: raw == explicit)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import functional_call


def flat_parameters(net: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def flat_loss(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
              reduction: str = "mean") -> Callable[[torch.Tensor], torch.Tensor]:
    """theta -> cross_entropy(net with parameters theta, surrogate mode, on x (T, B, ...), labels y)."""
    named = [(name, p.shape, p.numel()) for name, p in net.named_parameters()]

    def loss(flat: torch.Tensor) -> torch.Tensor:
        params, offset = {}, 0
        for name, shape, size in named:
            params[name] = flat[offset:offset + size].reshape(shape)
            offset += size
        return torch.nn.functional.cross_entropy(functional_call(net, params, (x, "surrogate")), y,
                                                 reduction=reduction)

    return loss
