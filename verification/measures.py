"""What the checks measure on a network: membranes (float or integer), logits, losses and their derivatives.

Checks run in float64. Derivatives are taken w.r.t. the EXPLICIT weights and biases (the parameters the P3/P4
constants refer to): `explicit_network` rebuilds a network from its description in the plain parameterization
(`sast_models.from_description`), whose parameters are exactly its explicit W and b; leaks, thresholds and
beta stay fixed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from sast_models.describe import describe
from sast_models.from_description import network_from_description
from sast_models.hardware.deploy import IntNetwork, deploy
from sast_models.hardware.modes import HARDWARE_MODES, hardware_runner
from sast_models.hardware.simulator import IntegerSimulator
from sast_models.networks import LIFNetwork
from sast_theory.transfer import DeployedLayer

FLOAT_MODES = ("surrogate", "hard")


def explicit_network(net: LIFNetwork) -> LIFNetwork:
    """A float64 copy of `net` in the plain parameterization: its parameters are the explicit (W, b)."""
    return network_from_description(describe(net), dtype=torch.float64).eval()


def membranes(net: LIFNetwork, x: Tensor, mode: str) -> list[Tensor]:
    """Every layer's membrane u[t], flattened to (T, B, n_l), in 'surrogate' or 'hard' mode."""
    return [layer.membranes.flatten(2) for layer in net.trace(x, mode).layers]


def deployed(net: LIFNetwork, mode: str) -> IntNetwork:
    """The integer network of `net` in a hardware mode (int8, int4, fixed) of sast_models.hardware."""
    return deploy(describe(net), HARDWARE_MODES[mode])


def integer_membranes(network: IntNetwork, x: Tensor) -> tuple[list[Tensor], list[int]]:
    """Integer register values u_int (T, B, n_l) per layer and the saturation events, from the simulator."""
    result = IntegerSimulator(network)(x)
    return [trace.membranes.flatten(2) for trace in result.layers], [trace.saturation for trace in result.layers]


def deployed_trajectory(net: LIFNetwork, mode: str, x: Tensor) -> tuple[list[DeployedLayer], Tensor]:
    """The deployed network's trajectory (membranes in float units, spikes; flattened to (T, B, n)) and its
    logits: the float network in hard mode, or the integer simulator of a hardware mode (u = LSB u_int)."""
    with torch.no_grad():
        trace = net.trace(x, "hard") if mode == "hard" else hardware_runner(net, mode)(x)
    layers = [DeployedLayer(layer.membranes.flatten(2).double().numpy(), layer.spikes.flatten(2).double().numpy())
              for layer in trace.layers]
    return layers, trace.logits.double()


def sup_time_norm(dx: Tensor) -> Tensor:
    """||dx||_{2,inf} = max_t ||dx[t]||_2 per sample, for dx (T, B, ...) -> (B,)."""
    return dx.flatten(2).norm(dim=2).amax(dim=0)


def difference_quotients(net: LIFNetwork, x: Tensor, x2: Tensor, mode: str) -> Tensor:
    """||z(x) - z(x2)||_2 / ||x - x2||_{2,inf} per sample (P2)."""
    return (net(x, mode) - net(x2, mode)).norm(dim=1) / sup_time_norm(x - x2)


def flat_parameters(net: LIFNetwork) -> Tensor:
    """The explicit parameters of an `explicit_network` as one vector."""
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def unflatten(net: LIFNetwork, flat: Tensor) -> dict[str, Tensor]:
    out, offset = {}, 0
    for name, param in net.named_parameters():
        out[name] = flat[offset: offset + param.numel()].view_as(param)
        offset += param.numel()
    return out


def loss_at(net: LIFNetwork, flat: Tensor, x: Tensor, y: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of the surrogate network with parameters `flat` (differentiable in flat)."""
    logits = functional_call(net, unflatten(net, flat), (x, "surrogate"))
    return F.cross_entropy(logits, y, reduction=reduction)


def gradient(net: LIFNetwork, flat: Tensor, x: Tensor, y: Tensor) -> Tensor:
    point = flat.detach().requires_grad_()
    (grad,) = torch.autograd.grad(loss_at(net, point, x, y), point)
    return grad


def hvp_operator(net: LIFNetwork, flat: Tensor, x: Tensor, y: Tensor):
    """v -> H v, H the Hessian of the loss at `flat` (double backward; the surrogate is C^2)."""
    point = flat.detach().requires_grad_()
    (grad,) = torch.autograd.grad(loss_at(net, point, x, y), point, create_graph=True)

    def apply(v: Tensor) -> Tensor:
        (hv,) = torch.autograd.grad(grad, point, v, retain_graph=True)
        return hv

    return apply


def hessian(net: LIFNetwork, flat: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """The exact Hessian (tiny networks only)."""
    return torch.autograd.functional.hessian(lambda p: loss_at(net, p, x, y), flat.detach())


def worst_labels(net: LIFNetwork, x: Tensor) -> Tensor:
    """The class with the smallest surrogate logit per sample: the label with the largest loss."""
    with torch.no_grad():
        return net(x, "surrogate").argmin(dim=1)
