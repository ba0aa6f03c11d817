"""The published SAST numbers (arXiv 2603.18039 and 2604.09696, as collected in docs/DESIGN.md and the recipe
issue) and the data each came from, to stand beside ours in the report and the README."""

from __future__ import annotations

from typing import Any

SOURCE = "arXiv 2603.18039 / 2604.09696"

# per dataset kind: the data the papers measured on, and per method the numbers (accuracy in %, SynOps per
# sample in thousands, for INT8 deployment); None = not published
PUBLISHED: dict[str, dict[str, Any]] = {
    "nmnist": {
        "data": "N-MNIST test set, as published",
        "rho": 0.30,
        "methods": {
            "baseline": {"surrogate": 96.0, "hard": 65.7, "gap": 30.3, "int8": 47.6, "int4": 43.2,
                         "synops_int8_k": 1734.0},
            "sast": {"surrogate": 97.2, "hard": 94.7, "gap": 2.5, "int8": 96.9, "int4": 81.0,
                     "synops_int8_k": 1315.0},
        },
    },
    "dvsgesture": {
        "data": "DVS Gesture test trials, as published",
        "rho": 0.40,
        "methods": {
            "baseline": {"surrogate": None, "hard": 31.8, "gap": None, "int8": 25.3, "int4": 26.0,
                         "synops_int8_k": 86221.0},
            "sast": {"surrogate": None, "hard": 63.3, "gap": None, "int8": 47.6, "int4": 43.8,
                     "synops_int8_k": 4323.0},
        },
    },
}
EPOCH_TIME_RATIO = 2.08  # SAST / baseline training time per epoch, published


def published_for(kind: str) -> dict[str, Any] | None:
    """The published numbers to compare a run on `kind` data with (the embedded set imitates N-MNIST)."""
    return PUBLISHED.get("nmnist" if kind == "synthetic" else kind)
