"""textshards from Python: the demo's stages as function calls (README, "Python API").

    python examples/python_api.py [--config FILE] [--output DIR] [--max-steps N] [BEAM_OPTIONS]

Prepares the config's inputs, trains a vocabulary on the documents, encodes them into token
shards and trains the tiny GPT on them for a few steps, printing what each stage returns.
Run it from the checkout's root: the demo config's globs are relative to it.
"""

import argparse

import textshards


def main(config_file: str, output: str, max_steps: int, beam_args: list[str]) -> dict:
    config = textshards.load_config_file(config_file)

    report = textshards.prepare(config, beam_args, output=f"{output}/prepare")
    kept = report["totals"].get("documents_out", 0)
    print(f"prepare: {kept} of {report['totals'].get('documents_read', 0)} documents kept")

    docs = f"{output}/prepare/docs"
    tokenizer = textshards.train_tokenizer(config, beam_args, docs=docs, output=f"{output}/tokenizer")
    print(f"train_tokenizer: {tokenizer['tokenizer']['vocab_size']} tokens")

    manifest = textshards.tokenize(
        config, beam_args, docs=docs, tokenizer=f"{output}/tokenizer", output=f"{output}/shards"
    )
    print(
        "tokenize: " + ", ".join(f"{split} {totals['tokens']} tokens" for split, totals in manifest["splits"].items())
    )

    settings = {**config.run.train, "max_steps": max_steps}
    summary = textshards.train(f"{output}/train", settings, shards=f"{output}/shards")
    print(f"train: {summary['step']} steps, best validation loss {summary['best_val_loss']}")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="examples/demo.yaml", help="run configuration (default: the demo's)")
    parser.add_argument("--output", default="python_api_output", help="root of the stages' outputs")
    parser.add_argument("--max-steps", type=int, default=200, help="training steps (default: 200)")
    args, beam_args = parser.parse_known_args()
    main(args.config, args.output, args.max_steps, beam_args)
