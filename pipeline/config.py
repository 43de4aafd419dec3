"""The run configuration: the settings sections of every stage, composed into one object.

A config file (YAML or TOML) mirrors `Config`: one table/mapping per section, one key per field.
Each section is a dataclass that lives beside the code that uses it (transforms.settings has
the loader and printer); this module only composes them, and merges the file's values with
the command line's (`config_from_command_line`). Every field has a default and a one-line doc, which
`textshards config --print-defaults` prints. Every value is checked before any work starts:
`config_from_command_line` raises one ConfigError that lists each value of the file of the
wrong type and each problem of the settings the command reads, naming the field and the value.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from pipeline.beam_runner import RunnerConfig
from pipeline.run import RunConfig, train_problems
from tokenizer_training.bpe import TokenizerConfig
from transforms import outputs
from transforms.clean import CleanConfig
from transforms.decontaminate.settings import BenchmarkSpec, DecontaminateConfig
from transforms.dedup.settings import DedupConfig
from transforms.encode import TokenizeConfig
from transforms.filters.stage import FiltersConfig
from transforms.readers import InputSpec, ReadConfig
from transforms.sampling import SourceWeight
from transforms.settings import (
    ConfigError,
    config_and_problems,
    config_from_mapping,
    emit_yaml,
    raise_problems,
    read_config_mapping,
    setting,
    with_value_problems,
)
from transforms.writers import WriteConfig


@dataclass
class Config:
    inputs: list[InputSpec] = setting("Input files: a list of {name, glob, kind}.", default_factory=list)
    output: str = setting(
        "Output directory (local path or gs://...); for `textshards run`, the root that "
        "holds each stage's: prepare/, tokenizer/, shards/, train/.",
        default="",
    )
    read: ReadConfig = setting("Readers.", default_factory=ReadConfig)
    clean: CleanConfig = setting("Cleaning.", default_factory=CleanConfig)
    write: WriteConfig = setting("Output files.", default_factory=WriteConfig)
    runner: RunnerConfig = setting("Local execution.", default_factory=RunnerConfig)
    filters: FiltersConfig = setting(
        "Quality filters, language identification and PII redaction (docs/filters.md).", default_factory=FiltersConfig
    )
    decontaminate: DecontaminateConfig = setting(
        "Benchmark decontamination, after the filters and before dedup; also `textshards decontaminate` "
        "on a docs/ directory (docs/decontamination.md).",
        default_factory=DecontaminateConfig,
    )
    dedup: DedupConfig = setting(
        "Exact and near-duplicate removal, after the filters (docs/dedup.md).", default_factory=DedupConfig
    )
    tokenizer: TokenizerConfig = setting("BPE vocabulary training (train-tokenizer).", default_factory=TokenizerConfig)
    tokenize: TokenizeConfig = setting("Token shards (tokenize; docs/shards.md).", default_factory=TokenizeConfig)
    run: RunConfig = setting("All stages in one command (textshards run).", default_factory=RunConfig)

    def validate(self) -> None:
        """Raises one ConfigError listing every problem of `problems()`, where there are any."""
        raise_problems(self.problems())

    def problems(self) -> list[str]:
        """What types alone cannot check, one line per problem: those of every input and section,
        and every per-source setting naming no input."""
        problems = []
        if not self.inputs:
            problems.append("inputs: at least one input is required (--input NAME=GLOB)")
        if not self.output:
            problems.append("output: an output directory is required (--output DIR)")
        for i, spec in enumerate(self.inputs):
            problems += spec.problems(f"inputs[{i}]")
            if spec.name in (earlier.name for earlier in self.inputs[:i]):
                # ids hold paths below each input's own root: two inputs of one name could repeat them
                problems.append(f"inputs[{i}].name: {spec.name!r} names an earlier input too; give each its own")
        for section in (
            self.read,
            self.clean,
            self.write,
            self.runner,
            self.filters,
            self.decontaminate,
            self.dedup,
            self.tokenizer,
            self.tokenize,
            self.run,
        ):
            problems += section.problems()
        if self.inputs:
            problems += unknown_sources(sources_named(self), [spec.name for spec in self.inputs], "the inputs")
        return problems


# The paths a stage command needs where it runs alone: (field, what it holds, the option that gives it).
NEEDED_PATHS = {
    "tokenize": [
        ("output", "an output directory", "--output DIR"),
        ("tokenize.docs", "the documents directory of prepare", "--docs DIR/docs"),
        ("tokenize.tokenizer", "a tokenizer.json or its directory", "--tokenizer PATH"),
    ],
    "train-tokenizer": [
        ("output", "an output directory", "--output TOKDIR"),
        ("tokenizer.docs", "the documents directory of prepare", "--docs DIR/docs"),
    ],
    "decontaminate": [
        ("output", "an output directory", "--output DIR"),
        ("decontaminate.docs", "the documents directory of prepare", "--docs DIR/docs"),
        ("decontaminate.benchmarks", "at least one benchmark", "--decontaminate NAME=GLOB"),
    ],
}


def command_problems(config: Config, command: str) -> list[str]:
    """What types alone cannot check in the settings `command` reads, one line per problem:
    prepare reads every section, run those and the trainer's (run.train); tokenize and
    train-tokenizer their own and the runner's, and need their NEEDED_PATHS."""
    missing = [
        f"{field}: {what} is required ({option})"
        for field, what, option in NEEDED_PATHS.get(command, [])
        if not attrgetter(field)(config)
    ]
    if command == "tokenize":
        return config.tokenize.problems() + config.runner.problems() + missing
    if command == "train-tokenizer":
        return config.runner.problems() + config.tokenizer.problems() + missing
    if command == "decontaminate":
        return config.runner.problems() + config.decontaminate.problems() + missing
    if command == "run":
        return config.problems() + train_problems(config)
    return config.problems()


