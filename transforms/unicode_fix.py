r"""`ftfy.fix_text` with a fast path for the text ftfy provably fixes in one cheap pass.

`fix_text(text)` returns exactly `ftfy.fix_text(text)` (default configuration, ftfy 6.3) for
every input. ftfy costs about 2 MB/s because it runs some twenty Python-level calls per
line, twice for every line it changes, mostly to prove that a line needs no mojibake repair.

Why the fast path is exact (all names are ftfy 6.3's):

1. Segmentation. `ftfy.fix_text` cuts the text after each "\n", cuts any longer piece into
   chunks of `max_decode_length` characters, and calls `fix_and_explain` on each segment on
   its own. The only state carried between segments is `unescape_html`: "auto" turns False
   from the first segment that contains "<" onwards. `_segments` reproduces the cuts, and any
   segment the fast path cannot settle goes to `ftfy.fix_and_explain(segment, config)` with
   that same state: the very call ftfy makes. So only the fast path needs an argument.

2. One pass. `fix_and_explain` repeats a pass until the text stops changing. A pass is
   `unescape_html`, then `fix_encoding`, then the character fixers in `_CHARACTER_FIXERS`
   order, then NFC. `unescape_html` only rewrites "&...;" (`HTML_ENTITY_RE`), so it is the
   identity on a segment without "&" or while unescaping is off. `fix_encoding` returns its
   input when `possible_encoding(text, "ascii")` or not `badness.is_bad(text)` (see
   `_fix_encoding_one_step_and_explain`). When both hold for segment S, the first pass is
   exactly `_apply_character_fixers(S)` =: F, which `_fix_in_one_pass` computes with ftfy's
   own functions. If F == S, ftfy stops and returns S. Otherwise ftfy runs a second pass on F,
   which is the identity when: F has no "&" (or unescaping is off); F is ASCII or not
   `is_bad(F)`; F contains no character that any character fixer maps (`_FIXER_CHARS_RE`,
   built from ftfy's own tables: C1 controls, `LIGATURES`, `WIDTH_MAP`, the quote regexes,
   line breaks, surrogates, `CONTROL_CHARS`, which include the ESC that starts every terminal
   escape); and F is NFC, which it is because NFC is idempotent. Then ftfy returns F.

3. A cheap necessary condition for `is_bad`. Every alternative of `badness.BADNESS_RE`
   needs either a character from `_LONE_BAD_CHARS` (C1 controls, "Ã", "Â", "Œ", "œ") or two
   adjacent characters of `_BADNESS_CHARS`, the ~450 non-ASCII characters its character
   classes name (tests/test_unicode_fix.py checks this on the parsed regex); its first
   alternative is a C1 control alone. `_may_be_bad` answers `is_bad` from that: False where
   neither holds, True at a C1 control, and runs `is_bad` only for the rest, so English text
   with isolated curly quotes, German text with isolated umlauts and Cyrillic, Greek, Arabic
   or CJK text (whose letters are not among `_BADNESS_CHARS` but for a few) skip BADNESS_RE,
   which runs at only ~3 MB/s.

4. Settled lines in bulk. Call a line settled when it holds no character any character
   fixer maps except "\r" and the curly quotes `uncurl_quotes` maps, no "&" while unescaping
   is on, and no `_may_be_bad` match. By step 2 ftfy turns a settled segment S into S with
   each curly quote replaced by its ASCII quote and "\r\n" and "\r" by "\n", if that is NFC:
   those are the only fixers that change S, and the result F needs no second pass, because
   it holds no "&", no character a fixer maps, and no `_may_be_bad` match (its non-ASCII
   characters are those of S less the quotes, in the same places). Every segment ends at a
   "\n", so a "\r\n" pair never straddles two segments, quotes are replaced one character
   for one, and NFC never reaches across a "\n" (it has combining class 0 and composes with
   nothing), so `str.replace` calls and one NFC check over a run of settled lines equal the
   per-segment results. A run with a line longer than `max_decode_length` (a cut could fall
   between "\r" and "\n"), or that is not NFC, goes segment by segment instead. Curly quotes
   are on most lines of prose: settling them takes nine `str.replace` calls per run where
   each line holding one took a pass of ftfy's fixers (a fifth of the time on the 50 MB corpus
   of bench/peers_datatrove.py).

The module refuses to import if ftfy's set of fixers differs from the one this argument
covers; tests/test_unicode_fix.py checks the equality on the real corpora.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping

import ftfy
from ftfy import chardata
from ftfy.badness import BADNESS_RE, MOJIBAKE_CATEGORIES, is_bad

# The order of `fix_and_explain`'s fixer loop in ftfy 6.3.
_CHARACTER_FIXER_NAMES = [
    "fix_c1_controls",
    "fix_latin_ligatures",
    "fix_character_width",
    "uncurl_quotes",
    "fix_line_breaks",
    "fix_surrogates",
    "remove_terminal_escapes",
    "remove_control_chars",
]
_FIXERS_COVERED = {
    "unescape_html",
    "remove_terminal_escapes",
    "restore_byte_a0",
    "replace_lossy_sequences",
    "decode_inconsistent_utf8",
    "fix_c1_controls",
    "fix_latin_ligatures",
    "fix_character_width",
    "uncurl_quotes",
    "fix_line_breaks",
    "fix_surrogates",
    "remove_control_chars",
}
if set(ftfy.FIXERS) != _FIXERS_COVERED:
    raise ImportError(
        f"ftfy {getattr(ftfy, '__version__', '?')} has fixers {sorted(ftfy.FIXERS)}; "
        "transforms.unicode_fix proves equivalence only for ftfy 6.3's set"
    )

_CONFIG = ftfy.TextFixerConfig(explain=False)
_CONFIG_NO_UNESCAPE = _CONFIG._replace(unescape_html=False)
_MAX_SEGMENT = _CONFIG.max_decode_length


def _char_class(code_points: set[int]) -> str:
    """A regex character class matching exactly `code_points`."""
    ranges: list[list[int]] = []
    for cp in sorted(code_points):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "[" + "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges) + "]"


def _quote_code_points() -> set[int]:
    """The characters `uncurl_quotes` replaces, read from ftfy's own regexes (all in the BMP)."""
    quote_res = (chardata.SINGLE_QUOTE_RE, chardata.DOUBLE_QUOTE_RE)
    return {cp for cp in range(0x10000) if any(r.match(chr(cp)) for r in quote_res)}


