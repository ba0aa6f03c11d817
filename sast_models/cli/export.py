"""Export a checkpoint for other tools: `python -m sast_models.export --model CKPT --format nir --mode hard|int8
--out FILE.nir [--check norse,snntorch]`.

--mode hard exports the float hard-spike network, int8 its INT8 deployment (hardware.modes), mapped onto NIR
as in hardware/nir_export.py. --check imports the written file with each named consumer (Norse, snnTorch;
installed with --no-deps as the README says), runs it step by step on the checkpoint's data (or --data,
--split, --subset, first --samples) next to our network in the same mode (hard: the float hard network;
int8: the bit-accurate integer simulator) and reports per spiking layer the spike-train agreement and the
prediction agreement. A JSON report goes beside the file (FILE.nir.json) and to stdout. Exit 0: exported (and
every check agrees >= --min-agreement on predictions and on each layer's spike entries); 1: a check agreed
less or its consumer could not import the file; 2: bad input, one line, nothing written.
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from sast_core.atomic import atomic_write, atomic_write_json
from sast_core.cli import CliParser, cli_entry
from sast_core.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError
from sast_core.flags import Integer, ListOf, Number, Size, Text
from sast_core.memory import MEMORY_HELP
from sast_core.outputs import check_writable

from ..checkpoint import load_checkpoint
from ..data.loading import SPEC_HELP
from ..data.splits import SUBSETS
from ..describe import describe
from ..evaluation.modes import EVALUATION_MODES
from ..hardware.deploy import deploy
from ..hardware.modes import HARDWARE_MODES
from ..hardware.nir_check import CONSUMERS, Agreement, consumer_runner, passes, require
from ..hardware.nir_export import DEFAULT_DT, export_nir, nir_layers
from ..training.config import SEED
from .evaluate import checkpoint_frames, framing_source

EXPORT_MODES = ("hard", "int8")


def build_parser() -> CliParser:
    p = CliParser(prog="python -m sast_models.export", description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Text("a checkpoint path"), required=True, help="checkpoint (model.safetensors)")
    p.add_argument("--format", choices=("nir",), default="nir", help="export format")
    p.add_argument("--mode", choices=EXPORT_MODES, default="hard",
                   help="hard: the float hard-spike network; int8: its INT8 deployment")
    p.add_argument("--out", type=Text("a file path"), required=True,
                   help="file to write (FILE.nir; the report goes to FILE.nir.json)")
    p.add_argument("--dt", type=Number(0, low_open=True), default=DEFAULT_DT,
                   help="time step of the NIR graph (what snnTorch's importer assumes)")
    p.add_argument("--check", type=ListOf(choices=tuple(CONSUMERS), allow_empty=True), default="",
                   help=f"comma-separated consumers to run the file: {', '.join(CONSUMERS)}")
    p.add_argument("--min-agreement", type=Number(0, 1), default=0.99,
                   help="a check passes when prediction and every layer's spike agreement reach this")
    p.add_argument("--data", type=Text("a dataset spec"), default=None,
                   help=f"{SPEC_HELP} (default: the checkpoint's training data)")
    p.add_argument("--split", type=Text("a split name"), default="test", help="dataset split for --check")
    p.add_argument("--subset", choices=SUBSETS, default="all",
                   help="all samples of the split, or the training run's validation/training part of it")
    p.add_argument("--samples", type=Integer(1), default=None, help="check on the first N samples (default all)")
    p.add_argument("--time-bins", type=Integer(1), default=None, help="T (default: as in training)")
    p.add_argument("--batch-size", type=Integer(1), default=64, help="samples per forward pass")
    p.add_argument("--seed", type=SEED, default=None, help="seed of the --subset split (default: training's)")
    p.add_argument("--cache-dir", type=Text("a folder path"), default=None, help="SAST cache root")
    p.add_argument("--max-memory", type=Size(), default=None, help=MEMORY_HELP)
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return p


def parse_consumers(names: list[str]) -> list[str]:
    """The consumers named by --check, each installed (InputError otherwise), without repeats."""
    names = list(dict.fromkeys(names))
    for name in names:
        require(name)
    return names


def check_output(out: Path) -> None:
    if out.is_dir():
        raise InputError(f"--out {out}: is a folder; expected a file name such as model.nir")
    check_writable(out.parent)


def export_graph(target: Any, dt: float) -> tuple[Any, list[dict[str, str]]]:
    """export_nir with its warnings collected for the report (and still shown on stderr)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = export_nir(target, dt)
    notes = [{"kind": w.category.__name__, "message": str(w.message)} for w in caught]
    for note in notes:
        print(f"warning ({note['kind']}): {note['message']}", file=sys.stderr)
    return graph, notes


