"""python -m sast_theory.report: every constant of THEORY.md for a checkpoint or a configuration.

    python -m sast_theory.report --model CKPT [--out DIR] [--latex]
    python -m sast_theory.report --arch mlp|conv --beta B --tau T [--theta ... --reset ... --hidden ...]

Writes DIR/theory.json (value, symbolic form as str and LaTeX, a priori and a posteriori, assumptions and
whether each holds), DIR/feasibility.png, optionally DIR/theory.tex, and prints a table. For a checkpoint, P6
(the safe membrane register per layer) is computed on the network `sast_models.hardware.deploy` builds with the
--weight-bits / --frac-bits / --leak-shift / --per-channel formats (default: the int8 mode's). Exit 0: every
assumption holds and the two computation paths agree; 1: some check fails; 2: bad input.

This module is the command (it sits above sast_theory and sast_models: it loads checkpoints and deploys them);
`python -m sast_theory.report` is its documented name (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from pathlib import Path
from typing import Any

from sast_core.atomic import atomic_write, atomic_write_json, atomic_write_text
from sast_core.cli import CliParser, cli_entry, parse_list
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_theory.description import DEFAULT_CAPS, NetworkDescription, a_priori_description, check_leak
from sast_theory.registers import smallest_safe_bits
from sast_theory.report import build_report, latex, table

from ..checkpoint import load_description
from ..hardware.deploy import deploy
from ..hardware.formats import MAX_REGISTER_BITS, LeakFormat
from ..hardware.modes import HARDWARE_MODES

P6_MODE = "int8"  # the hardware mode whose formats the report's P6 flags default to


def build_parser() -> CliParser:
    p = CliParser(prog="python -m sast_theory.report", description=__doc__.split("\n\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="checkpoint (a priori and a posteriori constants)")
    source.add_argument("--arch", choices=("mlp", "conv"), help="a priori constants for a configuration")
    p.add_argument("--out", default="theory_report", help="output folder (default: theory_report)")
    p.add_argument("--latex", action="store_true", help="also write theory.tex")
    p.add_argument("--beta", type=float, help="surrogate sharpness (with --arch)")
    p.add_argument("--tau", type=float, help="leak cap taubar of the spiking layers (with --arch)")
    p.add_argument("--readout-tau", type=float, default=None)
    p.add_argument("--theta", type=float, default=1.0)
    p.add_argument("--reset", choices=("zero", "subtract", "none"), default="zero")
    p.add_argument("--surrogate", choices=("sigmoid", "arctan"), default="sigmoid")
    p.add_argument("--hidden", default="512", help="dense widths, e.g. 512,256")
    p.add_argument("--channels", default="", help="conv channels, e.g. 16,32 (--arch conv)")
    p.add_argument("--input-shape", default="2,34,34")
    p.add_argument("--n-classes", type=int, default=10)
    p.add_argument("--input-bound", type=float, default=1.0, help="X of A1")
    p.add_argument("--inf-cap", type=float, default=DEFAULT_CAPS.inf, help="A3 cap c on ||W||_inf")
    p.add_argument("--spectral-cap", type=float, default=DEFAULT_CAPS.spectral, help="A3 cap omega on ||W||_2")
    p.add_argument("--bias-cap", type=float, default=DEFAULT_CAPS.bias, help="A3 cap bbar on ||b||_inf")
    p.add_argument("--kernel", type=int, default=3)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", type=int, default=1)
    p.add_argument("--pool", type=int, default=2)
    p.add_argument("--sam-rho", type=float, default=0.05, help="SAM radius for P4 (default 0.05)")
    default = HARDWARE_MODES[P6_MODE]
    p.add_argument("--weight-bits", type=int, default=default.weight_bits, help="P6 weight bits")
    p.add_argument("--frac-bits", type=int, default=default.frac, help="P6 membrane fractional bits")
    p.add_argument("--leak-shift", type=int, default=None,
                   help=f"P6 shift leak: the nearest 1 - 2^-j, j <= K (default: the {P6_MODE} leak m / "
                        f"2^{default.leak.k})")
    p.add_argument("--per-channel", action="store_true", help="P6 per-output-channel weight quantization")
    return p


def a_priori(args: argparse.Namespace) -> NetworkDescription:
    """The weight-free description of the --arch flags (InputError naming the flag)."""
    if args.beta is None or args.tau is None:
        raise InputError("--arch needs --beta and --tau")
    for flag, value in (
        ("--beta", args.beta),
        ("--input-bound", args.input_bound),
        ("--inf-cap", args.inf_cap),
        ("--spectral-cap", args.spectral_cap),
    ):
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"{flag} {value}: expected a finite number > 0")
    check_leak("--tau", args.tau)
    if args.readout_tau is not None:
        check_leak("--readout-tau", args.readout_tau)
    sizes = {flag: tuple(parse_list(flag, getattr(args, flag[2:].replace("-", "_")), int, allow_empty=True))
             for flag in ("--hidden", "--channels", "--input-shape")}
    if args.arch == "conv" and (not sizes["--channels"] or len(sizes["--input-shape"]) != 3):
        raise InputError("--arch conv needs --channels and a 3-entry --input-shape C,H,W")
    if min(sum(sizes.values(), ()), default=1) < 1 or args.n_classes < 2:
        raise InputError("--hidden, --channels, --input-shape need entries >= 1 and --n-classes >= 2")
    return a_priori_description(
        args.arch,
        args.beta,
        args.tau,
        theta=args.theta,
        reset=args.reset,
        surrogate=args.surrogate,
        hidden=sizes["--hidden"],
        channels=sizes["--channels"] if args.arch == "conv" else (),
        input_shape=sizes["--input-shape"],
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


def plot_region(region: dict[str, list[list[float]]], path: str | os.PathLike, title: str) -> None:
    """Feasible (beta, taubar) region per reset mode (`sast_theory.feasibility`): below each curve A4 holds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.sam_rho <= 0 or args.frac_bits < 0:
        raise InputError("--sam-rho must be > 0 and --frac-bits >= 0")
    description = load_description(args.model) if args.model else a_priori(args)
    p6 = p6_statement(description, args) if description.has_weights else None
    report = build_report(description, args.sam_rho, p6=p6, checkpoint=args.model)
    out = Path(args.out)
    if report["feasibility"]:
        plot_region(
            report["feasibility"]["region"],
            out / "feasibility.png",
            f"A4 feasible region ({report['assumptions']['A2']['surrogate']}, "
            f"I_max = {report['feasibility']['current_bound']:.3g})",
        )
    if args.latex:
        atomic_write_text(out / "theory.tex", latex(report))
    atomic_write_json(out / "theory.json", report)
    print(table(report))
    return EXIT_OK if report["all_hold"] else EXIT_CHECK_FAILED


if __name__ == "__main__":
    sys.exit(main())
