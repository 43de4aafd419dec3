"""strip_gutenberg: every marker style in the real corpora, the c-w/gutenberg reference texts as
answer key, and no licence text left behind in any book."""

import re
from collections import Counter
from pathlib import Path

import pytest

from transforms.clean import CleanConfig, clean_document
from transforms.encoding import decode_bytes
from transforms.gutenberg import StrippedBook, strip_gutenberg
from transforms.records import RawDocument

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_BOOKS = REPO_ROOT / "examples" / "corpus" / "books"  # the 1992-era Canterbury corpus books
CW_DATA = "books/c-w__gutenberg/tests/data"
RU_BOOKS = "books/RU-ECE__ECE451-Parallel/data/books"
NEWS_FROM_NOWHERE = (
    "books/GITenberg__News-from-Nowhere--Or-An-Epoch-of-Rest--13-Being-Some-Chapters-from-a-Utopian-Romance_3261"
)
REFERENCE_IDS = ("10089", "1013", "33956", "39397")
# Books under corpora/books that carry no Gutenberg boilerplate (SOURCES.md, "Boilerplate").
NOT_GUTENBERG = {
    *(f"{CW_DATA}/clean-texts/{book_id}" for book_id in REFERENCE_IDS),
    "books/karpathy__char-rnn/data/tinyshakespeare/input.txt",
    f"{RU_BOOKS}/The-Call-of-Cthulhu.txt",
    f"{RU_BOOKS}/French/Le-tour-du-mond-quatre-vingts-jours.txt",
}
# Phrases of the PG header, footer and licence that no book body in the corpora contains
# (checked: "donations" and "END OF TH" do occur in bodies, so they are not here).
LICENCE_PHRASES = (
    "Project Gutenberg-tm",
    "Project Gutenberg License",
    "START OF THE PROJECT GUTENBERG",
    "START OF THIS PROJECT GUTENBERG",
    "END OF THE PROJECT GUTENBERG",
    "END OF THIS PROJECT GUTENBERG",
    "End of Project Gutenberg",
    "THE SMALL PRINT",
    "Section 5.",
    "Gutenberg Literary Archive Foundation",
    "This eBook is for the use of anyone anywhere",
    "Character set encoding",
    "Distributed Proofread",
    "pgdp.net",
    "gutenberg.org",
)
# Reference texts are whitespace-identical to our output today; the margin allows a few lines.
MIN_REFERENCE_JACCARD = 0.99


def read_book(path: Path) -> str:
    """The decoded text of one book file, decoded as the pipeline decodes it."""
    return decode_bytes(path.read_bytes()).text


def word_shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """The set of n-word shingles of `text`, lower-cased and split on whitespace."""
    words = text.lower().split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@pytest.fixture(scope="module")
def books(corpora) -> dict[str, tuple[str, StrippedBook]]:
    """Every file under corpora/books, by its path relative to corpora: (text, stripped)."""
    result = {}
    for path in sorted((corpora / "books").rglob("*")):
        if path.is_file():
            text = read_book(path)
            result[path.relative_to(corpora).as_posix()] = (text, strip_gutenberg(text))
    return result


def mini_book(start_marker: str, end_marker: str, credit: str = "Produced by A. Volunteer") -> str:
    """A short book shaped like a 2008 PG release around the body 'It was a dark night.'"""
    return (
        "The Project Gutenberg EBook of Night, by Anon\n\n"
        "This eBook is for the use of anyone anywhere at no cost.\n\n"
        f"{start_marker}\n\n\n\n{credit}\n\n\n\n\nNIGHT\n\nIt was a dark night.\n\n\n\n"
        "End of the Project Gutenberg EBook of Night, by Anon\n\n"
        f"{end_marker}\n\n***** This file should be named 1-0.txt *****\n"
        "Section 5.  General Information About Project Gutenberg-tm electronic works.\n"
    )


# --- behaviour on small hand-made texts ---------------------------------------------------


