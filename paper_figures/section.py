"""A figure or table of the report (`Section`) and the command every figure module offers:

    python -m paper_figures.<name> RUN_DIR... --out DIR [--budget full|quick]

which computes what the figure needs on the given finished run folders (reusing stored measurements), writes
DIR/<name>.png (where the section has a picture), DIR/<name>.md and DIR/<name>.json, and prints the markdown.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sast_core.atomic import atomic_write_json, atomic_write_text
from sast_core.cli import CliParser, cli_entry
from sast_core.errors import EXIT_OK
from sast_core.flags import Text
from sast_core.outputs import check_writable

from .measure import BUDGETS, FULL, Budget
from .runs import Run, load_runs


@dataclass
class Section:
    name: str
    title: str
    body: str  # markdown: tables and notes
    images: list[Path] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # every number shown, for report.json

    def markdown(self, base: Path) -> str:
        """The section with its pictures linked relative to `base` (the folder of the markdown file)."""
        pictures = "".join(f"![{self.title}]({Path(os.path.relpath(image, base)).as_posix()})\n\n"
                           for image in self.images)
        return f"## {self.title}\n\n{pictures}{self.body.rstrip()}\n"


Builder = Callable[[list[Run], Path, Budget], Section]


def escape(text: str) -> str:
    """Markdown table cell text (pipes escaped)."""
    return str(text).replace("|", "\\|")


def table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(map(escape, head)) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]) + "\n"


def figure_parser(name: str, doc: str) -> CliParser:
    """The flags of one figure module's command."""
    p = CliParser(prog=f"python -m paper_figures.{name}", description=doc.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="finished training run folders")
    p.add_argument("--out", type=Text("a folder path"), required=True, help="output folder")
    p.add_argument("--budget", choices=sorted(BUDGETS), default=FULL.name,
                   help="measurement budget for what is not measured yet (default full)")
    return p


def figure_main(build: Builder, name: str, doc: str) -> Callable[[list[str] | None], int]:
    """The standalone command of one figure module."""

    @cli_entry
    def main(argv: list[str] | None = None) -> int:
        args = figure_parser(name, doc).parse_args(argv)
        out = Path(args.out)
        check_writable(out)
        section = build(load_runs(args.runs), out, BUDGETS[args.budget])
        text = f"{section.markdown(out)}"
        atomic_write_text(out / f"{name}.md", text)
        atomic_write_json(out / f"{name}.json", section.data)
        print(text)
        return EXIT_OK

    return main
