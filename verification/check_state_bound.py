"""P1 (and P6): the largest membrane potentials reached, per layer and per neuron, vs the state bounds.

Inputs: the data samples, adversarial inputs from projected gradient ascent on each layer's membranes in
surrogate mode (towards the neurons with the widest a posteriori intervals, up and down), their rounding to
{0, X}, first-layer inputs aligned with each neuron's weight signs, and, for hard spikes and the integer
simulator, a hill climb over {0, X} inputs on the mode's own membranes. Compared with the uniform U_l (a priori
and a posteriori) and the per-neuron one-sided intervals; for int8/int4/fixed, the register values |u_int| vs
U_q of P6 and the saturation events (none allowed).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch
from torch import Tensor

from . import attacks, theory
from .cli import Check, Setup
from .measures import FLOAT_MODES, deployed, integer_membranes, membranes
from .report import CheckResult, Row

TARGETS = 8  # neurons attacked per layer and direction


class Extremes:
    """Running per-neuron max and min of u over every input seen, with the input that set each layer's max|u|."""

    def __init__(self) -> None:
        self.high: list[Tensor] = []
        self.low: list[Tensor] = []
        self.peak: list[float] = []
        self.witness: list[str] = []

    def update(self, layers: list[Tensor], source: str) -> None:
        for index, u in enumerate(layers):
            high, low = u.amax(dim=(0, 1)), u.amin(dim=(0, 1))
            peak = float(torch.maximum(high.abs(), low.abs()).max())
            if index == len(self.high):
                self.high.append(high)
                self.low.append(low)
                self.peak.append(peak)
                self.witness.append(source)
                continue
            self.high[index] = torch.maximum(self.high[index], high)
            self.low[index] = torch.minimum(self.low[index], low)
            if peak > self.peak[index]:
                self.peak[index], self.witness[index] = peak, source


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


def surrogate_attacks(setup: Setup, bounds: list[theory.StateBounds]) -> list[tuple[str, Tensor]]:
    """Inputs from surrogate-mode ascent on every layer, both directions, and their rounding to {0, X}."""
    found = []
    run = lambda x: membranes(setup.net, x, "surrogate")  # noqa: E731
    jobs = [(layer, sign) for layer in range(len(bounds)) for sign in (1.0, -1.0)]
    for layer, sign in setup.bar(jobs, "surrogate ascent"):
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
          starts: list[tuple[str, Tensor]], label: str) -> list[tuple[str, Tensor]]:
    """Hill climbs over {0, X} inputs on `run`'s own membranes, from the surrogate-ascent inputs."""
    found = []
    ascents = {tag: x for tag, x in starts if tag.endswith("{0, X}")}
    jobs = [(layer, sign) for layer in range(len(bounds)) for sign in (1.0, -1.0)]
    for layer, sign in setup.bar(jobs, f"{label} hill climb"):
        direction = "up" if sign > 0 else "down"
        start = ascents[f"surrogate ascent, layer {layer + 1}, {direction}, rounded to {{0, X}}"]
        objective = _layer_objective(run, layer, sign, _targets(bounds[layer], sign))
        best = attacks.hill_climb(objective, start, setup.bound, setup.steps, generator=setup.generator)
        found.append((f"{label} hill climb, layer {layer + 1}, {direction}", best.point))
    return found


def float_rows(setup: Setup, mode: str, inputs: list[tuple[str, Tensor]],
               bounds: list[theory.StateBounds]) -> list[Row]:
    seen = Extremes()
    with torch.no_grad():
        for source, x in inputs:
            seen.update(membranes(setup.net, x, mode), source)
    rows = []
    for index, (bound, high, low) in enumerate(zip(bounds, seen.high, seen.low, strict=True)):
        name = f"{mode} L{index + 1}"
        rows.append(Row(f"{name} max|u| vs uniform U", seen.peak[index], bound.uniform.prior,
                        bound.uniform.posterior, seen.witness[index]))
        for end, reached, limit in (("upper", high.numpy(), bound.high), ("lower", -low.numpy(), -bound.low)):
            worst = int((reached - limit).argmax())
            positive = (reached > 0) & (limit > 0)
            ratios = limit[positive] / reached[positive]
            details = {"neuron": worst, "neurons": int(reached.size),
                       "ratio_min": float(ratios.min()) if ratios.size else None,
                       "ratio_median": float(torch.as_tensor(ratios).median()) if ratios.size else None,
                       "within_10_percent": int((ratios <= 1.1).sum())}
            rows.append(Row(f"{name} per-neuron {end} end (neuron {worst})", float(reached[worst]), None,
                            float(limit[worst]), "all inputs (tightest neuron)", details))
    return rows


def integer_rows(setup: Setup, mode: str, inputs: list[tuple[str, Tensor]],
                 bounds: list[theory.StateBounds]) -> list[Row]:
    """P6: register values of the integer simulator vs U_q, and its saturation events."""
    network = deployed(setup.net, mode)
    run = lambda x: [u.double() for u in integer_membranes(network, x)[0]]  # noqa: E731
    extreme = [(tag, x) for tag, x in inputs if tag.endswith("{0, X}") or tag.startswith("first-layer")]
    candidates = [("data", setup.x.floor())] + extreme + climb(setup, run, bounds, inputs, mode)
    seen, events = Extremes(), None
    for source, x in candidates:
        layers, saturation = integer_membranes(network, x)
        seen.update([u.double() for u in layers], source)
        events = saturation if events is None else [a + b for a, b in zip(events, saturation, strict=True)]
    rows = []
    for index, layer in enumerate(network.layers):
        limit, bits = theory.register_bound(layer, setup.bound if index == 0 else 1.0)
        details = {"register_bits": layer.register.bits, "safe_bits": bits, "frac": layer.register.frac}
        rows.append(Row(f"{mode} L{index + 1} max|u_int| (LSB) vs U_q", seen.peak[index], None, float(limit),
                        seen.witness[index], details))
        rows.append(Row(f"{mode} L{index + 1} saturation events", float(events[index]), None, 0.0,
                        "all inputs", details))
    return rows


def measure(setup: Setup, modes: tuple[str, ...]) -> CheckResult:
    result = CheckResult("state_bound", "P1/P6", {**setup.settings, "modes": list(modes)})
    intervals = {kind: theory.state_bounds(setup.description, kind) for kind in FLOAT_MODES}
    generated = surrogate_attacks(setup, intervals["surrogate"]) + aligned(setup)
    for mode in modes:
        bounds = intervals[mode if mode in FLOAT_MODES else "hard"]
        if mode in FLOAT_MODES:
            inputs = [("data", setup.x)] + generated
            if mode == "hard":
                inputs += climb(setup, lambda x: membranes(setup.net, x, "hard"), bounds, generated, "hard")
            result.rows += float_rows(setup, mode, inputs, bounds)
        else:
            result.rows += integer_rows(setup, mode, generated, bounds)
    result.notes.append("per-neuron rows show the neuron closest to (or beyond) its a posteriori interval end; "
                        "details give the bound/reached ratios over all neurons")
    return result


CHECK = Check("state_bound", "P1/P6", "largest membrane potentials vs the state bounds (and registers vs U_q)",
              ("surrogate", "hard", "int8", "int4", "fixed"), ("surrogate", "hard", "int8"), measure)
main = CHECK.main

if __name__ == "__main__":
    sys.exit(main())
