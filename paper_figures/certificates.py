"""Convergence (P5) and deployment certificates (P7): the rows of `verification.all`'s convergence and transfer
checks (bound against measured value, log scale, and the table), read from the verification's JSON when this
version of the verification suite has those checks; otherwise the section says they are not available.

    python -m paper_figures.certificates RUN_DIR... --out DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from .bounds import CERTIFICATE_CHECKS, group_rows, plot, rows_table
from .measure import FULL, Budget
from .runs import Run
from .section import Section, figure_main

NAME = "certificates"
TITLE = "Convergence and deployment certificates"


def build(runs: list[Run], out: Path, budget: Budget = FULL) -> Section:
    stats = group_rows(runs, budget, lambda row: row.get("check") in CERTIFICATE_CHECKS)
    present = {row["check"] for entry in stats.values() for row in entry["rows"]}
    missing = [text for check, text in CERTIFICATE_CHECKS.items() if check not in present]
    body = ""
    images = []
    if present:
        image = plot(stats, out / f"{NAME}.png")
        images = [image] if image else []
        body += rows_table(stats)
    if missing:
        body += "\nNot available: " + "; ".join(missing) + " (not run by this version of `verification.all`).\n"
    return Section(NAME, TITLE, body, images, {"groups": stats, "not_available": missing})


main = figure_main(build, NAME, __doc__)

if __name__ == "__main__":
    sys.exit(main())
