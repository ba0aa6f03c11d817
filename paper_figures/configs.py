"""The named training configurations the reproduction runs: baseline, sast, baseline-compute-matched.

A configuration is a dict whose keys are `python -m sast_models.train` flags without the dashes (the keys of
the recipe's `configs/<data>/<name>.toml` files: `time-bins = 10`, `hidden = [512]`). They come from
`--config-dir DIR` (DIR/<name>.toml for each name), else from the repository's `configs/<data kind>/` (the
recipe of docs/recipe.md: synthetic, nmnist, dvsgesture). `train_flags` turns one
into command-line flags, `resolve` validates them with the training command's own parser and returns the full
configuration the run will record (every default filled in), whose hash `config_key` names the run folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sast_core.errors import InputError
from sast_models.cli import train

NAMES = ("baseline", "sast", "baseline-compute-matched")
REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"

def data_kind(spec: str) -> str:
    """synthetic (both presets), nmnist or dvsgesture."""
    kind = spec.partition(":")[0]
    return "synthetic" if kind.startswith("synthetic") else kind


def load_configs(config_dir: str | None, data: str) -> tuple[dict[str, dict[str, Any]], str]:
    """(name -> configuration, where they came from) for the dataset `data`."""
    kind = data_kind(data)
    if config_dir is None:
        if not (REPO_CONFIGS / kind).is_dir():
            raise InputError(f"--data {data!r}: no folder {REPO_CONFIGS / kind} with the {kind} recipes; pass "
                             "--config-dir DIR (DIR/baseline.toml, DIR/sast.toml, DIR/baseline-compute-matched.toml)")
        config_dir = str(REPO_CONFIGS / kind)
    folder = Path(config_dir)
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise InputError("--config-dir: reading TOML needs Python >= 3.11 (tomllib)") from None
    configs = {}
    for name in NAMES:
        path = folder / f"{name}.toml"
        try:
            configs[name] = tomllib.loads(path.read_text())
        except OSError as err:
            raise InputError(f"--config-dir {folder}: cannot read {path.name} ({err.strerror or err})") from None
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"--config-dir {folder}: {path.name} is not valid TOML ({err})") from None
    return configs, str(folder)


def _options() -> dict[str, Any]:
    """Option string -> argparse action of the training command."""
    return {option: action for action in train.build_parser()._actions for option in action.option_strings}


def train_flags(config: dict[str, Any]) -> list[str]:
    """Command-line flags for `python -m sast_models.train` (booleans as store_true / --no-KEY switches)."""
    options = _options()
    flags: list[str] = []
    for key, value in config.items():
        flag = f"--{key}"
        if isinstance(value, bool):
            if value and flag in options and options[flag].nargs == 0:
                flags.append(flag)
            elif not value and f"--no-{key}" in options:
                flags.append(f"--no-{key}")
            elif flag not in options or options[flag].nargs != 0:
                raise InputError(f"configuration key {key!r}: not a switch of the training command")
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        flags += [flag, str(value)]
    return flags


def resolve(flags: list[str]) -> dict[str, Any]:
    """The full configuration the training run records for `flags` (InputError naming a bad key or value)."""
    args = train.build_parser().parse_args([*flags, "--out", "unused"])
    return train.make_config(args)


def config_key(config: dict[str, Any]) -> str:
    """sha256 of the resolved configuration (every hyperparameter, the data spec and the seed)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
