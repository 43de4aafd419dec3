"""Helpers that several test modules share (fixtures live in tests/conftest.py). Test modules
import them as `from tests.helpers import ...` and never from one another.

Product code is imported inside the functions that use it: conftest.py imports this module, and
a product module that fails to import should fail only the tests that need it, not collection.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
# Beam in this process, one thread: no worker start-up, for pipelines on small inputs.
IN_MEMORY = ["--direct_running_mode=in_memory"]
# Two worker processes: for the tests that compare the multi-process runner with IN_MEMORY.
MULTI_PROCESS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
# Written again by every run: a fingerprint and, for train-tokenizer, timings and memory.
RUN_RECORDS = ("_SUCCESS",)
EOS = "<|endoftext|>"
# The window of the packed shard set (conftest's `alice_packed_shards`) is PACKED_SEQ_LEN + 1 tokens.
PACKED_SEQ_LEN = 16


def file_digests(root: Path) -> dict[str, str]:
    """sha256 of every output file below `root`, by relative path, leaving out each stage's
    _SUCCESS (it records the run, not the outputs). No output holds a path: the same inputs give
    the same digests wherever they and the outputs are."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in RUN_RECORDS
    }


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Runs the block in `path`, where relative input globs (examples/demo.yaml's) are found."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def write_test_tokenizer(texts: list[str], vocab_size: int, path: Path) -> Path:
    """A byte-level BPE tokenizer.json as train-tokenizer makes it, trained on `texts`: the one
    way tests get a tokenizer of their own, so that they encode with what users will have."""
    from tokenizer_training.bpe import TokenizerConfig, train_tokenizer
    from transforms.bpe import tokenizer_json

    config = TokenizerConfig(vocab_size=vocab_size, special_tokens=[EOS])
    path.write_bytes(tokenizer_json(train_tokenizer(texts, config, show_progress=False)))
    return path


# ---------------------------------------------------------------------------
# Texts for the filter tests: hand-written prose that every rule keeps, and real documents of
# ../shared/corpora cleaned the way `textshards prepare` cleans them.

# Three paragraphs of plain English prose, no sentence repeated: every rule family keeps it.
PROSE = (
    "The harbour was quiet when the fishing boats came back that evening. Gulls followed them "
    "over the grey water, and the men on deck were too tired to talk about the weather.\n\n"
    "Along the quay, a baker had kept the shop open later than usual. She handed out bread to "
    "children who had waited with their mothers since the afternoon, and nobody complained about "
    "the price.\n\n"
    "By nightfall the wind had dropped. Lanterns were lit in the narrow streets behind the market, "
    "and the old captain walked home slowly, thinking of the storm that had nearly kept them at sea."
)
CC_JSONL = "jsonl/allenai__dolma/tests/data/formats/gz/CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"


def corpus_file_text(corpora: Path, relative: str, kind: str) -> str:
    """A whole corpus file (a book or an HTML page), cleaned as prepare cleans it."""
    from transforms.clean import CleanConfig, clean_document
    from transforms.records import RawDocument

    path = corpora / relative
    return clean_document(RawDocument("test", str(path), 0, kind, path.read_bytes()), CleanConfig())["text"]


def corpus_jsonl_text(corpora: Path, relative: str, line_number: int) -> str:
    """The text of one line (1-based) of a gzipped JSONL corpus file, cleaned as prepare cleans it."""
    from transforms.clean import CleanConfig, clean_document
    from transforms.records import RawDocument

    with gzip.open(corpora / relative, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if number == line_number:
                text = json.loads(line)["text"]
                return clean_document(RawDocument("test", relative, number, "text", text), CleanConfig())["text"]
    raise ValueError(f"{relative} has no line {line_number}")
