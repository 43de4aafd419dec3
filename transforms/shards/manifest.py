"""manifest.json: what a shard directory holds, and `verify`, which checks the files against it.

    {"format": "textshards.shards", "version": 1,
     "mode": "documents" | "packed", "seq_len": null | N, "columns": [...],
     "dtype": "uint16" | "uint32", "eos_id", "eos_token", "vocab_size",
     "tokenizer_file": "tokenizer.json" (a copy, beside the manifest), "tokenizer_sha256",
     "encoder": {"backend": "tiktoken" | "tokenizers", "fast_path_problem": null | why not},
     "splits": {"train" | "validation": {"shards": [{path, rows, documents, tokens, tokens_dropped,
                text_bytes, bytes, sha256}], and the same figures summed}},
     "sources": {name: {documents_read, bytes_read, dropped: {source_weight},
                 train/validation: {documents, tokens, text_bytes}}},
     "exports": [{format, split, dtype, sequences, tokens, files: [{path, bytes, sha256}]}],
     "config": the tokenize section used, but for where it read the docs and the tokenizer}

Paths are relative to the directory. `documents` counts document copies (source weights),
`rows` the rows of the file (documents, or packed windows), `tokens` the tokens in the file
(each document's end-of-text id included), `text_bytes` the UTF-8 bytes of the documents'
text (the denominator of bits per byte). Per-source tokens are counted before packing.
Nothing in it depends on the run (no times, no input or output path): the same inputs give the
same file wherever they and the output are.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems

from transforms import outputs
from transforms.encode import TokenizeConfig
from transforms.shards.arrow import docs_schema, packed_schema, read_shard
from transforms.shards.layout import SPLITS
from transforms.shards.relative_paths import leaves_directory, refusal
from transforms.stats import stats_to_report

FORMAT = "textshards.shards"
VERSION = 1
MANIFEST = "manifest.json"
TOKENIZER_FILE = "tokenizer.json"
SHARD_FIELDS = ("path", "rows", "documents", "tokens", "tokens_dropped", "text_bytes", "bytes", "sha256")
SUMMED_FIELDS = ("rows", "documents", "tokens", "tokens_dropped", "text_bytes", "bytes")


def build_manifest(
    shards: list[dict],
    counts: list,
    exports: list[dict],
    settings: TokenizeConfig,
    *,
    dtype: str,
    eos_id: int,
    vocab_size: int,
    tokenizer_sha256: str,
    backend: str,
    fast_path_problem: str | None,
) -> dict:
    """shards: WriteShards' infos; counts: summed ((source, counter), n) pairs of the encode step;
    exports: export_split's infos."""
    splits = {}
    for split in SPLITS:
        mine = sorted((s for s in shards if s["split"] == split), key=lambda s: s["index"])
        splits[split] = {
            "shards": [{k: s[k] for k in SHARD_FIELDS} for s in mine],
            **{k: sum(s[k] for s in mine) for k in SUMMED_FIELDS},
        }
    schema = packed_schema(dtype) if settings.packed else docs_schema(dtype)
    return {
        "format": FORMAT,
        "version": VERSION,
        "mode": "packed" if settings.packed else "documents",
        "seq_len": settings.seq_len if settings.packed else None,
        "columns": [f"{field.name}: {field.type}" for field in schema],
        "dtype": dtype,
        "eos_id": eos_id,
        "eos_token": settings.eos_token,
        "vocab_size": vocab_size,
        "tokenizer_file": TOKENIZER_FILE,
        "tokenizer_sha256": tokenizer_sha256,
        "encoder": {"backend": backend, "fast_path_problem": fast_path_problem},
        "splits": splits,
        "sources": stats_to_report(counts)["sources"],
        "exports": sorted(exports, key=lambda e: (e["format"], SPLITS.index(e["split"]))),
        "config": {k: v for k, v in dataclasses.asdict(settings).items() if k not in ("docs", "tokenizer")},
    }


def manifest_bytes(manifest: dict) -> bytes:
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"


def read_manifest(directory: str) -> dict:
    """DIR/manifest.json; raises ValueError saying what is wrong."""
    path = outputs.join(directory, MANIFEST)
    try:
        with FileSystems.open(path) as handle:
            manifest = json.loads(handle.read())
    except Exception as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path} is not a textshards shard manifest")
    return manifest


def _read_bytes(path: str) -> bytes | None:
    try:
        with FileSystems.open(path) as handle:
            return handle.read()
    except Exception:
        return None


