"""`textshards train`: a GPT trained on the Arrow shards, on CPU or GPU, alone or under torchrun.

    manifest.json --verify, tokenizer check--> TokenStream (train, validation), memory-mapped
    loop over steps: lr(step) -> accumulate micro-batches (sampler: seed, step, rank) -> clip -> AdamW
        every log_interval:       progress line, metrics.jsonl
        every eval_interval:      validation loss and bits/byte -> early stopping, best.pt
        every checkpoint_interval: last.pt (atomically)
    at the end: last.pt, loss.png

RUNDIR holds last.pt, best.pt, metrics.jsonl, loss.png, config.yaml (the resolved config) and
tokenizer/ (the shards' tokenizer.json, for generate and export-hf, and the files `transformers`
reads beside it). Starting again with the same RUNDIR resumes from last.pt; a resumed run
computes exactly what the uninterrupted run would have (bitwise on the same machine and thread
count).

Under torchrun (RANK/WORLD_SIZE set), each process trains one rank of DistributedDataParallel:
NCCL on GPUs, gloo on CPUs. Rank r takes its fixed slice of each step's global batch, so N
ranks x A accumulation steps compute the same update as 1 process x N*A accumulation steps.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch.nn.parallel import DistributedDataParallel

from trainer import checkpoint
from trainer.config import TrainConfig, as_dict, build_config
from trainer.data import (
    Manifest,
    ShardError,
    TokenStream,
    WindowSampler,
    bits_per_byte,
    check_tokenizer,
    read_manifest,
    validation_starts,
    verify_shards,
)
from trainer.metrics import MetricsLog, eval_line, peak_flops, plot_losses, progress_line, read_metrics
from trainer.model import GPT, GPTConfig
from transforms.settings import ConfigError
from transforms.tokenizer_copies import tokenizer_files

TOKENIZER_DIR = "tokenizer"
RUN_FILES = (checkpoint.LAST, checkpoint.BEST, "metrics.jsonl", "loss.png", "config.yaml", TOKENIZER_DIR)


@dataclass
class Ranks:
    """This process's place in a torchrun job (rank 0 of 1 when run alone)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate of optimizer step `step` (1-based): linear warmup, then cosine decay to the floor."""
    floor = config.lr * config.min_lr_fraction
    decay_end = config.lr_decay_steps or config.max_steps
    if step <= config.warmup_steps:
        return config.lr * step / config.warmup_steps
    if step >= decay_end:
        return floor
    progress = (step - config.warmup_steps) / (decay_end - config.warmup_steps)
    return floor + 0.5 * (1 + math.cos(math.pi * progress)) * (config.lr - floor)