def check_consumer(consumer: str, graph: Any, reference: Any, thresholds: list, frames: torch.Tensor,
                   labels: torch.Tensor, batch_size: int, minimum: float) -> dict[str, Any]:
    """Run `graph` in `consumer` and `reference` (our runner) on frames (N, T, ...); the agreement report."""
    messages: list[str] = []
    try:
        run = consumer_runner(consumer, graph, messages)
    except Exception as err:  # noqa: BLE001 - a consumer refusing the file is a check result, not a crash
        return {"imported": False, "error": f"{type(err).__name__}: {err}", "messages": messages[:20],
                "passed": False}
    agreement = Agreement(thresholds)
    with torch.no_grad():
        for start in range(0, len(frames), batch_size):
            x = frames[start:start + batch_size].transpose(0, 1)
            agreement.add(reference(x), run(x), labels[start:start + batch_size])
    report = {"imported": True, **agreement.report(), "messages": list(dict.fromkeys(messages))[:20]}
    report["passed"] = passes(report, minimum)
    return report


def round_trip(graph: Any) -> Any:
    """The graph as a consumer reads it from the file: nir.write, then nir.read."""
    import nir

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "graph.nir"
        nir.write(path, graph)
        return nir.read(path)


def write_graph(out: Path, graph: Any) -> None:
    import nir

    atomic_write(out, lambda tmp: nir.write(tmp, graph))


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    consumers = parse_consumers(args.check)
    out = Path(args.out)
    check_output(out)
    net, header = load_checkpoint(args.model)
    net.eval()
    target = net if args.mode == "hard" else deploy(describe(net), HARDWARE_MODES[args.mode])
    if consumers:  # every input is checked before anything is exported or written
        hyper = header["hyperparameters"]
        data, time_bins = framing_source(hyper, args)
        frames, labels, info = checkpoint_frames(net, hyper, args, data, time_bins)
        frames, labels = (frames[: args.samples], labels[: args.samples]) if args.samples else (frames, labels)
        if len(frames) == 0:
            raise InputError(f"--split {args.split} --subset {args.subset}: no samples to check on")
    graph, notes = export_graph(target, args.dt)
    report: dict[str, Any] = {"model": str(args.model), "format": args.format, "mode": args.mode,
                              "file": str(out), "dt": args.dt, "warnings": notes,
                              "nodes": {name: type(node).__name__ for name, node in graph.nodes.items()},
                              "min_agreement": args.min_agreement, "checks": {}}
    if consumers:
        report.update(data=info["data"], split=args.split, subset=args.subset, n_samples=len(frames),
                      time_bins=info["time_bins"])
        reference = EVALUATION_MODES[args.mode](net)
        thresholds = [layer.theta for layer in nir_layers(target) if layer.spiking]
        written = round_trip(graph)
        for consumer in consumers:
            report["checks"][consumer] = check_consumer(consumer, written, reference, thresholds, frames,
                                                        labels, args.batch_size, args.min_agreement)
    write_graph(out, graph)
    atomic_write_json(out.with_name(out.name + ".json"), report)
    print(json.dumps(report, indent=2, sort_keys=True, allow_nan=False))
    failed = [name for name, check in report["checks"].items() if not check["passed"]]
    return EXIT_CHECK_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
