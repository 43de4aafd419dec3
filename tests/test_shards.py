"""`textshards tokenize` end to end on a real sample: shards decode back to the cleaned text,
the manifest and `verify` catch damage, two runs give the same bytes, `datasets` opens them,
packing, source weights and the Megatron/nanoGPT exports hold what the shards hold."""

import hashlib
import itertools
import json
import pickle
import shutil
import struct
from pathlib import Path

import apache_beam as beam
import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from tokenizers import Tokenizer

from pipeline.cli import main
from pipeline.config import Config
from pipeline.tokenize import run_tokenize
from tests.helpers import IN_MEMORY, write_test_tokenizer
from transforms.clean import CleanConfig, clean_document
from transforms.encode import TokenizeConfig
from transforms.readers import InputSpec, ReadConfig, read_file
from transforms.records import RawDocument
from transforms.sampling import SourceWeight, hash_fraction
from transforms.settings import ConfigError
from transforms.shards.arrow import encoded_schema, encoded_table, packed_rows, read_shard
from transforms.shards.layout import copies_of, shard_count, shuffle_key, split_of, validation_from
from transforms.shards.manifest import verify
from transforms.shards.write import WriteShards
from transforms.writers import parquet_bytes

SAMPLE = {
    "books": [
        "books/RU-ECE__ECE451-Parallel/data/books/pg7256.txt",
        "books/RU-ECE__ECE451-Parallel/data/books/The-Call-of-Cthulhu.txt",
        "books/GITenberg__Ontboezemingen_24675/24675-8.txt",
    ],
    "web": ["web/warc/commoncrawl__whirlwind-python/whirlwind.warc.gz"],
    "jsonl": [
        "jsonl/allenai__dolma/tests/data/multiple_files/cc_en_head-0174.jsonl",
        "jsonl/allenai__dolma/tests/data/multiple_files/cc_en_head-0091.jsonl",
    ],
}
HTML_PAGES = 12
SETTINGS = dict(validation_fraction=0.2, seed=7, shard_target_tokens=60_000)


@pytest.fixture(scope="module")
def sample(corpora, tmp_path_factory) -> dict:
    """Real documents, cleaned as prepare cleans them, written as prepare writes docs/."""
    root = tmp_path_factory.mktemp("sample")
    paths = {source: [corpora / p for p in files] for source, files in SAMPLE.items()}
    paths["web"] += sorted((corpora / "web/html/adbar__trafilatura").rglob("*.html"))[:HTML_PAGES]
    rows = []
    for source, files in paths.items():
        for path in files:
            for item in read_file(InputSpec(name=source, glob=str(corpora)), str(path), ReadConfig()):
                if isinstance(item, RawDocument):
                    row = clean_document(item, CleanConfig())
                    if isinstance(row, dict):
                        rows.append(row)
    (root / "prepare" / "docs").mkdir(parents=True)
    (root / "prepare" / "docs" / "part-00000.parquet").write_bytes(parquet_bytes(sorted(rows, key=lambda r: r["id"])))
    (root / "prepare" / "_SUCCESS").write_text("{}\n")
    tokenizer = write_test_tokenizer([r["text"] for r in rows], 2048, root / "tokenizer.json")
    assert {r["source"] for r in rows} == {"books", "web", "jsonl"} and len(rows) > 30
    return {
        "docs": root / "prepare" / "docs",
        "tokenizer": tokenizer,
        "texts": {r["id"]: r["text"] for r in rows},
        "sources": {r["id"]: r["source"] for r in rows},
    }


def _config(sample, output: Path, **settings) -> Config:
    return Config(
        output=str(output),
        tokenize=TokenizeConfig(
            docs=str(sample["docs"]), tokenizer=str(sample["tokenizer"]), **{**SETTINGS, **settings}
        ),
    )


