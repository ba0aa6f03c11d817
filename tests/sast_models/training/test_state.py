"""The pickle-free packing of optimizer state (sast_models.training.state)."""

from __future__ import annotations

import pytest
import torch

from sast_models.training.state import pack, unpack


@pytest.mark.parametrize("make", [lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.9))])
def test_packed_optimizer_state_restores_exactly(make):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = make(model.parameters())
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(4, 3)).square().sum().backward()
        optimizer.step()
    tree, tensors = pack(optimizer.state_dict(), "optim")
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    clone = torch.nn.Linear(3, 2)
    clone.load_state_dict(model.state_dict())
    restored = make(clone.parameters())
    restored.load_state_dict(unpack(tree, tensors))
    x = torch.randn(4, 3)
    for m, o in ((model, optimizer), (clone, restored)):
        o.zero_grad()
        m(x).square().sum().backward()
        o.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), clone.parameters(), strict=True))
    with pytest.raises(TypeError):
        pack({"bad": object()})
