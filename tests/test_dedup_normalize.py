"""Dedup normalisation: what folds away, what stays, and the exact key built on it."""

import pytest

from transforms.dedup.normalize import Normalizer, exact_key
from transforms.dedup.settings import DedupConfig


def _words(text, **config):
    return [w.decode("utf-8") for w in Normalizer(DedupConfig(**config)).words(text)]


def test_case_punctuation_and_spacing_fold_away():
    assert _words("Hello,   WORLD!\n\tIt's  well-known.") == ["hello", "world", "it", "s", "well", "known"]


def test_unicode_punctuation_symbols_and_spaces_separate_words():
    text = "\u201cOui\u201d\u00a0\u2014\u00a0dit-il\u2026 \u00abnon\u00bb\u3000\u4f60\u597d\u3002\u00a9 2024\u20ac"
    assert _words(text) == ["oui", "dit", "il", "non", "\u4f60\u597d", "2024"]


def test_letters_marks_and_joiners_stay_inside_words():
    decomposed = "cafe\u0301"  # e + combining acute
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ is part of the spelling
    assert _words(f"{decomposed} {persian}") == [decomposed, persian]


def test_casefold_is_full_case_folding():
    assert _words("STRASSE Straße") == ["strasse", "strasse"]


def test_each_fold_can_be_turned_off():
    assert _words("Don't STOP", lowercase=False) == ["Don", "t", "STOP"]
    assert _words("don't\u00a0stop \u201cnow\u201d", strip_punctuation=False) == ["don't", "stop", "\u201cnow\u201d"]
    assert _words("in 1999 and \u0661\u0669\u0669\u0669") == ["in", "1999", "and", "\u0661\u0669\u0669\u0669"]
    assert _words("in 1999 and \u0661\u0669\u0669\u0669", fold_digits=True) == ["in", "0000", "and", "0000"]


def test_a_text_without_words_gives_none():
    assert _words("  --- !!! \u2026 \n") == []


@pytest.mark.parametrize(
    "other, same",
    [
        ("the quick, brown fox.", True),
        ("THE QUICK BROWN FOX", True),
        ("the\u00a0quick\n\nbrown \u2014 fox!", True),
        ("the quick brown fox jumps", False),
        ("the quick brown box", False),
    ],
)
def test_exact_key_ignores_only_what_normalisation_folds(other, same):
    normalizer = Normalizer(DedupConfig())
    base = exact_key(normalizer.words("The quick brown fox"))
    assert (exact_key(normalizer.words(other)) == base) is same
