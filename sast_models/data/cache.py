"""Disk cache of framed tensors, keyed by every framing parameter and the source's sha256, verified on read.

Location: `cache_dir` if given, else `$SAST_CACHE/frames`, else `~/.cache/sast/frames`. Entries are
safetensors files written atomically, holding the tensor "frames" and, in the metadata, the sha256 of its
bytes. A read is trusted only if the entry is a file with exactly that tensor, dtype float32, the expected
shape, values that framing can produce (binary: 0 or 1; counts: finite nonnegative integers) and a matching
checksum; anything else (unreadable, a folder, edited values, NaN, a broadcastable shape) is recomputed and
rewritten, and `failures` records it (the loader reports them in one line). A cache that cannot be written
(full or read-only disk) is used read-only from then on (`unwritable` says why).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as save_tensors

from sast_core.atomic import WriteError, atomic_write_bytes

CACHE_VERSION = 2  # 2: entries carry the tensor's sha256 (version-1 entries are not read)
FORMAT = "sast.frames"


def cache_root() -> Path:
    """`$SAST_CACHE` if set, else `~/.cache/sast`."""
    env = os.environ.get("SAST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "sast"


def tensor_sha256(frames: torch.Tensor) -> str:
    return hashlib.sha256(frames.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def verify_frames(frames: torch.Tensor, shape: tuple[int, ...], binary: bool) -> str | None:
    """Why `frames` is not a framed tensor of `shape` (None if it is one)."""
    if frames.dtype != torch.float32:
        return f"dtype {frames.dtype}, expected torch.float32"
    if tuple(frames.shape) != tuple(shape):
        return f"shape {tuple(frames.shape)}, expected {tuple(shape)}"
    if binary and not bool(((frames == 0) | (frames == 1)).all()):
        return "values other than 0 and 1 in binary frames"
    if not binary and not bool((torch.isfinite(frames) & (frames >= 0) & (frames == frames.round())).all()):
        return "values that are not finite nonnegative integer counts"
    return None


class FrameCache:
    """get_or_compute(params, source_sha256, compute, shape=..., binary=...) -> tensor, stored under a digest
    of params and source."""

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        self.folder = Path(cache_dir) if cache_dir else cache_root() / "frames"
        self.failures: list[str] = []  # "entry: reason" for every entry that failed verification
        self.unwritable: str | None = None

    def key(self, params: dict, source_sha256: str) -> str:
        blob = json.dumps({"v": CACHE_VERSION, "params": params, "source": source_sha256}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.safetensors"

    def get_or_compute(self, params: dict, source_sha256: str, compute: Callable[[], torch.Tensor], *,
                       shape: tuple[int, ...], binary: bool) -> torch.Tensor:
        path = self.path(self.key(params, source_sha256))
        frames, reason = self._read(path, shape, binary)
        if frames is not None:
            return frames
        if reason is not None:
            self.failures.append(f"{path}: {reason}")
        frames = compute()
        self._write(path, frames)
        return frames

    def _read(self, path: Path, shape: tuple[int, ...], binary: bool) -> tuple[torch.Tensor | None, str | None]:
        """(the verified tensor, None), or (None, why it failed), or (None, None) for a miss."""
        if not os.path.lexists(path):
            return None, None
        if not path.is_file():
            return None, "not a file"
        try:
            with safe_open(str(path), framework="pt") as handle:
                names, meta = list(handle.keys()), handle.metadata() or {}
                frames = handle.get_tensor("frames") if names == ["frames"] else None
        except Exception as err:  # safetensors raises its own error types for any malformed file
            return None, f"unreadable ({type(err).__name__})"
        if frames is None or meta.get("format") != FORMAT:
            return None, "not a frame-cache entry"
        reason = verify_frames(frames, shape, binary)
        if reason is None and tensor_sha256(frames) != meta.get("sha256"):
            reason = "checksum mismatch (the stored values were changed)"
        return (None, reason) if reason else (frames, None)

    def _write(self, path: Path, frames: torch.Tensor) -> None:
        if self.unwritable is not None:
            return
        frames = frames.contiguous()
        data = save_tensors({"frames": frames}, metadata={"format": FORMAT, "sha256": tensor_sha256(frames)})
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            atomic_write_bytes(path, data)
        except (WriteError, OSError) as err:
            self.unwritable = str(err)
