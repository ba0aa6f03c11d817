"""P1 (and P6): the largest membrane potentials reached, per layer and per neuron, vs the state bounds.

Inputs: the data samples, adversarial inputs from projected gradient ascent on each layer's membranes in
surrogate mode (towards the neurons with the widest a posteriori intervals, up and down), their rounding to
{0, X}, first-layer inputs aligned with each neuron's weight signs, and, for hard spikes and the integer
simulator, a hill climb over {0, X} inputs on the mode's own membranes. Compared with the uniform U_l (a priori
and a posteriori) and the per-neuron one-sided intervals; for int8/int4/fixed, the register values |u_int| vs
U_q of P6 and the saturation events: none allowed at the P6-certified width B of every layer (the deployment's
own widths: int8/int4 use them; `fixed` is deployed here at them instead of its given 32 bits), and, reported
without a claim, the events of the same inputs at B - 1 bits (events there show the certified width is tight).
Every row keeps the input behind its value (replayable with `python -m verification.replay`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable

import torch
from torch import Tensor

from sast_models.describe import describe
from sast_models.hardware.deploy import IntNetwork, deploy
from sast_models.hardware.formats import MembraneFormat
from sast_models.hardware.modes import HARDWARE_MODES

from . import attacks, theory
from .cli import Check, Setup, witness_of
from .measures import FLOAT_MODES, integer_membranes, membranes
from .plots import state_chart
from .report import CheckResult, Row
from .witness import sample

TARGETS = 8  # neurons attacked per layer and direction


class Extremes:
    """Running per-neuron max and min of u over every input seen, and where each was reached (input, sample)."""

    def __init__(self) -> None:
        self.inputs: list[Tensor] = []
        self.high: list[Tensor] = []
        self.low: list[Tensor] = []
        self.where_high: list[Tensor] = []  # per neuron: (input id, sample) of its max
        self.where_low: list[Tensor] = []
        self.peak: list[float] = []
        self.witness: list[str] = []
        self.peak_at: list[tuple[int, int]] = []

    def update(self, layers: list[Tensor], source: str, x: Tensor) -> None:
        self.inputs.append(x)
        ident = len(self.inputs) - 1
        for index, u in enumerate(layers):
            over_time = (u.amax(dim=0), u.amin(dim=0))  # (B, n)
            high, high_at = over_time[0].max(dim=0)
            low, low_at = over_time[1].min(dim=0)
            magnitude = torch.maximum(over_time[0].abs(), over_time[1].abs()).amax(dim=1)  # (B,)
            peak, peak_sample = float(magnitude.max()), int(magnitude.argmax())
            where_high = torch.stack([torch.full_like(high_at, ident), high_at], dim=1)
            where_low = torch.stack([torch.full_like(low_at, ident), low_at], dim=1)
            if index == len(self.high):
                self.high.append(high)
                self.low.append(low)
                self.where_high.append(where_high)
                self.where_low.append(where_low)
                self.peak.append(peak)
                self.witness.append(source)
                self.peak_at.append((ident, peak_sample))
                continue
            up, down = high > self.high[index], low < self.low[index]
            self.high[index] = torch.where(up, high, self.high[index])
            self.low[index] = torch.where(down, low, self.low[index])
            self.where_high[index] = torch.where(up[:, None], where_high, self.where_high[index])
            self.where_low[index] = torch.where(down[:, None], where_low, self.where_low[index])
            if peak > self.peak[index]:
                self.peak[index], self.witness[index], self.peak_at[index] = peak, source, (ident, peak_sample)

    def input_at(self, where: tuple[int, int] | Tensor) -> Tensor:
        ident, index = (int(v) for v in where)
        return sample(self.inputs[ident], index)


def _targets(bounds: theory.StateBounds, sign: float) -> Tensor:
    ends = torch.as_tensor(bounds.high if sign > 0 else -bounds.low)
    return ends.argsort(descending=True)[:TARGETS]


def _layer_objective(run: Callable[[Tensor], list[Tensor]], layer: int, sign: float, targets: Tensor):
    """Per sample k: sign * max_t u_layer[t, k, targets[k mod len]]."""

    def objective(x: Tensor) -> Tensor:
        u = run(x)[layer]
        picked = targets.repeat(x.shape[1] // len(targets) + 1)[: x.shape[1]]
        return (sign * u[:, torch.arange(x.shape[1]), picked]).amax(dim=0)

    return objective


def _starts(setup: Setup, count: int) -> Tensor:
    return setup.x[:, torch.arange(count) % setup.x.shape[1]].clone()


def surrogate_attacks(setup: Setup, bounds: list[theory.StateBounds],
                      result: CheckResult) -> list[tuple[str, Tensor]]:
    """Inputs from surrogate-mode ascent on every layer, both directions, and their rounding to {0, X}
    (a job the budget cuts starts from the data samples instead: no ascent)."""
    found = []
    run = lambda x: membranes(setup.net, x, "surrogate")  # noqa: E731
    jobs = [(layer, sign) for layer in range(len(bounds)) for sign in (1.0, -1.0)]
    for layer, sign in setup.bar(jobs, "surrogate ascent"):
        if setup.expired():
            tag = f"surrogate ascent, layer {layer + 1}, {'up' if sign > 0 else 'down'}"
            result.skipped.append(tag)
            start = _starts(setup, TARGETS)
            found += [(tag + " (skipped: data)", start), (tag + ", rounded to {0, X}",
                                                         (start > setup.bound / 2).to(start.dtype) * setup.bound)]
            continue
        targets = _targets(bounds[layer], sign)
        objective = _layer_objective(run, layer, sign, targets)
        best = attacks.ascend_inputs(objective, _starts(setup, len(targets)), setup.bound, setup.steps)
        tag = f"surrogate ascent, layer {layer + 1}, {'up' if sign > 0 else 'down'}"
        rounded = (best.point > setup.bound / 2).to(best.point.dtype) * setup.bound
        found += [(tag, best.point), (tag + ", rounded to {0, X}", rounded)]
    return found


def aligned(setup: Setup) -> list[tuple[str, Tensor]]:
    """First-layer inputs x = X [sign W_i > 0] for its first neurons/channels, constant in time."""
    weight = setup.net.layers[0].explicit().weight.detach()
    rows = torch.arange(min(weight.shape[0], TARGETS * 4))
    steps = setup.x.shape[0]
    conv = weight.dim() == 4
    return [(f"first-layer aligned inputs ({'up' if sign > 0 else 'down'})",
             attacks.aligned_inputs(weight, rows, setup.bound, steps, sign, tuple(setup.net.spec.input_shape), conv))
            for sign in (1.0, -1.0)]


def climb(setup: Setup, run: Callable[[Tensor], list[Tensor]], bounds: list[theory.StateBounds],
          starts: list[tuple[str, Tensor]], label: str, result: CheckResult) -> list[tuple[str, Tensor]]:
    """Hill climbs over {0, X} inputs on `run`'s own membranes, from the surrogate-ascent inputs."""
    found = []
    ascents = {tag: x for tag, x in starts if tag.endswith("{0, X}")}
    jobs = [(layer, sign) for layer in range(len(bounds)) for sign in (1.0, -1.0)]
    for layer, sign in setup.bar(jobs, f"{label} hill climb"):
        direction = "up" if sign > 0 else "down"
        if setup.expired():
            result.skipped.append(f"{label} hill climb, layer {layer + 1}, {direction}")
            continue
        start = ascents[f"surrogate ascent, layer {layer + 1}, {direction}, rounded to {{0, X}}"]
        objective = _layer_objective(run, layer, sign, _targets(bounds[layer], sign))
        best = attacks.hill_climb(objective, start, setup.bound, setup.steps, generator=setup.generator)
        found.append((f"{label} hill climb, layer {layer + 1}, {direction}", best.point))
    return found


