"""The encoder of `textshards tokenize`: the fast path gives exactly tokenizers' ids, and where it
cannot, the tokenizer says why and tokenizers itself encodes.

The tokenizer is tests/helpers.py's `write_test_tokenizer`: train-tokenizer's own training
function (tokenizer_training.bpe), so the tests encode with what users will have.
"""

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tokenizers import Tokenizer

from pipeline.tokenize import choose_backend
from tests.helpers import EOS, write_test_tokenizer
from transforms.encode import PIECE_CHARS, EncodeDocuments, FastEncoder, ReferenceEncoder, TokenizeConfig
from transforms.encoding import decode_bytes
from transforms.progress import ProgressReport
from transforms.readers import InputSpec, ReadConfig, read_file
from transforms.records import RawDocument
from transforms.settings import ConfigError
from transforms.shards.export import megatron_dtype
from transforms.tokenizer_file import GPT2_PATTERN, TokenizerError, fast_path_problem, read_tokenizer_file, token_dtype

EDGE_CASES = [
    "e\u0301 a\u0300\u0301\u0302 Z\u0351\u0352\u0353 \u0915\u094d\u0937 combining marks",
    "emoji 👩‍👩‍👧‍👦 🇫🇷🇩🇪 👍🏽 😀😀😀 \U0001f9d1\u200d\U0001f52c",
    "中文字符 日本語のテキスト、カタカナ 한국어 텍스트 𠀋𡈽",
    "שלום עולם مرحبا بالعالم \u200f\u200e\u202b embedded RTL \u202c",
    " " * 300 + "x" + "\n" * 80 + "\t \t  y   " + "\u3000" * 20 + "\u00a0\u00a0z",
    "control \x00\x01\x07\x08\x0b\x0c\x1b[31m \x1c\x1d\x1e\x1f \x7f \x85 \u2028 \u2029 \ufeff \u200b end",
    EOS,
    f"a{EOS}b {EOS}{EOS} <|endoftext {EOS[:-1]}",
    "it's we'll they're I'M 'S 'd 've ''quoted''",
    "123 4567 ½ ²³ ٣٤٥ ⅷ 1,000,000.00",
    "\r\n\r\n  \r\n\r",
    "",
    " ",
    "   ",
    "x" * 5000,
    "ab" * 3000,
    "\ud7ff\ue000\U0010ffff\U000e0001",
    "\U0001f600" * 300,
    "Ǆǅǆ ǈ ﬁ ﬀ ß ẞ İ ı",
]


def corpus_texts(corpora: Path) -> list[str]:
    """The decoded text of every document the readers find in the corpora (HTML before
    extraction, so markup is in), each distinct text once."""
    texts = {}
    for folder in ("books", "web", "jsonl"):
        for path in sorted(p for p in (corpora / folder).rglob("*") if p.is_file()):
            for item in read_file(InputSpec(name=folder, glob=str(path)), str(path), ReadConfig()):
                if isinstance(item, RawDocument):
                    data = item.data
                    text = data if isinstance(data, str) else decode_bytes(data, item.declared_charset, item.kind).text
                    texts.setdefault(text, None)
    return list(texts)


@pytest.fixture(scope="module")
def texts(corpora):
    return corpus_texts(corpora)


@pytest.fixture(scope="module")
def corpus_tokenizer(texts, tmp_path_factory):
    # Trained on every 8th document: real merges, and most encoded text unseen in training.
    return write_test_tokenizer(texts[::8], 8192, tmp_path_factory.mktemp("tok") / "tokenizer.json")


def _spec(path: Path) -> dict:
    return json.loads(path.read_bytes())


def _equal(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# Each document's start, long enough to be cut into several of the encoder's pieces (PIECE_CHARS):
# every document and script of the corpora, 13 MB instead of 44, to keep `make test` within its time.
# bench/tokenize_shards.py encodes whole corpora with both encoders.
DOCUMENT_START_CHARS = 50_000


@pytest.mark.slow  # every document of the corpora (13 MB of their starts) encoded by both encoders
def test_fast_encoder_gives_tokenizers_ids_on_every_corpus_document(texts, corpus_tokenizer):
    assert len(texts) > 900 and sum(map(len, texts)) > 40_000_000
    assert DOCUMENT_START_CHARS > 3 * PIECE_CHARS
    texts = [text[:DOCUMENT_START_CHARS] for text in texts]
    assert fast_path_problem(_spec(corpus_tokenizer)) is None
    # As the pipeline runs it: documents cut into pieces, encoded on every core.
    fast = FastEncoder(_spec(corpus_tokenizer), threads=0).encode_batch(texts)
    reference = ReferenceEncoder(str(corpus_tokenizer)).encode_batch(texts)
    different = [i for i, (a, b) in enumerate(zip(fast, reference)) if not np.array_equal(a, b)]
    assert not different, f"{len(different)} documents differ, e.g. {texts[different[0]][:200]!r}"


def test_fast_encoder_gives_tokenizers_ids_on_unicode_edge_cases(corpus_tokenizer):
    for threads in (1, 0):
        fast = FastEncoder(_spec(corpus_tokenizer), threads).encode_batch(EDGE_CASES)
        assert _equal(fast, ReferenceEncoder(str(corpus_tokenizer)).encode_batch(EDGE_CASES))
    decoded = Tokenizer.from_file(str(corpus_tokenizer))
    assert [decoded.decode(ids.tolist()) for ids in fast] == EDGE_CASES


def test_text_spelling_the_special_token_is_plain_text_on_both_paths(corpus_tokenizer):
    eos_id = read_tokenizer_file(str(corpus_tokenizer), EOS).eos_id
    text = f"before {EOS} after{EOS}"
    # What tokenizers does by default, and what we refuse: the document would forge a boundary.
    assert eos_id in Tokenizer.from_file(str(corpus_tokenizer)).encode(text, add_special_tokens=False).ids
    for encoder in (FastEncoder(_spec(corpus_tokenizer)), ReferenceEncoder(str(corpus_tokenizer))):
        [ids] = encoder.encode_batch([text])
        assert eos_id not in ids.tolist(), encoder.backend


def test_split_then_byte_level_form_of_gpt2_is_accepted(corpus_tokenizer, tmp_path):
    spec = _spec(corpus_tokenizer)
    spec["pre_tokenizer"] = {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": GPT2_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ],
    }
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(spec))
    assert fast_path_problem(spec) is None
    assert _equal(FastEncoder(spec).encode_batch(EDGE_CASES), ReferenceEncoder(str(path)).encode_batch(EDGE_CASES))


