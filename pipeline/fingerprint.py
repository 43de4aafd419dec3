"""Config fingerprints: which settings and inputs a stage's complete output was made from.

Every Beam stage writes the sha256 of what determines its output into its `_SUCCESS`
(`config_sha256`). Outputs are deterministic, so an output whose recorded fingerprint equals
the one a new run would record is already the output that run would write: `textshards run`
skips it. A stage's fingerprint includes its upstream stage's, so a change anywhere redoes
everything below it, and nothing above.

What is left out, on purpose: the runner and its options (every runner writes the same
bytes), progress and timing settings, and the output paths themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import metadata

from apache_beam.io.filesystems import FileSystems

from pipeline import outputs
from pipeline.config import Config

FIELD = "config_sha256"


def _sha256_of(stage: str, settings: dict) -> str:
    try:
        version = metadata.version("textshards")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "unknown"
    data = {"stage": stage, "textshards": version, **settings}
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def recorded(directory: str) -> str | None:
    """The fingerprint in DIRECTORY/_SUCCESS; None where the output is incomplete or has none."""
    path = outputs.join(directory, outputs.SUCCESS)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as handle:
        try:
            return json.load(handle).get(FIELD)
        except (json.JSONDecodeError, AttributeError):
            return None


def _upstream(docs: str) -> str:
    """Prepare's fingerprint, from the _SUCCESS beside DIR/docs; the path itself where there is none."""
    return recorded(docs.rstrip("/").rpartition("/")[0]) or f"unfingerprinted:{docs}"


def prepare(config: Config) -> str:
    """Inputs (every matched file's path and size: new or changed files redo the stage) and the
    settings of reading, cleaning, filtering, dedup and writing."""
    files = []
    for spec in config.inputs:
        matched = FileSystems.match([spec.glob])[0].metadata_list
        files += sorted((m.path, m.size_in_bytes) for m in matched)
    sections = {
        name: dataclasses.asdict(getattr(config, name)) for name in ("read", "clean", "write", "filters", "dedup")
    }
    return _sha256_of("prepare", {"inputs": [dataclasses.asdict(s) for s in config.inputs], "files": files, **sections})


def train_tokenizer(config: Config, docs: str) -> str:
    # write.shard_target_bytes sizes the sample's staging files, which the trainer reads in order.
    return _sha256_of(
        "train-tokenizer",
        {
            "docs": _upstream(docs),
            "tokenizer": dataclasses.asdict(config.tokenizer),
            "shard_target_bytes": config.write.shard_target_bytes,
        },
    )


def tokenize(config: Config, tokenizer_sha256: str) -> str:
    settings = {k: v for k, v in dataclasses.asdict(config.tokenize).items() if k not in ("docs", "tokenizer")}
    return _sha256_of(
        "tokenize",
        {"docs": _upstream(config.tokenize.docs), "tokenizer_sha256": tokenizer_sha256, "tokenize": settings},
    )
