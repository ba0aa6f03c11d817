"""The up-front time estimate: a few training steps of the real network on the real frames, timed on this
machine, scale the cost of every training; the measurements are estimated from the measured forward time and
from constants for the fixed costs (interpreter start, sympy), measured on a shared 2-core Xeon and scaled by
this machine's speed on a short pure-Python loop. An estimate, refined by the progress bar as tasks finish.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from sast_models.cli import train
from sast_models.networks import build_network

REFERENCE_LOOP_S = 0.045  # _python_loop() on the reference machine
START_S = 4.0  # a fresh interpreter importing torch and the toolkit
SYMPY_S = 6.0  # the sympy derivations of the theory, once per process
THEORY_RUN_S = 1.0  # sast_theory.report on one more checkpoint
VERIFY_S = {"quick": 25.0, "full": 100.0}  # verification.all with the budget's samples and steps
FRAME_S = 0.0008  # framing one corrupted recording
INTEGER_FACTOR = 3.0  # an integer-simulator mode costs about this many float forwards


@dataclass(frozen=True)
class Calibration:
    step_s: float  # one baseline training step on one batch
    forward_s: float  # one surrogate forward per sample, no gradient
    python_factor: float  # this machine's pure-Python time / the reference machine's

    def to_dict(self) -> dict[str, float]:
        return {"step_s": self.step_s, "forward_s": self.forward_s, "python_factor": self.python_factor}


def _python_loop() -> float:
    start = time.perf_counter()
    sum(i * i for i in range(300_000))
    return time.perf_counter() - start


def calibrate(config: dict[str, Any], frames: torch.Tensor, labels: torch.Tensor, info: dict) -> Calibration:
    """Time 3 training steps (after one warm-up) and a forward pass of the configuration's network."""
    spec = train.network_spec(config, info["frame_shape"], info["n_classes"], 1.0)
    net = build_network(spec, seed=0)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    batch = min(config["batch_size"], len(labels))
    x, y = frames[:batch].transpose(0, 1), labels[:batch]
    times = []
    for _ in range(4):
        start = time.perf_counter()
        optimizer.zero_grad()
        F.cross_entropy(net(x, "surrogate"), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    with torch.no_grad():
        start = time.perf_counter()
        net(x, "surrogate")
        forward = (time.perf_counter() - start) / batch
    return Calibration(min(times[1:]), forward, min(_python_loop() for _ in range(3)) / REFERENCE_LOOP_S)


def training_s(config: dict[str, Any], n_train: int, n_val: int, cal: Calibration, fresh_process: bool) -> float:
    steps = math.ceil(n_train / config["batch_size"]) * (1 if config["method"] == "baseline" else 2)
    epoch = steps * cal.step_s + 2 * n_val * cal.forward_s
    return config["epochs"] * epoch + (START_S * cal.python_factor if fresh_process else 0.0)


def measurement_s(what: set[str], modes: set[str], n_eval: int, n_runs: int, budget: Any, cal: Calibration) -> float:
    """One process measuring `n_runs` runs (the sympy derivations of the theory are paid once per process)."""
    forward = n_eval * cal.forward_s
    integer = len(modes - {"surrogate", "hard"})
    per_run = {"evaluation": forward * (len(modes) - integer + INTEGER_FACTOR * integer),
               "theory": THEORY_RUN_S * cal.python_factor,
               "verification": VERIFY_S[budget.name] * cal.python_factor,
               "membrane": 2 * forward,
               "corruption": sum(len(v) - 1 for v in budget.corruption_levels.values()) * (2 * forward
                                                                                          + n_eval * FRAME_S)}
    once = (START_S + (SYMPY_S if what & {"theory", "verification"} else 0.0)) * cal.python_factor
    return once + n_runs * sum(per_run[name] for name in what)
