"""The whole reproduction from one command: `python -m paper_figures.reproduce [--quick] [--data SPEC]
[--config-dir DIR] [--out DIR] [--seeds N] [--jobs N]`.

Generates the embedded dataset if needed; trains the baseline, SAST and the compute-matched baseline from the
named configurations (paper_figures.configs) over N seeds, plus a rho sweep and a beta sweep in the full run;
evaluates every model in every deployment mode (surrogate, hard, INT8, INT4, fixed) with SynOps; runs the theory
report and the verification suite on the final models; measures near-threshold membrane mass and corruption
robustness; and writes DIR/report.md (what was run, the results in the paper's table format beside the
published numbers, every figure, the exact commands, versions, machine, time), DIR/report.json (every number),
DIR/figures/*.png, DIR/plan.json, DIR/logs/ and the run folders DIR/runs/<method>-seed<k>-<config hash>/.
Reruns reuse finished runs and measurements keyed by their full configuration; an interrupted reproduction
continues where it stopped; `--jobs N` runs independent trainings (and measurements) as separate processes.
Exit 0: everything ran and every check held; 1: a task failed or a verification bound was violated; 2: bad
input (one line, nothing written).
"""

from __future__ import annotations

import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from sast_core.atomic import atomic_write_json
from sast_core.cli import CliParser, cli_entry
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_core.flags import Integer, Text
from sast_core.outputs import check_writable
from sast_core.runs import completed, jsonable
from sast_models.cli import train
from sast_models.data.loading import SPEC_HELP, load_frames, open_events
from sast_models.data.splits import stratified_split
from sast_models.data.synthetic import PRESETS

from . import (
    beta_sweep,
    bounds,
    certificates,
    corruption,
    hardware_table,
    membrane,
    report,
    rho_sweep,
    theory_table,
    transfer_gap,
)
from .configs import load_configs
from .estimate import calibrate, measurement_s, training_s
from .measure import evaluation_split, stored
from .plan import ROLE_LABELS, Plan, Training, make_plan, run_dir
from .runs import Run, load_run
from .schedule import Task, cores, run_tasks
from .section import Section

QUICK_OUT, FULL_OUT = "runs/quick", "runs/reproduce"


def build_parser() -> CliParser:
    p = CliParser(prog="python -m paper_figures.reproduce", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="the few-minute version (report.md lists what it omits)")
    p.add_argument("--data", type=Text("a dataset spec"), default="synthetic",
                   help=f"{SPEC_HELP} (default: the embedded synthetic set)")
    p.add_argument("--config-dir", type=Text("a folder path"), default=None,
                   help="folder with baseline.toml, sast.toml, baseline-compute-matched.toml (default: the "
                        "repository's configs/<data kind>/)")
    p.add_argument("--out", type=Text("a folder path"), default=None,
                   help=f"output folder (default {QUICK_OUT} with --quick, else {FULL_OUT})")
    p.add_argument("--seeds", type=Integer(1), default=3, help="seeds per configuration (0..N-1)")
    p.add_argument("--jobs", type=Integer(1), default=None,
                   help="tasks run at the same time as separate processes (default: the number of cores; 1 = "
                        "everything in this process)")
    p.add_argument("--set", type=Text("KEY=VALUE"), action="append", default=[], metavar="KEY=VALUE",
                   help="override a configuration key in every configuration, or with NAME.KEY=VALUE in one "
                        "(repeatable), e.g. --set epochs=5 --set baseline-compute-matched.epochs=10")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return p


def normalise_data(spec: str) -> str:
    """The spec with an absolute path (so the configuration, and its hash, do not depend on the cwd)."""
    kind, sep, path = spec.partition(":")
    if kind in PRESETS and not sep:
        return spec
    if kind in ("nmnist", "dvsgesture") and path:
        return f"{kind}:{Path(path).expanduser().resolve()}"
    raise InputError(f"--data {spec!r}: expected {SPEC_HELP}")


def validate(args) -> tuple[Plan, Path, int]:
    """Everything checked before the first file is written."""
    jobs = cores() if args.jobs is None else args.jobs
    out = Path(args.out or (QUICK_OUT if args.quick else FULL_OUT))
    check_writable(out)
    data = normalise_data(args.data)
    configs, source = load_configs(args.config_dir, data)
    plan = make_plan(data, configs, source, list(range(args.seeds)), args.quick, args.set)
    if data.partition(":")[0] not in PRESETS:
        open_events(data, split="train")  # the folder exists and holds recordings
    for training in plan.trainings.values():  # each run folder can take its run (the training's own checks)
        train.plan(training_argv(out, training), with_data=False)
    return plan, out, jobs