_QUOTES = _quote_code_points()
# Each curly quote and the ASCII quote ftfy puts in its place (step 4 of the module docstring).
_UNCURLED = [(chr(quote), ftfy.fixes.uncurl_quotes(chr(quote))) for quote in sorted(_QUOTES)]
_FIXER_CHARS = (
    set(range(0x80, 0xA0))  # fix_c1_controls; includes U+0085 for fix_line_breaks
    | set(chardata.LIGATURES)
    | set(chardata.WIDTH_MAP)
    | _QUOTES
    | {ord("\r"), 0x2028, 0x2029}  # fix_line_breaks
    | set(range(0xD800, 0xE000))  # fix_surrogates
    | set(chardata.CONTROL_CHARS)  # remove_control_chars; includes ESC for terminal escapes
)
_FIXER_CHARS_RE = re.compile(_char_class(_FIXER_CHARS))

# The table-driven fixers are `str.translate` calls, slow on non-ASCII text; a fixer whose
# table keys do not occur in the text is the identity, so a key search may skip it.
_TRANSLATE_KEYS: dict[str, Mapping[int, object]] = {
    "fix_latin_ligatures": chardata.LIGATURES,
    "fix_character_width": chardata.WIDTH_MAP,
    "remove_control_chars": chardata.CONTROL_CHARS,
}
_CHARACTER_FIXERS = [
    (ftfy.FIXERS[name], re.compile(_char_class(set(_TRANSLATE_KEYS[name]))) if name in _TRANSLATE_KEYS else None)
    for name in _CHARACTER_FIXER_NAMES
]

