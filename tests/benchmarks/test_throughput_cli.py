"""The benchmark command's validation: flags typed, memory estimated, --out checked, before any timing."""

from __future__ import annotations

import pytest

from benchmarks import throughput


@pytest.mark.parametrize(("flags", "needle"), [
    (["--density", "nan"], "--density nan: expected a finite number in [0, 1]"),
    (["--repeats", "3"], "--repeats 3: expected an integer >= 4"),
    (["--steps", "1000000"], "this run needs about"),
    (["--out", ""], "--out '': expected a folder path"),
])
def test_bad_input_is_one_line_before_any_timing(flags, needle, capsys, monkeypatch):
    monkeypatch.setattr(throughput, "run", lambda args: pytest.fail("timed before validating"))
    assert throughput.main(flags) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_out_that_is_a_file_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(throughput, "run", lambda args: pytest.fail("timed before validating"))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert throughput.main(["--out", str(blocker)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
