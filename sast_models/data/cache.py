"""Disk cache of framed tensors, keyed by every framing parameter and the source's sha256.

Location: `cache_dir` if given, else `$SAST_CACHE/frames`, else `~/.cache/sast/frames`. Entries are
safetensors files written atomically; an unreadable entry counts as a miss and is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from sast_core.atomic import atomic_write_bytes

CACHE_VERSION = 1


def cache_root() -> Path:
    """`$SAST_CACHE` if set, else `~/.cache/sast`."""
    env = os.environ.get("SAST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "sast"


class FrameCache:
    """get_or_compute(params, source_sha256, compute) -> tensor, stored under a digest of both."""

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        self.folder = Path(cache_dir) if cache_dir else cache_root() / "frames"

    def key(self, params: dict, source_sha256: str) -> str:
        blob = json.dumps({"v": CACHE_VERSION, "params": params, "source": source_sha256}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.safetensors"

    def get_or_compute(self, params: dict, source_sha256: str,
                       compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        path = self.path(self.key(params, source_sha256))
        try:
            return load_tensors(path.read_bytes())["frames"]
        except (OSError, SafetensorError, KeyError, ValueError):
            frames = compute()
            atomic_write_bytes(path, save_tensors({"frames": frames.contiguous()}))
            return frames
