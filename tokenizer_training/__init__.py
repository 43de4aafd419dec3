"""BPE vocabulary training (`textshards train-tokenizer`): sample.py draws the sample with Beam,
bpe.py builds and trains the tokenizer, evaluate.py and report.py measure it, train.py runs the stage."""
