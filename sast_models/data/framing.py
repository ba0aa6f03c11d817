"""Events -> frames: T half-open time bins x 2 polarity channels x H x W, as a float32 torch tensor.

Window: `duration_us=None` uses the sample's own span [first t, last t + 1); otherwise
[origin, origin + duration_us) with `origin` given by the dataset (0 for N-MNIST, the labelled start for
DVS Gesture). Event e goes to bin floor((t - t0) * T / (t1 - t0)); events outside the window are dropped.
Channel 0 = OFF, 1 = ON. `downsample=k` sums k x k pixel blocks (H and W must be multiples of k);
mode "binary" clips the (downsampled) counts to 1. Batches are time-major: (T, B, C, H, W).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from sast_core.errors import InputError

FRAME_MODES = ("count", "binary")


@dataclass(frozen=True)
class FrameSpec:
    """Every parameter that changes a framed tensor (all of them enter the cache key)."""

    time_bins: int
    duration_us: int | None = None
    mode: str = "count"
    downsample: int = 1

    def __post_init__(self) -> None:
        if self.time_bins < 1:
            raise InputError(f"time_bins must be >= 1, got {self.time_bins}")
        if self.duration_us is not None and self.duration_us < 1:
            raise InputError(f"duration_us must be >= 1 or None, got {self.duration_us}")
        if self.mode not in FRAME_MODES:
            raise InputError(f"frame mode must be one of {FRAME_MODES}, got {self.mode!r}")
        if self.downsample < 1:
            raise InputError(f"downsample must be >= 1, got {self.downsample}")

    def frame_shape(self, sensor_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(T, 2, H // k, W // k); the sensor size must be a multiple of the downsampling factor k."""
        height, width = sensor_size
        if height % self.downsample or width % self.downsample:
            raise InputError(f"downsample {self.downsample} does not divide the sensor size {height}x{width}")
        return self.time_bins, 2, height // self.downsample, width // self.downsample

    def as_dict(self) -> dict:
        return asdict(self)


def frame_events(events: np.ndarray, spec: FrameSpec, sensor_size: tuple[int, int],
                 origin: int = 0) -> torch.Tensor:
    """Bin EVENT_DTYPE events into a float32 tensor of shape spec.frame_shape(sensor_size)."""
    shape = spec.frame_shape(sensor_size)
    t = events["t"].astype(np.int64)
    if spec.duration_us is None:
        t0, t1 = (int(t.min()), int(t.max()) + 1) if len(t) else (0, 1)
    else:
        t0, t1 = origin, origin + spec.duration_us
    inside = (t >= t0) & (t < t1)
    x, y, p = (events[f][inside].astype(np.int64) for f in "xyp")
    if len(x) and (x.min() < 0 or y.min() < 0 or x.max() >= sensor_size[1] or y.max() >= sensor_size[0]
                   or p.max() > 1):
        raise InputError(f"events outside the {sensor_size[0]}x{sensor_size[1]} sensor or polarity not 0/1")
    k = spec.downsample
    bins = (t[inside] - t0) * spec.time_bins // (t1 - t0)
    flat = np.ravel_multi_index((bins, p, y // k, x // k), shape)
    counts = np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape)
    if spec.mode == "binary":
        counts = np.minimum(counts, 1)
    return torch.from_numpy(counts.astype(np.float32))


def collate_time_major(batch: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """[(frames (T, C, H, W), label), ...] -> (frames (T, B, C, H, W), labels LongTensor (B,))."""
    frames = torch.stack([f for f, _ in batch], dim=1)
    return frames, torch.tensor([int(label) for _, label in batch], dtype=torch.long)
