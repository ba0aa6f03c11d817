"""Training and inference throughput of our dense LIF MLP against snnTorch, SpikingJelly and Norse.

    python -m benchmarks.throughput --out benchmarks/results            # the full comparison (~2 min)
    python -m benchmarks.throughput --repeats 5 --contenders ours snntorch   # a quick look

One TRAINING STEP, identical for every contender: optimizer.zero_grad(set_to_none=True); logits = model(x)
(T = 20 steps, batch 64, float32, 2312 -> 512 LIF -> 10 leaky readout, logits = mean readout membrane);
loss = cross_entropy(logits, y); loss.backward(); Adam.step(). The input batch is built once, outside the
timing (no data loading). INFERENCE = model(x) under torch.no_grad(); ours in 'hard' mode (deployment)
and in 'surrogate' mode. All timed calls are interleaved: every repeat runs every call once, in a freshly
shuffled order, so a slow-down of a shared machine hits all contenders alike. We report the median and
the inter-quartile range over repeats, the ratio of each contender's median to ours (> 1: ours is faster)
and the autograd memory of one training step (bytes of tensors saved for the backward pass).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from sast_core.cli import CliParser, cli_entry
from sast_core.flags import Integer, Number, Size, Text
from sast_core.memory import MEMORY_HELP, check_memory
from sast_core.runs import Entry, RunFolder

from .models import N_HIDDEN, N_IN, N_OUT, NAMES, contenders

REFERENCE = "ours"


def machine_info(threads: int) -> dict:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu_model": model, "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "torch_threads": threads, "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": _loadavg()}


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def make_batch(steps: int, batch: int, density: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Event-count frames like N-MNIST at T = 20 (about 5% nonzero pixels, counts 1..7) and random labels."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(steps, batch, N_IN, generator=gen) < density
    counts = torch.randint(1, 8, (steps, batch, N_IN), generator=gen).float()
    return mask * counts, torch.randint(0, N_OUT, (batch,), generator=gen)


def training_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    return step


def inference(model: torch.nn.Module, x: torch.Tensor, **kwargs) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            model(x, **kwargs)

    return run


def component_calls(x: torch.Tensor, seed: int) -> dict[str, Callable[[], None]]:
    """Parts of our training step, each with its backward: where the time goes."""
    from sast_models.neuron import integrate
    from sast_models.parameterization import capped_weight
    from sast_models.surrogates import hard_spike, spike_function

    from .models import Ours

    net = Ours("plain", seed).net
    first, readout = net.layers
    raw = first.raw_weight
    grad_w = torch.randn_like(raw)
    flat = x.flatten(0, 1)
    spike = spike_function("sigmoid", 5.0, "surrogate")
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(x.shape[0], x.shape[1], 512, generator=gen).requires_grad_()
    out = torch.randn(x.shape[0], x.shape[1], N_OUT, generator=gen).requires_grad_()
    tau = torch.tensor(0.5)

    def caps(fn):
        def run() -> None:
            fn(raw, 8.0, 8.0).backward(grad_w)
            raw.grad = None
        return run

    def linear(sparse: bool):
        def run() -> None:
            w = raw.detach().requires_grad_()
            (first.operator(flat, w, first.raw_bias) if sparse else F.linear(flat, w, first.raw_bias)).sum().backward()
        return run

    def recursion() -> None:
        _, s = integrate(hidden, leak=lambda v: tau * v, theta=1.0, reset="zero", spike=spike)
        u, _ = integrate(out, leak=lambda v: tau * v, theta=1.0, reset="none", spike=None)
        (s.sum() + u.sum()).backward()

    def recursion_hard() -> None:
        with torch.no_grad():
            integrate(hidden, leak=lambda v: tau * v, theta=1.0, reset="zero", spike=hard_spike)
            integrate(out, leak=lambda v: tau * v, theta=1.0, reset="none", spike=None)

    return {"component/capped_weight 512x2312 fwd+bwd": caps(capped_weight),
            "component/layer-1 currents, event-sparse path fwd+bwd": linear(True),
            "component/layer-1 currents, dense F.linear fwd+bwd": linear(False),
            "component/LIF recursion (hidden + readout) fwd+bwd": recursion,
            "component/LIF recursion (hidden + readout) hard, no_grad": recursion_hard}


def saved_bytes(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Bytes of the distinct tensors autograd saves for the backward pass of one training step."""
    seen: dict[tuple, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.layout == torch.strided and t.device.type == "cpu":
            storage = t.untyped_storage()
            seen[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.cross_entropy(model(x), y)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return sum(seen.values())


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], statistics.median(values), q[2]


def run(args: argparse.Namespace) -> dict:
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    machine = machine_info(threads)
    x, y = make_batch(args.steps, args.batch, args.density, args.seed)
    built, skipped = contenders(args.seed, args.contenders)
    calls: dict[str, Callable[[], None]] = {}
    meta: dict[str, dict] = {}
    for c in built:
        calls[f"train/{c.name}"] = training_step(c.model, x, y)
        meta[f"train/{c.name}"] = {"kind": "train", "contender": c.name, "library": c.library,
                                   "version": c.version}
        if c.name.startswith("ours"):
            for mode in ("hard", "surrogate"):
                calls[f"infer_{mode}/{c.name}"] = inference(c.model, x, mode=mode)
                meta[f"infer_{mode}/{c.name}"] = {"kind": f"infer_{mode}", "contender": c.name,
                                                  "library": c.library, "version": c.version}
        elif args.peer_inference:
            calls[f"infer/{c.name}"] = inference(c.model, x)
            meta[f"infer/{c.name}"] = {"kind": "infer", "contender": c.name, "library": c.library,
                                       "version": c.version}
    if args.components:
        for key, call in component_calls(x, args.seed).items():
            calls[key] = call
            meta[key] = {"kind": "component", "contender": key.split("/", 1)[1], "library": "sast-toolkit",
                         "version": ""}
    for call in calls.values():  # warm-up: allocator, lazy init, first-call overheads
        for _ in range(args.warmup):
            call()
    times: dict[str, list[float]] = {key: [] for key in calls}
    order = list(calls)
    shuffler = random.Random(args.seed)
    progress = _progress(args.repeats)
    start = time.perf_counter()
    for _ in progress:
        shuffler.shuffle(order)
        for key in order:
            begin = time.perf_counter()
            calls[key]()
            times[key].append((time.perf_counter() - begin) * 1e3)
    elapsed = time.perf_counter() - start
    memory = {c.name: saved_bytes(c.model, x, y) for c in built} if not args.no_memory else {}
    rows = []
    ref_key = f"train/{REFERENCE}"
    ref = statistics.median(times[ref_key]) if ref_key in times else None
    for key in calls:
        q1, med, q3 = quartiles(times[key])
        row = dict(meta[key], ms_median=med, ms_q1=q1, ms_q3=q3, iqr=q3 - q1, samples=times[key])
        if ref is not None:
            row["ratio_to_ours_train"] = med / ref
        if row["kind"] == "train" and row["contender"] in memory:
            row["saved_tensor_mib"] = memory[row["contender"]] / 2**20
        rows.append(row)
    peers = [r for r in rows if r["kind"] == "train" and not r["contender"].startswith("ours")]
    fastest = min(peers, key=lambda r: r["ms_median"]) if peers else None
    summary = {}
    if ref is not None and fastest is not None:
        summary["fastest_peer"] = fastest["contender"]
        summary["speedup_vs_fastest_peer"] = fastest["ms_median"] / ref
        summary["target_speedup_vs_fastest_peer"] = 1.5
    hard_key = f"infer_hard/{REFERENCE}"
    if ref is not None and hard_key in times:
        summary["train_over_hard_inference"] = ref / statistics.median(times[hard_key])
        summary["target_train_over_hard_inference"] = 3.0
    return {
        "command": " ".join([Path(sys.executable).name, "-m", "benchmarks.throughput", *sys.argv[1:]]),
        "config": {"time_steps": args.steps, "batch": args.batch, "n_in": N_IN, "hidden": 512, "n_out": N_OUT,
                   "dtype": "float32", "device": "cpu", "input_density": args.density, "repeats": args.repeats,
                   "warmup": args.warmup, "seed": args.seed,
                   "training_step": "zero_grad + forward (T steps) + cross-entropy + backward + Adam.step",
                   "inference": "forward under torch.no_grad()"},
        "machine": dict(machine, load_average_at_end=_loadavg()),
        "elapsed_s": elapsed, "skipped": skipped, "summary": summary, "rows": rows,
    }


def _progress(n: int):
    try:
        from tqdm import tqdm

        return tqdm(range(n), desc="repeats", file=sys.stderr)
    except ImportError:
        return range(n)


def table(result: dict) -> str:
    lines = [f"{'call':58s} {'median ms':>10s} {'IQR ms':>8s} {'x ours-train':>12s} {'saved MiB':>9s}"]
    order = {"train": 0, "infer_hard": 1, "infer_surrogate": 1, "infer": 2, "component": 3}
    for r in sorted(result["rows"], key=lambda r: (order[r["kind"]], r["ms_median"])):
        key = f"{r['kind']}/{r['contender']}" + (f" ({r['library']} {r['version']})"
                                                 if r["library"] != "sast-toolkit" else "")
        mem = f"{r['saved_tensor_mib']:9.1f}" if "saved_tensor_mib" in r else f"{'':9s}"
        ratio = f"{r.get('ratio_to_ours_train', float('nan')):12.2f}"
        lines.append(f"{key:58s} {r['ms_median']:10.1f} {r['iqr']:8.1f} {ratio} {mem}")
    m = result["machine"]
    lines.append(f"machine: {m['cpu_model']}, {m['usable_cpus']} usable CPUs, torch {m['torch']}, "
                 f"{m['torch_threads']} threads, load average {m['load_average_at_start']} -> "
                 f"{m['load_average_at_end']}")
    for name, value in result["summary"].items():
        lines.append(f"{name}: {value if isinstance(value, str) else round(value, 3)}")
    for name, why in result["skipped"].items():
        lines.append(f"skipped {name}: {why}")
    lines.append(f"command: {result['command']}")
    return "\n".join(lines)


def build_parser() -> CliParser:
    parser = CliParser(prog="python -m benchmarks.throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--contenders", nargs="+", choices=NAMES,
                        default=["ours", "ours_plain", "ours_dense_input", "snntorch", "spikingjelly", "norse"],
                        help="networks to time")
    parser.add_argument("--repeats", type=Integer(4), default=15, help="timed calls per contender")
    parser.add_argument("--warmup", type=Integer(0), default=2, help="untimed calls first")
    parser.add_argument("--steps", type=Integer(1), default=20, help="time steps T")
    parser.add_argument("--batch", type=Integer(1), default=64, help="samples per call")
    parser.add_argument("--density", type=Number(0, 1), default=0.05, help="fraction of nonzero input pixels")
    parser.add_argument("--threads", type=Integer(0, 4096), default=0,
                        help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--peer-inference", action="store_true", help="also time the peers' no-grad forward")
    parser.add_argument("--components", action="store_true", help="also time parts of our training step")
    parser.add_argument("--no-memory", action="store_true", help="skip the saved-tensor memory measurement")
    parser.add_argument("--seed", type=Integer(0, 2**32 - 1), default=0, help="seed of the weights and inputs")
    parser.add_argument("--max-memory", type=Size(), default=None, help=MEMORY_HELP)
    parser.add_argument("--out", type=Text("a folder path"), default=None,
                        help="write throughput.json into this folder")
    parser.add_argument("--overwrite", action="store_true", help="replace what --out holds instead of refusing")
    return parser


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sast_models.memory import network_memory
    from sast_models.spec import NetworkSpec

    spec = NetworkSpec(arch="mlp", input_shape=(N_IN,), hidden=(N_HIDDEN,), n_classes=N_OUT)
    per_contender = network_memory(spec, batch=args.batch, time_bins=args.steps, training=True)
    check_memory({f"{what} (each contender)": size for what, size in per_contender.items()}, args.max_memory,
                 "lower --steps or --batch")
    folder = entry = None
    if args.out is not None:
        configuration = {k: v for k, v in vars(args).items() if k not in ("out", "overwrite", "max_memory")}
        entry = Entry("benchmarks.throughput", configuration, ("throughput.json",),
                      argv=["python", "-m", "benchmarks.throughput", *(sys.argv[1:] if argv is None else argv)])
        folder = RunFolder(args.out)
        folder.check(entry, overwrite=args.overwrite)
    warnings.filterwarnings("ignore")
    result = run(args)
    print(table(result))
    if folder is not None:
        with folder.session(entry, overwrite=args.overwrite) as session:
            session.commit({"throughput.json": json.dumps(result, indent=1)})
        print(f"wrote {Path(args.out) / 'throughput.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
