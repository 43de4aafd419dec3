"""Language identification: offline fastText model, allow-list and score threshold, real pages."""

import pytest

from tests.helpers import PROSE, corpus_file_text
from transforms.langid import LanguageConfig, LanguageFilter, LanguageIdentifier, bundled_model_path

GERMAN = (
    "Die Fischerboote kamen am Abend in den Hafen zurück. Die Möwen folgten ihnen über das graue "
    "Wasser, und die Männer an Deck waren zu müde, um über das Wetter zu sprechen."
)
HTML = "web/html/adbar__trafilatura/tests/"


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


def test_the_model_ships_inside_an_installed_package():
    assert bundled_model_path().endswith("lid.176.ftz")


def test_english_and_german_prose_are_told_apart(identifier):
    language, score = identifier.identify(PROSE)
    assert language == "en" and score > 0.9
    assert identifier.identify(GERMAN)[0] == "de"


def test_only_the_first_max_chars_characters_are_judged():
    english_then_german = PROSE + "\n\n" + GERMAN * 20
    assert LanguageIdentifier(max_chars=len(PROSE)).identify(english_then_german)[0] == "en"
    assert LanguageIdentifier(max_chars=10 * len(english_then_german)).identify(english_then_german)[0] == "de"


def test_a_user_supplied_fasttext_model_path_is_loaded(identifier):
    own = LanguageIdentifier(model_path=bundled_model_path())
    assert own.identify(GERMAN) == identifier.identify(GERMAN)
    with pytest.raises(Exception):
        LanguageIdentifier(model_path="/nonexistent/lid.176.bin")


def test_the_step_stores_language_and_score_and_applies_the_allow_list(identifier):
    step = LanguageFilter(LanguageConfig(), identifier)
    kept = step.keep(PROSE)
    assert kept.keep and kept.columns["language"] == "en" and kept.columns["language_score"] > 0.9
    assert kept.counts == {"languages.en": 1}
    dropped = step.keep(GERMAN)
    assert dropped.reason == "language.not_allowed" and dropped.columns["language"] == "de"
    assert LanguageFilter(LanguageConfig(allowed=["en", "de"]), identifier).keep(GERMAN).keep
    assert LanguageFilter(LanguageConfig(allowed=[]), identifier).keep(GERMAN).keep


def test_a_score_below_the_threshold_drops_even_an_allowed_language(identifier):
    unsure = LanguageFilter(LanguageConfig(min_score=1.0), identifier).keep(PROSE)
    assert unsure.reason == "language.low_score" and unsure.columns["language"] == "en"
    menu = LanguageFilter(LanguageConfig(), identifier).keep("Home | About | Contact")
    assert menu.reason == "language.low_score" and menu.columns["language_score"] < 0.65


@pytest.mark.parametrize(
    "page, language",
    [
        ("cache/vancouversun.com.microsoft.html", "en"),
        ("cache/adac.de.kindersitze.html", "de"),
        ("eval/arteradio.com-nuls.html", "fr"),
        ("eval/Eurostat_ Polska z najniższym bezrobociem w całej UE.html", "pl"),
        ("eval/24horas.cl-segundo.html", "es"),
        ("eval/brasil247.com-militares.html", "pt"),
        ("eval/lastampa.it.temperature.html", "it"),
        ("eval/tine.no.fotballskole.html", "no"),
        ("eval/assabah.com.tn.article.html", "ar"),
        # <html lang="en">, but the article is German: the page's label is wrong, not the model.
        ("cache/befifty.montauk.html", "de"),
    ],
)
def test_real_pages_in_ten_languages(identifier, corpora, page, language):
    text = corpus_file_text(corpora, HTML + page, "html")
    assert identifier.identify(text)[0] == language
