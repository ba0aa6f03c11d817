"""AEDAT 3.1 reader and DVS Gesture labels/dataset, on files written to the spec by these tests."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest
from data_paths import shared_data
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_core.errors import InputError
from sast_models.data.aedat import decode_aedat, read_aedat
from sast_models.data.events import EVENT_DTYPE, EventFileError, LabelFileError
from sast_models.data.gesture import DVSGestureDataset, read_labels, read_split
from sast_models.data.loading import load_frames

LABELS = shared_data() / "real" / "dvs_gesture" / "user01_natural_labels.csv"
SPLITS = shared_data() / "reconstructed" / "dvs_gesture"
needs_labels = pytest.mark.skipif(not LABELS.is_file(), reason="shared DVS Gesture label CSV absent")

HEADER_LINES = ("#!AER-DAT3.1", "#Format: RAW", "#Source 1: DVS128",
                "#Start-Time: 2017-01-01 00:00:00 (TZ+0000)", "#!END-HEADER")


def header(lines=HEADER_LINES, eol=b"\r\n") -> bytes:
    return b"".join(line.encode() + eol for line in lines)


def polarity_packet(x, y, p, t, valid=None, overflow=0, spare=0, ts_offset=4) -> bytes:
    """A type-1 packet: the given events, then `spare` unused slots filled with valid-looking junk."""
    x, y, p, t = (np.asarray(a, dtype=np.int64) for a in (x, y, p, t))
    valid = np.ones_like(x) if valid is None else np.asarray(valid, dtype=np.int64)
    number = len(x)
    words = np.stack([(x << 17) | (y << 2) | (p << 1) | valid, t], axis=1)
    junk = np.tile(np.array([[(127 << 17) | (127 << 2) | 3, 1]], dtype=np.int64), (spare, 1))
    payload = np.concatenate([words, junk]).astype("<u4").tobytes()
    head = struct.pack("<hhiiiiii", 1, 1, 8, ts_offset, overflow, number + spare, number, int(valid.sum()))
    return head + payload


def other_packet(kind=2, size=12, capacity=3) -> bytes:
    """A non-polarity packet (frame, IMU, ...): must be skipped."""
    head = struct.pack("<hhiiiiii", kind, 1, size, 4, 0, capacity, capacity, capacity)
    return head + b"\x23" * size * capacity


def recording(rng, t_first=52_000_000, t_last=179_000_000, n=60_000, edges=()):
    """Sorted random events over [t_first, t_last], plus events exactly at the given times."""
    t = np.sort(np.concatenate([rng.integers(t_first, t_last + 1, n), np.asarray(edges, dtype=np.int64)]))
    return rng.integers(0, 128, len(t)), rng.integers(0, 128, len(t)), rng.integers(0, 2, len(t)), t


def aedat_bytes(x, y, p, t, rng, packets=7) -> bytes:
    """Multi-packet file with invalid events, spare capacity and a non-polarity packet in between."""
    body = []
    for i, chunk in enumerate(np.array_split(np.arange(len(t)), packets)):
        invalid = rng.integers(0, 128, 5)
        xs, ys, ps = (np.concatenate([a[chunk], invalid]) for a in (x, y, p))
        ts = np.concatenate([t[chunk], np.full(5, t[chunk][-1])])
        valid = np.concatenate([np.ones(len(chunk), np.int64), np.zeros(5, np.int64)])
        body.append(polarity_packet(xs, ys, ps, ts, valid, spare=i % 3))
        if i == 2:
            body.append(other_packet())
    return header() + b"".join(body)


def test_decodes_fields_overflow_invalid_and_spare_capacity():
    data = header() + polarity_packet([0, 127, 5], [127, 0, 6], [1, 0, 1], [10, 20, 30], valid=[1, 1, 0],
                                      spare=4) + other_packet(kind=3) + \
        polarity_packet([3], [4], [0], [7], overflow=2)
    events = decode_aedat(data)
    assert events.dtype == EVENT_DTYPE
    assert [tuple(e) for e in events] == [(0, 127, 10, 1), (127, 0, 20, 0), (3, 4, (2 << 31) | 7, 0)]


def test_header_with_lf_and_a_first_binary_byte_0x23():
    lines = (*HEADER_LINES[:-1], "#-Source 1: DVS128", HEADER_LINES[-1])
    empty_packet_starting_with_hash = struct.pack("<hhiiiiii", 0x23, 0, 0, 4, 0, 0, 0, 0)
    body = empty_packet_starting_with_hash + polarity_packet([9], [8], [1], [5])
    assert [tuple(e) for e in decode_aedat(header(lines, eol=b"\n") + body)] == [(9, 8, 5, 1)]


def test_unsorted_packets_come_back_sorted():
    data = header() + polarity_packet([1, 2], [1, 2], [0, 1], [50, 60]) + polarity_packet([3], [3], [1], [40])
    assert decode_aedat(data)["t"].tolist() == [40, 50, 60]


@needs_labels
def test_genuine_labels_cut_synthetic_recording(tmp_path):
    rows = read_labels(LABELS)
    assert [r.cls for r in rows] == [1, 2, 3, 5, 4, 6, 7, 8, 8, 9, 10, 11]
    assert rows[0].start == 53_036_986 and rows[-1].end == 177_991_967
    rng = np.random.default_rng(0)
    edges = [v for r in rows for v in (r.start - 1, r.start, r.end - 1, r.end)]
    x, y, p, t = recording(rng, edges=edges)
    root = tmp_path / "DvsGesture"
    root.mkdir()
    (root / "user01_natural.aedat").write_bytes(aedat_bytes(x, y, p, t, rng))
    shutil.copy(LABELS, root / "user01_natural_labels.csv")
    (root / "trials_to_train.txt").write_text("user01_natural.aedat\n\n")
    (root / "trials_to_test.txt").write_text("")
    events = read_aedat(root / "user01_natural.aedat")
    assert np.array_equal(events["t"], t) and np.array_equal(events["x"], x)
    dataset = DVSGestureDataset(root, "train")
    assert len(dataset) == 12
    assert dataset.labels.tolist() == [0, 1, 2, 4, 3, 5, 6, 7, 7, 8, 9, 10]
    for i, r in enumerate(rows):
        sample, target = dataset[i]
        inside = (t >= r.start) & (t < r.end)
        assert target == r.cls - 1 and len(sample) == inside.sum()
        assert np.array_equal(sample["t"], t[inside]) and np.array_equal(sample["y"], y[inside])
        assert sample["t"].min() == r.start and sample["t"].max() == r.end - 1
        assert dataset.time_origin(i) == r.start
    merged = DVSGestureDataset(root, "train", merge_arm_roll=True)
    assert len(merged) == 11 and merged.labels.tolist().count(7) == 1
    roll = merged.labels.tolist().index(7)
    assert len(merged[roll][0]) == len(dataset[7][0]) + len(dataset[8][0])
    assert merged.source_id(roll) != dataset.source_id(7) != dataset.source_id(8)
    for _ in range(2):                                       # framed, then again from the cache
        frames, labels, info = load_frames(f"dvsgesture:{root}", time_bins=4, downsample=4,
                                           cache_dir=tmp_path / "cache")
        assert frames.shape == (12, 4, 2, 32, 32) and info["n_classes"] == 11
        assert labels.tolist() == dataset.labels.tolist()
        assert [int(f.sum()) for f in frames] == [len(dataset[i][0]) for i in range(12)]
    assert len(list((tmp_path / "cache" / "frames").rglob("*.safetensors"))) == 12


@needs_labels
def test_window_outside_the_recording_names_the_row(tmp_path):
    rng = np.random.default_rng(1)
    x, y, p, t = recording(rng, t_first=60_000_000, n=2000)   # starts after the first window
    root = tmp_path / "g"
    root.mkdir()
    (root / "u_natural.aedat").write_bytes(aedat_bytes(x, y, p, t, rng, packets=2))
    shutil.copy(LABELS, root / "u_natural_labels.csv")
    (root / "trials_to_test.txt").write_text("u_natural.aedat\r\n")
    dataset = DVSGestureDataset(root, "test")
    with pytest.raises(LabelFileError, match=r"u_natural_labels\.csv: row 2: window \[53036986"):
        dataset[0]


@pytest.mark.skipif(not (SPLITS / "trials_to_train.txt").is_file(), reason="shared split lists absent")
def test_official_split_lists():
    train, test = read_split(SPLITS / "trials_to_train.txt"), read_split(SPLITS / "trials_to_test.txt")
    assert len(train) == 98 and len(test) == 24
    assert {n[:6] for n in train} == {f"user{u:02d}" for u in range(1, 24)}
    assert {n[:6] for n in test} == {f"user{u:02d}" for u in range(24, 30)}


def test_labels_crlf_overlap_and_repeats(tmp_path):
    path = tmp_path / "t_labels.csv"
    path.write_bytes(b"class,startTime_usec,endTime_usec\r\n9,100,300\r\n10,250,400\r\n3,10,20\r\n3,10,20\r\n")
    rows = read_labels(path)
    assert [(r.row, r.target, r.start, r.end) for r in rows] == [(2, 8, 100, 300), (3, 9, 250, 400),
                                                                  (4, 2, 10, 20), (5, 2, 10, 20)]


@pytest.mark.parametrize("text, needle", [
    ("class\tstartTime_usec\tendTime_usec\n1,2,3\n", "row 1: header"),
    ("class,startTime_usec,endTime_usec\n1,2,3\n12,5,9\n", "row 3"),
    ("class,startTime_usec,endTime_usec\n1,20,3\n", "row 2"),
    ("class,startTime_usec,endTime_usec\n1,2\n", "row 2"),
    ("", "row 1"),
])
def test_bad_label_csv(tmp_path, text, needle):
    path = tmp_path / "x_labels.csv"
    path.write_text(text)
    with pytest.raises(LabelFileError) as err:
        read_labels(path)
    assert str(path) in str(err.value) and needle in str(err.value)


GOOD_BODY = polarity_packet([1, 2], [3, 4], [0, 1], [10, 20])
BODY_AT = len(header())


@pytest.mark.parametrize("data, needle", [
    (header(("#!AER-DAT2.0", *HEADER_LINES[1:])) + GOOD_BODY, "offset 0: first line must be #!AER-DAT3.1"),
    (header(HEADER_LINES[:-1]) + GOOD_BODY, "has no #!END-HEADER"),
    (header(HEADER_LINES[:-1]), "has no #!END-HEADER"),
    (header() + GOOD_BODY[:-3], f"byte offset {BODY_AT}: packet payload"),
    (header() + GOOD_BODY + GOOD_BODY[:20], f"byte offset {BODY_AT + len(GOOD_BODY)}: truncated packet"),
    (header() + GOOD_BODY[:20] + struct.pack("<iii", 3, 2, 2) + GOOD_BODY[28:], "eventNumber"),
    (header() + polarity_packet([1], [1], [1], [1], ts_offset=0), "eventTSOffset 4"),
    (header() + GOOD_BODY + polarity_packet([1, 130], [1, 1], [1, 1], [30, 40]),
     f"byte offset {BODY_AT + len(GOOD_BODY) + 28 + 8}: polarity event with x=130"),
])
def test_bad_aedat_files(tmp_path, data, needle):
    path = tmp_path / "bad.aedat"
    path.write_bytes(data)
    with pytest.raises(EventFileError) as err:
        read_aedat(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_dataset_input_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        DVSGestureDataset(tmp_path / "nope")
    (tmp_path / "trials_to_train.txt").write_text("user01_lab.aedat\n")
    with pytest.raises(InputError, match="user01_lab.aedat"):
        DVSGestureDataset(tmp_path)
    (tmp_path / "trials_to_test.txt").write_text("user02_lab.aedat\n\nnotes.txt\n")
    with pytest.raises(LabelFileError, match="row 3"):
        DVSGestureDataset(tmp_path, "test")


@pytest.mark.parametrize("entry", ["../outside/x.aedat", "/etc/x.aedat", "sub/../../x.aedat"])
def test_split_entries_stay_inside_the_dataset_folder(tmp_path, entry):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.aedat").write_bytes(b"#!AER-DAT3.1\r\n")  # would be found if the entry were followed
    root = tmp_path / "gesture"
    root.mkdir()
    (root / "trials_to_train.txt").write_text(f"user01_lab.aedat\n{entry}\n")
    with pytest.raises(LabelFileError, match="row 2: .* leaves the dataset folder"):
        DVSGestureDataset(root)


def assert_valid(events: np.ndarray) -> None:
    assert events.dtype == EVENT_DTYPE
    assert np.all((events["x"] >= 0) & (events["x"] < 128) & (events["y"] >= 0) & (events["y"] < 128))
    assert np.all(np.diff(events["t"]) >= 0) and np.isin(events["p"], (0, 1)).all()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_fuzz_random_bytes(data, with_header):
    try:
        assert_valid(decode_aedat(header() + data if with_header else data, "fuzz.aedat"))
    except InputError as err:
        assert "fuzz.aedat" in str(err)


VALID = aedat_bytes(*recording(np.random.default_rng(2), 0, 1000, n=40), np.random.default_rng(3), packets=3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=6),
       st.integers(0, 40))
def test_fuzz_mutated_valid_file(flips, cut):
    data = bytearray(VALID)
    for pos, value in flips:
        data[pos] = value
    try:
        assert_valid(decode_aedat(bytes(data[:len(data) - cut]), "mut.aedat"))
    except InputError as err:
        assert "mut.aedat" in str(err)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=120))
def test_fuzz_label_csv(tmp_path_factory, text):
    path = tmp_path_factory.getbasetemp() / "f_labels.csv"
    path.write_text("class,startTime_usec,endTime_usec\n" + text)
    try:
        rows = read_labels(path)
        assert all(1 <= r.cls <= 11 and 0 <= r.start < r.end for r in rows)
    except InputError as err:
        assert "f_labels.csv" in str(err)


def test_a_link_out_of_the_dataset_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.aedat").write_bytes(b"#!AER-DAT3.1\r\n")
    (outside / "x_labels.csv").write_text("class,startTime_usec,endTime_usec\n1,0,10\n")
    root = tmp_path / "gesture"
    root.mkdir()
    (root / "link.aedat").symlink_to(outside / "x.aedat")
    (root / "link_labels.csv").write_text("class,startTime_usec,endTime_usec\n1,0,10\n")
    (root / "trials_to_train.txt").write_text("link.aedat\n")
    with pytest.raises(InputError, match="link.aedat is a link to .* outside the dataset folder"):
        DVSGestureDataset(root)


def test_a_trial_listed_twice_is_refused(tmp_path):
    (tmp_path / "trials_to_train.txt").write_text("user01_lab.aedat\nuser01_lab.aedat\n")
    with pytest.raises(LabelFileError, match="row 2: 'user01_lab.aedat' is listed twice"):
        DVSGestureDataset(tmp_path)
