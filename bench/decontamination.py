"""Recall and false positives of prepare's decontamination, on benchmark items injected into real documents (issue 16).

Run from the repository root:

    .venv/bin/python bench/decontamination.py [--corpora DIR] [--workdir DIR] [--seed 0] [--runs 3] [--json FILE]

1. The documents: every document of the real corpora (`bench.measure.default_corpora`), cleaned as
   prepare cleans them (`bench.dedup_eval.cleaned_documents`).
2. The benchmark: a seeded quarter of the books are the item sources. --items passages of 13-60
   words and --short-items of 10-12 (words as the matcher counts them) are cut from them at random,
   without overlap, and written as JSONL lines `{"text": ...}`; the bench keeps its own bookkeeping
   beside the file and knows an item by its line (item ids are `BENCHMARK:PATH:LINE`).
3. Hosts and controls: the other documents (books cut at blank lines into pieces of 1-16 KB), minus
   those of the same work as an item source (sharing SAME_WORK_SHARE of their 13-grams with one: the
   corpora hold several editions of some books). Each item goes into one host per injection kind:
   verbatim, re-wrapped at 8 words per line, with its case and punctuation changed (each inserted
   between two words of a whole host document), and embedded (inside 10 times its length of text cut
   from a host document). Each item also goes, as a near miss, into one more document (every sixth
   word replaced, so no 13 of its words are left in a row; for a 10-12-word item, its middle word
   left out): a match there is a false positive. The documents left over are the clean controls.
4. Ground truth: an independent plain-Python matcher (ReferenceMatcher: words are the runs of `\\w`
   after NFKC and case folding, compared as tuples of strings, no hashing) over the text prepare's
   docs/ holds. A control or host that really holds an item (a quotation, a shared phrase) is a true
   match, not a false positive; the bench reports how many there are.
5. `textshards prepare` on hosts, near misses and controls with the filters off and dedup off (every
   host must reach docs/ for the redact check below; decontamination runs before dedup, so dedup
   would change nothing it sees, only lengthen the job it is compared with), --runs times each:
   without `--decontaminate`, with it, and `textshards decontaminate` alone on the docs/ of the run
   without; then once with `decontaminate.mode: redact`. Each run is a process of its own
   (`bench.scale.run_sampled`: wall time, peak RSS of the process tree).
6. The same-domain set, harder for precision and larger: Debian's python3.11-doc, manpages and
   manpages-dev, fetched with `apt-get download` and unpacked under the workdir's debian/ (once).
   The documents are the sections of the Python manual's reST sources (`_sources/*.rst.txt` cut
   before each heading) and the man pages (roff stripped crudely). DOMAIN_ITEMS and
   DOMAIN_SHORT_ITEMS items are cut from a seeded quarter of the sections, and steps 3-4 are done
   as for the books: the controls are the other sections of the same manual, which share its
   phrasing ("New in version 3.x", "Return a new ...", signatures), and the man pages. prepare
   runs on it once without and once with `--decontaminate`, for accuracy only (no redact run).

It reports for each set recall per injection kind (items of >= 13 words, target >= 0.99; the
10-12-word items apart, as they are matched whole), false positives among the controls (target <=
0.1% of them; per source of the controls too, each with its one-sided 95% upper bound: with none
seen, about 3 / controls, the rule of three) and among the near misses, with the n-grams each
matched, and natural matches (a few to read); for the books' set also MB/s of each job's input and
its peak RSS, the cost (median wall time with `--decontaminate` over the median without), and for
redact, how many hosts kept no n-gram of their item and how many were dropped instead of cut (more
than 10 cuts, or no word left).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

import numpy as np
import pyarrow.parquet as pq

from bench.measure import default_corpora, unpacked_debian_package
from bench.scale import docs_text_bytes, paragraph_pieces, run_sampled, textshards

GENERATOR = "v3"  # part of the cache key: change it when the generation changes
NGRAM = 13  # the decontamination's default n-gram: items shorter than this are matched whole
LONG_ITEM_WORDS = (13, 60)
SHORT_ITEM_WORDS = (10, 12)
ITEM_SOURCE_SHARE = 0.25  # of the books
SAME_WORK_SHARE = 0.05  # a document with this share of its 13-grams in an item source is of the same work
PIECE_CHARS = (1_000, 16_000)  # books are cut at blank lines into pieces of these sizes (log-uniform)
MIN_DOCUMENT_WORDS = 20
WRAP_WORDS = 8
EMBED_FACTOR = 10  # an embedded item sits inside this many times its length of other text
KINDS = ("verbatim", "rewrapped", "case_punctuation", "embedded")
NEAR_MISS_EVERY = 6  # a near miss of a long item has every sixth word replaced: no 13 of its words in a row
PUNCTUATION = ("", "", "", ",", ".", ";", ":", "!", "?", '"', "'", "(", ")", "-", "\u2026")
BENCHMARK = "bench"
SOURCES = ("hosts", "near_misses", "controls")
WITHOUT, WITH, STEP = "prepare", "prepare --decontaminate", "decontaminate on prepare's docs/"
JOBS = {WITHOUT: "prepare", WITH: "drop", STEP: "step"}  # the timed jobs, and their outputs' names in runs/
PYTHON_DOCS = "python-docs"  # the same-domain set's item source, and the source of its sections
DOMAIN_PACKAGES = ("python3.11-doc", "manpages", "manpages-dev")
PYTHON_SOURCES = Path("usr/share/doc/python3.11/html/_sources")
MAN_PAGES = Path("usr/share/man")
DOMAIN_ITEMS, DOMAIN_SHORT_ITEMS = 150, 30  # fewer than the books' set: more sections are left as controls
NATURAL_EXAMPLES = 8  # natural matches the report shows, to read
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "textshards-bench-decontamination"

WORD = re.compile(r"\w+")


# --- The reference matcher ----------------------------------------------------------------------


def matcher_words(text: str) -> tuple[str, ...]:
    """The words decontamination compares: runs of \\w in the text after NFKC and case folding."""
    return tuple(WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


class ReferenceMatcher:
    """Which items a text holds: an item of at least `ngram` words where one of its n-grams occurs in
    the text, a shorter one where all its words occur in the text, in order and next to each other."""

    def __init__(self, items: list[str], ngram: int = NGRAM):
        self.ngram = ngram
        self.windows: dict[int, dict[tuple[str, ...], set[int]]] = defaultdict(lambda: defaultdict(set))
        for row, item in enumerate(items):
            words = matcher_words(item)
            if len(words) >= ngram:
                for start in range(len(words) - ngram + 1):
                    self.windows[ngram][words[start : start + ngram]].add(row)
            elif words:
                self.windows[len(words)][words].add(row)

    def matches(self, text: str) -> dict[int, list[str]]:
        """Each item row the text holds -> the matching runs of words (joined by spaces), in text order."""
        words = matcher_words(text)
        found: dict[int, list[str]] = defaultdict(list)
        for length, rows_of in self.windows.items():
            for start in range(len(words) - length + 1):
                window = words[start : start + length]
                for row in rows_of.get(window, ()):
                    found[row].append(" ".join(window))
        return dict(found)


# --- The evaluation set -------------------------------------------------------------------------


def cut_items(books: list[str], rng: np.random.Generator, lengths: list[tuple[int, int]]) -> list[dict]:
    """One passage per (fewest, most) matcher words in lengths, cut from the books (any texts) at
    random, on one line, no two overlapping and no two alike: {"text", "book" (its index), "words"}."""
    tokens = [list(re.finditer(r"\S+", book)) for book in books]
    used: list[set[int]] = [set() for _ in books]
    seen: set[tuple[str, ...]] = set()
    items: list[dict] = []
    while len(items) < len(lengths):
        fewest, most = lengths[len(items)]
        book, length = int(rng.integers(len(books))), int(rng.integers(fewest, most + 1))
        if len(tokens[book]) <= length:
            continue
        start = int(rng.integers(len(tokens[book]) - length))
        span = range(start, start + length)
        text = " ".join(books[book][tokens[book][start].start() : tokens[book][start + length - 1].end()].split())
        words = matcher_words(text)
        if not fewest <= len(words) <= most or words in seen or used[book].intersection(span):
            continue
        used[book].update(span)
        seen.add(words)
        items.append({"text": text, "book": book, "words": len(words)})
    return items


def rewrapped(item: str) -> str:
    """The item's words, WRAP_WORDS to a line."""
    words = item.split()
    return "\n".join(" ".join(words[i : i + WRAP_WORDS]) for i in range(0, len(words), WRAP_WORDS))


