"""BPE vocabulary training, used by `textshards train-tokenizer` (the driver: pipeline/train_tokenizer.py).

bpe.py       TokenizerConfig; the tokenizer (byte-level BPE, GPT-2 style) and its training
sample.py    `DrawSample`: the deterministic, weighted sample and held-out slice, in Beam
evaluate.py  bytes per token, vocabulary use and round trips on held-out documents
report.py    tokenizer_report.json/.png and the table the command prints
memory.py    peak memory of this process, for the report
"""
