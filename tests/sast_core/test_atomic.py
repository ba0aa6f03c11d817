"""Atomic writes: the file appears whole, with the usual permissions, and nothing is left on failure."""

import errno
import json
import os
from pathlib import Path

import pytest

from sast_core.atomic import WriteError, atomic_write, atomic_write_bytes, atomic_write_json, stage


def test_written_file_has_umask_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(mask)
    assert path.read_text() == '{\n  "x": 1\n}\n'
    assert path.stat().st_mode & 0o777 == 0o644


def test_failed_write_leaves_nothing(tmp_path):
    def broken(tmp):
        tmp.write_text("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "b.txt", broken)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_one_write_error_and_the_old_file_stays(tmp_path, monkeypatch):
    target = atomic_write_json(tmp_path / "c.json", {"old": True})

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(WriteError) as info:
        atomic_write_bytes(target, b"new")
    assert str(info.value) == (f"{target}: cannot write (No space left on device); the previous file, if any, "
                               f"is unchanged")
    assert json.loads(target.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]


def test_staged_files_appear_only_on_commit(tmp_path):
    staged = stage(tmp_path / "d.txt", lambda tmp: tmp.write_text("x"))
    assert not (tmp_path / "d.txt").exists()
    staged.commit()
    assert (tmp_path / "d.txt").read_text() == "x" and len(list(tmp_path.iterdir())) == 1
    other = stage(tmp_path / "e.txt", lambda tmp: tmp.write_text("y"))
    other.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.txt"]
