"""Running the reproduction's tasks (toolkit commands): in this process one after another (`jobs` = 1), or as
separate processes, at most `jobs` at a time, each with OMP_NUM_THREADS = cores // jobs and this checkout
first on PYTHONPATH (so the children run the same code). Every task's output goes to its log file; a
progress bar advances by each task's estimated seconds, so its remaining time is the estimate rescaled by the
speed seen so far.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import subprocess
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Task:
    name: str
    module: str  # a command module with main(argv) -> exit code, run as `python -m module`
    argv: list[str]
    log: Path
    estimate_s: float
    accept: tuple[int, ...] = (EXIT_OK,)  # exit codes that count as done (verification: 1 = a bound failed)
    exit_code: int | None = None
    seconds: float = 0.0

    def command(self) -> list[str]:
        return ["python", "-m", self.module, *self.argv]


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _in_process(task: Task) -> int:
    """`python -m module argv` in this process (runpy, as -m does), output to the task's log."""
    task.log.parent.mkdir(parents=True, exist_ok=True)
    argv = sys.argv
    with open(task.log, "w") as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*found in sys.modules", RuntimeWarning)
        sys.argv = [task.module, *task.argv]
        try:
            runpy.run_module(task.module, run_name="__main__", alter_sys=True)
            return EXIT_OK
        except SystemExit as done:
            return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except Exception:  # noqa: BLE001 - a failed task is reported with its log, the others still run
            traceback.print_exc()
            return EXIT_CHECK_FAILED + 1
        finally:
            sys.argv = argv


def _environment(jobs: int) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": str(max(1, cores() // jobs))}


def run_tasks(tasks: list[Task], jobs: int, *, progress: bool, desc: str) -> list[Task]:
    """Run every task; returns the failed ones (exit code not in task.accept)."""
    bar = tqdm(total=round(sum(t.estimate_s for t in tasks)), desc=desc, unit="s", disable=not progress,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed} elapsed, about {remaining} left]")
    failed: list[Task] = []

    def finish(task: Task, code: int, started: float) -> None:
        task.exit_code, task.seconds = code, time.perf_counter() - started
        bar.update(round(task.estimate_s))
        if code not in task.accept:
            failed.append(task)

    if jobs == 1:
        for task in tasks:
            started = time.perf_counter()
            finish(task, _in_process(task), started)
    else:
        env = _environment(jobs)
        pending, running = list(tasks), []
        while pending or running:
            while pending and len(running) < jobs:
                task = pending.pop(0)
                task.log.parent.mkdir(parents=True, exist_ok=True)
                with open(task.log, "w") as handle:
                    proc = subprocess.Popen([sys.executable, "-m", task.module, *task.argv], stdout=handle,
                                            stderr=subprocess.STDOUT, env=env, cwd=os.getcwd())
                running.append((task, proc, time.perf_counter()))
            time.sleep(0.2)
            for entry in [r for r in running if r[1].poll() is not None]:
                running.remove(entry)
                finish(entry[0], entry[1].returncode, entry[2])
    bar.close()
    return failed