def with_case_and_punctuation_changed(item: str, rng: np.random.Generator) -> str:
    """Each word upper-, lower- or title-cased, the punctuation around it replaced; the \\w runs stay."""
    changed = []
    for token in item.split():
        core = re.fullmatch(r"\W*(.*?)\W*", token, re.DOTALL)[1]  # type: ignore[index]
        core = (str.upper, str.lower, str.title)[int(rng.integers(3))](core)
        before, after = (PUNCTUATION[i] for i in rng.integers(len(PUNCTUATION), size=2))
        changed.append(before + core + after)
    return " ".join(changed)


def inserted(text: str, passage: str, rng: np.random.Generator, separator: str = " ") -> str:
    """text with passage inserted at a random gap between two of its words."""
    gaps = [m.start() for m in re.finditer(r"\s+", text)]
    at = gaps[int(rng.integers(len(gaps)))]
    return text[:at] + separator + passage + separator + text[at:]


def embedded(text: str, passage: str, rng: np.random.Generator) -> str:
    """passage inside EMBED_FACTOR times its length of text: a span of text from one gap to another."""
    gaps = [m.start() for m in re.finditer(r"\s+", text)]
    want = EMBED_FACTOR * len(passage)
    starts = [g for g in gaps if g + want <= len(text)] or gaps[:1]
    start = starts[int(rng.integers(len(starts)))]
    end = next((g for g in gaps if g >= start + want), len(text))
    return inserted(text[start:end].strip(), passage, rng)


