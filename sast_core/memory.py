"""Memory estimates checked before anything is allocated: one line, naming the biggest parts, past a limit.

The limit is `--max-memory` (a Size) or, by default, DEFAULT_FRACTION of the machine's physical memory.
Commands add the parts they are about to allocate (framed data, parameters and optimizer state, traces) and
call `check_memory` before the first allocation, so an absurd --time-bins or --hidden costs nothing.
"""

from __future__ import annotations

import os

from .errors import InputError

DEFAULT_FRACTION = 0.8
MEMORY_HELP = ("refuse runs whose estimated memory exceeds this, e.g. 8G (default: 80%% of the physical "
               "memory)")


def physical_memory() -> int | None:
    """Bytes of physical memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def memory_limit(max_memory: int | None) -> int | None:
    """The limit in bytes: `max_memory` if given, else DEFAULT_FRACTION of physical memory (None: unknown)."""
    if max_memory is not None:
        return max_memory
    total = physical_memory()
    return int(total * DEFAULT_FRACTION) if total else None


def format_bytes(count: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{int(count)} B"


def check_memory(parts: dict[str, float], max_memory: int | None, hint: str) -> float:
    """Total of `parts` (description -> bytes); InputError past the limit, naming the two largest parts and
    `hint` (which flags lower the estimate). Returns the total."""
    total = float(sum(parts.values()))
    limit = memory_limit(max_memory)
    if limit is not None and total > limit:
        largest = sorted(parts.items(), key=lambda item: -item[1])[:2]
        shown = ", ".join(f"{what} {format_bytes(size)}" for what, size in largest)
        source = "--max-memory" if max_memory is not None else f"{DEFAULT_FRACTION:.0%} of physical memory"
        raise InputError(f"this run needs about {format_bytes(total)} of memory ({shown}), more than the limit "
                         f"{format_bytes(limit)} ({source}); {hint}, or raise --max-memory")
    return total
