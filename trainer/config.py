"""The training run's configuration: one typed object that the CLI and config files fill.

A config file (YAML, TOML or JSON) is a flat mapping of these fields (or a `textshards run`
config, whose `run.train` mapping is then read); `--set KEY=VALUE` overrides one field;
`--preset`, `--max-steps`, `--device` and `--compile` are shorthands.
Every value is checked before any work starts, and one ConfigError lists every bad one, naming
the field and the value (the same loader and checks as `textshards prepare`'s config).

Model dimensions left empty (null) come from the preset; the vocabulary size always comes
from the shard manifest.
"""

from __future__ import annotations

import dataclasses
import logging
import typing
from dataclasses import dataclass

import yaml

from trainer.model import PRESETS
from transforms.settings import (
    ConfigError,
    config_and_problems,
    emit_yaml,
    must_be_fraction,
    must_be_non_negative,
    must_be_one_of,
    must_be_positive,
    raise_problems,
    read_config_mapping,
    setting,
    with_value_problems,
)

DOCUMENT_BOUNDARIES = ("none", "positions", "mask", "both")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16")
VERIFY_MODES = ("full", "size")


@dataclass
class TrainConfig:
    # --- data
    shards: str = setting("Shard directory of `textshards tokenize` (holds manifest.json).", default="")
    verify: str = setting(
        "How the shards are checked against their manifest before training: full (the tokenize "
        "stage's verify: sizes, sha256 and contents of every shard; reads every byte once) or "
        "size (file sizes only; for huge shard sets or machines without apache-beam).",
        default="full",
    )
    tokenizer_sha256: str = setting(
        "Expected sha256 of the shards' tokenizer.json; empty takes the manifest's at the first "
        "start, after which the run is pinned to it and refuses shards of another tokenizer.",
        default="",
    )
    document_boundaries: str = setting(
        "What a window does where a document ends inside it: none (attend across, as GPT-2), "
        "positions (position ids restart at each document), mask (attention stays inside each "
        "document) or both.",
        default="none",
    )
    # --- model
    preset: str = setting("Model preset: tiny (CPU demo), gpt2 (124M) or gpt2-medium (350M).", default="tiny")
    n_layer: int | None = setting("Transformer blocks; null takes the preset's.", default=None)
    n_head: int | None = setting("Attention heads per block; null takes the preset's.", default=None)
    n_embd: int | None = setting("Width of the residual stream; null takes the preset's.", default=None)
    block_size: int | None = setting("Context length in tokens; null takes the preset's.", default=None)
    dropout: float = setting("Dropout on embeddings, attention weights and residual branches.", default=0.0)
    bias: bool = setting("Biases in linear layers and LayerNorms, as GPT-2.", default=True)
    vocab_multiple: int = setting(
        "The embedding table is padded up to a multiple of this (64 keeps GPU matrix shapes "
        "aligned); padded ids never occur and are never sampled. 1 for none.",
        default=64,
    )
    # --- optimisation
    seed: int = setting("Seeds the initial weights, dropout and the window sampler.", default=1337)
    max_steps: int = setting("Optimizer steps to train for.", default=2000)
    batch_size: int = setting("Micro-batch: windows per forward pass on each device.", default=12)
    tokens_per_step: int = setting(
        "Tokens per optimizer step across all devices, reached by gradient accumulation; must be a "
        "multiple of batch_size x block_size x devices. 0 means one micro-batch per device.",
        default=0,
    )
    lr: float = setting("Peak learning rate, reached at the end of warmup.", default=6e-4)
    min_lr_fraction: float = setting("Floor of the cosine decay, as a fraction of lr.", default=0.1)
    warmup_steps: int = setting("Linear warmup from 0 to lr over this many steps.", default=100)
    lr_decay_steps: int = setting("Step at which the cosine decay reaches the floor; 0 means max_steps.", default=0)
    weight_decay: float = setting("AdamW decoupled weight decay, applied to matrices only.", default=0.1)
    beta1: float = setting("AdamW beta1.", default=0.9)
    beta2: float = setting("AdamW beta2.", default=0.95)
    grad_clip: float = setting("Gradients are clipped to this global L2 norm; 0 for no clipping.", default=1.0)
    # --- evaluation, early stopping, checkpoints, logging
    eval_interval: int = setting(
        "Evaluate on the validation split every this many steps (and at the end).", default=250
    )
    eval_windows: int = setting(
        "Validation windows per evaluation, spread evenly over the validation split in a fixed "
        "order (fewer if the split is shorter).",
        default=400,
    )
    patience: int = setting(
        "Early stopping: stop after this many evaluations in a row without an improvement of at "
        "least min_delta; 0 never stops early.",
        default=0,
    )
    min_delta: float = setting(
        "Early stopping: smallest drop in validation loss (nats/token) that counts.", default=0.0
    )
    checkpoint_interval: int = setting(
        "Write RUNDIR/last.pt every this many steps; 0 means at every evaluation.", default=0
    )
    log_interval: int = setting("Print a progress line and append to metrics.jsonl every this many steps.", default=10)
    # --- execution
    device: str = setting("auto (CUDA if present, else CPU), cpu or cuda.", default="auto")
    dtype: str = setting("auto (bfloat16 autocast on CUDA, float32 on CPU), float32 or bfloat16.", default="auto")
    compile: bool = setting("torch.compile the model (minutes of compiling first; pays off on GPU).", default=False)
    threads: int = setting("CPU threads for torch; 0 leaves torch's default.", default=0)
    peak_tflops: float = setting(
        "Accelerator peak (dense bf16 TFLOP/s) for MFU; 0 guesses from the device name "
        "(H100/H200 989, A100 312) and prints no MFU on CPU.",
        default=0.0,
    )

    def problems(self) -> list[str]:
        """What types alone cannot check, one line per problem naming the field."""
        problems = must_be_one_of("verify", self.verify, VERIFY_MODES)
        problems += must_be_one_of("document_boundaries", self.document_boundaries, DOCUMENT_BOUNDARIES)
        problems += must_be_one_of("preset", self.preset, tuple(PRESETS))
        problems += must_be_one_of("device", self.device, DEVICES)
        problems += must_be_one_of("dtype", self.dtype, DTYPES)
        if self.tokenizer_sha256 and (
            len(self.tokenizer_sha256) != 64 or any(c not in "0123456789abcdef" for c in self.tokenizer_sha256)
        ):
            problems.append(f"tokenizer_sha256: {self.tokenizer_sha256!r} is not a sha256 hex digest")
        for name in ("n_layer", "n_head", "n_embd", "block_size"):
            value = getattr(self, name)
            if value is not None:
                problems += must_be_positive(name, value)
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout: {self.dropout!r} must be in [0, 1)")
        for name in ("vocab_multiple", "max_steps", "batch_size", "eval_interval", "eval_windows", "log_interval"):
            problems += must_be_positive(name, getattr(self, name))
        for name in ("tokens_per_step", "warmup_steps", "lr_decay_steps", "patience", "checkpoint_interval", "threads"):
            problems += must_be_non_negative(name, getattr(self, name))
        problems += must_be_positive("lr", self.lr)
        problems += must_be_fraction("min_lr_fraction", self.min_lr_fraction)
        for name in ("weight_decay", "grad_clip", "min_delta", "peak_tflops"):
            problems += must_be_non_negative(name, getattr(self, name))
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                problems.append(f"{name}: {getattr(self, name)!r} must be in [0, 1)")
        dims = self.model_dims() if self.preset in PRESETS else None  # the preset's, where it is known
        if dims and dims["n_head"] > 0 and dims["n_embd"] % dims["n_head"]:
            problems.append(f"n_embd: {dims['n_embd']!r} must be a multiple of n_head ({dims['n_head']})")
        return problems

    def model_dims(self) -> dict[str, int]:
        """n_layer, n_head, n_embd and block_size: the preset's, with this config's overrides."""
        dims = dict(PRESETS[self.preset])
        for name in dims:
            if getattr(self, name) is not None:
                dims[name] = getattr(self, name)
        return dims

    def micro_steps(self, world_size: int) -> int:
        """Micro-batches each device runs per optimizer step (gradient accumulation)."""
        per_pass = self.batch_size * self.model_dims()["block_size"] * world_size
        if self.tokens_per_step == 0:
            return 1
        if self.tokens_per_step % per_pass:
            raise ConfigError(
                f"tokens_per_step: {self.tokens_per_step!r} must be a multiple of batch_size x block_size x "
                f"devices = {self.batch_size} x {self.model_dims()['block_size']} x {world_size} = {per_pass}"
            )
        return self.tokens_per_step // per_pass


