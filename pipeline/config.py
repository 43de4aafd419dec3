"""The run configuration: one typed object that the CLI and config files fill.

A config file (YAML or TOML) mirrors these dataclasses: one table/mapping per
section, one key per field. Every field has a default and a one-line doc (the
`doc` metadata), which `textshards config --print-defaults` prints. Loading
checks every value before any work starts and names the field and the value it
refuses.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

INPUT_KINDS = ("auto", "text", "html", "warc", "jsonl", "parquet")


class ConfigError(ValueError):
    """A config value is invalid; the message names the field and the value."""


def _doc(text: str, **kwargs):
    """A dataclass field whose documentation travels with it."""
    return field(metadata={"doc": text}, **kwargs)


@dataclass
class InputSpec:
    name: str = _doc("Source name: stored with every document and used to group statistics.")
    glob: str = _doc("File glob on any Beam filesystem (local path, gs://...).")
    kind: str = _doc(
        "Reader: auto (sniffed per file from its content), text, html, warc, jsonl or parquet.",
        default="auto",
    )


@dataclass
class ReadConfig:
    text_field: str = _doc("JSONL key / Parquet column holding the document text.", default="text")
    url_field: str = _doc("JSONL key / Parquet column holding the URL, if present.", default="url")
    max_document_bytes: int = _doc(
        "Documents larger than this (bytes, before cleaning) go to the dead-letter output "
        "instead of being held in memory; a whole book is a few MB.",
        default=64 * 1024 * 1024,
    )


@dataclass
class CleanConfig:
    strip_gutenberg: bool = _doc(
        "Remove Project Gutenberg headers, footers and licence text from plain-text books.",
        default=True,
    )
    fix_unicode: bool = _doc("Repair mojibake and other Unicode damage with ftfy.", default=True)
    min_chars: int = _doc(
        "Documents with fewer characters than this after cleaning are dropped (reason "
        "'too_short_after_cleaning').",
        default=1,
    )


@dataclass
class WriteConfig:
    shard_target_bytes: int = _doc(
        "Target size of one docs/*.parquet shard, in bytes of text; the number of shards is "
        "derived from the total so it does not depend on the runner.",
        default=128 * 1024 * 1024,
    )


@dataclass
class RunnerConfig:
    direct_num_workers: int = _doc(
        "Worker processes of the local DirectRunner; 0 means one per CPU core. Ignored by "
        "other runners (pass their options after --).",
        default=0,
    )


@dataclass
class Config:
    inputs: list[InputSpec] = _doc("Input files: a list of {name, glob, kind}.", default_factory=list)
    output: str = _doc("Output directory (local path or gs://...).", default="")
    read: ReadConfig = _doc("Readers.", default_factory=ReadConfig)
    clean: CleanConfig = _doc("Cleaning.", default_factory=CleanConfig)
    write: WriteConfig = _doc("Output files.", default_factory=WriteConfig)
    runner: RunnerConfig = _doc("Local execution.", default_factory=RunnerConfig)

    def validate(self) -> None:
        """Checks what types alone cannot; raises ConfigError naming the field."""
        if not self.inputs:
            raise ConfigError("inputs: at least one input is required (--input NAME=GLOB)")
        for i, spec in enumerate(self.inputs):
            if not spec.name or any(c in spec.name for c in ":/= "):
                raise ConfigError(
                    f"inputs[{i}].name: {spec.name!r} must be non-empty without ':', '/', '=' or spaces"
                )
            if not spec.glob:
                raise ConfigError(f"inputs[{i}].glob: must not be empty")
            if spec.kind not in INPUT_KINDS:
                raise ConfigError(
                    f"inputs[{i}].kind: {spec.kind!r} is not one of {', '.join(INPUT_KINDS)}"
                )
        if not self.output:
            raise ConfigError("output: an output directory is required (--output DIR)")
        _require_positive("read.max_document_bytes", self.read.max_document_bytes)
        _require_positive("write.shard_target_bytes", self.write.shard_target_bytes)
        if self.clean.min_chars < 0:
            raise ConfigError(f"clean.min_chars: {self.clean.min_chars!r} must be >= 0")
        if self.runner.direct_num_workers < 0:
            raise ConfigError(
                f"runner.direct_num_workers: {self.runner.direct_num_workers!r} must be >= 0"
            )


def _require_positive(name: str, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"{name}: {value!r} must be > 0")


def parse_input_arg(arg: str) -> InputSpec:
    """Parses the CLI form NAME=GLOB or NAME:KIND=GLOB."""
    head, sep, glob = arg.partition("=")
    if not sep:
        raise ConfigError(f"--input: {arg!r} must look like NAME=GLOB or NAME:KIND=GLOB")
    name, _, kind = head.partition(":")
    return InputSpec(name=name, glob=glob, kind=kind or "auto")


# ---------------------------------------------------------------------------
# Loading from mappings (YAML/TOML files) with field-by-field checks.


def load_config_file(path: str | Path) -> Config:
    """Reads a .yaml/.yml/.toml/.json file into a validated-by-type Config."""
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
    return config_from_mapping(data)


def config_from_mapping(data: object) -> Config:
    return _build(Config, data, "")


def _build(cls, data: object, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}{unknown[0]}: unknown field (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _convert(hints[name], value, f"{where}{name}")
    try:
        return cls(**values)
    except TypeError as err:  # a required field is missing
        missing = [n for n, f in fields.items() if n not in values and _is_required(f)]
        raise ConfigError(f"{where}{missing[0] if missing else ''}: required ({err})") from None


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _convert(hint, value, where: str):
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where + ".")
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(item_type, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
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
# Printing the defaults, with every field's documentation, as YAML.


def defaults_as_yaml() -> str:
    """The full default config as commented YAML, loadable as it is."""
    example = Config(inputs=[InputSpec(name="books", glob="corpus/books/*.txt")], output="out")
    lines = [
        "# textshards run configuration (defaults). Every field is optional except",
        "# inputs and output. Load with: textshards prepare --config FILE",
    ]
    _emit(example, lines, indent="")
    return "\n".join(lines) + "\n"


def _emit(obj, lines: list[str], indent: str) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        lines.append(f"{indent}# {f.metadata['doc']}")
        if dataclasses.is_dataclass(value):
            lines.append(f"{indent}{f.name}:")
            _emit(value, lines, indent + "  ")
        elif isinstance(value, list):
            lines.append(f"{indent}{f.name}:")
            for item in value:
                item_lines = yaml.safe_dump(dataclasses.asdict(item), sort_keys=False).splitlines()
                lines.append(f"{indent}  - {item_lines[0]}")
                lines.extend(f"{indent}    {line}" for line in item_lines[1:])
            for item_field in dataclasses.fields(InputSpec):
                lines.append(f"{indent}  #   {item_field.name}: {item_field.metadata['doc']}")
        else:
            lines.append(f"{indent}{f.name}: {json.dumps(value)}")
