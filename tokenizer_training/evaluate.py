"""How good a vocabulary is, measured on held-out documents: the figures of tokenizer_report.json.

Per source: bytes per token (higher is better: more text per step of the model), tokens per
word (lower is better; words are runs of non-space characters), and whether
`decode(encode(text)) == text` for every document. Over all sources: the share of the
vocabulary the held-out text uses (special tokens aside) and the longest tokens.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from tokenizers import Tokenizer

from transforms.bpe import batched, special_ids, token_bytes

# Characters per encode_batch call: Rust spreads a batch over every core, and an encoding
# holds about 40 bytes per token, so batches are bounded in size rather than in documents.
ENCODE_BATCH_CHARS = 4_000_000
LONGEST_TOKENS = 20


def measure(tokenizer: Tokenizer, documents: Iterable[tuple[str, str]]) -> dict:
    """Figures for `tokenizer` over (source, text) documents.

    {"sources": {source: figures}, "total": figures, "vocabulary_used": n,
     "vocabulary_used_share": n / (vocabulary size - special tokens), "round_trip_exact": bool}
    where figures = {documents, bytes, words, tokens, bytes_per_token, tokens_per_word,
    round_trip_failures}. Figures are rounded so that the report reads well and is the same
    on every machine.
    """
    counts: dict[str, Counter] = {}
    used: set[int] = set()
    for batch in batched(documents, ENCODE_BATCH_CHARS, weight=lambda document: len(document[1])):
        texts = [text for _, text in batch]
        encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
        decoded = tokenizer.decode_batch([e.ids for e in encodings], skip_special_tokens=False)
        for (source, text), encoding, back in zip(batch, encodings, decoded):
            tally = counts.setdefault(source, Counter())
            tally["documents"] += 1
            tally["bytes"] += len(text.encode("utf-8"))
            tally["words"] += len(text.split())
            tally["tokens"] += len(encoding.ids)
            tally["round_trip_failures"] += back != text
            used.update(encoding.ids)
    total = sum(counts.values(), Counter())
    plain_vocabulary = tokenizer.get_vocab_size() - len(special_ids(tokenizer))
    plain_used = len(used - special_ids(tokenizer))
    return {
        "sources": {source: _figures(tally) for source, tally in sorted(counts.items())},
        "total": _figures(total),
        "vocabulary_used": plain_used,
        "vocabulary_used_share": round(plain_used / plain_vocabulary, 4),
        "round_trip_exact": total["round_trip_failures"] == 0,
    }


def _figures(tally: Counter) -> dict:
    keys = ("documents", "bytes", "words", "tokens", "round_trip_failures")
    figures = {key: tally[key] for key in keys}
    figures["bytes_per_token"] = round(tally["bytes"] / tally["tokens"], 4) if tally["tokens"] else None
    figures["tokens_per_word"] = round(tally["tokens"] / tally["words"], 4) if tally["words"] else None
    return figures


def longest_tokens(tokenizer: Tokenizer, n: int = LONGEST_TOKENS) -> list[dict]:
    """The `n` longest tokens by bytes (ties by id): {"id", "bytes", "text"}, special tokens aside.

    `text` shows the bytes as UTF-8, with \\x escapes where a token ends inside a character.
    """
    specials = special_ids(tokenizer)
    entries = sorted(
        (
            (len(token_bytes(token)), token_id, token)
            for token, token_id in tokenizer.get_vocab().items()
            if token_id not in specials
        ),
        key=lambda entry: (-entry[0], entry[1]),
    )
    return [
        {"id": token_id, "bytes": size, "text": token_bytes(token).decode("utf-8", errors="backslashreplace")}
        for size, token_id, token in entries[:n]
    ]
