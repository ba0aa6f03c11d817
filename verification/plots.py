"""One picture per check: for every row, the empirical value as a fraction of each bound (1 = the bound is
reached; beyond 1 = violated), so quantities of every scale share one axis."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .report import CheckResult  # noqa: E402


def _fraction(empirical: float, bound: float | None) -> float | None:
    return empirical / bound if bound is not None and bound > 0 and empirical >= 0 else None


def bound_chart(result: CheckResult) -> bytes:
    """PNG bytes: horizontal bars empirical / bound (a priori, a posteriori) per quantity, a line at 1."""
    rows = result.rows
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.32 * len(rows)))
    for k, (label, attr, color) in enumerate((("vs a priori", "prior", "#999999"),
                                              ("vs a posteriori", "posterior", "#4c72b0"))):
        bars = [(i + (k - 0.5) * 0.4, _fraction(row.empirical, getattr(row, attr) if row.claims else None))
                for i, row in enumerate(rows)]
        bars = [(position, value) for position, value in bars if value is not None]
        if bars:
            ax.barh([p for p, _ in bars], [v for _, v in bars], height=0.4, color=color, label=label)
    ax.axvline(1.0, color="#c44e52", linewidth=1)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([row.quantity + ("  [VIOLATED]" if not row.holds else "") for row in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("empirical / bound (1 = bound reached)", fontsize=8)
    ax.set_title(f"{result.property} {result.check}: {'holds' if result.passed else 'VIOLATED'}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