@pytest.mark.parametrize(
    "start_marker, end_marker",
    [
        ("*** START OF THIS PROJECT GUTENBERG EBOOK NIGHT ***", "*** END OF THIS PROJECT GUTENBERG EBOOK NIGHT ***"),
        ("*** START OF THE PROJECT GUTENBERG EBOOK NIGHT ***", "*** END OF THE PROJECT GUTENBERG EBOOK NIGHT ***"),
        ("***START OF THE PROJECT GUTENBERG EBOOK NIGHT***", "***END OF THE PROJECT GUTENBERG EBOOK NIGHT***"),
        (
            "***START OF THE PROJECT GUTENBERG EBOOK NIGHT AND\nOTHER DARK TALES***",
            "***END OF THE PROJECT GUTENBERG EBOOK NIGHT AND\nOTHER DARK TALES***",
        ),
        ("*** START OF THIS PROJECT GUTENBERG EBOOK\nNIGHT ***", "*** END OF THIS PROJECT GUTENBERG EBOOK\nNIGHT ***"),
        (
            "*** START OF THE PROJECT GUTENBERG EBOOK, NIGHT ***",
            "            *** END OF THE PROJECT GUTENBERG EBOOK, NIGHT ***",
        ),
    ],
    ids=["this", "the", "no-spaces", "wrapped-title", "wrapped-after-ebook", "comma-and-indented-end"],
)
def test_every_marker_spelling_leaves_only_the_body(start_marker, end_marker):
    stripped = strip_gutenberg(mini_book(start_marker, end_marker))
    assert stripped == StrippedBook("NIGHT\n\nIt was a dark night.", "markers")


@pytest.mark.parametrize(
    "credit",
    [
        "Produced by Judy Boss, John Hamm and David Widger",
        "E-text prepared by Ted Garvin and Project Gutenberg\nDistributed Proofreaders",
        "Transcribed from the 1908 Longmans, Green, and Co. edition by David\nPrice, email ccx074@pglaf.org",
        "This Project Gutenberg Etext was prepared by Barry Haworth.",
        "Produced by Carlo Traverso\n\n***\n\nWe thank the Bibliotheque Nationale de France for\nthe image files at www://gallica.bnf.fr",
        "Note: Project Gutenberg also has an HTML version of this\n"
        "      file which includes the original illustrations.",
    ],
    ids=["produced-by", "e-text-prepared", "transcribed-from", "etext-prepared", "scan-thanks", "pg-note"],
)
def test_producer_credits_after_the_start_marker_are_removed(credit):
    book = mini_book(
        "*** START OF THIS PROJECT GUTENBERG EBOOK NIGHT ***",
        "*** END OF THIS PROJECT GUTENBERG EBOOK NIGHT ***",
        credit,
    )
    assert strip_gutenberg(book).text == "NIGHT\n\nIt was a dark night."


def test_transcribers_note_opening_the_body_is_kept():
    note = "Transcriber's Note: Obvious typographical errors have been corrected."
    book = mini_book(
        "*** START OF THIS PROJECT GUTENBERG EBOOK NIGHT ***",
        "*** END OF THIS PROJECT GUTENBERG EBOOK NIGHT ***",
        f"Produced by A. Volunteer\n\n{note}",
    )
    assert strip_gutenberg(book).text.startswith(note)


def test_crlf_line_endings_and_a_bom_give_the_same_body():
    book = mini_book(
        "*** START OF THIS PROJECT GUTENBERG EBOOK NIGHT ***", "*** END OF THIS PROJECT GUTENBERG EBOOK NIGHT ***"
    )
    assert strip_gutenberg("\ufeff" + book.replace("\n", "\r\n")) == strip_gutenberg(book)


@pytest.mark.parametrize(
    "text",
    [
        "It was a dark night.\r\nThe end of the project came soon.\r\n",
        "\ufeffCHAPTER I\n\nHe read the Project Gutenberg edition of Milton.\n",
        "",
    ],
    ids=["crlf-prose", "bom-and-mention", "empty"],
)
def test_text_without_boilerplate_comes_back_unchanged(text):
    assert strip_gutenberg(text) == StrippedBook(text, "none")


def test_footer_without_header_is_still_cut():
    text = "NIGHT\n\nIt was a dark night.\n\nEnd of Project Gutenberg's Night, by Anon\n\nlicence ..."
    assert strip_gutenberg(text) == StrippedBook("NIGHT\n\nIt was a dark night.", "footer_only")


