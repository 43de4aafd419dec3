"""The trainer's subcommands of `textshards`: train, generate and export-hf.

    textshards train --shards SHARDDIR --output RUNDIR [--preset NAME] [--max-steps N] [--config FILE]
                     [--set FIELD=VALUE ...] [--device D] [--compile] [--fresh]
    torchrun --standalone --nproc-per-node N -m pipeline.cli train ...      (DDP, same flags)
    textshards train --print-defaults
    textshards generate --checkpoint RUNDIR --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K]
    textshards export-hf --checkpoint RUNDIR --output DIR

Nothing here imports torch until one of these commands runs, so `textshards` works without
the [train] extra.
"""

from __future__ import annotations

import argparse
import sys

COMMANDS = ("train", "generate", "export-hf")


def add_commands(commands) -> None:
    """Adds train, generate and export-hf to the `textshards` subparsers."""
    train = commands.add_parser(
        "train",
        help="train a GPT on token shards (CPU, GPU, or DDP under torchrun)",
        description="Train a GPT decoder on the Arrow shards of 'textshards tokenize'. Resumes "
        "automatically from RUNDIR/last.pt; --fresh starts over. Under torchrun the same "
        "command runs DistributedDataParallel. Every setting is a config field: "
        "'textshards train --print-defaults' lists them, documented.",
    )
    train.add_argument(
        "--shards", metavar="SHARDDIR", help="shard directory (holds manifest.json); a resumed run remembers it"
    )
    train.add_argument("--output", metavar="RUNDIR", help="run directory: checkpoints, metrics.jsonl, loss.png")
    train.add_argument("--preset", help="model preset: tiny, gpt2 or gpt2-medium")
    train.add_argument("--max-steps", type=int, metavar="N", help="optimizer steps to train for")
    train.add_argument(
        "--config",
        metavar="FILE",
        help="training config (YAML, TOML or JSON), flat field: value; or a run config, whose run.train is read",
    )
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override one config field, e.g. --set lr=3e-4 --set n_layer=6; repeatable",
    )
    train.add_argument("--device", help="auto, cpu or cuda")
    train.add_argument("--compile", action="store_const", const=True, help="torch.compile the model")
    train.add_argument("--fresh", action="store_true", help="start over, ignoring (and replacing) RUNDIR's checkpoints")
    train.add_argument("--print-defaults", action="store_true", help="print every config field, documented, as YAML")

    generate = commands.add_parser(
        "generate",
        help="sample text from a trained run",
        description="Sample a continuation of a prompt from a run's best.pt "
        "(else last.pt), decoded with the run's tokenizer.",
    )
    generate.add_argument(
        "--checkpoint", required=True, metavar="RUNDIR|FILE.pt", help="a run directory or a checkpoint file"
    )
    generate.add_argument("--prompt", default="", help="text to continue; empty starts a new document")
    generate.add_argument("--max-new-tokens", type=int, default=200, metavar="N")
    generate.add_argument("--temperature", type=float, default=0.8, help="0 is greedy (default: 0.8)")
    generate.add_argument(
        "--top-k",
        type=int,
        default=200,
        metavar="K",
        help="sample among the K likeliest tokens; 0 for all (default: 200)",
    )
    generate.add_argument("--num-samples", type=int, default=1, metavar="N")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")

    export = commands.add_parser(
        "export-hf",
        help="write a run as a transformers GPT-2 directory",
        description="Write config.json, model.safetensors and the tokenizer files, "
        "loadable by AutoModelForCausalLM/AutoTokenizer.from_pretrained(DIR).",
    )
    export.add_argument("--checkpoint", required=True, metavar="RUNDIR|FILE.pt")
    export.add_argument("--output", required=True, metavar="DIR")


def run(args: argparse.Namespace) -> int:
    """Runs one of COMMANDS; OperatorError (ConfigError included) propagates to the caller, which reports it."""
    try:
        import torch  # noqa: F401
    except ImportError:
        print(
            f"textshards: '{args.command}' needs PyTorch, which is not installed: "
            "install textshards[train] (pip install 'textshards[train]')",
            file=sys.stderr,
        )
        return 2
    from trainer.data import ShardError
    from transforms.settings import OperatorError

    try:
        if args.command == "train":
            return _train(args)
        if args.command == "generate":
            from trainer.generate import generate

            texts = generate(
                args.checkpoint,
                args.prompt,
                args.max_new_tokens,
                args.temperature,
                args.top_k or None,
                args.num_samples,
                args.seed,
                args.device,
            )
            print("\n---------------\n".join(texts))
            return 0
        if args.command == "export-hf":
            from trainer.export_hf import export_hf

            out = export_hf(args.checkpoint, args.output)
            print(
                f"wrote {out}/config.json, model.safetensors and the tokenizer files "
                "(transformers: AutoModelForCausalLM.from_pretrained)"
            )
            return 0
    except ShardError as err:
        print(f"textshards: shards error: {err}", file=sys.stderr)
        return 2
    except OperatorError:
        raise
    except (FileNotFoundError, ValueError) as err:  # a missing checkpoint, a foreign tokenizer
        print(f"textshards: {args.command}: {err}", file=sys.stderr)
        return 2
    return 1


def _train(args: argparse.Namespace) -> int:
    from trainer.config import defaults_as_yaml, read_overrides
    from trainer.train import train
    from transforms.settings import ConfigError

    if args.print_defaults:
        print(defaults_as_yaml(), end="")
        return 0
    if not args.output:
        raise ConfigError("--output: a run directory is required (--output RUNDIR)")
    flags = {
        "shards": args.shards,
        "preset": args.preset,
        "max_steps": args.max_steps,
        "device": args.device,
        "compile": args.compile,
    }
    summary = train(args.output, read_overrides(args.config, args.set, flags), fresh=args.fresh)
    if summary["best_val_loss"] is not None:
        print(
            f"best validation loss {summary['best_val_loss']:.4f} ({summary['best_val_bpb']:.4f} bits/byte) "
            f"at step {summary['best_step']}"
        )
    return 0
