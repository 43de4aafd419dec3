"""Typed, documented settings: the dataclasses every stage's settings are written in, and the
loader and printer that fill and show them.

A settings section is a dataclass whose fields are declared with `setting(doc, default=...)`:
the one-line doc travels with the field, and `emit_yaml` prints it above the value
(`textshards config --print-defaults`). `config_from_mapping` builds a section from a parsed
YAML/TOML/JSON mapping, checking every value against its field's type and naming the field it
refuses; a section's own `problems()` lists what types alone cannot check. Sections live beside
the code that uses them; pipeline/config.py composes them into the run's config.

A user fixing a config should see every problem in one go, not one per run: the loader reports
every unknown field and every value of the wrong type, each section's `problems()` runs every
check that does not need an earlier one to pass, and pipeline/config.py gathers them all into one
ConfigError of several lines.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Callable

import yaml


class OperatorError(ValueError):
    """Something the person running the command must fix or wait for (an output in use or not
    writable, a truncated checkpoint): the command line prints the message, one line, and exits 2."""


class ConfigError(OperatorError):
    """One or more config values are invalid; each problem, one line, names the field and the value."""

    def __init__(self, *problems: str):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def problems_of(check: Callable[[], object]) -> list[str]:
    """The problems of the ConfigError `check` raises, or none: lets a caller run every check
    and report all that fail."""
    try:
        check()
    except ConfigError as err:
        return err.problems
    return []


def raise_problems(problems: list[str]) -> None:
    """Raises one ConfigError listing `problems`; returns where there are none."""
    if problems:
        raise ConfigError(*problems)


def setting(text: str, **kwargs):
    """A dataclass field whose documentation travels with it."""
    return field(metadata={"doc": text}, **kwargs)


# The checks that most fields need, each returning its problem (a list of one line) or none, so
# that a section's `problems()` runs them all: `problems += must_be_positive("read.split_bytes", ...)`.
# The comparisons are written so that NaN fails them.


def must_be_positive(name: str, value: float) -> list[str]:
    return [] if value > 0 else [f"{name}: {value!r} must be > 0"]


def must_be_non_negative(name: str, value: float) -> list[str]:
    return [] if value >= 0 else [f"{name}: {value!r} must be >= 0"]


def must_be_fraction(name: str, value: float) -> list[str]:
    return [] if 0 <= value <= 1 else [f"{name}: {value!r} must be between 0 and 1"]


def must_be_one_of(name: str, value: str, allowed: tuple[str, ...]) -> list[str]:
    return [] if value in allowed else [f"{name}: {value!r} is not one of {', '.join(allowed)}"]


# ---------------------------------------------------------------------------
# Loading from mappings (YAML/TOML files) with field-by-field checks.


def read_config_mapping(path: str | Path) -> object:
    """The parsed contents of a .yaml/.yml/.toml/.json config file, not yet checked."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"--config: cannot read {str(path)!r}: {err.strerror}") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as err:
        raise ConfigError(f"--config: {str(path)!r} is not valid {path.suffix[1:] or 'YAML'}: {err}") from None
    return data


def config_from_mapping(data: object, cls: type):
    """A `cls` (a config dataclass) from a mapping, every value checked against its field's type."""
    return _build(cls, data, "")


def _build(cls, data: object, where: str):
    """A `cls` from `data`; raises one ConfigError listing every unknown, missing or bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    problems = [f"{where}{name}: unknown field (known: {', '.join(fields)})" for name in data if name not in fields]
    problems += [f"{where}{name}: required" for name, f in fields.items() if name not in data and _is_required(f)]
    known = [name for name in data if name in fields]
    try:
        values = _convert_each([(hints[name], data[name], f"{where}{name}") for name in known])
    except ConfigError as err:
        problems += err.problems
    if problems:
        raise ConfigError(*problems)
    return cls(**dict(zip(known, values)))


def _convert_each(conversions: list[tuple[object, object, str]]) -> list:
    """`convert(hint, value, where)` of each; raises one ConfigError listing every value refused."""
    converted, problems = [], []
    for hint, value, where in conversions:
        try:
            converted.append(convert(hint, value, where))
        except ConfigError as err:
            problems += err.problems
    if problems:
        raise ConfigError(*problems)
    return converted


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def convert(hint, value, where: str):
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where + ".")
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return _convert_each([(item_type, item, f"{where}[{i}]") for i, item in enumerate(value)])
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
    if hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"config field {where} has an unsupported type {hint}")


# ---------------------------------------------------------------------------
# Printing settings, with every field's documentation, as YAML.


def emit_yaml(obj, lines: list[str], indent: str) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        lines.append(f"{indent}# {f.metadata['doc']}")
        if dataclasses.is_dataclass(value):
            lines.append(f"{indent}{f.name}:")
            emit_yaml(value, lines, indent + "  ")
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            lines.append(f"{indent}{f.name}:")
            for item in value:
                item_lines = yaml.safe_dump(dataclasses.asdict(item), sort_keys=False).splitlines()
                lines.append(f"{indent}  - {item_lines[0]}")
                lines.extend(f"{indent}    {line}" for line in item_lines[1:])
            for item_field in dataclasses.fields(value[0]):
                lines.append(f"{indent}  #   {item_field.name}: {item_field.metadata['doc']}")
        else:
            lines.append(f"{indent}{f.name}: {json.dumps(value)}")
