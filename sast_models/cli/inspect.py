"""python -m sast_models.data.inspect FILE_OR_DIR [--out DIR]: summarise one recording and plot its frames.

FILE_OR_DIR: an N-MNIST `.bin` file (label = its digit folder, if any), an AEDAT 3.1 `.aedat` file (its
`<stem>_labels.csv`, if present, is listed), or an N-MNIST root / split folder (sample --index of it).
Prints a summary (events, duration, size, polarity balance, label) and, with --out, writes
`<name>.png` (T frames, ON red / OFF blue; at most MAX_TIME_BINS panels) and `<name>.json` (the summary), both
or neither, recorded in the folder's manifest. Bad input (a recording without events to plot included): one
line, exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from sast_core.atomic import json_text
from sast_core.cli import CliParser, cli_entry
from sast_core.errors import InputError
from sast_core.flags import Integer, Text
from sast_core.runs import Entry, RunFolder

from ..data import aedat, nmnist
from ..data.framing import FrameSpec, frame_events
from ..data.gesture import read_labels
from ..figures import plt, png_bytes

MAX_TIME_BINS = 32  # panels of the plot
ENTRY = "sast_models.data.inspect"


def build_parser() -> CliParser:
    parser = CliParser(prog="python -m sast_models.data.inspect", description=__doc__.split("\n")[0])
    parser.add_argument("target", metavar="FILE_OR_DIR", type=Text("a file or folder"),
                        help="a .bin or .aedat file, or an N-MNIST folder")
    parser.add_argument("--out", type=Text("a folder path"), default=None, help="folder for <name>.png and <name>.json")
    parser.add_argument("--time-bins", type=Integer(1, MAX_TIME_BINS), default=8, help="frames in the plot")
    parser.add_argument("--index", type=Integer(0), default=0, help="sample index when FILE_OR_DIR is a folder")
    parser.add_argument("--overwrite", action="store_true", help="replace what --out holds instead of refusing")
    return parser


def load_sample(target: Path, index: int) -> tuple[np.ndarray, tuple[int, int], str | None, str]:
    """(events, sensor size, label text or None, name) for a file or an N-MNIST folder."""
    if target.is_dir():
        dataset = nmnist.NMNISTDataset(target, "train" if (target / "Train").is_dir() else "test")
        if not 0 <= index < len(dataset):
            raise InputError(f"--index {index} outside 0..{len(dataset) - 1} for {dataset.folder}")
        events, label = dataset[index]
        path = dataset.paths[index]
        return events, nmnist.SENSOR_SIZE, str(label), f"{path.parent.name}_{path.stem}"
    if target.suffix == ".bin":
        label = target.parent.name if target.parent.name.isdigit() else None
        return nmnist.read_nmnist(target), nmnist.SENSOR_SIZE, label, target.stem
    if target.suffix == ".aedat":
        labels = target.with_name(target.stem + "_labels.csv")
        text = None
        if labels.is_file():
            text = " ".join(f"{r.target}@[{r.start},{r.end})" for r in read_labels(labels))
        return aedat.read_aedat(target), aedat.SENSOR_SIZE, text, target.stem
    raise InputError(f"{target}: expected a .bin or .aedat file or an N-MNIST folder")


def summarise(events: np.ndarray, sensor_size: tuple[int, int], label: str | None, source: Path) -> dict:
    t = events["t"]
    return {"source": str(source), "events": int(len(events)), "label": label,
            "sensor_size": list(sensor_size),
            "first_t_us": int(t[0]) if len(t) else None, "last_t_us": int(t[-1]) if len(t) else None,
            "duration_us": int(t[-1] - t[0]) if len(t) else 0,
            "on_events": int(events["p"].sum()), "on_fraction": float(events["p"].mean()) if len(t) else None}


def plot(frames: np.ndarray, title: str) -> bytes:
    """PNG bytes, one panel per time bin: ON counts in red, OFF counts in blue."""
    steps = frames.shape[0]
    fig, axes = plt.subplots(1, steps, figsize=(1.6 * steps, 2.0), squeeze=False)
    scale = max(float(frames.max()), 1.0)
    for i, ax in enumerate(axes[0]):
        rgb = np.zeros((*frames.shape[2:], 3))
        rgb[..., 0], rgb[..., 2] = frames[i, 1] / scale, frames[i, 0] / scale
        ax.imshow(np.clip(rgb * 2, 0, 1), interpolation="nearest")
        ax.set_title(f"bin {i}", fontsize=8)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return png_bytes(fig, dpi=100, bbox_inches="tight")


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    target = Path(args.target)
    if not target.exists():
        raise InputError(f"{target}: no such file or folder")
    folder = RunFolder(args.out) if args.out else None
    if folder:
        folder.check(Entry(ENTRY, {}, ()), overwrite=args.overwrite)  # --out itself, before reading
    events, sensor_size, label, name = load_sample(target, args.index)
    summary = summarise(events, sensor_size, label, target)
    entry = None
    if folder:
        if not len(events):
            raise InputError(f"{target}: the recording has no events; there are no frames to plot")
        entry = Entry(f"{ENTRY}:{name}", {"target": str(target.resolve()), "index": args.index,
                                          "time_bins": args.time_bins}, (f"{name}.png", f"{name}.json"),
                      argv=["python", "-m", ENTRY, *(sys.argv[1:] if argv is None else argv)])
        folder.check(entry, overwrite=args.overwrite)
    for key, value in summary.items():
        print(f"{key:>12}: {value}")
    if folder and entry:
        frames = frame_events(events, FrameSpec(args.time_bins), sensor_size).numpy()
        picture = plot(frames, f"{name}: {len(events)} events, label {label}")
        with folder.session(entry, overwrite=args.overwrite) as session:
            session.commit({f"{name}.png": picture, f"{name}.json": json_text(summary)})
        print(f"wrote {Path(args.out) / (name + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
