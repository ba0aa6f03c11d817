"""verification.all and a single check under random flag values: exit 0/1, or exit 2 with one line and nothing
written (tests/cli_fuzz.py). The measurement stands in as one row that holds; the flags, the checkpoint, the
memory estimate, the samples and the writing of the outputs run for real."""

from __future__ import annotations

import dataclasses
from unittest import mock

import pytest
from cli_fuzz import FUZZ, INTEGERS, LISTS, NUMBERS, SIZES, check_contract, flag_strategy, names, undocumented
from hypothesis import given
from hypothesis import strategies as st

from sast_models.checkpoint import save_checkpoint
from sast_models.networks import build_network
from sast_models.spec import NetworkSpec
from verification import all as run_all
from verification import check_convergence, check_lipschitz, check_transfer, replay
from verification.report import CheckResult, Row

FLAGS = {"--samples": INTEGERS, "--time-bins": INTEGERS, "--steps": INTEGERS, "--seed": INTEGERS,
         "--max-memory": SIZES, "--subset": st.sampled_from(["all", "val", ""]),
         "--data": st.sampled_from(["random", "", "nope", "nmnist:/nonexistent"]),
         "--split": st.sampled_from(["", "x"]), "--budget": NUMBERS}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    spec = NetworkSpec(arch="mlp", input_shape=(6,), hidden=(5,), n_classes=3, beta=2.0, tau=0.5)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(path, build_network(spec, seed=0))
    return str(path)


def instant(check):
    """`check` with its measurement replaced by one row that holds."""
    result = CheckResult(check.name, check.property, {}, [Row("stand-in", 0.5, prior=1.0)])
    return dataclasses.replace(check, measure=lambda setup, modes: result)


@FUZZ
@given(drawn=flag_strategy(FLAGS))
def test_verification_all(model, tmp_path_factory, drawn):
    def base(out):
        return ["--model", model, "--data", "random", "--samples", "2", "--time-bins", "3", "--no-progress",
                "--max-memory", "64M", "--out", str(out)]

    with mock.patch.object(run_all, "CHECKS", [instant(check) for check in run_all.CHECKS]):
        check_contract(run_all.main, base, drawn, tmp_path_factory.getbasetemp(), codes=(0, 1))


@FUZZ
@given(drawn=flag_strategy({**FLAGS, "--mode": names("surrogate", "hard", "int8", "int4", "fixed", "all")}))
def test_verification_all_modes(model, tmp_path_factory, drawn):
    def base(out):
        return ["--model", model, "--data", "random", "--samples", "2", "--time-bins", "3", "--no-progress",
                "--max-memory", "64M", "--out", str(out)]

    with mock.patch.object(run_all, "CHECKS", [instant(check) for check in run_all.CHECKS]):
        check_contract(run_all.main, base, drawn, tmp_path_factory.getbasetemp(), codes=(0, 1))


CONVERGENCE = {"--horizons": LISTS, "--batch": INTEGERS, "--rho0": NUMBERS, "--eta0": NUMBERS, "--budget": NUMBERS,
               "--samples": INTEGERS}


@FUZZ
@given(drawn=flag_strategy(CONVERGENCE))
def test_convergence_flags(model, tmp_path_factory, drawn):
    def base(out):
        return ["--model", model, "--data", "random", "--time-bins", "3", "--no-progress", "--out", str(out)]

    check_contract(instant(check_convergence.CHECK).main, base, drawn, tmp_path_factory.getbasetemp(),
                   codes=(0, 1))


@FUZZ
@given(drawn=flag_strategy({**FLAGS, "--mode": names("hard", "int8", "int4", "fixed", "surrogate")}))
def test_transfer_flags(model, tmp_path_factory, drawn):
    def base(out):
        return ["--model", model, "--data", "random", "--samples", "2", "--time-bins", "3", "--no-progress",
                "--out", str(out)]

    check_contract(instant(check_transfer.CHECK).main, base, drawn, tmp_path_factory.getbasetemp(), codes=(0, 1))


@FUZZ
@given(drawn=flag_strategy({**FLAGS, "--mode": st.sampled_from(["surrogate", "hard,surrogate", "", "int3"])}))
def test_single_check(model, tmp_path_factory, drawn):
    def base(out):
        return ["--model", model, "--data", "random", "--samples", "2", "--time-bins", "3", "--no-progress",
                "--max-memory", "64M", "--out", str(out)]

    check_contract(instant(check_lipschitz.CHECK).main, base, drawn, tmp_path_factory.getbasetemp(), codes=(0, 1))


def test_help_documents_every_flag_with_its_default(capsys):
    from verification.cli import common_parser

    for parser in (common_parser("p", "d"), check_lipschitz.CHECK.parser(), check_convergence.CHECK.parser(),
                   check_transfer.CHECK.parser(), replay.build_parser()):
        assert undocumented(parser) == []
    with pytest.raises(SystemExit):
        check_lipschitz.main(["--help"])
    assert "(default: verification_out)" in capsys.readouterr().out
