"""Gopher's quality and repetition rules: each rule on hand-written edge cases, then real documents."""

import dataclasses
import re

import pytest

from tests.helpers import CC_JSONL, PROSE, corpus_file_text, corpus_jsonl_text, corpus_jsonl_texts
from transforms.filters import KEEP, Verdict
from transforms.filters.gopher_quality import GopherQuality, GopherQualityConfig, _WordMeasures
from transforms.filters.gopher_repetition import BookRepetition, GopherRepetition, GopherRepetitionConfig, WordNgrams
from transforms.filters.text import PUNCTUATION

QUALITY = GopherQuality()
REPETITION = GopherRepetition()
BOOK_REPETITION = BookRepetition()


def _numbered_words(n: int) -> str:
    """n distinct words with the two stop words Gopher asks for, as one sentence."""
    return "the and " + " ".join(f"word{i:04d}x" for i in range(n - 2)) + "."


# ---------------------------------------------------------------------------
# Quality


def test_prose_is_kept_by_both_families():
    assert QUALITY.keep(PROSE) == KEEP
    assert REPETITION.keep(PROSE) == KEEP


def test_word_count_bounds_are_inclusive():
    assert QUALITY.keep(_numbered_words(50)) == KEEP
    assert QUALITY.keep(_numbered_words(49)) == Verdict(False, "gopher_quality.word_count")
    bounded = GopherQuality(GopherQualityConfig(max_words=60))
    assert bounded.keep(_numbered_words(60)) == KEEP
    assert bounded.keep(_numbered_words(61)).reason == "gopher_quality.word_count"
    assert GopherQuality(GopherQualityConfig(max_words=0)).keep("the and " + "novel " * 120_000) == KEEP


def test_mean_word_length_ignores_surrounding_punctuation():
    short = "the and " + " ".join(["a b c d"] * 15)
    assert QUALITY.keep(short).reason == "gopher_quality.mean_word_length"
    long = "the and " + " ".join(f"incomprehensibilities{i}" for i in range(60))
    assert QUALITY.keep(long).reason == "gopher_quality.mean_word_length"
    # "cat." and "(dog)" are words of 3 letters, not 4 and 5: still inside 3..10.
    quoted = "the and " + " ".join(f"({w}) {w}." for w in ["cat", "dog", "owl", "elk", "ant"] * 6)
    assert QUALITY.keep(quoted) == KEEP


@pytest.mark.parametrize("symbol", ["#", "...", "…"])
def test_hash_or_ellipsis_per_word_above_one_in_ten_drops(symbol):
    words = _numbered_words(100)[:-1].split()
    at_limit = " ".join(w + (symbol if i % 10 == 0 else "") for i, w in enumerate(words)) + "."
    assert QUALITY.keep(at_limit) == KEEP  # 10 per 100 words is 0.1, not above it
    over = " ".join(w + (symbol if i % 9 == 0 else "") for i, w in enumerate(words)) + "."
    assert QUALITY.keep(over) == Verdict(False, "gopher_quality.symbol_ratio")


def test_mostly_bullet_lines_drop_but_a_list_inside_prose_does_not():
    bullets = "\n".join(f"• the and item number{i} is here" for i in range(20))
    assert QUALITY.keep(bullets).reason == "gopher_quality.bullet_lines"
    with_list = PROSE + "\n\n" + "\n".join(f"- point{i} of the list" for i in range(5))
    assert QUALITY.keep(with_list) == KEEP


def test_lines_ending_in_ellipsis_drop_above_thirty_percent():
    lines = [f"The and line number{i} goes on with more words" for i in range(10)]
    teaser = "\n".join(line + ("…" if i < 4 else ".") for i, line in enumerate(lines))
    assert QUALITY.keep(teaser).reason == "gopher_quality.ellipsis_lines"
    fine = "\n".join(line + ("..." if i < 3 else ".") for i, line in enumerate(lines))
    assert QUALITY.keep(fine) == KEEP


def test_words_without_letters_drop_tables_of_numbers():
    table = "the and results:\n" + "\n".join(f"{i + 1000} {i * 7919} {i * 104729}.25" for i in range(30))
    assert QUALITY.keep(table).reason == "gopher_quality.alpha_words"


def test_two_distinct_stop_words_in_any_case_are_needed():
    words = " ".join(f"term{i}y" for i in range(60))
    assert QUALITY.keep(words + " The the THE.").reason == "gopher_quality.stop_words"
    assert QUALITY.keep("THE " + words + " And.") == KEEP
    assert QUALITY.keep("other " + words + " bandwidth").reason == "gopher_quality.stop_words"


# ---------------------------------------------------------------------------
# Repetition


