"""Which known-good books the default book steps drop, and by which rule.

Run from the repository root:

    .venv/bin/python bench/books.py [--corpora ../shared/corpora]

Every plain-text file under the corpora's books/ folder is a real book (SOURCES.md: Project
Gutenberg texts, four c-w/gutenberg reference texts, tinyshakespeare and two non-PG
transcriptions). Each is read and cleaned as prepare reads and cleans it (transforms/readers.py,
transforms/clean.clean_document) and then filtered with the default book steps
(FiltersConfig().books, through filter_document). The table lists every book: its words after
cleaning, the first rule that drops it (or "kept"), and every other book step that would drop
it on its own, so a drop hidden behind an earlier one (a French novel's stop words, say) shows
too; then the books that Gopher's repetition rules with the web's thresholds would drop (the
book steps' rule before book_repetition). docs/filters.md records the result and justifies each drop.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

from bench.measure import default_corpora
from transforms.clean import CleanConfig, Dropped, clean_document
from transforms.filters.stage import FiltersConfig, Steps, filter_document, is_web_document
from transforms.readers import InputSpec, ReadConfig, read_file
from transforms.records import Document, RawDocument


def cleaned_books(corpora: Path) -> list[Document]:
    """Every book of corpora/books as prepare reads and cleans it, in path order."""
    spec = InputSpec(name="books", glob=f"{corpora}/books/**")
    books = []
    for path in sorted(p for p in (corpora / "books").rglob("*") if p.is_file()):
        for item in read_file(spec, str(path), ReadConfig()):
            if not isinstance(item, RawDocument):
                raise SystemExit(f"{path}: read error {item}")
            cleaned = clean_document(item, CleanConfig())
            if isinstance(cleaned, Dropped):
                raise SystemExit(f"{path}: dropped by cleaning ({cleaned.reason})")
            books.append(cleaned)
    return books


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    args = parser.parse_args()
    corpora = args.corpora.resolve()

    config = FiltersConfig()
    steps = Steps(config)
    books = cleaned_books(corpora)
    print(f"books: {len(books)} in {corpora / 'books'}; book steps: {', '.join(config.books)}")
    print(f"{'book':<64}{'words':>9}  {'first drop (filter_document)':<36}also dropped alone by")
    dropped = 0
    for row in books:
        assert not is_web_document(row), f"{row['id']} is not read as a book"
        chosen = steps.for_row(row)
        result = filter_document(row, chosen)
        alone = [
            verdict.reason
            for verdict in (step.keep(row["text"]) for step in chosen)
            if verdict.reason is not None and verdict.reason != result.reason
        ]
        dropped += result.row is None
        name = row["id"].removeprefix("books:").rsplit(":", 1)[0].removeprefix(f"{corpora}/books/")
        print(
            f"{name[-63:]:<64}{len(row['text'].split()):>9}  {result.reason or 'kept':<36}" + (", ".join(alone) or "-")
        )
    print(f"dropped {dropped} of {len(books)} books")
    # Before book_repetition, the book steps ran Gopher's repetition rules with the web's thresholds.
    web_repetition = steps.step("gopher_repetition")
    by_web_thresholds = [(row["id"], web_repetition.keep(row["text"]).reason) for row in books]
    print(
        "gopher_repetition with the web's thresholds would drop: "
        + (", ".join(f"{id_} ({reason})" for id_, reason in by_web_thresholds if reason) or "none")
    )


if __name__ == "__main__":
    main()
