"""Where the tests find the shared genuine data: $SAST_SHARED_DATA, else `shared/data` beside the repository."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data() -> Path:
    env = os.environ.get("SAST_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


REAL_NMNIST = shared_data() / "real" / "nmnist"