@pytest.fixture(scope="module")
def shards(sample, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("run") / "shards"
    run_tokenize(_config(sample, output), IN_MEMORY)
    return output


def _validation_start(sample: dict, fraction: float) -> float:
    """Where validation starts in the hash order for the sample's documents (layout.validation_from)."""
    return validation_from(fraction, len(sample["texts"]), max(map(hash_fraction, sample["texts"])))


def _manifest(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text())


def _shard_tables(directory: Path, split: str) -> list[pa.Table]:
    return [read_shard(str(directory / s["path"])) for s in _manifest(directory)["splits"][split]["shards"]]


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_shards_decode_back_to_every_cleaned_document(sample, shards):
    tokenizer = Tokenizer.from_file(str(sample["tokenizer"]))
    seen = []
    for split in ("train", "validation"):
        for table in _shard_tables(shards, split):
            rows = table.to_pylist()
            assert [shuffle_key(r["id"], 0, SETTINGS["seed"]) for r in rows] == sorted(
                shuffle_key(r["id"], 0, SETTINGS["seed"]) for r in rows
            )
            for row in rows:
                ids = row["input_ids"]
                assert ids[-1] == 0 and 0 not in ids[:-1] and row["num_tokens"] == len(ids)
                assert tokenizer.decode(ids[:-1], skip_special_tokens=False) == sample["texts"][row["id"]]
                assert row["source"] == sample["sources"][row["id"]]
                assert split_of(row["id"], _validation_start(sample, SETTINGS["validation_fraction"])) == split
                seen.append(row["id"])
    assert sorted(seen) == sorted(sample["texts"])


def test_manifest_describes_the_files_and_verify_accepts_them(sample, shards):
    manifest = _manifest(shards)
    assert (manifest["dtype"], manifest["eos_id"], manifest["vocab_size"], manifest["mode"]) == (
        "uint16",
        0,
        2048,
        "documents",
    )
    assert manifest["tokenizer_sha256"] == hashlib.sha256(sample["tokenizer"].read_bytes()).hexdigest()
    assert (shards / "tokenizer.json").read_bytes() == sample["tokenizer"].read_bytes()
    assert manifest["encoder"] == {"backend": "tiktoken", "fast_path_problem": None}
    assert manifest["config"]["seed"] == 7 and manifest["config"]["validation_fraction"] == 0.2
    for split, info in manifest["splits"].items():
        count = len(info["shards"])
        assert [s["path"] for s in info["shards"]] == [
            f"{split}/shard-{i:05d}-of-{count:05d}.arrow" for i in range(count)
        ]
        assert sorted(p.name for p in (shards / split).iterdir()) == [s["path"].split("/")[1] for s in info["shards"]]
        assert info["tokens"] == sum(s["tokens"] for s in info["shards"])
        assert info["documents"] == sum(c.get(split, {}).get("documents", 0) for c in manifest["sources"].values())
        assert info["tokens"] == sum(c.get(split, {}).get("tokens", 0) for c in manifest["sources"].values())
    assert len(manifest["splits"]["train"]["shards"]) > 1 and manifest["splits"]["validation"]["documents"] > 0
    assert verify(str(shards)) == []


def test_datasets_opens_every_shard_with_the_right_features(shards, tmp_path):
    manifest = _manifest(shards)
    features = datasets.Features(
        {
            "input_ids": datasets.List(datasets.Value("uint16")),
            "id": datasets.Value("string"),
            "source": datasets.Value("string"),
            "num_tokens": datasets.Value("uint32"),
        }
    )
    for info in manifest["splits"].values():
        for shard in info["shards"]:
            dataset = datasets.Dataset.from_file(str(shards / shard["path"]))
            assert dataset.features == features and dataset.num_rows == shard["rows"]
    files = {split: [str(shards / s["path"]) for s in info["shards"]] for split, info in manifest["splits"].items()}
    loaded = datasets.load_dataset("arrow", data_files=files, cache_dir=str(tmp_path))
    assert {split: loaded[split].num_rows for split in files} == {
        split: info["rows"] for split, info in manifest["splits"].items()
    }
    assert loaded["train"].features == features
    assert loaded["train"][0]["input_ids"] == _shard_tables(shards, "train")[0].column("input_ids")[0].as_py()


def test_verify_catches_a_flipped_byte_a_missing_and_an_unlisted_shard(shards, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    shutil.copytree(shards, damaged)
    shard = damaged / _manifest(shards)["splits"]["train"]["shards"][0]["path"]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    assert any(shard.name in p and "sha256" in p for p in verify(str(damaged)))
    assert main(["verify", str(damaged)]) == 1 and "MISMATCH" in capsys.readouterr().out
    assert main(["verify", str(shards)]) == 0

    shard.unlink()
    (damaged / "validation" / "shard-00009-of-00010.arrow").write_bytes(b"")
    problems = verify(str(damaged))
    assert any("missing" in p for p in problems) and any("does not list" in p for p in problems)


def test_two_runs_give_identical_files_in_memory_and_multi_processing(sample, shards, tmp_path):
    again = tmp_path / "again"
    config = _config(sample, again)
    config.runner.direct_num_workers = 2
    run_tokenize(config, ["--direct_running_mode=multi_processing"])
    assert _files(again) == _files(shards)


# Far below what any token data weighs here: the sample's books encode to over 100 KB each.
SMALL_RECORD_BYTES = 16 * 1024


def test_only_names_keys_and_counts_cross_a_shuffle_or_a_side_input(sample, shards, tmp_path, monkeypatch):
    """Token data moves file -> worker -> file: every element that reaches a GroupByKey, a Reshuffle
    or a side input is a small record, and the shards are those of the unchecked run."""
    log = tmp_path / "sizes"

    def small(element):
        size = len(pickle.dumps(element))
        assert size < SMALL_RECORD_BYTES, f"{size} bytes cross a shuffle: {str(element)[:200]}"
        with open(log, "a") as handle:  # the in-memory runner runs this in the test's process
            handle.write(f"{size}\n")
        return element

    class Checked(beam.PTransform):
        def __init__(self, shuffle):
            super().__init__()
            self._shuffle = shuffle

        def expand(self, pcoll):
            return pcoll | "Check size" >> beam.Map(small) | "Shuffle" >> self._shuffle

    labels = itertools.count()
    for name in ("GroupByKey", "Reshuffle"):
        real = getattr(beam, name)
        monkeypatch.setattr(beam, name, lambda *a, real=real, **k: Checked(real(*a, **k)))

    def checked_side_input(view):
        class CheckedView(view):
            def __init__(self, pcoll, *args, **kwargs):
                super().__init__(pcoll | f"Check side input {next(labels)}" >> beam.Map(small), *args, **kwargs)

        return CheckedView

    for name in ("AsDict", "AsList", "AsSingleton", "AsIter"):
        monkeypatch.setattr(beam.pvalue, name, checked_side_input(getattr(beam.pvalue, name)))
    checked = tmp_path / "checked"
    run_tokenize(_config(sample, checked), IN_MEMORY)
    sizes = [int(line) for line in log.read_text().split()]
    assert len(sizes) > 20 and max(sizes) < SMALL_RECORD_BYTES
    assert _files(checked) == _files(shards)


def test_tokenizers_encoder_writes_the_same_shards_and_inspect_decodes_them(sample, shards, tmp_path, capsys):
    output = tmp_path / "reference"
    assert (
        main(
            [
                "tokenize",
                "--docs",
                str(sample["docs"]),
                "--tokenizer",
                str(sample["tokenizer"].parent),
                "--output",
                str(output),
                "--validation-fraction",
                "0.2",
                "--seed",
                "7",
                "--shard-tokens",
                "60000",
                "--encoder",
                "tokenizers",
                "--",
                *IN_MEMORY,
            ]
        )
        == 0
    )
    assert "encoder: tokenizers" in capsys.readouterr().out
    theirs, ours = _files(output), _files(shards)
    # The manifest and _SUCCESS's config fingerprint record the encoder setting; the rest is identical.
    assert {k: v for k, v in theirs.items() if k not in ("manifest.json", "_SUCCESS")} == {
        k: v for k, v in ours.items() if k not in ("manifest.json", "_SUCCESS")
    }
    expected = {**_manifest(shards), "encoder": {"backend": "tokenizers", "fast_path_problem": None}}
    expected["config"] = {**expected["config"], "encoder": "tokenizers"}
    # Only the fast encoder cross-checks a share of documents (by hash of id): its manifest counts them.
    for counts in expected["sources"].values():
        counts.pop("cross_checked", None)
    assert _manifest(output) == expected

    assert main(["inspect", str(output), "--limit", "2", "--chars", "80"]) == 0
    shown = capsys.readouterr().out
    first = _shard_tables(shards, "train")[0].slice(0, 1).to_pylist()[0]
    assert "documents shards" in shown and "complete" in shown and first["id"] in shown
    assert sample["texts"][first["id"]][:40] in shown


def test_packed_windows_source_weights_and_exports(sample, tmp_path):
    output = tmp_path / "packed"
    weights = [SourceWeight("books", 2.0), SourceWeight("web", 0.5), SourceWeight("jsonl", 0.0)]
    run_tokenize(
        _config(
            sample, output, packed=True, seq_len=127, source_weights=weights, export_megatron=True, export_nanogpt=True
        ),
        IN_MEMORY,
    )
    manifest = _manifest(output)
    tokenizer = Tokenizer.from_file(str(sample["tokenizer"]))
    assert manifest["mode"] == "packed" and manifest["seq_len"] == 127 and verify(str(output)) == []

    # Source weights: copies per document as layout.copies_of decides, none of jsonl.
    for source, weight in [("books", 2.0), ("web", 0.5), ("jsonl", 0.0)]:
        train_ids = [
            i
            for i, s in sample["sources"].items()
            if s == source and split_of(i, _validation_start(sample, 0.2)) == "train"
        ]
        expected = sum(copies_of(i, weight, SETTINGS["seed"]) for i in train_ids)
        assert manifest["sources"][source].get("train", {}).get("documents", 0) == expected
    assert manifest["sources"]["jsonl"]["dropped"]["source_weight"] > 0

    # Windows: seq_len + 1 tokens; cut at the recorded document starts, each whole document decodes
    # back to its text, and the ids lists name the documents in order.
    for split in ("train", "validation"):
        for table in _shard_tables(output, split):
            rows = table.to_pylist()
            stream = [t for r in rows for t in r["input_ids"]]
            assert all(len(r["input_ids"]) == 128 == r["num_tokens"] for r in rows)
            starts, names = [], []
            for k, row in enumerate(rows):
                starts += [k * 128 + offset for offset in row["doc_starts"]]
                names += row["ids"][len(row["ids"]) - len(row["doc_starts"]) :]
                assert names[-1] == row["ids"][-1]
            assert not rows or starts[0] == 0
            for begin, end, name in zip(starts, starts[1:], names):
                assert stream[end - 1] == 0
                assert tokenizer.decode(stream[begin : end - 1], skip_special_tokens=False) == sample["texts"][name]

    # Exports: the rows of the shards in order, in Megatron's and nanoGPT's files.
    for split, nanogpt in [("train", "train.bin"), ("validation", "val.bin")]:
        rows = [r for t in _shard_tables(output, split) for r in t.column("input_ids").to_pylist()]
        flat = np.array([t for r in rows for t in r], dtype=np.uint16)
        assert np.array_equal(np.fromfile(output / "nanogpt" / nanogpt, dtype=np.uint16), flat)
        lengths, pointers, documents, dtype = _read_megatron_index(output / "megatron" / f"{split}.idx")
        assert dtype == np.uint16 and lengths.tolist() == [len(r) for r in rows]
        assert pointers.tolist() == (np.concatenate([[0], np.cumsum(lengths)[:-1]]) * 2).tolist()
        assert documents.tolist() == list(range(len(rows) + 1))
        assert np.array_equal(np.fromfile(output / "megatron" / f"{split}.bin", dtype=np.uint16), flat)


def _read_megatron_index(path: Path):
    """Megatron-LM's _IndexReader, reduced to the fields (megatron/core/datasets/indexed_dataset.py)."""
    data = path.read_bytes()
    assert data[:9] == b"MMIDIDX\x00\x00" and struct.unpack("<Q", data[9:17]) == (1,)
    dtype = {8: np.uint16, 4: np.int32}[data[17]]
    sequences, documents = struct.unpack("<QQ", data[18:34])
    lengths = np.frombuffer(data, np.int32, sequences, 34)
    pointers = np.frombuffer(data, np.int64, sequences, 34 + lengths.nbytes)
    indices = np.frombuffer(data, np.int64, documents, 34 + lengths.nbytes + pointers.nbytes)
    return lengths, pointers, indices, dtype


def _nanogpt_get_batch(data_dir: Path, split: str, block_size: int, batch_size: int, rng: np.random.Generator):
    """nanoGPT's train.py get_batch (karpathy/nanoGPT at 3adf61e, train.py lines 116-131), in numpy:
    the split's .bin memory-mapped as uint16, `batch_size` windows of block_size + 1 tokens."""
    data = np.memmap(data_dir / ("train.bin" if split == "train" else "val.bin"), dtype=np.uint16, mode="r")
    ix = rng.integers(len(data) - block_size, size=batch_size)
    x = np.stack([data[i : i + block_size].astype(np.int64) for i in ix])
    y = np.stack([data[i + 1 : i + 1 + block_size].astype(np.int64) for i in ix])
    return x, y


def test_nanogpt_reads_the_export_with_its_own_get_batch_and_meta(alice_shards, alice_tokenize_inputs):
    from transformers import AutoTokenizer

    data_dir = alice_shards / "nanogpt"
    manifest = _manifest(alice_shards)
    # As nanoGPT's train.py (lines 138-155): meta.pkl's vocab_size sizes the model, else 50,304.
    with open(data_dir / "meta.pkl", "rb") as handle:
        meta = pickle.load(handle)
    assert meta["vocab_size"] == manifest["vocab_size"] == 300 and meta["dtype"] == "uint16"
    assert (meta["eos_id"], meta["eos_token"]) == (manifest["eos_id"], "<|endoftext|>")
    for split in ("train", "validation"):
        x, y = _nanogpt_get_batch(data_dir, split, 16, 8, np.random.default_rng(0))
        assert x.shape == y.shape == (8, 16) and x.max() < meta["vocab_size"]
        assert np.array_equal(x[:, 1:], y[:, :-1])
        tokens = np.memmap(data_dir / ("train.bin" if split == "train" else "val.bin"), dtype=np.uint16, mode="r")
        assert np.count_nonzero(tokens == meta["eos_id"]) == manifest["splits"][split]["documents"]

    # The directory decodes on its own, with the tokenizer meta.pkl names, as docs/shards.md shows.
    tokens = np.memmap(data_dir / "train.bin", dtype=np.uint16, mode="r")
    first = tokens[: int(np.argmax(tokens == meta["eos_id"]))].tolist()
    paragraphs = set(pq.read_table(alice_tokenize_inputs / "docs").column("text").to_pylist())
    assert Tokenizer.from_file(str(data_dir / meta["tokenizer"])).decode(first) in paragraphs
    hf = AutoTokenizer.from_pretrained(data_dir)
    assert (hf.eos_token_id, hf.bos_token_id) == (meta["eos_id"], meta["eos_id"]) and hf.decode(first) in paragraphs
    assert verify(str(alice_shards)) == []  # the manifest lists meta.pkl and the tokenizer files too


def test_vocabularies_over_16_bits_write_uint32_and_megatron_int32(sample, tmp_path):
    spec = json.loads(sample["tokenizer"].read_bytes())
    spec["added_tokens"].append({**spec["added_tokens"][0], "id": 70_000, "content": "<|pad|>"})
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text(json.dumps(spec))
    docs = tmp_path / "docs"
    docs.mkdir()
    rows = [
        {
            "id": f"t:{i}",
            "source": "t",
            "url": None,
            "kind": "text",
            "encoding": "unicode",
            "text": f"Document number {i} says hello.",
        }
        for i in range(6)
    ]
    (docs / "part-00000.parquet").write_bytes(parquet_bytes(rows))
    output = tmp_path / "out"
    assert (
        main(
            [
                "tokenize",
                "--docs",
                str(docs),
                "--tokenizer",
                str(tokenizer),
                "--output",
                str(output),
                "--export",
                "nanogpt",
            ]
        )
        == 2
    )  # nanoGPT reads uint16 only
    run_tokenize(
        Config(
            output=str(output),
            tokenize=TokenizeConfig(
                docs=str(docs), tokenizer=str(tokenizer), validation_fraction=0.0, export_megatron=True
            ),
        ),
        IN_MEMORY,
    )
    manifest = _manifest(output)
    assert (manifest["dtype"], manifest["vocab_size"]) == ("uint32", 70_001)
    [table] = _shard_tables(output, "train")
    assert table.schema.field("input_ids").type == pa.list_(pa.uint32())
    assert _read_megatron_index(output / "megatron" / "train.idx")[3] == np.int32
    assert manifest["splits"]["validation"]["shards"] == [] and verify(str(output)) == []


def test_missing_docs_and_tokenizer_problems_are_config_errors(sample, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["tokenize", "--tokenizer", str(sample["tokenizer"]), "--output", str(tmp_path / "out")]
    assert main([*args, "--docs", str(empty)]) == 2
    assert "holds no *.parquet file" in capsys.readouterr().err
    config = _config(sample, tmp_path / "out", eos_token="</s>")
    assert (
        main(
            [
                "tokenize",
                "--docs",
                str(sample["docs"]),
                "--tokenizer",
                str(tmp_path / "nope.json"),
                "--output",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no token '</s>'"):
        run_tokenize(config, IN_MEMORY)


def test_split_copies_and_shard_counts_are_functions_of_the_id():
    ids = [f"web:/crawl/{i}.warc.gz:{i * 977}" for i in range(20_000)]
    small = {i for i in ids if split_of(i, validation_from(0.05, len(ids), 0.999)) == "validation"}
    large = {i for i in ids if split_of(i, validation_from(0.10, len(ids), 0.999)) == "validation"}
    assert small < large and 0.09 < len(large) / len(ids) < 0.11  # a larger fraction only adds documents
    assert abs(np.mean([copies_of(i, 2.5, 3) for i in ids]) - 2.5) < 0.02
    assert {copies_of(i, 0.0, 3) for i in ids} == {0} and {copies_of(i, 1.0, 3) for i in ids} == {1}
    assert shard_count(rows=0, tokens=0, target_tokens=10) == 0
    assert shard_count(rows=5, tokens=1_000, target_tokens=10) == 5  # never more shards than rows
    assert shard_count(rows=500, tokens=1_000, target_tokens=300) == 4
    assert shard_count(rows=500, tokens=1_000, target_tokens=10, min_tokens=256) == 3  # one window each


def test_validation_starts_at_the_top_document_only_where_the_fraction_holds_none():
    assert validation_from(0.1, documents=1000, top_fraction=0.9999) == 0.9  # the hash order alone
    assert validation_from(0.01, documents=10, top_fraction=0.95) == 0.95  # the top document
    assert validation_from(0.01, documents=1, top_fraction=0.5) == 0.99  # one document stays in train
    assert validation_from(0.0, documents=10, top_fraction=0.5) == 1.0  # none asked for, none given


def test_a_ten_document_corpus_gets_a_validation_document(tmp_path, capsys):
    texts = {f"t:{i}": f"Document number {i} says hello to the shards." for i in range(10)}
    assert max(map(hash_fraction, texts)) < 0.99  # the default 0.01 of the hash order holds none of them
    docs = tmp_path / "docs"
    docs.mkdir()
    rows = [
        {"id": i, "source": "t", "url": None, "kind": "text", "encoding": "utf-8", "text": t} for i, t in texts.items()
    ]
    (docs / "part-00000.parquet").write_bytes(parquet_bytes(rows))
    tokenizer = write_test_tokenizer(list(texts.values()), 300, tmp_path / "tokenizer.json")
    output = tmp_path / "shards"
    argv = ["tokenize", "--docs", str(docs), "--tokenizer", str(tokenizer), "--output", str(output), "--", *IN_MEMORY]
    assert main(argv) == 0
    manifest = _manifest(output)
    assert (manifest["splits"]["train"]["documents"], manifest["splits"]["validation"]["documents"]) == (9, 1)
    [validation] = _shard_tables(output, "validation")
    assert validation.column("id").to_pylist() == [max(texts, key=hash_fraction)]
    assert manifest["sources"]["t"]["validation"]["by_minimum"] == 1
    assert (
        "validation: 1 of 10 documents: tokenize.validation_fraction 0.01 of the hash order of ids held none"
        in capsys.readouterr().out
    )


def test_every_shard_of_the_count_is_written_even_an_empty_one(tmp_path):
    writer = WriteShards(str(tmp_path), str(tmp_path / "work"), "uint16", target_tokens=10, seq_len=None)
    names = [key for key, _ in writer._every_shard(None, {("train", "rows"): 3, ("train", "tokens"): 30})]
    assert names == [("train", 0, 3), ("train", 1, 3), ("train", 2, 3)]
    info = writer._write(("train", 1, 3), [None])
    assert (info["rows"], info["tokens"], info["path"]) == (0, 0, "train/shard-00001-of-00003.arrow")
    assert read_shard(str(tmp_path / info["path"])).num_rows == 0


def test_write_shards_moves_rows_through_work_files_and_deletes_them(tmp_path):
    ids = [f"t:{i}" for i in range(24)]
    splits = ["validation" if i % 4 == 0 else "train" for i in range(24)]
    tokens = [np.arange(1, 2 + i % 5, dtype=np.uint32) for i in range(24)]

    def batch(rows: slice) -> pa.Table:
        n = len(ids[rows])
        return encoded_table(ids[rows], ["t"] * n, splits[rows], [1] * n, [10] * n, tokens[rows], 0, "uint16", 5)

    work = tmp_path / "work"
    with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as pipeline:
        _ = (
            pipeline
            | beam.Create([("part-00000-00000", batch(slice(0, 10))), ("part-00000-00001", batch(slice(10, 24)))])
            | WriteShards(str(tmp_path), str(work), "uint16", target_tokens=12, seq_len=None)
        )
    assert not work.exists()
    seen = []
    for split, count in [("train", 6), ("validation", 2)]:  # ceil(tokens / 12): 72 and 22 tokens
        names = sorted(p.name for p in (tmp_path / split).iterdir())
        assert names == [f"shard-{i:05d}-of-{count:05d}.arrow" for i in range(count)]
        for index, name in enumerate(names):
            rows = read_shard(str(tmp_path / split / name)).to_pylist()
            keys = [shuffle_key(r["id"], 0, 5) for r in rows]
            assert keys == sorted(keys) and all(k % count == index for k in keys)
            assert all(r["input_ids"] == tokens[int(r["id"][2:])].tolist() + [0] for r in rows)
            seen += [r["id"] for r in rows]
    assert sorted(seen) == sorted(ids)


def test_packing_records_document_starts_and_members():
    # Documents of 3, 5 and 4 tokens (eos = 0 included) cut into windows of 4: the last 0 tokens dropped.
    docs = [[1, 2, 0], [3, 4, 5, 6, 0], [7, 8, 9, 0]]
    rows = pa.table(
        {
            "split": ["train"] * 3,
            "key": pa.array([1, 2, 3], pa.uint64()),
            "copy": pa.array([0] * 3, pa.uint32()),
            "id": ["a", "b", "c"],
            "source": ["s", "s", "t"],
            "text_bytes": pa.array([1] * 3, pa.uint64()),
            "num_tokens": pa.array([3, 5, 4], pa.uint32()),
            "input_ids": pa.array(docs, pa.list_(pa.uint16())),
        },
        schema=encoded_schema("uint16"),
    )
    table, dropped = packed_rows(rows, "uint16", 4)
    assert dropped == 0
    assert table.to_pylist() == [
        {"input_ids": [1, 2, 0, 3], "num_tokens": 4, "doc_starts": [0, 3], "ids": ["a", "b"], "sources": ["s", "s"]},
        {"input_ids": [4, 5, 6, 0], "num_tokens": 4, "doc_starts": [], "ids": ["b"], "sources": ["s"]},
        {"input_ids": [7, 8, 9, 0], "num_tokens": 4, "doc_starts": [0], "ids": ["c"], "sources": ["t"]},
    ]
    table, dropped = packed_rows(rows, "uint16", 5)
    assert dropped == 2 and table.column("doc_starts").to_pylist() == [[0, 3], [3]]
    assert table.column("ids").to_pylist() == [["a", "b"], ["b", "c"]]
