"""A DVS-style event-camera model, vectorised over all pixels of a batch of recordings.

Input is the log intensity log(I + eps) of every pixel at every step. Per pixel: a reference level, set
by the first frame. At each step, when the log intensity has moved by n >= 1 contrast thresholds from the
reference, n events of that sign are due (ON = increase), time-stamped by linear interpolation inside the
step, and the reference moves by n thresholds. Events closer than the refractory period to the pixel's
previous event are dropped (the reference still moves). Thresholds carry per-pixel mismatch (ON and OFF
separately). Background noise: uniform random events at a per-recording rate, plus a few "hot" pixels
firing at a high rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .events import make_events


@dataclass(frozen=True)
class CameraParams:
    threshold: float = 0.4                # mean log-intensity contrast threshold
    threshold_mismatch: float = 0.05      # std of per-pixel thresholds
    min_threshold: float = 0.05
    refractory_us: float = 800.0
    log_eps: float = 0.08                 # log(I + eps): dark pixels are less sensitive
    noise_rate_hz: tuple[float, float] = (0.05, 0.6)   # per pixel, drawn per recording
    hot_pixels: int = 2                    # at most this many per recording
    hot_rate_hz: tuple[float, float] = (30.0, 150.0)


def log_intensity(intensity: np.ndarray, params: CameraParams) -> np.ndarray:
    """log(I + eps) as float32: the quantity the pixels compare against their reference."""
    return np.log(np.asarray(intensity, dtype=np.float32) + np.float32(params.log_eps))


def simulate(log_frame_at: Callable[[int], np.ndarray], times_us: np.ndarray, params: CameraParams,
             rng: np.random.Generator) -> list[np.ndarray]:
    """Events of B recordings: log_frame_at(s) is the (B, H, W) log intensity (float32) at times_us[s].

    Returns one EVENT_DTYPE array per recording, sorted by t (ties keep generation order).
    """
    first = np.asarray(log_frame_at(0), dtype=np.float32)
    batch, height, width = first.shape
    ref = first.reshape(-1).copy()
    shape = ref.shape
    thr_on, thr_off = (np.maximum(rng.normal(params.threshold, params.threshold_mismatch, shape),
                                  params.min_threshold).astype(np.float32) for _ in range(2))
    thr_min = min(thr_on.min(), thr_off.min())
    last = np.full(shape, -np.inf)
    pieces = []
    for step in range(1, len(times_us)):
        delta = np.asarray(log_frame_at(step), dtype=np.float32).reshape(-1) - ref
        pix = np.flatnonzero(np.abs(delta) >= thr_min)
        d = delta[pix]
        thr = np.where(d > 0, thr_on[pix], thr_off[pix])
        n_all = np.floor(np.abs(d) / thr).astype(np.int64)
        crossing = n_all > 0
        if not crossing.any():
            continue
        pix, d, thr, n_pix = pix[crossing], d[crossing], thr[crossing], n_all[crossing]
        sign = np.sign(d)
        ref[pix] += sign * n_pix * thr
        t_prev, dt = float(times_us[step - 1]), float(times_us[step] - times_us[step - 1])
        spacing = dt * thr.astype(np.float64) / np.abs(d)          # time between successive crossings
        k0 = np.maximum(1, np.ceil((last[pix] + params.refractory_us - t_prev) / spacing)).astype(np.int64)
        every = np.maximum(1, np.ceil(params.refractory_us / spacing)).astype(np.int64)
        count = np.where(k0 <= n_pix, (n_pix - k0) // every + 1, 0)
        emitted = count > 0
        pix, k0, every, count, sign, spacing = (a[emitted] for a in (pix, k0, every, count, sign, spacing))
        last[pix] = t_prev + (k0 + every * (count - 1)) * spacing
        rep = np.repeat(np.arange(len(pix)), count)
        j = np.arange(rep.size) - np.repeat(np.cumsum(count) - count, count)
        t = np.floor(t_prev + (k0[rep] + every[rep] * j) * spacing[rep]).astype(np.int64)
        pieces.append((pix[rep], t, (sign[rep] > 0).astype(np.uint8)))
    pieces.append(noise(batch * height * width, batch, int(times_us[0]), int(times_us[-1]), params, rng))
    flat = np.concatenate([p[0] for p in pieces])
    t = np.concatenate([p[1] for p in pieces])
    p = np.concatenate([p[2] for p in pieces])
    sample, rest = np.divmod(flat, height * width)
    y, x = np.divmod(rest, width)
    order = np.lexsort((t, sample))
    events = make_events(x[order], y[order], t[order], p[order])
    bounds = np.searchsorted(sample[order], np.arange(batch + 1))
    return [events[bounds[b]:bounds[b + 1]] for b in range(batch)]


def noise(n_pixels: int, batch: int, t0: int, t1: int, params: CameraParams,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background and hot-pixel events: (flat pixel index over the batch, t, p)."""
    per_sample = n_pixels // batch
    seconds = (t1 - t0) * 1e-6
    rates = rng.uniform(*params.noise_rate_hz, size=batch) * per_sample * seconds
    counts = rng.poisson(rates)
    flat = np.repeat(np.arange(batch) * per_sample, counts) + rng.integers(0, per_sample, counts.sum())
    n_hot = rng.integers(0, params.hot_pixels + 1, size=batch)
    hot_pix = np.repeat(np.arange(batch) * per_sample, n_hot) + rng.integers(0, per_sample, n_hot.sum())
    hot_counts = rng.poisson(rng.uniform(*params.hot_rate_hz, size=hot_pix.size) * seconds)
    flat = np.concatenate([flat, np.repeat(hot_pix, hot_counts)])
    t = rng.integers(t0, t1, size=flat.size)
    p = rng.integers(0, 2, size=flat.size).astype(np.uint8)
    return flat, t, p
