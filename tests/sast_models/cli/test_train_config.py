"""Training recipes: --config TOML files, --val-fraction 0, the cosine schedule, explicit perturbation, configs/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_train import tensors, tiny_args, write_tiny_nmnist

from sast_core.config_file import read_config
from sast_models.checkpoint import read_header
from sast_models.cli import evaluate, sweep, train
from sast_models.training.schedule import learning_rate

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("tiny")
    root = write_tiny_nmnist(base / "nmnist")
    return {"data": f"nmnist:{root}", "cache": str(base / "cache"), "base": base}


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def summary_of(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def metrics_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_config_values_apply_and_command_line_flags_win(tiny, tmp_path, capsys):
    config = write_toml(tmp_path / "r.toml", 'method = "sast"\nrho = 0.2\nhidden = [12]\nepochs = 1\n'
                                             'lr_schedule = "cosine"\nasam = true\n')
    out = tmp_path / "run"
    assert train.main([*tiny_args(tiny, out, "--rho", "0.4"), "--config", str(config), "--epochs", "1"]) == 0
    result = summary_of(out)
    assert result["method"] == "sast" and result["rho"] == 0.4  # the flag beats the file
    assert result["config"]["hidden"] == [16]  # tiny_args passes --hidden 16 on the command line
    assert result["config"]["asam"] is True and result["config"]["lr_schedule"] == "cosine"
    assert result["config_file"] == str(config.resolve())
    header = read_header(out / "model.safetensors")
    assert header["hyperparameters"] == result["config"]
    assert header["provenance"]["config_file"] == str(config.resolve())


def test_config_may_hold_every_flag_including_out_and_booleans(tiny, tmp_path, capsys):
    out = tmp_path / "from-file"
    config = write_toml(tmp_path / "all.toml", f"""
