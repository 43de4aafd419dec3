"""Quality filters: one small class per rule family, each a pure function of a document's text.

    base.py               Verdict and the `keep(text) -> Verdict` contract
    text.py               words, lines, paragraphs, duplicates: measured once for every family
    gopher_quality.py     Gopher (Rae et al. 2021): does it look like prose?
    gopher_repetition.py  Gopher: is it repeating itself? (and book_repetition: with thresholds for books)
    c4.py                 C4 (Raffel et al. 2020): line rules, boilerplate, code, placeholders
    fineweb.py            FineWeb (Penedo et al. 2024): line structure of web text
    stage.py              steps per source, `filter_document`, the steps built once per worker

Language identification (transforms/langid.py) and PII redaction (transforms/pii.py) are
steps with the same contract. docs/filters.md explains the choices and shows the figures.
"""

from transforms.filters.base import KEEP, Filter, Verdict

__all__ = ["KEEP", "Filter", "Verdict"]
