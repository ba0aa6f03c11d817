"""The embedded default dataset: images -> N-MNIST-style events, written in the real `.bin` layout.

`images_to_events` turns any grayscale images (N, H, W) in [0, 1] into 34x34 event recordings: each image
(resized to fit 28x28 if larger) is centred on a 34x34 canvas over a dark background and moved along three
~100 ms saccades tracing a triangle (as the N-MNIST camera did), sampled every millisecond, and the event
camera model (event_camera.py) turns the motion into events. `generate_synthetic` renders jittered digit
glyphs (glyphs.py), adds distractor strokes, converts them and writes `<root>/Train|Test/<d>/<NNNNN>.bin`
plus `manifest.csv` (as the real data's) and `params.json`. Everything is seeded: same seed, same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from scipy.ndimage import zoom
from tqdm import tqdm

from sast_core.errors import InputError
from sast_core.runs import sha256_file

from .cache import cache_root
from .event_camera import CameraParams, log_intensity, simulate
from .glyphs import IMAGE_SIZE, rasterize, render_digit
from .nmnist import SENSOR_SIZE, SPLITS, encode_nmnist

GENERATOR_VERSION = 1
CANVAS = SENSOR_SIZE[0]
MARGIN = (CANVAS - IMAGE_SIZE) // 2
PAD = 8                                   # zero padding around the canvas for the moving image
STEP_US = 1000
TRIANGLE = np.array([[0.0, -4.67], [3.5, 2.33], [-3.5, 2.33]])   # saccade vertices (dx, dy) in pixels
PRESETS = {"synthetic": (600, 200), "synthetic-large": (6000, 1000)}
MANIFEST_HEADER = "path,label,n_events,first_ts_us,last_ts_us,n_on_events,sha256"


def saccade_path(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Step times (us) and (dx, dy) offsets: a short rest, then three saccades of 98-106 ms along TRIANGLE."""
    lead = int(rng.integers(1, 4))
    durations = rng.integers(98, 107, size=3)
    offsets = [np.repeat(TRIANGLE[:1], lead + 1, axis=0)]
    for i, ms in enumerate(durations):
        u = np.arange(1, ms + 1) / ms
        ease = (1 - np.cos(np.pi * u)) / 2
        start, end = TRIANGLE[i], TRIANGLE[(i + 1) % 3]
        offsets.append(start + ease[:, None] * (end - start))
    offsets.append(np.repeat(TRIANGLE[:1], 4, axis=0))
    path = np.concatenate(offsets)
    return np.arange(len(path), dtype=np.int64) * STEP_US, path


def place(images: np.ndarray) -> np.ndarray:
    """(N, H, W) images -> (N, 34, 34) canvases, each image fitted into the central 28x28 box."""
    n, height, width = images.shape
    if max(height, width) > IMAGE_SIZE:
        factor = IMAGE_SIZE / max(height, width)
        images = np.clip(zoom(images, (1, factor, factor), order=1), 0.0, 1.0)
        n, height, width = images.shape
    canvas = np.zeros((n, CANVAS, CANVAS))
    top, left = (CANVAS - height) // 2, (CANVAS - width) // 2
    canvas[:, top:top + height, left:left + width] = images
    return canvas


