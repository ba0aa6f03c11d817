"""Checks on output folders, done before anything is written (bad input = one line, exit 2, no files)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError


def check_writable(out: Path, flag: str = "--out") -> None:
    """InputError unless `out` is a writable folder, or can be created inside a writable existing folder."""
    if out.exists():
        if not out.is_dir():
            raise InputError(f"{flag} {out}: exists and is not a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise InputError(f"{flag} {out}: folder is not writable")
        return
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {out}: cannot create it ({parent} is not a writable folder)")