def float_rows(setup: Setup, mode: str, inputs: list[tuple[str, Tensor]],
               bounds: list[theory.StateBounds], per_neuron: dict) -> list[Row]:
    seen = Extremes()
    with torch.no_grad():
        for source, x in inputs:
            seen.update(membranes(setup.net, x, mode), source, x)
    rows = []
    for index, (bound, high, low) in enumerate(zip(bounds, seen.high, seen.low, strict=True)):
        name = f"{mode} L{index + 1}"
        rows.append(Row(f"{name} max|u| vs uniform U", seen.peak[index], bound.uniform.prior,
                        bound.uniform.posterior, seen.witness[index],
                        replay=witness_of("state_bound", "float_peak", x=seen.input_at(seen.peak_at[index]),
                                          mode=mode, layer=index)))
        per_neuron[f"L{index + 1}"] = {"bound_upper": bound.high.tolist(), "reached_upper": high.tolist(),
                                       "bound_lower": (-bound.low).tolist(), "reached_lower": (-low).tolist()}
        for end, reached, limit, where in (("upper", high.numpy(), bound.high, seen.where_high[index]),
                                           ("lower", -low.numpy(), -bound.low, seen.where_low[index])):
            worst = int((reached - limit).argmax())
            positive = (reached > 0) & (limit > 0)
            ratios = limit[positive] / reached[positive]
            details = {"neuron": worst, "neurons": int(reached.size),
                       "ratio_min": float(ratios.min()) if ratios.size else None,
                       "ratio_median": float(torch.as_tensor(ratios).median()) if ratios.size else None,
                       "within_10_percent": int((ratios <= 1.1).sum())}
            replay = witness_of("state_bound", "float_end", x=seen.input_at(where[worst]), mode=mode, layer=index,
                                neuron=worst, end=end)
            rows.append(Row(f"{name} per-neuron {end} end (neuron {worst})", float(reached[worst]), None,
                            float(limit[worst]), "all inputs (tightest neuron)", details, replay=replay))
    return rows


