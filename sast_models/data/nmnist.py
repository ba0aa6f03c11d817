"""N-MNIST `.bin` files: 5-byte big-endian records (x, y, p|t[22:16], t[15:8], t[7:0]), t in microseconds.

`decode_nmnist` / `encode_nmnist` are exact inverses on valid data. Checks on read: size a multiple of 5,
x and y < 34, timestamps non-decreasing; each failure is an EventFileError naming the file and the byte
offset. There is no overflow rule (tonic's y == 240 marker is deliberately not reproduced: y >= 34 is an
error). Layout: `<root>/Train|Test/<digit>/<NNNNN>.bin`, label = digit folder name.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sast_core.atomic import atomic_write_bytes
from sast_core.errors import InputError

from .events import EventFileError, LabelFileError, make_events, read_bytes

SENSOR_SIZE = (34, 34)  # (H, W)
RECORD_BYTES = 5
MAX_T_US = (1 << 23) - 1
SPLITS = {"train": "Train", "test": "Test"}


def decode_nmnist(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of one `.bin` file into EVENT_DTYPE events (vectorised)."""
    n, rest = divmod(len(data), RECORD_BYTES)
    if rest:
        raise EventFileError(f"{source}: size {len(data)} bytes is not a multiple of 5: "
                             f"truncated record at byte offset {n * 5}")
    raw = np.frombuffer(data, dtype=np.uint8).reshape(n, RECORD_BYTES)
    outside = np.flatnonzero((raw[:, 0] >= SENSOR_SIZE[1]) | (raw[:, 1] >= SENSOR_SIZE[0]))
    if outside.size:
        i = int(outside[0])
        raise EventFileError(
            f"{source}: record {i} at byte offset {i * 5} has x={raw[i, 0]}, y={raw[i, 1]} "
            f"outside the 34x34 sensor"
        )
    wide = raw.astype(np.int64)
    t = ((wide[:, 2] & 0x7F) << 16) | (wide[:, 3] << 8) | wide[:, 4]
    decreasing = np.flatnonzero(np.diff(t) < 0)
    if decreasing.size:
        i = int(decreasing[0]) + 1
        raise EventFileError(
            f"{source}: record {i} at byte offset {i * 5} has timestamp {t[i]} us, "
            f"earlier than the previous record's {t[i - 1]} us"
        )
    return make_events(raw[:, 0], raw[:, 1], t, raw[:, 2] >> 7)


def read_nmnist(path: str | Path) -> np.ndarray:
    """Read one N-MNIST `.bin` file into EVENT_DTYPE events."""
    return decode_nmnist(read_bytes(path), str(path))