def _check_file(directory: str, entry: dict, problems: list[str]) -> bytes | None:
    """The file's bytes if its size and sha256 match the manifest, else None (problem noted)."""
    if leaves_directory(entry["path"]):
        problems.append(refusal(entry["path"]))
        return None
    data = _read_bytes(outputs.join(directory, entry["path"]))
    if data is None:
        problems.append(f"{entry['path']}: missing or unreadable")
    elif len(data) != entry["bytes"]:
        problems.append(f"{entry['path']}: {len(data)} bytes, the manifest says {entry['bytes']}")
    elif hashlib.sha256(data).hexdigest() != entry["sha256"]:
        problems.append(f"{entry['path']}: sha256 differs from the manifest's")
    else:
        return data
    return None


def _check_shard_contents(data: bytes, entry: dict, manifest: dict, problems: list[str]) -> None:
    """Checks what a hash cannot: the file is the shard the manifest describes."""
    where = entry["path"]
    try:
        table = read_shard(pa.py_buffer(data))
    except Exception as err:
        problems.append(f"{where}: not a readable Arrow IPC stream: {err}")
        return
    packed = manifest["mode"] == "packed"
    expected = packed_schema(manifest["dtype"]) if packed else docs_schema(manifest["dtype"])
    if not table.schema.equals(expected):
        problems.append(f"{where}: schema {table.schema} differs from {expected}")
        return
    lengths = pc.list_value_length(table.column("input_ids")).to_numpy(zero_copy_only=False)
    declared = table.column("num_tokens").to_numpy()
    if table.num_rows != entry["rows"] or int(lengths.sum()) != entry["tokens"]:
        problems.append(
            f"{where}: {table.num_rows} rows and {int(lengths.sum())} tokens, the manifest says "
            f"{entry['rows']} and {entry['tokens']}"
        )
    if not np.array_equal(lengths, declared):
        problems.append(f"{where}: num_tokens differs from the length of input_ids")
    if packed and np.any(lengths != manifest["seq_len"] + 1):
        problems.append(f"{where}: a window is not seq_len + 1 = {manifest['seq_len'] + 1} tokens")
    ids = pc.list_flatten(table.column("input_ids"))
    if len(ids) and pc.max(ids).as_py() >= manifest["vocab_size"]:
        problems.append(f"{where}: an id is >= the vocabulary size {manifest['vocab_size']}")
    if not packed and len(ids):
        offsets = np.cumsum(lengths) - 1
        last = ids.to_numpy(zero_copy_only=False)[offsets]
        if np.any(last != manifest["eos_id"]):
            problems.append(f"{where}: a document does not end with the eos id {manifest['eos_id']}")


def verify(directory: str) -> list[str]:
    """Every problem found re-checking DIR against its manifest (none: all is well).

    Checks _SUCCESS; that every path it names stays inside DIR (a path that leaves it is
    refused, never read); each shard's size, sha256 and contents (schema, rows, tokens, ids below the
    vocabulary size, eos at each document's end, window lengths); no unlisted shard files; the
    exports' and the tokenizer copy's size and sha256.
    """
    try:
        manifest = read_manifest(directory)
    except ValueError as err:
        return [str(err)]
    problems = []
    if not outputs.is_complete(directory):
        problems.append(f"{outputs.SUCCESS} is missing: the run that wrote this directory did not finish")
    listed = set()
    for split, info in manifest["splits"].items():
        for entry in info["shards"]:
            listed.add(entry["path"])
            data = _check_file(directory, entry, problems)
            if data is not None:
                _check_shard_contents(data, entry, manifest, problems)
        pattern = outputs.join(directory, split, "*.arrow")
        for found in FileSystems.match([pattern])[0].metadata_list:
            relative = f"{split}/{found.path.rsplit('/', 1)[-1]}"
            if relative not in listed:
                problems.append(f"{relative}: a shard file the manifest does not list")
    for export in manifest["exports"]:
        for entry in export["files"]:
            _check_file(directory, entry, problems)
    if leaves_directory(manifest["tokenizer_file"]):
        problems.append(refusal(manifest["tokenizer_file"]))
        return problems
    tokenizer = _read_bytes(outputs.join(directory, manifest["tokenizer_file"]))
    if tokenizer is None or hashlib.sha256(tokenizer).hexdigest() != manifest["tokenizer_sha256"]:
        problems.append(f"{manifest['tokenizer_file']}: missing, or its sha256 differs from the manifest's")
    return problems