# Fields that define what the run computes: changing one and resuming would not continue the
# same run, so a resume refuses it (start over with --fresh).
FIXED_ON_RESUME = (
    "tokenizer_sha256",
    "document_boundaries",
    "preset",
    "n_layer",
    "n_head",
    "n_embd",
    "block_size",
    "dropout",
    "bias",
    "vocab_multiple",
    "seed",
    "batch_size",
    "tokens_per_step",
)


def parse_override(text: str) -> dict:
    """`--set KEY=VALUE` as a one-entry mapping, VALUE read as YAML (3e-4, true, null, text).

    PyYAML reads exponents without a dot (3e-4) as strings; float fields take them as numbers.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    hints = typing.get_type_hints(TrainConfig)
    if not sep or key not in hints:
        raise ConfigError(f"--set: {text!r} must be KEY=VALUE with KEY one of {', '.join(hints)}")
    value = yaml.safe_load(raw) if raw.strip() else ""
    if hints[key] is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass  # left as text: the type check names the field
    if hints[key] is str and value is not None and not isinstance(value, str):
        value = raw  # a name like 'shards=2024' is text
    return {key: value}


def read_overrides(config_file: str | None, sets: list[str], flags: dict) -> dict:
    """Everything the user asked for, as one mapping: the config file, then --set, then flags."""
    mapping = {}
    if config_file:
        data = read_config_mapping(config_file)
        if not isinstance(data, dict):
            raise ConfigError(f"--config: {config_file!r} must hold a mapping of field: value")
        if isinstance(data.get("run"), dict):
            data = _train_section_of_run_config(config_file, data["run"])
        mapping.update(data)
    for text in sets:
        mapping.update(parse_override(text))
    mapping.update({key: value for key, value in flags.items() if value is not None})
    return mapping


def _train_section_of_run_config(config_file: str, run: dict) -> dict:
    """The trainer's settings of a `textshards run` config (its run.train), which users naturally
    pass to `textshards train --config` too; says so, since the rest of the file plays no part."""
    train = run.get("train", {})
    if not isinstance(train, dict):
        raise ConfigError(f"--config: {config_file!r}: run.train must be a mapping of field: value")
    logging.warning(
        "train: %s is a run configuration (`textshards run`): training with its run.train settings "
        "(%s); its other sections are for the other stages",
        config_file,
        ", ".join(train) or "none: the defaults",
    )
    return train


def build_config(mapping: dict, base: dict | None = None) -> TrainConfig:
    """A validated TrainConfig: `base` (a resumed run's config) or the defaults, then `mapping`.

    Raises one ConfigError listing every field of the wrong type or value and, on a resume,
    every change to a FIXED_ON_RESUME field.
    """
    problems = []
    if base is not None:
        for key in FIXED_ON_RESUME:
            unset_pin = key == "tokenizer_sha256" and not mapping.get(key)  # empty: take the run's
            if key in mapping and mapping[key] != base.get(key) and not unset_pin:
                problems.append(
                    f"{key}: {mapping[key]!r} differs from the resumed run's {base.get(key)!r}; "
                    "this would not continue the same run (use --fresh to start over)"
                )
    config, loading = config_and_problems({**(base or {}), **mapping}, TrainConfig)
    raise_problems(problems + with_value_problems(loading, config.problems()))
    return config


def as_dict(config: TrainConfig) -> dict:
    """Plain types only (str, int, float, bool, None): safe inside a weights_only checkpoint."""
    return dataclasses.asdict(config)


def defaults_as_yaml() -> str:
    """Every field with its default and documentation, as YAML loadable by --config."""
    lines = ["# textshards train configuration (defaults). Load with: textshards train --config FILE"]
    emit_yaml(TrainConfig(), lines, indent="")
    return "\n".join(lines) + "\n"
