"""Event-level corruptions: composable, seeded transforms on EVENT_DTYPE arrays (the robustness axis).

Each transform maps (events, sensor_size (H, W), rng) -> events, sorted by t (stable: events with equal t keep
their order), inside the sensor and, in time, inside the recording's span [t_first, t_last]. Severity 0 returns
the events unchanged. Severities and their units:

- EventDrop(probability):      each event is removed independently with this probability;
- BackgroundNoise(rate_hz):    uniform random events, Poisson with mean rate_hz per pixel per second of the
                               recording's span, at uniform pixels, times and polarities;
- TimestampJitter(sigma_us):   t += N(0, sigma_us^2), rounded, clipped to the span, re-sorted;
- HotPixels(count, rate_hz):   `count` distinct random pixels that each fire Poisson events at rate_hz (one
                               random polarity per pixel) over the span;
- PolarityFlip(probability):   each event's polarity is flipped independently with this probability.

`Compose` applies several in order; `corrupt(transform, events, sensor_size, seed)` seeds one application;
`corrupted_frames` frames samples of a dataset after a transform (seeded per sample), never cached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from sast_core.errors import InputError

from .events import make_events
from .framing import FrameSpec, frame_events


class Transform(Protocol):
    def __call__(self, events: np.ndarray, sensor_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        ...


def _check(name: str, value: float, low: float, high: float = math.inf) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise InputError(f"{name} {value}: expected a finite value in [{low:g}, {high:g}]")


def _span_us(events: np.ndarray) -> tuple[int, int]:
    return (int(events["t"][0]), int(events["t"][-1])) if len(events) else (0, 0)


def _merge(events: np.ndarray, added: np.ndarray) -> np.ndarray:
    """The two arrays as one, sorted by t, the original events first among equal times."""
    merged = np.concatenate([events, added])
    return merged[np.argsort(merged["t"], kind="stable")]


def _random_events(pixels: np.ndarray, times: np.ndarray, polarities: np.ndarray, width: int) -> np.ndarray:
    y, x = np.divmod(pixels, width)
    return make_events(x, y, times, polarities)


@dataclass(frozen=True)
class EventDrop:
    probability: float

    def __post_init__(self) -> None:
        _check("drop probability", self.probability, 0.0, 1.0)

    def __call__(self, events: np.ndarray, sensor_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        if self.probability == 0:
            return events
        return events[rng.random(len(events)) >= self.probability]


@dataclass(frozen=True)
class BackgroundNoise:
    rate_hz: float

    def __post_init__(self) -> None:
        _check("noise rate (Hz per pixel)", self.rate_hz, 0.0)

    def __call__(self, events: np.ndarray, sensor_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        if self.rate_hz == 0 or not len(events):
            return events
        t0, t1 = _span_us(events)
        pixels = sensor_size[0] * sensor_size[1]
        count = int(rng.poisson(self.rate_hz * pixels * (t1 - t0) * 1e-6))
        added = _random_events(rng.integers(0, pixels, count), rng.integers(t0, t1 + 1, count),
                               rng.integers(0, 2, count), sensor_size[1])
        return _merge(events, added)


@dataclass(frozen=True)
class TimestampJitter:
    sigma_us: float

    def __post_init__(self) -> None:
        _check("timestamp jitter (us)", self.sigma_us, 0.0)

    def __call__(self, events: np.ndarray, sensor_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        if self.sigma_us == 0 or not len(events):
            return events
        t0, t1 = _span_us(events)
        jittered = events.copy()
        shifted = np.rint(events["t"] + rng.normal(0.0, self.sigma_us, len(events)))
        jittered["t"] = np.clip(shifted, t0, t1).astype(np.int64)
        return jittered[np.argsort(jittered["t"], kind="stable")]


@dataclass(frozen=True)
class HotPixels:
    count: int
    rate_hz: float = 500.0

    def __post_init__(self) -> None:
        _check("hot pixel count", self.count, 0)
        _check("hot pixel rate (Hz)", self.rate_hz, 0.0)
        if self.count != int(self.count):
            raise InputError(f"hot pixel count {self.count}: expected an integer")

    def __call__(self, events: np.ndarray, sensor_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        if self.count == 0 or self.rate_hz == 0 or not len(events):
            return events
        t0, t1 = _span_us(events)
        pixels = sensor_size[0] * sensor_size[1]
        hot = rng.choice(pixels, size=min(int(self.count), pixels), replace=False)
        per_pixel = rng.poisson(self.rate_hz * (t1 - t0) * 1e-6, size=len(hot))
        polarity = rng.integers(0, 2, len(hot))
        total = int(per_pixel.sum())
        added = _random_events(np.repeat(hot, per_pixel), rng.integers(t0, t1 + 1, total),
                               np.repeat(polarity, per_pixel), sensor_size[1])
        return _merge(events, added)


@dataclass(frozen=True)
class PolarityFlip:
    probability: float

    def __post_init__(self) -> None:
        _check("polarity flip probability", self.probability, 0.0, 1.0)

    def __call__(self, events: np.ndarray, sensor_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        if self.probability == 0:
            return events
        flipped = events.copy()
        flip = rng.random(len(events)) < self.probability
        flipped["p"][flip] = 1 - flipped["p"][flip]
        return flipped


@dataclass(frozen=True)
class Compose:
    transforms: tuple[Transform, ...]

    def __call__(self, events: np.ndarray, sensor_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        for transform in self.transforms:
            events = transform(events, sensor_size, rng)
        return events


# name -> (transform class, taking one severity value; axis label with the severity's unit)
CORRUPTIONS: dict[str, tuple[type, str]] = {
    "drop": (EventDrop, "event drop probability"),
    "noise": (BackgroundNoise, "background noise (events / pixel / s)"),
    "jitter": (TimestampJitter, "timestamp jitter sd (us)"),
    "hot_pixels": (HotPixels, "hot pixels (count, 500 Hz each)"),
    "polarity": (PolarityFlip, "polarity flip probability"),
}


def make_corruption(name: str, severity: float) -> Transform:
    """The transform `name` (a key of CORRUPTIONS) at one severity, in the unit of its axis label."""
    if name not in CORRUPTIONS:
        raise InputError(f"corruption {name!r}: expected one of {', '.join(CORRUPTIONS)}")
    kind = CORRUPTIONS[name][0]
    return kind(int(severity)) if kind is HotPixels else kind(float(severity))


def corrupt(transform: Transform, events: np.ndarray, sensor_size: tuple[int, int], seed: int | Sequence[int]
            ) -> np.ndarray:
    """One seeded application: the same (transform, events, seed) always gives the same events."""
    return transform(events, sensor_size, np.random.default_rng(seed))


def corrupted_frames(dataset, indices: Sequence[int], transform: Transform, spec: FrameSpec,
                     seed: int = 0) -> torch.Tensor:
    """Frames (N, T, 2, H', W') of dataset[indices] after `transform`, sample i seeded by [seed, i].

    `dataset` is an event dataset of `sast_models.data.loading` (item -> (events, label), `sensor_size`,
    `time_origin`); the framing is `frame_events` with `spec`, so clean frames equal the loader's.
    """
    frames = torch.empty((len(indices), *spec.frame_shape(dataset.sensor_size)), dtype=torch.float32)
    for row, index in enumerate(indices):
        events, _ = dataset[int(index)]
        events = corrupt(transform, events, dataset.sensor_size, [seed, int(index)])
        frames[row] = frame_events(events, spec, dataset.sensor_size, dataset.time_origin(int(index)))
    return frames
