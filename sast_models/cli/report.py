"""python -m sast_theory.report: every constant of THEORY.md for a checkpoint or a configuration.

    python -m sast_theory.report --model CKPT [--out DIR] [--latex]
    python -m sast_theory.report --model CKPT --data SPEC --radius R[,R2,...] [--samples N]
    python -m sast_theory.report --arch mlp|conv --beta B --tau T [--theta ... --reset ... --hidden ...]

Writes DIR/theory.json (value, symbolic form as str and LaTeX, a priori and a posteriori, assumptions and
whether each holds), DIR/feasibility.png, optionally DIR/theory.tex (all or none, recorded in the folder's
manifest), and prints a table. For a checkpoint, P6
(the safe membrane register per layer) is computed on the network `sast_models.hardware.deploy` builds with the
--weight-bits / --frac-bits / --leak-shift / --per-channel formats (default: the int8 mode's). Exit 0: every
assumption holds and the two computation paths agree; 1: some check fails; 2: bad input.

With --data, the local constants of each parameter ball B(theta_0, R) on those samples are added beside the a
priori and a posteriori ones (docs/theory.md sec. 12): L_theta, G, P4 (rho = R) and P5 (rho = --sam-rho < R);
the memory they need is checked (--max-memory) before the samples are loaded.

This module is the command (it sits above sast_theory and sast_models: it loads checkpoints and deploys them);
`python -m sast_theory.report` is its documented name (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from sast_core.atomic import json_text
from sast_core.cli import CliParser, cli_entry
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_core.flags import Integer, ListOf, Number, Size, Text
from sast_core.memory import MEMORY_HELP, check_memory
from sast_core.runs import Entry, RunFolder, sha256_file
from sast_theory.description import DEFAULT_CAPS, NetworkDescription, a_priori_description
from sast_theory.local.constants import memory_estimate
from sast_theory.local.network import from_description
from sast_theory.local.statements import local_section
from sast_theory.registers import smallest_safe_bits
from sast_theory.report import build_report, latex, table
from sast_theory.surrogates import RESETS, SURROGATES

from ..checkpoint import load_description, read_header
from ..data.loading import load_frames
from ..figures import plt, png_bytes
from ..hardware.deploy import deploy
from ..hardware.formats import LEAK_BITS, MAX_REGISTER_BITS, WEIGHT_BITS, LeakFormat
from ..hardware.modes import HARDWARE_MODES

P6_MODE = "int8"  # the hardware mode whose formats the report's P6 flags default to
ENTRY = "sast_theory.report"
OUTPUTS = ("theory.json", "feasibility.png", "theory.tex")
POSITIVE = Number(0, low_open=True)
LEAK = Number(0, 1, high_open=True)


def build_parser() -> CliParser:
    p = CliParser(prog="python -m sast_theory.report", description=__doc__.split("\n\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Text("a checkpoint path"),
                        help="checkpoint (a priori and a posteriori constants)")
    source.add_argument("--arch", choices=("mlp", "conv"), help="a priori constants for a configuration")
    p.add_argument("--out", type=Text("a folder path"), default="theory_report", help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace what --out holds instead of refusing")
    p.add_argument("--latex", action="store_true", help="also write theory.tex")
    p.add_argument("--beta", type=POSITIVE, help="surrogate sharpness (with --arch)")
    p.add_argument("--tau", type=LEAK, help="leak cap taubar of the spiking layers, in [0, 1) (with --arch)")
    p.add_argument("--readout-tau", type=LEAK, default=None, help="leak of the readout (default: --tau)")
    p.add_argument("--theta", type=Number(0), default=1.0, help="threshold")
    p.add_argument("--reset", choices=RESETS, default="zero", help="reset mode")
    p.add_argument("--surrogate", choices=SURROGATES, default="sigmoid", help="surrogate family")
    p.add_argument("--hidden", type=ListOf(Integer(1), allow_empty=True), default="512",
                   help="dense widths, e.g. 512,256")
    p.add_argument("--channels", type=ListOf(Integer(1), allow_empty=True), default="",
                   help="conv channels, e.g. 16,32 (--arch conv)")
    p.add_argument("--input-shape", type=ListOf(Integer(1)), default="2,34,34", help="C,H,W (or D)")
    p.add_argument("--n-classes", type=Integer(2), default=10, help="readout width")
    p.add_argument("--input-bound", type=POSITIVE, default=1.0, help="X of A1")
    p.add_argument("--inf-cap", type=POSITIVE, default=DEFAULT_CAPS.inf, help="A3 cap c on ||W||_inf")
    p.add_argument("--spectral-cap", type=POSITIVE, default=DEFAULT_CAPS.spectral, help="A3 cap omega on ||W||_2")
    p.add_argument("--bias-cap", type=Number(0), default=DEFAULT_CAPS.bias, help="A3 cap bbar on ||b||_inf")
    p.add_argument("--kernel", type=Integer(1), default=3, help="conv kernel size")
    p.add_argument("--stride", type=Integer(1), default=1, help="conv stride")
    p.add_argument("--padding", type=Integer(0), default=1, help="conv zero padding")
    p.add_argument("--pool", type=Integer(1), default=2, help="average pooling after each conv block")
    p.add_argument("--sam-rho", type=POSITIVE, default=0.05, help="SAM radius for P4")
    default = HARDWARE_MODES[P6_MODE]
    p.add_argument("--weight-bits", type=Integer(*WEIGHT_BITS), default=default.weight_bits, help="P6 weight bits")
    p.add_argument("--frac-bits", type=Integer(0, MAX_REGISTER_BITS - 1), default=default.frac,
                   help="P6 membrane fractional bits")
    p.add_argument("--leak-shift", type=Integer(*LEAK_BITS), default=None,
                   help=f"P6 shift leak: the nearest 1 - 2^-j, j <= K (default: the {P6_MODE} leak m / "
                        f"2^{default.leak.k})")
    p.add_argument("--per-channel", action="store_true", help="P6 per-output-channel weight quantization")
    p.add_argument("--data", type=Text("a dataset spec"), default=None,
                   help="with --model: samples for the local constants, e.g. nmnist:PATH (default: none)")
    p.add_argument("--split", type=Text("a split name"), default="train", help="dataset split of --data")
    p.add_argument("--samples", type=Integer(1), default=None, help="first N samples of --data (default: all)")
    p.add_argument("--time-bins", type=Integer(1), default=None, help="T of --data (default: as in training)")
    p.add_argument("--radius", type=ListOf(Number(0)), default="0.01",
                   help="parameter-ball radii R of the local constants, e.g. 0.01,0.03,0.1")
    p.add_argument("--batch-size", type=Integer(1), default=None,
                   help="P5 minibatch size of the local constants (default: as in training)")
    p.add_argument("--max-memory", type=Size(), default=None, help=MEMORY_HELP)
    return p


def a_priori(args: argparse.Namespace) -> NetworkDescription:
    """The weight-free description of the --arch flags (InputError naming the flag)."""
    if args.beta is None or args.tau is None:
        raise InputError("--arch needs --beta and --tau")
    if args.arch == "conv" and (not args.channels or len(args.input_shape) != 3):
        raise InputError("--arch conv needs --channels and a 3-entry --input-shape C,H,W")
    return a_priori_description(
        args.arch,
        args.beta,
        args.tau,
        theta=args.theta,
        reset=args.reset,
        surrogate=args.surrogate,
        hidden=tuple(args.hidden),
        channels=tuple(args.channels) if args.arch == "conv" else (),
        input_shape=tuple(args.input_shape),
        n_classes=args.n_classes,
        input_bound=args.input_bound,
        inf_cap=args.inf_cap,
        spectral_cap=args.spectral_cap,
        bias_cap=args.bias_cap,
        readout_tau=args.readout_tau,
        kernel=args.kernel,
        stride=args.stride,
        padding=args.padding,
        pool=args.pool,
    )


def p6_statement(description: NetworkDescription, args: argparse.Namespace) -> dict[str, Any]:
    """P6 of the deployed network: per layer the largest weight quantum, the largest tau_q, U_q in LSBs and the
    smallest safe register width, from `IntNetwork.register_bounds` (the widths int8/int4 deploy with).

    The network is deployed with the widest register, so that widths beyond what the simulator runs are still
    reported; the register width enters neither the quantization nor U_q.
    """
    leak = HARDWARE_MODES[P6_MODE].leak if args.leak_shift is None else LeakFormat("shift", args.leak_shift)
    config = dataclasses.replace(HARDWARE_MODES[P6_MODE], weight_bits=args.weight_bits, per_channel=args.per_channel,
                                 frac=args.frac_bits, register_bits=MAX_REGISTER_BITS, leak=leak)
    deployed = deploy(description, config)
    layers = [
        {
            "name": layer.name,
            "weight_step": float(layer.scale.max()),
            "tau_q": float(layer.tau_q().max()),
            "U_q_lsb": float(bound),
            "bits": smallest_safe_bits(bound, config.frac),
        }
        for layer, bound in zip(deployed.layers, deployed.register_bounds(), strict=True)
    ]
    return {"weight_bits": args.weight_bits, "frac_bits": args.frac_bits, "leak_shift": args.leak_shift,
            "per_channel": args.per_channel, "layers": layers}


def local_rows(args: argparse.Namespace, description: NetworkDescription) -> list[dict[str, Any]]:
    """The --data samples (framed as in training; their memory checked first) and the local constants of every
    --radius ball."""
    hyper = read_header(args.model).get("hyperparameters", {})
    steps = args.time_bins or hyper.get("time_bins") or 8
    net = from_description(description)
    frames, labels, _ = load_frames(args.data, time_bins=steps, split=args.split,
                                    duration_us=hyper.get("duration_us"),
                                    mode=hyper.get("frame_mode", "binary" if net.input_bound == 1.0 else "count"),
                                    downsample=hyper.get("downsample", 1), max_memory=args.max_memory)
    count = len(labels) if args.samples is None else min(args.samples, len(labels))
    check_memory(memory_estimate(net, count, steps), args.max_memory, "lower --samples or --time-bins")
    batch = args.batch_size or int(hyper.get("batch_size", 32))
    return local_section(net, frames[:count].double().numpy(), labels[:count].numpy(), tuple(args.radius),
                         args.sam_rho, batch)


def plot_region(region: dict[str, list[list[float]]], title: str) -> bytes:
    """PNG: the feasible (beta, taubar) region per reset mode (`sast_theory.feasibility`): below each curve A4
    holds."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for reset, points in region.items():
        betas, taus = zip(*points, strict=True)
        ax.plot(betas, taus, marker="o", ms=3, label=f"reset {reset}")
        ax.fill_between(betas, 0, taus, alpha=0.1)
    ax.set_xlabel("surrogate sharpness beta")
    ax.set_ylabel("largest feasible leak cap taubar")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return png_bytes(fig, dpi=120)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.data is not None and not args.model:
        raise InputError("--data needs --model (local constants are about a checkpoint's weights)")
    configuration = {k: v for k, v in vars(args).items() if k not in ("out", "overwrite", "max_memory")}
    entry = Entry(ENTRY, configuration, OUTPUTS, model_sha256=sha256_file(args.model) if args.model else None,
                  argv=["python", "-m", ENTRY, *(sys.argv[1:] if argv is None else argv)])
    folder = RunFolder(args.out)
    folder.check(entry, overwrite=args.overwrite)
    description = load_description(args.model) if args.model else a_priori(args)
    p6 = p6_statement(description, args) if description.has_weights else None
    report = build_report(description, args.sam_rho, p6=p6, checkpoint=args.model)
    if args.data is not None:  # before anything is written: bad data is one line and no output
        report["local"] = local_rows(args, description)
    outputs: dict[str, Any] = {"theory.json": json_text(report)}
    if report["feasibility"]:
        outputs["feasibility.png"] = plot_region(
            report["feasibility"]["region"],
            f"A4 feasible region ({report['assumptions']['A2']['surrogate']}, "
            f"I_max = {report['feasibility']['current_bound']:.3g})",
        )
    if args.latex:
        outputs["theory.tex"] = latex(report)
    with folder.session(entry, overwrite=args.overwrite) as session:
        session.commit(outputs)
    print(table(report))
    return EXIT_OK if report["all_hold"] else EXIT_CHECK_FAILED


if __name__ == "__main__":
    sys.exit(main())
