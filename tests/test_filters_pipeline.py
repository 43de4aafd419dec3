"""The filters inside `textshards prepare`: per-source steps, counts, funnel, rejected/ and inspect."""

import contextlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.config import Config
from pipeline.prepare import run_prepare
from tests.helpers import IN_MEMORY, PROSE
from transforms.readers import InputSpec

GERMAN = (
    "Die Fischerboote kamen am Abend in den Hafen zurück. Die Möwen folgten ihnen über das graue Wasser, "
    "und die Männer an Deck waren zu müde, um über das Wetter zu sprechen. Am Kai hatte eine Bäckerin "
    "ihren Laden länger offen gehalten als sonst, und niemand beklagte sich über den Preis des Brotes."
)


def _page(paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><head><meta charset='utf-8'></head><body><article>{body}</article></body></html>".encode()


def _corpus(root: Path) -> Path:
    corpus = root / "corpus"
    (corpus / "books").mkdir(parents=True)
    (corpus / "web").mkdir()
    (corpus / "books" / "novel.txt").write_text(PROSE)  # a book: only the book steps apply
    (corpus / "web" / "article.html").write_bytes(
        _page(PROSE.split("\n\n") + ["Letters to the editor go to editor@harbour-news.com as always."])
    )
    (corpus / "web" / "german.html").write_bytes(_page([GERMAN] * 1))
    (corpus / "web" / "menu.html").write_bytes(_page(["Home | About us | Contact | Imprint"]))
    (corpus / "web" / "crawl.jsonl").write_text(
        json.dumps({"text": PROSE.replace("grey water", "grey water {and} foam"), "url": "https://a.example/1"}) + "\n"
    )
    return corpus


def _rows(directory: Path) -> list[dict]:
    return [row for path in sorted(directory.glob("*.parquet")) for row in pq.read_table(path).to_pylist()]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One `textshards prepare --write-rejected` run: (output directory, what it printed)."""
    root = tmp_path_factory.mktemp("filters")
    corpus = _corpus(root)
    output = root / "out"
    # The novel and the article share their prose: dedup would remove one; this run is about filters.
    no_dedup = root / "no-dedup.yaml"
    no_dedup.write_text("dedup:\n  exact: false\n  near: false\n")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
            [
                "prepare",
                "--input",
                f"books={corpus}/books/*",
                "--input",
                f"web={corpus}/web/*",
                "--config",
                str(no_dedup),
                "--output",
                str(output),
                "--write-rejected",
                "--",
                *IN_MEMORY,
            ]
        )
    assert code == 0
    return output, printed.getvalue()


def test_each_source_gets_its_steps_and_kept_documents_carry_their_language(run):
    output, _ = run
    docs = {Path(row["id"].split(":")[1]).name: row for row in _rows(output / "docs")}
    assert set(docs) == {"novel.txt", "article.html"}
    assert docs["novel.txt"]["text"] == PROSE
    assert (docs["article.html"]["language"], docs["novel.txt"]["language"]) == ("en", "en")
    assert docs["article.html"]["language_score"] > 0.65
    assert (docs["novel.txt"]["container"], docs["article.html"]["kind"]) == ("file", "html")


def test_web_text_loses_its_email_addresses(run):
    output, _ = run
    [article] = [row for row in _rows(output / "docs") if row["id"].endswith("article.html:0")]
    assert "editor@harbour-news.com" not in article["text"] and "email@example.com" in article["text"]


def test_every_drop_is_counted_by_step_and_reason_and_the_funnel_adds_up(run):
    output, _ = run
    stats = json.loads((output / "stats.json").read_text())
    web, books = stats["sources"]["web"], stats["sources"]["books"]
    assert web["dropped"] == {"language.not_allowed": 1, "gopher_quality.word_count": 1, "c4.curly_bracket": 1}
    assert web["pii"] == {"email": 1}
    assert web["languages"]["en"] == 3 and web["languages"]["de"] == 1
    assert (
        web["documents_read"],
        web["documents_after_clean"],
        web["documents_after_filter"],
        web["documents_out"],
    ) == (4, 4, 1, 1)
    assert books["documents_after_filter"] == books["documents_out"] == 1 and "dropped" not in books
    for counts in (web, books):
        assert counts["documents_read"] == counts["documents_out"] + sum(counts.get("dropped", {}).values())
        assert counts["bytes_after_filter"] == counts["bytes_out"] <= counts["bytes_after_clean"]


def test_the_funnel_is_printed_per_source_after_each_step(run):
    _, printed = run
    header, columns, books, web, total = printed.splitlines()[:5]
    assert header.split() == ["read", "after", "clean", "after", "filter", "after", "dedup"]
    assert books.split()[:8] == ["books", "1", "1", books.split()[3], "1", books.split()[5], "1", books.split()[7]]
    assert web.split()[0:3] == ["web", "4", "4"] and web.split()[6] == "1"
    assert "language.not_allowed=1" in printed and "pii.email=1" in printed


def test_rejected_documents_keep_their_text_and_reason_for_inspection(run, capsys):
    output, _ = run
    rejected = {Path(row["id"].split(":")[1]).name: row for row in _rows(output / "rejected")}
    assert {name: row["reason"] for name, row in rejected.items()} == {
        "german.html": "language.not_allowed",
        "menu.html": "gopher_quality.word_count",
        "crawl.jsonl": "c4.curly_bracket",
    }
    assert rejected["german.html"]["language"] == "de" and "Fischerboote" in rejected["german.html"]["text"]

    assert main(["inspect", "rejected", str(output)]) == 0
    summary = capsys.readouterr().out
    assert "3 rejected documents" in summary and "c4.curly_bracket" in summary
    assert main(["inspect", "rejected", str(output), "--reason", "language"]) == 0
    shown = capsys.readouterr().out
    assert "1 rejected documents with reason language" in shown and "Fischerboote" in shown
    assert main(["inspect", "rejected", str(output), "--reason", "gopher_quality.word_count"]) == 0
    shown = capsys.readouterr().out
    assert "menu.html" in shown and "crawl.jsonl" not in shown and "german.html" not in shown


def test_a_run_without_rejected_output_leaves_no_stale_rejected_documents(run, capsys):
    output, _ = run
    corpus = output.parent / "corpus"
    config = Config(inputs=[InputSpec("web", f"{corpus}/web/*")], output=str(output))
    config.dedup.exact = config.dedup.near = False  # as in `run`: the subject is the filters' rejected/
    run_prepare(config, IN_MEMORY)
    assert (output / "rejected").is_dir() and not list((output / "rejected").iterdir())
    assert main(["inspect", "rejected", str(output)]) == 0
    assert "no rejected documents" in capsys.readouterr().out