def injected(kind: str, host: str, item: str, rng: np.random.Generator) -> str:
    if kind == "verbatim":
        return inserted(host, item, rng)
    if kind == "rewrapped":
        return inserted(host, rewrapped(item), rng, separator="\n")
    if kind == "case_punctuation":
        return inserted(host, with_case_and_punctuation_changed(item, rng), rng)
    return embedded(host, item, rng)


def near_miss(item: str, rng: np.random.Generator, vocabulary: list[str]) -> str:
    """The item made not to match: one of 13 words or more with the token holding every
    NEAR_MISS_EVERY-th word replaced by a word drawn from vocabulary, a shorter one (matched whole)
    with the token holding its middle word left out. Words are counted as the matcher counts them:
    a token such as "3.3.3" or ":func:`len`" holds several, ".." none."""
    tokens = item.split()
    words_in = [len(matcher_words(token)) for token in tokens]
    if sum(words_in) < NGRAM:
        middle, seen = sum(words_in) // 2, 0
        at = next(i for i, count in enumerate(words_in) if (seen := seen + count) > middle)
        del tokens[at]
    else:
        run = 0  # words kept since the last replacement: never NEAR_MISS_EVERY, so never 13
        for i, count in enumerate(words_in):
            if run + count >= NEAR_MISS_EVERY:
                tokens[i], run = vocabulary[int(rng.integers(len(vocabulary)))], 0
            else:
                run += count
    return " ".join(tokens)


def ngram_hashes(text: str) -> set[int]:
    """Hashes of the text's 13-grams: for telling editions of one work apart, not for ground truth."""
    words = matcher_words(text)
    return {hash(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)}


@dataclass
class EvaluationSet:
    items: list[dict]  # {"text", "words", "source"}: row = position
    hosts: dict[str, dict] = field(default_factory=dict)  # record id -> {"text", "item", "kind", "origin"}
    near_misses: dict[str, dict] = field(default_factory=dict)  # record id -> {"text", "item", "origin"}
    controls: dict[str, dict] = field(default_factory=dict)  # record id -> {"text", "origin"}
    item_sources: list[str] = field(default_factory=list)
    same_work: list[str] = field(default_factory=list)  # documents left out as editions of an item source


def evaluation_set(
    documents: list[dict], seed: int, long_items: int, short_items: int, item_source: str = "books"
) -> EvaluationSet:
    """Items, hosts and controls (module doc) from cleaned document rows ({"id", "source", "text"}):
    the items are cut from a seeded ITEM_SOURCE_SHARE of the documents of source item_source."""
    rng = np.random.default_rng(seed)
    documents = [row for row in documents if len(row["text"].split()) >= MIN_DOCUMENT_WORDS]
    candidates = [row for row in documents if row["source"] == item_source]
    chosen = rng.choice(len(candidates), size=max(1, round(len(candidates) * ITEM_SOURCE_SHARE)), replace=False)
    sources = [candidates[i] for i in sorted(chosen)]
    source_ngrams = set().union(*(ngram_hashes(row["text"]) for row in sources))
    source_ids = {row["id"] for row in sources}
    result = EvaluationSet(items=[], item_sources=sorted(source_ids))
    pool = []
    for row in documents:
        if row["id"] in source_ids:
            continue
        grams = ngram_hashes(row["text"])
        if grams and len(grams & source_ngrams) >= SAME_WORK_SHARE * len(grams):
            result.same_work.append(row["id"])
            continue
        pieces = paragraph_pieces(row["text"], rng, PIECE_CHARS) if row["source"] == "books" else [row["text"]]
        pool += [(row["id"], piece) for piece in pieces if len(piece.split()) >= MIN_DOCUMENT_WORDS]
    pool = [pool[i] for i in rng.permutation(len(pool))]

    lengths = [LONG_ITEM_WORDS] * long_items + [SHORT_ITEM_WORDS] * short_items
    for item in cut_items([row["text"] for row in sources], rng, lengths):
        result.items.append({"text": item["text"], "words": item["words"], "source": sources[item["book"]]["id"]})
    for row, item in enumerate(result.items):
        for kind in KINDS:
            need = EMBED_FACTOR * len(item["text"]) if kind == "embedded" else 0
            at = next((i for i, (_, text) in enumerate(pool) if len(text) >= need), None)
            if at is None:
                raise SystemExit(f"decontamination.py: too few documents for {len(result.items)} items: fewer items")
            origin, text = pool.pop(at)
            result.hosts[f"h{len(result.hosts):05d}"] = {
                "text": injected(kind, text, item["text"], rng),
                "item": row,
                "kind": kind,
                "origin": origin,
            }
    vocabulary = [word for item in result.items for word in matcher_words(item["text"])]
    for row, item in enumerate(result.items):
        origin, text = pool.pop()
        miss = inserted(text, near_miss(item["text"], rng, vocabulary), rng)
        result.near_misses[f"n{row:05d}"] = {"text": miss, "item": row, "origin": origin}
    result.controls = {f"c{i:05d}": {"text": text, "origin": origin} for i, (origin, text) in enumerate(pool)}
    return result