def encode_nmnist(events: np.ndarray) -> bytes:
    """Encode EVENT_DTYPE events as `.bin` bytes; events the reader would reject raise InputError."""
    if events.dtype.names is None or not {"x", "y", "t", "p"} <= set(events.dtype.names):
        raise InputError(f"cannot encode N-MNIST: events need fields x, y, t, p, got dtype {events.dtype}")
    x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
    t, p = events["t"].astype(np.int64), events["p"].astype(np.int64)
    if len(t) and (x.min() < 0 or y.min() < 0 or x.max() >= SENSOR_SIZE[1] or y.max() >= SENSOR_SIZE[0]):
        raise InputError("cannot encode N-MNIST: x and y must lie in 0..33")
    if len(t) and (t.min() < 0 or t.max() > MAX_T_US or np.any(np.diff(t) < 0)):
        raise InputError(f"cannot encode N-MNIST: t must be non-decreasing in 0..{MAX_T_US} us")
    if len(t) and not np.isin(p, (0, 1)).all():
        raise InputError("cannot encode N-MNIST: p must be 0 or 1")
    raw = np.empty((len(t), RECORD_BYTES), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = x, y
    raw[:, 2] = (p << 7) | (t >> 16)
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return raw.tobytes()


def write_nmnist(path: str | Path, events: np.ndarray) -> Path:
    """Write events as an N-MNIST `.bin` file, atomically."""
    return atomic_write_bytes(path, encode_nmnist(events))


@dataclass(frozen=True)
class ManifestRow:
    label: int | None      # empty in the CSV when unknown
    n_events: int
    sha256: str


def read_manifest(path: str | Path) -> dict[str, ManifestRow]:
    """Read a manifest.csv (path,label,n_events,...,sha256) into {relative posix path: row}."""
    text = read_bytes(path).decode("utf-8", errors="replace")
    reader = csv.DictReader(text.splitlines())
    needed = {"path", "label", "n_events", "sha256"}
    if reader.fieldnames is None or not needed <= set(reader.fieldnames):
        raise LabelFileError(f"{path}: row 1: header must contain {sorted(needed)}, got {reader.fieldnames}")
    rows = {}
    for number, row in enumerate(reader, start=2):
        try:
            label = int(row["label"]) if row["label"] else None
            rows[row["path"]] = ManifestRow(label, int(row["n_events"]), row["sha256"].lower())
        except (AttributeError, TypeError, ValueError) as err:
            raise LabelFileError(f"{path}: row {number}: cannot parse {row}") from err
    return rows


def resolve_split_dir(root: str | Path, split: str) -> Path:
    """`root` itself when it holds digit folders, else `root/Train` or `root/Test` for split train/test."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: N-MNIST folder not found")
    if any((root / str(d)).is_dir() for d in range(10)):
        return root
    if split not in SPLITS:
        raise InputError(f"unknown N-MNIST split {split!r}; expected one of {sorted(SPLITS)}")
    folder = root / SPLITS[split]
    if not folder.is_dir():
        present = [name for name in SPLITS.values() if (root / name).is_dir()]
        hint = (f" (it holds only {present[0]}/; to evaluate on the held-out part of a training run, use "
                f"--split train --subset val)" if present == ["Train"] else "")
        raise InputError(f"{root}: no {SPLITS[split]}/ folder and no digit folders 0..9{hint}")
    return folder


class NMNISTDataset:
    """The `.bin` files under `<root>/Train|Test/<digit>/` (or a split folder); any subset of files works.

    Item i -> (events, label). With `verify=True` every file read is checked against the manifest
    (`manifest.csv` in the split folder or its parent unless given): sha256, label and event count.
    """

    sensor_size = SENSOR_SIZE

    def __init__(self, root: str | Path, split: str = "train", *, verify: bool = False,
                 manifest: str | Path | None = None) -> None:
        self.folder = resolve_split_dir(root, split)
        self.paths = [p for d in range(10) for p in sorted((self.folder / str(d)).glob("*.bin"))]
        if not self.paths:
            raise InputError(f"{self.folder}: no .bin files under the digit folders 0..9")
        self.labels = np.array([int(p.parent.name) for p in self.paths], dtype=np.int64)
        self.manifest_root: Path | None = None
        self.manifest: dict[str, ManifestRow] | None = None
        if verify:
            self._load_manifest(manifest)

    def _load_manifest(self, manifest: str | Path | None) -> None:
        candidates = [Path(manifest)] if manifest else [self.folder / "manifest.csv",
                                                       self.folder.parent / "manifest.csv"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise InputError(f"{self.folder}: verify=True but no manifest found at {candidates[0]}")
        self.manifest_root, self.manifest = found.parent, read_manifest(found)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        path = self.paths[index]
        data = read_bytes(path)
        events = decode_nmnist(data, str(path))
        if self.manifest is not None:
            self._check(path, data, len(events), int(self.labels[index]))
        return events, int(self.labels[index])

    def _check(self, path: Path, data: bytes, n_events: int, label: int) -> None:
        key = path.relative_to(self.manifest_root).as_posix() if path.is_relative_to(self.manifest_root) else ""
        row = self.manifest.get(key)
        if row is None:
            raise EventFileError(f"{path}: not listed in the manifest of {self.manifest_root}")
        digest = hashlib.sha256(data).hexdigest()
        if digest != row.sha256:
            raise EventFileError(f"{path}: sha256 {digest} does not match the manifest's {row.sha256}")
        if (row.label if row.label is not None else label, row.n_events) != (label, n_events):
            raise EventFileError(f"{path}: label/event count {label}/{n_events} differ from the manifest's "
                                 f"{row.label}/{row.n_events}")

    def source_id(self, index: int) -> str:
        """sha256 of the sample's file: the cache key of anything derived from it."""
        return hashlib.sha256(read_bytes(self.paths[index])).hexdigest()

    def time_origin(self, index: int) -> int:
        """Start of a fixed framing window: recordings start at t = 0."""
        return 0

    def sample_name(self, index: int) -> str:
        return str(self.paths[index])
