"""An ArgumentParser whose usage errors are InputErrors: one stderr line and exit 2 under `cli_entry`."""

from __future__ import annotations

import argparse
from typing import NoReturn

from sast_theory.errors import InputError


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message} (see --help)")
