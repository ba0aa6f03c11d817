"""P7: per sample, the bound Delta on ||z_surrogate - z_deployed||_inf vs the measured deviation, and the
certificate it gives (same class on the device as in training).

The deployed network is the float network with hard spikes ('hard') or the integer simulator of a hardware
mode (int8, int4, fixed). Delta comes from sast_theory.transfer along the DEPLOYED trajectory only (its
membranes and spikes, plus the surrogate network's weights, leaks and slopes); the surrogate network is run
only to measure the deviation and its top-1 margin. Per mode: the worst sample's deviation / Delta (the bound
holds iff it is <= 1), the certified samples that disagree (none allowed), the certified fraction (margin
> 2 Delta, and the tighter pairwise test through the readout rows), the actual agreement, and the 'oracle'
fraction whose measured deviation is below half the margin (the most any bound on the deviation could
certify), with the injected errors split by kind.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from sast_models.hardware.deploy import dequantized
from sast_models.hardware.modes import HARDWARE_MODES
from sast_theory.transfer import injected_errors

from . import theory
from .cli import Check, Setup, witness_of
from .measures import deployed_trajectory
from .plots import transfer_chart
from .report import CheckResult, Row
from .witness import sample

MODES = ("hard", *HARDWARE_MODES)
CHUNK = 32  # samples per bound computation (the budget is checked between chunks)


def evaluate(setup: Setup, mode: str, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Per sample of x: Delta, pairwise and margin certificates, the measured deviation, margin, agreement."""
    with torch.no_grad():
        z = setup.net(x, "surrogate").numpy()
    layers, logits = deployed_trajectory(setup.net, mode, x)
    z_hat = logits.numpy()
    bound = theory.transfer_bound(setup.description, x.numpy(), layers)
    top2 = np.sort(z, axis=1)[:, -2:]
    return {"delta": bound.delta, "measured": np.abs(z - z_hat).max(axis=1), "margin": top2[:, 1] - top2[:, 0],
            "known": np.abs(bound.known).max(axis=1), "agree": z.argmax(1) == z_hat.argmax(1),
            "certified": bound.certified(z), "certified_pairwise": bound.certified(z, pairwise=True),
            "certified_deployed_side": bound.certified(z_hat, pairwise=True, side="deployed"),
            "logit_gap": np.abs(layers[-1].membranes.mean(axis=0) - z_hat).max(axis=1)}


def _merge(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _rows(setup: Setup, mode: str, values: dict[str, np.ndarray], errors: list) -> list[Row]:
    ratio = values["delta"] / np.maximum(values["measured"], 1e-300)
    worst = int((values["measured"] / np.maximum(values["delta"], 1e-300)).argmax())
    certified = values["certified"] | values["certified_pairwise"]
    wrong = np.flatnonzero(certified & ~values["agree"])
    n = len(ratio)
    fractions = {key: float(values[key].mean()) for key in ("certified", "certified_pairwise",
                                                             "certified_deployed_side", "agree")}
    fractions["oracle"] = float((2 * values["measured"] < values["margin"]).mean())
    details = {"samples": n, "median_delta": float(np.median(values["delta"])),
               "median_measured": float(np.median(values["measured"])),
               "median_ratio_delta_over_measured": float(np.median(ratio)), "min_ratio": float(ratio.min()),
               "median_margin": float(np.median(values["margin"])),
               "median_known_part": float(np.median(values["known"])),
               "max_logit_gap_trajectory_vs_deployed": float(values["logit_gap"].max()), **fractions,
               "injected_errors": errors}
    replay = witness_of("transfer", "sample", x=sample(setup.x, worst), mode=mode)
    rows = [Row(f"{mode} P7 ||z_s - z_d||_inf vs Delta (worst sample)", float(values["measured"][worst]), None,
                float(values["delta"][worst]), f"sample {worst} (of {n})", details, replay=replay)]
    bad = int(wrong[0]) if wrong.size else worst
    rows.append(Row(f"{mode} P7 certified samples that disagree", float(wrong.size), None, 0.0,
                    f"sample {bad}" if wrong.size else "none",
                    {"samples": wrong.tolist()},
                    replay=witness_of("transfer", "certificate", x=sample(setup.x, bad), mode=mode)))
    rows.append(Row(f"{mode} P7 certified fraction (margin > 2 Delta)", fractions["certified"],
                    witness=f"pairwise {fractions['certified_pairwise']:.3f}, oracle {fractions['oracle']:.3f}",
                    details=fractions, claims=False))
    rows.append(Row(f"{mode} P7 certified fraction (pairwise readout test)", fractions["certified_pairwise"],
                    witness=f"deployed side {fractions['certified_deployed_side']:.3f}", claims=False))
    rows.append(Row(f"{mode} P7 actual agreement fraction", fractions["agree"], witness="argmax z_s == argmax z_d",
                    claims=False))
    return rows


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("transfer", "P7", {**setup.settings, "modes": list(modes)}, figure=transfer_chart)
    per_sample = {}
    samples = setup.x.shape[1]
    for mode in setup.bar(modes, "modes"):
        if mode != "hard" and bool((torch.frac(setup.x) != 0).any()):
            result.skipped.append(f"{mode}: the frames are not integer-valued (the simulator needs counts)")
            continue
        parts = []
        for start in range(0, samples, CHUNK):
            if parts and setup.expired():
                result.skipped.append(f"{mode}: samples {start}..{samples - 1}")
                break
            parts.append(evaluate(setup, mode, setup.x[:, start:start + CHUNK]))
        if not parts:
            continue
        values = _merge(parts)
        count = len(values["delta"])
        deployed = setup.description if mode == "hard" else dequantized(setup.description, HARDWARE_MODES[mode])
        layers, _ = deployed_trajectory(setup.net, mode, setup.x[:, :min(count, CHUNK)])
        errors = injected_errors(setup.description, deployed, setup.x[:, :min(count, CHUNK)].numpy(), layers)
        result.rows += _rows(setup, mode, values, errors)
        per_sample[mode] = {key: value.tolist() for key, value in values.items()}
    result.extra["per_sample"] = per_sample
    result.notes.append("Delta is computed from the deployed trajectory and the surrogate network's constants; "
                        "certified = the class provably agrees (margin > 2 Delta, or the pairwise readout test)")
    return result


def replay_sample(setup: Setup, witness) -> tuple[float, float]:
    """(measured deviation, Delta) of the witness input in its mode."""
    values = evaluate(setup, witness.params["mode"], witness.tensors["x"])
    return float(values["measured"][0]), float(values["delta"][0])


def replay_certificate(setup: Setup, witness) -> tuple[float, float]:
    """(1 if the sample is certified but its class disagrees else 0, the bound 0)."""
    values = evaluate(setup, witness.params["mode"], witness.tensors["x"])
    certified = bool(values["certified"][0] or values["certified_pairwise"][0])
    return float(certified and not bool(values["agree"][0])), 0.0


REPLAY = {"sample": replay_sample, "certificate": replay_certificate}
CHECK = Check("transfer", "P7", "surrogate-vs-deployed logit deviation vs the per-sample bound Delta", MODES, MODES,
              measure, budget=40.0)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
