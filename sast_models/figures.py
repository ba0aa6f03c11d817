"""Figures as PNG bytes (matplotlib, Agg backend), so that a command can write them with its other outputs in
one all-or-nothing commit (sast_core.runs). `plt` is pyplot on the Agg backend."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt", "png_bytes"]


def png_bytes(fig, **savefig: object) -> bytes:
    """The PNG of `fig` (savefig options passed on); the figure is closed."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", **savefig)
    finally:
        plt.close(fig)
    return buffer.getvalue()
