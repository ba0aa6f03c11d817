"""LIF networks built from a NetworkSpec: surrogate-forward (training) or hard spikes (deployment), same weights.

Input is time-major: (T, B, C, H, W) or (T, B, D). `net(x, mode)` returns logits (B, n_classes), the mean of
the readout membrane over time; `net.trace(x, mode)` returns every layer's currents, membranes and spikes.
Every forward pass starts from u = 0, s = 0: no state survives between passes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from sast_core.errors import InputError
from sast_theory.calculus import contraction_factor, largest_feasible_taubar
from sast_theory.description import Caps
from sast_theory.norms import inf_norm
from sast_theory.surrogates import reset_offset

from .layers import ConvLIF, DenseLIF, LayerTrace, LIFLayer
from .spec import NetworkSpec
from .surrogates import spike_function


class NetworkTrace(NamedTuple):
    logits: Tensor  # (B, n_classes)
    layers: list[LayerTrace]  # one per layer, the readout last


class LIFNetwork(nn.Module):
    """Spiking layers (conv blocks, then dense) followed by the leaky readout; see `NetworkSpec`."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        self.spec = spec
        caps = (Caps(spec.inf_cap, spec.spectral_cap, spec.bias_cap)
                if spec.parameterization == "contractive" else None)
        common = dict(theta=spec.theta, reset=spec.reset, caps=caps, tau_per_neuron=spec.tau_per_neuron,
                      learn_tau=spec.learn_tau, init_gain=spec.init_gain)
        layers: list[LIFLayer] = []
        shape = tuple(spec.input_shape)
        for channels in spec.channels:
            block = ConvLIF(shape, channels, spec.kernel, spec.stride, spec.padding, spec.pool,
                            tau=spec.tau, taubar=spec.leak_cap, **common)
            layers.append(block)
            shape = block.out_shape
        width = math.prod(shape)
        for hidden in spec.hidden:
            layers.append(DenseLIF(width, hidden, tau=spec.tau, taubar=spec.leak_cap, **common))
            width = hidden
        readout_common = dict(common, learn_tau=False)
        layers.append(DenseLIF(width, spec.n_classes, tau=spec.readout_leak, taubar=spec.readout_leak,
                               spiking=False, **readout_common))
        self.layers = nn.ModuleList(layers)

    def trace(self, x: Tensor, mode: str = "surrogate") -> NetworkTrace:
        """Run the network on x (T, B, ...) in `mode` ('surrogate' or 'hard'), keeping every layer's trace."""
        expected = tuple(self.spec.input_shape)
        if x.dim() < 3 or (tuple(x.shape[2:]) != expected and math.prod(x.shape[2:]) != math.prod(expected)):
            raise InputError(f"input of shape {tuple(x.shape)}: expected (T, B, {', '.join(map(str, expected))})")
        if self.spec.arch == "conv":
            x = x.reshape(*x.shape[:2], *expected)
        spike = spike_function(self.spec.surrogate, self.spec.beta, mode)
        traces = []
        signal = x
        for layer in self.layers:
            record = layer(signal, spike)
            traces.append(record)
            signal = record.output
        return NetworkTrace(signal.mean(0), traces)

    def forward(self, x: Tensor, mode: str = "surrogate") -> Tensor:
        return self.trace(x, mode).logits

    def current_bounds(self) -> list[float]:
        """A priori I_max = c S + bbar of each spiking layer (S_0 = X, later S = 1): the P1 input scale."""
        spec = self.spec
        spiking_layers = len(self.layers) - 1
        return [spec.inf_cap * (spec.input_bound if index == 0 else 1.0) + spec.bias_cap
                for index in range(spiking_layers)]

    def contraction_report(self) -> list[dict]:
        """A4 per spiking layer from the ACTUAL weights: I_max = ||W||_inf S + ||b||_inf, taubar, rho, rho < 1.

        For the plain parameterization this says whether the trained network happens to satisfy A4.
        """
        with torch.no_grad():
            return [{"layer": layer.kind, **layer_contraction(self.spec, index, *layer.explicit())}
                    for index, layer in enumerate(self.layers[:-1])]


def layer_contraction(spec: NetworkSpec, index: int, weight: Tensor, bias: Tensor, tau: Tensor) -> dict:
    """A4 of spiking layer `index` for given explicit tensors: I_max = ||W||_inf S + ||b||_inf (S_0 = X, later
    S = 1), taubar = max tau, rho = taubar kappa1 over the state interval, and whether rho < 1."""
    weight, bias, tau = (t.detach().double().cpu().numpy() for t in (weight, bias, tau))
    scale = spec.input_bound if index == 0 else 1.0
    current = inf_norm(weight) * scale + float(abs(bias).max())
    taubar = float(tau.max())
    rho = contraction_factor(spec.surrogate, spec.beta, spec.theta, spec.reset, taubar, current)
    return {"current_bound": current, "taubar": taubar, "rho": rho, "contractive": bool(rho < 1)}


def check_feasible(spec: NetworkSpec, current_bounds: list[float]) -> None:
    """Raise InputError when A4 cannot hold for some spiking layer under the caps (contractive only)."""
    if spec.parameterization != "contractive":
        return
    for index, current in enumerate(current_bounds):
        limit = largest_feasible_taubar(spec.surrogate, spec.beta, spec.theta, spec.reset, current)
        if not spec.leak_cap < limit:
            r0 = reset_offset(spec.reset, spec.theta)
            state = (current + spec.leak_cap * r0) / (1 - spec.leak_cap)
            raise InputError(
                f"A4 is infeasible at spiking layer {index + 1}: with {spec.surrogate} beta={spec.beta}, "
                f"theta={spec.theta}, reset={spec.reset}, caps c={spec.inf_cap}, bbar={spec.bias_cap} "
                f"(state interval +-{state:.4g}) taubar={spec.leak_cap} gives rho >= 1; the largest feasible "
                f"taubar for beta={spec.beta} is {limit:.6g}"
            )


def build_network(spec: NetworkSpec, seed: int | None = None) -> LIFNetwork:
    """Build (and seed) a network; a contractive spec whose hyperparameters make A4 impossible is refused."""
    if seed is not None:
        torch.manual_seed(seed)
    net = LIFNetwork(spec)
    check_feasible(spec, net.current_bounds())
    return net

