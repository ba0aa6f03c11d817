"""Framing (half-open bins, conservation, downsampling), collation and the frame cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sast_core.errors import InputError
from sast_models.data.cache import FrameCache
from sast_models.data.events import make_events
from sast_models.data.framing import FrameSpec, collate_time_major, frame_events
from sast_models.data.loading import FramedDataset
from sast_models.data.nmnist import NMNISTDataset, write_nmnist


@st.composite
def events_on(draw, size=(34, 34), t_max=400_000):
    n = draw(st.integers(0, 80))
    ints = lambda hi: st.lists(st.integers(0, hi), min_size=n, max_size=n)  # noqa: E731
    return make_events(draw(ints(size[1] - 1)), draw(ints(size[0] - 1)), sorted(draw(ints(t_max))),
                       draw(ints(1)))


@settings(max_examples=50, deadline=None)
@given(events_on(), st.integers(1, 12), st.sampled_from([None, 100_000, 500_000]))
def test_counts_are_conserved_inside_the_window(events, bins, duration):
    frames = frame_events(events, FrameSpec(bins, duration), (34, 34))
    assert frames.shape == (bins, 2, 34, 34) and frames.dtype == torch.float32
    inside = len(events) if duration is None else int((events["t"] < duration).sum())
    assert frames.sum().item() == inside
    assert frames[:, 1].sum().item() == int(events["p"][events["t"] < (duration or 1 << 40)].sum())


@settings(max_examples=40, deadline=None)
@given(events_on(size=(128, 128)), st.sampled_from([2, 4, 8]), st.integers(1, 5))
def test_downsampling_sums_blocks(events, k, bins):
    full = frame_events(events, FrameSpec(bins, 500_000), (128, 128))
    small = frame_events(events, FrameSpec(bins, 500_000, downsample=k), (128, 128))
    assert small.shape == (bins, 2, 128 // k, 128 // k)
    expected = full.reshape(bins, 2, 128 // k, k, 128 // k, k).sum(dim=(3, 5))
    assert torch.equal(small, expected)
    binary = frame_events(events, FrameSpec(bins, 500_000, mode="binary", downsample=k), (128, 128))
    assert torch.equal(binary, (expected > 0).float())


def test_bins_are_half_open_and_placed_by_x_y_p():
    events = make_events([0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [0, 99, 100, 199, 200], [1, 0, 1, 0, 1])
    frames = frame_events(events, FrameSpec(2, 200), (34, 34))
    assert frames.sum().item() == 4                       # t = 200 is outside [0, 200)
    assert frames[0, 1, 5, 0] == 1 and frames[0, 0, 6, 1] == 1
    assert frames[1, 1, 7, 2] == 1 and frames[1, 0, 8, 3] == 1
    own_span = frame_events(events, FrameSpec(2), (34, 34))   # [0, 201): bin edge at 100.5
    assert own_span.sum().item() == 5 and own_span[0].sum().item() == 3
    shifted = frame_events(events, FrameSpec(1, 100), (34, 34), origin=100)
    assert shifted.sum().item() == 2


def test_spec_and_event_errors():
    for bad in (dict(time_bins=0), dict(time_bins=2, duration_us=0), dict(time_bins=2, mode="rate"),
                dict(time_bins=2, downsample=0)):
        with pytest.raises(InputError):
            FrameSpec(**bad)
    with pytest.raises(InputError, match="does not divide"):
        frame_events(make_events([], [], [], []), FrameSpec(2, downsample=4), (34, 34))
    with pytest.raises(InputError, match="outside"):
        frame_events(make_events([40], [0], [0], [1]), FrameSpec(2), (34, 34))


def test_collate_is_time_major():
    batch = [(torch.full((5, 2, 3, 3), float(i)), i) for i in range(4)]
    frames, labels = collate_time_major(batch)
    assert frames.shape == (5, 4, 2, 3, 3) and labels.dtype == torch.long
    assert labels.tolist() == [0, 1, 2, 3] and torch.equal(frames[:, 2], batch[2][0])


def small_tree(root):
    rng = np.random.default_rng(0)
    for i in range(3):
        x, y, p = rng.integers(0, 34, 500), rng.integers(0, 34, 500), rng.integers(0, 2, 500)
        write_nmnist(root / "Train" / str(i) / f"{i + 1:05d}.bin",
                     make_events(x, y, np.sort(rng.integers(0, 300_000, 500)), p))
    return NMNISTDataset(root, "train")


def test_cache_is_keyed_by_every_parameter_and_the_source(tmp_path):
    events = small_tree(tmp_path / "data")
    cache = FrameCache(tmp_path / "cache")
    specs = [FrameSpec(4), FrameSpec(5), FrameSpec(4, 200_000), FrameSpec(4, mode="binary"),
             FrameSpec(4, downsample=2)]
    for spec in specs:
        cached, direct = FramedDataset(events, spec, cache), FramedDataset(events, spec)
        for _ in range(2):                                 # miss, then hit
            assert torch.equal(cached[1][0], direct[1][0])
    assert len(list((tmp_path / "cache").rglob("*.safetensors"))) == len(specs)
    write_nmnist(events.paths[1], events[1][0][:100])     # the source changes: no stale frames
    assert FramedDataset(events, specs[0], cache)[1][0].sum().item() == 100


def _replace_entry(entry, frames=None, metadata=None, raw=None):
    from safetensors import safe_open
    from safetensors.torch import save_file

    if raw is not None:
        entry.write_bytes(raw)
        return
    kept = safe_open(str(entry), "pt").metadata()
    save_file({"frames": frames.contiguous()}, str(entry), metadata=kept if metadata is None else metadata)


TAMPERING = {
    # valid binary values, checksum of the old tensor kept: only the checksum tells
    "edited values": lambda entry, good: _replace_entry(entry, torch.ones_like(good)),
    "nan": lambda entry, good: _replace_entry(entry, torch.full_like(good, float("nan"))),
    "broadcastable shape": lambda entry, good: _replace_entry(entry, torch.ones(1, *good.shape[1:])),
    "float64": lambda entry, good: _replace_entry(entry, good.double()),
    "non-binary counts": lambda entry, good: _replace_entry(entry, good * 3),
    "no checksum": lambda entry, good: _replace_entry(entry, good, metadata={}),
    "garbage": lambda entry, good: _replace_entry(entry, raw=b"not a safetensors file"),
    "a directory": lambda entry, good: (entry.unlink(), (entry / "inner").mkdir(parents=True)),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_a_cache_entry_failing_verification_is_recomputed_and_reported_once(tmp_path, tampering, capsys):
    from sast_models.data.loading import report_cache

    events = small_tree(tmp_path / "data")
    cache = FrameCache(tmp_path / "cache")
    dataset = FramedDataset(events, FrameSpec(3, mode="binary"), cache)
    expected = dataset[0][0]
    (entry,) = list((tmp_path / "cache").rglob("*.safetensors"))
    TAMPERING[tampering](entry, expected)
    for _ in range(2):  # the second read hits the rewritten, valid entry
        assert torch.equal(dataset[0][0], expected)
    assert len(cache.failures) == 1 and str(entry) in cache.failures[0]
    report_cache(cache)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: frame cache") and "1 entry failed verification" in err
    assert entry.is_file() and not list((tmp_path / "cache").rglob("*.tmp"))


def test_counts_must_be_nonnegative_integers(tmp_path):
    events = small_tree(tmp_path / "data")
    cache = FrameCache(tmp_path / "cache")
    dataset = FramedDataset(events, FrameSpec(3, mode="count"), cache)
    expected = dataset[0][0]
    (entry,) = list((tmp_path / "cache").rglob("*.safetensors"))
    for bad in (expected - 1, expected + 0.5):
        _replace_entry(entry, bad)
        assert torch.equal(dataset[0][0], expected)
    assert len(cache.failures) == 2


def test_an_unwritable_cache_is_reported_and_the_data_still_loads(tmp_path, monkeypatch, capsys):
    import errno

    from sast_models.data import cache as cache_module
    from sast_models.data.loading import report_cache

    def full_disk(path, data):
        raise cache_module.WriteError(f"{path}: cannot write ({errno.errorcode[errno.ENOSPC]})")

    monkeypatch.setattr(cache_module, "atomic_write_bytes", full_disk)
    events = small_tree(tmp_path / "data")
    cache = FrameCache(tmp_path / "cache")
    direct = FramedDataset(events, FrameSpec(3))
    cached = FramedDataset(events, FrameSpec(3), cache)
    assert all(torch.equal(cached[i][0], direct[i][0]) for i in range(len(direct)))
    report_cache(cache)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not written, continuing without it" in err and "ENOSPC" in err


def test_a_recording_without_events_is_refused_not_framed_blank(tmp_path):
    events = small_tree(tmp_path / "data")
    write_nmnist(events.paths[1], make_events([], [], [], []))
    with pytest.raises(InputError, match=f"{events.paths[1]}: the recording has no events at all"):
        FramedDataset(events, FrameSpec(3))[1]
    with pytest.raises(InputError, match="no events in its framing window"):
        FramedDataset(events, FrameSpec(3, duration_us=1))[0]  # every event of sample 0 lies after 1 us


def test_default_cache_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SAST_CACHE", str(tmp_path))
    assert FrameCache().folder == tmp_path / "frames"
