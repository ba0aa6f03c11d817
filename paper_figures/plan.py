"""What a reproduction trains and measures: the plan, fixed (and validated) before anything runs.

Roles: the three named configurations over the seeds (quick: the compute-matched baseline on at most
QUICK_MATCHED_SEEDS seeds); the full run adds a rho sweep (SAST at RHO_GRID) and a beta sweep (baseline and
SAST at BETA_GRID). Every training is identified by the hash of its resolved configuration: a configuration
that appears in several roles (the SAST run is also a point of both sweeps) is trained once, and its folder
runs/<method>-seed<k>-<hash> is reused by every later reproduction with the same configuration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sast_core.errors import InputError

from .configs import NAMES, config_key, resolve, train_flags
from .measure import ALL_MODES, FULL, QUICK, Budget

ROLE_LABELS = {"baseline": "baseline", "sast": "SAST", "baseline-compute-matched": "compute-matched baseline"}
RHO_GRID = (0.1, 0.25, 0.5, 1.0, 2.0)
BETA_GRID = (0.25, 0.5, 1.0, 2.0, 5.0)
QUICK_MATCHED_SEEDS = 2
QUICK_VERIFIED_SEEDS = 1
SWEEP_MODES = ("surrogate", "hard")


@dataclass
class Training:
    key: str
    flags: list[str]  # `python -m sast_models.train` flags, without --out
    config: dict[str, Any]  # resolved: every hyperparameter the run records

    @property
    def folder(self) -> str:
        return f"{self.config['method']}-seed{self.config['seed']}-{self.key[:10]}"


@dataclass
class Plan:
    data: str
    quick: bool
    seeds: list[int]
    config_source: str
    configs: dict[str, dict[str, Any]]
    budget: Budget
    trainings: dict[str, Training] = field(default_factory=dict)
    roles: dict[str, list[str]] = field(default_factory=dict)  # role -> training keys, by seed
    sweeps: dict[str, list[str]] = field(default_factory=dict)  # "rho" / "beta" -> training keys
    measurements: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # key -> {"what", "modes"}

    def add(self, config: dict[str, Any], seed: int, where: str) -> str:
        flags = [*train_flags(config), "--data", self.data, "--seed", str(seed)]
        try:
            resolved = resolve(flags)
        except InputError as err:
            raise InputError(f"{where}: {err}") from None
        key = config_key(resolved)
        self.trainings.setdefault(key, Training(key, flags, resolved))
        return key

    def measure(self, key: str, what: tuple[str, ...], modes: tuple[str, ...]) -> None:
        entry = self.measurements.setdefault(key, {"what": set(), "modes": set()})
        entry["what"].update(what)
        entry["modes"].update(modes)

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "quick": self.quick, "seeds": self.seeds, "config_source": self.config_source,
                "configs": self.configs, "budget": self.budget.name, "roles": self.roles, "sweeps": self.sweeps,
                "trainings": {k: {"folder": t.folder, "flags": t.flags, "config": t.config}
                              for k, t in self.trainings.items()},
                "measurements": {k: {name: sorted(v) for name, v in m.items()}
                                 for k, m in self.measurements.items()}}


def apply_overrides(name: str, config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Configuration `name` with the `KEY=VALUE` pairs that apply to it (`NAME.KEY=VALUE`: only to that
    configuration); VALUE is read as JSON when it parses (5, 0.3, true, [16, 32]), else as text."""
    result = dict(config)
    for item in overrides:
        key, sep, value = item.partition("=")
        target, dot, rest = key.strip().partition(".")
        if dot and target in NAMES:
            if target != name:
                continue
            key = rest
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected KEY=VALUE or NAME.KEY=VALUE, e.g. --set epochs=5")
        try:
            result[key.strip()] = json.loads(value)
        except ValueError:
            result[key.strip()] = value
    return result


def make_plan(data: str, configs: dict[str, dict[str, Any]], source: str, seeds: list[int], quick: bool,
              overrides: list[str]) -> Plan:
    """Every training and measurement of the reproduction; InputError on a configuration the training refuses."""
    configs = {name: apply_overrides(name, configs[name], overrides) for name in NAMES}
    plan = Plan(data, quick, seeds, source, configs, QUICK if quick else FULL)
    everything = ("evaluation", "theory", "membrane", "corruption")
    for name in NAMES:
        role_seeds = seeds[:QUICK_MATCHED_SEEDS] if quick and name == "baseline-compute-matched" else seeds
        plan.roles[name] = [plan.add(configs[name], seed, f"configuration {name}") for seed in role_seeds]
        what = everything if name != "baseline-compute-matched" else ("evaluation", "theory", "membrane")
        verified = role_seeds[:QUICK_VERIFIED_SEEDS] if quick else role_seeds
        if quick and name == "baseline-compute-matched":
            verified = []
        for seed, key in zip(role_seeds, plan.roles[name], strict=True):
            plan.measure(key, (*what, *(("verification",) if seed in verified else ())), ALL_MODES)
    if not quick:
        sast, baseline = configs["sast"], configs["baseline"]
        rhos = sorted({*RHO_GRID, float(sast.get("rho", 0.3))})
        plan.sweeps["rho"] = [plan.add({**sast, "rho": rho}, seed, f"rho sweep, rho {rho:g}")
                              for rho in rhos for seed in seeds]
        betas = sorted({*BETA_GRID, float(sast.get("beta", 5.0)), float(baseline.get("beta", 5.0))})
        plan.sweeps["beta"] = [plan.add({**config, "beta": beta}, seed, f"beta sweep, beta {beta:g}")
                               for config in (baseline, sast) for beta in betas for seed in seeds]
        for key in plan.sweeps["rho"] + plan.sweeps["beta"]:
            plan.measure(key, ("evaluation",), SWEEP_MODES)
    return plan


def run_dir(out: Path, training: Training) -> Path:
    return out / "runs" / training.folder