def shifted(padded: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Bilinear shift of padded canvases (B, 34 + 2 PAD, 34 + 2 PAD) by (dx, dy), cropped to 34x34."""
    ix, iy = int(np.floor(dx)), int(np.floor(dy))
    fx, fy = np.float32(dx - ix), np.float32(dy - iy)
    cols = padded[:, :, PAD - ix - 1:PAD - ix + CANVAS]
    rows = cols[:, PAD - iy:PAD - iy + CANVAS]
    rows = rows + fy * (cols[:, PAD - iy - 1:PAD - iy - 1 + CANVAS] - rows)
    return rows[:, :, 1:] + fx * (rows[:, :, :-1] - rows[:, :, 1:])


def images_to_events(images: np.ndarray, *, seed: int = 0, camera: CameraParams | None = None,
                     batch_size: int = 100, progress: bool = False) -> list[np.ndarray]:
    """Convert grayscale images (N, H, W) in [0, 1] into N-MNIST-style 34x34 event recordings.

    Recordings of one batch share a saccade path (as all N-MNIST recordings share the camera motion); the
    output is fixed by (images, seed, camera, batch_size).
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or not images.size or not np.isfinite(images).all() or images.min() < 0 \
            or images.max() > 1:
        raise InputError(f"images must be a finite (N, H, W) array in [0, 1], got shape {images.shape}")
    camera = camera or CameraParams()
    rng = np.random.default_rng(seed)
    recordings = []
    for start in tqdm(range(0, len(images), batch_size), desc="events", disable=not progress):
        canvas = place(images[start:start + batch_size])
        background = rng.uniform(0.0, 0.12, size=(len(canvas), 1, 1))
        padded = np.pad(canvas, ((0, 0), (PAD, PAD), (PAD, PAD)))
        padded = log_intensity(background + (1 - background) * padded, camera)
        times, path = saccade_path(rng)
        recordings += simulate(lambda s, p=padded, d=path: shifted(p, *d[s]), times, camera, rng)
    return recordings


def render_digits(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Jittered glyph images (N, 28, 28) for the labels, with a faint distractor stroke in some."""
    images = np.stack([render_digit(int(d), rng) for d in labels])
    for i in np.flatnonzero(rng.random(len(images)) < 0.3):
        ends = rng.uniform(0, IMAGE_SIZE - 1, size=(1, 2, 2))
        ends[0, 1] = ends[0, 0] + rng.uniform(-6, 6, size=2)
        images[i] += rasterize(ends, rng.uniform(0.8, 2.0)) * rng.uniform(0.2, 0.5)
    return np.clip(images, 0.0, 1.0)


def write_split(root: Path, split: str, recordings: list[np.ndarray], labels: np.ndarray) -> list[str]:
    """Write recordings as `<root>/<Split>/<label>/<NNNNN>.bin` (1-based index) -> manifest rows."""
    rows = []
    for index, (events, label) in enumerate(zip(recordings, labels, strict=True), start=1):
        relative = f"{SPLITS[split]}/{int(label)}/{index:05d}.bin"
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_nmnist(events))
        t = events["t"]
        rows.append(f"{relative},{int(label)},{len(events)},{int(t[0]) if len(t) else 0},"
                    f"{int(t[-1]) if len(t) else 0},{int(events['p'].sum())},{sha256_file(path)}")
    return rows


def generate_synthetic(root: str | Path, *, n_train: int, n_test: int, seed: int = 0,
                       progress: bool = False) -> Path:
    """Generate a synthetic N-MNIST-format dataset into `root` (which must not exist); returns root.

    Files are built in a staging folder beside `root` and renamed into place in one step.
    """
    root = Path(root)
    if root.exists():
        raise InputError(f"{root}: already exists; generate_synthetic writes a new folder")
    if n_train < 0 or n_test < 0:
        raise InputError(f"sample counts must be >= 0, got n_train={n_train}, n_test={n_test}")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    staging.chmod(0o755)
    try:
        rows = [MANIFEST_HEADER]
        for split_id, (split, count) in enumerate((("train", n_train), ("test", n_test))):
            rng = np.random.default_rng([seed, split_id])
            labels = rng.permutation(np.arange(count) % 10)
            recordings = images_to_events(render_digits(labels, rng), seed=seed * 2 + split_id + 1,
                                          progress=progress)
            rows += write_split(staging, split, recordings, labels)
        (staging / "manifest.csv").write_text("\n".join(rows) + "\n")
        params = {"generator_version": GENERATOR_VERSION, "seed": seed, "n_train": n_train, "n_test": n_test}
        (staging / "params.json").write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
        os.replace(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def ensure_synthetic(name: str = "synthetic", *, seed: int = 0, cache_dir: str | Path | None = None,
                     progress: bool = False) -> Path:
    """The preset `name` ('synthetic': 600 + 200, 'synthetic-large': 6000 + 1000), generated on first use.

    Lands in `<cache_dir or $SAST_CACHE or ~/.cache/sast>/synthetic/<name>-v<version>-seed<seed>/`.
    """
    if name not in PRESETS:
        raise InputError(f"unknown synthetic preset {name!r}; expected one of {sorted(PRESETS)}")
    base = Path(cache_dir) if cache_dir else cache_root()
    root = base / "synthetic" / f"{name}-v{GENERATOR_VERSION}-seed{seed}"
    if not (root / "params.json").is_file():
        n_train, n_test = PRESETS[name]
        try:
            generate_synthetic(root, n_train=n_train, n_test=n_test, seed=seed, progress=progress)
        except (InputError, OSError):
            if not (root / "params.json").is_file():   # another process may have won the race
                raise
    return root
