"""Atomic file writes: temp file in the target folder, fsync, rename. A reader never sees a partial file.

`stage` writes the temp file only; `Staged.commit` renames it into place. Writing every file of a multi-file
output first and renaming them only once all were written (sast_core.runs) keeps a full disk from leaving
half an output. A write the system refuses (disk full, read-only, permissions) is a `WriteError`: one line,
naming the file; the temp file is removed and the previous file, if any, is unchanged.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError


class WriteError(InputError):
    """The system refused a write (ENOSPC, EROFS, EACCES, ...); nothing was replaced."""


@dataclass
class Staged:
    """A fully written, fsynced temp file waiting to be renamed onto `target`."""

    tmp: Path
    target: Path

    def commit(self) -> Path:
        try:
            os.replace(self.tmp, self.target)
            dir_fd = os.open(self.target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as err:
            self.discard()
            raise _refused(self.target, err) from None
        return self.target

    def discard(self) -> None:
        try:
            self.tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _refused(target: Path, err: OSError) -> WriteError:
    return WriteError(f"{target}: cannot write ({err.strerror or err}); the previous file, if any, is unchanged")


def stage(path: str | os.PathLike, write: Callable[[Path], None]) -> Staged:
    """Call `write(tmp_path)` to produce the file beside `path` and fsync it; rename with `.commit()`."""
    target = Path(path)
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp creates 0600; give the file the usual mode
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
    except BaseException as err:
        if tmp is not None:
            Staged(tmp, target).discard()
        if isinstance(err, OSError):
            raise _refused(target, err) from None
        raise
    return Staged(tmp, target)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)` to produce the file, fsync it, then rename it onto `path` in one step."""
    return stage(path, write).commit()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def json_text(obj: Any) -> str:
    """The toolkit's JSON file format: indented, sorted keys, no NaN/inf (ValueError), trailing newline."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json_text(obj))
