"""The `textshards` command line: one subcommand per job.

    textshards prepare --input NAME[:KIND]=GLOB [...] --output DIR [--config FILE] [-- BEAM_OPTIONS]
    textshards config --print-defaults

Everything after `--` is passed to Beam unchanged (runner, project, region...).
"""

from __future__ import annotations

import argparse
import logging
import sys

from pipeline.config import INPUT_KINDS, Config, ConfigError, defaults_as_yaml, load_config_file, parse_input_arg


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textshards",
        description="Turn raw book and web text into clean, training-ready data with Apache Beam.",
        epilog="Beam pipeline options go after '--', e.g. "
               "textshards prepare ... -- --runner DataflowRunner --project P --region R",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log Beam's own progress too")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prepare = commands.add_parser(
        "prepare", help="read, decode and clean raw files into DIR/docs/*.parquet",
        description="Read raw files (books, HTML, WARC/WET/ARC, JSONL, Parquet; gzip/zstd), decode "
                    "and clean them, and write DIR/docs/*.parquet, DIR/stats.json and "
                    "DIR/dead_letter/*.jsonl. DIR/_SUCCESS appears only when all of it is complete.",
    )
    prepare.add_argument(
        "--input", action="append", default=[], metavar="NAME[:KIND]=GLOB",
        help="an input: source NAME (stored with each document, groups the stats) and a file GLOB "
             "on any Beam filesystem. KIND forces a reader (%s); by default each file's reader is "
             "sniffed from its content. Repeat for several inputs; replaces the config's inputs."
             % ", ".join(k for k in INPUT_KINDS if k != "auto"),
    )
    prepare.add_argument("--output", metavar="DIR", help="output directory (local or gs://); overrides the config")
    prepare.add_argument("--config", metavar="FILE", help="run configuration (YAML or TOML); "
                         "see 'textshards config --print-defaults'")

    config = commands.add_parser("config", help="show the run configuration format",
                                 description="Show the run configuration format.")
    config.add_argument("--print-defaults", action="store_true", required=True,
                        help="print the full default configuration, every field documented, as YAML")
    return parser


def _split_beam_args(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1:]
    return argv, []


def _prepare_config(args: argparse.Namespace) -> Config:
    config = load_config_file(args.config) if args.config else Config()
    if args.input:
        config.inputs = [parse_input_arg(arg) for arg in args.input]
    if args.output:
        config.output = args.output
    config.validate()
    return config


def _print_funnel(report: dict) -> None:
    """Documents and bytes through each step, per source: the funnel users look at first."""
    print(f"{'source':<16}{'files':>7}{'read':>9}{'MB in':>9}{'kept':>9}{'MB out':>9}  dropped / dead letters")
    for source, counts in sorted(report["sources"].items()) + [("TOTAL", report["totals"])]:
        losses = {**counts.get("dropped", {}), **counts.get("dead_letter", {})}
        print(f"{source:<16}{counts.get('files', 0):>7}{counts.get('documents_read', 0):>9}"
              f"{counts.get('bytes_read', 0) / 1e6:>9.2f}{counts.get('documents_out', 0):>9}"
              f"{counts.get('bytes_out', 0) / 1e6:>9.2f}  "
              + (", ".join(f"{k}={v}" for k, v in sorted(losses.items())) or "-"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own_args, beam_args = _split_beam_args(argv)
    args = _build_parser().parse_args(own_args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        if args.command == "config":
            print(defaults_as_yaml(), end="")
            return 0
        if args.command == "prepare":
            from pipeline.prepare import run_prepare  # Beam imports are slow: only when needed

            config = _prepare_config(args)
            report = run_prepare(config, beam_args)
            _print_funnel(report)
            print(f"wrote {config.output}/docs, {config.output}/stats.json, {config.output}/dead_letter")
            return 0
    except ConfigError as err:
        print(f"textshards: config error: {err}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
