"""The `textshards` command line: one subcommand per job.

    textshards prepare --input NAME[:KIND]=GLOB [...] --output DIR [--config FILE] [-- BEAM_OPTIONS]
    textshards train-tokenizer --docs DIR/docs --output TOKDIR [--config FILE] [-- BEAM_OPTIONS]
    textshards config --print-defaults
    textshards tokenize --docs DIR/docs --tokenizer TOKDIR --output SHARDDIR [--config FILE] [-- BEAM_OPTIONS]
    textshards verify SHARDDIR
    textshards inspect rejected [DIR] [--reason REASON] [--limit N]
    textshards inspect SHARDDIR [--limit N]
    textshards train --shards SHARDDIR --output RUNDIR [...]   (and generate, export-hf: trainer/cli.py)
    textshards decontaminate --docs DIR/docs --output OUT --decontaminate NAME=GLOB [...] [--config FILE] [-- ...]
    textshards run --config FILE [--input NAME[:KIND]=GLOB ...] [--output ROOT] [--fresh] [-- BEAM_OPTIONS]

Everything after `--` is passed to Beam unchanged (runner, project, region...).
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from typing import TYPE_CHECKING, Callable

from trainer import cli as trainer_cli  # imports no torch until a trainer command runs
from transforms.settings import ConfigError, OperatorError

if TYPE_CHECKING:  # imported where a command runs: Beam imports are slow
    from pipeline.config import Config


def _beam_options_epilog(command: str, scope: str = "") -> str:
    """The help's last line: where Beam's own options go, with `textshards COMMAND` as the example."""
    return (
        f"Beam pipeline options go after '--'{scope}, e.g. "
        f"textshards {command} -- --runner DataflowRunner --project P --region R"
    )


def _new_parser(add_commands: Callable[[argparse._SubParsersAction], None]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textshards",
        description="Turn raw book and web text into clean, training-ready data with Apache Beam.",
        epilog=_beam_options_epilog("prepare ..."),
    )
    verbose = "log Beam's own progress too"
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(commands)
    for command in commands.choices.values():
        # Also after the command (textshards prepare ... -v); SUPPRESS keeps the value given before it.
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose)
    return parser


def _trainer_parser() -> argparse.ArgumentParser:
    """The trainer's commands alone: they run where torch is installed and Beam is not (a GPU
    machine), so nothing here may import Beam."""
    return _new_parser(trainer_cli.add_commands)


def _build_parser() -> argparse.ArgumentParser:
    return _new_parser(_add_commands)


def _add_commands(commands: argparse._SubParsersAction) -> None:
    from transforms.encode import TOKENIZE_ENCODERS
    from transforms.readers import INPUT_KINDS

    prepare = commands.add_parser(
        "prepare",
        help="read, decode and clean raw files into DIR/docs/*.parquet",
        description="Read raw files (books, HTML, WARC/WET/ARC, JSONL, Parquet; gzip/zstd), decode "
        "and clean them, and write DIR/docs/*.parquet, DIR/stats.json and "
        "DIR/dead_letter/*.jsonl. DIR/_SUCCESS appears only when all of it is complete.",
    )
    _add_input_argument(prepare, INPUT_KINDS)
    prepare.add_argument("--output", metavar="DIR", help="output directory (local or gs://); overrides config")
    _add_config_argument(prepare)
    _add_wait_for_lock_argument(prepare)
    _add_allow_empty_argument(prepare)
    prepare.add_argument(
        "--write-rejected",
        action="store_true",
        help="also write the documents the filters drop, with their reason, to "
        "DIR/rejected/ (see 'textshards inspect rejected'); sets filters.write_rejected",
    )
    _add_decontaminate_argument(prepare)

    decontaminate = commands.add_parser(
        "decontaminate",
        help="drop or redact the documents of prepare's docs/ that hold benchmark items",
        description="Check every document of DIR/docs against the n-gram index of the benchmarks "
        "(the config's decontaminate section and --decontaminate), and write OUT/docs (the same "
        "files, less the contaminated documents, or with their matching runs cut out), "
        "OUT/contaminated/*.jsonl, OUT/decontamination.json and OUT/stats.json; OUT/_SUCCESS "
        "appears only when all of it is complete. See docs/decontamination.md.",
        epilog=_beam_options_epilog("decontaminate ..."),
    )
    decontaminate.add_argument(
        "--docs",
        metavar="DIR/docs",
        help="the docs directory of 'textshards prepare'; overrides decontaminate.docs",
    )
    decontaminate.add_argument(
        "--output", metavar="OUT", help="output directory (local or gs://); overrides the config"
    )
    _add_config_argument(decontaminate)
    _add_wait_for_lock_argument(decontaminate)
    _add_decontaminate_argument(decontaminate)

    tokenizer = commands.add_parser(
        "train-tokenizer",
        help="train a byte-level BPE vocabulary on prepare's documents",
        description="Draw a deterministic sample of DIR/docs (by hash of document id, per-source "
        "weights, at most tokenizer.sample_bytes) with Beam, train a GPT-2-style "
        "byte-level BPE vocabulary on it on this machine, and write TOKDIR/tokenizer.json "
        "with the files transformers needs (AutoTokenizer.from_pretrained(TOKDIR)), and "
        "tokenizer_report.json/.png measured on held-out documents. TOKDIR/_SUCCESS "
        "appears only when all of it is complete. Other settings: the config's "
        "'tokenizer' section (textshards config --print-defaults).",
        epilog=_beam_options_epilog("train-tokenizer ...", " (for the sampling step)"),
    )
    tokenizer.add_argument(
        "--docs",
        metavar="DIR/docs",
        help="the docs directory written by 'textshards prepare' (local or gs://); overrides tokenizer.docs",
    )
    tokenizer.add_argument(
        "--output",
        metavar="TOKDIR",
        help="output directory for the tokenizer and its report (local or gs://); overrides the config",
    )
    _add_config_argument(tokenizer)
    _add_wait_for_lock_argument(tokenizer)
    tokenizer.add_argument(
        "--vocab-size",
        type=int,
        metavar="N",
        help="vocabulary size, 256 bytes and special tokens included; overrides tokenizer.vocab_size",
    )
    tokenizer.add_argument(
        "--sample-bytes",
        type=int,
        metavar="N",
        help="training sample size in bytes of text; overrides tokenizer.sample_bytes",
    )
    tokenizer.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="SOURCE=W",
        help="sampling weight of a source (1 = its share of the corpus, 0 = left "
        "out); repeat per source; replaces tokenizer.source_weights",
    )
    tokenizer.add_argument(
        "--reference",
        metavar="TOKENIZER_JSON",
        help="a local tokenizer.json (or directory) to compare with in the report, "
        "e.g. GPT-2's; overrides tokenizer.reference; never downloaded",
    )

    tokenize = commands.add_parser(
        "tokenize",
        help="encode prepare's documents into shuffled Arrow token shards",
        description="Encode DIR/docs with a tokenizer (a fast tiktoken path with tokenizers' exact ids "
        "where the tokenizer allows it), append the end-of-text id to each document, split "
        "train/validation by hash of document id, shuffle, and write SHARDDIR/{train,validation}/"
        "shard-NNNNN-of-MMMMM.arrow (Arrow IPC streams that datasets opens), manifest.json and "
        "a copy of the tokenizer (tokenizer.json and the files transformers loads with it); optionally "
        "Megatron-LM .bin/.idx and nanoGPT .bin exports (with meta.pkl). "
        "SHARDDIR/_SUCCESS appears only when all of it is complete. Other settings: the "
        "config's 'tokenize' section (textshards config --print-defaults); docs/shards.md.",
        epilog=_beam_options_epilog("tokenize ..."),
    )
    tokenize.add_argument(
        "--docs", metavar="DIR/docs", help="the docs directory written by 'textshards prepare'; overrides tokenize.docs"
    )
    tokenize.add_argument(
        "--tokenizer",
        metavar="TOKDIR",
        help="tokenizer.json or the directory holding it (train-tokenizer's output); overrides tokenize.tokenizer",
    )
    tokenize.add_argument(
        "--output", metavar="SHARDDIR", help="output directory (local or gs://); overrides the config"
    )
    _add_config_argument(tokenize)
    _add_wait_for_lock_argument(tokenize)
    tokenize.add_argument(
        "--packed",
        action="store_true",
        help="write windows of seq_len + 1 tokens across "
        "documents, with their document starts, instead of one row per document",
    )
    tokenize.add_argument(
        "--seq-len", type=int, metavar="N", help="packed window length minus one; overrides tokenize.seq_len"
    )
    tokenize.add_argument(
        "--validation-fraction",
        type=float,
        metavar="F",
        help="share of documents in validation, by hash of id; overrides tokenize.validation_fraction",
    )
    tokenize.add_argument("--seed", type=int, metavar="N", help="shuffle and sampling seed; overrides tokenize.seed")
    tokenize.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="SOURCE=W",
        help="train-split sampling weight of a source (2 = each document twice, 0.5 = half "
        "of them, 0 = none); repeat per source; replaces tokenize.source_weights",
    )
    tokenize.add_argument(
        "--shard-tokens", type=int, metavar="N", help="target tokens per shard; overrides tokenize.shard_target_tokens"
    )
    tokenize.add_argument("--encoder", choices=TOKENIZE_ENCODERS, help="overrides tokenize.encoder")
    tokenize.add_argument(
        "--export",
        action="append",
        default=[],
        choices=["megatron", "nanogpt"],
        help="also write Megatron-LM's .bin/.idx or nanoGPT's train.bin/val.bin; repeatable",
    )

    verify = commands.add_parser(
        "verify",
        help="re-check a shard directory against its manifest",
        description="Re-check every file of a 'textshards tokenize' output against its manifest.json "
        "(size, sha256, and each shard's schema, rows, tokens and end-of-text ids); exit "
        "status 1 on any mismatch.",
    )
    verify.add_argument("directory", metavar="SHARDDIR", help="the output directory of 'textshards tokenize'")

    inspect = commands.add_parser(
        "inspect",
        help="look at the documents a prepare run's filters dropped, or at a shard directory",
        description="'inspect rejected DIR': the documents that the filters of 'textshards prepare "
        "--write-rejected' dropped into DIR/rejected, with their reason; without --reason, how many "
        "were dropped for each. 'inspect SHARDDIR': a shard directory's summary and its first rows decoded.",
    )
    inspect.add_argument(
        "what",
        metavar="rejected|SHARDDIR",
        help="'rejected': the documents the filters dropped; or the output directory of "
        "'textshards tokenize': its summary and its first --limit rows decoded",
    )
    inspect.add_argument(
        "directory", nargs="?", metavar="DIR", help="with 'rejected': the prepare output directory (default: .)"
    )
    inspect.add_argument("--output", metavar="DIR", help=argparse.SUPPRESS)  # deprecated: inspect rejected DIR
    inspect.add_argument(
        "--reason",
        metavar="REASON",
        help="a reason such as gopher_quality.symbol_ratio, or a step such as c4 (all its reasons)",
    )
    inspect.add_argument("--limit", type=int, default=10, metavar="N", help="documents to print (default: 10)")
    inspect.add_argument(
        "--chars", type=int, default=600, metavar="N", help="characters of each document to print (default: 600)"
    )

    trainer_cli.add_commands(commands)

    run = commands.add_parser(
        "run",
        help="every stage of a config: prepare, train-tokenizer, tokenize, train; resumable",
        description="Run the stages in the config's run.stages (by default prepare, train-tokenizer, "
        "tokenize, train) into ROOT/prepare, ROOT/tokenizer, ROOT/shards and ROOT/train. A stage "
        "whose output is complete and was made from the same settings and inputs (the "
        "fingerprint in its _SUCCESS) is skipped; an incomplete one is redone; training "
        "resumes from its last checkpoint. The whole config is checked before any work.",
        epilog=_beam_options_epilog("run --config run.yaml", " and apply to every Beam stage"),
    )
    _add_config_argument(run, required=True)
    _add_wait_for_lock_argument(run)
    _add_input_argument(run, INPUT_KINDS)
    _add_allow_empty_argument(run)
    run.add_argument("--output", metavar="ROOT", help="root directory of the run's outputs; overrides the config")
    run.add_argument("--fresh", action="store_true", help="redo every stage, complete or not, and train from scratch")

    config = commands.add_parser(
        "config", help="show the run configuration format", description="Show the run configuration format."
    )
    config.add_argument(
        "--print-defaults",
        action="store_true",
        required=True,
        help="print the full default configuration, every field documented, as YAML",
    )


def _add_config_argument(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        required=required,
        help="run configuration (YAML or TOML); see 'textshards config --print-defaults'",
    )


def _add_wait_for_lock_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait-for-lock",
        action="store_true",
        help="where another run is writing the same output directory, wait for it to finish "
        "instead of failing at once; sets runner.wait_for_lock",
    )


def _add_allow_empty_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="let prepare succeed when no document is left to write (by default an error); sets write.allow_empty",
    )


def _add_decontaminate_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--decontaminate",
        action="append",
        default=[],
        metavar="NAME=GLOB",
        help="a benchmark to decontaminate against: NAME and its files (a glob, a directory, or "
        "hf=DIR: JSON lines, also .gz/.zst, Parquet, Arrow, plain text). An item is a line, a row or "
        "a blank-line-separated paragraph; a record's text is every string field but id-like ones (a "
        "config's decontaminate.benchmarks names text_fields). Repeat for several; added to "
        "decontaminate.benchmarks",
    )


def _add_input_argument(parser: argparse.ArgumentParser, kinds: tuple[str, ...]) -> None:
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME[:KIND]=GLOB",
        help="an input: source NAME (stored with each document, groups the stats) and a file GLOB "
        "on any Beam filesystem, or a directory (every file below it). KIND forces a reader (%s); "
        "by default each file's reader is sniffed from its content. Repeat for several inputs; "
        "replaces the config's inputs." % ", ".join(k for k in kinds if k != "auto"),
    )


def _rejected_directory(args: argparse.Namespace) -> str:
    """DIR of `inspect rejected DIR`, or of the deprecated `inspect rejected --output DIR`."""
    if args.output is None:
        return args.directory or "."
    if args.directory:
        raise OperatorError("inspect rejected: give the directory once: inspect rejected DIR")
    print("textshards: 'inspect rejected --output DIR' is deprecated: use 'inspect rejected DIR'", file=sys.stderr)
    return args.output


def _split_beam_args(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, []


def _print_funnel(report: dict) -> None:
    """Documents and bytes after each step, per source: the funnel users look at first."""
    from pipeline.inspection import format_funnel

    print(format_funnel(report))


def _print_decontamination(report: dict, config: Config) -> None:
    """Per benchmark, its items, those found, the documents hit and the words removed; where a
    benchmark file broke off while read, where to see which and why."""
    if config.decontaminate.benchmarks:
        from pipeline.inspection import format_decontamination
        from transforms.decontaminate.stage import decontamination_report

        names = [benchmark.name for benchmark in config.decontaminate.benchmarks]
        counts = decontamination_report(report, names)
        print(format_decontamination(counts))
        broke_off = sum(benchmark["files_unreadable"] for benchmark in counts.values())
        if broke_off:
            print(
                f"{broke_off} benchmark file(s) could not be read to their end (the items before are indexed): "
                f"{config.output}/decontamination.json lists them under unreadable_files, with the reason"
            )


def config_error_message(err: ConfigError) -> str:
    """One line for one problem; a line per problem, under a count, for several."""
    if len(err.problems) == 1:
        return f"textshards: config error: {err.problems[0]}"
    return f"textshards: {len(err.problems)} config errors:" + "".join(f"\n  {p}" for p in err.problems)


def main(argv: list[str] | None = None) -> int:
    status = _run_command(sys.argv[1:] if argv is None else argv)
    if argv is None:
        # The process ends next (the console script, `python -m pipeline.cli`). Freezing what it
        # holds spares the garbage collector's passes over Beam's, Arrow's and numpy's objects at
        # interpreter exit: 0.6-0.7 s of every command. Callers that pass argv (tests, scripts)
        # go on living, and keep their collector as it was.
        gc.freeze()
    return status


def _run_command(argv: list[str]) -> int:
    own_args, beam_args = _split_beam_args(argv)
    command = next((arg for arg in own_args if not arg.startswith("-")), None)
    parser = _trainer_parser() if command in trainer_cli.COMMANDS else _build_parser()
    args, unknown = parser.parse_known_args(own_args)
    if unknown:
        parser.error(
            f"unrecognized arguments: {' '.join(unknown)}"
            + ("; Beam pipeline options go after '--': textshards COMMAND ... -- --runner R" if command else "")
        )
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        if args.command in trainer_cli.COMMANDS:
            return trainer_cli.run(args)
        from pipeline.config import config_from_command_line, defaults_as_yaml

        if args.command == "config":
            print(defaults_as_yaml(), end="")
            return 0
        if args.command == "run":
            from pipeline.run import run_all

            run_all(config_from_command_line(args), beam_args, fresh=args.fresh)
            return 0
        if args.command == "prepare":
            from pipeline.prepare import run_prepare  # Beam imports are slow: only when needed

            config = config_from_command_line(args)
            report = run_prepare(config, beam_args)
            _print_funnel(report)
            _print_decontamination(report, config)
            print(
                f"wrote {config.output}/docs, {config.output}/stats.json, {config.output}/dead_letter"
                + (f", {config.output}/rejected" if config.filters.write_rejected else "")
                + (f", {config.output}/contaminated" if config.decontaminate.benchmarks else "")
            )
            return 0
        if args.command == "decontaminate":
            from pipeline.decontaminate import run_decontaminate

            config = config_from_command_line(args)
            _print_decontamination(run_decontaminate(config, beam_args), config)
            print(
                f"wrote {config.output}/docs, {config.output}/contaminated, "
                f"{config.output}/decontamination.json, {config.output}/stats.json"
            )
            return 0
        if args.command == "tokenize":
            from pipeline.tokenize import run_tokenize, splits_table

            config = config_from_command_line(args)
            manifest = run_tokenize(config, beam_args)
            print(splits_table(manifest))
            print(
                f"encoder: {manifest['encoder']['backend']}; wrote {config.output}/train, {config.output}/validation"
                + "".join(f", {config.output}/{fmt}" for fmt in sorted({e["format"] for e in manifest["exports"]}))
                + f", {config.output}/manifest.json"
            )
            return 0
        if args.command == "verify":
            from transforms.shards.manifest import verify

            problems = verify(args.directory)
            for problem in problems:
                print(f"MISMATCH {problem}")
            print(
                f"{args.directory}: {len(problems)} problem(s)"
                if problems
                else f"{args.directory}: every file matches manifest.json"
            )
            return 1 if problems else 0
        if args.command == "inspect" and args.what != "rejected":
            from pipeline.tokenize import shard_summary

            if args.directory or args.output:
                raise OperatorError(f"inspect {args.what}: takes one directory (DIR is for 'inspect rejected DIR')")
            try:
                print(shard_summary(args.what, args.limit, args.chars))
            except ValueError as err:
                raise OperatorError(
                    f"inspect: {args.what!r} is neither 'rejected' nor a shard directory: {err}"
                ) from None
            return 0
        if args.command == "inspect":
            from pipeline.inspection import format_rejected

            print(format_rejected(_rejected_directory(args), args.reason, args.limit, args.chars))
            return 0
        if args.command == "train-tokenizer":
            from pipeline.train_tokenizer import run_train_tokenizer
            from tokenizer_training.report import format_report

            config = config_from_command_line(args)
            report = run_train_tokenizer(config, beam_args)
            print(format_report(report))
            print(
                f"wrote {config.output}/tokenizer.json (+ tokenizer_config.json, special_tokens_map.json), "
                f"{config.output}/tokenizer_report.json and .png"
            )
            return 0
    except ConfigError as err:
        print(config_error_message(err), file=sys.stderr)
        return 2
    except OperatorError as err:
        print(f"textshards: {err}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