def test_a_repeated_line_counts_once_the_first_copy_being_the_original():
    lines = [sentence.strip() + "." for sentence in PROSE.replace("\n\n", " ").split(".") if sentence.strip()]
    lines.append("Nobody in the village slept well until the last boat was tied up.")
    assert len(lines) == 7
    three_repeats = "\n".join(lines + lines[:3])  # 3 of 10 lines repeat: 0.3 is not above 0.3
    only_line_counts = {
        f.name: 1.0 for f in dataclasses.fields(GopherRepetitionConfig) if f.name != "max_duplicate_line_fraction"
    }
    relaxed = GopherRepetition(GopherRepetitionConfig(**only_line_counts))
    assert relaxed.keep(three_repeats) == KEEP
    assert relaxed.keep("\n".join(lines + lines[:4])).reason == "gopher_repetition.duplicate_lines"


def test_repeated_paragraphs_and_their_characters():
    paragraphs = PROSE.split("\n\n")
    assert (
        REPETITION.keep("\n\n".join(paragraphs + paragraphs[:2])).reason == "gopher_repetition.duplicate_paragraphs"
    )  # 2 of 5 repeat
    many = "\n\n".join(f"Paragraph {i} of the notice." for i in range(9))
    long_repeat = many + "\n\n" + paragraphs[2] + "\n\n" + paragraphs[2]  # 1 of 11 repeats, but long
    assert REPETITION.keep(long_repeat).reason == "gopher_repetition.duplicate_paragraph_chars"


def test_the_most_frequent_two_gram_may_cover_a_fifth_of_the_characters():
    words = PROSE.split()
    stuffed = " ".join(w + (" buy now" if i % 4 == 0 else "") for i, w in enumerate(words))
    assert REPETITION.keep(stuffed).reason == "gopher_repetition.top_2gram"


def test_duplicated_five_grams_drop_a_text_that_repeats_a_passage():
    first = PROSE.split("\n\n")[0]
    echoed = PROSE.replace("\n\n", " ") + " " + first
    assert (
        GopherRepetition(GopherRepetitionConfig(max_duplicate_paragraph_fraction=1)).keep(echoed).reason
        == "gopher_repetition.duplicate_5gram"
    )


def test_ngram_characters_are_counted_once_where_repeats_overlap():
    ngrams = WordNgrams("a b c d e a b c d e")
    assert ngrams.top_char_fraction(2) == pytest.approx(0.4)  # "a b" twice: 4 of 10 characters
    assert ngrams.duplicate_char_fraction(5) == pytest.approx(0.5)  # the second "a b c d e" only
    same = WordNgrams(" ".join(["ha"] * 10))
    assert same.top_char_fraction(2) == 1.0  # overlapping "ha ha" occurrences cover each word once
    assert WordNgrams("every word here differs").top_char_fraction(2) == 0.0
    assert WordNgrams("").duplicate_char_fraction(5) == 0.0


def test_ngram_sizes_must_be_asked_in_increasing_order():
    ngrams = WordNgrams("a b c")
    ngrams.hashes(3)
    with pytest.raises(ValueError):
        ngrams.hashes(2)


# ---------------------------------------------------------------------------
# Real documents


def test_a_book_index_is_not_prose(corpora):
    index = corpus_file_text(corpora, "books/RU-ECE__ECE451-Parallel/data/books/pg28860.txt", "text")
    assert QUALITY.keep(index).reason == "gopher_quality.alpha_words"


def test_a_novel_passes_every_gopher_rule_but_the_web_word_limit(corpora):
    moby_dick = corpus_file_text(corpora, "books/c-w__gutenberg/tests/data/raw-texts/2701", "text")
    assert REPETITION.keep(moby_dick) == KEEP
    assert QUALITY.keep(moby_dick).reason == "gopher_quality.word_count"  # 212,000 words > 100,000
    assert GopherQuality(GopherQualityConfig(max_words=0)).keep(moby_dick) == KEEP


def test_a_real_news_article_is_kept(corpora):
    article = corpus_file_text(
        corpora, "web/html/adbar__trafilatura/tests/cache/vancouversun.com.microsoft.html", "html"
    )
    assert QUALITY.keep(article) == KEEP and REPETITION.keep(article) == KEEP


def test_a_real_spam_page_repeats_its_keywords(corpora):
    spam = corpus_jsonl_text(corpora, CC_JSONL, 47)
    assert REPETITION.keep(spam).reason == "gopher_repetition.top_2gram"


