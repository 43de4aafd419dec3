"""`textshards run`: every stage of one config, in order, picking up where an earlier run stopped.

    inputs --prepare--> OUTPUT/prepare --train-tokenizer--> OUTPUT/tokenizer
                             |                                    |
                             +---------------tokenize-------------+--> OUTPUT/shards --train--> OUTPUT/train

A Beam stage is skipped where its output is complete (it has its _SUCCESS) and was made from
what this run would make it from: the config fingerprint in its _SUCCESS equals this run's
(pipeline/fingerprint.py). An incomplete output, or one made from other settings or inputs, is
written again from scratch. The train stage resumes from its own last checkpoint, and starts
over where the shards beneath it have just been rewritten.

Everything that can be checked is checked before the first stage starts: the whole config,
the input globs, the trainer's settings, and that every stage left out of run.stages has the
complete output that a later stage reads.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline import fingerprint
from transforms import output_lock, outputs
from transforms.settings import ConfigError, raise_problems, setting
from transforms.tokenizer_file import token_dtype

if TYPE_CHECKING:  # pipeline.config composes RunConfig, defined here
    from pipeline.config import Config


RUN_STAGES = ("prepare", "train-tokenizer", "tokenize", "train")


@dataclass
class RunConfig:
    stages: list[str] = setting(
        "Stages of `textshards run`, a subset of prepare, train-tokenizer, tokenize, train in "
        "that order; a stage left out must already have its complete output under the run's output.",
        default_factory=lambda: list(RUN_STAGES),
    )
    train: dict = setting(
        "The train stage's settings, a mapping of the fields `textshards train --print-defaults` "
        "lists (e.g. {preset: tiny, max_steps: 600}); shards is the run's own.",
        default_factory=dict,
    )

    def problems(self) -> list[str]:
        problems = []
        wrong = [stage for stage in self.stages if stage not in RUN_STAGES]
        if wrong or not self.stages:
            problems.append(f"run.stages: {self.stages!r} must list some of {', '.join(RUN_STAGES)}")
        elif self.stages != sorted(set(self.stages), key=RUN_STAGES.index):  # sorting needs known stages
            problems.append(
                f"run.stages: {self.stages!r} must list each stage once, in the order {', '.join(RUN_STAGES)}"
            )
        if "shards" in self.train:
            problems.append(
                f"run.train.shards: {self.train['shards']!r}: the run trains on its own shards "
                "(OUTPUT/shards); leave it out"
            )
        return problems


DIRECTORIES = {"prepare": "prepare", "train-tokenizer": "tokenizer", "tokenize": "shards", "train": "train"}
NEEDS = {"train-tokenizer": ["prepare"], "tokenize": ["prepare", "train-tokenizer"], "train": ["tokenize"]}


@dataclass
class RunPaths:
    """Where each stage of a run rooted at `root` reads and writes."""

    root: str

    def of(self, stage: str) -> str:
        return outputs.join(self.root, DIRECTORIES[stage])

    @property
    def docs(self) -> str:
        return outputs.join(self.of("prepare"), "docs")


def stage_configs(config: Config, paths: RunPaths) -> dict[str, Config]:
    """The config each Beam stage runs with: the run's, with the stage's own paths filled in."""
    prepare = copy.deepcopy(config)
    prepare.output = paths.of("prepare")
    train_tokenizer = copy.deepcopy(config)
    train_tokenizer.output = paths.of("train-tokenizer")
    train_tokenizer.tokenizer.docs = paths.docs
    tokenize = copy.deepcopy(config)
    tokenize.output = paths.of("tokenize")
    tokenize.tokenize.docs = paths.docs
    tokenize.tokenize.tokenizer = paths.of("train-tokenizer")
    return {"prepare": prepare, "train-tokenizer": train_tokenizer, "tokenize": tokenize}


def check_before_work(config: Config, paths: RunPaths, beam_args: list[str]) -> dict | None:
    """Raises ConfigError for anything wrong with the run; returns the trainer's settings
    (a mapping of TrainConfig fields) where the run trains, else None."""
    from pipeline.beam_runner import check_workers_can_reach
    from pipeline.prepare import check_inputs_match, worker_paths

    raise_problems(config.problems() + train_problems(config))
    check_workers_can_reach(beam_args, worker_paths(config))  # every stage's output is under config.output
    stages = config.run.stages
    own_paths = {  # field: (its value, the path the run uses instead)
        "tokenizer.docs": (config.tokenizer.docs, paths.docs),
        "tokenize.docs": (config.tokenize.docs, paths.docs),
        "tokenize.tokenizer": (config.tokenize.tokenizer, paths.of("train-tokenizer")),
    }
    for name, (value, own) in own_paths.items():
        if value:
            raise ConfigError(f"{name}: {value!r}: textshards run uses its own ({own}); leave it empty")
    if config.tokenize.export_nanogpt and token_dtype(config.tokenizer.vocab_size) != "uint16":
        raise ConfigError(
            f"tokenize.export_nanogpt: nanoGPT reads uint16 tokens, but tokenizer.vocab_size is "
            f"{config.tokenizer.vocab_size}"
        )
    for stage in stages:
        for needed in NEEDS.get(stage, []):
            if needed not in stages and not outputs.is_complete(paths.of(needed)):
                raise ConfigError(
                    f"run.stages: {stage} reads {paths.of(needed)}, which is not complete; add {needed} to run.stages"
                )
    if "prepare" in stages:
        check_inputs_match(config)
    if "train-tokenizer" in stages:
        from pipeline.train_tokenizer import load_reference

        load_reference(config)
    if "train" not in stages:
        return None
    return {**config.run.train, "shards": paths.of("tokenize")}


def train_problems(config: Config) -> list[str]:
    """Where the run trains, the problems of its trainer's settings (run.train), each naming its
    field under run.train, or that PyTorch is missing."""
    if "train" not in config.run.stages:
        return []
    try:
        import torch  # noqa: F401
    except ImportError:
        return [
            "run.stages: 'train' needs PyTorch, which is not installed: install textshards[train] or leave train out"
        ]
    from trainer.config import build_config

    try:
        build_config(config.run.train)
    except ConfigError as err:
        return [f"run.train.{problem}" for problem in err.problems]
    return []


def expected_fingerprint(stage: str, config: Config, paths: RunPaths) -> str:
    """The fingerprint this run's `stage` would record, from the settings and the (complete) upstream outputs."""
    if stage == "prepare":
        return fingerprint.prepare(config)
    if stage == "train-tokenizer":
        return fingerprint.train_tokenizer(config)
    from transforms.tokenizer_file import read_tokenizer_file

    tokenizer = read_tokenizer_file(config.tokenize.tokenizer, config.tokenize.eos_token)
    return fingerprint.tokenize(config, tokenizer.sha256)


