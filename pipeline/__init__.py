"""The top layer: the `textshards` command line, the run's configuration and the stage drivers.

    cli.py             the `textshards` subcommands (the trainer's come from trainer/cli.py)
    config.py          `Config`: every stage's settings section composed; file and CLI values merged
    prepare.py         `textshards prepare`: raw files -> docs/*.parquet, stats, dead letters
    train_tokenizer.py `textshards train-tokenizer`: docs -> tokenizer.json and its report
    tokenize.py        `textshards tokenize`: docs + tokenizer -> Arrow token shards, manifest
    run.py             `textshards run`: every stage of one config, skipping complete outputs
    fingerprint.py     what a stage's output was made from (settings, inputs, source code)
    beam_runner.py     Beam options, local defaults, the checks that workers can reach the paths
    inspection.py      `textshards inspect rejected` and the funnel table
    report.py          the funnel picture (report.png)

Every stage driver is `run_<stage>(config, beam_args)`: it checks everything before any work,
runs one Beam pipeline, and commits its outputs atomically (transforms/outputs.py).
Dependencies point down: pipeline -> tokenizer_training | trainer -> transforms (an
import-linter contract in pyproject.toml).
"""
