"""Witnesses: the point behind a measured value (an input, an input pair, a state pair, a parameter
perturbation, a training run's data), saved as safetensors so that `python -m verification.replay FILE`
recomputes the value and its bound.

A `Witness` names its check and a `probe` (a key of that check module's `REPLAY` table: the function that
recomputes (value, bound) from the network and the witness), its tensors, and JSON parameters (mode, layer,
neuron, radius, ...). Every row that can be replayed carries one; the files are written for violated rows
(DIR/witness-<check>-<n>.safetensors), with the command that replays them. The metadata also records the
model, the settings, and the value and bound as measured, so replay can show both side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from torch import Tensor

from sast_core.atomic import atomic_write_bytes
from sast_core.errors import InputError

KEY = "sast_witness"


@dataclass
class Witness:
    """What replays one measured value."""

    check: str
    probe: str
    tensors: dict[str, Tensor] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def encode(self, meta: dict[str, Any]) -> bytes:
        """safetensors bytes: the tensors (contiguous, detached copies) and the JSON header `meta` + identity."""
        tensors = {name: t.detach().contiguous().clone() for name, t in self.tensors.items()}
        header = {**meta, "check": self.check, "probe": self.probe, "params": self.params}
        return safetensors_bytes(tensors, metadata={KEY: json.dumps(header, allow_nan=False)})


def save(path: Path, witness: Witness, meta: dict[str, Any]) -> Path:
    """Write the witness atomically; returns the path."""
    return atomic_write_bytes(path, witness.encode(meta))


def load(path: str | Path) -> tuple[Witness, dict[str, Any]]:
    """(witness, its header) from a file written by `save`; InputError (one line) for anything else."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: no such witness file")
    try:
        with safe_open(str(file), framework="pt") as handle:
            header = json.loads((handle.metadata() or {}).get(KEY, "null"))
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as err:  # safetensors raises its own error types for malformed files
        raise InputError(f"{file}: not a verification witness ({type(err).__name__})") from None
    if not isinstance(header, dict) or not {"check", "probe", "params"} <= set(header):
        raise InputError(f"{file}: not a verification witness (no '{KEY}' header)")
    return Witness(header["check"], header["probe"], tensors, header["params"]), header


def sample(x: Tensor, index: int) -> Tensor:
    """Sample `index` of a time-major batch (T, B, ...) as a batch of one (T, 1, ...)."""
    return x[:, index:index + 1].detach().clone()
