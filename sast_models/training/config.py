"""The typed description of a training run's configuration: each key's type and range (a sast_core FlagType).

The training command declares its flags with these types (`--time-bins` is CONFIGURATION["time_bins"]), and
every checkpoint header's `hyperparameters` is checked against them when read (sast_models.checkpoint), so a
header saying `time_bins: "5"` is refused like a corrupt tensor. Keys not listed here are not checked.
"""

from __future__ import annotations

from sast_core.flags import FlagType, Integer, ListOf, Number, OrNone, Text
from sast_theory.description import ARCHS, PARAMETERIZATIONS
from sast_theory.surrogates import RESETS, SURROGATES

from ..data.framing import FRAME_MODES
from .schedule import SCHEDULES

METHODS = ("baseline", "sam", "sast")
OPTIMIZERS = ("sgd", "adam", "adamw")
PERTURB_SPACES = ("raw", "explicit")  # where SAM's perturbation lives (sast_models/perturbation.py)
RHO_SCALINGS = ("global", "layer")
SEED = Integer(0, 2**32 - 1)  # numpy's seed range

CONFIGURATION: dict[str, FlagType] = {
    "data": Text("a dataset spec"),
    "split": Text("a split name"),
    "time_bins": Integer(1),
    "frame_mode": Text(choices=FRAME_MODES),
    "duration_us": OrNone(Integer(1)),
    "downsample": Integer(1),
    "val_fraction": Number(0, 1, high_open=True),  # 0: train on every sample, no validation
    "arch": Text(choices=ARCHS),
    "hidden": ListOf(Integer(1), allow_empty=True),
    "channels": ListOf(Integer(1), allow_empty=True),
    "method": Text(choices=METHODS),
    "rho": Number(0),
    "perturb": Text(choices=PERTURB_SPACES),
    "rho_scaling": Text(choices=RHO_SCALINGS),
    "asam_eta": Number(0),
    "surrogate": Text(choices=SURROGATES),
    "beta": Number(0, low_open=True),
    "tau": Number(0, 1, high_open=True),
    "theta": Number(0),
    "reset": Text(choices=RESETS),
    "parameterization": Text(choices=PARAMETERIZATIONS),
    "inf_cap": Number(0, low_open=True),
    "spectral_cap": Number(0, low_open=True),
    "bias_cap": Number(0),
    "optimizer": Text(choices=OPTIMIZERS),
    "lr": Number(0, low_open=True),
    "lr_schedule": Text(choices=SCHEDULES),
    "momentum": Number(0, 1, high_open=True),
    "weight_decay": Number(0),
    "epochs": Integer(1),
    "batch_size": Integer(1),
    "band": Number(0, low_open=True),
    "seed": SEED,
    "input_bound": Number(0, low_open=True),
}