# --- The same-domain set: Python's manual, and man pages ---------------------------------------

# A reST heading: a title line underlined (and maybe overlined) by one punctuation character repeated.
REST_UNDERLINE = re.compile(r"([=\-~^*+#\"'`:.])\1{2,}\s*")
ROFF_ESCAPE = re.compile(r"\\(?:[-e ~]|f(?:\[[^\]]*\]|\(..|.)|\*?(?:\(..|\[[^\]]*\])|.)")
ROFF_ESCAPED = {"\\-": "-", "\\e": "\\", "\\ ": " ", "\\~": " "}  # the rest become nothing


def rest_sections(text: str) -> list[str]:
    """A reST file cut before each heading (its overline, if any): the sections' texts, stripped."""
    lines = text.splitlines()
    starts = [0]
    for i in range(1, len(lines)):
        title = lines[i - 1].rstrip()
        if REST_UNDERLINE.fullmatch(lines[i]) and title and not REST_UNDERLINE.fullmatch(title):
            if len(lines[i].rstrip()) >= len(title):
                starts.append(i - 2 if i >= 2 and lines[i - 2] == lines[i] else i - 1)
    starts.append(len(lines))
    sections = ("\n".join(lines[start:end]).strip() for start, end in zip(starts, starts[1:]))
    return [section for section in sections if section]


def man_page_text(roff: str) -> str:
    """A man page's words, roff stripped crudely: comments dropped, a request line keeps its arguments
    (".SH NAME" -> "NAME"), escapes become what they print or nothing. Good enough for a control."""
    lines = []
    for line in roff.splitlines():
        if line.startswith(('.\\"', "'\\\"")):
            continue
        if line.startswith((".", "'")):
            line = line[1:].partition(" ")[2]
        lines.append(ROFF_ESCAPE.sub(lambda m: ROFF_ESCAPED.get(m[0], ""), line))
    return "\n".join(lines).strip()


def domain_documents(packages: Path) -> list[dict]:
    """Document rows ({"id", "source", "text"}) of the unpacked packages: each section of the Python
    manual's reST sources (source PYTHON_DOCS, id python-docs:PAGE:SECTION) and each man page that
    is not a link to another (source "man", id man:PATH:0)."""
    rows = []
    for path in sorted((packages / PYTHON_SOURCES).rglob("*.rst.txt")):
        page = path.relative_to(packages / PYTHON_SOURCES)
        for number, section in enumerate(rest_sections(path.read_text(encoding="utf-8"))):
            rows.append({"id": f"{PYTHON_DOCS}:{page}:{number}", "source": PYTHON_DOCS, "text": section})
    for path in sorted((packages / MAN_PAGES).rglob("*.gz")):
        roff = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
        if not roff.startswith(".so "):
            page = path.relative_to(packages / MAN_PAGES)
            rows.append({"id": f"man:{page}:0", "source": "man", "text": man_page_text(roff)})
    return rows


def domain_set(workdir: Path, seed: int) -> tuple[Path, EvaluationSet]:
    """The same-domain evaluation set (module doc), its packages unpacked under workdir/debian."""
    packages = workdir / "debian"
    for package in DOMAIN_PACKAGES:
        unpacked_debian_package(package, packages)
    directory = workdir / f"domain-{GENERATOR}-seed{seed}-{DOMAIN_ITEMS}-{DOMAIN_SHORT_ITEMS}"

    def make() -> EvaluationSet:
        documents = domain_documents(packages)
        return evaluation_set(documents, seed, DOMAIN_ITEMS, DOMAIN_SHORT_ITEMS, item_source=PYTHON_DOCS)

    return directory, cached_set(directory, make)


# --- Writing it, running prepare ----------------------------------------------------------------


