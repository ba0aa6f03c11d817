"""Event corruptions: counts, value ranges, order, determinism per seed, severity 0 = identity, composition,
and framing of corrupted samples (clean = the loader's frames)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_core.errors import InputError
from sast_models.data.corruptions import (
    CORRUPTIONS,
    BackgroundNoise,
    Compose,
    EventDrop,
    HotPixels,
    PolarityFlip,
    TimestampJitter,
    corrupt,
    corrupted_frames,
    make_corruption,
)
from sast_models.data.events import make_events
from sast_models.data.framing import FrameSpec, frame_events
from sast_models.data.loading import load_frames, open_events
from sast_models.data.synthetic import generate_synthetic

SENSOR = (34, 34)


@st.composite
def recordings(draw, max_events: int = 400):
    """Sorted events inside a sensor of up to 34 x 34 pixels, and that sensor size."""
    height, width = draw(st.integers(1, 34)), draw(st.integers(1, 34))
    n = draw(st.integers(0, max_events))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, draw(st.integers(1, 400_000)), n))
    events = make_events(rng.integers(0, width, n), rng.integers(0, height, n), t, rng.integers(0, 2, n))
    return events, (height, width)


severities = {
    "drop": st.floats(0, 1),
    "noise": st.floats(0, 50),
    "jitter": st.floats(0, 50_000),
    "hot_pixels": st.integers(0, 40),
    "polarity": st.floats(0, 1),
}
any_corruption = st.sampled_from(sorted(CORRUPTIONS)).flatmap(
    lambda name: st.tuples(st.just(name), severities[name]))


def assert_valid(out: np.ndarray, original: np.ndarray, sensor: tuple[int, int]) -> None:
    assert out.dtype == original.dtype
    if len(out):
        assert np.all(np.diff(out["t"]) >= 0)
        assert out["x"].min() >= 0 and out["x"].max() < sensor[1]
        assert out["y"].min() >= 0 and out["y"].max() < sensor[0]
        assert set(np.unique(out["p"]).tolist()) <= {0, 1}
        assert original["t"][0] <= out["t"].min() and out["t"].max() <= original["t"][-1]


@settings(max_examples=60, deadline=None)
@given(recordings(), any_corruption, st.integers(0, 2**31))
def test_every_corruption_keeps_events_valid_and_is_deterministic_per_seed(recording, corruption, seed):
    events, sensor = recording
    transform = make_corruption(*corruption)
    out = corrupt(transform, events, sensor, seed)
    assert_valid(out, events, sensor)
    again = corrupt(transform, events, sensor, seed)
    assert np.array_equal(out, again)


@settings(max_examples=40, deadline=None)
@given(recordings(), st.sampled_from(sorted(CORRUPTIONS)), st.integers(0, 2**31))
def test_severity_zero_is_the_identity(recording, name, seed):
    events, sensor = recording
    assert np.array_equal(corrupt(make_corruption(name, 0), events, sensor, seed), events)


def is_subsequence(part: np.ndarray, whole: np.ndarray) -> bool:
    remaining = iter(whole.tolist())
    return all(any(event == other for other in remaining) for event in part.tolist())


@settings(max_examples=40, deadline=None)
@given(recordings(), st.floats(0, 1), st.integers(0, 2**31))
def test_drop_keeps_a_subsequence_and_flip_changes_only_polarities(recording, p, seed):
    events, sensor = recording
    kept = corrupt(EventDrop(p), events, sensor, seed)
    assert len(kept) <= len(events) and is_subsequence(kept, events)
    flipped = corrupt(PolarityFlip(p), events, sensor, seed)
    for field in "xyt":
        assert np.array_equal(flipped[field], events[field])
    assert corrupt(EventDrop(1.0), events, sensor, seed).size == 0
    assert np.array_equal(corrupt(PolarityFlip(1.0), events, sensor, seed)["p"], 1 - events["p"])


@settings(max_examples=40, deadline=None)
@given(recordings(), st.floats(0.5, 30), st.integers(1, 20), st.integers(0, 2**31))
def test_noise_and_hot_pixels_only_add_events(recording, rate, hot, seed):
    events, sensor = recording
    for transform in (BackgroundNoise(rate), HotPixels(hot)):
        out = corrupt(transform, events, sensor, seed)
        assert len(out) >= len(events) and is_subsequence(events, out)
    out = corrupt(HotPixels(hot), events, sensor, seed)
    added = {(x, y) for x, y in zip(out["x"], out["y"], strict=True)} - \
        {(x, y) for x, y in zip(events["x"], events["y"], strict=True)}
    assert len(added) <= hot


def test_noise_and_hot_pixel_counts_follow_their_rates():
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(0, 300_000, 4000))
    events = make_events(rng.integers(0, 34, 4000), rng.integers(0, 34, 4000), t, rng.integers(0, 2, 4000))
    span = (t[-1] - t[0]) * 1e-6
    added = [len(corrupt(BackgroundNoise(10.0), events, SENSOR, s)) - 4000 for s in range(20)]
    expected = 10.0 * 34 * 34 * span
    assert abs(np.mean(added) - expected) < 4 * np.sqrt(expected / 20)
    hot = corrupt(HotPixels(5, rate_hz=1000.0), events, SENSOR, 1)
    extra = len(hot) - 4000
    assert abs(extra - 5 * 1000 * span) < 6 * np.sqrt(5 * 1000 * span)


def test_jitter_moves_timestamps_by_about_sigma_and_compose_applies_in_order():
    rng = np.random.default_rng(1)
    pixels = rng.permutation(34 * 34)[:1000]  # one event per pixel: pairs before/after by pixel
    t = np.sort(rng.integers(100_000, 200_000, 1000))
    events = make_events(pixels % 34, pixels // 34, t, rng.integers(0, 2, 1000))
    jittered = corrupt(TimestampJitter(1000.0), events, SENSOR, 3)
    before = dict(zip(pixels.tolist(), t.tolist(), strict=True))
    shifts = np.array([tj - before[int(y) * 34 + int(x)]
                       for x, y, tj in zip(jittered["x"], jittered["y"], jittered["t"], strict=True)])
    assert len(jittered) == 1000 and abs(shifts.mean()) < 150 and 900 < shifts.std() < 1100
    both = Compose((EventDrop(0.5), PolarityFlip(1.0)))
    out = both(events, SENSOR, np.random.default_rng(7))
    rng_again = np.random.default_rng(7)
    step = EventDrop(0.5)(events, SENSOR, rng_again)
    assert np.array_equal(out, PolarityFlip(1.0)(step, SENSOR, rng_again))


def test_bad_severities_are_refused_with_one_line():
    for bad in (lambda: EventDrop(1.5), lambda: BackgroundNoise(-1), lambda: TimestampJitter(float("nan")),
                lambda: HotPixels(-2), lambda: PolarityFlip(float("inf")), lambda: make_corruption("blur", 1)):
        with pytest.raises(InputError):
            bad()


def test_corrupted_frames_of_severity_zero_equal_the_loaders_frames(tmp_path):
    root = generate_synthetic(tmp_path / "set", n_train=10, n_test=2, seed=2)
    spec = FrameSpec(time_bins=5, mode="binary")
    frames, _, _ = load_frames(f"nmnist:{root}", time_bins=5, mode="binary", cache=False)
    dataset = open_events(f"nmnist:{root}")
    clean = corrupted_frames(dataset, range(10), EventDrop(0.0), spec)
    assert torch.equal(clean, frames)
    dropped = corrupted_frames(dataset, [3, 4], EventDrop(0.9), spec, seed=5)
    assert dropped.sum() < frames[3:5].sum()
    assert torch.equal(dropped, corrupted_frames(dataset, [3, 4], EventDrop(0.9), spec, seed=5))
    events, _ = dataset[3]
    single = frame_events(corrupt(EventDrop(0.9), events, dataset.sensor_size, [5, 3]), spec, dataset.sensor_size)
    assert torch.equal(dropped[0], single)
