"""The evaluation command and its pieces: JSON report, mode registry, measurement arithmetic, bad input."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from test_train import tiny_args, write_tiny_nmnist

from sast_models.cli import evaluate, train
from sast_models.evaluation import modes as evaluation_modes
from sast_models.evaluation.measure import measure


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("eval")
    tiny = {"data": f"nmnist:{write_tiny_nmnist(base / 'nmnist')}", "cache": str(base / "cache")}
    out = base / "run"
    assert train.main(tiny_args(tiny, out, "--method", "baseline", "--epochs", "2")) == 0
    return {**tiny, "model": str(out / "model.safetensors"),
            "summary": json.loads((out / "summary.json").read_text())}


def eval_args(trained: dict, *extra: str) -> list[str]:
    return ["--model", trained["model"], "--data", trained["data"], "--cache-dir", trained["cache"],
            "--split", "train", "--no-progress", *extra]


def test_report_on_the_validation_subset_reproduces_training(trained, tmp_path, capsys):
    assert evaluate.main(eval_args(trained, "--subset", "val", "--out", str(tmp_path / "ev"))) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert set(report["modes"]) == {"surrogate", "hard"}
    summary = trained["summary"]
    assert report["n_samples"] == summary["val_size"]
    assert report["modes"]["surrogate"]["accuracy"] == pytest.approx(summary["surrogate_acc"])
    assert report["modes"]["hard"]["accuracy"] == pytest.approx(summary["hard_acc"])
    assert report["transfer_gap_pp"] == pytest.approx(summary["transfer_gap_pp"])
    hard = report["modes"]["hard"]
    assert list(hard["per_class_accuracy"]) == [str(d) for d in range(10)]
    assert report["layers"] == ["layers.0"]
    assert len(hard["spike_rate"]) == len(hard["near_threshold_fraction"]) == 1
    assert 0.0 <= hard["near_threshold_fraction"][0] <= 1.0


def test_a_mode_added_to_the_registry_needs_no_change_here(trained, monkeypatch, capsys):
    def negated(net):
        def run(x):
            trace = net.trace(x, mode="hard")
            return trace._replace(logits=-trace.logits)  # a visibly different runner

        return run

    monkeypatch.setitem(evaluation_modes.EVALUATION_MODES, "negated", negated)
    monkeypatch.setitem(evaluation_modes.EVALUATION_MODES, "hard-again", evaluation_modes.hard_runner)
    assert evaluate.main(eval_args(trained, "--modes", "hard,hard-again,negated")) == 0
    modes = json.loads(capsys.readouterr().out)["modes"]
    assert modes["hard-again"] == modes["hard"]
    assert modes["negated"]["accuracy"] != modes["hard"]["accuracy"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--modes", "surrogate,int3"], "int3"),
        (["--band", "-1"], "--band"),
        (["--data", "nmnist:/nonexistent"], "/nonexistent"),
        (["--batch-size", "-5"], "--batch-size -5: expected an integer >= 1"),
        (["--batch-size", "0"], "--batch-size 0: expected an integer >= 1"),
        (["--time-bins", "0"], "--time-bins 0: expected an integer >= 1"),
        (["--band", "nan"], "--band nan: expected a finite number > 0"),
        (["--seed", "-1", "--subset", "val"], "--seed -1: expected an integer in 0..4294967295"),
        (["--time-bins", "10000000"], "this run needs about"),
        (["--max-memory", "nonsense"], "--max-memory nonsense: expected a size"),
    ],
    ids=["unknown-mode", "negative-band", "missing-data", "batch-negative", "batch-zero", "time-bins-zero",
         "band-nan", "seed-negative", "memory", "max-memory-junk"],
)
def test_bad_input_exits_2_with_one_line(trained, tmp_path, capsys, extra, needle):
    assert evaluate.main([*eval_args(trained), "--out", str(tmp_path / "ev"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err
    assert not (tmp_path / "ev").exists()


def test_the_held_out_part_needs_the_training_split(trained, tmp_path, capsys):
    args = ["--model", trained["model"], "--data", trained["data"], "--cache-dir", trained["cache"],
            "--subset", "val", "--no-progress", "--out", str(tmp_path / "ev")]
    assert evaluate.main(args) == 2  # --split defaults to test
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass --split train" in err and not (tmp_path / "ev").exists()


def test_results_for_another_model_are_not_written_into_a_run_folder(trained, tmp_path, capsys):
    """`evaluate --out RUN` with a model other than RUN's own is refused; with RUN's own model it is written."""
    run = tmp_path / "run"
    assert train.main(tiny_args(trained, run, "--method", "baseline", "--epochs", "1", "--seed", "3")) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert evaluate.main(eval_args(trained, "--out", str(run))) == 2  # trained["model"] is another run's
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sast_models.train results for another model" in err
    assert before == {p.name: p.read_bytes() for p in run.iterdir()}
    own = ["--model", str(run / "model.safetensors"), *eval_args(trained)[2:]]
    assert evaluate.main([*own, "--out", str(run)]) == 0
    assert json.loads((run / "eval.json").read_text())["model"] == str(run / "model.safetensors")
    assert evaluate.main([*own, "--out", str(run), "--modes", "hard"]) == 2  # another configuration
    assert "--modes: ['surrogate', 'hard'] -> ['hard']" in capsys.readouterr().err
    assert evaluate.main([*own, "--out", str(run), "--modes", "hard", "--overwrite"]) == 0
    assert set(json.loads((run / "eval.json").read_text())["modes"]) == {"hard"}


def test_a_header_of_the_wrong_type_is_one_line(trained, tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.torch import save_file

    bad = tmp_path / "bad.safetensors"
    with safe_open(trained["model"], "pt") as handle:
        header = json.loads(handle.metadata()["sast"])
        header["hyperparameters"]["time_bins"] = "5"
        save_file({k: handle.get_tensor(k) for k in handle.keys()}, str(bad), metadata={"sast": json.dumps(header)})
    assert evaluate.main(["--model", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hyperparameters.time_bins = '5'" in err


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path, capsys):
    bogus = tmp_path / "model.safetensors"
    bogus.write_bytes(b"\x80\x04not a checkpoint")
    assert evaluate.main(["--model", str(bogus), "--data", "synthetic", "--no-progress"]) == 2
    assert "not a SAST checkpoint" in capsys.readouterr().err


def test_measure_counts_spikes_near_threshold_and_classes():
    theta, band = 1.0, 0.1
    membranes = torch.tensor([0.95, 1.2, 1.05, 0.5]).reshape(2, 2, 1)  # (T, B, neurons)
    spikes = (membranes > theta).float()
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])  # predicts class 0 then class 1

    def runner(x):
        layer = SimpleNamespace(membranes=membranes, spikes=spikes)
        return SimpleNamespace(logits=logits, layers=[layer, SimpleNamespace()])

    frames = torch.zeros(2, 2, 1)  # (N, T, D): ignored by the runner
    report = measure(runner, frames, torch.tensor([0, 0]), n_classes=2, theta=theta, band=band)
    assert report["accuracy"] == 50.0
    assert report["per_class_accuracy"] == [50.0, None]
    assert report["spike_rate"] == [0.5]
    assert report["near_threshold_fraction"] == [0.5]  # 0.95 and 1.05
    expected = torch.nn.functional.cross_entropy(logits.double(), torch.tensor([0, 0])).item()
    assert report["loss"] == pytest.approx(expected)