def test_an_html_edition_with_marked_code_loses_the_blocks_holding_its_header_and_footer():
    # As clean.code_blocks: mark writes a PG HTML edition: the header and footer are <pre> blocks.
    poem = "```\nThe night is dark,\n  the night is long.\n```"
    edition = (
        "```\nThe Project Gutenberg EBook of Night, by Anon\n\n"
        "*** START OF THIS PROJECT GUTENBERG EBOOK NIGHT ***\n\nProduced by A. Volunteer\n```\n\n"
        f"NIGHT\n\nIt was a dark night.\n\n{poem}\n\n"
        "```\nEnd of the Project Gutenberg EBook of Night, by Anon\n\n"
        "*** END OF THIS PROJECT GUTENBERG EBOOK NIGHT ***\n\nSection 5.  General Information\n```"
    )
    assert strip_gutenberg(edition) == StrippedBook(f"NIGHT\n\nIt was a dark night.\n\n{poem}", "markers")


def test_a_book_whose_whole_edition_is_one_marked_block_keeps_the_body_inside_it():
    # An HTML edition that is the plain-text book in one <pre>: the body is the text between the markers.
    book = mini_book(
        "*** START OF THE PROJECT GUTENBERG EBOOK NIGHT ***", "*** END OF THE PROJECT GUTENBERG EBOOK NIGHT ***"
    )
    edition = f"```\n{book}```"
    assert strip_gutenberg(edition) == StrippedBook("NIGHT\n\nIt was a dark night.", "markers")
    # the book in one <pre>, the footer after it: a block that long is the book, not the header's
    long_body = "It was a dark night.\n" * 2_000
    edition = edition.replace("It was a dark night.\n", f"{long_body}```\n\n", 1)
    assert strip_gutenberg(edition).text.startswith(f"NIGHT\n\n{long_body}")


def test_2001_small_print_header_and_single_footer_line():
    text = (
        "Project Gutenberg Etext of Night, by Anon\n\n**Welcome To The World of Free Plain Vanilla"
        " Electronic Texts**\n\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n\n"
        "This etext was produced by A. Volunteer\n\n\nNIGHT\n\nIt was a dark night.\n\n\n"
        "End of Project Gutenberg Etext of Night, by Anon\n"
    )
    assert strip_gutenberg(text) == StrippedBook("NIGHT\n\nIt was a dark night.", "old_etext_header")


def test_1992_introduction_runs_to_its_last_paragraph_naming_project_gutenberg():
    text = (
        "This is the February 1992 Project Gutenberg release of:\n\nNight by Anon\n\n"
        "Introduction (one page)\n\nThe original was probably entered on cards.\n\n"
        "This is the second version of Night released by Project\nGutenberg.\n\n\n"
        "Night\n\nIt was a dark night.\n"
    )
    assert strip_gutenberg(text) == StrippedBook("Night\n\nIt was a dark night.", "old_etext_header")


def test_small_print_in_the_footer_of_a_short_book_does_not_end_the_header():
    book = mini_book(
        "*** START OF THIS PROJECT GUTENBERG EBOOK NIGHT ***", "*** END OF THIS PROJECT GUTENBERG EBOOK NIGHT ***"
    )
    book += "*END THE SMALL PRINT! FOR PUBLIC DOMAIN EBOOKS*Ver.02/11/02*END*\n"
    assert strip_gutenberg(book).text == "NIGHT\n\nIt was a dark night."


# --- real books ---------------------------------------------------------------------------


@pytest.mark.parametrize("book_id", REFERENCE_IDS)
def test_stripped_raw_book_matches_its_clean_reference(books, book_id):
    raw, stripped = books[f"{CW_DATA}/raw-texts/{book_id}"]
    reference, _ = books[f"{CW_DATA}/clean-texts/{book_id}"]
    similarity = jaccard(word_shingles(stripped.text), word_shingles(reference))
    assert similarity >= MIN_REFERENCE_JACCARD, f"{book_id}: word-5-shingle Jaccard {similarity:.4f}"
    assert jaccard(word_shingles(raw), word_shingles(reference)) < similarity


def test_every_gutenberg_book_is_recognised_and_others_come_back_unchanged(books):
    for name, (text, stripped) in books.items():
        if name in NOT_GUTENBERG:
            assert stripped == StrippedBook(text, "none"), name
        else:
            assert stripped.method in ("markers", "old_etext_header"), name
            assert len(stripped.text) < len(text), name


