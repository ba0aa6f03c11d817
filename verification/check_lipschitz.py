"""P2: the largest difference quotient ||z(x) - z(x')|| / ||x - x'||_{2,inf} found, vs L_x (surrogate mode).

Pairs: data samples with small random perturbations (projected on [0, X]) or with single entries flipped
between 0 and X, then projected pair ascent on the surrogate quotient from the perturbed pairs. Hard mode has
no bound (the hard network is not Lipschitz): its quotients, on the same pairs and on the surrogate-ascent
pairs, are reported only.
"""

from __future__ import annotations

import sys

import torch
from torch import Tensor

from . import attacks, theory
from .cli import Check, Setup
from .measures import difference_quotients
from .report import CheckResult, Row

SCALES = (1e-3, 1e-2, 1e-1)  # perturbation sizes, in units of X
FLIPS = 4  # draws of single-entry flips per sample


def random_pairs(setup: Setup) -> list[tuple[str, Tensor, Tensor]]:
    """(label, x, x') with x' = clamp(x + scale X N(0, 1)) for each sample and scale."""
    pairs = []
    for scale in SCALES:
        noise = torch.randn(setup.x.shape, generator=setup.generator, dtype=setup.x.dtype)
        partner = (setup.x + scale * setup.bound * noise).clamp(0.0, setup.bound)
        pairs.append((f"data + {scale:g} X noise", setup.x, partner))
    for flip in range(FLIPS):
        partner = setup.x.clone().reshape(setup.x.shape[0], setup.x.shape[1], -1)
        entry = torch.randint(partner[0, 0].numel(), (partner.shape[1],), generator=setup.generator)
        step = torch.randint(partner.shape[0], (partner.shape[1],), generator=setup.generator)
        samples = torch.arange(partner.shape[1])
        partner[step, samples, entry] = setup.bound - partner[step, samples, entry]
        pairs.append((f"data with one entry flipped (draw {flip})", setup.x, partner.view_as(setup.x)))
    return pairs


def best_pair(setup: Setup, mode: str, pairs: list[tuple[str, Tensor, Tensor]]) -> tuple[float, str]:
    best, source = 0.0, "none"
    with torch.no_grad():
        for label, x, x2 in pairs:
            values = difference_quotients(setup.net, x, x2, mode)
            values = torch.where(torch.isfinite(values), values, torch.zeros_like(values))  # x == x'
            if float(values.max()) > best:
                best, source = float(values.max()), f"{label}, sample {int(values.argmax())}"
    return best, source


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("lipschitz", "P2", {**setup.settings, "modes": list(modes)})
    bound = theory.lipschitz_bound(setup.description)
    pairs = random_pairs(setup)
    _, start_x, start_x2 = pairs[len(SCALES) - 1]
    found, partner = attacks.ascend_pairs(lambda a, b: difference_quotients(setup.net, a, b, "surrogate"),
                                          start_x, start_x2, 0.0, setup.bound, setup.steps, lr=0.05 * setup.bound)
    ascent = [("surrogate pair ascent", found.point, partner)]
    for mode in setup.bar(modes, "modes"):
        claims = mode == "surrogate"
        name = f"{mode} L_x" if claims else f"{mode} difference quotient (no bound: not Lipschitz)"
        value, source = best_pair(setup, mode, pairs)
        result.rows.append(Row(f"{name}, random pairs near data", value, bound.prior, bound.posterior, source,
                               claims=claims))
        value, source = best_pair(setup, mode, ascent)
        result.rows.append(Row(f"{name}, pair ascent", value, bound.prior, bound.posterior, source, claims=claims))
    if "hard" in modes:
        result.notes.append("hard spikes: the network is not Lipschitz; quotients are reported, no bound is claimed")
    return result


CHECK = Check("lipschitz", "P2", "largest difference quotient of the logits vs the input-Lipschitz constant L_x",
              ("surrogate", "hard"), ("surrogate", "hard"), measure)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
