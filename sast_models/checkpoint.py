"""Checkpoints: safetensors tensors + a JSON header in the safetensors metadata. Never unpickled.

Header (metadata key "sast"): {"format": "sast.checkpoint", "schema_version": 1, "package_version",
"architecture": NetworkSpec.to_dict(), "hyperparameters": {...}, "provenance": {...}} (headers written before
the redesign also carry the removed, always empty, architecture field "extra": NetworkSpec.from_dict ignores
it). Tensors: the network's raw (direct) parameters and buffers by state_dict name, plus optional extra
tensors under "extra/<name>" (e.g. optimizer state for resuming). Writes are atomic. Loading refuses, with one
InputError line and without executing anything from the file: a file that is not ours (a pickle included), an
unknown schema version, a header field of the wrong type or a missing one (the architecture is checked against
NetworkSpec's typed fields, the hyperparameters against `training.config.CONFIGURATION`), an invalid
architecture, a missing or unexpected tensor, a shape mismatch, NaN/inf.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from sast_core.atomic import atomic_write_bytes
from sast_core.errors import InputError
from sast_core.flags import FlagValueError
from sast_core.runs import package_version
from sast_theory.description import NetworkDescription

from .describe import describe
from .networks import LIFNetwork
from .spec import NetworkSpec
from .training.config import CONFIGURATION

FORMAT = "sast.checkpoint"
SCHEMA_VERSION = 1
EXTRA_PREFIX = "extra/"


def save_checkpoint(
    path: str | os.PathLike,
    net: LIFNetwork,
    *,
    hyperparameters: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write `net` (raw parameters + header) atomically to `path`."""
    return atomic_write_bytes(path, checkpoint_bytes(net, hyperparameters=hyperparameters, provenance=provenance,
                                                     extra_tensors=extra_tensors))


def checkpoint_bytes(
    net: LIFNetwork,
    *,
    hyperparameters: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
) -> bytes:
    """The checkpoint file of `net` (raw parameters + header), as bytes."""
    header = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "package_version": package_version(),
        "architecture": net.spec.to_dict(),
        "hyperparameters": hyperparameters or {},
        "provenance": provenance or {},
    }
    tensors = {name: t.detach().cpu().contiguous() for name, t in net.state_dict().items()}
    for name, tensor in (extra_tensors or {}).items():
        tensors[EXTRA_PREFIX + name] = tensor.detach().cpu().contiguous()
    return safetensors_bytes(tensors, metadata={"sast": json.dumps(header, allow_nan=False)})


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's JSON header, validated (format and schema version)."""
    header, _ = _open(path, with_tensors=False)
    return header


def load_checkpoint(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> tuple[LIFNetwork, dict]:
    """Rebuild the network from the header and load its tensors; returns (net, header)."""
    header, tensors = _open(path, with_tensors=True)
    net = LIFNetwork(NetworkSpec.from_dict(header["architecture"]))
    expected = net.state_dict()
    found = {name: t for name, t in tensors.items() if not name.startswith(EXTRA_PREFIX)}
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing:
        raise InputError(f"{path}: missing tensor(s) {', '.join(missing)}")
    if unexpected:
        raise InputError(f"{path}: unexpected tensor(s) {', '.join(unexpected)}")
    for name, tensor in found.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise InputError(f"{path}: tensor {name} has shape {tuple(tensor.shape)}, "
                             f"expected {tuple(expected[name].shape)} for this architecture")
    net.load_state_dict({name: t.to(expected[name].dtype) for name, t in found.items()})
    return net.to(device), header


def load_extra_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The extra tensors saved with `save_checkpoint(extra_tensors=...)`, without the prefix."""
    _, tensors = _open(path, with_tensors=True)
    return {name[len(EXTRA_PREFIX):]: t for name, t in tensors.items() if name.startswith(EXTRA_PREFIX)}


def load_description(path: str | os.PathLike) -> NetworkDescription:
    """The network description (sast_theory.description) of a checkpoint's network, as `describe` gives it."""
    net, _ = load_checkpoint(path)
    return describe(net)


def _open(path: str | os.PathLike, *, with_tensors: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: checkpoint file not found")
    try:
        with safe_open(str(file), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()} if with_tensors else {}
    except Exception as err:  # safetensors raises its own error types for any malformed file
        raise InputError(f"{file}: not a SAST checkpoint (not a valid safetensors file: "
                         f"{type(err).__name__})") from None
    if "sast" not in meta:
        raise InputError(f"{file}: not a SAST checkpoint (safetensors file without a 'sast' header)")
    try:
        header = json.loads(meta["sast"])
    except json.JSONDecodeError:
        raise InputError(f"{file}: corrupt SAST header (not JSON)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InputError(f"{file}: not a SAST checkpoint (header format is not {FORMAT!r})")
    if header.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{file}: unknown checkpoint schema version {header.get('schema_version')!r}; "
                         f"this toolkit reads version {SCHEMA_VERSION}")
    check_header(header, file)
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise InputError(f"{file}: tensor {name} contains NaN or inf")
    return header, tensors


def check_header(header: dict[str, Any], file: Path) -> None:
    """The header's fields against their types: architecture (NetworkSpec's typed fields), the
    hyperparameters (training.config.CONFIGURATION), provenance an object; one InputError line naming the field."""
    for key, kind in (("package_version", str), ("architecture", dict), ("hyperparameters", dict),
                      ("provenance", dict)):
        if key not in header:
            raise InputError(f"{file}: corrupt SAST header (no {key!r} field)")
        if not isinstance(header[key], kind):
            raise InputError(f"{file}: corrupt SAST header ({key} is a {type(header[key]).__name__}, expected "
                             f"{'a string' if kind is str else 'an object'})")
    try:
        NetworkSpec.from_dict(header["architecture"])
    except InputError as err:
        raise InputError(f"{file}: invalid architecture in header: {err}") from None
    for key, value in header["hyperparameters"].items():
        if key in CONFIGURATION:
            try:
                CONFIGURATION[key].check(value)
            except FlagValueError as err:
                raise InputError(f"{file}: corrupt SAST header (hyperparameters.{key} = {value!r}: {err})") \
                    from None