def training_argv(out: Path, training: Training) -> list[str]:
    return [*training.flags, "--out", str(run_dir(out, training)), "--resume", "--no-progress"]


def finished(out: Path, plan: Plan, key: str) -> bool:
    """The run folder's manifest records a complete training of exactly this configuration (another one there
    is an error; an unfinished one is resumed by the training command, which checks its configuration)."""
    folder = run_dir(out, plan.trainings[key])
    entry = completed(folder, train.ENTRY)
    if entry is None or not all((folder / name).is_file() for name in entry.files):
        return False
    if entry.configuration != jsonable(plan.trainings[key].config):
        raise InputError(f"{folder}: holds a finished run of another configuration; move it away")
    return True


def sizes(plan: Plan) -> dict[str, Any]:
    """Frames of the baseline configuration's training split (framed once here: the cache serves the runs),
    its train / validation / evaluation sizes."""
    config = plan.trainings[plan.roles["baseline"][0]].config
    framing = {"time_bins": config["time_bins"], "duration_us": config["duration_us"], "mode": config["frame_mode"],
               "downsample": config["downsample"]}
    frames, labels, info = load_frames(plan.data, split=config["split"], **framing)
    train_idx, val_idx = stratified_split(labels.numpy(), config["val_fraction"], config["seed"])
    split, subset = evaluation_split(plan.data)
    n_eval = len(val_idx) if subset == "val" else len(open_events(plan.data, split=split).labels)
    return {"config": config, "frames": frames, "labels": labels, "info": info, "n_train": len(train_idx),
            "n_val": len(val_idx), "n_eval": n_eval}


def training_tasks(plan: Plan, out: Path, data: dict[str, Any], cal, jobs: int) -> tuple[list[Task], int]:
    tasks, reused = [], 0
    for key, training in plan.trainings.items():
        if finished(out, plan, key):
            reused += 1
            continue
        tasks.append(Task(f"train {training.folder}", "sast_models.train", training_argv(out, training),
                          out / "logs" / f"train-{training.folder}.log",
                          training_s(training.config, data["n_train"], data["n_val"], cal, jobs > 1)))
    return tasks, reused


def measurement_tasks(plan: Plan, out: Path, data: dict[str, Any], cal, jobs: int,
                      skip: set[str]) -> list[Task]:
    """Pending measurements, runs with the same request grouped, each group in at most `jobs` processes."""
    from .measure import settings_of

    groups: dict[tuple, list[str]] = {}
    for key, request in plan.measurements.items():
        if key in skip:
            continue
        folder = run_dir(out, plan.trainings[key])
        what, modes = sorted(request["what"]), tuple(sorted(request["modes"]))
        if (folder / "summary.json").is_file():
            run = load_run(folder)
            what = [name for name in what if stored(run, name, settings_of(name, run, plan.budget, modes)) is None]
        if what:
            groups.setdefault((tuple(what), modes), []).append(key)
    tasks = []
    for (what, modes), keys in groups.items():
        chunks = [keys[i::jobs] for i in range(min(jobs, len(keys)))]
        for index, chunk in enumerate(chunks):
            folders = [str(run_dir(out, plan.trainings[k])) for k in chunk]
            estimate = measurement_s(set(what), set(modes), data["n_eval"], len(chunk), plan.budget, cal)
            tasks.append(Task(f"measure {'+'.join(what)} [{index + 1}/{len(chunks)}]", "paper_figures.measure",
                              [*folders, "--what", ",".join(what), "--modes", ",".join(modes), "--budget",
                               plan.budget.name], out / "logs" / f"measure-{'-'.join(what)}-{index + 1}.log",
                              estimate, accept=(EXIT_OK, EXIT_CHECK_FAILED)))
    return tasks


