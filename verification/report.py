"""Results of a check: rows of (bound a priori, bound a posteriori, empirical value, ratio, witness), verdicts,
the printed table and the JSON document.

A row holds when the empirical value does not exceed the tightest bound it is compared with (slack 1e-9 of
the bound's magnitude, for float64 evaluation). A row without a bound (claims=False, e.g. hard-mode difference
quotients) is reported and never fails. ratio = tightest bound / empirical (None unless both are > 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .witness import Witness

RELATIVE_SLACK = 1e-9


@dataclass
class Row:
    """One measured quantity."""

    quantity: str
    empirical: float
    prior: float | None = None
    posterior: float | None = None
    witness: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    claims: bool = True
    replay: Witness | None = field(default=None, repr=False)  # what recomputes this value (verification.replay)
    witness_file: str | None = None  # set when the witness was saved (violated rows)

    @property
    def bound(self) -> float | None:
        """The tightest bound compared with (a posteriori when there is one)."""
        values = [b for b in (self.prior, self.posterior) if b is not None]
        return min(values) if values and self.claims else None

    @property
    def ratio(self) -> float | None:
        bound = self.bound
        return bound / self.empirical if bound is not None and bound > 0 and self.empirical > 0 else None

    @property
    def holds(self) -> bool:
        bound = self.bound
        return bound is None or self.empirical <= bound + RELATIVE_SLACK * abs(bound)

    def to_dict(self) -> dict[str, Any]:
        return {"quantity": self.quantity, "bound_a_priori": _number(self.prior if self.claims else None),
                "bound_a_posteriori": _number(self.posterior if self.claims else None),
                "empirical": _number(self.empirical), "ratio": _number(self.ratio), "holds": self.holds,
                "bound_claimed": self.claims, "witness": self.witness, "details": self.details,
                **({"witness_file": self.witness_file, "replay_command": f"python -m verification.replay "
                    f"{self.witness_file}"} if self.witness_file else {})}


@dataclass
class CheckResult:
    """Everything one check reports."""

    check: str
    property: str
    settings: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # work the --budget cut (stated, never silent)
    figure: Any = None  # a callable (CheckResult -> PNG bytes) for checks with their own picture
    extra: dict[str, Any] = field(default_factory=dict)  # check-specific data for the JSON (curves, per-sample)
    seconds: float | None = None

    @property
    def passed(self) -> bool:
        return all(row.holds for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "property": self.property, "passed": self.passed,
                "settings": self.settings, "notes": self.notes, "skipped_by_budget": self.skipped,
                "seconds": self.seconds, "rows": [row.to_dict() for row in self.rows], **self.extra}


def _number(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _cell(text: str) -> str:
    """A markdown table cell: pipes escaped (max|u| must not split the row), no line breaks."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _verdict(row: dict[str, Any]) -> str:
    if not row.get("bound_claimed", True):
        return "-"  # reported only: no bound is claimed
    return "yes" if row["holds"] else "NO"


def table(rows: list[dict[str, Any]], markdown: bool = False) -> str:
    """Rows (as in to_dict, with an optional 'check') as a plain or markdown table."""
    head = ["check", "quantity", "a priori", "a posteriori", "empirical", "ratio", "holds"]
    body = [[row.get("check", ""), row["quantity"], _fmt(row["bound_a_priori"]), _fmt(row["bound_a_posteriori"]),
             _fmt(row["empirical"]), _fmt(row["ratio"]), _verdict(row)] for row in rows]
    if not any(row[0] for row in body):
        head, body = head[1:], [row[1:] for row in body]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in body])
    widths = [max(len(str(cell)) for cell in column) for column in zip(head, *body)]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)) for line in [head, *body])