# Step 3 of the module docstring: a BADNESS_RE match needs one of these or two _BADNESS_CHARS in a row.
# C1 controls and Ã Â Œ œ
_C1_CONTROLS = set(range(0x80, 0xA0))
_LONE_BAD_CHARS = _C1_CONTROLS | {ord(c) for c in "\u00c3\u00c2\u0152\u0153"}


def _badness_chars() -> set[int]:
    """The non-ASCII characters BADNESS_RE's classes name: those of its categories (ranges included) and
    those written in it (all in the BMP; tests/test_unicode_fix.py checks that none is missing)."""
    written = {c for c in BADNESS_RE.pattern if not c.isascii()}
    named = re.compile("[" + "".join(MOJIBAKE_CATEGORIES.values()) + "".join(map(re.escape, written)) + "]")
    return {cp for cp in range(0x80, 0x10000) if named.match(chr(cp))}


_BADNESS_CHARS = _badness_chars()


def _one_bad_or_two_suspect(first: str, lone: set[int]) -> re.Pattern[str]:
    """Regex: a character of class `first` that is in `lone`, or is in _BADNESS_CHARS and followed
    by another character of _BADNESS_CHARS.

    Written as "one character, then look at it" because Python's re scans for a leading
    character class quickly but tries an alternation at every position (8x slower here).
    """
    suspect = _char_class(_BADNESS_CHARS)
    return re.compile(f"{first}(?:(?<={_char_class(lone)})|(?<={suspect}){suspect})")


_MAYBE_BAD_RE = _one_bad_or_two_suspect("[^\\x00-\\x7f]", _LONE_BAD_CHARS)
# What keeps a line from being settled (step 4); the second form also flags "&".
_UNSETTLING = (_FIXER_CHARS - {ord("\r")} - _QUOTES) | _LONE_BAD_CHARS
_UNSETTLED_RE = _one_bad_or_two_suspect("[^\\t\\n\\r\\x20-\\x7e]", _UNSETTLING)
_UNSETTLED_OR_AMP_RE = _one_bad_or_two_suspect("[^\\t\\n\\r\\x20-\\x25\\x27-\\x7e]", _UNSETTLING | {ord("&")})


def fix_text(text: str, unescape_html: bool = True) -> str:
    """Return exactly `ftfy.fix_text(text)` with the default configuration, only faster.

    unescape_html=False: as ftfy fixes `text` where it follows, in a longer text, a "<" (see
    `fix_text_pieces`).
    """
    first_lt = text.find("<") if unescape_html else 0
    # ftfy unescapes HTML in every segment that ends at or before the first "<".
    unescape_until = len(text) if first_lt < 0 else first_lt
    out = []
    pos = 0  # always the start of a line
    while pos < len(text):
        suspect = _find_unsettled(text, pos, unescape_until)
        # The settled run ends where the line holding the unsettled character starts.
        run_end = len(text) if suspect < 0 else max(pos, text.rfind("\n", pos, suspect) + 1)
        if run_end > pos:
            out.append(_fix_settled_run(text, pos, run_end, unescape_until))
        if suspect < 0:
            break
        line_end = text.find("\n", suspect) + 1 or len(text)
        out.extend(_fix_segments(text, run_end, line_end, unescape_until))
        pos = line_end
    return "".join(out)


def fix_text_pieces(text_pieces: Iterable[str]) -> Iterator[str]:
    """`fix_text` of "".join(text_pieces), a piece at a time: each piece but the last must end with
    "\n" (transforms/text_pieces.py). ftfy fixes each line on its own (module docstring, step 1), so
    the pieces' results joined are the whole text's, but for the one state ftfy carries from line
    to line: no HTML is unescaped after the text's first "<"."""
    unescape_html = True
    for piece in text_pieces:
        yield fix_text(piece, unescape_html)
        unescape_html = unescape_html and "<" not in piece


