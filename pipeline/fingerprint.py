"""Config fingerprints: which settings and inputs a stage's complete output was made from.

Every Beam stage writes the sha256 of what determines its output into its `_SUCCESS`
(`config_sha256`). Outputs are deterministic, so an output whose recorded fingerprint equals
the one a new run would record is already the output that run would write: `textshards run`
skips it. A stage's fingerprint includes its upstream stage's, so a change anywhere redoes
everything below it, and nothing above.

The fingerprint also holds a hash of the source files of the packages that make the stage's
output (`STAGE_PACKAGES`), so that a code change redoes the stages it can affect; the trainer's
code affects none of them.

Input files are compared by what their listing gives without reading a byte. Local files (and
any filesystem but gs://) by size and modification time: contents are not hashed, so a rewrite
that keeps both the size and the time (`touch -d` back to the old time) goes unseen, and a
`touch` alone redoes the stage. gs:// objects by size, generation, crc32c and md5 (the checksums
Cloud Storage keeps of every object's bytes, and the number every rewrite of the object changes),
from one listing per input glob (`gcs_identity`).

What is left out, on purpose: the runner and its options (every runner writes the same
bytes), progress and timing settings, and the output paths themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from apache_beam.io.filesystems import FileSystems

from transforms import outputs
from transforms.decontaminate.items import input_spec
from transforms.readers import InputSpec

if TYPE_CHECKING:  # pipeline.config composes pipeline.run, which uses this module
    from pipeline.config import Config

FIELD = "config_sha256"
# The packages whose code writes each stage's output.
STAGE_PACKAGES = {
    "prepare": ("pipeline", "transforms"),
    "train-tokenizer": ("pipeline", "tokenizer_training", "transforms"),
    "tokenize": ("pipeline", "transforms"),
    "decontaminate": ("pipeline", "transforms"),
}
SOURCE_ROOT = Path(__file__).resolve().parent.parent  # holds the packages, checked out or installed


def source_sha256(packages: tuple[str, ...], root: Path = SOURCE_ROOT) -> str:
    """sha256 of every .py file of `packages` under `root` (relative path and bytes, in path order)."""
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _sha256_of(stage: str, settings: dict) -> str:
    data = {"stage": stage, "source_sha256": source_sha256(STAGE_PACKAGES[stage]), **settings}
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
    return recorded(outputs.prepare_output_of(docs)) or f"unfingerprinted:{docs}"


def prepare(config: Config) -> str:
    """Inputs (every matched file's path, size and modification time, or on gs:// its generation
    and checksums: new files, and files written again, even to the same size, redo the stage)
    and the settings of reading,
    cleaning, filtering, dedup and writing."""
    sections = {
        name: dataclasses.asdict(getattr(config, name)) for name in ("read", "clean", "write", "filters", "dedup")
    }
    return _sha256_of(
        "prepare",
        {
            "inputs": [dataclasses.asdict(s) for s in config.inputs],
            "files": _identities(config.inputs),
            **sections,
            **_decontaminate_settings(config),
        },
    )


def _identities(specs: list[InputSpec]) -> list:
    """Every file the inputs match, by path, size and modification time (or gs:// identity)."""
    files = []
    for spec in specs:
        matched = spec.matched_files()
        if spec.glob.startswith(GCS):
            files += sorted(gcs_identities(_gcs_listing(spec.glob), {m.path for m in matched}))
        else:
            files += sorted((m.path, m.size_in_bytes, m.last_updated_in_seconds) for m in matched)
    return files


def _decontaminate_settings(config: Config) -> dict:
    """The decontaminate section and its benchmarks' files; nothing where there is no benchmark,
    so that prepare's fingerprint without one is what it was before decontamination existed."""
    settings = config.decontaminate
    if not settings.benchmarks:
        return {}
    return {
        # index_memory_bytes sets how the index is read, never what is found.
        "decontaminate": {
            k: v for k, v in dataclasses.asdict(settings).items() if k not in ("docs", "index_memory_bytes")
        },
        "benchmark_files": _identities([input_spec(spec) for spec in settings.benchmarks]),
    }


def decontaminate(config: Config) -> str:
    return _sha256_of(
        "decontaminate", {"docs": _upstream(config.decontaminate.docs), **_decontaminate_settings(config)}
    )


GCS = "gs://"
LOCAL_FIELDS = "size and modification time"
GCS_FIELDS = "size, generation, crc32c and md5"


def inputs_compared_by(globs: list[str]) -> str:
    """How `prepare` told the files of these input globs from edited copies, for the skip message."""
    on_gcs = {glob.startswith(GCS) for glob in globs}
    if on_gcs == {True}:
        return f"by {GCS_FIELDS}"
    if on_gcs == {True, False}:
        return f"by {LOCAL_FIELDS}, gs:// objects by {GCS_FIELDS}"
    return f"by {LOCAL_FIELDS}"


def gcs_identity(blob) -> tuple:
    """(path, size, generation, crc32c, md5) of a google.cloud.storage Blob as a listing returns it.

    Every rewrite of an object gives it a new generation, and crc32c and md5 are Cloud Storage's
    checksums of its bytes (a composite object has no md5: None), so an object rewritten with the
    same size, or put back as an older copy, is not taken for the same input.
    """
    return (f"{GCS}{blob.bucket.name}/{blob.name}", blob.size, blob.generation, blob.crc32c, blob.md5_hash)


def gcs_identities(blobs, paths: set[str]) -> list[tuple]:
    """`gcs_identity` of each of `blobs` whose path is one of `paths` (the files a glob matched)."""
    return [identity for identity in map(gcs_identity, blobs) if identity[0] in paths]


def _gcs_listing(glob: str):
    """The objects under the part of a gs:// glob before its first wildcard: one listing, paged,
    not one request per file (Beam's match gives only size and update time)."""
    from google.cloud.storage import Client

    bucket, _, pattern = glob[len(GCS) :].partition("/")
    prefix = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    return Client().list_blobs(bucket, prefix=prefix)


def train_tokenizer(config: Config) -> str:
    # training_memory_bytes only decides whether the run may start: it changes no output.
    settings = {
        k: v for k, v in dataclasses.asdict(config.tokenizer).items() if k not in ("docs", "training_memory_bytes")
    }
    return _sha256_of("train-tokenizer", {"docs": _upstream(config.tokenizer.docs), "tokenizer": settings})


def tokenize(config: Config, tokenizer_sha256: str) -> str:
    settings = {k: v for k, v in dataclasses.asdict(config.tokenize).items() if k not in ("docs", "tokenizer")}
    return _sha256_of(
        "tokenize",
        {"docs": _upstream(config.tokenize.docs), "tokenizer_sha256": tokenizer_sha256, "tokenize": settings},
    )
