"""Bound / observed ratios collected by the bound tests and printed once per module (`-s` shows them)."""

from __future__ import annotations

import math

import numpy as np


class Tightness:
    def __init__(self) -> None:
        self.ratios: dict[str, list[float]] = {}

    def record(self, name: str, bound: float, observed: float) -> None:
        if observed > 0 and math.isfinite(bound):
            self.ratios.setdefault(name, []).append(bound / observed)

    def print(self, unit: str) -> None:
        for name, values in sorted(self.ratios.items()):
            print(f"\n[tightness] {name}: bound/observed min {min(values):.3g} median {np.median(values):.3g} "
                  f"max {max(values):.3g} over {len(values)} {unit}")