def _find_unsettled(text: str, pos: int, unescape_until: int) -> int:
    """Index of the first character at or after `pos` that keeps its line unsettled; -1 if none.

    "&" counts before `unescape_until`, where ftfy may still unescape HTML.
    """
    if pos < unescape_until:
        match = _UNSETTLED_OR_AMP_RE.search(text, pos, unescape_until)
        if match:
            return match.start()
    match = _UNSETTLED_RE.search(text, max(pos, unescape_until))
    return match.start() if match else -1


def _fix_settled_run(text: str, start: int, end: int, unescape_until: int) -> str:
    """ftfy's result for the settled whole lines text[start:end] (module docstring, step 4)."""
    fixed = text[start:end]
    for quote, uncurled in _UNCURLED:
        if quote in fixed:  # a search is cheaper than a copy: most runs hold two or three kinds of quote
            fixed = fixed.replace(quote, uncurled)
    fixed = fixed.replace("\r\n", "\n").replace("\r", "\n")
    if end - start > _MAX_SEGMENT or not unicodedata.is_normalized("NFC", fixed):
        return "".join(_fix_segments(text, start, end, unescape_until))
    return fixed


def _fix_segments(text: str, start: int, end: int, unescape_until: int):
    """Yield ftfy's result for each segment of the whole lines text[start:end]."""
    for seg_start, seg_end in _segments(text, start, end):
        segment = text[seg_start:seg_end]
        unescape = seg_end <= unescape_until
        fixed = _fix_in_one_pass(segment, unescape)
        if fixed is None:
            config = _CONFIG if unescape else _CONFIG_NO_UNESCAPE
            fixed = ftfy.fix_and_explain(segment, config).text
        yield fixed


def _segments(text: str, start: int, end: int):
    """Yield (start, end) of the segments `ftfy.fix_text` cuts from text[start:end].

    `start` must begin a line: ftfy ends a segment after each "\\n" and cuts longer pieces
    every `max_decode_length` characters counted from the start of the line.
    """
    pos = start
    while pos < end:
        line_end = text.find("\n", pos, end) + 1 or end
        seg_end = min(line_end, pos + _MAX_SEGMENT)
        yield pos, seg_end
        pos = seg_end


def _fix_in_one_pass(segment: str, unescape: bool) -> str | None:
    """ftfy's result for `segment` when one pass of character fixes settles it, else None.

    `unescape` says whether ftfy's `unescape_html` is active for this segment. See the module
    docstring (step 2) for why the checks below are sufficient.
    """
    if unescape and "&" in segment:
        return None
    if _may_be_bad(segment):
        return None
    fixed = _apply_character_fixers(segment)
    if fixed == segment:
        return segment
    if unescape and "&" in fixed:
        return None
    if _FIXER_CHARS_RE.search(fixed):
        return None
    if _may_be_bad(fixed):
        return None
    return fixed


def _may_be_bad(text: str) -> bool:
    """`is_bad(text)`, with BADNESS_RE run only where step 3 of the module docstring cannot answer;
    False only where ftfy's `fix_encoding` provably returns `text` unchanged."""
    suspect = _MAYBE_BAD_RE.search(text)
    if suspect is None:
        return False
    return ord(text[suspect.start()]) in _C1_CONTROLS or is_bad(text)


def _apply_character_fixers(text: str) -> str:
    """The part of one `fix_and_explain` pass that follows `fix_encoding`, in ftfy's order."""
    for fixer, keys_re in _CHARACTER_FIXERS:
        if keys_re is None or keys_re.search(text):
            text = fixer(text)
    return unicodedata.normalize("NFC", text)