def certified_network(setup: Setup, mode: str, bits_less: int = 0) -> IntNetwork:
    """The network deployed in `mode` at the P6-certified register width of every layer (minus `bits_less`)."""
    config = dataclasses.replace(HARDWARE_MODES[mode], register_bits=None)
    network = deploy(describe(setup.net), config)
    if bits_less:
        layers = tuple(dataclasses.replace(layer, register=MembraneFormat(layer.register.bits - bits_less,
                                                                          layer.register.frac))
                       for layer in network.layers)
        network = dataclasses.replace(network, layers=layers)
    return network


def _narrowable(network: IntNetwork) -> bool:
    return all(layer.register.bits - 1 > layer.register.frac for layer in network.layers)


def integer_rows(setup: Setup, mode: str, inputs: list[tuple[str, Tensor]],
                 bounds: list[theory.StateBounds], result: CheckResult) -> list[Row]:
    """P6: register values of the integer simulator vs U_q, and its saturation events at B and B - 1 bits."""
    network = certified_network(setup, mode)
    run = lambda x: [u.double() for u in integer_membranes(network, x)[0]]  # noqa: E731
    extreme = [(tag, x) for tag, x in inputs if tag.endswith("{0, X}") or tag.startswith("first-layer")]
    candidates = [("data", setup.x.floor())] + extreme
    candidates += climb(setup, run, bounds, inputs, mode, result)
    narrow = certified_network(setup, mode, 1) if _narrowable(network) else None
    seen, events, narrow_events = Extremes(), None, None
    for source, x in candidates:
        layers, saturation = integer_membranes(network, x)
        seen.update([u.double() for u in layers], source, x)
        events = saturation if events is None else [a + b for a, b in zip(events, saturation, strict=True)]
        if narrow is not None:
            tight = integer_membranes(narrow, x)[1]
            narrow_events = tight if narrow_events is None else [a + b for a, b in zip(narrow_events, tight,
                                                                                        strict=True)]
    rows = []
    for index, layer in enumerate(network.layers):
        limit, bits = theory.register_bound(layer, setup.bound if index == 0 else 1.0)
        details = {"register_bits": layer.register.bits, "safe_bits": bits, "frac": layer.register.frac,
                   "configured_bits": HARDWARE_MODES[mode].register_bits}
        x_peak = seen.input_at(seen.peak_at[index])
        rows.append(Row(f"{mode} L{index + 1} max|u_int| (LSB) vs U_q", seen.peak[index], None, float(limit),
                        seen.witness[index], details,
                        replay=witness_of("state_bound", "int_peak", x=x_peak, mode=mode, layer=index)))
        rows.append(Row(f"{mode} L{index + 1} saturation events at the P6 width B = {layer.register.bits}",
                        float(events[index]), None, 0.0, "all inputs", details,
                        replay=witness_of("state_bound", "int_saturation", x=x_peak, mode=mode, layer=index,
                                          bits_less=0)))
        if narrow_events is not None:
            reach = 2 ** (layer.register.bits - 2)
            rows.append(Row(f"{mode} L{index + 1} saturation events at B - 1 = {layer.register.bits - 1} bits",
                            float(narrow_events[index]), witness=f"max|u_int| {seen.peak[index]:.4g} vs the "
                            f"narrower register's reach {reach}", details={**details, "reach": reach},
                            claims=False))
    return rows


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("state_bound", "P1/P6", {**setup.settings, "modes": list(modes)}, figure=state_chart)
    intervals = {kind: theory.state_bounds(setup.description, kind) for kind in FLOAT_MODES}
    generated = surrogate_attacks(setup, intervals["surrogate"], result) + aligned(setup)
    per_neuron: dict = {}
    for mode in modes:
        bounds = intervals[mode if mode in FLOAT_MODES else "hard"]
        if mode in FLOAT_MODES:
            inputs = [("data", setup.x)] + generated
            if mode == "hard":
                inputs += climb(setup, lambda x: membranes(setup.net, x, "hard"), bounds, generated, "hard", result)
            per_neuron[mode] = {}
            result.rows += float_rows(setup, mode, inputs, bounds, per_neuron[mode])
        else:
            result.rows += integer_rows(setup, mode, generated, bounds, result)
    result.extra["per_neuron"] = per_neuron
    result.notes.append("per-neuron rows show the neuron closest to (or beyond) its a posteriori interval end; "
                        "details give the bound/reached ratios over all neurons")
    return result


