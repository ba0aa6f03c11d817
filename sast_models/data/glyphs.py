"""Digit glyphs 0-9 from built-in vector strokes, rendered with random affine jitter into 28x28 images.

Each digit has several stroke styles; a style is a list of polylines in a unit box (x right, y down).
`render_digit` jitters the control points, applies a random affine map (rotation, scale, shear,
translation), rasterises the strokes with a random width (anti-aliased distance to the segments), scales
the ink and adds pixel noise. Output: float64 image in [0, 1], shape (28, 28), ink bright on black.
"""

from __future__ import annotations

import numpy as np

IMAGE_SIZE = 28
Polyline = np.ndarray  # (n, 2) points, unit box


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 14) -> Polyline:
    """Elliptic arc from angle a0 to a1 (degrees, clockwise on screen because y points down)."""
    a = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], axis=1)


def line(*points: tuple[float, float]) -> Polyline:
    return np.asarray(points, dtype=np.float64)


def join(*parts: Polyline) -> Polyline:
    """One continuous polyline through several pieces."""
    return np.concatenate(parts, axis=0)


STYLES: dict[int, list[list[Polyline]]] = {
    0: [[arc(0.5, 0.5, 0.30, 0.45, 0, 360, 28)],
        [arc(0.5, 0.5, 0.38, 0.44, -90, 270, 28)],
        [arc(0.5, 0.5, 0.24, 0.46, -80, 290, 28), line((0.68, 0.2), (0.32, 0.8))]],
    1: [[line((0.5, 0.03), (0.5, 0.97))],
        [line((0.3, 0.22), (0.55, 0.03), (0.55, 0.97))],
        [line((0.32, 0.2), (0.52, 0.03), (0.52, 0.97)), line((0.3, 0.97), (0.75, 0.97))]],
    2: [[join(arc(0.5, 0.3, 0.3, 0.25, 190, 380), line((0.75, 0.42), (0.2, 0.95), (0.85, 0.95)))],
        [join(arc(0.48, 0.28, 0.3, 0.24, 200, 400), arc(0.42, 0.8, 0.28, 0.16, -40, 170),
              line((0.15, 0.85), (0.85, 0.95)))],
        [join(line((0.2, 0.15), (0.5, 0.04), (0.8, 0.2), (0.72, 0.45)), line((0.2, 0.95), (0.85, 0.92)))]],
    3: [[arc(0.5, 0.28, 0.28, 0.22, 200, 450), arc(0.5, 0.72, 0.32, 0.25, -90, 160)],
        [line((0.2, 0.05), (0.8, 0.05), (0.45, 0.4)), arc(0.48, 0.7, 0.32, 0.27, -110, 160)],
        [join(arc(0.48, 0.27, 0.27, 0.22, 190, 440), arc(0.48, 0.72, 0.3, 0.24, -90, 170))]],
    4: [[line((0.68, 0.97), (0.68, 0.03), (0.12, 0.66), (0.88, 0.66))],
        [line((0.25, 0.03), (0.2, 0.55), (0.88, 0.55)), line((0.66, 0.18), (0.66, 0.97))],
        [line((0.35, 0.03), (0.15, 0.6), (0.85, 0.6)), line((0.62, 0.3), (0.58, 0.97))]],
    5: [[join(line((0.8, 0.05), (0.3, 0.05), (0.26, 0.45)), arc(0.5, 0.68, 0.32, 0.28, -130, 150))],
        [line((0.3, 0.05), (0.8, 0.05)), join(line((0.3, 0.05), (0.24, 0.48)),
                                               arc(0.48, 0.7, 0.3, 0.26, -140, 140))],
        [join(line((0.75, 0.03), (0.32, 0.06), (0.28, 0.42)), arc(0.46, 0.66, 0.34, 0.3, -120, 120),
              line((0.2, 0.88)))]],
    6: [[join(arc(0.6, 0.55, 0.35, 0.5, -80, -180, 10), arc(0.5, 0.7, 0.27, 0.25, 180, 540, 24))],
        [join(line((0.72, 0.03), (0.26, 0.62)), arc(0.5, 0.72, 0.26, 0.24, 200, 560, 24))],
        [join(arc(0.65, 0.6, 0.4, 0.55, -95, -170, 10), arc(0.48, 0.68, 0.3, 0.28, 190, 540, 24))]],
    7: [[line((0.18, 0.05), (0.82, 0.05), (0.4, 0.97))],
        [line((0.18, 0.05), (0.82, 0.05), (0.42, 0.97)), line((0.35, 0.5), (0.78, 0.5))],
        [line((0.18, 0.18), (0.2, 0.05), (0.82, 0.05), (0.55, 0.5), (0.48, 0.97))]],
    8: [[arc(0.5, 0.27, 0.22, 0.22, 0, 360, 24), arc(0.5, 0.72, 0.28, 0.25, -90, 270, 24)],
        [arc(0.5, 0.26, 0.26, 0.22, 90, 450, 24), arc(0.5, 0.73, 0.31, 0.24, -90, 270, 24)],
        [join(arc(0.5, 0.28, 0.24, 0.24, 90, 360, 18), arc(0.5, 0.72, 0.26, 0.24, -90, 270, 24),
              arc(0.5, 0.28, 0.24, 0.24, 0, 90, 6))]],
    9: [[arc(0.5, 0.3, 0.28, 0.24, 0, 360, 24), line((0.78, 0.3), (0.72, 0.97))],
        [arc(0.48, 0.3, 0.27, 0.25, 0, 360, 24), arc(0.35, 0.3, 0.42, 0.65, 0, 100, 10)],
        [arc(0.5, 0.28, 0.3, 0.22, 0, 360, 24), line((0.8, 0.28), (0.5, 0.97))]],
}


