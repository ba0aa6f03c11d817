"""N-MNIST reader, writer and dataset: genuine files (when the shared data is present), errors, fuzzing."""

from __future__ import annotations

import csv
import hashlib
import shutil

import numpy as np
import pytest
from data_paths import REAL_NMNIST
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_core.errors import InputError
from sast_models.data.events import EVENT_DTYPE, EventFileError, make_events
from sast_models.data.loading import load_frames
from sast_models.data.nmnist import NMNISTDataset, decode_nmnist, encode_nmnist, read_nmnist, write_nmnist

REAL = REAL_NMNIST
needs_real = pytest.mark.skipif(not (REAL / "manifest.csv").is_file(), reason="shared N-MNIST data absent")


def manifest_rows() -> list[dict]:
    with open(REAL / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@needs_real
def test_every_genuine_sample_matches_the_manifest():
    rows = manifest_rows()
    dataset = NMNISTDataset(REAL, "train", verify=True)
    assert len(dataset) == 1000 and len(rows) == 1001   # + extra/tonic_sample_nmnist.bin, label unknown
    by_path = {p.relative_to(REAL).as_posix(): i for i, p in enumerate(dataset.paths)}
    for row in rows:
        if row["path"] in by_path:
            events, label = dataset[by_path.pop(row["path"])]
            assert label == int(row["label"])
        else:
            events = read_nmnist(REAL / row["path"])
        assert len(events) == int(row["n_events"])
        assert events["t"][0] == int(row["first_ts_us"]) and events["t"][-1] == int(row["last_ts_us"])
        assert int(events["p"].sum()) == int(row["n_on_events"])
        assert events.dtype == EVENT_DTYPE
    assert not by_path


@needs_real
def test_provenance_test_vectors():
    events = read_nmnist(REAL / "Train" / "0" / "00002.bin")
    assert len(events) == 5028 and int(events["p"].sum()) == 2509
    assert tuple(events[0]) == (10, 30, 937, 1)
    assert tuple(events[1]) == (33, 20, 1030, 1)
    assert tuple(events[-1]) == (11, 17, 305341, 1)
    assert int((events["t"] < 100_000).sum()) == 1803


@needs_real
def test_load_frames_on_the_genuine_subset():
    frames, labels, info = load_frames(f"nmnist:{REAL}", time_bins=5, downsample=2, cache=False)
    rows = [r for r in manifest_rows() if r["path"].startswith("Train/")]
    assert frames.shape == (1000, 5, 2, 17, 17) and info["n_samples"] == 1000
    assert sorted(frames.sum(dim=(1, 2, 3, 4)).long().tolist()) == sorted(int(r["n_events"]) for r in rows)
    assert np.bincount(labels.numpy()).tolist() == [97, 116, 99, 93, 105, 92, 94, 117, 87, 100]
    with pytest.raises(InputError, match="no Test/ folder") as info:
        load_frames(f"nmnist:{REAL}", time_bins=5, split="test")
    assert "--split train --subset val" in str(info.value)  # how to evaluate on the genuine subset


@needs_real
def test_genuine_files_re_encode_to_the_same_bytes():
    for row in manifest_rows()[::50]:
        data = (REAL / row["path"]).read_bytes()
        assert encode_nmnist(decode_nmnist(data)) == data


@needs_real
def test_manifest_check_catches_a_changed_file(tmp_path):
    root = tmp_path / "nmnist"
    shutil.copytree(REAL / "Train" / "0", root / "Train" / "0")
    shutil.copy(REAL / "manifest.csv", root / "manifest.csv")
    dataset = NMNISTDataset(root, "train", verify=True)
    assert len(dataset) == 97
    events, _ = dataset[0]
    write_nmnist(dataset.paths[0], events[:-1])       # still a valid file, but not the recorded one
    with pytest.raises(EventFileError, match="sha256"):
        dataset[0]
    NMNISTDataset(root, "train")[0]                     # without verify the file is read as is


def test_subset_tree_split_folder_and_labels(tmp_path):
    events = make_events([1, 2], [3, 4], [10, 20], [0, 1])
    for digit, name in ((3, "00007"), (3, "00100"), (8, "00002")):
        write_nmnist(tmp_path / "Test" / str(digit) / f"{name}.bin", events)
    by_root = NMNISTDataset(tmp_path, "test")
    by_folder = NMNISTDataset(tmp_path / "Test")
    assert [p.name for p in by_root.paths] == ["00007.bin", "00100.bin", "00002.bin"]
    assert by_root.labels.tolist() == by_folder.labels.tolist() == [3, 3, 8]
    assert by_root.source_id(0) == hashlib.sha256((tmp_path / "Test/3/00007.bin").read_bytes()).hexdigest()
    with pytest.raises(InputError, match="Train"):
        NMNISTDataset(tmp_path, "train")
    with pytest.raises(InputError, match="not found"):
        NMNISTDataset(tmp_path / "missing")
    with pytest.raises(InputError, match="no manifest"):
        NMNISTDataset(tmp_path, "test", verify=True)
    elsewhere = tmp_path / "other" / "manifest.csv"
    elsewhere.parent.mkdir()
    elsewhere.write_text("path,label,n_events,sha256\nTest/3/00007.bin,3,2\n")
    with pytest.raises(InputError, match="row 2"):
        NMNISTDataset(tmp_path, "test", verify=True, manifest=elsewhere)
    elsewhere.write_text("path,label,n_events,sha256\n")
    with pytest.raises(EventFileError, match="not listed"):
        NMNISTDataset(tmp_path, "test", verify=True, manifest=elsewhere)[0]


GOOD = bytes.fromhex("0a1e8003a9" "2114800406" "0f0a001c73")


@pytest.mark.parametrize("data, needle", [
    (GOOD[:-2], "byte offset 10"),                        # truncated third record
    (GOOD + b"\x00", "byte offset 15"),                   # one stray byte
    (GOOD[:5] + bytes.fromhex("2214800406") + GOOD[10:], "record 1 at byte offset 5 has x=34"),
    (GOOD[:5] + bytes.fromhex("02f0800406") + GOOD[10:], "y=240"),   # tonic's overflow marker: an error here
    (GOOD[:10] + bytes.fromhex("0f0a000001"), "record 2 at byte offset 10 has timestamp 1 us"),
])
def test_bad_files_raise_one_line_errors_naming_file_and_offset(tmp_path, data, needle):
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    with pytest.raises(EventFileError) as err:
        read_nmnist(path)
    message = str(err.value)
    assert str(path) in message and needle in message and "\n" not in message


def test_first_records_of_the_format_doc():
    events = decode_nmnist(GOOD)
    assert [tuple(e) for e in events] == [(10, 30, 937, 1), (33, 20, 1030, 1), (15, 10, 7283, 0)]


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="missing.bin"):
        read_nmnist(tmp_path / "missing.bin")


