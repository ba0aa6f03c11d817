"""DVS Gesture: label CSVs, the official split lists and a dataset of labelled segments.

A `<trial>_labels.csv` has the header exactly `class,startTime_usec,endTime_usec` (LF or CR LF) and rows of
integers: class 1..11, window [start, end) in absolute device microseconds (the clock of the `.aedat`).
target = class - 1. One sample per CSV row (class 8 "arm roll" appears twice per trial: 1,464 samples over
the official split); `merge_arm_roll=True` joins repeated rows of class 8 into one sample (1,342 style).
Overlapping or repeated rows are tolerated. A window outside the recording is a LabelFileError naming the
CSV row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sast_core.errors import InputError
from sast_core.runs import sha256_file

from .aedat import SENSOR_SIZE, read_aedat
from .events import LabelFileError, read_bytes

LABEL_HEADER = "class,startTime_usec,endTime_usec"
ARM_ROLL = 8
CLASSES = ("hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_clockwise",
           "right_arm_counter_clockwise", "left_arm_clockwise", "left_arm_counter_clockwise", "arm_roll",
           "air_drums", "air_guitar", "other_gestures")


@dataclass(frozen=True)
class LabelRow:
    """One CSV row: `row` is its 1-based line number (the header is line 1)."""

    row: int
    cls: int
    start: int
    end: int

    @property
    def target(self) -> int:
        return self.cls - 1


def read_text_lines(path: str | Path) -> list[str]:
    """A text file's lines without line endings (LF or CR LF); undecodable bytes are a LabelFileError."""
    try:
        return read_bytes(path).decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise LabelFileError(f"{path}: byte offset {err.start}: not UTF-8 text") from err


