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
# What may cross a shuffle (tests/test_shuffles.py): a node of the duplicate graph with its
# 128-permutation signature is about 800 bytes, a shard plan or a shard's info a few hundred, a
# packed element of the decontamination index 3.2 KB: 4 KB leaves room and stays below nearly
# every document.
MAX_ELEMENT_BYTES = 4096
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


def corpus_jsonl_texts(corpora: Path) -> Iterator[tuple[str, str]]:
    """(FILE:LINE, text as stored) of every document of the corpora's JSON-lines files (over 700)."""
    for path in sorted((corpora / "jsonl").rglob("*")):
        if not path.is_file():
            continue
        opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    yield f"{path}:{number}", json.loads(line)["text"]


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


# ---------------------------------------------------------------------------
# Decontamination (conftest's `decontamination_run`): benchmark items, and documents that hold
# them verbatim, re-wrapped with case and punctuation changed, embedded in much other text, a
# short item whole, and none.

_ALICE_WORDS = (REPO_ROOT / "examples" / "corpus" / "books" / "alice29.txt").read_text(encoding="latin-1").split()
DECONTAMINATION_ITEM = " ".join(PROSE.split()[:30])
DECONTAMINATION_SHORT_ITEM = "the old captain walked home slowly"
DECONTAMINATION_BENCHMARK = [
    {"id": "q1", "question": DECONTAMINATION_ITEM},
    {"id": "q2", "question": DECONTAMINATION_SHORT_ITEM},
    {"id": "q3", "question": "yes no"},  # under 3 words: skipped
    {"id": "q4", "question": " ".join(_ALICE_WORDS[9000:9040])},  # in no document
]


def _alice(start: int, words: int) -> str:
    return " ".join(_ALICE_WORDS[start : start + words])


def _rewrapped_shouting(text: str) -> str:
    words = text.upper().replace(",", ";").split()
    return "\n".join(" ".join(words[i : i + 8]) for i in range(0, len(words), 8))


# Each over 4 KB, more than tests/test_shuffles.py lets cross a shuffle.
DECONTAMINATION_DOCUMENTS = [
    f"{_alice(2000, 400)} {DECONTAMINATION_ITEM} {_alice(2400, 400)}",
    _alice(2800, 850),
    f"{_alice(3700, 400)}\n{_rewrapped_shouting(DECONTAMINATION_ITEM)}\n{_alice(4100, 400)}",
    f"{_alice(4500, 400)} The old captain walked home, slowly. {_alice(4900, 400)}",
    _alice(5300, 850),
]


# ---------------------------------------------------------------------------
# Records with their own ids (conftest's `repeated_ids_run`, read.id_field "doc"): distinct
# passages of Alice, each over 4 KB, with ids repeated within one range and across ranges.

_PASSAGES = [_alice(1000 + 1000 * i, 850) for i in range(24)]
REPEATED_ID_RECORDS = [
    *({"doc": f"d{i}", "text": text} for i, text in enumerate(_PASSAGES[:4])),
    {"doc": "d3", "text": _PASSAGES[3]},  # line 5: repeats line 4's id and text, in the same range
    {"doc": "e", "text": ""},  # line 6: empty, so its id is not taken...
    {"doc": "e", "text": _PASSAGES[4]},  # ... and line 7 is the first record with id e
    *({"doc": f"d{i}", "text": text} for i, text in enumerate(_PASSAGES[5:], start=5)),  # lines 8-26
    {"doc": "copy-of-d5", "text": _PASSAGES[5]},  # line 27: an exact duplicate under an id of its own
    {"doc": "d0", "text": _PASSAGES[0]},  # line 28: repeats line 1, ranges away
    {"doc": "d1", "text": _PASSAGES[20] + " Alice."},  # line 29: repeats line 2's id, a near copy of d20
    {"doc": "e", "text": _PASSAGES[23]},  # line 30: repeats line 7
]
REPEATED_ID_LINES = [5, 28, 29, 30]
REPEATED_IDS_SPLIT_BYTES = 16_384  # the file, about 130 KB, is read in 8 ranges
