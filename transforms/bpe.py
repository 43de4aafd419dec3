"""Byte-level BPE tokenizer files, as train-tokenizer writes them and every later stage reads them.

Loading a tokenizer.json for plain text (`load_tokenizer`: special tokens never come from the text),
the byte each vocabulary character stands for (`CHAR_TO_BYTE`, `token_bytes`), and cutting long
texts where the GPT-2 pre-tokenizer split is the same on both sides (`training_pieces`). The files
`transformers` needs beside tokenizer.json are transforms/tokenizer_copies.py's; the training
itself is tokenizer_training/bpe.py.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, TypeVar

from apache_beam.io.filesystems import FileSystems
from tokenizers import Tokenizer

PIECE_CHARS = 1 << 16  # documents reach the trainer in pieces of about this many characters


def training_pieces(text: str, piece_chars: int = PIECE_CHARS) -> Iterator[str]:
    r"""`text` cut into pieces of about `piece_chars` that pre-tokenize exactly as the whole.

    Cuts only before a newline that follows a non-space character: every token of the GPT-2
    pattern ends there (none holds a letter, digit or mark and then a space), and the pattern's
    only lookahead, `\s+(?!\S)`, looks right, so both sides split as they did together.
    The trainer then sees the same words, and gives the same vocabulary, while holding pieces
    rather than whole books in flight on each core (less memory, better balance).
    """
    start = 0
    while len(text) - start > piece_chars:
        cut = text.find("\n", start + piece_chars)
        while cut != -1 and text[cut - 1].isspace():  # isspace() covers every regex \s
            cut = text.find("\n", cut + 1)
        if cut == -1:
            break
        yield text[start:cut]
        start = cut
    yield text[start:]


def tokenizer_json(tokenizer: Tokenizer) -> bytes:
    """tokenizer.json as bytes: the same model always gives the same bytes (ids in order)."""
    return tokenizer.to_str(pretty=True).encode("utf-8") + b"\n"


def load_tokenizer(path: str) -> Tokenizer:
    """A tokenizer.json (or a directory holding one) on any Beam filesystem, ready for plain text.

    Raises ValueError (with the reason) where the file is missing or is not a tokenizer.
    """
    if not path.endswith(".json"):
        path = FileSystems.join(path, "tokenizer.json")
    try:
        with FileSystems.open(path) as handle:
            tokenizer = Tokenizer.from_str(handle.read().decode("utf-8"))
    except Exception as err:  # IOError from the filesystem, or the tokenizers parser's own error
        raise ValueError(f"cannot load {path!r} as a tokenizer: {err}") from None
    tokenizer.encode_special_tokens = True
    return tokenizer


def _char_to_byte() -> dict[str, int]:
    """GPT-2's byte-to-character table, reversed: printable bytes stand for themselves,
    the 68 others (controls, space, ...) for the characters from U+0100 on."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("\u00a1"), ord("\u00ac") + 1),
        *range(ord("\u00ae"), ord("\u00ff") + 1),
    ]
    chars = {byte: chr(byte) for byte in printable}
    for byte in range(256):
        if byte not in chars:
            chars[byte] = chr(256 + len(chars) - len(printable))
    return {char: byte for byte, char in chars.items()}


CHAR_TO_BYTE = _char_to_byte()


def token_bytes(token: str) -> bytes:
    """The bytes a vocabulary entry stands for: byte-level tokens spell each byte as one
    character; tokens of other tokenizers (a reference) are taken as UTF-8 text."""
    if all(char in CHAR_TO_BYTE for char in token):
        return bytes(CHAR_TO_BYTE[char] for char in token)
    return token.encode("utf-8")


def special_ids(tokenizer: Tokenizer) -> set[int]:
    """Ids of the special (added) tokens."""
    return {token_id for token_id, token in tokenizer.get_added_tokens_decoder().items() if token.special}


Item = TypeVar("Item")


def batched(items: Iterable[Item], size: int, weight: Callable[[Item], int] = lambda item: 1) -> Iterator[list[Item]]:
    """Consecutive lists of `items` whose weights add up to at most `size` (or one heavier item)."""
    batch: list[Item] = []
    total = 0
    for item in items:
        if batch and total + weight(item) > size:
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += weight(item)
    if batch:
        yield batch