def document_inputs(x: torch.Tensor, eos_id: int, mode: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Position ids (B, T) and attention mask (B, 1, T, T) that respect document boundaries.

    A document starts at position 0 of the window and after every end-of-text token. mode is
    'none' (both None: positions 0..T-1, plain causal attention), 'positions' (ids restart at 0
    at each document start), 'mask' (a token attends only to earlier tokens of its own document)
    or 'both'.
    """
    if mode == "none":
        return None, None
    B, T = x.shape
    starts = torch.zeros_like(x, dtype=torch.bool)
    starts[:, 1:] = x[:, :-1] == eos_id
    positions = mask = None
    if mode in ("positions", "both"):
        index = torch.arange(T, device=x.device).expand(B, T)
        last_start = torch.where(starts, index, 0).cummax(dim=1).values
        positions = index - last_start  # (B, T)
    if mode in ("mask", "both"):
        document = starts.cumsum(dim=1)  # (B, T): which document of the window each token is in
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        mask = ((document[:, :, None] == document[:, None, :]) & causal)[:, None]  # (B, 1, T, T)
    return positions, mask


def model_config(config: TrainConfig, manifest: Manifest) -> GPTConfig:
    vocab = -(-manifest.vocab_size // config.vocab_multiple) * config.vocab_multiple
    return GPTConfig(vocab_size=vocab, dropout=config.dropout, bias=config.bias, **config.model_dims())


def make_optimizer(model: GPT, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices (linear weights, embeddings) only, never on biases or
    LayerNorm gains; the fused kernel on CUDA."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=config.lr, betas=(config.beta1, config.beta2), fused=True if device.type == "cuda" else None
    )


def train(output: str | Path, overrides: dict, fresh: bool = False) -> dict:
    """Trains (or resumes) the run in `output` with the config `overrides` (field: value).

    Returns a summary: steps done, best validation loss and bits per byte, whether it stopped
    early, the last measured tokens/s. Raises ConfigError or ShardError before any work where
    the config or the shards are not usable.
    """
    rundir = Path(output)
    ranks = _init_distributed()
    try:
        summary = Run(rundir, overrides, fresh, ranks).train()
        if ranks.world_size > 1:
            # Rank 0 may still be writing the checkpoint and the plot: a rank that tore its gloo
            # group down under it was seen to abort ("terminate called without an active exception").
            dist.barrier()
        return summary
    finally:
        if ranks.world_size > 1:
            dist.destroy_process_group()


class Run:
    """One training run in RUNDIR: set up (fresh or resumed) in __init__, trained by `train()`."""

    def __init__(self, rundir: Path, overrides: dict, fresh: bool, ranks: Ranks):
        self.rundir, self.ranks = rundir, ranks
        self.say = print if ranks.main else (lambda *a, **k: None)
        resume = None
        if (rundir / checkpoint.LAST).exists() and not fresh:
            resume = checkpoint.load(rundir / checkpoint.LAST)
            config = build_config(overrides, base=resume["config"])
        else:
            config = build_config(overrides)
        if not config.shards:
            raise ConfigError("shards: the shard directory is required (--shards SHARDDIR)")
        if config.threads:
            torch.set_num_threads(config.threads)
        self.config, self.device = config, _device(config, ranks)

        # Data: refuse unusable shards before touching RUNDIR.
        manifest = self.manifest = read_manifest(config.shards)
        check_tokenizer(manifest, config.tokenizer_sha256)
        _on_main_then_everyone(ranks, lambda: verify_shards(manifest, config.verify))
        config.tokenizer_sha256 = manifest.tokenizer_sha256
        self.gpt_config = model_config(config, manifest)
        if manifest.packed_seq_len is not None and manifest.packed_seq_len != self.gpt_config.block_size:
            raise ConfigError(
                f"block_size: {self.gpt_config.block_size} but the packed shards' windows hold "
                f"{manifest.packed_seq_len} + 1 tokens; set block_size={manifest.packed_seq_len}"
            )
        if "train" not in manifest.splits:
            raise ShardError(f"{manifest.root}: the manifest has no train split")
        self.accum = config.micro_steps(ranks.world_size)
        self.global_batch = ranks.world_size * self.accum * config.batch_size  # windows per optimizer step
        self.window = self.gpt_config.block_size + 1
        self.train_stream = TokenStream(manifest.splits["train"], manifest.packed_seq_len)
        self.sampler = WindowSampler(self.train_stream, self.window, config.seed)
        self.validation = manifest.splits.get("validation")
        self.val_stream = self.val_starts = None
        if self.validation and self.validation.tokens:
            self.val_stream = TokenStream(self.validation, manifest.packed_seq_len)
            self.val_starts = validation_starts(self.val_stream, self.window, config.eval_windows)
        if self.val_starts is None or len(self.val_starts) == 0:
            self.val_stream = None
            self.say(
                "textshards train: no validation windows in the shards: no evaluation, no early stopping, no best.pt"
            )

        if ranks.main:
            rundir.mkdir(parents=True, exist_ok=True)
            if resume is None:
                for name in RUN_FILES:
                    path = rundir / name
                    shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
                _install_tokenizer(manifest, rundir / TOKENIZER_DIR)
            (rundir / "config.yaml").write_text(yaml.safe_dump(as_dict(config), sort_keys=False))

        # Model and optimizer, then the resumed state over them.
        torch.manual_seed(config.seed)  # the same initial weights on every rank
        self.model = GPT(self.gpt_config).to(self.device)
        self.optimizer = make_optimizer(self.model, config, self.device)
        self.step, self.tokens_seen = 0, 0
        self.stopping = {"best_val_loss": None, "best_step": 0, "bad_evals": 0, "stopped_early": False}
        if resume is not None:
            self.model.load_state_dict(resume["model"])
            self.optimizer.load_state_dict(resume["optimizer"])
            self.step, self.tokens_seen, self.stopping = resume["step"], resume["tokens_seen"], resume["early_stopping"]
            if len(resume["rng"]) == ranks.world_size:
                checkpoint.set_rng_state(resume["rng"][ranks.rank])
            else:  # another number of ranks: dropout draws differ from here on, the data do not
                torch.manual_seed(config.seed + 1_000_003 * self.step + ranks.rank)
            self.say(f"textshards train: resuming {rundir} at step {self.step}")
        elif ranks.rank:
            torch.manual_seed(config.seed + ranks.rank)  # each rank its own dropout draws
        self.metrics = MetricsLog(rundir / "metrics.jsonl", self.step if resume else None) if ranks.main else None

        self.net = torch.compile(self.model) if config.compile else self.model
        if ranks.world_size > 1:
            self.net = DistributedDataParallel(
                self.net, device_ids=[self.device.index] if self.device.index is not None else None
            )
        self.bf16 = config.dtype == "bfloat16" or (config.dtype == "auto" and self.device.type == "cuda")
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else ""
        self.peak_flops = peak_flops(name, config.peak_tflops)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else nullcontext()

    def batch(self, stream: TokenStream, starts: np.ndarray) -> tuple:
        """x, y (B, T) on the device, and the position ids and mask of document_boundaries."""
        tokens = torch.from_numpy(stream.windows(starts, self.window))
        x, y = _to(tokens[:, :-1].contiguous(), self.device), _to(tokens[:, 1:].contiguous(), self.device)
        return (x, y, *document_inputs(x, self.manifest.eos_id, self.config.document_boundaries))

    def train_step(self) -> torch.Tensor:
        """One optimizer step (self.step, already advanced); returns this rank's mean loss, on the device."""
        config, b = self.config, self.config.batch_size
        lr = lr_at(self.step, config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        starts = self.sampler.step_starts(self.step, self.global_batch)
        mine = starts[self.ranks.rank * self.accum * b : (self.ranks.rank + 1) * self.accum * b]
        loss_sum = torch.zeros((), device=self.device)
        for micro in range(self.accum):
            x, y, positions, mask = self.batch(self.train_stream, mine[micro * b : (micro + 1) * b])
            # Gradients are all-reduced once per step, on the last micro-batch.
            last = micro == self.accum - 1 or self.ranks.world_size == 1
            with nullcontext() if last else self.net.no_sync():
                with self.autocast():
                    _, loss = self.net(x, y, positions, mask)
                (loss / self.accum).backward()
            loss_sum += loss.detach()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.tokens_seen += self.global_batch * self.gpt_config.block_size
        return loss_sum / self.accum

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean validation loss (nats/token) over the fixed validation windows, all ranks together."""
        self.model.eval()
        mine = self.val_starts[self.ranks.rank :: self.ranks.world_size]
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for i in range(0, len(mine), self.config.batch_size):
            x, y, positions, mask = self.batch(self.val_stream, mine[i : i + self.config.batch_size])
            with self.autocast():
                _, loss = self.model(x, y, positions, mask)
            total += loss.double() * len(x)
        if self.ranks.world_size > 1:
            dist.all_reduce(total)
        self.model.train()
        return total.item() / len(self.val_starts)

    def save(self, name: str) -> None:
        """Writes RUNDIR/name (rank 0); every rank takes part (their RNG states are gathered)."""
        state = {
            "step": self.step,
            "tokens_seen": self.tokens_seen,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": {"step": self.step, "lr": lr_at(max(self.step, 1), self.config)},
            "sampler": {"seed": self.config.seed, "next_step": self.step + 1},  # stateless: (seed, step)
            "rng": _gather(self.ranks, checkpoint.rng_state()),
            "config": as_dict(self.config),
            "model_config": asdict(self.gpt_config),
            "tokenizer_sha256": self.config.tokenizer_sha256,
            "eos_id": self.manifest.eos_id,
            "early_stopping": dict(self.stopping),
        }
        if self.ranks.main:
            checkpoint.save_atomically(state, self.rundir / name)

    def after_evaluation(self, val_loss: float) -> None:
        """Early-stopping bookkeeping, best.pt, the eval line and its metrics."""
        config, stopping = self.config, self.stopping
        if stopping["best_val_loss"] is None or val_loss < stopping["best_val_loss"] - config.min_delta:
            stopping.update(best_val_loss=val_loss, best_step=self.step, bad_evals=0)
            self.save(checkpoint.BEST)
        else:
            stopping["bad_evals"] += 1
            stopping["stopped_early"] = bool(config.patience) and stopping["bad_evals"] >= config.patience
        val_bpb = bits_per_byte(val_loss, self.validation)
        self.say(eval_line(self.step, val_loss, val_bpb, stopping["best_val_loss"], stopping["best_step"]), flush=True)
        if stopping["stopped_early"]:
            self.say(
                f"textshards train: early stop: no improvement of {config.min_delta} in {config.patience} "
                f"evaluations; the best is step {stopping['best_step']} (best.pt)"
            )
        if self.metrics:
            self.metrics.write(
                {
                    "kind": "eval",
                    "step": self.step,
                    "val_loss": val_loss,
                    "val_bpb": val_bpb,
                    "best_val_loss": stopping["best_val_loss"],
                    "best_step": stopping["best_step"],
                }
            )

    def train(self) -> dict:
        config, model = self.config, self.model
        self.say(
            f"textshards train: {model.num_parameters() / 1e6:.2f}M parameters, vocab "
            f"{self.gpt_config.vocab_size}, {self.ranks.world_size} x {self.accum} x {config.batch_size} windows "
            f"of {self.gpt_config.block_size} tokens a step, {self.train_stream.n_tokens:,} train tokens, on "
            f"{self.device}{' bf16' if self.bf16 else ''}{' compiled' if config.compile else ''}"
        )
        done = self.step >= config.max_steps or self.stopping["stopped_early"]
        first_step = self.step
        if done:
            self.say(
                f"textshards train: {self.rundir} is already complete at step {self.step}"
                f"{' (stopped early)' if self.stopping['stopped_early'] else ''}; raise --max-steps to go on, "
                "or --fresh"
            )
        if not done and config.max_steps <= config.warmup_steps:
            self.say(
                f"textshards train: warning: max_steps ({config.max_steps}) <= warmup_steps "
                f"({config.warmup_steps}): the learning rate rises for the whole run and never decays; "
                "set warmup_steps below max_steps (--set warmup_steps=N)",
                file=sys.stderr,
            )
        tokens_per_s = 0.0
        flops_per_token = model.flops_per_token()
        started = mark = time.perf_counter()  # elapsed and ETA count from this start (a resume too)
        marked_tokens = self.tokens_seen  # tokens/s since the last log
        model.train()
        while not done:
            self.step += 1
            loss = self.train_step()
            done = self.step >= config.max_steps
            if self.step % config.log_interval == 0 or done:
                loss_value = _mean_over_ranks(loss, self.ranks)  # waits for the GPU
                tokens_per_s = (self.tokens_seen - marked_tokens) / (time.perf_counter() - mark)
                mfu = (
                    flops_per_token * tokens_per_s / (self.peak_flops * self.ranks.world_size)
                    if self.peak_flops
                    else None
                )
                lr = lr_at(self.step, config)
                elapsed = time.perf_counter() - started
                eta = elapsed / (self.step - first_step) * (config.max_steps - self.step)
                line = progress_line(self.step, config.max_steps, loss_value, lr, tokens_per_s, mfu, elapsed, eta)
                self.say(line, flush=True)
                if self.metrics:
                    self.metrics.write(
                        {
                            "kind": "train",
                            "step": self.step,
                            "loss": loss_value,
                            "lr": lr,
                            "tokens": self.tokens_seen,
                            "tokens_per_s": tokens_per_s,
                            "mfu": mfu,
                        }
                    )
                mark, marked_tokens = time.perf_counter(), self.tokens_seen
            paused = False
            if self.val_stream is not None and (self.step % config.eval_interval == 0 or done):
                self.after_evaluation(self.evaluate())
                done = done or self.stopping["stopped_early"]
                paused = True
            if self.step % (config.checkpoint_interval or config.eval_interval) == 0 or done:
                self.save(checkpoint.LAST)
                paused = True
            if paused:  # evaluation and checkpoints do not count against tokens/s
                mark, marked_tokens = time.perf_counter(), self.tokens_seen

        if self.ranks.main and self.step > first_step:  # a complete run is left as it was
            history = read_metrics(self.rundir / "metrics.jsonl")
            if history:
                plot_losses(
                    history,
                    self.rundir / "loss.png",
                    f"{self.rundir.name}: {model.num_parameters() / 1e6:.2f}M parameters, {self.step} steps",
                )
            written = [name for name in RUN_FILES[:4] if (self.rundir / name).exists()]
            self.say(f"textshards train: wrote {self.rundir}/" + ", ".join(written))
        best = self.stopping["best_val_loss"]
        return {
            "step": self.step,
            "best_val_loss": best,
            "best_step": self.stopping["best_step"],
            "best_val_bpb": bits_per_byte(best, self.validation) if best is not None else None,
            "stopped_early": self.stopping["stopped_early"],
            "tokens_per_s": tokens_per_s,
        }


def _init_distributed() -> Ranks:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Ranks()
    ranks = Ranks(rank=int(os.environ["RANK"]), local_rank=int(os.environ["LOCAL_RANK"]), world_size=world_size)
    if torch.cuda.is_available():
        torch.cuda.set_device(ranks.local_rank)
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return ranks


def _device(config: TrainConfig, ranks: Ranks) -> torch.device:
    kind = config.device
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device: 'cuda' but torch sees no CUDA device (use device=cpu or auto)")
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 matmuls outside autocast use TF32
        torch.backends.cudnn.allow_tf32 = True
        return torch.device("cuda", ranks.local_rank)
    return torch.device("cpu")


def _to(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type == "cpu":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)


def _mean_over_ranks(value: torch.Tensor, ranks: Ranks) -> float:
    if ranks.world_size > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= ranks.world_size
    return value.item()


def _gather(ranks: Ranks, state: dict) -> list[dict]:
    """Every rank's `state`, indexed by rank (a collective: every rank must call it)."""
    if ranks.world_size == 1:
        return [state]
    gathered = [None] * ranks.world_size
    dist.all_gather_object(gathered, {"cpu": state["cpu"], "cuda": [t.cpu() for t in state["cuda"]]})
    return gathered


def _on_main_then_everyone(ranks: Ranks, check) -> None:
    """Runs `check` on rank 0 only (hashing every shard once, not once per rank); every rank
    raises its ShardError."""
    message = None
    if ranks.main:
        try:
            check()
        except ShardError as err:
            message = str(err)
    if ranks.world_size > 1:
        box = [message]
        dist.broadcast_object_list(box, src=0)
        message = box[0]
    if message:
        raise ShardError(message)


def _install_tokenizer(manifest: Manifest, target: Path) -> None:
    """Copies the shards' tokenizer.json into RUNDIR/tokenizer, with the files `transformers`
    reads beside it, so the run decodes on its own."""
    data = manifest.tokenizer_path.read_bytes() if manifest.tokenizer_path.exists() else b""
    if hashlib.sha256(data).hexdigest() != manifest.tokenizer_sha256:
        raise ShardError(
            f"{manifest.tokenizer_path}: missing, or not the tokenizer the manifest names "
            f"(sha256 {manifest.tokenizer_sha256[:16]}...)"
        )
    target.mkdir(parents=True, exist_ok=True)
    for name, content in tokenizer_files(data, manifest.eos_token).items():
        (target / name).write_bytes(content)
