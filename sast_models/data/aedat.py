"""AEDAT 3.1 reader for DVS128 recordings (DVS Gesture): polarity events -> EVENT_DTYPE, 128 x 128.

Layout (little-endian): text header of `#` lines (CR LF; a bare LF is accepted), the first one exactly
`#!AER-DAT3.1`, ended by the line `#!END-HEADER`; then packets of a 28-byte header
(eventType, eventSource: int16; eventSize, eventTSOffset, eventTSOverflow, eventCapacity, eventNumber,
eventValid: int32) followed by eventCapacity * eventSize payload bytes. Only polarity packets (type 1,
8-byte events: uint32 data, int32 timestamp) are decoded; other types are skipped. Of each polarity packet
the first eventNumber events are decoded and those with the valid bit (data bit 0) set are kept;
p = bit 1, y = bits 2-16, x = bits 17-31, t = (eventTSOverflow << 31) | timestamp, origin upper-left.
Every structural defect is an EventFileError naming the file and the byte offset. Events are returned
sorted by t (a stable sort, applied only if the file is not already in order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .events import EventFileError, make_events, read_bytes

SENSOR_SIZE = (128, 128)  # (H, W)
VERSION_LINE = b"#!AER-DAT3.1"
END_LINE = b"#!END-HEADER"
POLARITY_TYPE = 1
PACKET_HEADER = np.dtype([("type", "<i2"), ("source", "<i2"), ("size", "<i4"), ("ts_offset", "<i4"),
                          ("ts_overflow", "<i4"), ("capacity", "<i4"), ("number", "<i4"), ("valid", "<i4")])


def header_end(data: bytes, source: str) -> int:
    """Byte offset where the binary body starts (just after the `#!END-HEADER` line)."""
    pos = 0
    while pos < len(data):
        newline = data.find(b"\n", pos)
        line = data[pos:newline if newline >= 0 else len(data)].rstrip(b"\r")
        if pos == 0 and line != VERSION_LINE:
            raise EventFileError(f"{source}: byte offset 0: first line must be {VERSION_LINE.decode()}, "
                                 f"got {line[:40]!r}")
        if newline < 0 or not line.startswith(b"#"):
            break
        if line == END_LINE:
            return newline + 1
        pos = newline + 1
    raise EventFileError(f"{source}: byte offset {pos}: header has no {END_LINE.decode()} line")


def decode_aedat(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an AEDAT 3.1 file into EVENT_DTYPE polarity events."""
    pos = header_end(data, source)
    words, overflows, starts = [], [], []
    while pos < len(data):
        if len(data) - pos < PACKET_HEADER.itemsize:
            raise EventFileError(f"{source}: byte offset {pos}: truncated packet header "
                                 f"({len(data) - pos} of 28 bytes)")
        head = np.frombuffer(data, PACKET_HEADER, count=1, offset=pos)[0]
        payload = pos + PACKET_HEADER.itemsize
        size, capacity, number, valid = (int(head[k]) for k in ("size", "capacity", "number", "valid"))
        if size < 0 or not 0 <= valid <= number <= capacity:
            raise EventFileError(f"{source}: byte offset {pos}: packet header needs size >= 0 and "
                                 f"0 <= eventValid <= eventNumber <= eventCapacity, got size={size}, "
                                 f"valid={valid}, number={number}, capacity={capacity}")
        end = payload + capacity * size
        if end > len(data):
            raise EventFileError(f"{source}: byte offset {pos}: packet payload of {capacity * size} bytes "
                                 f"runs past the end of the file ({len(data)} bytes)")
        if int(head["type"]) == POLARITY_TYPE and number:
            if size != 8 or int(head["ts_offset"]) != 4 or int(head["ts_overflow"]) < 0:
                raise EventFileError(f"{source}: byte offset {pos}: polarity packet needs eventSize 8, "
                                     f"eventTSOffset 4, eventTSOverflow >= 0; got {size}, "
                                     f"{int(head['ts_offset'])}, {int(head['ts_overflow'])}")
            words.append(np.frombuffer(data, "<u4", count=2 * number, offset=payload).reshape(number, 2))
            overflows.append(np.full(number, int(head["ts_overflow"]), dtype=np.int64))
            starts.append(payload)
        pos = end
    if not words:
        return make_events([], [], [], [])
    word = np.concatenate(words)
    kept = np.flatnonzero(word[:, 0] & 1)
    data_word, stamp = word[kept, 0], word[kept, 1].astype(np.int64)
    x, y = (data_word >> 17) & 0x7FFF, (data_word >> 2) & 0x7FFF
    bad = np.flatnonzero((x >= SENSOR_SIZE[1]) | (y >= SENSOR_SIZE[0]) | (stamp >= 1 << 31))
    if bad.size:
        i = int(bad[0])
        offset = event_offset(int(kept[i]), starts, [len(w) for w in words])
        signed = int(stamp[i]) - (1 << 32 if stamp[i] >= 1 << 31 else 0)
        raise EventFileError(f"{source}: byte offset {offset}: polarity event with x={x[i]}, y={y[i]}, "
                             f"timestamp {signed}: outside the 128x128 sensor or negative")
    t = (np.concatenate(overflows)[kept] << 31) | stamp
    events = make_events(x, y, t, (data_word >> 1) & 1)
    if np.any(np.diff(t) < 0):
        events = events[np.argsort(t, kind="stable")]
    return events


def event_offset(index: int, starts: list[int], counts: list[int]) -> int:
    """File byte offset of decoded event `index`, given each packet's payload offset and event count."""
    packet = int(np.searchsorted(np.cumsum(counts), index, side="right"))
    return starts[packet] + 8 * (index - sum(counts[:packet]))


def read_aedat(path: str | Path) -> np.ndarray:
    """Read an AEDAT 3.1 file into EVENT_DTYPE polarity events."""
    return decode_aedat(read_bytes(path), str(path))
