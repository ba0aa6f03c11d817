"""The inspect command: summary, PNG and JSON, and one-line exit-2 errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sast_models.cli.inspect import main
from sast_models.data.events import make_events
from sast_models.data.nmnist import write_nmnist


def sample(root):
    t = np.arange(0, 300_000, 300)
    events = make_events(t % 34, (t // 34) % 34, t, (t // 300) % 2)
    return write_nmnist(root / "Train" / "7" / "00012.bin", events)


def test_summary_png_and_json(tmp_path, capsys):
    path = sample(tmp_path)
    assert main([str(path), "--out", str(tmp_path / "out"), "--time-bins", "4"]) == 0
    printed = capsys.readouterr().out
    assert "events: 1000" in printed and "label: 7" in printed
    summary = json.loads((tmp_path / "out" / "00012.json").read_text())
    assert summary["events"] == 1000 and summary["on_events"] == 500 and summary["duration_us"] == 299_700
    assert (tmp_path / "out" / "00012.png").read_bytes()[:4] == b"\x89PNG"
    assert main([str(tmp_path), "--index", "0"]) == 0


@pytest.mark.parametrize("make, needle", [
    (lambda p: p / "missing.bin", "no such file"),
    (lambda p: (p / "odd.bin").write_bytes(b"\x01\x02\x03") and p / "odd.bin", "multiple of 5"),
    (lambda p: (p / "a.txt").write_text("x") and p / "a.txt", "expected a .bin"),
    (lambda p: (p / "v.aedat").write_bytes(b"#!AER-DAT2.0\r\n") and p / "v.aedat", "#!AER-DAT3.1"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, make, needle):
    path = make(tmp_path)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and str(path) in err
    assert not (tmp_path / "out").exists()


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "FILE_OR_DIR" in capsys.readouterr().out


@pytest.mark.parametrize(("flags", "needle"), [
    (["--time-bins", "100000"], "--time-bins 100000: expected an integer in 1..32"),
    (["--time-bins", "0"], "--time-bins 0"),
    (["--index", "-1"], "--index -1"),
])
def test_flags_are_checked_before_any_work(tmp_path, capsys, flags, needle):
    path = sample(tmp_path)
    assert main([str(path), "--out", str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and not (tmp_path / "out").exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    path = sample(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        assert main([str(path), "--out", str(out)]) == 2
        assert capsys.readouterr().err.startswith("error: --out")
    assert blocker.read_text() == "x"


def test_a_recording_without_events_has_no_frames_to_plot(tmp_path, capsys):
    empty = write_nmnist(tmp_path / "Train" / "3" / "00001.bin", make_events([], [], [], []))
    assert main([str(empty)]) == 0  # the summary alone is fine
    assert "events: 0" in capsys.readouterr().out
    assert main([str(empty), "--out", str(tmp_path / "out")]) == 2
    assert "no events" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_two_recordings_of_the_same_name_do_not_overwrite_each_other(tmp_path, capsys):
    first = sample(tmp_path / "a")
    second = sample(tmp_path / "b")
    out = tmp_path / "out"
    assert main([str(first), "--out", str(out)]) == 0
    picture = (out / "00012.png").read_bytes()
    assert main([str(second), "--out", str(out)]) == 2
    assert "another configuration" in capsys.readouterr().err and (out / "00012.png").read_bytes() == picture
    assert main([str(second), "--out", str(out), "--overwrite"]) == 0
