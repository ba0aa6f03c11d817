"""Run every check on one checkpoint: each check's JSON and PNG, plus summary.json and summary.md (a table of
bound / empirical / ratio for every quantity). Exit 1 if any bound is violated.

P7 (per-sample deployment certificate) is not checked: sast_theory provides no certificate API yet.
"""

from __future__ import annotations

import json
import sys

from sast_core.cli import cli_entry

from . import check_contraction, check_lipschitz, check_sam, check_smoothness, check_state_bound
from .cli import common_parser, exit_code, output_names, prepare, write_outputs
from .report import table

CHECKS = [module.CHECK for module in (check_state_bound, check_lipschitz, check_contraction, check_smoothness,
                                      check_sam)]


@cli_entry
def main(argv: list[str] | None = None) -> int:
    parser = common_parser("python -m verification.all", "every verification check, with a summary table")
    args = parser.parse_args(argv)
    setup = prepare(args, "verification.all", output_names([check.name for check in CHECKS], summary=True), argv)
    results = [check.measure(setup, check.default_modes) for check in setup.bar(CHECKS, "checks")]
    rows = [{"check": result.check, **row.to_dict()} for result in results for row in result.rows]
    summary = {"passed": all(result.passed for result in results), "settings": setup.settings,
               "checks": {result.check: result.passed for result in results},
               "not_checked": {"P7": "sast_theory provides no certificate API"}, "rows": rows}
    markdown = f"# Verification of {args.model}\n\n{table(rows, markdown=True)}\n"
    write_outputs(setup, results, summary, markdown)
    print(json.dumps(summary["checks"]))
    print(table(rows))
    return exit_code(results)


if __name__ == "__main__":
    sys.exit(main())
