"""Run every check on one checkpoint, every mode of each (or those of --mode): each check's JSON and PNG, plus
summary.json and summary.md (a table of bound / empirical / ratio for every quantity, the run time of each
check and of the whole run). Exit 1 if any bound is violated.

--budget is the total (wall-clock seconds) for the measurements: each check in turn gets the larger of its fixed
share of the total (in proportion to its own default budget) and that share of the time still left, so time a
check leaves unused goes to the ones after it and an overrun never starves them.
"""

from __future__ import annotations

import json
import sys
import time

from sast_core.cli import cli_entry, parse_list
from sast_core.errors import InputError
from sast_core.flags import Text

from . import (
    check_contraction,
    check_convergence,
    check_lipschitz,
    check_sam,
    check_smoothness,
    check_state_bound,
    check_transfer,
)
from .cli import common_parser, exit_code, output_names, prepare, run_check, write_outputs
from .report import table

CHECKS = [module.CHECK for module in (check_state_bound, check_lipschitz, check_contraction, check_smoothness,
                                      check_sam, check_transfer, check_convergence)]
BUDGET = 240.0
ALL_MODES = tuple(dict.fromkeys(mode for check in CHECKS for mode in check.modes))


@cli_entry
def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = common_parser("python -m verification.all", "every verification check, with a summary table", BUDGET)
    parser.add_argument("--mode", "--modes", dest="mode", type=Text("'all' or a comma-separated list of modes"),
                        default="all",
                        help=f"'all' or a comma-separated subset of {', '.join(ALL_MODES)}; each check runs the "
                        "ones it has (default all)")
    args = parser.parse_args(argv)
    wanted = ALL_MODES if args.mode == "all" else tuple(parse_list("--mode", args.mode, choices=ALL_MODES))
    plan = [(check, tuple(m for m in check.modes if m in wanted)) for check in CHECKS]
    plan = [(check, modes) for check, modes in plan if modes]
    if not plan:
        raise InputError(f"--mode {args.mode}: no check has these modes")
    setup = prepare(args, "verification.all", output_names([check.name for check, _ in plan], summary=True),
                    argv)
    results = []
    total = sum(c.budget for c, _ in plan)
    for index, (check, modes) in enumerate(setup.bar(plan, "checks")):
        later = sum(c.budget for c, _ in plan[index:])
        share = max(args.budget * check.budget / total, setup.time_left() * check.budget / later)
        results.append(run_check(check, setup.with_budget(share), modes))
    rows = [{"check": result.check, **row.to_dict()} for result in results for row in result.rows]
    seconds = time.monotonic() - started
    timing = {result.check: round(result.seconds, 1) for result in results}
    skipped = {result.check: result.skipped for result in results if result.skipped}
    summary = {"passed": all(result.passed for result in results), "settings": setup.settings,
               "checks": {result.check: result.passed for result in results}, "seconds": round(seconds, 1),
               "check_seconds": timing, "skipped_by_budget": skipped, "rows": rows}
    lines = [f"# Verification of {args.model}", "",
             f"Every bound holds: **{'yes' if summary['passed'] else 'NO'}**. Run time {seconds:.0f} s "
             f"(budget {args.budget:g} s); per check: " + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items()) + ".",
             ""]
    if skipped:
        lines += ["Cut by the budget: " + "; ".join(f"{k}: {len(v)} item(s)" for k, v in skipped.items()) +
                  " (listed in each check's JSON).", ""]
    markdown = "\n".join(lines) + "\n" + table(rows, markdown=True) + "\n"
    write_outputs(setup, results, summary, markdown)
    print(json.dumps({**summary["checks"], "seconds": summary["seconds"]}))
    print(table(rows))
    print(f"run time {seconds:.1f} s")
    return exit_code(results)


if __name__ == "__main__":
    sys.exit(main())
