"""The reproduction (`python -m paper_figures.reproduce --quick`) end to end on a tiny generated set with tiny
networks: trainings, measurements, every figure, report.md / report.json, reuse on a rerun; its bad input; and
each figure module run alone on the run folders it left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paper_figures import (
    beta_sweep,
    bounds,
    certificates,
    corruption,
    hardware_table,
    membrane,
    reproduce,
    rho_sweep,
    theory_table,
    transfer_gap,
)
from sast_models.data.synthetic import generate_synthetic

FIGURES = (transfer_gap, hardware_table, membrane, corruption, rho_sweep, beta_sweep, theory_table, bounds,
           certificates)
TINY = ["--quick", "--seeds", "2", "--jobs", "1", "--no-progress", "--set", "hidden=8", "--set", "epochs=1",
        "--set", "time-bins=3", "--set", "baseline-compute-matched.epochs=2"]


@pytest.fixture(scope="module")
def tiny_reproduction(tmp_path_factory):
    root = tmp_path_factory.mktemp("reproduce")
    data = generate_synthetic(root / "set", n_train=30, n_test=20, seed=1)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("SAST_CACHE", str(root / "cache"))
    out = root / "out"
    argv = [*TINY, "--data", f"nmnist:{data}", "--out", str(out)]
    code = reproduce.main(argv)
    yield out, argv, code
    monkeypatch.undo()


def test_quick_reproduction_trains_measures_and_reports(tiny_reproduction):
    out, _, code = tiny_reproduction
    assert code == 0
    document = json.loads((out / "report.json").read_text())
    plan = document["plan"]
    assert len(plan["trainings"]) == 6 and not plan["sweeps"]
    assert {len(keys) for keys in plan["roles"].values()} == {2}
    assert set(document["sections"]) == {"transfer_gap", "hardware_table", "membrane", "corruption", "theory_table",
                                         "bounds", "certificates"}
    groups = document["sections"]["transfer_gap"]["groups"]
    assert set(groups) == {"baseline", "SAST", "compute-matched baseline"}
    assert all(g["n_samples"] == 20 and len(g["hard"]["values"]) == 2 for g in groups.values())
    criterion = document["criterion"]
    assert criterion["gap_difference_pp"] == pytest.approx(groups["baseline"]["gap"]["mean"]
                                                           - groups["SAST"]["gap"]["mean"])
    text = (out / "report.md").read_text()
    for needle in ("## What was run", "What `--quick` leaves out", "published SAST", "## Commands",
                   "python -m sast_models.train", "## Versions and machine", "## Time",
                   "| transfer | hard P7", "| convergence | P5"):
        assert needle in text
    for png in ("transfer_gap", "hardware_table", "membrane", "corruption", "bounds", "certificates"):
        assert (out / "figures" / f"{png}.png").stat().st_size > 5000
        assert f"figures/{png}.png" in text
    hardware = document["sections"]["hardware_table"]["groups"]["SAST"]
    assert set(hardware["accuracy"]) == {"surrogate", "hard", "int8", "int4", "fixed"}
    assert hardware["p6_bits"]["int8"] and hardware["synops_k"]["hard"]["mean"] > 0
    verified = [run for run in (out / "runs").iterdir() if (run / "measurements" / "verification").is_dir()]
    assert len(verified) == 2  # quick: the first seed of the baseline and of SAST


def test_rerun_reuses_every_training_and_measurement(tiny_reproduction):
    out, argv, _ = tiny_reproduction
    assert reproduce.main(argv) == 0
    document = json.loads((out / "report.json").read_text())
    assert document["reused"] == 6 and document["ran"] == []


def test_an_interrupted_training_continues(tiny_reproduction, tmp_path):
    out, argv, _ = tiny_reproduction
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(out, copy)
    victim = next(p for p in (copy / "runs").iterdir() if p.name.startswith("sast-seed1"))
    manifest = json.loads((victim / "manifest.json").read_text())  # what a training killed mid-run leaves:
    manifest["entries"]["sast_models.train"]["complete"] = False  # its entry incomplete, no model, no summary
    (victim / "manifest.json").write_text(json.dumps(manifest))
    (victim / "summary.json").unlink()
    (victim / "model.safetensors").unlink()
    shutil.rmtree(victim / "measurements")
    argv = [*argv[:-1], str(copy)]
    assert reproduce.main(argv) == 0
    document = json.loads((copy / "report.json").read_text())
    assert document["reused"] == 5
    assert [task["name"].split()[0] for task in document["ran"]].count("train") == 1
    assert (victim / "measurements" / "evaluation" / "key.json").is_file()


@pytest.mark.parametrize("module", FIGURES, ids=lambda m: m.NAME)
def test_every_figure_module_runs_alone_on_the_run_folders(tiny_reproduction, tmp_path, module, capsys):
    out, _, _ = tiny_reproduction
    runs = sorted(str(p) for p in (out / "runs").iterdir())
    if module in (bounds, certificates):  # verification exists for the first seeds only: measure no more
        runs = [r for r in runs if (Path(r) / "measurements" / "verification").is_dir()]
    assert module.main([*runs, "--out", str(tmp_path), "--budget", "quick"]) == 0
    assert (tmp_path / f"{module.NAME}.md").read_text().startswith("## ")
    assert json.loads((tmp_path / f"{module.NAME}.json").read_text())
    if module not in (theory_table, certificates):
        assert (tmp_path / f"{module.NAME}.png").stat().st_size > 5000
    assert "## " in capsys.readouterr().out


@pytest.mark.parametrize("bad, message", [
    (["--seeds", "0"], "--seeds"),
    (["--jobs", "0"], "--jobs"),
    (["--set", "epochs"], "KEY=VALUE"),
    (["--set", "no-such-key=3"], "unrecognized arguments"),
    (["--set", "epochs=0"], "--epochs"),
    (["--data", "nmnist:/nonexistent/folder"], "not found"),
    (["--data", "imagenet"], "--data"),
    (["--config-dir", "/nonexistent/configs"], "--config-dir"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, bad, message):
    out = tmp_path / "out"
    assert reproduce.main(["--quick", "--out", str(out), *bad]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err
    assert not out.exists()


def test_measurements_are_reused_only_for_the_same_model_and_covering_settings(tiny_reproduction, tmp_path):
    import shutil

    from paper_figures.measure import QUICK, settings_of, stored
    from paper_figures.runs import load_run

    out, _, _ = tiny_reproduction
    folders = sorted(p for p in (out / "runs").iterdir() if p.name.startswith("baseline-seed0"))
    copy = tmp_path / "run"
    shutil.copytree(folders[0], copy)
    run = load_run(copy)
    fewer = settings_of("evaluation", run, QUICK, ("surrogate", "hard"))
    assert stored(run, "evaluation", fewer) is not None  # stored with all five modes
    assert stored(run, "evaluation", {**fewer, "subset": "val"}) is None
    assert stored(run, "membrane", settings_of("membrane", run, QUICK, ())) is not None
    shutil.copy(folders[1] / "model.safetensors", copy / "model.safetensors")  # another model, same folder
    run = load_run(copy)
    for name in ("evaluation", "membrane", "theory"):
        assert stored(run, name, settings_of(name, run, QUICK, ("surrogate", "hard"))) is None
