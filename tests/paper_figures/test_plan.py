"""Named configurations (the repository's configs/ and TOML folders), their flags and hash, the reproduction's
plan, the task runner, and the phenomenon criterion."""

from __future__ import annotations

import json
import sys

import pytest

from paper_figures import configs, schedule
from paper_figures.plan import BETA_GRID, RHO_GRID, apply_overrides, make_plan
from paper_figures.transfer_gap import phenomenon
from sast_core.errors import InputError

DATA = "synthetic"


def test_builtin_configurations_resolve_and_differ_where_they_should():
    named, source = configs.load_configs(None, DATA)
    assert source.startswith("built-in") or source.endswith("synthetic")
    resolved = {name: configs.resolve([*configs.train_flags(c), "--seed", "0"]) for name, c in named.items()}
    base, sast, matched = (resolved[name] for name in configs.NAMES)
    assert sast["method"] == "sast" and sast["rho"] > 0 and base["rho"] == 0.0
    assert matched["epochs"] == 2 * base["epochs"]
    assert {k for k in base if base[k] != matched[k]} == {"epochs"}
    assert {k for k in base if base[k] != sast[k]} == {"method", "rho"}
    assert len({configs.config_key(c) for c in resolved.values()}) == 3


def test_config_key_is_the_hash_of_the_full_configuration():
    flags = configs.train_flags({"hidden": [16, 8], "epochs": 2})
    assert flags == ["--hidden", "16,8", "--epochs", "2"]
    one, again = configs.resolve(flags), configs.resolve(flags)
    assert configs.config_key(one) == configs.config_key(again)
    other = configs.resolve([*flags, "--seed", "1"])
    assert configs.config_key(other) != configs.config_key(one)
    assert configs.config_key(configs.resolve(["--epochs", "2", "--hidden", "16,8"])) == configs.config_key(one)


def test_toml_config_dir_is_read_and_unknown_keys_are_refused(tmp_path):
    pytest.importorskip("tomllib")
    for name, extra in (("baseline", "epochs = 2\n"), ("sast", 'method = "sast"\nrho = 0.2\nepochs = 2\n'),
                        ("baseline-compute-matched", "epochs = 4\n")):
        (tmp_path / f"{name}.toml").write_text(f"hidden = [32]\nasam = false\n{extra}")
    named, source = configs.load_configs(str(tmp_path), DATA)
    assert source == str(tmp_path) and named["sast"]["rho"] == 0.2 and named["baseline-compute-matched"]["epochs"] == 4
    plan = make_plan(DATA, named, source, [0], quick=True, overrides=[])
    assert plan.trainings[plan.roles["sast"][0]].config["hidden"] == [32]
    (tmp_path / "sast.toml").write_text("no-such-key = 1\n")
    with pytest.raises(InputError, match="configuration sast.*unrecognized"):
        make_plan(DATA, configs.load_configs(str(tmp_path), DATA)[0], source, [0], quick=True, overrides=[])
    (tmp_path / "sast.toml").write_text("hidden = [\n")
    with pytest.raises(InputError, match="not valid TOML"):
        configs.load_configs(str(tmp_path), DATA)


def test_overrides_apply_to_all_or_to_one_configuration():
    assert apply_overrides("sast", {"epochs": 15}, ["epochs=3", "sast.rho=0.7", "baseline.rho=9"]) == \
        {"epochs": 3, "rho": 0.7}
    assert apply_overrides("baseline", {}, ["hidden=[4, 2]", "surrogate=arctan"]) == \
        {"hidden": [4, 2], "surrogate": "arctan"}
    with pytest.raises(InputError, match="KEY=VALUE"):
        apply_overrides("sast", {}, ["=3"])


def test_full_plan_adds_sweeps_that_share_the_main_runs():
    named, source = configs.load_configs(None, DATA)
    quick = make_plan(DATA, named, source, [0, 1, 2], quick=True, overrides=[])
    assert not quick.sweeps and len(quick.roles["baseline-compute-matched"]) == 2
    assert sum("verification" in m["what"] for m in quick.measurements.values()) == 2
    full = make_plan(DATA, named, source, [0, 1], quick=False, overrides=[])
    assert len(full.sweeps["rho"]) == 2 * len(set(RHO_GRID) | {named["sast"]["rho"]})
    assert len(full.sweeps["beta"]) == 2 * 2 * len(set(BETA_GRID) | {named["sast"]["beta"]})
    for key in full.roles["sast"]:
        assert key in full.sweeps["rho"] and key in full.sweeps["beta"]
    unique = set(full.sweeps["rho"]) | set(full.sweeps["beta"]) | {k for keys in full.roles.values() for k in keys}
    assert len(full.trainings) == len(unique)
    assert json.loads(json.dumps(full.to_dict()))["budget"] == "full"


def test_tasks_run_in_process_or_as_processes_and_failures_are_reported(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text("{}")
    bad.write_text("{")
    for jobs in (1, 2):
        tasks = [schedule.Task(name, "json.tool", [str(path)], tmp_path / f"{name}-{jobs}.log", 1.0)
                 for name, path in (("good", good), ("bad", bad), ("good2", good))]
        failed = schedule.run_tasks(tasks, jobs, progress=False, desc="test")
        assert [t.name for t in failed] == ["bad"]
        assert [t.exit_code for t in tasks] == [0, 1, 0]
        assert "{}" in (tmp_path / f"good-{jobs}.log").read_text()
    assert sys.argv[0] != "json.tool"


def test_phenomenon_needs_two_pooled_sds_and_a_better_hard_accuracy():
    def stats(gap_mean, gap_sd, hard):
        return {"gap": {"mean": gap_mean, "sd": gap_sd}, "hard": {"mean": hard}}

    shown = phenomenon(stats(10.0, 1.0, 70.0), stats(2.0, 1.0, 80.0))
    assert shown["shown"] and shown["difference_in_pooled_sd"] == pytest.approx(8.0)
    assert not phenomenon(stats(5.0, 3.0, 70.0), stats(2.0, 3.0, 80.0))["shown"]  # 1 pooled sd
    assert not phenomenon(stats(10.0, 1.0, 80.0), stats(2.0, 1.0, 79.0))["shown"]  # hard accuracy not above
    spreadless = phenomenon(stats(3.0, 0.0, 70.0), stats(1.0, 0.0, 80.0))  # one seed each: no sd to count in
    assert spreadless["shown"] and spreadless["difference_in_pooled_sd"] is None
    assert json.loads(json.dumps(spreadless, allow_nan=False)) == spreadless
