"""The filter step on the real corpora: throughput against datatrove, and language-ID accuracy.

Run from the repository root (also `make bench`):

    .venv/bin/python bench/filters.py [--corpora ../shared/corpora] [--runs 3]

The reference implementation is datatrove (huggingface/datatrove), whose filters FineWeb was
made with; it needs spaCy for its English word tokenizer: pip install -e '.[bench]'.
Measures, in one run of this script:
  1. the texts the filter stage sees: `prepare` with every filter step off, over books, web
     and jsonl (Beam, all cores); web text = HTML pages and WARC/JSONL records, as the stage
     tells them apart;
  2. per rule family, on one core, as the median of --runs: MB/s (UTF-8 text) of our pure
     function and of datatrove's filter with the same thresholds (its C4 set to the T5
     paper's 5 words per line and 3 sentences, as ours), on the web texts; then the web
     steps chained (ours: gopher_repetition, gopher_quality, fineweb, c4; datatrove's the
     same four); and on how many documents the two agree to keep or drop (docs/filters.md explains the
     disagreements);
  3. Gopher's rules with the web's thresholds (as datatrove's) on the shortest books (--book-mb of
     them); the book steps' own repetition thresholds (book_repetition) and which books they drop:
     bench/books.py;
  4. the whole filter stage as prepare runs it (language ID and PII included), per kind;
  5. language ID: our fastText lid.176.ftz identifier's accuracy on the multilingual HTML
     pages whose language their <html lang> or their URL's country domain names, its MB/s,
     and the same for py3langid, CLD2 (pycld2) and lingua where installed.
Times are CPU seconds of this one process (time.process_time), so other work on the machine
does not count. Prints tables; docs/benchmarks.md and docs/filters.md record the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

import pyarrow.parquet as pq

from bench.measure import default_corpora
from pipeline.config import Config
from pipeline.prepare import run_prepare
from transforms.filters.c4 import C4
from transforms.filters.fineweb import FineWeb
from transforms.filters.gopher_quality import (
    GopherQuality,
    GopherQualityConfig,
)
from transforms.filters.gopher_repetition import GopherRepetition
from transforms.filters.stage import FiltersConfig, Steps, filter_document, is_web_document
from transforms.langid import LanguageIdentifier
from transforms.readers import InputSpec

PAGES = "web/html/adbar__trafilatura/tests"
# Country domains whose language is not in doubt; other pages without <html lang> stay unlabelled.
COUNTRY_LANGUAGES = {
    "de": "de",
    "at": "de",
    "fr": "fr",
    "pl": "pl",
    "it": "it",
    "es": "es",
    "cl": "es",
    "br": "pt",
    "no": "no",
}
HTML_LANG_RE = re.compile(rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})\b", re.IGNORECASE)


# CPU seconds of this process: the machine is shared, and waiting for a core is not work.
def median_seconds(work, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.process_time()
        work()
        timings.append(time.process_time() - started)
    return statistics.median(timings)


def mb(texts: list[str]) -> float:
    return sum(len(t.encode("utf-8")) for t in texts) / 1e6


def cleaned_rows(corpora: Path, workdir: str) -> list[dict]:
    """Every document of the corpora as prepare cleans it, before any filter step."""
    config = Config(
        inputs=[InputSpec(name=n, glob=f"{corpora}/{n}/**") for n in ("books", "web", "jsonl")],
        output=f"{workdir}/prepare",
    )
    config.filters.web, config.filters.books = [], []
    run_prepare(config, [])
    return [
        row for path in sorted(Path(config.output, "docs").glob("*.parquet")) for row in pq.read_table(path).to_pylist()
    ]


# ---------------------------------------------------------------------------
# Throughput against datatrove


def stage_table(rows: list[dict], runs: int) -> None:
    """The filter stage as prepare runs it (language ID and PII included), per kind of document."""
    steps = Steps(FiltersConfig())
    print(f"\nthe filter stage with the default steps (filter_document), 1 core, median of {runs}")
    print(f"{'documents':<34}{'MB':>8}{'MB/s':>8}{'kept':>8}  steps")
    for kind, web in (("web", True), ("books", False)):
        chosen = [row for row in rows if is_web_document(row) is web]
        for row in chosen[:3]:
            filter_document(row, steps.for_row(row))  # loads the language model
        seconds = median_seconds(lambda: [filter_document(row, steps.for_row(row)) for row in chosen], runs)
        kept = sum(filter_document(row, steps.for_row(row)).row is not None for row in chosen)
        size = mb([row["text"] for row in chosen])
        print(
            f"{kind:<34}{size:>8.2f}{size / seconds:>8.2f}{kept:>5}/{len(chosen):<4} "
            + ", ".join(FiltersConfig().steps_for("", web))
        )


def spacy_table(texts: list[str], runs: int) -> None:
    """What datatrove spends most of its time on: its English word tokenizer (spaCy)."""
    try:
        from datatrove.utils.word_tokenizers import load_word_tokenizer
    except ImportError:
        return
    tokenizer = load_word_tokenizer("en")
    tokenizer.word_tokenize(texts[0])
    seconds = median_seconds(lambda: [tokenizer.word_tokenize(t) for t in texts], runs)
    print(
        f"datatrove's English word tokenizer (spaCy) alone, same texts: {mb(texts) / seconds:.2f} MB/s; "
        f"str.split: {mb(texts) / median_seconds(lambda: [t.split() for t in texts], runs):.0f} MB/s"
    )


def datatrove_families() -> dict:
    """datatrove's filters with the thresholds of our defaults; name -> callable(text) -> kept?
    Every value is None where datatrove is not installed."""
    try:
        from datatrove.data import Document
        from datatrove.pipeline.filters import (
            C4QualityFilter,
            FineWebQualityFilter,
            GopherQualityFilter,
            GopherRepetitionFilter,
        )
    except ImportError:
        print("datatrove is not installed: no reference figures (pip install -e '.[bench]')")
        return {name: None for name in ("gopher_repetition", "gopher_quality", "fineweb", "c4", "book_quality")}

    filters = {
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "fineweb": FineWebQualityFilter(),
        "c4": C4QualityFilter(min_words_per_line=5, min_num_sentences=3),
        "book_quality": GopherQualityFilter(max_doc_words=None),
    }

    def keep_with(f):
        def keep(text: str) -> bool:
            result = f.filter(Document(text=text, id="bench"))
            return result is True or (isinstance(result, tuple) and result[0])

        return keep

    return {name: keep_with(f) for name, f in filters.items()}


def ours() -> dict:
    return {
        f.name: (lambda f: lambda text: f.keep(text).keep)(f)
        for f in (GopherRepetition(), GopherQuality(), FineWeb(), C4())
    }


def chain(families: dict, names: list[str]):
    if any(families[name] is None for name in names):
        return None

    def keep(text: str) -> bool:
        return all(families[name](text) for name in names)  # stops at the first drop, like both stages

    return keep


def timed(keep, texts: list[str], runs: int) -> tuple[float, list[bool]]:
    """(median seconds over `runs` passes, the verdicts of the last pass)."""
    timings, verdicts = [], []
    for _ in range(runs):
        started = time.process_time()
        verdicts = [keep(t) for t in texts]
        timings.append(time.process_time() - started)
    return statistics.median(timings), verdicts


def throughput_table(
    title: str, texts: list[str], pairs: list[tuple[str, object, object]], runs: int, reference_runs: int
) -> None:
    size = mb(texts)
    print(f"\n{title}: {len(texts)} documents, {size:.2f} MB, 1 core, median of {runs} (datatrove: {reference_runs})")
    print(f"{'rules':<34}{'ours MB/s':>11}{'datatrove MB/s':>16}{'speed-up':>10}{'agree':>8}")
    for name, mine, reference in pairs:
        mine_s, mine_verdicts = timed(mine, texts, runs)
        if reference is None:
            print(f"{name:<34}{size / mine_s:>11.2f}{'-':>16}{'-':>10}{'-':>8}")
            continue
        for text in texts[:3]:  # warm-up: datatrove loads spaCy on first use
            reference(text)
        reference_s, reference_verdicts = timed(reference, texts, reference_runs)
        agree = sum(a == b for a, b in zip(mine_verdicts, reference_verdicts)) / len(texts)
        print(f"{name:<34}{size / mine_s:>11.2f}{size / reference_s:>16.2f}{reference_s / mine_s:>9.1f}x{agree:>8.1%}")


# ---------------------------------------------------------------------------
# Language identification


def labelled_pages(corpora: Path) -> list[tuple[str, str, str]]:
    """(file name, language, how it is known) for the trafilatura pages with a known language."""
    urls = {
        entry["file"]: url
        for url, entry in json.loads((corpora / PAGES / "evaldata.json").read_text(encoding="utf-8")).items()
    }
    labelled = []
    for path in sorted((corpora / PAGES).glob("*/*")):
        declared = HTML_LANG_RE.search(path.read_bytes()[:50_000])
        if declared:
            labelled.append((path.name, declared.group(1).decode().lower(), "<html lang>"))
            continue
        inner = re.sub(r"^https?://web\.archive\.org/web/\d+/", "", urls.get(path.name, ""))
        country = (urllib.parse.urlsplit(inner).hostname or "").rsplit(".", 1)[-1]
        if country in COUNTRY_LANGUAGES:
            labelled.append((path.name, COUNTRY_LANGUAGES[country], "URL"))
    return labelled


def identifiers() -> dict:
    """Candidate identifiers that are installed: name -> callable(text) -> language code."""
    found = {"fastText lid.176.ftz (ours)": LanguageIdentifier().identify}
    try:
        from py3langid.langid import MODEL_FILE
        from py3langid.langid import LanguageIdentifier as LangId

        model = LangId.from_model_file(MODEL_FILE, norm_probs=True)
        found["py3langid"] = model.classify
    except ImportError:
        pass
    try:
        import pycld2

        def cld2(text: str):
            try:
                return pycld2.detect(text)[2][0][1], 0.0
            except pycld2.error:
                return "und", 0.0

        found["CLD2 (pycld2)"] = cld2
    except ImportError:
        pass
    try:
        from lingua import LanguageDetectorBuilder

        detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

        def lingua(text: str):
            best = detector.compute_language_confidence_values(text)[0]
            code = best.language.iso_code_639_1.name.lower()
            return ("no" if code == "nb" else code), best.value

        found["lingua (all languages)"] = lingua
    except ImportError:
        pass
    return found


def language_table(corpora: Path, rows: list[dict], runs: int) -> None:
    pages = f"web:{PAGES.removeprefix('web/')}/"  # an id holds the source and the path below its folder
    texts = {
        Path(row["id"].rsplit(":", 1)[0]).name: row["text"]
        for row in rows
        if row["id"].startswith(pages) and row["kind"] == "html"
    }
    labelled = [(name, language, how) for name, language, how in labelled_pages(corpora) if name in texts]
    how = {source: sum(1 for *_, h in labelled if h == source) for source in ("<html lang>", "URL")}
    languages = sorted({language for _, language, _ in labelled})
    print(
        f"\nlanguage ID: {len(labelled)} labelled pages ({how['<html lang>']} by <html lang>, {how['URL']} by "
        f"URL country domain) in {len(languages)} languages ({', '.join(languages)}); "
        f"{len(texts) - len(labelled)} pages unlabelled"
    )
    sample = [texts[name] for name, _, _ in labelled]
    print(f"{'identifier':<30}{'correct':>10}{'accuracy':>10}{'MB/s':>8}  disagreements (page: label -> said)")
    for name, identify in identifiers().items():
        said = [identify(texts[page])[0] for page, _, _ in labelled]
        seconds = median_seconds(lambda: [identify(t) for t in sample], runs)
        wrong = [f"{page}: {language}->{got}" for (page, language, _), got in zip(labelled, said) if got != language]
        correct = len(labelled) - len(wrong)
        print(
            f"{name:<30}{correct:>5}/{len(labelled):<4}{correct / len(labelled):>10.1%}{mb(sample) / seconds:>8.2f}  "
            + "; ".join(wrong)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--runs", type=int, default=3, help="passes of ours per measurement (median)")
    parser.add_argument(
        "--reference-runs",
        type=int,
        default=1,
        help="passes of datatrove per measurement (median); it is 20-50x slower",
    )
    parser.add_argument("--book-mb", type=float, default=4.0, help="MB of books for the book table")
    args = parser.parse_args()
    corpora = args.corpora.resolve()

    with tempfile.TemporaryDirectory() as workdir:
        rows = cleaned_rows(corpora, workdir)
    web = [row["text"] for row in rows if is_web_document(row)]
    books = [row["text"] for row in rows if not is_web_document(row)]
    print(f"corpora: {corpora}  runs: {args.runs} (medians)  cleaned: {len(web)} web documents, {len(books)} books")

    mine, reference = ours(), datatrove_families()
    web_steps = ["gopher_repetition", "gopher_quality", "fineweb", "c4"]
    throughput_table(
        "web steps, each rule family alone",
        web,
        [(name, mine[name], reference[name]) for name in web_steps]
        + [("all four, chained", chain(mine, web_steps), chain(reference, web_steps))],
        args.runs,
        args.reference_runs,
    )
    spacy_table(web, args.reference_runs)
    book_quality = GopherQuality(GopherQualityConfig(max_words=0))
    sample = []
    for text in sorted(books, key=len):  # the shortest books, up to --book-mb
        if mb(sample + [text]) > args.book_mb:
            break
        sample.append(text)
    throughput_table(
        f"Gopher's rules, web repetition thresholds, on the {len(sample)} shortest books",
        sample,
        [
            ("gopher_repetition", mine["gopher_repetition"], reference["gopher_repetition"]),
            ("gopher_quality(max_words=0)", lambda t: book_quality.keep(t).keep, reference["book_quality"]),
        ],
        args.runs,
        args.reference_runs,
    )
    stage_table(rows, args.runs)
    language_table(corpora, rows, args.runs)


if __name__ == "__main__":
    main()
