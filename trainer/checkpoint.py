"""Checkpoints: everything a run needs to continue exactly, in files that load with
`torch.load(weights_only=True)` (tensors, and dicts/lists of plain Python values only).

    RUNDIR/last.pt   the latest state, rewritten every checkpoint_interval steps; resume reads it
    RUNDIR/best.pt   the state at the best validation loss so far; generate and export-hf read it

A checkpoint holds: `step` (optimizer steps done), `sampler` (seed and next step: the windows
of a step are a function of the two, so that is the sampler's whole position), `model`,
`optimizer`, `schedule` (the learning rate is a pure function of the step and config; stored
for the record),
`rng` (the CPU and CUDA generator states of every rank, indexed by rank), `config` (the
TrainConfig as a dict), `model_config` (GPTConfig as a dict, vocab_size included),
`tokenizer_sha256`, `eos_id`, `early_stopping` and `tokens_seen`.

Each file is written to a temporary name in the same directory, flushed to disk, then renamed
over the old one (`os.replace` is atomic), so a run killed mid-write leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from trainer.model import GPT, GPTConfig
from transforms.settings import OperatorError

LAST = "last.pt"
BEST = "best.pt"


def save_atomically(state: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class CheckpointError(OperatorError):
    """A checkpoint file cannot be read (cut short by a full disk or a copy, or damaged)."""


def load(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """The checkpoint at `path`; raises CheckpointError naming the file where it cannot be read."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(
            f"{path}: not a readable checkpoint, truncated or damaged ({reason}); "
            "remove it, or start over with `textshards train --fresh`"
        ) from None


def find(checkpoint: str | Path) -> Path:
    """A checkpoint file, or a run directory's best.pt (else its last.pt)."""
    path = Path(checkpoint)
    if path.is_dir():
        for name in (BEST, LAST):
            if (path / name).exists():
                return path / name
        raise FileNotFoundError(f"{path}: no {BEST} or {LAST}; is it the --output of `textshards train`?")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    return path


def rng_state() -> dict:
    """This process's generator states, as tensors."""
    return {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_model(checkpoint: str | Path, device: str | torch.device = "cpu") -> tuple[GPT, dict, Path]:
    """The model of a checkpoint (or of a run directory's best.pt, else last.pt), in eval mode,
    with the checkpoint's other contents and the run directory it belongs to."""
    path = find(checkpoint)
    state = load(path, map_location=device)
    model = GPT(GPTConfig(**state["model_config"]))
    model.load_state_dict(state["model"])
    return model.to(device).eval(), state, path.parent
