"""The one event representation of the toolkit and the reader errors.

Events are a numpy structured array with fields, in this order (the names tonic uses):

    x: int16   column, 0-based, from the left
    y: int16   row, 0-based, from the top (upper-left origin)
    t: int64   timestamp in microseconds (raw: never re-zeroed by the readers)
    p: uint8   polarity, 1 = ON (brightness increase), 0 = OFF

Readers return events sorted by t (non-decreasing). Index by field name, never by column position.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from sast_core.errors import InputError

EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "u1")])


class EventFileError(InputError):
    """A corrupt or malformed event file; the message names the file and the byte offset."""


class LabelFileError(InputError):
    """A malformed label or split file; the message names the file and the row."""


def make_events(x: ArrayLike, y: ArrayLike, t: ArrayLike, p: ArrayLike) -> np.ndarray:
    """Pack four equal-length arrays into an EVENT_DTYPE array (values are cast, not checked)."""
    events = np.empty(len(t), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p
    return events


def read_bytes(path: str | Path) -> bytes:
    """Read a whole file; a missing or unreadable file is an InputError naming it."""
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read file ({err.strerror or err})") from err