def sections(plan: Plan, out: Path, skipped: dict[str, str]) -> list[Section]:
    """Every figure and table on the finished runs (a section whose runs are missing is skipped, with why)."""
    figures = out / "figures"

    def runs(keys: list[str], label: str | None = None) -> list[Run]:
        found = []
        for key in keys:
            folder = run_dir(out, plan.trainings[key])
            if (folder / "summary.json").is_file():
                found.append(load_run(folder))
                found[-1].label = label or ""
        return found

    def role_runs(*roles: str, verified: bool = False) -> list[Run]:
        found = []
        for role in roles:
            keys = [k for k in plan.roles[role] if not verified or "verification" in plan.measurements[k]["what"]]
            found += runs(keys, ROLE_LABELS[role])
        return found

    main_roles = ("baseline", "sast", "baseline-compute-matched")
    wanted = [(transfer_gap, role_runs(*main_roles)), (hardware_table, role_runs(*main_roles)),
              (membrane, role_runs(*main_roles)), (corruption, role_runs("baseline", "sast"))]
    if plan.sweeps:
        for module, name in ((rho_sweep, "rho"), (beta_sweep, "beta")):
            members = runs(plan.sweeps[name] + (plan.roles["baseline"] if name == "rho" else []))
            wanted.append((module, members))
    wanted += [(theory_table, role_runs(*main_roles)), (bounds, role_runs(*main_roles, verified=True)),
               (certificates, role_runs(*main_roles, verified=True))]
    built = []
    for module, members in wanted:
        if not members:
            skipped[module.TITLE] = "its runs did not finish"
            continue
        try:
            built.append(module.build(members, figures, plan.budget))
        except Exception as err:  # noqa: BLE001 - one broken figure must not lose the report
            log = out / "logs" / f"section-{module.NAME}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(traceback.format_exc())
            skipped[module.TITLE] = f"{type(err).__name__}: {err} (see {log})"
    return built


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    plan, out, jobs = validate(args)
    command = ["python", "-m", "paper_figures.reproduce", *(sys.argv[1:] if argv is None else argv)]
    started, cpu_started = time.perf_counter(), cpu_seconds()
    say = (lambda text: print(text, file=sys.stderr)) if args.progress else (lambda text: None)
    say(f"[reproduce] {'quick' if plan.quick else 'full'} reproduction on {plan.data}: preparing the data ...")
    data = sizes(plan)
    cal = calibrate(data["config"], data["frames"], data["labels"], data["info"])
    train, reused = training_tasks(plan, out, data, cal, jobs)
    measure = measurement_tasks(plan, out, data, cal, jobs, set())
    estimate = (sum(t.estimate_s for t in train) + sum(t.estimate_s for t in measure)) / jobs + 10.0
    say(f"[reproduce] {len(plan.trainings)} trainings ({reused} finished already), {len(measure)} measurement "
        f"task(s), {jobs} at a time: estimated {estimate / 60:.1f} min on this machine "
        f"(one training step {1000 * cal.step_s:.0f} ms)")
    atomic_write_json(out / "plan.json", {**plan.to_dict(), "estimate_s": estimate, "calibration": cal.to_dict()})
    phases: dict[str, dict[str, float]] = {"preparation": {"wall_s": time.perf_counter() - started,
                                                           "estimate_s": 10.0}}

    def phase(name: str, tasks: list[Task]) -> list[Task]:
        phase_start = time.perf_counter()
        failed = run_tasks(tasks, jobs, progress=args.progress, desc=name)
        phases[name] = {"wall_s": time.perf_counter() - phase_start,
                        "estimate_s": sum(t.estimate_s for t in tasks) / jobs}
        return failed

    failed = phase("training", train)
    unfinished = {k for k, t in plan.trainings.items() if not (run_dir(out, t) / "summary.json").is_file()}
    measure = measurement_tasks(plan, out, data, cal, jobs, unfinished)
    failed += phase("measurements", measure)
    say("[reproduce] figures and report ...")
    phase_start = time.perf_counter()
    skipped: dict[str, str] = {}
    built = sections(plan, out, skipped)
    stats = next((s.data["groups"] for s in built if s.name == "transfer_gap"), {})
    criterion = (transfer_gap.phenomenon(stats["baseline"], stats["SAST"])
                 if {"baseline", "SAST"} <= set(stats) else None)
    phases["figures and report"] = {"wall_s": time.perf_counter() - phase_start, "estimate_s": 10.0}
    failures = [f"{t.name}: exit {t.exit_code} (log {t.log})" for t in failed]
    violated = [t.name for t in measure if t.exit_code == EXIT_CHECK_FAILED]
    context = {"command": command, "tasks": train + measure, "reused": reused, "failures": failures,
               "ran": [{"name": t.name, "exit_code": t.exit_code, "seconds": t.seconds, "estimate_s": t.estimate_s}
                       for t in train + measure],
               "skipped_sections": skipped, "criterion": criterion, "versions": report.versions(),
               "machine": report.machine(), "phases": phases, "jobs": jobs, "estimate_s": estimate,
               "calibration": cal.to_dict(), "wall_s": time.perf_counter() - started,
               "cpu_s": cpu_seconds() - cpu_started}
    report.write(out, plan, built, context)
    table = next((s for s in built if s.name == "transfer_gap"), None)
    print(report.headline(criterion, stats))
    if table is not None:
        print(table.body)
    print(f"report: {out / 'report.md'} ({context['wall_s']:.0f} s wall, {context['cpu_s']:.0f} s CPU)")
    for line in failures + [f"{name}: a verification bound was violated" for name in violated]:
        print(f"failed: {line}", file=sys.stderr)
    return EXIT_CHECK_FAILED if failures or violated or skipped else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