data = "{tiny['data']}"
cache-dir = "{tiny['cache']}"
out = "{out}"
hidden = [16]
time-bins = 4
downsample = 2
batch_size = 8
epochs = 1
lr = 0.01
parameterization = "plain"
beta = 1
method = "baseline"
no-progress = true
""")
    assert train.main(["--config", str(config)]) == 0
    result = summary_of(out)
    assert result["method"] == "baseline" and result["config"]["hidden"] == [16] and result["epochs"] == 1
    assert result["config"]["batch_size"] == 8 and result["config"]["beta"] == 1.0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("rhoo = 0.3\n", "unknown key 'rhoo'"),
        ('epochs = "ten"\n', "key 'epochs'"),
        ("epochs = 2.5\n", "an integer"),
        ("asam = 1\n", "true or false"),
        ('perturb = "sideways"\n', "one of raw, explicit"),
        ("[rho]\nvalue = 1\n", "not a table"),
        ("rho = 0.3\nrho-scaling = 1\n", "key 'rho-scaling'"),
        ("lr = 1e-3\n[x\n", "not valid TOML"),
        ("time-bins = 4\ntime_bins = 5\n", "set the same flag"),
        ("config = 'other.toml'\n", "unknown key 'config'"),
    ],
    ids=["unknown", "string-for-int", "float-for-int", "int-for-bool", "bad-choice", "table", "int-for-choice",
         "bad-toml", "two-spellings", "nested-config"],
)
def test_bad_config_is_one_line_exit_2_and_writes_nothing(tiny, tmp_path, capsys, text, needle):
    config = write_toml(tmp_path / "bad.toml", text)
    out = tmp_path / "never"
    assert train.main([*tiny_args(tiny, out), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --config ") and err.count("\n") == 1 and needle in err and str(config) in err
    assert not out.exists()


def test_missing_config_file(tiny, tmp_path, capsys):
    assert train.main([*tiny_args(tiny, tmp_path / "never"), "--config", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_val_fraction_zero_trains_on_every_sample_and_evaluate_scores_it(tiny, tmp_path, capsys):
    out = tmp_path / "all"
    assert train.main(tiny_args(tiny, out, "--val-fraction", "0", "--method", "sast", "--rho", "0.1")) == 0
    result = summary_of(out)
    assert result["train_size"] == 60 and result["val_size"] == 0
    assert result["surrogate_acc"] is None and result["hard_acc"] is None and result["transfer_gap_pp"] is None
    assert all(line["surrogate_acc"] is None and line["train_loss"] > 0 for line in metrics_of(out))
    capsys.readouterr()
    assert evaluate.main(["--model", str(out / "model.safetensors"), "--split", "train", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0 <= report["modes"]["hard"]["accuracy"] <= 100 and report["modes"]["hard"]["n_samples"] == 60
    assert evaluate.main(["--model", str(out / "model.safetensors"), "--split", "train", "--subset", "val",
                          "--no-progress"]) == 2
    assert "no validation part" in capsys.readouterr().err


def test_cosine_schedule_rates_per_epoch_and_resume_refuses_more_epochs(tiny, tmp_path, capsys):
    out = tmp_path / "cos"
    assert train.main(tiny_args(tiny, out, "--lr-schedule", "cosine", "--epochs", "2")) == 0
    lines = metrics_of(out)
    steps = lines[0]["steps"]
    assert [line["lr"] for line in lines] == [learning_rate("cosine", 0.01, k * steps, 2 * steps) for k in (0, 1)]
    assert lines[1]["lr"] == pytest.approx(0.005, rel=1e-12)
    capsys.readouterr()
    assert train.main(tiny_args(tiny, out, "--lr-schedule", "cosine", "--epochs", "3", "--resume")) == 2
    assert "epochs" in capsys.readouterr().err


def test_sast_with_rho_zero_explicit_layerwise_is_the_baseline_bit_for_bit(tiny, tmp_path):
    base, zero = tmp_path / "base", tmp_path / "zero"
    assert train.main(tiny_args(tiny, base, "--method", "baseline", "--parameterization", "contractive")) == 0
    assert train.main(tiny_args(tiny, zero, "--method", "sast", "--rho", "0", "--perturb", "explicit",
                                "--rho-scaling", "layer", "--parameterization", "contractive")) == 0
    a, b = tensors(base / "model.safetensors"), tensors(zero / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("parameterization", ["contractive", "plain"])
def test_explicit_perturbation_reports_where_the_perturbed_network_left_the_caps(tiny, tmp_path,
                                                                                parameterization):
    out = tmp_path / parameterization
    assert train.main(tiny_args(tiny, out, "--method", "sast", "--rho", "0.5", "--perturb", "explicit",
                                "--parameterization", parameterization, "--epochs", "1")) == 0
    line, result = metrics_of(out)[0], summary_of(out)
    if parameterization == "plain":
        assert line["perturbed_outside_caps"] is None and result["perturbed_a4_violated"] is None
    else:
        for key in ("perturbed_outside_caps", "perturbed_a4_violated"):
            assert 0.0 <= line[key] <= 1.0 and result[key] == line[key]
            assert line[key] * line["steps"] == pytest.approx(round(line[key] * line["steps"]))


def shipped_configs() -> list[Path]:
    return sorted((REPO / "configs").glob("*/*.toml"))


def test_the_shipped_recipes_exist():
    names = {(p.parent.name, p.stem) for p in shipped_configs()}
    for dataset in ("nmnist", "dvsgesture", "synthetic"):
        for recipe in ("baseline", "sast", "baseline-compute-matched"):
            assert (dataset, recipe) in names


@pytest.mark.parametrize("path", shipped_configs(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_recipe_is_a_valid_training_configuration(path):
    keys = read_config(str(path), train.build_parser())
    assert "out" not in keys and "seed" not in keys  # recipes leave the run folder and the seed to the user
    config = train.make_config(sweep.train_args(["--config", str(path)]))
    assert config["method"] in train.METHODS
    if path.stem == "baseline-compute-matched":
        sast = train.make_config(sweep.train_args(["--config", str(path.with_name("sast.toml"))]))
        baseline = train.make_config(sweep.train_args(["--config", str(path.with_name("baseline.toml"))]))
        assert config["method"] == "baseline" and config["epochs"] == 2 * sast["epochs"]
        differ = {k for k in config if config[k] != baseline[k]}
        assert differ <= {"epochs"}, differ
    if path.stem.endswith("sast"):  # sast.toml vs baseline.toml, contractive-sast.toml vs contractive-baseline...
        partner = path.with_name(path.name.replace("sast.toml", "baseline.toml"))
        baseline = train.make_config(sweep.train_args(["--config", str(partner)]))
        differ = {k for k in config if config[k] != baseline[k]}
        assert differ <= {"method", "rho", "perturb", "rho_scaling", "asam", "asam_eta"}, differ


def test_sweep_cells_come_from_the_recipes(tmp_path):
    a = write_toml(tmp_path / "base.toml", 'method = "baseline"\nbeta = 0.5\n')
    b = write_toml(tmp_path / "sharp.toml", 'method = "sast"\nrho = 0.7\nbeta = 2\n')
    args = sweep.build_parser().parse_args(["--out", str(tmp_path), "--config", str(a), "--config", str(b),
                                            "--seeds", "0,1"])
    cells = sweep.recipe_cells(args, [])
    assert [c["cell"] for c in cells] == ["base_baseline_rho0_beta0.5_seed0", "base_baseline_rho0_beta0.5_seed1",
                                          "sharp_sast_rho0.7_beta2_seed0", "sharp_sast_rho0.7_beta2_seed1"]
    command = sweep.command(cells[2], tmp_path, ["--epochs", "2"])
    assert command[command.index("--config") + 1] == str(b.resolve())
    assert command.index("--config") < command.index("--epochs") < command.index("--method")
    args = sweep.build_parser().parse_args(["--out", str(tmp_path), "--config", str(b), "--rhos", "0.1,0.2"])
    assert [c["rho"] for c in sweep.recipe_cells(args, [])] == [0.1, 0.2]


def test_sweep_refuses_two_recipes_with_one_name(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    a = write_toml(tmp_path / "r.toml", "rho = 0.1\n")
    b = write_toml(tmp_path / "x" / "r.toml", "rho = 0.2\n")
    assert sweep.main(["--out", str(tmp_path / "s"), "--config", str(a), "--config", str(b), "--no-progress"]) == 2
    assert "must differ" in capsys.readouterr().err


def test_a_recipe_sweep_groups_by_recipe_and_each_recipe_keeps_its_own_configuration(tiny, tmp_path, capsys):
    """Two recipes that differ in --epochs (a baseline and its compute-matched twin): both are trained and
    tabled, each against its own configuration; --collect-only rebuilds the same table."""
    short = write_toml(tmp_path / "short.toml", 'method = "baseline"\nepochs = 1\nhidden = [12]\n')
    long = write_toml(tmp_path / "long.toml", 'method = "baseline"\nepochs = 2\nhidden = [12]\n')
    out = tmp_path / "sweep"
    argv = ["--out", str(out), "--config", str(short), "--config", str(long), "--seeds", "0", "--no-progress",
            "--", "--data", tiny["data"], "--cache-dir", tiny["cache"], "--batch-size", "16"]
    assert sweep.main(argv) == 0
    table = json.loads((out / "sweep.json").read_text())
    assert [(g["recipe"], g["n_seeds"]) for g in table["groups"]] == [("long", 1), ("short", 1)]
    assert [row["epochs"] for row in sorted(table["rows"], key=lambda r: r["recipe"])] == [2, 1]
    assert {k: v["epochs"] for k, v in table["configuration"]["recipes"].items()} == {"short": 1, "long": 2}
    capsys.readouterr()
    assert sweep.main(["--out", str(out), "--collect-only", "--no-progress"]) == 0
    assert json.loads((out / "sweep.json").read_text())["rows"] == table["rows"]
