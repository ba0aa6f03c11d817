"""The bound values, read from sast_theory (and sast_models.hardware for P6); nothing is derived here.

Every check asks this module, so a test can replace one function to plant a wrong bound. A priori values
exist only for the contractive parameterization (caps); a constant is None where the theory claims nothing
(a plain network, or A4 failing upstream so the constant is infinite).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from sast_models.hardware.deploy import IntLayer
from sast_models.hardware.formats import MAX_REGISTER_BITS
from sast_theory import theorems, transfer
from sast_theory.combinator import Constants, compose
from sast_theory.description import Caps, NetworkDescription
from sast_theory.local.constants import LocalConstants, local_constants
from sast_theory.local.network import from_description
from sast_theory.local.statements import p5_terms
from sast_theory.registers import safe_register_bits


@dataclass(frozen=True)
class Pair:
    """A bound a priori (caps of the parameterization) and a posteriori (this checkpoint's weights)."""

    prior: float | None
    posterior: float | None


@dataclass(frozen=True)
class StateBounds:
    """P1 for one layer: the uniform U (both ways) and the per-neuron a posteriori interval [low_i, high_i]."""

    name: str
    uniform: Pair
    low: np.ndarray
    high: np.ndarray


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@functools.lru_cache(maxsize=16)
def _both(description: NetworkDescription) -> tuple[Constants | None, Constants]:
    """Both compositions of one description (cached per description object: they are pure and costly)."""
    prior = compose(description, posterior=False) if description.has_caps else None
    return prior, compose(description, posterior=True)


def _network_pair(description: NetworkDescription, key: str) -> Pair:
    prior, post = _both(description)
    return Pair(_finite(prior.network_numeric[key]) if prior else None, _finite(post.network_numeric[key]))


def state_bounds(description: NetworkDescription, mode: str) -> list[StateBounds]:
    """P1 per layer. mode 'surrogate' uses the surrogate-only intervals where the theory gives them."""
    prior, post = _both(description)
    out = []
    for index, li in enumerate(post.layers):
        detail = li.detail
        kind = "surrogate" if mode == "surrogate" and "surrogate_low" in detail else "interval"
        low, high = detail[f"{kind}_low"], detail[f"{kind}_high"]
        uniform = Pair(_finite(prior.layer_numeric[index]["state_bound"]) if prior else None,
                       _finite(post.layer_numeric[index]["state_bound"]))
        out.append(StateBounds(li.name, uniform, np.asarray(low, dtype=float), np.asarray(high, dtype=float)))
    return out


def contraction_bounds(description: NetworkDescription) -> list[Pair]:
    """A4: rho_l of every layer (the readout's is its leak)."""
    prior, post = _both(description)
    return [Pair(_finite(prior.layer_numeric[i]["rho"]) if prior else None, _finite(post.layer_numeric[i]["rho"]))
            for i in range(len(post.layers))]


def lipschitz_bound(description: NetworkDescription) -> Pair:
    """P2: L_x (surrogate mode)."""
    return _network_pair(description, "L_x")


def gradient_bound(description: NetworkDescription) -> Pair:
    """P3: G, the bound on the loss gradient w.r.t. the explicit weights and biases."""
    return _network_pair(description, "G")


def smoothness_bound(description: NetworkDescription) -> Pair:
    """P3: L_theta, the bound on the loss Hessian w.r.t. the explicit weights and biases."""
    return _network_pair(description, "L_theta")


@dataclass(frozen=True)
class BallConstants:
    """Constants valid for every parameter point within `radius` (Frobenius, explicit W and b) of the checkpoint."""

    smoothness: float | None  # L: F is L-smooth on the ball (P4, P5)
    gradient: float | None  # G: every per-sample loss gradient on the ball has norm <= G (P5's sigma^2)
    radius: float
    source: str


@functools.lru_cache(maxsize=64)
def ball_constants(description: NetworkDescription, radius: float) -> BallConstants:
    """L_theta and G valid on the whole Frobenius ball of `radius` around the weights (P4, P5 need them there).

    The a priori constants of a description whose caps enclose the ball: each weight's certified norms
    (sast_theory) widened by the norm of a perturbation E with ||E||_F <= radius, using the providers' own
    ||E||_op <= q ||E||_F and ||E_row||_1 <= sqrt(row length) ||E_row||_F.

    THE hook of P5 (check_convergence) and P4 (check_sam): a local, data-dependent constant valid on a ball
    (with its own check that the iterates stayed inside) replaces this function and nothing else.
    """
    post = _both(description)[1]
    layers = []
    for record, li in zip(description.layers, post.layers, strict=True):
        row = math.sqrt(int(np.prod(record.weight_shape[1:])))
        caps = Caps(inf=li.c + row * radius, spectral=li.omega + li.q * radius, bias=li.bbar + radius)
        layers.append(dataclasses.replace(record, caps=caps))
    ball = dataclasses.replace(description, layers=tuple(layers))
    terms = compose(ball, posterior=False).network_numeric
    return BallConstants(_finite(terms["L_theta"]), _finite(terms["G"]), radius,
                         "a priori constants with caps = the checkpoint's certified norms widened by the radius")


def ball_smoothness(description: NetworkDescription, radius: float) -> float | None:
    """L_theta valid on the Frobenius ball of `radius` around the weights (ball_constants)."""
    return ball_constants(description, radius).smoothness


def convergence_bound(smoothness: float, eta: float, steps: int, gap0: float, sigma2: float, rho: float) -> float:
    """P5's right-hand side (sast_theory.theorems)."""
    return theorems.sast_convergence_bound(smoothness, eta, steps, gap0, sigma2, rho)


def transfer_bound(description: NetworkDescription, inputs: np.ndarray,
                   layers: list[transfer.DeployedLayer]) -> transfer.TransferBound:
    """P7 (sast_theory.transfer) along a deployed trajectory, with the surrogate-mode P1 intervals."""
    intervals = [(b.low, b.high) if record.spiking else None
                 for b, record in zip(state_bounds(description, "surrogate"), description.layers, strict=True)]
    return transfer.transfer_bound(description, inputs, layers, intervals)


def local_bounds(description: NetworkDescription, x, y, radius: float) -> LocalConstants:
    """Local constants (sast_theory.local) of the samples x (T, N, ...) with labels y on the ball of `radius`."""
    samples = np.asarray(x.transpose(0, 1).detach().cpu().numpy(), dtype=np.float64)
    return local_constants(from_description(description), samples, np.asarray(y.cpu().numpy()), radius)


def local_p5(local: LocalConstants, rho: float, batch: int, target: float | None = None) -> dict[str, Any]:
    """P5 with the local L: eta_max, the step budget inside the ball, certified sigma^2, the right side's terms,
    and the steps needed to get below `target`."""
    return p5_terms(local, rho, batch, target)


def register_bound(layer: IntLayer, input_bound: float) -> tuple[Fraction, int]:
    """P6 (sast_theory.registers): U_q in LSBs and the smallest register width that never saturates."""
    bound = layer.state_bound(input_bound)
    return bound, safe_register_bits(bound, layer.register.frac, MAX_REGISTER_BITS)