def sources_named(config: Config) -> dict[str, list[str]]:
    """Every setting that names sources: {field: the source names it lists}."""
    return {
        "filters.sources": [item.source for item in config.filters.sources],
        "dedup.source_priority": config.dedup.source_priority,
        "tokenizer.source_weights": [weight.source for weight in config.tokenizer.source_weights],
        "tokenize.source_weights": [weight.source for weight in config.tokenize.source_weights],
    }


def unknown_sources(named: dict[str, list[str]], known: list[str], known_from: str) -> list[str]:
    """A problem for each source name in `named` ({field: names}) that is not in `known` (the
    sources `known_from` lists): a setting for a source the job does not have is almost always a
    typo, and would do nothing."""
    return [
        f"{field}[{i}]: {source!r} is no source of {known_from} (sources: {', '.join(sorted(known)) or 'none'})"
        for field, sources in named.items()
        for i, source in enumerate(sources)
        if source not in known
    ]


def check_sources_prepared(docs: str, field: str, weights: list[SourceWeight]) -> None:
    """Raises ConfigError where a weight names a source that prepare's stats.json beside `docs`
    does not count; checks nothing where there is no stats.json (documents written otherwise)."""
    prepared = outputs.prepared_sources(docs)
    if prepared is None:
        return
    stats, sources = prepared
    raise_problems(unknown_sources({field: [weight.source for weight in weights]}, sources, stats))


def parse_input_arg(arg: str) -> InputSpec:
    """Parses the CLI form NAME=GLOB or NAME:KIND=GLOB."""
    head, sep, glob = arg.partition("=")
    if not sep:
        raise ConfigError(f"--input: {arg!r} must look like NAME=GLOB or NAME:KIND=GLOB")
    name, _, kind = head.partition(":")
    return InputSpec(name=name, glob=glob, kind=kind or "auto")


def parse_benchmark_arg(arg: str) -> BenchmarkSpec:
    """Parses the CLI form NAME=GLOB (every text field of its records)."""
    name, sep, path = arg.partition("=")
    if not sep or not name or not path:
        raise ConfigError(f"--decontaminate: {arg!r} must look like NAME=GLOB, e.g. mmlu=evals/mmlu/*.jsonl")
    return BenchmarkSpec(name=name, path=path)


def parse_weight_arg(arg: str) -> SourceWeight:
    """Parses the CLI form SOURCE=WEIGHT."""
    source, sep, weight = arg.partition("=")
    try:
        if sep:
            return SourceWeight(source=source, weight=float(weight))
    except ValueError:
        pass
    raise ConfigError(f"--weight: {arg!r} must look like SOURCE=WEIGHT, e.g. books=2")


def load_config_file(path: str | Path) -> Config:
    """Reads a .yaml/.yml/.toml/.json file into a validated-by-type Config."""
    return config_from_mapping(read_config_mapping(path), Config)


def defaults_as_yaml() -> str:
    """The full default config as commented YAML, loadable as it is."""
    example = Config(inputs=[InputSpec(name="books", glob="corpus/books/*.txt")], output="out")
    lines = [
        "# textshards run configuration (defaults). Every field is optional except",
        "# inputs and output. Load with: textshards prepare --config FILE",
    ]
    emit_yaml(example, lines, indent="")
    return "\n".join(lines) + "\n"


def config_from_command_line(args: argparse.Namespace) -> Config:
    """The config a command runs with: its --config file (or the defaults), then the command's own
    options on top (each overrides the field its --help names). Raises one ConfigError listing
    every field of the file refused by type and every problem of the settings the command reads
    (`command_problems`): a user sees them all in one run."""
    config, problems = config_and_problems(read_config_mapping(args.config), Config) if args.config else (Config(), [])
    if args.output:
        config.output = args.output
    if args.wait_for_lock:
        config.runner.wait_for_lock = True
    if args.command in ("prepare", "run") and args.input:
        config.inputs = [parse_input_arg(arg) for arg in args.input]
    if args.command in ("prepare", "run") and args.allow_empty:
        config.write.allow_empty = True
    if args.command == "prepare" and args.write_rejected:
        config.filters.write_rejected = True
    if args.command in ("prepare", "decontaminate") and args.decontaminate:
        config.decontaminate.benchmarks += [parse_benchmark_arg(arg) for arg in args.decontaminate]
    if args.command == "decontaminate" and args.docs is not None:
        config.decontaminate.docs = args.docs
    if args.command == "train-tokenizer":
        tokenizer = config.tokenizer
        for name in ("docs", "vocab_size", "sample_bytes", "reference"):
            if getattr(args, name) is not None:
                setattr(tokenizer, name, getattr(args, name))
        if args.weight:
            tokenizer.source_weights = [parse_weight_arg(arg) for arg in args.weight]
    if args.command == "tokenize":
        tokenize = config.tokenize
        for name in ("docs", "tokenizer", "seq_len", "validation_fraction", "seed", "encoder"):
            if getattr(args, name) is not None:
                setattr(tokenize, name, getattr(args, name))
        if args.packed:
            tokenize.packed = True
        if args.weight:
            tokenize.source_weights = [parse_weight_arg(arg) for arg in args.weight]
        if args.shard_tokens is not None:
            tokenize.shard_target_tokens = args.shard_tokens
        for fmt in args.export:
            setattr(tokenize, f"export_{fmt}", True)
    raise_problems(with_value_problems(problems, command_problems(config, args.command)))
    return config
