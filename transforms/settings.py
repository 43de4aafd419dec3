"""Typed, documented settings: the dataclasses every stage's settings are written in, and the
loader and printer that fill and show them.

A settings section is a dataclass whose fields are declared with `setting(doc, default=...)`:
the one-line doc travels with the field, and `emit_yaml` prints it above the value
(`textshards config --print-defaults`). `config_from_mapping` builds a section from a parsed
YAML/TOML/JSON mapping, checking every value against its field's type and naming the field it
refuses; a section's own `problems()` lists what types alone cannot check. Sections live beside
the code that uses them; pipeline/config.py composes them into the run's config.

A user fixing a config should see every problem in one go, not one per run: the loader reports
every unknown field and every value of the wrong type (`config_and_problems` leaves such a field
at its default and goes on), each section's `problems()` runs every check that does not need an
earlier one to pass, and pipeline/config.py gathers them all into one ConfigError of several
lines (`with_value_problems`).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml


class OperatorError(ValueError):
    """Something the person running the command must fix or wait for (an output in use or not
    writable, a truncated checkpoint): the command line prints the message, one line, and exits 2."""


class ConfigError(OperatorError):
    """One or more config values are invalid; each problem, one line, names the field and the value."""

    def __init__(self, *problems: str):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


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


# What `convert` returns for a value of the wrong type, having listed the problem: the field keeps
# its default, so that the rest of the config is still built, validated and reported with it.
REFUSED = object()


def config_from_mapping(data: object, cls: type):
    """A `cls` (a config dataclass) from a mapping, every value checked against its field's type;
    raises one ConfigError listing every unknown, missing or refused field."""
    config, problems = config_and_problems(data, cls)
    raise_problems(problems)
    return config


def config_and_problems(data: object, cls: type) -> tuple[Any, list[str]]:
    """A `cls` from a mapping, and the problems of loading it: every unknown, missing or refused
    field, one line each. A refused value leaves its field at its default (a refused item of a
    list, the whole list; a missing string is ""), so that the caller can also validate the
    values and report both at once (`with_value_problems`)."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping, got {data!r}")
    problems: list[str] = []
    return _build(cls, data, "", problems), problems


def with_value_problems(loading: list[str], values: list[str]) -> list[str]:
    """The problems of loading a config, then those of validating its `values`, less the ones
    about a field that loading refused, a part of one or a field holding one: that field holds
    a stand-in (its default, or ""), not what the user wrote."""
    refused = [_field_of(problem) for problem in loading]
    return loading + [
        problem
        for problem in values
        if not any(_within(_field_of(problem), field) or _within(field, _field_of(problem)) for field in refused)
    ]


def _field_of(problem: str) -> str:
    return problem.split(": ", 1)[0]


def _within(field: str, other: str) -> bool:
    """Whether `field` is `other` or a part of it, as inputs[0].name is of inputs[0] and inputs."""
    return field == other or field.startswith((other + ".", other + "["))


def _build(cls, data: dict, where: str, problems: list[str]):
    """A `cls` from `data`; adds every unknown, missing or refused field to `problems`."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    required = [name for name, f in fields.items() if _is_required(f)]
    problems += [f"{where}{name}: unknown field (known: {', '.join(fields)})" for name in data if name not in fields]
    problems += [f"{where}{name}: required" for name in required if name not in data]
    converted = {name: convert(hints[name], data[name], f"{where}{name}", problems) for name in data if name in fields}
    values = {name: value for name, value in converted.items() if value is not REFUSED}  # the others: defaults
    stand_ins = {name: hints[name]() for name in required if name not in values}  # missing or refused: reported
    return cls(**values, **stand_ins)


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def convert(hint, value, where: str, problems: list[str]):
    """`value` as the type `hint` of the field at `where`; where it is of another type, REFUSED,
    and the problem added to `problems`."""
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            return _refuse(problems, f"{where}: expected a mapping, got {value!r}")
        return _build(hint, value, where + ".", problems)
    if typing.get_origin(hint) is list:
        if not isinstance(value, list):
            return _refuse(problems, f"{where}: expected a list, got {value!r}")
        (item_type,) = typing.get_args(hint)
        items = [convert(item_type, item, f"{where}[{i}]", problems) for i, item in enumerate(value)]
        return REFUSED if any(item is REFUSED for item in items) else items
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
    if hint is dict:
        if not isinstance(value, dict):
            return _refuse(problems, f"{where}: expected a mapping, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            return _refuse(problems, f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return _refuse(problems, f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _refuse(problems, f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            return _refuse(problems, f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"config field {where} has an unsupported type {hint}")


def _refuse(problems: list[str], problem: str) -> object:
    problems.append(problem)
    return REFUSED


# ---------------------------------------------------------------------------
# Printing settings, with every field's documentation, as YAML.


def emit_yaml(obj, lines: list[str], indent: str) -> None:
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        lines.append(f"{indent}# {f.metadata['doc']}")
        item_type = typing.get_args(hints[f.name])[0] if typing.get_origin(hints[f.name]) is list else None
        if dataclasses.is_dataclass(value):
            lines.append(f"{indent}{f.name}:")
            emit_yaml(value, lines, indent + "  ")
        elif item_type is not None and dataclasses.is_dataclass(item_type):
            lines.append(f"{indent}{f.name}:" if value else f"{indent}{f.name}: []")
            for item in value:
                item_lines = yaml.safe_dump(dataclasses.asdict(item), sort_keys=False).splitlines()
                lines.append(f"{indent}  - {item_lines[0]}")
                lines.extend(f"{indent}    {line}" for line in item_lines[1:])
            for item_field in dataclasses.fields(item_type):  # documented even where the default list is empty
                lines.append(f"{indent}  #   {item_field.name}: {item_field.metadata['doc']}")
        else:
            lines.append(f"{indent}{f.name}: {json.dumps(value)}")