def _replay_float(setup: Setup, witness) -> tuple[Tensor, theory.StateBounds]:
    params = witness.params
    u = membranes(setup.net, witness.tensors["x"], params["mode"])[params["layer"]]
    return u, theory.state_bounds(setup.description, params["mode"])[params["layer"]]


def replay_float_peak(setup: Setup, witness) -> tuple[float, float | None]:
    with torch.no_grad():
        u, bound = _replay_float(setup, witness)
    bounds = [b for b in (bound.uniform.prior, bound.uniform.posterior) if b is not None]
    return float(u.abs().max()), min(bounds) if bounds else None


def replay_float_end(setup: Setup, witness) -> tuple[float, float]:
    with torch.no_grad():
        u, bound = _replay_float(setup, witness)
    neuron = witness.params["neuron"]
    if witness.params["end"] == "upper":
        return float(u[:, :, neuron].max()), float(bound.high[neuron])
    return float(-u[:, :, neuron].min()), float(-bound.low[neuron])


def replay_int_peak(setup: Setup, witness) -> tuple[float, float]:
    network = certified_network(setup, witness.params["mode"])
    layer = witness.params["layer"]
    u = integer_membranes(network, witness.tensors["x"])[0][layer]
    limit, _ = theory.register_bound(network.layers[layer], setup.bound if layer == 0 else 1.0)
    return float(u.abs().max()), float(limit)


def replay_int_saturation(setup: Setup, witness) -> tuple[float, float]:
    network = certified_network(setup, witness.params["mode"], witness.params.get("bits_less", 0))
    return float(integer_membranes(network, witness.tensors["x"])[1][witness.params["layer"]]), 0.0


REPLAY = {"float_peak": replay_float_peak, "float_end": replay_float_end, "int_peak": replay_int_peak,
          "int_saturation": replay_int_saturation}
MODES = ("surrogate", "hard", "int8", "int4", "fixed")
CHECK = Check("state_bound", "P1/P6", "largest membrane potentials vs the state bounds (and registers vs U_q)",
              MODES, MODES, measure, budget=60.0)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
