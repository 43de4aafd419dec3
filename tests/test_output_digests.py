"""The outputs of prepare, train-tokenizer and tokenize, byte for byte, against a recorded digest.

The digests in tests/output_digests.json were recorded before the architecture refactor (issue 11)
on the demo corpus and on ../shared/corpora. A change that alters any output file fails here;
where the change is meant (a better cleaning rule, say), re-record with
TEXTSHARDS_RECORD_DIGESTS=1 and say why in the commit.

Document ids hold each file's path below its glob's root (docs/ids.md), so the outputs do not
depend on where the checkout or the corpora live.
"""

import json
import os

import pytest

from tests.helpers import REPO_ROOT, file_digests

RECORDED = REPO_ROOT / "tests" / "output_digests.json"


def _check(name: str, digests: dict[str, str]) -> None:
    recorded = json.loads(RECORDED.read_text()) if RECORDED.exists() else {}
    if os.environ.get("TEXTSHARDS_RECORD_DIGESTS"):
        recorded[name] = digests
        RECORDED.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    assert digests == recorded[name]


@pytest.mark.slow  # the session's demo_run: prepare, train-tokenizer and tokenize
def test_demo_corpus_outputs_match_the_recorded_digest(demo_run):
    _check("demo", file_digests(demo_run))


@pytest.mark.slow  # the session's corpora_run: prepare, train-tokenizer and tokenize
def test_shared_corpora_outputs_match_the_recorded_digest(corpora_run):
    _check("corpora", file_digests(corpora_run))
