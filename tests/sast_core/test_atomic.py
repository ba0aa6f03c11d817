"""Atomic writes: the file appears whole, with the usual permissions, and nothing is left on failure."""

import os

import pytest

from sast_core.atomic import atomic_write, atomic_write_json


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
