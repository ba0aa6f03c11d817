"""From a data spec string to framed tensors: the entry point of the training command.

Specs: `synthetic` / `synthetic-large` (the embedded default, generated on first use into the cache),
`nmnist:PATH` (a root with Train/ and/or Test/, or one split folder), `dvsgesture:PATH` (the DvsGesture
folder with trials_to_{train,test}.txt). Framed samples are cached on disk (cache.py) unless cache=False.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from sast_core.errors import InputError

from .cache import FrameCache, cache_root
from .framing import FrameSpec, frame_events
from .gesture import CLASSES, DVSGestureDataset
from .nmnist import NMNISTDataset
from .synthetic import PRESETS, ensure_synthetic

SPEC_HELP = "synthetic, synthetic-large, nmnist:PATH or dvsgesture:PATH"


class EventDataset(Protocol):
    """What framing needs from a dataset of event recordings."""

    sensor_size: tuple[int, int]
    labels: np.ndarray

    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> tuple[np.ndarray, int]: ...
    def source_id(self, index: int) -> str: ...
    def time_origin(self, index: int) -> int: ...


class FramedDataset(torch.utils.data.Dataset):
    """Item i -> (frames float32 (T, 2, H, W), label); batch with framing.collate_time_major."""

    def __init__(self, events: EventDataset, spec: FrameSpec, cache: FrameCache | None = None) -> None:
        self.events, self.spec, self.cache = events, spec, cache
        self.frame_shape = spec.frame_shape(events.sensor_size)
        self.params = {**spec.as_dict(), "sensor_size": list(events.sensor_size),
                       "dataset": type(events).__name__}

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        label = int(self.events.labels[index])
        if self.cache is None:
            return self._frame(index), label
        return self.cache.get_or_compute(self.params, self.events.source_id(index),
                                         lambda: self._frame(index)), label

    def _frame(self, index: int) -> torch.Tensor:
        events, _ = self.events[index]
        return frame_events(events, self.spec, self.events.sensor_size, self.events.time_origin(index))


def open_events(spec: str, *, split: str = "train", verify: bool = False, merge_arm_roll: bool = False,
                cache_dir: str | Path | None = None, progress: bool = False) -> EventDataset:
    """The event dataset named by a spec string (see the module docstring)."""
    kind, _, path = spec.partition(":")
    if kind in PRESETS and not path:
        return NMNISTDataset(ensure_synthetic(kind, cache_dir=cache_dir, progress=progress), split, verify=verify)
    if kind == "nmnist" and path:
        return NMNISTDataset(Path(path).expanduser(), split, verify=verify)
    if kind == "dvsgesture" and path:
        return DVSGestureDataset(Path(path).expanduser(), split, merge_arm_roll=merge_arm_roll)
    raise InputError(f"unknown data spec {spec!r}; expected {SPEC_HELP}")


def load_frames(spec: str, *, time_bins: int, split: str = "train", duration_us: int | None = None,
                mode: str = "count", downsample: int = 1, verify: bool = False, merge_arm_roll: bool = False,
                cache: bool = True, cache_dir: str | Path | None = None,
                progress: bool = False) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """All samples of a split, framed: (frames float32 (N, T, 2, H, W), labels int64 (N,), info dict).

    cache_dir is the SAST cache root (default $SAST_CACHE or ~/.cache/sast): synthetic data lands in
    <root>/synthetic/, framed tensors in <root>/frames/ (cache=False: frame every time, write nothing there).
    info keys: spec, split, n_samples, sensor_size [H, W], frame_shape [T, 2, H', W'], frame (the FrameSpec
    fields), n_classes, class_names, cache_dir.
    """
    frame_spec = FrameSpec(time_bins, duration_us, mode, downsample)
    events = open_events(spec, split=split, verify=verify, merge_arm_roll=merge_arm_roll, cache_dir=cache_dir,
                         progress=progress)
    root = Path(cache_dir) if cache_dir else cache_root()
    dataset = FramedDataset(events, frame_spec, FrameCache(root / "frames") if cache else None)
    frames = torch.empty((len(dataset), *dataset.frame_shape), dtype=torch.float32)
    for i in tqdm(range(len(dataset)), desc=f"framing {spec} {split}", disable=not progress):
        frames[i] = dataset[i][0]
    is_gesture = isinstance(events, DVSGestureDataset)
    info = {"spec": spec, "split": split, "n_samples": len(dataset), "sensor_size": list(events.sensor_size),
            "frame_shape": list(dataset.frame_shape), "frame": frame_spec.as_dict(),
            "n_classes": len(CLASSES) if is_gesture else 10,
            "class_names": list(CLASSES) if is_gesture else [str(d) for d in range(10)],
            "cache_dir": str(root) if cache else None}
    return frames, torch.from_numpy(np.asarray(events.labels, dtype=np.int64)), info
