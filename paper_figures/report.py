"""DIR/report.md and DIR/report.json of a reproduction: what was run, the results in the paper's table format
beside the published numbers, every figure, the exact commands, versions, machine and time."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from sast_core.atomic import atomic_write_json, atomic_write_text
from sast_core.runs import package_version

from .configs import NAMES
from .plan import ROLE_LABELS, Plan, run_dir
from .schedule import PROJECT_ROOT, Task, cores
from .section import Section, table

PACKAGES = ("torch", "numpy", "scipy", "sympy", "matplotlib", "safetensors", "tqdm")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "sast-toolkit": package_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    try:
        commit = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            found["git commit"] = commit.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip()
                                                           else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "cores available": cores()}
    for path, key, name in (("/proc/cpuinfo", "model name", "cpu"), ("/proc/meminfo", "MemTotal", "memory")):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    info[name] = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
    return info


def quick_omissions(plan: Plan) -> list[str]:
    budget = plan.budget
    levels = sum(len(v) - 1 for v in budget.corruption_levels.values()) // max(len(budget.corruption_levels), 1)
    return [
        "no rho sweep and no beta sweep (the full run trains SAST at 5 radii and both methods at 5 sharpnesses)",
        "the compute-matched baseline on at most 2 seeds",
        f"verification on the first seed of the baseline and of SAST only, with {budget.verify_samples} samples "
        f"and {budget.verify_steps} attack steps (full: every seed of the three roles, 16 samples, 30 steps)",
        f"corruptions at {levels} severities per kind besides the clean data (full: 4)",
    ]


def configuration_table(plan: Plan) -> str:
    keys = list(dict.fromkeys(k for name in NAMES for k in plan.configs[name]))
    rows = [[key, *(_cell(plan.configs[name].get(key)) for name in NAMES)] for key in keys]
    return table(["key", *NAMES], rows)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def commands(plan: Plan, out: Path, command: list[str], tasks: list[Task]) -> str:
    lines = [" ".join(command), ""]
    for training in plan.trainings.values():
        lines.append(" ".join(["python", "-m", "sast_models.train", *training.flags, "--out",
                               str(run_dir(out, training)), "--resume"]))
    lines.append("")
    lines += [" ".join(task.command()) for task in tasks if task.module == "paper_figures.measure"]
    return "```\n" + "\n".join(lines).strip() + "\n```\n"


def headline(criterion: dict[str, Any] | None, stats: dict[str, Any]) -> str:
    if criterion is None:
        return "The baseline or SAST runs are missing: no comparison.\n"
    base, sast = stats.get("baseline"), stats.get("SAST")
    verdict = "shown" if criterion["shown"] else "NOT shown"
    sds = criterion["difference_in_pooled_sd"]
    in_sds = "infinitely many (no seed spread)" if sds is None else f"{sds:.1f}"
    return (f"Transfer gap (surrogate - hard accuracy): baseline {base['gap']['mean']:.1f} +- {base['gap']['sd']:.1f} "
            f"points, SAST {sast['gap']['mean']:.1f} +- {sast['gap']['sd']:.1f}; hard-spike accuracy baseline "
            f"{base['hard']['mean']:.1f} +- {base['hard']['sd']:.1f} %, SAST {sast['hard']['mean']:.1f} +- "
            f"{sast['hard']['sd']:.1f} %. The gap difference is {criterion['gap_difference_pp']:.1f} points = "
            f"{in_sds} pooled standard deviations; SAST's hard-spike accuracy is "
            f"{'above' if criterion['sast_hard_above_baseline'] else 'NOT above'} the baseline's. Phenomenon "
            f"(gap difference >= 2 pooled sd and SAST hard > baseline hard): **{verdict}**.\n")


def write(out: Path, plan: Plan, sections: list[Section], context: dict[str, Any]) -> dict[str, Any]:
    """Write report.md and report.json; returns the JSON document."""
    stats = next((s.data["groups"] for s in sections if s.name == "transfer_gap"), {})
    criterion = context.get("criterion")
    lines = ["# SAST reproduction report", "",
             f"Data: `{plan.data}`. Mode: {'quick' if plan.quick else 'full'}. Seeds: "
             f"{', '.join(map(str, plan.seeds))}. Configurations: {plan.config_source}.", "",
             headline(criterion, stats)]
    if context["failures"]:
        lines += ["**Failed tasks** (see their logs):", ""] + [f"- {line}" for line in context["failures"]] + [""]
    lines += ["## What was run", "",
              f"{len(plan.trainings)} trainings ({context['reused']} reused from earlier runs), roles: "
              + ", ".join(f"{ROLE_LABELS[r]} x {len(keys)}" for r, keys in plan.roles.items())
              + (f", rho sweep {len(plan.sweeps['rho'])} runs, beta sweep {len(plan.sweeps['beta'])} runs"
                 if plan.sweeps else "") + ". Each model is evaluated in every deployment mode (surrogate, hard, INT8, "
              "INT4, fixed) on the evaluation set; the theory report and the verification suite run on the final "
              "models as listed below.", "", configuration_table(plan)]
    if plan.quick:
        lines += ["What `--quick` leaves out:", ""] + [f"- {item}" for item in quick_omissions(plan)] + [""]
    for section in sections:
        lines += [section.markdown(out), ""]
    for name, reason in context["skipped_sections"].items():
        lines += [f"## {name}", "", f"Not available: {reason}", ""]
    lines += ["## Commands", "", "Reproduction, then each training and measurement it ran (from the repository root):",
              "", commands(plan, out, context["command"], context["tasks"]),
              "## Versions and machine", "",
              table(["what", "value"], [[k, v] for k, v in {**context["versions"], **context["machine"]}.items()]),
              "## Time", "",
              table(["phase", "wall (s)", "estimated (s)"],
                    [[name, f"{t['wall_s']:.0f}", f"{t['estimate_s']:.0f}"] for name, t in context["phases"].items()]),
              f"Total: {context['wall_s']:.0f} s wall, {context['cpu_s']:.0f} s CPU (this process and its children), "
              f"{context['jobs']} job(s) at a time. Estimated up front: {context['estimate_s']:.0f} s.", ""]
    atomic_write_text(out / "report.md", "\n".join(lines).rstrip() + "\n")
    document = {"plan": plan.to_dict(), "criterion": criterion, "sections": {s.name: s.data for s in sections},
                "skipped_sections": context["skipped_sections"], "failures": context["failures"],
                **{k: context[k] for k in ("versions", "machine", "phases", "wall_s", "cpu_s", "jobs", "estimate_s",
                                           "calibration", "command", "reused", "ran")}}
    atomic_write_json(out / "report.json", document)
    return document
