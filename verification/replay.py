"""Replay a witness: `python -m verification.replay WITNESS [--model CKPT]` recomputes the value a check measured
at the saved point (input, pair, states, perturbation, training run) and its bound, prints both beside the
recorded ones, and exits 1 when the value still exceeds the bound (the violation is reproduced), 0 when it
holds, 2 on bad input."""

from __future__ import annotations

import importlib
import json
import math
import sys

import torch

from sast_core.cli import CliParser, cli_entry
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_core.flags import Text
from sast_models.describe import describe

from . import witness as witnesses
from .cli import Setup, load_model, network_from_config
from .report import RELATIVE_SLACK


def build_parser() -> CliParser:
    p = CliParser(prog="python -m verification.replay", description=__doc__.split("\n")[0])
    p.add_argument("witness", type=Text("a witness file path"),
                   help="a witness file (DIR/witness-<check>-<n>.safetensors)")
    p.add_argument("--model", type=Text("a checkpoint path"), default=None,
                   help="checkpoint (default: the one recorded in the witness)")
    return p


def replay_setup(model: str | None, header: dict, tensors: dict) -> Setup:
    """A Setup for replaying: the checkpoint's (or configuration's) network and description, the witness's
    samples."""
    net, checkpoint_header = load_model(model) if model else network_from_config(header["config"])
    settings = dict(header.get("settings") or {})
    x = tensors.get("x", torch.zeros(1, 1, *net.spec.input_shape, dtype=torch.float64))
    y = tensors.get("y", torch.zeros(x.shape[1], dtype=torch.int64))
    generator = torch.Generator().manual_seed(int(settings.get("seed", 0)))
    return Setup(net, describe(net), x, y, float(net.spec.input_bound), int(settings.get("attack_steps", 30)),
                 generator, False, settings, header=checkpoint_header)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    witness, header = witnesses.load(args.witness)
    model = args.model or header.get("model")
    if not model and not header.get("config"):
        raise InputError(f"{args.witness}: records no model; pass --model CKPT")
    try:
        module = importlib.import_module(f"verification.check_{witness.check}")
    except ModuleNotFoundError:
        raise InputError(f"{args.witness}: unknown check {witness.check!r}") from None
    replayers = getattr(module, "REPLAY", {})
    if witness.probe not in replayers:
        raise InputError(f"{args.witness}: check {witness.check} cannot replay {witness.probe!r}")
    value, bound = replayers[witness.probe](replay_setup(model, header, witness.tensors), witness)
    holds = bound is None or value <= bound + RELATIVE_SLACK * abs(bound)
    print(json.dumps({"check": witness.check, "probe": witness.probe, "quantity": header.get("quantity"),
                      "value": value, "bound": bound, "holds": holds, "recorded_value": header.get("empirical"),
                      "recorded_bound": header.get("bound"), "params": witness.params},
                     default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else str(v)))
    return EXIT_OK if holds else EXIT_CHECK_FAILED


if __name__ == "__main__":
    sys.exit(main())
