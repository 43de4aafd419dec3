"""Stage fingerprints follow the code (a change to a package a stage runs redoes that stage only) and
the inputs (on gs://, by generation and checksums)."""

import base64
import hashlib

from google.cloud.storage import Blob, Bucket
from google_crc32c import value as crc32c

from pipeline.fingerprint import STAGE_PACKAGES, gcs_identities, gcs_identity, inputs_compared_by, source_sha256


def _tree(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_a_code_change_changes_the_fingerprint_of_the_stages_that_run_that_code(tmp_path):
    _tree(
        tmp_path,
        {
            "pipeline/prepare.py": "A = 1\n",
            "transforms/clean.py": "B = 1\n",
            "tokenizer_training/bpe.py": "C = 1\n",
            "trainer/model.py": "D = 1\n",
        },
    )
    before = {stage: source_sha256(packages, tmp_path) for stage, packages in STAGE_PACKAGES.items()}

    _tree(tmp_path, {"tokenizer_training/bpe.py": "C = 2\n", "trainer/model.py": "D = 2\n"})
    after = {stage: source_sha256(packages, tmp_path) for stage, packages in STAGE_PACKAGES.items()}
    assert [stage for stage in before if before[stage] != after[stage]] == ["train-tokenizer"]

    _tree(tmp_path, {"transforms/clean.py": "B = 2\n"})
    changed = {stage: source_sha256(packages, tmp_path) for stage, packages in STAGE_PACKAGES.items()}
    assert all(changed[stage] != after[stage] for stage in STAGE_PACKAGES)


def test_a_renamed_file_changes_the_fingerprint(tmp_path):
    _tree(tmp_path, {"transforms/a.py": "X = 1\n"})
    first = source_sha256(("transforms",), tmp_path)
    (tmp_path / "transforms/a.py").rename(tmp_path / "transforms/b.py")
    assert source_sha256(("transforms",), tmp_path) != first


def listed_blob(name: str, generation: int, data: bytes) -> Blob:
    """A Blob as a listing of bucket "corpus" makes it (from the JSON resource Cloud Storage sends)."""
    blob = Blob(name, Bucket(client=None, name="corpus"))
    blob._set_properties(
        {
            "name": name,
            "bucket": "corpus",
            "size": str(len(data)),
            "generation": str(generation),
            "crc32c": base64.b64encode(crc32c(data).to_bytes(4, "big")).decode(),
            "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),
            "updated": "2026-12-07T00:00:00.000Z",  # the same time: a rewrite within the second
        }
    )
    return blob


def test_a_gcs_object_rewritten_to_the_same_size_and_time_is_another_input():
    first = gcs_identity(listed_blob("web/a.warc.gz", 1, b"hello"))
    rewritten = gcs_identity(listed_blob("web/a.warc.gz", 2, b"jelly"))
    assert first[:2] == rewritten[:2] == ("gs://corpus/web/a.warc.gz", 5)
    assert first != rewritten
    put_back = gcs_identity(listed_blob("web/a.warc.gz", 3, b"hello"))  # the old bytes, a new generation
    assert put_back != first and put_back[3:] == first[3:]


def test_only_the_matched_gcs_objects_are_fingerprinted():
    blobs = [listed_blob(name, 1, b"x") for name in ("web/a.warc.gz", "web/b.json", "web/c.warc.gz")]
    matched = {"gs://corpus/web/a.warc.gz", "gs://corpus/web/c.warc.gz"}
    assert [identity[0] for identity in gcs_identities(blobs, matched)] == sorted(matched)


def test_the_skip_message_names_what_was_compared():
    assert inputs_compared_by(["corpus/*.txt"]) == "by size and modification time"
    assert inputs_compared_by(["gs://corpus/web/*"]) == "by size, generation, crc32c and md5"
    assert "gs:// objects by size, generation, crc32c and md5" in inputs_compared_by(["a/*", "gs://b/*"])
