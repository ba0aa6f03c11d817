"""Every sast_models command under random flag values: exit 0 (or its work starts), or exit 2 with one line and
nothing written (tests/cli_fuzz.py). Training and the sweep's cells stand in for their work once every check
passed; evaluate, inspect and the report run for real on tiny inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_fuzz import FUZZ, INTEGERS, LISTS, NUMBERS, SIZES, accept, check_contract, flag_strategy, names, undocumented
from hypothesis import given
from hypothesis import strategies as st
from test_train import tiny_args, write_tiny_nmnist

from sast_models.cli import evaluate, export, inspect, report, sweep, train
from sast_models.data.events import make_events
from sast_models.data.nmnist import write_nmnist


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("fuzz")
    tiny = {"data": f"nmnist:{write_tiny_nmnist(base / 'nmnist', per_class=3)}", "cache": str(base / "cache")}
    out = base / "model"
    assert train.main(tiny_args(tiny, out, "--method", "baseline", "--epochs", "1", "--downsample", "2")) == 0
    t = np.arange(0, 30_000, 30)
    sample = write_nmnist(base / "Train" / "4" / "00001.bin", make_events(t % 34, (t // 34) % 34, t, t % 2))
    return {**tiny, "model": str(out / "model.safetensors"), "sample": str(sample)}


TRAIN_FLAGS = {flag: NUMBERS for flag in ("--lr", "--rho", "--beta", "--tau", "--theta", "--momentum",
                                          "--weight-decay", "--asam-eta", "--band", "--val-fraction",
                                          "--inf-cap", "--spectral-cap", "--bias-cap")}
TRAIN_FLAGS.update({flag: INTEGERS for flag in ("--epochs", "--batch-size", "--seed", "--time-bins",
                                                "--downsample", "--duration-us")})
TRAIN_FLAGS.update({"--hidden": LISTS, "--max-memory": SIZES, "--out": st.sampled_from(["", " "]),
                    "--surrogate": st.sampled_from(["", "sigmoid", "tanh"]),
                    "--reset": st.sampled_from(["", "subtract", "up"]),
                    "--perturb": st.sampled_from(["raw", "explicit", "", "weights"]),
                    "--rho-scaling": st.sampled_from(["global", "layer", "", "adaptive"]),
                    "--lr-schedule": st.sampled_from(["constant", "cosine", "", "step"])})
# --config values name files of CONFIG_FILES (written by `config_files`), or none at all
CONFIG_FILES = {"good.toml": 'method = "sast"\nrho = 0.5\nlr-schedule = "cosine"\n',
                "unknown-key.toml": "learning-rate = 0.1\n", "bad-type.toml": 'epochs = "many"\n',
                "out-of-range.toml": "tau = 1.5\n", "table.toml": "[train]\nlr = 0.1\n", "not-toml.toml": "lr = = 1\n"}
CONFIGS = st.sampled_from([*CONFIG_FILES, "", "missing.toml"])


def config_files(root: Path, drawn: list[str]) -> list[str]:
    """Write CONFIG_FILES under root and point every drawn `--config=NAME` at its file."""
    for name, text in CONFIG_FILES.items():
        (root / name).write_text(text)
    return [f"--config={root / flag.split('=', 1)[1]}" if flag.startswith("--config=") and flag != "--config="
            else flag for flag in drawn]


@FUZZ
@given(drawn=flag_strategy({**TRAIN_FLAGS, "--config": CONFIGS}))
def test_train(tiny, tmp_path_factory, drawn):
    root = tmp_path_factory.getbasetemp()
    drawn = config_files(root, drawn)

    def base(out):
        return [*tiny_args(tiny, out, "--downsample", "2", "--hidden", "8", "--epochs", "1", "--time-bins", "3"),
                "--max-memory", "64M"]

    check_contract(train.main, base, drawn, root, work=accept("sast_models.cli.train.run"))


EVALUATE_FLAGS = {"--batch-size": INTEGERS, "--time-bins": INTEGERS, "--band": NUMBERS, "--seed": INTEGERS,
                  "--max-memory": SIZES, "--modes": names("surrogate", "hard"),
                  "--subset": st.sampled_from(["all", "val", "train", ""]), "--split": st.sampled_from(["", "test"])}


@FUZZ
@given(drawn=flag_strategy(EVALUATE_FLAGS))
def test_evaluate(tiny, tmp_path_factory, drawn):
    def base(out):
        return ["--model", tiny["model"], "--cache-dir", tiny["cache"], "--split", "train", "--no-progress",
                "--max-memory", "16M", "--out", str(out)]

    check_contract(evaluate.main, base, drawn, tmp_path_factory.getbasetemp())


SWEEP_FLAGS = {"--rhos": LISTS, "--betas": LISTS, "--seeds": LISTS, "--jobs": INTEGERS,
               "--methods": names("baseline", "sam", "sast"), "--shard": st.sampled_from(["0/1", "1/1", "", "a/b"])}
PASSED_THROUGH = {"--lr": NUMBERS, "--time-bins": INTEGERS, "--tau": NUMBERS,
                  "--perturb": st.sampled_from(["explicit", "x"]), "--lr-schedule": st.sampled_from(["cosine", ""])}


@FUZZ
@given(drawn=flag_strategy({**SWEEP_FLAGS, "--config": CONFIGS}), through=flag_strategy(PASSED_THROUGH))
def test_sweep(tiny, tmp_path_factory, drawn, through):
    drawn = config_files(tmp_path_factory.getbasetemp(), drawn)
    def base(out):
        return ["--out", str(out), "--methods", "baseline", "--betas", "1", "--no-progress"]

    after = ["--", "--data", tiny["data"], "--cache-dir", tiny["cache"], "--downsample", "2", "--hidden", "8",
             "--epochs", "1", "--time-bins", "3", "--max-memory", "64M", *through]
    check_contract(sweep.main, base, drawn, tmp_path_factory.getbasetemp(), after=after,
                   work=accept("sast_models.cli.sweep.run_cells"))


INSPECT_FLAGS = {"--time-bins": INTEGERS, "--index": INTEGERS}


@FUZZ
@given(drawn=flag_strategy(INSPECT_FLAGS))
def test_inspect(tiny, tmp_path_factory, drawn):
    check_contract(inspect.main, lambda out: [tiny["sample"], "--out", str(out)], drawn,
                   tmp_path_factory.getbasetemp())


REPORT_FLAGS = {flag: NUMBERS for flag in ("--beta", "--tau", "--readout-tau", "--theta", "--input-bound",
                                           "--inf-cap", "--spectral-cap", "--bias-cap", "--sam-rho")}
REPORT_FLAGS.update({flag: INTEGERS for flag in ("--n-classes", "--weight-bits", "--frac-bits", "--leak-shift")})
REPORT_FLAGS.update({"--hidden": LISTS, "--input-shape": LISTS})


@FUZZ
@given(drawn=flag_strategy(REPORT_FLAGS))
def test_report(tmp_path_factory, drawn, monkeypatch):
    from sast_theory import report as theory_report

    monkeypatch.setattr(theory_report, "FEASIBILITY_BETAS", (1.0,))

    def base(out):
        return ["--arch", "mlp", "--beta", "2", "--tau", "0.5", "--hidden", "8", "--input-shape", "6", "--n-classes",
                "3", "--out", str(out)]

    check_contract(report.main, base, drawn, tmp_path_factory.getbasetemp(), codes=(0, 1))


LOCAL_FLAGS = {"--radius": LISTS, "--samples": INTEGERS, "--time-bins": INTEGERS, "--batch-size": INTEGERS,
               "--sam-rho": NUMBERS, "--max-memory": SIZES, "--split": st.sampled_from(["", " ", "train", "nope"])}


@FUZZ
@given(drawn=flag_strategy(LOCAL_FLAGS))
def test_report_local(tiny, tmp_path_factory, drawn, monkeypatch):
    """The report's local constants (--model with --data): the samples are the tiny training set."""
    from sast_theory import report as theory_report

    monkeypatch.setattr(theory_report, "FEASIBILITY_BETAS", (1.0,))

    def base(out):
        return ["--model", tiny["model"], "--data", tiny["data"], "--samples", "2", "--out", str(out)]

    check_contract(report.main, base, drawn, tmp_path_factory.getbasetemp(), codes=(0, 1))


EXPORT_FLAGS = {"--dt": NUMBERS, "--min-agreement": NUMBERS, "--samples": INTEGERS, "--batch-size": INTEGERS,
                "--time-bins": INTEGERS, "--max-memory": SIZES, "--check": names("norse", "snntorch"),
                "--mode": st.sampled_from(["hard", "int8", "int4", ""])}


@FUZZ
@given(drawn=flag_strategy(EXPORT_FLAGS))
def test_export(tiny, tmp_path_factory, drawn):
    pytest.importorskip("nir")

    def base(out):
        return ["--model", tiny["model"], "--cache-dir", tiny["cache"], "--split", "train", "--samples", "3",
                "--no-progress", "--max-memory", "16M", "--out", str(out)]

    check_contract(export.main, base, drawn, tmp_path_factory.getbasetemp(), codes=(0, 1))


@pytest.mark.parametrize("command", [train, evaluate, sweep, inspect, report, export])
def test_help_documents_every_flag_with_its_default(command, capsys):
    assert undocumented(command.build_parser()) == []
    with pytest.raises(SystemExit):
        command.build_parser().parse_args(["--help"])
    assert "(default: " in capsys.readouterr().out