def _word_measures_word_by_word(text: str) -> tuple[int, int, int]:
    """(bare words, their characters, words with a letter) as the paper reads them, one word at a time."""
    bare = [word.strip(PUNCTUATION) for word in text.split()]
    with_letter = sum(1 for word in text.split() if re.search(r"[^\W\d_]", word))
    return len(bare) - bare.count(""), sum(map(len, bare)), with_letter


def test_word_measures_equal_a_word_by_word_reading_of_real_and_odd_text(corpora):
    from transforms.clean import CleanConfig, clean_document
    from transforms.records import RawDocument

    texts = [
        "“Don’t” — 1990s, 3.5%, ... ‘x’ « oui » 10 000 ² ½ _ __init__ Ωμέγα 東京 ١٢٣ -- !!! a",
        corpus_file_text(corpora, "books/RU-ECE__ECE451-Parallel/data/books/pg28860.txt", "text"),  # an index
        corpus_file_text(corpora, "books/c-w__gutenberg/tests/data/raw-texts/2701", "text"),  # 212,000 words
    ]
    for name, text in corpus_jsonl_texts(corpora):
        cleaned = clean_document(RawDocument("test", name, 0, "text", text), CleanConfig())
        texts.append(cleaned["text"] if isinstance(cleaned, dict) else text)
    for text in texts:
        measured = _WordMeasures.of(text)
        assert (measured.bare_words, measured.bare_chars, measured.with_letter) == _word_measures_word_by_word(text)
    assert len(texts) > 700


# ---------------------------------------------------------------------------
# Books: repetition thresholds for genuine text (BookRepetitionConfig)

# Psalm 136, King James Version (public domain): every verse ends in the same refrain.
PSALM_136 = (
    "O give thanks unto the LORD; for he is good: for his mercy endureth for ever.\n"
    "O give thanks unto the God of gods: for his mercy endureth for ever.\n"
    "O give thanks to the Lord of lords: for his mercy endureth for ever.\n"
    "To him who alone doeth great wonders: for his mercy endureth for ever.\n"
    "To him that by wisdom made the heavens: for his mercy endureth for ever.\n"
    "To him that stretched out the earth above the waters: for his mercy endureth for ever.\n"
    "To him that made great lights: for his mercy endureth for ever:\n"
    "The sun to rule by day: for his mercy endureth for ever:\n"
    "The moon and stars to rule by night: for his mercy endureth for ever.\n"
    "To him that smote Egypt in their firstborn: for his mercy endureth for ever:\n"
    "And brought out Israel from among them: for his mercy endureth for ever:\n"
    "With a strong hand, and with a stretched out arm: for his mercy endureth for ever.\n"
    "To him which divided the Red sea into parts: for his mercy endureth for ever:\n"
    "And made Israel to pass through the midst of it: for his mercy endureth for ever:\n"
    "But overthrew Pharaoh and his host in the Red sea: for his mercy endureth for ever.\n"
    "To him which led his people through the wilderness: for his mercy endureth for ever.\n"
    "To him which smote great kings: for his mercy endureth for ever:\n"
    "And slew famous kings: for his mercy endureth for ever:\n"
    "Sihon king of the Amorites: for his mercy endureth for ever:\n"
    "And Og the king of Bashan: for his mercy endureth for ever:\n"
    "And gave their land for an heritage: for his mercy endureth for ever:\n"
    "Even an heritage unto Israel his servant: for his mercy endureth for ever.\n"
    "Who remembered us in our low estate: for his mercy endureth for ever:\n"
    "And hath redeemed us from our enemies: for his mercy endureth for ever.\n"
    "Who giveth food to all flesh: for his mercy endureth for ever.\n"
    "O give thanks unto the God of heaven: for his mercy endureth for ever."
)


def test_a_psalm_with_a_refrain_is_kept_as_a_book_but_not_as_a_web_page():
    assert REPETITION.keep(PSALM_136).reason == "gopher_repetition.top_2gram"
    assert WordNgrams(PSALM_136).duplicate_char_fraction(5) > 0.5  # more than a whole second copy
    assert BOOK_REPETITION.keep(PSALM_136) == KEEP


def test_the_most_repetitive_real_book_is_kept_and_a_book_holding_its_text_twice_is_not(corpora):
    plays = corpus_file_text(corpora, "books/karpathy__char-rnn/data/tinyshakespeare/input.txt", "text")
    assert BOOK_REPETITION.keep(plays) == KEEP  # 22% of its lines are repeated speaker names
    proposal = corpus_file_text(corpora, "books/RU-ECE__ECE451-Parallel/data/books/pg1080.txt", "text")
    assert BOOK_REPETITION.keep(proposal) == KEEP
    assert BOOK_REPETITION.keep(proposal + "\n\n" + proposal).reason == "book_repetition.duplicate_paragraphs"
