"""Texts the filter tests share: hand-written prose that every rule keeps, and real documents
of ../shared/corpora cleaned the way `textshards prepare` cleans them."""

import gzip
import json
from pathlib import Path

from pipeline.config import CleanConfig
from transforms.clean import clean_document
from transforms.records import RawDocument

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


def corpus_file_text(corpora: Path, relative: str, kind: str) -> str:
    """A whole corpus file (a book or an HTML page), cleaned as prepare cleans it."""
    path = corpora / relative
    return clean_document(RawDocument("test", str(path), 0, kind, path.read_bytes()), CleanConfig())["text"]


def corpus_jsonl_text(corpora: Path, relative: str, line_number: int) -> str:
    """The text of one line (1-based) of a gzipped JSONL corpus file, cleaned as prepare cleans it."""
    with gzip.open(corpora / relative, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if number == line_number:
                text = json.loads(line)["text"]
                return clean_document(RawDocument("test", relative, number, "text", text), CleanConfig())["text"]
    raise ValueError(f"{relative} has no line {line_number}")


CC_JSONL = "jsonl/allenai__dolma/tests/data/formats/gz/CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
