"""`textshards generate`: text from a trained run, decoded with the run's own tokenizer.

The prompt is encoded with RUNDIR/tokenizer/tokenizer.json (the copy `train` made of the
shards' tokenizer; its sha256 must be the one the run was trained with); plain text never
produces special tokens. An empty prompt starts from the end-of-text token, i.e. at the start
of a document. Sampling stops at max_new_tokens or at the end-of-text token.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from tokenizers import Tokenizer

from trainer.checkpoint import load_model

TOKENIZER_JSON = Path("tokenizer") / "tokenizer.json"


def run_tokenizer(rundir: Path, expected_sha256: str) -> Tokenizer:
    """The run's tokenizer; raises ValueError where it is missing or not the one trained with."""
    path = rundir / TOKENIZER_JSON
    if not path.exists():
        raise ValueError(f"{path}: missing; copy the shards' tokenizer.json there")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ValueError(
            f"{path}: sha256 differs from the tokenizer the run was trained with ({expected_sha256[:16]}...)"
        )
    tokenizer = Tokenizer.from_str(data.decode("utf-8"))
    tokenizer.encode_special_tokens = True
    return tokenizer


def generate(
    checkpoint: str | Path,
    prompt: str,
    max_new_tokens: int = 200,
    temperature: float = 0.8,
    top_k: int | None = 200,
    num_samples: int = 1,
    seed: int = 0,
    device: str = "cpu",
) -> list[str]:
    """`num_samples` continuations of `prompt` (each the prompt followed by the new text)."""
    model, state, rundir = load_model(checkpoint, device)
    tokenizer = run_tokenizer(rundir, state["tokenizer_sha256"])
    eos = state["eos_id"]
    ids = tokenizer.encode(prompt).ids if prompt else [eos]
    idx = torch.tensor([ids] * num_samples, dtype=torch.long, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    out = model.generate(
        idx,
        max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        generator=generator,
        vocab_size=tokenizer.get_vocab_size(),
        stop_token=eos,
    )
    texts = []
    for row in out.tolist():
        new = row[len(ids) :]
        if eos in new:
            new = new[: new.index(eos)]
        texts.append((prompt or "") + tokenizer.decode(new, skip_special_tokens=False))
    return texts