def test_writer_rejects_what_the_reader_would():
    for bad in (make_events([34], [0], [0], [1]), make_events([0], [0], [1 << 23], [1]),
                make_events([0, 0], [0, 0], [5, 4], [1, 1]), make_events([0], [0], [0], [2])):
        with pytest.raises(InputError):
            encode_nmnist(bad)


@st.composite
def valid_events(draw):
    n = draw(st.integers(0, 60))
    coord = st.lists(st.integers(0, 33), min_size=n, max_size=n)
    t = sorted(draw(st.lists(st.integers(0, (1 << 23) - 1), min_size=n, max_size=n)))
    return make_events(draw(coord), draw(coord), t, draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))


@settings(max_examples=60, deadline=None)
@given(valid_events())
def test_writer_reader_round_trip_is_exact(events):
    data = encode_nmnist(events)
    assert len(data) == 5 * len(events)
    decoded = decode_nmnist(data)
    assert decoded.tobytes() == events.tobytes()
    assert encode_nmnist(decoded) == data


def assert_valid(events: np.ndarray) -> None:
    assert events.dtype == EVENT_DTYPE
    assert np.all((events["x"] >= 0) & (events["x"] < 34) & (events["y"] >= 0) & (events["y"] < 34))
    assert np.all(np.diff(events["t"]) >= 0) and np.isin(events["p"], (0, 1)).all()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data):
    try:
        assert_valid(decode_nmnist(data, "fuzz.bin"))
    except InputError as err:
        assert "fuzz.bin" in str(err)


@settings(max_examples=80, deadline=None)
@given(valid_events(), st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
       st.integers(0, 3))
def test_fuzz_mutated_valid_files(events, flips, cut):
    data = bytearray(encode_nmnist(events))
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    try:
        assert_valid(decode_nmnist(bytes(data[:len(data) - cut]), "mut.bin"))
    except InputError as err:
        assert "mut.bin" in str(err)
