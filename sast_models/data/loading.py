"""From a data spec string to framed tensors: the entry point of the training command.

Specs: `synthetic` / `synthetic-large` (the embedded default, generated on first use into the cache),
`nmnist:PATH` (a root with Train/ and/or Test/, or one split folder), `dvsgesture:PATH` (the DvsGesture
folder with trials_to_{train,test}.txt). Framed samples are cached on disk (cache.py) unless cache=False.

`open_frames` lists the samples and reads nothing, so a command can check the memory the framed set needs
(`FramedDataset.nbytes`) before `FramedDataset.load` allocates it; `load_frames` does both. A sample without
events in its framing window is refused (it would silently become blank frames).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from sast_core.errors import InputError
from sast_core.memory import check_memory

from .cache import FrameCache, cache_root
from .framing import FrameSpec, frame_events
from .gesture import CLASSES, DVSGestureDataset
from .nmnist import SPLITS, NMNISTDataset
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
    def sample_name(self, index: int) -> str: ...


class FramedDataset(torch.utils.data.Dataset):
    """Item i -> (frames float32 (T, 2, H, W), label); batch with framing.collate_time_major."""

    def __init__(self, events: EventDataset, spec: FrameSpec, cache: FrameCache | None = None, *,
                 name: str = "", split: str = "") -> None:
        self.events, self.spec, self.cache, self.name, self.split = events, spec, cache, name, split
        self.frame_shape = spec.frame_shape(events.sensor_size)
        self.params = {**spec.as_dict(), "sensor_size": list(events.sensor_size),
                       "dataset": type(events).__name__}

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        label = int(self.events.labels[index])
        if self.cache is None:
            return self._frame(index), label
        return self.cache.get_or_compute(self.params, self.events.source_id(index), lambda: self._frame(index),
                                         shape=self.frame_shape, binary=self.spec.mode == "binary"), label

    def _frame(self, index: int) -> torch.Tensor:
        events, _ = self.events[index]
        frames = frame_events(events, self.spec, self.events.sensor_size, self.events.time_origin(index))
        if not bool(frames.any()):
            where = "in its framing window" if len(events) else "at all"
            raise InputError(f"{self.events.sample_name(index)}: the recording has no events {where}; it would be "
                             f"framed as blank frames (remove it, or change --duration-us)")
        return frames

    @property
    def class_names(self) -> list[str]:
        return list(CLASSES) if isinstance(self.events, DVSGestureDataset) else [str(d) for d in range(10)]

    @property
    def nbytes(self) -> int:
        """Bytes of all framed samples as float32 (what `load` allocates)."""
        return len(self) * math.prod(self.frame_shape) * 4

    def memory_part(self) -> dict[str, float]:
        """This set's entry of a memory estimate (sast_core.memory.check_memory)."""
        shape = " x ".join(map(str, (len(self), *self.frame_shape)))
        return {f"framed data ({shape} float32)": self.nbytes}

    def load(self, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Every sample framed: (frames (N, T, 2, H, W), labels int64 (N,), info); see `load_frames`."""
        frames = torch.empty((len(self), *self.frame_shape), dtype=torch.float32)
        for i in tqdm(range(len(self)), desc=f"framing {self.name} {self.split}", disable=not progress):
            frames[i] = self[i][0]
        if self.cache is not None:
            report_cache(self.cache)
        info = {"spec": self.name, "split": self.split, "n_samples": len(self),
                "sensor_size": list(self.events.sensor_size), "frame_shape": list(self.frame_shape),
                "frame": self.spec.as_dict(), "n_classes": len(self.class_names), "class_names": self.class_names,
                "cache_dir": str(self.cache.folder.parent) if self.cache is not None else None}
        return frames, torch.from_numpy(np.asarray(self.events.labels, dtype=np.int64)), info


def report_cache(cache: FrameCache) -> None:
    """One stderr line for the entries that failed verification, one if the cache could not be written."""
    if cache.failures:
        count = len(cache.failures)
        print(f"warning: frame cache {cache.folder}: {count} {'entry' if count == 1 else 'entries'} failed "
              f"verification and {'was' if count == 1 else 'were'} recomputed (first: {cache.failures[0]})",
              file=sys.stderr)
        cache.failures.clear()
    if cache.unwritable is not None:
        print(f"warning: frame cache {cache.folder} not written, continuing without it: {cache.unwritable}",
              file=sys.stderr)


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


def has_split(spec: str, split: str) -> bool:
    """Whether the dataset named by `spec` has its own `split` (`test`: N-MNIST's Test/ folder, DVS Gesture's
    trials_to_test.txt; the synthetic presets have both). A folder of digit folders is one split only."""
    kind, _, path = spec.partition(":")
    if kind in PRESETS and not path:
        return True
    root = Path(path).expanduser()
    if kind == "nmnist":
        return (root / SPLITS[split]).is_dir() if split in SPLITS else False
    if kind == "dvsgesture":
        return (root / f"trials_to_{split}.txt").is_file()
    raise InputError(f"unknown data spec {spec!r}; expected {SPEC_HELP}")


def open_frames(spec: str, *, time_bins: int, split: str = "train", duration_us: int | None = None,
                mode: str = "count", downsample: int = 1, verify: bool = False, merge_arm_roll: bool = False,
                cache: bool = True, cache_dir: str | Path | None = None, progress: bool = False) -> FramedDataset:
    """The framed view of a split (see `load_frames`), listed but not yet read."""
    frame_spec = FrameSpec(time_bins, duration_us, mode, downsample)
    events = open_events(spec, split=split, verify=verify, merge_arm_roll=merge_arm_roll, cache_dir=cache_dir,
                         progress=progress)
    root = Path(cache_dir) if cache_dir else cache_root()
    return FramedDataset(events, frame_spec, FrameCache(root / "frames") if cache else None, name=spec, split=split)


def load_frames(spec: str, *, time_bins: int, split: str = "train", duration_us: int | None = None,
                mode: str = "count", downsample: int = 1, verify: bool = False, merge_arm_roll: bool = False,
                cache: bool = True, cache_dir: str | Path | None = None, progress: bool = False,
                max_memory: int | None = None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """All samples of a split, framed: (frames float32 (N, T, 2, H, W), labels int64 (N,), info dict).

    cache_dir is the SAST cache root (default $SAST_CACHE or ~/.cache/sast): synthetic data lands in
    <root>/synthetic/, framed tensors in <root>/frames/ (cache=False: frame every time, write nothing there).
    The framed set must fit `max_memory` (sast_core.memory; default a share of physical memory).
    info keys: spec, split, n_samples, sensor_size [H, W], frame_shape [T, 2, H', W'], frame (the FrameSpec
    fields), n_classes, class_names, cache_dir.
    """
    dataset = open_frames(spec, time_bins=time_bins, split=split, duration_us=duration_us, mode=mode,
                          downsample=downsample, verify=verify, merge_arm_roll=merge_arm_roll, cache=cache,
                          cache_dir=cache_dir, progress=progress)
    check_memory(dataset.memory_part(), max_memory, "lower --time-bins or raise --downsample")
    return dataset.load(progress)
