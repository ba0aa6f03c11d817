"""The training command: outputs and summary keys, kill + resume bit-exactness, bad input, torchrun DDP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sast_models.checkpoint import load_checkpoint, read_header
from sast_models.cli import train
from sast_models.data.events import make_events
from sast_models.data.nmnist import encode_nmnist

SUMMARY_KEYS = {"surrogate_acc", "hard_acc", "transfer_gap_pp", "train_seconds", "epochs", "method", "rho",
                "beta", "seed", "data", "checkpoint"}


def write_tiny_nmnist(root: Path, per_class: int = 6, seed: int = 0) -> Path:
    """A learnable toy N-MNIST folder: class c fires ON events in rows 3c..3c+3, plus OFF noise everywhere."""
    rng = np.random.default_rng(seed)
    for c in range(10):
        for i in range(per_class):
            n = 200
            t = np.sort(rng.integers(0, 100_000, n))
            signal_rows = rng.integers(3 * c, 3 * c + 4, n)
            noise = rng.random(n) < 0.3
            y = np.where(noise, rng.integers(0, 34, n), signal_rows)
            events = make_events(rng.integers(0, 34, n), y, t, np.where(noise, 0, 1))
            path = root / "Train" / str(c) / f"{i:05d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_nmnist(events))
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("tiny")
    root = write_tiny_nmnist(base / "nmnist")
    return {"data": f"nmnist:{root}", "cache": str(base / "cache"), "base": base}


def tiny_args(tiny: dict, out: Path, *extra: str) -> list[str]:
    return ["--data", tiny["data"], "--cache-dir", tiny["cache"], "--out", str(out), "--hidden", "16",
            "--time-bins", "4", "--downsample", "2", "--batch-size", "8", "--epochs", "2", "--lr", "0.01",
            "--parameterization", "plain", "--beta", "1", "--no-progress", *extra]


def run_cli(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "sast_models.train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def test_outputs_summary_and_metrics(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--method", "sast", "--rho", "0.1")) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary == json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 2 and summary["method"] == "sast" and summary["rho"] == 0.1
    assert summary["transfer_gap_pp"] == pytest.approx(summary["surrogate_acc"] - summary["hard_acc"])
    assert summary["train_size"] + summary["val_size"] == 60 and summary["val_size"] == 12
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    for line in lines:
        assert {"train_loss", "perturb_loss", "grad_norm", "surrogate_acc", "hard_acc", "train_seconds",
                "val_loss", "near_threshold_fraction", "spike_rate"} <= set(line)
        assert line["perturb_loss"] is not None and line["grad_norm"] > 0
    net, header = load_checkpoint(summary["checkpoint"])
    assert header["hyperparameters"]["method"] == "sast" and header["hyperparameters"]["hidden"] == [16]
    assert header["provenance"]["data"]["n_samples"] == 60
    assert net.spec.hidden == (16,) and net.spec.beta == 1.0
    assert (out / "resume.safetensors").is_file()


def test_baseline_records_rho_zero_and_no_perturbation(tiny, tmp_path):
    out = tmp_path / "base"
    assert train.main(tiny_args(tiny, out, "--method", "baseline", "--epochs", "1")) == 0
    assert json.loads((out / "summary.json").read_text())["rho"] == 0.0
    line = json.loads((out / "metrics.jsonl").read_text())
    assert line["perturb_loss"] is None and line["perturb_grad_norm"] is None


def test_kill_during_training_then_resume_gives_the_same_weights(tiny, tmp_path, capsys):
    args = ["--method", "sast", "--rho", "0.1", "--epochs", "3", "--batch-size", "2", "--optimizer", "sgd"]
    out = tmp_path / "killed"
    victim = run_cli(tiny_args(tiny, out, *args))  # one thread, like the in-process runs below
    deadline = time.monotonic() + 120
    while not (out / "metrics.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    time.sleep(first["train_seconds"] / 2)  # into the middle of epoch 2
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(30) == -signal.SIGKILL
    assert not (out / "summary.json").exists() and not (out / "model.safetensors").exists()
    done = read_header(out / "resume.safetensors")["provenance"]["resume"]["epoch"]
    assert 1 <= done < 3
    killed_lines = (out / "metrics.jsonl").read_text().splitlines()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert train.main(tiny_args(tiny, out, *args, "--resume")) == 0
        assert train.main(tiny_args(tiny, tmp_path / "ref", *args)) == 0
    finally:
        torch.set_num_threads(threads)
    ref, got = tensors(tmp_path / "ref" / "model.safetensors"), tensors(out / "model.safetensors")
    assert ref.keys() == got.keys()
    assert all(torch.equal(ref[k], got[k]) for k in ref)
    ref_lines = [json.loads(x) for x in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()]
    got_lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [x["train_loss"] for x in ref_lines] == [json.loads(x)["train_loss"] for x in got_lines]
    # the resumed run kept the finished epochs (with their wall times) instead of retraining them
    assert got_lines[:done] == killed_lines[:done]


def test_resume_refuses_other_settings(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    capsys.readouterr()
    assert train.main(tiny_args(tiny, out, "--epochs", "2", "--lr", "0.5", "--resume")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lr" in err


def test_existing_run_needs_resume(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    capsys.readouterr()
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 2
    assert "--resume" in capsys.readouterr().err
    assert before == {p.name: p.stat().st_mtime_ns for p in out.iterdir()}


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"--data": "mnist-ish:/tmp"}, "unknown dataset"),
        ({"--data": "nmnist:/nonexistent/folder"}, "/nonexistent/folder"),
        ({"--rho": "-0.1"}, "--rho"),
        ({"--epochs": "0"}, "--epochs"),
        ({"--parameterization": "contractive", "--beta": "10", "--tau": "0.95"}, "infeasible"),
        ({"--reset": "sideways"}, "reset"),
        ({"--method": "sgdm"}, "invalid choice"),
        ({"--lr": "inf"}, "--lr inf: expected a finite number > 0"),
        ({"--rho": "inf"}, "--rho inf: expected a finite number >= 0"),
        ({"--seed": "-1"}, "--seed -1: expected an integer in 0..4294967295"),
        ({"--beta": "nan"}, "--beta nan: expected a finite number > 0"),
        ({"--tau": "1.5"}, "--tau 1.5: expected a finite number in [0, 1)"),
        ({"--hidden": "16,x"}, "--hidden 16,x: entry 'x'"),
        ({"--out": ""}, "--out '': expected a folder path"),
        ({"--val-fraction": "0.0001"}, "--val-fraction 0.0001: leaves no validation sample of the 60"),
        ({"--val-fraction": "1"}, "--val-fraction 1: expected a finite number in [0, 1)"),
        ({"--time-bins": "10000000"}, "this run needs about"),
        ({"--hidden": "1000000000"}, "1,000,000,010 neurons"),
        ({"--max-memory": "1k"}, "more than the limit 1.02 kB (--max-memory)"),
    ],
    ids=["unknown-prefix", "missing-path", "negative-rho", "zero-epochs", "infeasible-beta-tau", "bad-reset",
         "usage-error", "lr-inf", "rho-inf", "seed-negative", "beta-nan", "tau-above-1", "hidden-junk", "out-empty",
         "no-validation-sample", "val-fraction-one", "memory-time-bins", "memory-width", "max-memory"],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tiny, tmp_path, capsys, change, needle):
    out = tmp_path / "never"
    args = tiny_args(tiny, out)
    for flag, value in change.items():
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    assert train.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not out.exists()


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "learning rate (default: 0.001)" in out and "--max-memory" in out and "(default: 512)" in out


def test_resume_from_a_model_file_is_one_line(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "resume.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    capsys.readouterr()
    assert train.main(tiny_args(tiny, other, "--epochs", "1", "--resume")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a resume checkpoint" in err
    assert sorted(p.name for p in other.iterdir()) == ["resume.safetensors"]


def test_a_second_run_into_a_folder_in_use_is_refused(tiny, tmp_path, capsys):
    """Two concurrent runs into one --out: the one that finds the lock taken exits 2 and writes nothing."""
    from sast_core.runs import Entry, RunFolder

    out = tmp_path / "busy"
    with RunFolder(out).session(Entry("someone.else", {}, ("x",)), overwrite=False):
        assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 2
        assert sorted(p.name for p in out.iterdir()) == [".sast.lock"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in use by another command" in err


def test_overwrite_replaces_a_run_and_drops_results_about_its_model(tiny, tmp_path, capsys):
    from sast_core.runs import read_entries
    from sast_models.cli import evaluate

    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    model = str(out / "model.safetensors")
    assert evaluate.main(["--model", model, "--split", "train", "--cache-dir", tiny["cache"], "--out", str(out),
                          "--no-progress"]) == 0
    assert set(read_entries(out)) == {"sast_models.train", "sast_models.evaluate"}
    capsys.readouterr()
    # continuing to more epochs would replace the model eval.json is about: refused
    assert train.main(tiny_args(tiny, out, "--epochs", "2", "--resume")) == 2
    assert "results for the model this run would replace" in capsys.readouterr().err
    assert train.main(tiny_args(tiny, out, "--epochs", "2", "--lr", "0.02", "--overwrite")) == 0
    assert set(read_entries(out)) == {"sast_models.train"} and not (out / "eval.json").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 2 and read_header(model)["hyperparameters"]["lr"] == 0.02


def test_resume_of_a_finished_run_writes_nothing(tiny, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(tiny_args(tiny, out, "--epochs", "1")) == 0
    first = capsys.readouterr().out
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert train.main(tiny_args(tiny, out, "--epochs", "1", "--resume")) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(first)
    assert before == {p.name: p.stat().st_mtime_ns for p in out.iterdir()}


def test_a_full_disk_stops_with_one_line_and_the_run_resumes_bit_identical(tiny, tmp_path, capsys, monkeypatch):
    """ENOSPC while writing epoch 2's resume state: exit 2, one line; epoch 1 stays; --resume ends equal to an
    uninterrupted run, and no file of the interrupted state is trusted as finished."""
    import errno

    from sast_core.runs import completed

    args = ["--method", "sast", "--rho", "0.1", "--epochs", "2", "--optimizer", "sgd"]
    out = tmp_path / "full"
    real = Path.write_bytes
    writes = {"n": 0}

    def fills_up(self, data):
        if self.name.startswith(".resume.safetensors"):
            writes["n"] += 1
            if writes["n"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_bytes", fills_up)
        assert train.main(tiny_args(tiny, out, *args)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "resume.safetensors" in err
    assert read_header(out / "resume.safetensors")["provenance"]["resume"]["epoch"] == 1
    assert not (out / "model.safetensors").exists() and completed(out, "sast_models.train") is None
    assert not list(out.glob(".*.tmp"))
    assert train.main(tiny_args(tiny, out, *args, "--resume")) == 0
    assert train.main(tiny_args(tiny, tmp_path / "ref", *args)) == 0
    ref, got = tensors(tmp_path / "ref" / "model.safetensors"), tensors(out / "model.safetensors")
    assert all(torch.equal(ref[k], got[k]) for k in ref)


def test_a_diverging_run_stops_with_one_line(tiny, tmp_path, capsys):
    out = tmp_path / "diverged"
    args = tiny_args(tiny, out, "--optimizer", "sgd", "--lr", "1e38", "--method", "baseline", "--epochs", "2")
    assert train.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged at epoch" in err
    assert not (out / "model.safetensors").exists()


def test_unwritable_out_is_refused_before_any_work(tiny, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert train.main(tiny_args(tiny, blocker / "run")) == 2
    assert "not a writable folder" in capsys.readouterr().err
    assert train.main(tiny_args(tiny, blocker)) == 2
    assert "not a folder" in capsys.readouterr().err


def test_command_line_exit_code_2():
    proc = run_cli(["--data", "nope:x", "--out", "/tmp/never-written-sast", "--no-progress"])
    assert proc.wait(60) == 2
    err = proc.stderr.read()
    assert err.startswith("error: --data") and err.count("\n") == 1
    assert not Path("/tmp/never-written-sast").exists()


@pytest.mark.slow  # ~30 s on a loaded 2-core machine: three Python processes start torch
def test_torchrun_two_processes_match_one_process(tiny, tmp_path):
    args = ["--method", "sast", "--rho", "0.1", "--epochs", "1", "--optimizer", "sgd", "--batch-size", "8"]
    assert train.main(tiny_args(tiny, tmp_path / "one", *args)) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "sast_models.train", *tiny_args(tiny, tmp_path / "two", *args)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = tensors(tmp_path / "one" / "model.safetensors")
    two = tensors(tmp_path / "two" / "model.safetensors")
    assert not all(torch.equal(one[k], two[k]) for k in one)  # really a different computation
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-5, atol=1e-6)
    assert read_header(tmp_path / "two" / "model.safetensors")["provenance"]["world_size"] == 2


def test_the_network_keeps_no_state_between_the_two_passes_of_a_step():
    """What SAM relies on: a forward pass changes no parameter or buffer and draws no random numbers."""
    from sast_models.networks import build_network
    from sast_models.spec import NetworkSpec

    net = build_network(NetworkSpec(input_shape=(2, 6, 6), hidden=(8,), parameterization="plain"), seed=0)
    x = (torch.rand(5, 3, 2, 6, 6) < 0.3).float()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    first = net(x, mode="surrogate")
    first.sum().backward()
    assert torch.equal(rng, torch.get_rng_state())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert torch.equal(first, net(x, mode="surrogate"))


def test_conv_architecture_with_same_batch_sam(tiny, tmp_path):
    out = tmp_path / "conv"
    args = tiny_args(tiny, out, "--arch", "conv", "--channels", "4", "--method", "sam", "--epochs", "1")
    assert train.main(args) == 0
    net, header = load_checkpoint(out / "model.safetensors")
    assert net.spec.arch == "conv" and net.spec.channels == (4,)
    assert [layer.kind for layer in net.layers] == ["conv_lif", "dense_lif", "readout"]
    line = json.loads((out / "metrics.jsonl").read_text())
    assert line["perturb_loss"] is not None and len(line["spike_rate"]) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda_is_bad_input(tiny, tmp_path, capsys):
    assert train.main(tiny_args(tiny, tmp_path / "gpu", "--device", "cuda")) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert not (tmp_path / "gpu").exists()