def read_labels(path: str | Path) -> list[LabelRow]:
    """Parse a DVS Gesture label CSV (see the module docstring)."""
    lines = read_text_lines(path)
    if not lines or lines[0].strip() != LABEL_HEADER:
        got = lines[0][:60] if lines else "an empty file"
        raise LabelFileError(f"{path}: row 1: header must be exactly {LABEL_HEADER!r}, got {got!r}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split(",")
        try:
            cls, start, end = (int(f) for f in fields)
        except ValueError as err:
            raise LabelFileError(f"{path}: row {number}: expected three integers, got {line[:60]!r}") from err
        if not 1 <= cls <= len(CLASSES) or not 0 <= start < end:
            raise LabelFileError(f"{path}: row {number}: need class in 1..11 and 0 <= start < end, "
                                 f"got {cls},{start},{end}")
        rows.append(LabelRow(number, cls, start, end))
    if not rows:
        raise LabelFileError(f"{path}: row 2: no labelled segments")
    return rows


def read_split(path: str | Path) -> list[str]:
    """The trial file names (`userNN_<lighting>.aedat`) listed in trials_to_train/test.txt: relative paths that
    stay inside the dataset folder (no absolute path, no '..'), each listed once."""
    names = []
    for number, line in enumerate(read_text_lines(path), start=1):
        name = line.strip()
        if name and not name.endswith(".aedat"):
            raise LabelFileError(f"{path}: row {number}: expected a .aedat file name, got {name[:60]!r}")
        if name and (Path(name).is_absolute() or ".." in Path(name).parts):
            raise LabelFileError(f"{path}: row {number}: {name[:60]!r} leaves the dataset folder; expected a file "
                                 f"name relative to it")
        if name in names:
            raise LabelFileError(f"{path}: row {number}: {name[:60]!r} is listed twice")
        if name:
            names.append(name)
    return names


def check_windows(rows: list[LabelRow], events: np.ndarray, label_path: str | Path) -> None:
    """Every window [start, end) must lie inside the recording [first t, last t]."""
    if not len(events):
        raise LabelFileError(f"{label_path}: row {rows[0].row}: the recording has no events")
    first, last = int(events["t"][0]), int(events["t"][-1])
    for r in rows:
        if r.start < first or r.end > last + 1:
            raise LabelFileError(f"{label_path}: row {r.row}: window [{r.start}, {r.end}) us lies outside "
                                 f"the recording [{first}, {last}] us")


def cut(events: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    """Events (sorted by t) inside the union of half-open windows [start, end), in time order."""
    merged: list[list[int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    t = events["t"]
    return np.concatenate([events[np.searchsorted(t, s):np.searchsorted(t, e)] for s, e in merged])


@dataclass(frozen=True)
class Segment:
    """One sample: a trial file and the label rows whose windows it joins."""

    aedat: Path
    labels: Path
    rows: tuple[LabelRow, ...]

    @property
    def target(self) -> int:
        return self.rows[0].target


class DVSGestureDataset:
    """Labelled segments of the trials listed in `<root>/trials_to_<split>.txt`; item i -> (events, target).

    Events keep their absolute device timestamps. The last decoded trial is kept, so iterating in order
    decodes each `.aedat` once; file digests are memoised. Plain attributes only: picklable for workers.
    """

    sensor_size = SENSOR_SIZE

    def __init__(self, root: str | Path, split: str = "train", *, merge_arm_roll: bool = False,
                 split_file: str | Path | None = None) -> None:
        self.root = Path(root)
        if split not in ("train", "test"):
            raise InputError(f"unknown DVS Gesture split {split!r}; expected 'train' or 'test'")
        if not self.root.is_dir():
            raise InputError(f"{self.root}: DVS Gesture folder not found")
        listing = Path(split_file) if split_file else self.root / f"trials_to_{split}.txt"
        self.segments: list[Segment] = []
        for name in read_split(listing):
            aedat = self.root / name
            labels = aedat.with_name(aedat.stem + "_labels.csv")
            if not aedat.is_file() or not labels.is_file():
                raise InputError(f"{listing}: trial {name} needs {aedat.name} and {labels.name} "
                                 f"in {self.root}")
            for path in (aedat, labels):
                if not path.resolve().is_relative_to(self.root.resolve()):
                    raise InputError(f"{listing}: trial {name}: {path.name} is a link to "
                                     f"{path.resolve()}, outside the dataset folder {self.root}")
            self.segments.extend(Segment(aedat, labels, rows) for rows in group_rows(read_labels(labels),
                                                                                       merge_arm_roll))
        self.labels = np.array([s.target for s in self.segments], dtype=np.int64)
        self._trial: tuple[Path, np.ndarray] | None = None
        self._digests: dict[Path, str] = {}

    def _decode(self, seg: Segment) -> np.ndarray:
        if self._trial is None or self._trial[0] != seg.aedat:
            events = read_aedat(seg.aedat)
            check_windows(read_labels(seg.labels), events, seg.labels)
            self._trial = (seg.aedat, events)
        return self._trial[1]

    def _digest(self, path: Path) -> str:
        if path not in self._digests:
            self._digests[path] = sha256_file(path)
        return self._digests[path]

    def __len__(self) -> int:
        return len(self.segments)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        seg = self.segments[index]
        events = self._decode(seg)
        return cut(events, [(r.start, r.end) for r in seg.rows]), seg.target

    def source_id(self, index: int) -> str:
        """Digest of the trial's `.aedat` sha256, its label CSV sha256 and the sample's windows."""
        seg = self.segments[index]
        windows = ";".join(f"{r.start}-{r.end}" for r in seg.rows)
        key = f"{self._digest(seg.aedat)}|{self._digest(seg.labels)}|{windows}"
        return hashlib.sha256(key.encode()).hexdigest()

    def time_origin(self, index: int) -> int:
        """Start of a fixed framing window: the segment's first labelled start time."""
        return min(r.start for r in self.segments[index].rows)

    def sample_name(self, index: int) -> str:
        seg = self.segments[index]
        return f"{seg.aedat} (label rows {', '.join(str(r.row) for r in seg.rows)} of {seg.labels.name})"


def group_rows(rows: list[LabelRow], merge_arm_roll: bool) -> list[tuple[LabelRow, ...]]:
    """One group per row, or (merge_arm_roll) all class-8 rows of the trial in one group at the first one."""
    if not merge_arm_roll:
        return [(r,) for r in rows]
    rolls = tuple(r for r in rows if r.cls == ARM_ROLL)
    groups = []
    for r in rows:
        if r.cls != ARM_ROLL:
            groups.append((r,))
        elif r is rolls[0]:
            groups.append(rolls)
    return groups
