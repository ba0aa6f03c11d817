"""The per-epoch resume checkpoint: network + optimizer state + RNG states + epoch + split + history.

One safetensors file (sast_models.checkpoint format, written atomically): the network's raw parameters,
extra tensors "optim.*" (the base optimizer's state), "rng.*" (torch RNG states) and "split.train" /
"split.val" (dataset indices), and in the header `hyperparameters` (the run's configuration) and
`provenance.resume` = {"epoch": last completed epoch, "history": metrics lines so far, "optimizer": the
optimizer state's JSON skeleton}. The per-epoch data order is a function of (seed, epoch), so the split and
the epoch number fix every future batch: a resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sast_core.errors import InputError

from ..checkpoint import load_checkpoint, load_extra_tensors, read_header, save_checkpoint
from ..networks import LIFNetwork
from ..sam import SAM, capture_rng, restore_rng
from .state import pack, unpack

RESUME_FILE = "resume.safetensors"


@dataclass
class Resumed:
    net: LIFNetwork
    epoch: int  # last completed epoch (1-based)
    history: list[dict]
    optimizer_state: dict[str, Any]
    rng: dict[str, Any]


def save_state(path: Path, net: LIFNetwork, sam: SAM, *, epoch: int, history: list[dict], config: dict,
               provenance: dict, split: tuple[np.ndarray, np.ndarray]) -> None:
    """Write the resume checkpoint for the end of `epoch` (atomic)."""
    optim_tree, optim_tensors = pack(sam.state_dict(), "optim")
    rng_tree, rng_tensors = pack(capture_rng(), "rng")
    extra = {**optim_tensors, **rng_tensors, "split.train": torch.from_numpy(split[0]),
             "split.val": torch.from_numpy(split[1])}
    resume = {"epoch": epoch, "history": history, "optimizer": optim_tree, "rng": rng_tree}
    save_checkpoint(path, net, hyperparameters=config, provenance={**provenance, "resume": resume},
                    extra_tensors=extra)


def load_state(path: Path, *, config: dict, split: tuple[np.ndarray, np.ndarray],
               device: torch.device) -> Resumed:
    """Read a resume checkpoint, refusing one written with another configuration or data split."""
    header = read_header(path)
    resume = header["provenance"].get("resume")
    if not isinstance(resume, dict) or not isinstance(resume.get("epoch"), int) \
            or not isinstance(resume.get("history"), list) or not all(k in resume for k in ("optimizer", "rng")):
        raise InputError(f"--resume: {path} is not a resume checkpoint (a model file, or a corrupt one: its header "
                         f"holds no resume state); remove it, or pass --overwrite to start over")
    saved = header["hyperparameters"]
    free = {"epochs"} if config.get("lr_schedule", "constant") == "constant" else set()  # a schedule spans them
    differ = sorted(k for k in set(saved) | set(config) if k not in free and saved.get(k) != config.get(k))
    if differ:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {config.get(k)!r}" for k in differ)
        raise InputError(f"--resume: {path} was written with other settings ({details})")
    net, _ = load_checkpoint(path, device=device)
    extra = load_extra_tensors(path)
    for name, part in zip(("train", "val"), split, strict=True):
        if f"split.{name}" not in extra:
            raise InputError(f"--resume: {path} is not a resume checkpoint (no split.{name} tensor)")
        if not np.array_equal(extra[f"split.{name}"].numpy(), part):
            raise InputError(f"--resume: the {name} split of {path} differs from this data (changed data?)")
    try:
        optimizer_state, rng = unpack(resume["optimizer"], extra), unpack(resume["rng"], extra)
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"--resume: {path} has a corrupt optimizer or RNG state ({type(err).__name__})") from None
    return Resumed(net, resume["epoch"], resume["history"], optimizer_state, rng)


def restore(resumed: Resumed, sam: SAM) -> None:
    """Load the optimizer state and the RNG states of a resumed run."""
    sam.load_state_dict(resumed.optimizer_state)
    restore_rng(resumed.rng)

