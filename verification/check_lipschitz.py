"""P2: the largest difference quotient ||z(x) - z(x')|| / ||x - x'||_{2,inf} found, vs L_x (surrogate mode).

Pairs: data samples with small random perturbations (projected on [0, X]) or with single entries flipped
between 0 and X, then projected pair ascent on the surrogate quotient from the perturbed pairs. Hard mode has
no bound (the hard network is not Lipschitz): its quotients, on the same pairs and on the surrogate-ascent
pairs, are reported only. The hardware modes (int8, int4, fixed) measure the network with the deployed weights,
biases and leaks in surrogate mode against its own a posteriori L_x.
"""

from __future__ import annotations

import sys

import torch
from torch import Tensor

from . import attacks, theory
from .cli import QUANTIZED_MODES, Check, Setup, witness_of
from .measures import difference_quotients
from .report import CheckResult, Row
from .witness import sample

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


def best_pair(setup: Setup, mode: str, pairs: list[tuple[str, Tensor, Tensor]]) -> tuple[float, str, tuple]:
    """The largest quotient over the pairs, where it was found, and the pair itself (x, x')."""
    best, source, where = 0.0, "none", (pairs[0][1][:, :1], pairs[0][2][:, :1])
    with torch.no_grad():
        for label, x, x2 in pairs:
            values = difference_quotients(setup.net, x, x2, mode)
            values = torch.where(torch.isfinite(values), values, torch.zeros_like(values))  # x == x'
            if float(values.max()) > best:
                k = int(values.argmax())
                best, source, where = float(values.max()), f"{label}, sample {k}", (sample(x, k), sample(x2, k))
    return best, source, where


def _mode_rows(setup: Setup, mode: str, result: CheckResult) -> None:
    """Rows of one mode: surrogate / a hardware mode (the quantized network, surrogate spikes) or hard."""
    claims = mode != "hard"
    net_setup = setup.quantized(mode) if mode in QUANTIZED_MODES else setup
    spikes = "hard" if mode == "hard" else "surrogate"
    bound = theory.lipschitz_bound(net_setup.description)
    pairs = random_pairs(net_setup)
    _, start_x, start_x2 = pairs[len(SCALES) - 1]
    if setup.expired():
        result.skipped.append(f"{mode}: pair ascent")
        ascent = []
    else:
        found, partner = attacks.ascend_pairs(lambda a, b: difference_quotients(net_setup.net, a, b, "surrogate"),
                                              start_x, start_x2, 0.0, setup.bound, setup.steps,
                                              lr=0.05 * setup.bound)
        ascent = [("surrogate pair ascent", found.point, partner)]
    prefix = {"surrogate": "surrogate L_x", "hard": "hard difference quotient (no bound: not Lipschitz)"}.get(
        mode, f"{mode} (deployed weights, surrogate) L_x")
    for label, candidates in (("random pairs near data", pairs), ("pair ascent", ascent)):
        if not candidates:
            continue
        value, source, (x, x2) = best_pair(net_setup, spikes, candidates)
        result.rows.append(Row(f"{prefix}, {label}", value, bound.prior, bound.posterior, source, claims=claims,
                               replay=witness_of("lipschitz", "pair", x=x, x2=x2, mode=mode)))


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("lipschitz", "P2", {**setup.settings, "modes": list(modes)})
    for mode in setup.bar(modes, "modes"):
        if setup.expired() and result.rows:
            result.skipped.append(f"mode {mode}")
            continue
        _mode_rows(setup, mode, result)
    if "hard" in modes:
        result.notes.append("hard spikes: the network is not Lipschitz; quotients are reported, no bound is claimed")
    if set(modes) & set(QUANTIZED_MODES):
        result.notes.append("int8/int4/fixed: the network with the deployed weights, biases and leaks, surrogate "
                            "spikes; a posteriori L_x of that network (no caps, so no a priori bound)")
    return result


def replay_pair(setup: Setup, witness) -> tuple[float, float | None]:
    mode = witness.params["mode"]
    net_setup = setup.quantized(mode) if mode in QUANTIZED_MODES else setup
    with torch.no_grad():
        value = difference_quotients(net_setup.net, witness.tensors["x"], witness.tensors["x2"],
                                     "hard" if mode == "hard" else "surrogate")
    bound = theory.lipschitz_bound(net_setup.description)
    bounds = [b for b in (bound.prior, bound.posterior) if b is not None]
    return float(value[0]), (min(bounds) if bounds and mode != "hard" else None)


REPLAY = {"pair": replay_pair}
MODES = ("surrogate", "hard", *QUANTIZED_MODES)
CHECK = Check("lipschitz", "P2", "largest difference quotient of the logits vs the input-Lipschitz constant L_x",
              MODES, MODES, measure, budget=25.0)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