def run_all(config: Config, beam_args: list[str], fresh: bool = False) -> dict:
    """Runs (or skips) each stage of config.run.stages under config.output; returns
    {stage: "ran" | "skipped"}."""
    paths = RunPaths(config.output)
    train_settings = check_before_work(config, paths, beam_args)
    configs = stage_configs(config, paths)
    done: dict[str, str] = {}
    # The whole run holds the root: a second `textshards run` into it fails at once, and no stage
    # is judged complete while another run is rewriting it. Each Beam stage also locks its own directory.
    compared_by = fingerprint.inputs_compared_by([spec.glob for spec in config.inputs])
    with output_lock.hold(config.output, config.runner.wait_for_lock):
        for stage in config.run.stages:
            output = paths.of(stage)
            if stage == "train":
                restart = fresh or done.get("tokenize") == "ran"
                _say(f"train -> {output}" + (" (from scratch: new shards)" if restart and not fresh else ""))
                _train(output, train_settings, restart)
                done[stage] = "ran"
                continue
            stage_config = configs[stage]
            expected = expected_fingerprint(stage, stage_config, paths)
            if not fresh and fingerprint.recorded(output) == expected:
                _say(
                    f"{stage} -> {output}: complete, made from the same config and inputs (inputs compared "
                    f"{compared_by}; {expected[:12]}); skipped"
                )
                done[stage] = "skipped"
                continue
            _say(f"{stage} -> {output}: {_why_run(output, fresh)}")
            started = time.monotonic()
            _run_beam_stage(stage, stage_config, paths, beam_args)
            _say(f"{stage} finished in {time.monotonic() - started:.0f} s")
            done[stage] = "ran"
    return done


def _why_run(output: str, fresh: bool) -> str:
    if fresh:
        return "--fresh: running"
    if not outputs.is_complete(output):
        return "no complete output: running"
    return "made from other settings or inputs: running again"


def _run_beam_stage(stage: str, config: Config, paths: RunPaths, beam_args: list[str]) -> None:
    if stage == "prepare":
        from pipeline.inspection import format_funnel
        from pipeline.prepare import run_prepare

        print(format_funnel(run_prepare(config, beam_args)))
    elif stage == "train-tokenizer":
        from pipeline.train_tokenizer import run_train_tokenizer
        from tokenizer_training.report import format_report

        print(format_report(run_train_tokenizer(config, beam_args)))
    else:
        from pipeline.tokenize import run_tokenize, splits_table

        print(splits_table(run_tokenize(config, beam_args)))


def _train(output: str, settings: dict, fresh: bool) -> None:
    from trainer.train import train

    summary = train(output, settings, fresh=fresh)
    if summary["best_val_loss"] is not None:
        print(
            f"best validation loss {summary['best_val_loss']:.4f} ({summary['best_val_bpb']:.4f} bits/byte) "
            f"at step {summary['best_step']}"
        )


def _say(message: str) -> None:
    print(f"== textshards run: {message}", flush=True)
