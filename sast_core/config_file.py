"""TOML configuration files for the command-line tools: every flag is a key; command-line flags win.

`parse_args(parser, argv)`: when argv holds `--config FILE`, FILE's keys become the parser's defaults, then argv
is parsed as usual, so a flag given on the command line overrides the file. A key is a long flag name without
its dashes (`time-bins`; `time_bins` is accepted too). Values: a boolean for an on/off flag (`asam = true`,
`no-progress = true`: true means the flag is given), a TOML integer for an integer flag, a number for a float
flag, a string for a string flag (an array, or the comma-separated string, for a list flag: `hidden = [512]`).
A typed flag (sast_core.flags) checks the value with its own type, range included. An unknown key, a table, a
wrong type, a value outside the flag's range or choices is an InputError naming the file and the key; so is a
missing or malformed file. `--config` itself cannot appear in a file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .errors import InputError
from .flags import FlagType, FlagValueError, ListOf

CONFIG_FLAG = "--config"


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(CONFIG_FLAG, metavar="FILE.toml", default=None,
                        help="TOML file of flag values (keys = flag names without dashes); flags given here win")


def config_path(argv: list[str]) -> str | None:
    """The value of the last `--config` in argv (None when absent)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument(CONFIG_FLAG, default=None)
    known, _ = pre.parse_known_args(argv)
    return known.config


def parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse argv with the defaults of its `--config FILE` (if any) applied first."""
    path = config_path(argv)
    if path is not None:
        apply_defaults(parser, read_config(path, parser), path)
    return parser.parse_args(argv)


def flag_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """key (long flag name without dashes, and its underscore spelling) -> the parser's action."""
    keys: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.dest == "config":
            continue
        for option in action.option_strings:
            if option.startswith("--"):
                keys[option[2:]] = action
                keys[option[2:].replace("-", "_")] = action
    return keys


def read_config(path: str, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """{dest: value} from the TOML file, every key checked against the parser's flags (module docstring)."""
    try:
        import tomllib  # stdlib from Python 3.11 (the project supports 3.10: only --config needs it)
    except ModuleNotFoundError:
        raise InputError(f"--config {path}: reading TOML needs Python >= 3.11 (tomllib)") from None
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"--config {path}: cannot read it ({err})") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"--config {path}: not valid TOML ({err})") from None
    actions = flag_actions(parser)
    values: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in data.items():
        action = actions.get(key)
        if action is None:
            raise InputError(f"--config {path}: unknown key {key!r} (not a flag of {parser.prog})")
        if action.dest in seen:
            raise InputError(f"--config {path}: keys {seen[action.dest]!r} and {key!r} set the same flag")
        seen[action.dest] = key
        values[action.dest] = _convert(path, key, value, action)
    return values


def _convert(path: str, key: str, value: Any, action: argparse.Action) -> Any:
    def bad(expected: str) -> InputError:
        return InputError(f"--config {path}: key {key!r} = {value!r}: expected {expected}")

    if isinstance(value, dict):
        raise bad("a value, not a table")
    if isinstance(action, argparse._StoreConstAction) and isinstance(action.const, bool):  # store_true/false
        if not isinstance(value, bool):
            raise bad("true or false")
        return action.const if value else action.default
    if isinstance(action.type, FlagType):  # the flag's own type checks the typed value (range included)
        try:
            listed = isinstance(action.type, ListOf) and isinstance(value, str)  # "512,256" as on the command line
            value = action.type.convert(value) if listed else action.type.check(value)
        except FlagValueError as err:
            raise InputError(f"--config {path}: key {key!r} = {value!r}: {err}") from None
    elif isinstance(value, bool):
        raise bad("a number or a string, not a boolean")
    elif action.type is int:
        if not isinstance(value, int):
            raise bad("an integer")
    elif action.type is float:
        if not isinstance(value, int | float):
            raise bad("a number")
        value = float(value)
    elif action.type is None:
        if isinstance(value, list) and all(isinstance(v, int | str) and not isinstance(v, bool) for v in value):
            value = ",".join(str(v) for v in value)
        elif not isinstance(value, str):
            raise bad("a string")
    else:
        value = action.type(value)
    if action.choices is not None and value not in action.choices:
        raise bad(f"one of {', '.join(map(str, action.choices))}")
    return value


def apply_defaults(parser: argparse.ArgumentParser, values: dict[str, Any], path: str) -> None:
    """Make the file's values the parser's defaults; a required flag the file sets is no longer required."""
    for action in parser._actions:
        if action.dest in values:
            action.required = False
    parser.set_defaults(**values)
