"""The report CLI: --help, a priori configuration, checkpoint input, exit codes, atomic outputs; feasibility."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from sast_models.cli import report
from sast_models.cli.report import plot_region
from sast_theory import calculus
from sast_theory import report as theory_report
from sast_theory.feasibility import feasible_region

FAST = ["--hidden", "8", "--input-shape", "6", "--n-classes", "3"]


def test_help_exits_zero(capsys) -> None:
    with pytest.raises(SystemExit) as err:
        report.main(["--help"])
    assert err.value.code == 0
    assert "--model" in capsys.readouterr().out


def test_a_priori_configuration(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(theory_report, "FEASIBILITY_BETAS", (1.0, 4.0))
    code = report.main(
        [
            "--arch",
            "mlp",
            "--beta",
            "4",
            "--tau",
            "0.5",
            "--reset",
            "subtract",
            "--out",
            str(tmp_path),
            "--latex",
            *FAST,
        ]
    )
    assert code == 0
    data = json.loads((tmp_path / "theory.json").read_text())
    assert data["agreement"]["holds"] and data["all_hold"]
    lx = data["constants"]["L_x"]
    assert lx["a_posteriori"] is None and lx["a_priori"]["value"] > 0 and "omega_{1}" in lx["a_priori"]["latex"]
    assert "NOT covered" in data["statements"]["P5"]["scope"]
    assert data["assumptions"]["A2"]["M1_symbolic"] == "beta/4"
    assert (tmp_path / "theory.tex").read_text().startswith("\\documentclass")
    assert (tmp_path / "feasibility.png").read_bytes()[:4] == b"\x89PNG"
    assert "L_x" in capsys.readouterr().out


def test_infeasible_configuration_exits_one(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(theory_report, "FEASIBILITY_BETAS", (10.0,))
    code = report.main(["--arch", "mlp", "--beta", "10", "--tau", "0.9", "--out", str(tmp_path), *FAST])
    assert code == 1
    data = json.loads((tmp_path / "theory.json").read_text())
    assert data["constants"]["L_x"]["a_priori"]["value"] is None
    assert not data["assumptions"]["layers"][0]["A4_a_priori"]["holds"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--arch", "mlp", "--beta", "-1", "--tau", "0.5"],
        ["--arch", "mlp", "--beta", "2", "--tau", "1.5"],
        ["--arch", "mlp", "--tau", "0.5"],
        ["--arch", "conv", "--beta", "2", "--tau", "0.5"],
        ["--model", "/nonexistent/file.safetensors"],
    ],
)
def test_bad_input_exits_two_and_writes_nothing(tmp_path, capsys, argv) -> None:
    assert report.main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_checkpoint_report(tmp_path, monkeypatch) -> None:
    pytest.importorskip("sast_models.checkpoint")
    from sast_models.checkpoint import save_checkpoint
    from sast_models.networks import build_network
    from sast_models.spec import NetworkSpec

    monkeypatch.setattr(theory_report, "FEASIBILITY_BETAS", (5.0,))
    spec = NetworkSpec(arch="mlp", input_shape=(6,), hidden=(8,), n_classes=3, beta=5.0, tau=0.5)
    path = save_checkpoint(tmp_path / "net.safetensors", build_network(spec, seed=0))
    assert report.main(["--model", str(path), "--out", str(tmp_path / "rep")]) == 0
    data = json.loads((tmp_path / "rep" / "theory.json").read_text())
    post, prior = data["constants"]["L_x"]["a_posteriori"]["value"], data["constants"]["L_x"]["a_priori"]["value"]
    assert 0 < post <= prior
    assert data["statements"]["P6"]["layers"][0]["bits"] >= 9
    assert all(row["A3_holds"] for row in data["assumptions"]["layers"])


def test_feasible_region_and_plot(tmp_path) -> None:
    region = feasible_region("sigmoid", 1.0, ["zero", "subtract"], 9.0, [1.0, 8.0])
    for points in region.values():
        for beta, taubar in points:
            assert 0 < taubar < 1
            assert (
                calculus.contraction_factor(
                    "sigmoid", beta, 1.0, "zero" if points is region["zero"] else "subtract", taubar, 9.0
                )
                < 1
            )
    assert region["zero"][1][1] < region["zero"][0][1]  # sharper surrogate, smaller leak (THEORY.md A4)
    picture = plot_region(region, "test")
    assert picture.startswith(b"\x89PNG") and len(picture) > 1000
    assert math.isfinite(np.mean([p[1] for p in region["zero"]]))


def test_default_caps_agree_with_network_spec() -> None:
    """The report's --inf-cap/--spectral-cap/--bias-cap and a_priori_description default to NetworkSpec's caps."""
    import inspect

    from sast_models.spec import NetworkSpec
    from sast_theory.description import DEFAULT_CAPS, a_priori_description

    spec = NetworkSpec()
    expected = {"inf": spec.inf_cap, "spectral": spec.spectral_cap, "bias": spec.bias_cap}
    assert DEFAULT_CAPS.to_dict() == expected
    args = report.build_parser().parse_args(["--arch", "mlp"])
    assert {"inf": args.inf_cap, "spectral": args.spectral_cap, "bias": args.bias_cap} == expected
    defaults = inspect.signature(a_priori_description).parameters
    assert {k: defaults[f"{k}_cap"].default for k in expected} == expected
    caps = a_priori_description("mlp", 5.0, 0.5, hidden=(4,), input_shape=(3,)).layers[0].caps
    assert caps.to_dict() == expected


def _pooled_conv_network():
    """conv (pool 2) -> readout, plain: every conv neuron spikes at every step on an all-ones input, so the
    readout integrates 32 pooled inputs of 1 with equal positive weights: its membrane nears the P6 bound."""
    import torch

    from sast_models.networks import build_network
    from sast_models.spec import NetworkSpec

    spec = NetworkSpec(arch="conv", input_shape=(1, 8, 8), channels=(2,), hidden=(), n_classes=2, kernel=3,
                       padding=1, pool=2, tau=0.9, theta=1.0, parameterization="plain")
    net = build_network(spec, seed=0)
    with torch.no_grad():
        conv, readout = net.layers
        conv.raw_weight.fill_(0.5)
        conv.raw_bias.zero_()
        readout.raw_weight.fill_(0.05)
        readout.raw_bias.zero_()
    return net


def test_report_p6_is_the_deployed_networks_after_pooling(tmp_path) -> None:
    """Issue 10, defect 1: the report's P6 widths are those of the network deploy builds (pooling folded, the
    deployment's leak rounding), so they never certify fewer bits than the integer simulator needs (before the
    fix: 25 bits for the readout below, which needs 27)."""
    import torch

    from sast_models.checkpoint import save_checkpoint
    from sast_models.describe import describe
    from sast_models.hardware.deploy import deploy
    from sast_models.hardware.formats import HardwareConfig
    from sast_models.hardware.simulator import IntegerSimulator

    net = _pooled_conv_network()
    path = save_checkpoint(tmp_path / "model.safetensors", net)
    assert report.main(["--model", str(path), "--out", str(tmp_path / "theory")]) in (0, 1)
    rows = json.loads((tmp_path / "theory" / "theory.json").read_text())["statements"]["P6"]["layers"]
    wide = deploy(describe(net), HardwareConfig(weight_bits=8, frac=8, register_bits=48))  # the report's formats
    result = IntegerSimulator(wide)(torch.ones(30, 1, 1, 8, 8))
    needed = [int(trace.membranes.abs().max()).bit_length() + 1 for trace in result.layers]
    assert needed[-1] == 27  # pins the example: the readout's max |u| lies in [2^25, 2^26)
    safe = [layer.register.bits for layer in deploy(describe(net), HardwareConfig(weight_bits=8, frac=8)).layers]
    assert [row["bits"] for row in rows] == safe
    assert all(row["bits"] >= bits for row, bits in zip(rows, needed, strict=True))


@pytest.mark.parametrize(("flags", "needle"), [
    (["--sam-rho", "nan"], "--sam-rho nan: expected a finite number > 0"),
    (["--weight-bits", "99"], "--weight-bits 99: expected an integer in 2..16"),
    (["--tau", "1.5"], "--tau 1.5: expected a finite number in [0, 1)"),
    (["--beta", "inf"], "--beta inf: expected a finite number > 0"),
    (["--hidden", "8,0"], "--hidden 8,0: entry '0': expected an integer >= 1"),
    (["--frac-bits", "-1"], "--frac-bits -1"),
])
def test_bad_flags_write_nothing(tmp_path, capsys, flags, needle) -> None:
    out = tmp_path / "out"
    argv = ["--arch", "mlp", "--beta", "4", "--tau", "0.5", "--out", str(out), *FAST]
    assert report.main([*argv, *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and not out.exists()


def test_out_that_is_a_file_or_read_only_is_refused(tmp_path, capsys, monkeypatch) -> None:
    import errno

    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    argv = ["--arch", "mlp", "--beta", "4", "--tau", "0.5", *FAST]
    assert report.main([*argv, "--out", str(blocker)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    monkeypatch.setattr(theory_report, "FEASIBILITY_BETAS", (1.0, 4.0))

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("sast_core.atomic.tempfile.mkstemp", read_only)  # as on a read-only mount
    assert report.main([*argv, "--out", str(tmp_path / "ro")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Read-only file system" in err
    assert not (tmp_path / "ro").exists() or not any((tmp_path / "ro").iterdir())


NMNIST = "/work/shared/data/real/nmnist"


def _checkpoint(tmp_path, **spec_fields):
    from sast_models.checkpoint import save_checkpoint
    from sast_models.networks import build_network
    from sast_models.spec import NetworkSpec

    return save_checkpoint(tmp_path / "net.safetensors", build_network(NetworkSpec(**spec_fields), seed=0))


def test_local_constants_in_the_report(tmp_path, monkeypatch) -> None:
    """--data --radius: local L_theta, G, P4, P5 per ball, beside a priori and a posteriori (genuine samples)."""
    if not os.path.isdir(NMNIST):
        pytest.skip("genuine N-MNIST samples not present")
    monkeypatch.setattr(theory_report, "FEASIBILITY_BETAS", (1.0,))
    path = _checkpoint(tmp_path, arch="mlp", input_shape=(2, 34, 34), hidden=(8,), n_classes=10, beta=1.0, tau=0.5)
    argv = ["--model", str(path), "--data", f"nmnist:{NMNIST}", "--samples", "6", "--time-bins", "5",
            "--radius", "0,0.05", "--sam-rho", "0.01", "--out", str(tmp_path / "rep")]
    assert report.main(argv) == 0
    data = json.loads((tmp_path / "rep" / "theory.json").read_text())
    rows = data["local"]
    assert [row["radius"] for row in rows] == [0.0, 0.05] and all(row["samples"] == 6 for row in rows)
    posterior = data["constants"]["L_theta"]["a_posteriori"]["value"]
    assert 0 < rows[0]["L_theta_mean"] <= rows[0]["L_theta_max"] <= rows[1]["L_theta_max"]
    assert rows[0]["L_theta_max"] <= posterior  # at theta_0 the data-dependent bound is the tighter one
    assert rows[1]["P4"]["L_rho2"] == pytest.approx(rows[1]["L_theta_mean"] * 0.05**2)
    assert not rows[0]["P5"]["applies"] and rows[1]["P5"]["applies"]
    assert rows[1]["P5"]["eta_max"] == pytest.approx(1 / (4 * rows[1]["L_theta_mean"]))


@pytest.mark.parametrize("extra", [["--radius", "0.1,-1"], ["--radius", "inf"], ["--samples", "0"],
                                   ["--max-memory", "1k"]])
def test_bad_local_flags_exit_two_and_write_nothing(tmp_path, capsys, extra) -> None:
    path = _checkpoint(tmp_path, arch="mlp", input_shape=(6,), hidden=(4,), n_classes=3)
    argv = ["--model", str(path), "--data", "synthetic", *extra, "--out", str(tmp_path / "o")]
    assert report.main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_local_constants_need_a_model(tmp_path, capsys) -> None:
    argv = ["--arch", "mlp", "--beta", "2", "--tau", "0.5", "--data", "synthetic", "--out", str(tmp_path / "o"),
            *FAST]
    assert report.main(argv) == 2
    assert "--data needs --model" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
