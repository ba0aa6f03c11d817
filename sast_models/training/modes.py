"""Evaluation modes: a mapping mode name -> factory that builds a runner for a network.

A runner maps a time-major input batch x (T, B, ...) to a trace: an object with `.logits` (B, n_classes)
and `.layers`, one entry per layer (the readout last) with `.membranes` and `.spikes` (T, B, ...) in the
float network's units (potentials comparable with theta). `LIFNetwork.trace` returns exactly that.

The built-in modes are 'surrogate' (training forward) and 'hard' (deployment spikes, same weights). Other
packages add modes without editing the evaluation loop: `sast_models.hardware.modes` may define
`RUNNERS: dict[str, RunnerFactory]` (e.g. int8, int4, fixed), which `available_modes()` merges in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from torch import Tensor, nn

Runner = Callable[[Tensor], Any]
RunnerFactory = Callable[[nn.Module], Runner]

PLUGIN_MODULE = "sast_models.hardware.modes"


def float_mode(mode: str) -> RunnerFactory:
    """The float network in spike mode `mode` ('surrogate' or 'hard')."""

    def factory(net: nn.Module) -> Runner:
        return partial(net.trace, mode=mode)

    return factory


BUILTIN_MODES: dict[str, RunnerFactory] = {"surrogate": float_mode("surrogate"), "hard": float_mode("hard")}


def available_modes() -> Mapping[str, RunnerFactory]:
    """The built-in modes plus `RUNNERS` of the hardware plugin module, when that module exists."""
    try:
        plugin = importlib.import_module(PLUGIN_MODULE)
    except ModuleNotFoundError as err:
        if err.name != PLUGIN_MODULE:
            raise
        return dict(BUILTIN_MODES)
    return {**BUILTIN_MODES, **getattr(plugin, "RUNNERS", {})}
