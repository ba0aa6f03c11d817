"""python -m sast_models.data.inspect FILE_OR_DIR [--out DIR]: summarise one recording and plot its frames.

FILE_OR_DIR: an N-MNIST `.bin` file (label = its digit folder, if any), an AEDAT 3.1 `.aedat` file (its
`<stem>_labels.csv`, if present, is listed), or an N-MNIST root / split folder (sample --index of it).
Prints a summary (events, duration, size, polarity balance, label) and, with --out, writes
`<name>.png` (T frames, ON red / OFF blue) and `<name>.json` (the summary). Bad input: one line, exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sast_core.atomic import atomic_write, atomic_write_json  # noqa: E402
from sast_core.cli import CliParser, cli_entry  # noqa: E402
from sast_core.errors import InputError  # noqa: E402

from ..data import aedat, nmnist  # noqa: E402
from ..data.framing import FrameSpec, frame_events  # noqa: E402
from ..data.gesture import read_labels  # noqa: E402


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


def plot(frames: np.ndarray, path: Path, title: str) -> None:
    """One panel per time bin: ON counts in red, OFF counts in blue."""
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
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    plt.close(fig)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    parser = CliParser(prog="python -m sast_models.data.inspect",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("target", metavar="FILE_OR_DIR", type=Path)
    parser.add_argument("--out", type=Path, help="folder for <name>.png and <name>.json")
    parser.add_argument("--time-bins", type=int, default=8, help="frames in the plot (default 8)")
    parser.add_argument("--index", type=int, default=0, help="sample index when FILE_OR_DIR is a folder")
    args = parser.parse_args(argv)
    if not args.target.exists():
        raise InputError(f"{args.target}: no such file or folder")
    events, sensor_size, label, name = load_sample(args.target, args.index)
    summary = summarise(events, sensor_size, label, args.target)
    for key, value in summary.items():
        print(f"{key:>12}: {value}")
    if args.out:
        frames = frame_events(events, FrameSpec(args.time_bins), sensor_size).numpy()
        plot(frames, args.out / f"{name}.png", f"{name}: {len(events)} events, label {label}")
        atomic_write_json(args.out / f"{name}.json", summary)
        print(f"wrote {args.out / (name + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