def _changed(spec: dict, change) -> dict:
    spec = copy.deepcopy(spec)
    change(spec)
    return spec


def _swap_two_merged_ids(spec):
    vocab = spec["model"]["vocab"]
    last, before = sorted(vocab, key=vocab.get)[-2:]
    vocab[last], vocab[before] = vocab[before], vocab[last]


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda s: s.__setitem__("normalizer", {"type": "NFC"}), "normalizer"),
        (lambda s: s["model"].__setitem__("dropout", 0.1), "dropout"),
        (lambda s: s["model"].__setitem__("continuing_subword_prefix", "##"), "continuing-subword"),
        (lambda s: s["pre_tokenizer"].__setitem__("add_prefix_space", True), "pre-tokenizer"),
        (
            lambda s: s.__setitem__(
                "pre_tokenizer", {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
            ),
            "pre-tokenizer",
        ),
        (
            lambda s: s["added_tokens"].append(
                {**s["added_tokens"][0], "id": 8192, "content": "hello", "special": False}
            ),
            "non-special added tokens",
        ),
        (_swap_two_merged_ids, "merge rank"),
        (lambda s: s["model"]["merges"].pop(), "exactly one merge"),
    ],
)
def test_fast_path_refuses_tokenizers_it_cannot_reproduce_and_says_why(corpus_tokenizer, change, reason):
    assert reason in fast_path_problem(_changed(_spec(corpus_tokenizer), change))


def test_fallback_is_chosen_and_logged_where_the_fast_path_does_not_apply(corpus_tokenizer, tmp_path, caplog):
    path = tmp_path / "tokenizer.json"
    path.write_text(
        json.dumps(_changed(_spec(corpus_tokenizer), lambda s: s.__setitem__("normalizer", {"type": "NFC"})))
    )
    tokenizer = read_tokenizer_file(str(path), EOS)
    with caplog.at_level(logging.WARNING):
        assert choose_backend(TokenizeConfig(), tokenizer) == "tokenizers"
    assert "falling back to tokenizers" in caplog.text and "normalizer" in caplog.text
    with pytest.raises(ConfigError, match="tiktoken cannot serve"):
        choose_backend(TokenizeConfig(encoder="tiktoken"), tokenizer)
    assert choose_backend(TokenizeConfig(), read_tokenizer_file(str(corpus_tokenizer), EOS)) == "tiktoken"
    assert (
        choose_backend(TokenizeConfig(encoder="tokenizers"), read_tokenizer_file(str(corpus_tokenizer), EOS))
        == "tokenizers"
    )


def test_tokenizer_file_reports_vocabulary_eos_and_refuses_a_missing_eos(corpus_tokenizer):
    tokenizer = read_tokenizer_file(str(corpus_tokenizer.parent), EOS)  # the directory works too
    assert (tokenizer.vocab_size, tokenizer.eos_id, tokenizer.dtype) == (8192, 0, "uint16")
    with pytest.raises(TokenizerError, match="no token '</s>'"):
        read_tokenizer_file(str(corpus_tokenizer), "</s>")
    with pytest.raises(TokenizerError, match="cannot read"):
        read_tokenizer_file(str(corpus_tokenizer.parent / "missing.json"), EOS)


def test_token_dtypes_follow_the_vocabulary_size():
    assert (token_dtype(65536), token_dtype(65537)) == ("uint16", "uint32")
    # Megatron's rule (DType.optimal_dtype) switches earlier, below 65,500.
    assert (megatron_dtype(65499), megatron_dtype(65500)) == (np.dtype(np.uint16), np.dtype(np.int32))


def test_a_fast_path_difference_found_by_the_cross_check_stops_the_job(corpus_tokenizer):
    settings = TokenizeConfig(cross_check_fraction=1.0)
    encode = EncodeDocuments(str(corpus_tokenizer), "tiktoken", settings, "uint16", 0, ProgressReport(None))
    encode.setup()
    table = pa.table({"id": ["a:1", "a:2"], "source": ["a", "a"], "text": ["Some text.", "More text here."]})

    def run():
        encode.start_bundle()
        return list(encode.encode_batch("a-00000", table, validation_from=0.99)) + list(encode.finish_bundle())

    counts = {out.value.value[0][1]: out.value.value[1] for out in run() if hasattr(out, "tag")}
    assert counts["cross_checked"] == 2  # both checked, both equal
    broken = encode._encoder.encode_batch
    encode._encoder.encode_batch = lambda texts: [ids[::-1] for ids in broken(texts)]
    with pytest.raises(RuntimeError, match="differ from tokenizers'"):
        run()