def licence_phrases_in(text: str) -> set[str]:
    lowered = text.lower()
    return {phrase for phrase in LICENCE_PHRASES if phrase.lower() in lowered}


def test_no_licence_text_remains_in_any_stripped_book(books):
    in_raw = set().union(*(licence_phrases_in(text) for text, _ in books.values()))
    assert in_raw == set(LICENCE_PHRASES), "every phrase must be real licence text of some book"
    leftovers = {name: licence_phrases_in(stripped.text) for name, (_, stripped) in books.items()}
    assert {name: found for name, found in leftovers.items() if found} == {}


def test_the_2001_etext_strips_to_the_same_body_as_the_2007_release(books):
    old_text, old = books[f"{NEWS_FROM_NOWHERE}/old/nwsnw10.txt"]
    _, new = books[f"{NEWS_FROM_NOWHERE}/3261.txt"]
    assert old.method == "old_etext_header"
    assert old.text.startswith("NEWS FROM NOWHERE")
    assert old.text.endswith("{3}  Cirencester and Burford he must have meant.")
    assert new.text.endswith("{3}  Cirencester and Burford he must have meant.")
    # Same words, wrapped differently: only the few edition-specific lines differ.
    assert jaccard(word_shingles(old.text), word_shingles(new.text)) > 0.95


def test_unrelated_short_books_share_no_shingles_once_licence_is_gone(books):
    proposal_raw, proposal = books[f"{RU_BOOKS}/pg1080.txt"]
    magi_raw, magi = books[f"{RU_BOOKS}/pg7256.txt"]
    assert jaccard(word_shingles(proposal_raw), word_shingles(magi_raw)) > 0.3  # SOURCES.md: 0.33
    assert jaccard(word_shingles(proposal.text), word_shingles(magi.text)) < 0.001


# --- 1992-era etexts of the demo corpus (Canterbury corpus) --------------------------------


def demo_book(name: str) -> str:
    path = DEMO_BOOKS / name
    if not path.is_file():
        pytest.skip(f"{path} missing: build it with scripts/build_demo_corpus.py")
    return read_book(path)


@pytest.mark.parametrize("name", ["alice29.txt", "asyoulik.txt"])
def test_demo_books_without_a_pg_header_come_back_unchanged(name):
    text = demo_book(name)
    assert strip_gutenberg(text) == StrippedBook(text, "none")


def test_paradise_lost_1992_introduction_is_removed():
    stripped = strip_gutenberg(demo_book("plrabn12.txt"))
    assert stripped.method == "old_etext_header"
    assert stripped.text.startswith("Paradise Lost")
    assert "etext" not in stripped.text.lower()
    assert stripped.text.endswith("[The End]")


def test_workshop_proceedings_lose_their_etext_title_and_footer_lines():
    stripped = strip_gutenberg(demo_book("lcet10.txt"))
    assert stripped.method == "old_etext_header"
    assert stripped.text.lstrip().startswith("WORKSHOP ON ELECTRONIC TEXTS")
    assert "project gutenberg" not in stripped.text.lower()
    assert stripped.text.endswith("[A few of the italics (when used for emphasis) were replaced by CAPS mh]")


def test_html_editions_hold_the_text_of_their_plain_text_edition_and_no_licence(corpora):
    # News from Nowhere in both editions: the plain-text one's body is the full reference.
    def cleaned(path: str, kind: str) -> str:
        return clean_document(RawDocument("s", "/p", 0, kind, (corpora / path).read_bytes()), CleanConfig())["text"]

    html = cleaned(f"web/html/{NEWS_FROM_NOWHERE.removeprefix('books/')}/3261-h/3261-h.htm", "html")
    words_html, words_text = words(html), words(cleaned(f"{NEWS_FROM_NOWHERE}/3261.txt", "text"))
    shared = sum((words_html & words_text).values())
    assert shared / sum(words_text.values()) > 0.99 and shared / sum(words_html.values()) > 0.99
    dutch = cleaned("web/html/GITenberg__Ontboezemingen_24675/24675-h/24675-h.htm", "html")
    assert licence_phrases_in(html) == licence_phrases_in(dutch) == set()
    assert html.startswith("NEWS FROM NOWHERE\nor\n") and "\n\nCHAPTER II: A MORNING BATH\n\n" in html


def words(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.casefold()))
