"""No document text reaches a shuffle or a side input, in any stage (issue 12).

The session's demo run (prepare, train-tokenizer, tokenize on examples/corpus) is built under
transforms/shuffle_audit.measure_shuffles, which measures every element that reaches a
GroupByKey, a CombinePerKey or a side input, or the main input of a ParDo that reads side inputs
(which the DirectRunner holds whole), with the coder the runner ships it with. What may
cross: ids, keys, signatures, edges, counts, file references and small plans. A document's text,
a batch of token ids or a shingle set would be far larger than the limit below. Decontamination's
steps (its index, and the documents checked against it) are measured the same way in the
session's `decontamination_run`.
"""

import json

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.helpers import DECONTAMINATION_DOCUMENTS, MAX_ELEMENT_BYTES, REPEATED_ID_RECORDS


@pytest.fixture(scope="module")
def shuffled(demo_run) -> list[dict]:
    return json.loads((demo_run.parent / "shuffles.json").read_text())


def test_the_demo_documents_are_larger_than_the_limit(demo_run):
    sizes = [
        size
        for path in sorted((demo_run / "prepare" / "docs").glob("*.parquet"))
        for size in pc.binary_length(pq.read_table(path, columns=["text"]).column("text")).to_pylist()
    ]
    # else the proof below is weak. 0.75 until issue 13; since, whole paragraphs let more of the short
    # Python-docs pages through the filters: 37 of the 51 kept documents are over the limit.
    assert sum(size > MAX_ELEMENT_BYTES for size in sizes) >= 0.7 * len(sizes)


@pytest.mark.parametrize("stage", ["Prepare", "Sample for tokenizer", "Tokenize"])
def test_no_element_over_the_limit_reaches_a_shuffle_or_side_input(shuffled, stage):
    steps = [step for step in shuffled if step["step"].startswith(f"{stage}/")]
    assert steps, f"no shuffle of {stage} was measured"
    too_large = {step["step"]: step["largest"] for step in steps if step["largest"] > MAX_ELEMENT_BYTES}
    assert not too_large


def test_no_document_text_crosses_a_shuffle_of_decontamination(decontamination_run):
    shuffled = json.loads((decontamination_run / "shuffles.json").read_text())
    steps = {step["step"]: step["largest"] for step in shuffled}
    assert any(step.startswith("Prepare/Index benchmarks/") for step in steps)
    assert any(step.startswith("Decontaminate/Index benchmarks/") for step in steps)
    # Every document is larger than the limit, so none of them crossed.
    assert min(len(text.encode()) for text in DECONTAMINATION_DOCUMENTS) > MAX_ELEMENT_BYTES
    assert {step: size for step, size in steps.items() if size > MAX_ELEMENT_BYTES} == {}


def test_no_document_text_crosses_the_shuffles_that_find_repeated_ids(repeated_ids_run):
    shuffled = json.loads((repeated_ids_run / "shuffles.json").read_text())
    steps = {step["step"]: step["largest"] for step in shuffled}
    assert any(step.startswith("Prepare/Find repeated ids/") for step in steps)
    assert any(step.startswith("Prepare/Parts with their repeated ids/") for step in steps)
    # Every document is larger than the limit, so none of them crossed.
    assert min(len(record["text"].encode()) for record in REPEATED_ID_RECORDS if record["text"]) > MAX_ELEMENT_BYTES
    assert {step: size for step, size in steps.items() if size > MAX_ELEMENT_BYTES} == {}
