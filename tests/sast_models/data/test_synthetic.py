"""The embedded synthetic dataset: determinism, validity through the real reader, the image converter,
and load_frames on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sast_core.errors import InputError
from sast_models.data import synthetic
from sast_models.data.event_camera import CameraParams, simulate
from sast_models.data.glyphs import STYLES, render_digit
from sast_models.data.loading import load_frames
from sast_models.data.nmnist import NMNISTDataset
from sast_models.data.synthetic import ensure_synthetic, generate_synthetic, images_to_events


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    return generate_synthetic(tmp_path_factory.mktemp("syn") / "a", n_train=30, n_test=10, seed=3)


def tree_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(small_set, tmp_path):
    again = generate_synthetic(tmp_path / "b", n_train=30, n_test=10, seed=3)
    other = generate_synthetic(tmp_path / "c", n_train=30, n_test=10, seed=4)
    files = tree_bytes(small_set)
    assert len(files) == 42 and files == tree_bytes(again)
    other_files = tree_bytes(other)
    assert sum(files[k] != other_files.get(k) for k in files if k.endswith(".bin")) >= 38


def test_files_pass_the_reader_and_the_manifest(small_set):
    for split, count in (("train", 30), ("test", 10)):
        dataset = NMNISTDataset(small_set, split, verify=True)
        assert len(dataset) == count
        assert sorted(np.bincount(dataset.labels, minlength=10).tolist())[0] >= count // 10
        for i in range(len(dataset)):
            events, _ = dataset[i]
            assert 800 < len(events) < 15_000
            assert 0.35 < events["p"].mean() < 0.65
            assert 280_000 < events["t"][-1] < 340_000
            thirds = np.histogram(events["t"], bins=[0, 105_000, 210_000, 340_000])[0] / len(events)
            assert thirds.min() > 0.15
    with pytest.raises(InputError, match="already exists"):
        generate_synthetic(small_set, n_train=1, n_test=1)


def test_event_model_counts_interpolates_and_respects_refractory():
    quiet = dict(threshold=0.2, threshold_mismatch=0.0, noise_rate_hz=(0.0, 0.0), hot_pixels=0)
    levels = np.array([0.0, 0.5, 0.5, -0.1]).reshape(4, 1, 1, 1)    # one pixel, log intensity per step
    times = np.array([0, 1000, 2000, 3000])
    for refractory, expected in ((0.0, [(400, 1), (800, 1), (2400, 0), (2800, 0)]),
                                 (500.0, [(400, 1), (2400, 0)])):
        params = CameraParams(refractory_us=refractory, **quiet)
        (events,) = simulate(lambda s: levels[s], times, params, np.random.default_rng(0))
        assert [(int(e["t"]), int(e["p"])) for e in events] == expected


def test_every_glyph_style_renders_ink_in_range():
    rng = np.random.default_rng(0)
    for digit in STYLES:
        for _ in range(3 * len(STYLES[digit])):
            image = render_digit(digit, rng)
            assert image.shape == (28, 28) and 0 <= image.min() and image.max() <= 1
            assert (image > 0.2).sum() > 15 and image.max() > 0.25


def test_distractor_strokes_are_added_to_about_a_third_of_the_images():
    labels = np.arange(200) % 10
    with_distractors = synthetic.render_digits(labels, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    plain = np.stack([render_digit(int(d), rng) for d in labels])
    changed = np.flatnonzero(np.abs(with_distractors - plain).max(axis=(1, 2)) > 0.1)
    assert 40 <= len(changed) <= 80
    assert np.all(with_distractors[changed].sum(axis=(1, 2)) > plain[changed].sum(axis=(1, 2)))


def test_converter_accepts_any_grayscale_images():
    images = np.zeros((3, 50, 40))
    images[0, 10:40, 18:22] = 1.0                           # a bar, resized to fit 28x28
    images[2, 5:45, 5:35] = 0.7
    recordings = images_to_events(images, seed=1)
    again = images_to_events(images, seed=1)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(recordings, again, strict=True))
    bar, blank, block = (len(r) for r in recordings)
    assert blank < 1500 < bar and blank < block           # a blank image gives only noise events
    with pytest.raises(InputError):
        images_to_events(np.full((1, 28, 28), 2.0))
    with pytest.raises(InputError):
        images_to_events(np.zeros((28, 28)))


def test_load_frames_synthetic_and_errors(tmp_path, monkeypatch):
    monkeypatch.setitem(synthetic.PRESETS, "synthetic", (20, 10))
    monkeypatch.setenv("SAST_CACHE", str(tmp_path / "cache"))
    frames, labels, info = load_frames("synthetic", time_bins=6, split="test", downsample=2)
    assert frames.shape == (10, 6, 2, 17, 17) and frames.dtype == torch.float32
    assert labels.dtype == torch.long and labels.shape == (10,)
    assert info["frame_shape"] == [6, 2, 17, 17] and info["n_classes"] == 10
    root = ensure_synthetic("synthetic")
    assert root.parent == tmp_path / "cache" / "synthetic"
    direct = NMNISTDataset(root, "test")
    assert frames[3].sum().item() == len(direct[3][0]) and labels.tolist() == direct.labels.tolist()
    again, _, _ = load_frames(f"nmnist:{root}", time_bins=6, split="test", downsample=2, cache=False)
    assert torch.equal(again, frames)
    for spec, needle in (("mnist:/x", "unknown data spec"), ("nmnist:", "unknown data spec"),
                         (f"nmnist:{tmp_path / 'missing'}", "not found"), ("synthetic-huge", "unknown")):
        with pytest.raises(InputError, match=needle):
            load_frames(spec, time_bins=4)