def write_set(directory: Path, evaluation: EvaluationSet) -> None:
    """benchmark/items.jsonl ({"text"} lines), SOURCE.jsonl ({"id", "text"}) of each source, set.json (all)."""
    (directory / "benchmark").mkdir(parents=True, exist_ok=True)
    with open(directory / "benchmark" / "items.jsonl", "w", encoding="utf-8") as out:
        out.writelines(json.dumps({"text": item["text"]}, ensure_ascii=False) + "\n" for item in evaluation.items)
    for name in SOURCES:
        records = getattr(evaluation, name)
        with open(directory / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for record_id, record in records.items():
                out.write(json.dumps({"id": record_id, "text": record["text"]}, ensure_ascii=False) + "\n")
    (directory / "set.json").write_text(json.dumps(vars(evaluation), ensure_ascii=False))


def cached_set(directory: Path, make: Callable[[], EvaluationSet]) -> EvaluationSet:
    """The evaluation set in directory, made by make() and written there the first time."""
    if (directory / "set.json").is_file():
        return EvaluationSet(**json.loads((directory / "set.json").read_text()))
    shutil.rmtree(directory, ignore_errors=True)  # an interrupted generation
    evaluation = make()
    write_set(directory, evaluation)
    return evaluation


def prepare_config(directory: Path, redact: bool) -> Path:
    """A prepare config of the set's hosts and controls, filters and dedup off; where redact, with a
    decontaminate section of the benchmark in mode redact (else the CLI's --decontaminate names it)."""
    config: dict = {
        "inputs": [{"name": name, "glob": str(directory / f"{name}.jsonl"), "kind": "jsonl"} for name in SOURCES],
        "read": {"id_field": "id"},
        "filters": {"web": [], "books": []},
        "dedup": {"exact": False, "near": False},
    }
    if redact:
        benchmark = {"name": BENCHMARK, "path": str(directory / "benchmark" / "*.jsonl")}
        config["decontaminate"] = {"benchmarks": [benchmark], "mode": "redact"}
    path = directory / f"prepare{'-redact' if redact else ''}.json"
    path.write_text(json.dumps(config))
    return path


def run_prepare(directory: Path, output: Path, mode: str | None) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of prepare on the set into output: without decontamination (mode
    None), with it in mode drop (through --decontaminate) or in mode redact (through the config)."""
    argv = [*textshards(), "prepare", "--config", str(prepare_config(directory, redact=mode == "redact"))]
    if mode == "drop":
        argv += ["--decontaminate", f"{BENCHMARK}={directory / 'benchmark' / '*.jsonl'}"]
    return run_into(argv, output)


def run_decontaminate(directory: Path, docs: Path, output: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of `textshards decontaminate` on a prepare's docs/ into output."""
    benchmark = f"{BENCHMARK}={directory / 'benchmark' / '*.jsonl'}"
    return run_into([*textshards(), "decontaminate", "--docs", str(docs), "--decontaminate", benchmark], output)


def run_into(argv: list[str], output: Path) -> tuple[float, int]:
    """run_sampled of argv --output output, into a fresh output, its log beside it."""
    shutil.rmtree(output, ignore_errors=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    return run_sampled([*argv, "--output", str(output)], output.parent / f"{output.name}.log")


# --- What prepare did, against the reference ----------------------------------------------------


def record_id(document_id: str) -> str:
    return document_id.rsplit(":", 1)[1]  # SOURCE:PATH:RECORD_ID


def item_row(item_id: str) -> int:
    """The item's position in the benchmark file: its id is BENCHMARK:PATH:LINE, 1-based for JSON
    lines (docs/decontamination.md)."""
    return int(item_id.rsplit(":", 1)[1]) - 1


def kept_texts(output: Path) -> dict[str, str]:
    """Record id -> text of every document in prepare's docs/."""
    texts = {}
    for path in sorted((output / "docs").glob("*.parquet")):
        table = pq.read_table(path, columns=["id", "text"]).to_pydict()
        texts.update((record_id(i), text) for i, text in zip(table["id"], table["text"]))
    return texts


def contaminated(output: Path) -> dict[str, dict]:
    """Record id -> its line of contaminated/*.jsonl."""
    lines = [json.loads(line) for p in sorted((output / "contaminated").glob("*.jsonl")) for line in open(p)]
    return {record_id(line["id"]): line for line in lines}


def accuracy(evaluation: EvaluationSet, truth: dict[str, dict[int, list[str]]], flagged: dict[str, dict]) -> dict:
    """Recall per injection kind and item length, natural matches, false positives (module doc).
    truth: record id -> item row -> matching words, by the reference, on the text prepare saw."""
    recall: dict[str, dict[str, int]] = defaultdict(lambda: {"injected": 0, "lost": 0, "found": 0})
    for host_id, host in evaluation.hosts.items():
        length = "short" if evaluation.items[host["item"]]["words"] < NGRAM else "long"
        counts = recall[f"{length} {host['kind']}"]
        counts["injected"] += 1
        if host["item"] not in truth.get(host_id, {}):
            counts["lost"] += 1  # not in the text prepare saw: the reference says so; left out of recall
        elif host["item"] in {item_row(i) for i in flagged.get(host_id, {}).get("items", [])}:
            counts["found"] += 1
    natural = {
        (doc, row) for doc, rows in truth.items() for row in rows if evaluation.hosts.get(doc, {}).get("item") != row
    }
    found_pairs = {(doc, item_row(i)) for doc, line in flagged.items() for i in line["items"]}
    true_pairs = {(doc, row) for doc, rows in truth.items() for row in rows}
    false_documents = sorted(doc for doc in flagged if not truth.get(doc))
    records = {**evaluation.hosts, **evaluation.near_misses, **evaluation.controls}

    def checked(group) -> dict[str, int]:
        return {
            "documents": len(group),
            "holding_an_item": sum(1 for doc in truth if doc in group),
            "flagged": sum(1 for doc in flagged if doc in group),
            "false_positives": sum(1 for doc in false_documents if doc in group),
        }

    controls_of: dict[str, set[str]] = defaultdict(set)
    for doc, control in evaluation.controls.items():
        controls_of[control["origin"].split(":", 1)[0]].add(doc)
    return {
        "recall": {key: dict(counts) for key, counts in sorted(recall.items())},
        "natural_matches": sorted(natural),
        "natural_matches_found": len(natural & found_pairs),
        "near_misses": checked(evaluation.near_misses),
        "controls": checked(evaluation.controls),
        "controls_by_source": {source: checked(group) for source, group in sorted(controls_of.items())},
        "false_positive_documents": [{**flagged[doc], "origin": records[doc]["origin"]} for doc in false_documents],
        "flagged_pairs": len(found_pairs),
        "flagged_pairs_not_in_reference": sorted(found_pairs - true_pairs),
        "items_found_by_reference": len({row for rows in truth.values() for row in rows}),
        "documents_holding_an_item": len(truth),
        "documents_flagged": len(flagged),
    }


def judged(evaluation: EvaluationSet, plain: Path, decontaminated: Path) -> dict:
    """accuracy() of the run decontaminated's contaminated/ against the reference on the text the
    run plain (without decontamination) wrote to docs/, with the words of the controls and near
    misses it checked and NATURAL_EXAMPLES natural matches to read: {"document", "origin",
    "item_source", "words" (the first matching run)}."""
    matcher = ReferenceMatcher([item["text"] for item in evaluation.items])
    seen = kept_texts(plain)  # the text decontamination sees: prepare cleans it again
    truth = {doc: rows for doc, text in seen.items() if (rows := matcher.matches(text))}
    result = accuracy(evaluation, truth, contaminated(decontaminated))
    records = {**evaluation.hosts, **evaluation.near_misses, **evaluation.controls}
    natural = result["natural_matches"]
    result["natural_match_examples"] = [
        {
            "document": doc,
            "origin": records[doc]["origin"],
            "item_source": evaluation.items[row]["source"],
            "words": truth[doc][row][0],
        }
        for doc, row in natural[:: max(1, len(natural) // NATURAL_EXAMPLES)][:NATURAL_EXAMPLES]
    ]
    clean = [*evaluation.controls, *evaluation.near_misses]
    result["clean_words"] = sum(len(matcher_words(seen[doc])) for doc in clean if doc in seen)
    return result


def rate_bound(false_positives: int, documents: int, confidence: float = 0.95) -> float:
    """The highest per-document false-positive rate under which seeing at most false_positives in
    documents still has probability 1 - confidence (one-sided Clopper-Pearson): about 3 / documents
    for none (the rule of three), 4.74 / documents for one."""

    def at_most_seen(rate: float) -> float:  # binomial P(X <= false_positives), in logs for large counts
        return sum(
            math.exp(
                math.lgamma(documents + 1) - math.lgamma(k + 1) - math.lgamma(documents - k + 1)
                + k * math.log(rate) + (documents - k) * math.log1p(-rate)
            )
            for k in range(false_positives + 1)
        )  # fmt: skip

    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if at_most_seen(middle) > 1 - confidence else (low, middle)
    return high


def redaction(evaluation: EvaluationSet, matcher: ReferenceMatcher, output: Path) -> dict:
    """Of the hosts: how many the redact run kept with no n-gram (or whole short item) of their item
    left, kept with some left, dropped instead of cut (more than 10 cuts, or no word left), or lost
    otherwise; and the longest host it dropped (characters of the text it saw)."""
    kept, flagged = kept_texts(output), contaminated(output)
    counts = {"hosts": len(evaluation.hosts), "passage_removed": 0, "passage_left": [], "dropped": 0, "missing": []}
    counts["longest_dropped_chars"] = 0
    for host_id, host in evaluation.hosts.items():
        if host_id in kept:
            if host["item"] in matcher.matches(kept[host_id]):
                counts["passage_left"].append(host_id)
            else:
                counts["passage_removed"] += 1
        elif flagged.get(host_id, {}).get("action") == "drop":
            counts["dropped"] += 1
            counts["longest_dropped_chars"] = max(counts["longest_dropped_chars"], len(host["text"]))
        else:
            counts["missing"].append(host_id)
    dropped = [doc for doc, line in flagged.items() if line["action"] == "drop"]
    counts["controls_dropped"] = sum(1 for doc in dropped if doc in evaluation.controls)
    return counts


def counts_named(tree, word: str, path: str = "") -> dict[str, object]:
    """Every value of a JSON tree under a key containing word, by its path ("a/b/c")."""
    found: dict[str, object] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            here = f"{path}/{key}" if path else str(key)
            found.update({here: value} if word in str(key) else counts_named(value, word, here))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found.update(counts_named(value, word, f"{path}/{index}"))
    return found


# --- The report ---------------------------------------------------------------------------------


def accuracy_markdown(a: dict) -> list[str]:
    """judged()'s figures: recall, false positives with their 95% bound, natural matches."""
    lines = ["| items | injection | hosts | lost before matching | found | recall |", "|---|---|---:|---:|---:|---:|"]
    for key, c in a["recall"].items():
        length, kind = key.split(" ", 1)
        words = "%d-%d words" % (LONG_ITEM_WORDS if length == "long" else SHORT_ITEM_WORDS)
        present = c["injected"] - c["lost"]
        lines.append(
            f"| {words} | {kind} | {c['injected']} | {c['lost']} | {c['found']} | {c['found'] / max(present, 1):.4f} |"
        )
    groups = [
        ("controls", a["controls"]),
        *((f"  controls from {source}", c) for source, c in a["controls_by_source"].items()),
        ("near_misses", a["near_misses"]),
    ]
    lines += [
        "",
        *(
            f"{name}: {c['documents']}, holding an item by the reference: {c['holding_an_item']}, flagged: "
            f"{c['flagged']}, false positives: {c['false_positives']} ({c['false_positives'] / c['documents']:.3%}; "
            f"95% bound {rate_bound(c['false_positives'], c['documents'] - c['holding_an_item']):.3%})"
            for name, c in groups
        ),
        f"words of the controls and near misses checked: {a['clean_words']:,}",
        f"natural matches (reference, not injected): {len(a['natural_matches'])} (document, item) pairs, "
        f"{a['natural_matches_found']} of them flagged",
        *(
            f"  {m['document']} (from {m['origin']}) holds an item of {m['item_source']}: {m['words']!r}"
            for m in a["natural_match_examples"]
        ),
        f"flagged (document, item) pairs: {a['flagged_pairs']}, not confirmed by the reference: "
        f"{len(a['flagged_pairs_not_in_reference'])}",
    ]
    for fp in a["false_positive_documents"]:
        lines.append(f"  false positive {fp['id']} (from {fp['origin']}): items {fp['items']}, n-grams {fp['ngrams']}")
    return lines


def markdown(result: dict) -> str:
    a = result["accuracy"]
    lines = [
        *accuracy_markdown(a),
        f"items found: reference {a['items_found_by_reference']}, decontamination.json {result['items_found']}; "
        f"documents holding an item: reference {a['documents_holding_an_item']}, contaminated/ "
        f"{a['documents_flagged']}",
    ]
    lines += ["", "| job | input MB | median s | runs s | MB/s | peak RSS MB |", "|---|---:|---:|---|---:|---:|"]
    for job, t in result["timing"].items():
        median = statistics.median(t["seconds"])
        lines.append(
            f"| {job} | {t['input_mb']:.1f} | {median:.1f} | {', '.join(f'{s:.1f}' for s in t['seconds'])} "
            f"| {t['input_mb'] / median:.2f} | {max(t['peak_rss_mb']):.0f} |"
        )
    lines.append(f"\ncost: median with --decontaminate / median without = {result['cost']:.2f}")
    r = result["redact"]
    lines += [
        "",
        f"redact: {r['hosts']} hosts, passage removed from {r['passage_removed']}, passage left in "
        f"{len(r['passage_left'])}, dropped instead (more than 10 cuts or no word left) {r['dropped']} (the longest "
        f"{r['longest_dropped_chars']} characters), missing otherwise {len(r['missing'])}; controls dropped "
        f"{r['controls_dropped']}",
    ]
    return "\n".join(lines)


def evaluated_domain_set(workdir: Path, seed: int, runs: Path) -> dict:
    """The same-domain set (domain_set) through prepare without and with --decontaminate, once each
    (into runs/domain-*), judged."""
    directory, evaluation = domain_set(workdir, seed)
    seconds = {}
    for job, mode in ((WITHOUT, None), (WITH, "drop")):
        seconds[job], _ = run_prepare(directory, runs / f"domain-{JOBS[job]}", mode)
        print(f"same-domain set, {job}: {seconds[job]:.1f} s", file=sys.stderr)
    return {
        "items": len(evaluation.items),
        "item_sources": len(evaluation.item_sources),
        "hosts": len(evaluation.hosts),
        "controls": len(evaluation.controls),
        "same_work_left_out": len(evaluation.same_work),
        "input_mb": sum((directory / f"{name}.jsonl").stat().st_size for name in SOURCES) / 1e6,
        "accuracy": judged(evaluation, runs / f"domain-{JOBS[WITHOUT]}", runs / f"domain-{JOBS[WITH]}"),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument(
        "--workdir", type=Path, default=DEFAULT_WORKDIR, help="the generated set (kept, by seed) and the runs' outputs"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--items", type=int, default=300, help="items of 13-60 words (default: %(default)s)")
    parser.add_argument("--short-items", type=int, default=60, help="items of 10-12 words (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs with and without --decontaminate")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs: at least 1")
    args.workdir, args.corpora = args.workdir.resolve(), args.corpora.resolve()
    if not args.corpora.is_dir():
        raise SystemExit(f"decontamination.py: no corpora at {args.corpora} (--corpora or $TEXTSHARDS_CORPORA)")
    from bench.dedup_eval import cleaned_documents

    directory = args.workdir / f"set-{GENERATOR}-seed{args.seed}-{args.items}-{args.short_items}"
    evaluation = cached_set(
        directory, lambda: evaluation_set(cleaned_documents(args.corpora), args.seed, args.items, args.short_items)
    )
    input_mb = sum((directory / f"{name}.jsonl").stat().st_size for name in SOURCES) / 1e6
    print(
        f"{len(evaluation.items)} items from {len(evaluation.item_sources)} books, {len(evaluation.hosts)} hosts, "
        f"{len(evaluation.controls)} controls ({input_mb:.1f} MB of JSONL); {len(evaluation.same_work)} documents "
        f"left out as editions of an item source",
        file=sys.stderr,
    )
    runs = args.workdir / "runs"
    timing: dict = {job: {"seconds": [], "peak_rss_mb": []} for job in JOBS}
    for run in range(args.runs):
        for job in JOBS:
            if job == STEP:
                docs = runs / f"{JOBS[WITHOUT]}-{run}" / "docs"
                seconds, peak = run_decontaminate(directory, docs, runs / f"{JOBS[STEP]}-{run}")
            else:
                seconds, peak = run_prepare(directory, runs / f"{JOBS[job]}-{run}", "drop" if job == WITH else None)
            timing[job]["seconds"].append(seconds)
            timing[job]["peak_rss_mb"].append(peak / 1e6)
            print(f"{job}: {seconds:.1f} s, peak {peak / 1e6:.0f} MB", file=sys.stderr)
    for job, t in timing.items():
        t["input_mb"] = docs_text_bytes(runs / f"{JOBS[WITHOUT]}-0") / 1e6 if job == STEP else input_mb
    run_prepare(directory, runs / "redact", "redact")

    matcher = ReferenceMatcher([item["text"] for item in evaluation.items])
    flagged = contaminated(runs / f"{JOBS[WITH]}-0")
    reproducible = all(contaminated(runs / f"{JOBS[WITH]}-{run}") == flagged for run in range(args.runs))
    step_flagged = {doc: line["items"] for doc, line in contaminated(runs / f"{JOBS[STEP]}-0").items()}
    output = runs / f"{JOBS[WITH]}-0"
    result = {
        "items": len(evaluation.items),
        "hosts": len(evaluation.hosts),
        "controls": len(evaluation.controls),
        "same_work_left_out": evaluation.same_work,
        "input_mb": input_mb,
        "accuracy": judged(evaluation, runs / f"{JOBS[WITHOUT]}-0", runs / f"{JOBS[WITH]}-0"),
        "contaminated_lines_identical_in_every_run": reproducible,
        "decontamination_json": json.loads((output / "decontamination.json").read_text()),
        "stats": counts_named(json.loads((output / "stats.json").read_text()), "contaminated"),
        "timing": timing,
        "cost": statistics.median(timing[WITH]["seconds"]) / statistics.median(timing[WITHOUT]["seconds"]),
        "step_flags_what_prepare_flags": step_flagged == {doc: line["items"] for doc, line in flagged.items()},
        "redact": redaction(evaluation, matcher, runs / "redact"),
    }
    result["items_found"] = counts_named(result["decontamination_json"], "items_found")
    result["domain"] = evaluated_domain_set(args.workdir, args.seed, runs)
    print(f"DirectRunner, {os.cpu_count()} cores, load average {os.getloadavg()[1]:.1f} at the end\n")
    print(markdown(result))
    print(
        f"\nstats.json: {result['stats']}\ncontaminated/ the same in every run: {reproducible}; the step alone "
        f"flags the documents and items prepare flags: {result['step_flags_what_prepare_flags']}"
    )
    d = result["domain"]
    print(
        f"\n## The same-domain set: {d['items']} items from {d['item_sources']} sections of the Python manual, "
        f"{d['hosts']} hosts, {d['controls']} controls, {d['same_work_left_out']} documents left out as sharing "
        f"{SAME_WORK_SHARE:.0%} of their 13-grams with an item source ({d['input_mb']:.1f} MB of JSONL)\n"
    )
    print("\n".join(accuracy_markdown(d["accuracy"])))
    print("\n" + ", ".join(f"{job}: {seconds:.1f} s" for job, seconds in d["seconds"].items()))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **result}, indent=1))


if __name__ == "__main__":
    main()