def segments(strokes: list[Polyline]) -> np.ndarray:
    """All consecutive point pairs of all polylines: (S, 2, 2)."""
    return np.concatenate([np.stack([p[:-1], p[1:]], axis=1) for p in strokes], axis=0)


def rasterize(segs: np.ndarray, width: float, size: int = IMAGE_SIZE) -> np.ndarray:
    """Anti-aliased coverage of segments (pixel coordinates, pixel centres at integers) of a given width."""
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="xy"), axis=-1).reshape(-1, 1, 2)
    a, b = segs[None, :, 0], segs[None, :, 1]
    ab = b - a
    along = np.clip(np.sum((grid - a) * ab, -1) / np.maximum(np.sum(ab * ab, -1), 1e-12), 0.0, 1.0)
    dist = np.linalg.norm(grid - (a + along[..., None] * ab), axis=-1).min(axis=1)
    return np.clip(width / 2 - dist + 0.5, 0.0, 1.0).reshape(size, size)


def random_affine(rng: np.random.Generator) -> np.ndarray:
    """2x3 map from the unit box to 28x28 pixel coordinates: rotation, anisotropic scale, shear, shift."""
    angle = np.radians(rng.uniform(-12, 12))
    scale = rng.uniform(0.8, 1.05) * np.array([rng.uniform(0.85, 1.1), 1.0])
    shear = rng.uniform(-0.25, 0.25)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    linear = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(scale * 20.0)
    centre = (IMAGE_SIZE - 1) / 2 + rng.uniform(-1.5, 1.5, size=2)
    return np.concatenate([linear, (centre - linear @ np.array([0.5, 0.5]))[:, None]], axis=1)


def render_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """A random rendering of `digit`: a (28, 28) float64 image in [0, 1]."""
    style = STYLES[digit][rng.integers(len(STYLES[digit]))]
    strokes = [p + rng.normal(0.0, 0.025, size=p.shape) for p in style]
    affine = random_affine(rng)
    segs = segments(strokes) @ affine[:, :2].T + affine[:, 2]
    image = rasterize(segs, width=rng.uniform(1.2, 3.4)) * rng.uniform(0.55, 1.0)
    return np.clip(image + rng.normal(0.0, rng.uniform(0.0, 0.05), size=image.shape), 0.0, 1.0)
