"""Learning-rate schedules: pure functions of the global step index k (a resumed run needs no schedule state).

    constant:  lr_k = lr
    cosine:    lr_k = lr (1 + cos(pi k / K)) / 2,   k = 0 .. K - 1,  K = epochs x steps per epoch
               (lr_0 = lr; the last step uses lr (1 + cos(pi (K - 1) / K)) / 2, just above 0)
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")


def learning_rate(schedule: str, lr: float, step: int, total_steps: int) -> float:
    """The learning rate of global step `step` (0-based) of a run of `total_steps` steps."""
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * (1 + math.cos(math.pi * step / total_steps)) / 2
    raise ValueError(f"unknown learning-rate schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
