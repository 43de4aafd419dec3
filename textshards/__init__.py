"""textshards from Python: each stage as a function, and prepare as a Beam transform.

    import textshards

    config = textshards.Config(inputs=[textshards.InputSpec("books", "corpus/*.txt")])
    report = textshards.prepare(config, output="out/prepare")      # stats.json's report
    textshards.train_tokenizer(config, docs="out/prepare/docs", output="out/tokenizer", vocab_size=4096)
    manifest = textshards.tokenize(config, docs="out/prepare/docs", tokenizer="out/tokenizer", output="out/shards")
    stats = textshards.decontaminate(config, docs="out/prepare/docs", output="out/dc", benchmarks=["mmlu=ev/*.jsonl"])
    summary = textshards.train(output="out/train", shards="out/shards", preset="tiny", max_steps=100)

Each function takes a config (or none: the defaults) and keyword overrides, which name a field of
the stage's own section (`tokenizer` for train_tokenizer, `tokenize` for tokenize, `decontaminate`
for decontaminate) or else of the
config, as the command's options do; the config passed in is not changed. It writes what the
`textshards` command of the same name writes, and returns the same report. Beam pipeline
options go in `beam_args`, as after `--` on the command line. Anything the caller must fix
raises OperatorError (its subclass ConfigError for a setting), with a one-line message.

In a Beam pipeline of one's own, `Prepare(config, directory)` cleans, filters and deduplicates a
PCollection of document records ({"id", "source", "text"}; pipeline/prepare.py).
"""

from __future__ import annotations

import copy
import dataclasses

from pipeline.config import Config, load_config_file, parse_benchmark_arg, parse_input_arg
from pipeline.prepare import Prepare
from tokenizer_training.bpe import TokenizerConfig
from transforms.clean import CleanConfig
from transforms.decontaminate.settings import BenchmarkSpec, DecontaminateConfig
from transforms.dedup.settings import DedupConfig
from transforms.encode import TokenizeConfig
from transforms.filters.stage import FiltersConfig, SourceSteps
from transforms.readers import InputSpec, ReadConfig
from transforms.settings import ConfigError, OperatorError

__all__ = [
    "BenchmarkSpec",
    "CleanConfig",
    "Config",
    "ConfigError",
    "DecontaminateConfig",
    "DedupConfig",
    "FiltersConfig",
    "InputSpec",
    "OperatorError",
    "Prepare",
    "ReadConfig",
    "SourceSteps",
    "TokenizeConfig",
    "TokenizerConfig",
    "decontaminate",
    "load_config_file",
    "prepare",
    "run",
    "tokenize",
    "train",
    "train_tokenizer",
]


def prepare(config: Config | None = None, beam_args: list[str] | None = None, **overrides) -> dict:
    """Reads config.inputs, cleans, filters and deduplicates them into config.output (docs/,
    stats.json...); returns the stats report. `inputs` may be given as "NAME[:KIND]=GLOB" strings."""
    from pipeline.prepare import run_prepare

    return run_prepare(_configured(config, None, overrides), list(beam_args or []))


def train_tokenizer(config: Config | None = None, beam_args: list[str] | None = None, **overrides) -> dict:
    """Trains a BPE vocabulary on tokenizer.docs into config.output (tokenizer.json...); returns its report."""
    from pipeline.train_tokenizer import run_train_tokenizer

    return run_train_tokenizer(_configured(config, "tokenizer", overrides), list(beam_args or []))


def tokenize(config: Config | None = None, beam_args: list[str] | None = None, **overrides) -> dict:
    """Encodes tokenize.docs with tokenize.tokenizer into token shards in config.output; returns the manifest."""
    from pipeline.tokenize import run_tokenize

    return run_tokenize(_configured(config, "tokenize", overrides), list(beam_args or []))


def decontaminate(config: Config | None = None, beam_args: list[str] | None = None, **overrides) -> dict:
    """Checks decontaminate.docs against decontaminate.benchmarks into config.output (docs/,
    contaminated/, decontamination.json, stats.json); returns the stats report. `benchmarks`
    may be given as "NAME=GLOB" strings."""
    from pipeline.decontaminate import run_decontaminate

    return run_decontaminate(_configured(config, "decontaminate", overrides), list(beam_args or []))


def run(config: Config, beam_args: list[str] | None = None, fresh: bool = False, **overrides) -> dict:
    """Every stage of config.run.stages under config.output, as `textshards run`; returns {stage: "ran" | "skipped"}."""
    from pipeline.run import run_all

    return run_all(_configured(config, None, overrides), list(beam_args or []), fresh=fresh)


def train(output: str, config: dict | None = None, fresh: bool = False, **overrides) -> dict:
    """Trains (or resumes) the GPT of the run directory `output` on token shards: `config` and the
    overrides are fields of `textshards train --print-defaults` (shards, preset, max_steps...).
    Returns the run's summary (steps, best validation loss and bits per byte). Needs the [train]
    extra (PyTorch)."""
    try:
        from trainer.train import train as train_run
    except ImportError as err:
        raise OperatorError(f"train needs PyTorch, which is not installed: install textshards[train] ({err})") from None
    return train_run(output, {**(config or {}), **overrides}, fresh=fresh)


def _configured(config: Config | None, section: str | None, overrides: dict) -> Config:
    """A copy of `config` (or the defaults) with each override set on the field of its `section`,
    or else of Config, that it names."""
    configured = copy.deepcopy(config) if config is not None else Config()
    own = getattr(configured, section) if section else None
    for name, value in overrides.items():
        if name == "inputs":
            value = [parse_input_arg(v) if isinstance(v, str) else v for v in value]
        if name == "benchmarks":
            value = [parse_benchmark_arg(v) if isinstance(v, str) else v for v in value]
        if own is not None and _has_field(own, name):  # first: tokenize's `tokenizer` is a path, not the section
            setattr(own, name, value)
        elif _has_field(configured, name):
            setattr(configured, name, value)
        else:
            where = "Config" + (f" or of Config.{section}" if section else "")
            raise ConfigError(f"{name}: not a field of {where}")
    return configured


def _has_field(obj: object, name: str) -> bool:
    return any(field.name == name for field in dataclasses.fields(obj))
