"""The companion trainer: a GPT decoder trained on textshards' Arrow token shards (docs/trainer.md).

    model.py       the GPT, in one file           config.py      TrainConfig, presets, overrides
    data.py        manifest, mmap windows, sampler train.py      the training loop (CPU, GPU, DDP)
    checkpoint.py  atomic, weights_only checkpoints metrics.py    progress, metrics.jsonl, loss.png
    generate.py    sampling with the run's tokenizer export_hf.py a transformers GPT-2 directory
    cli.py         the train, generate and export-hf subcommands (torch imported only when they run)

Needs the [train] extra (torch); importing this package alone does not.
"""
