"""measure_shuffles: what crosses each shuffle and side input is counted, on both DirectRunner modes."""

import apache_beam as beam
import pytest
from apache_beam.coders import registry
from apache_beam.options.pipeline_options import PipelineOptions

from tests.helpers import IN_MEMORY, MULTI_PROCESS
from transforms.shuffle_audit import HELD_MAIN_INPUT, SHUFFLE, SIDE_INPUT, measure_shuffles, total_bytes

WORDS = ["apple" * 20, "berry", "apple" * 20, "cherry" * 3]


def _every_kind_of_shuffle(pipeline):
    words = pipeline | "Words" >> beam.Create(WORDS, reshuffle=False)
    pairs = words | "Pair" >> beam.Map(lambda w: (w[0], w))
    _ = pairs | "Group" >> beam.GroupByKey()
    _ = words | "Spread" >> beam.Reshuffle()
    _ = {"left": pairs, "right": pairs} | "Join" >> beam.CoGroupByKey()
    lengths = pairs | "Lengths" >> beam.MapTuple(lambda k, w: (k, len(w))) | "Sum" >> beam.CombinePerKey(sum)
    _ = words | "Unique" >> beam.Distinct()
    _ = words | "Use" >> beam.Map(lambda w, sums: w, sums=beam.pvalue.AsDict(lengths))
    limit = beam.pvalue.AsSingleton(pipeline | "Limit" >> beam.Create([10]))
    by_length = beam.FlatMap(lambda w, limit: [beam.pvalue.TaggedOutput("long", w) if len(w) > limit else w], limit)
    split = words | "Split" >> by_length.with_outputs("long", main="short")
    _ = split.long | "Key long" >> beam.Map(lambda w: (len(w), w)) | "Group long" >> beam.GroupByKey()
    return pairs


def _audit(beam_args):
    with measure_shuffles() as audit:
        with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
            pairs = _every_kind_of_shuffle(pipeline)
    return {t.step: t for t in audit.totals()}, registry.get_coder(pairs.element_type)


def test_every_grouping_and_side_input_is_counted_in_encoded_bytes():
    totals, pair_coder = _audit(IN_MEMORY)
    sizes = [len(pair_coder.encode((w[0], w))) for w in WORDS]  # the bytes the runner ships
    group = totals["Group"]
    assert (group.kind, group.bytes, group.elements, group.largest) == (SHUFFLE, sum(sizes), 4, max(sizes))
    assert totals["Join/CoGroupByKeyImpl/GroupByKey"].elements == 8  # both sides
    assert totals["Spread/ReshufflePerKey/GroupByKey"].elements == 4
    assert totals["Sum"].elements == 4  # a CombinePerKey is counted at its input, its inner GroupByKey not again
    assert not any(step.startswith("Sum/") for step in totals)
    assert totals["Unique/Group"].elements == 4  # Distinct is a CombinePerKey
    assert (totals["Use [side input 0]"].elements, totals["Use [side input 0]"].kind) == (3, SIDE_INPUT)
    # The main input of a ParDo that reads a side input is held whole before it: measured once.
    assert (totals["Use [main input]"].elements, totals["Use [main input]"].kind) == (4, HELD_MAIN_INPUT)
    # A multi-output ParDo's side input is measured outside it, and its outputs stay wired as they were.
    assert totals["Split [side input 0]"].elements == 1 and totals["Group long"].elements == 3
    assert totals["Split [main input]"].elements == 4


def test_element_over_the_limit_fails_naming_the_transform():
    with pytest.raises(Exception, match=r"Deep/Big group: an element of \d+ bytes reaches a shuffle"):
        with measure_shuffles(max_element_bytes=64):
            with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as pipeline:
                pairs = pipeline | beam.Create([("small", "x"), ("big", "x" * 100)], reshuffle=False)
                _ = pairs | "Deep" >> (beam.Map(lambda kv: kv) | "Big group" >> beam.GroupByKey())


def test_pipelines_built_outside_the_block_are_not_instrumented():
    with measure_shuffles() as audit:
        pass
    with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as pipeline:
        _every_kind_of_shuffle(pipeline)
    assert audit.totals() == [] and not any("Audit" in label for label in pipeline.applied_labels)


@pytest.mark.slow
def test_worker_processes_report_the_same_totals_as_one_process():
    in_memory, workers = _audit(IN_MEMORY)[0], _audit(MULTI_PROCESS)[0]
    assert {step: (t.kind, t.elements) for step, t in workers.items()} == {
        step: (t.kind, t.elements) for step, t in in_memory.items()
    }
    for step, total in in_memory.items():  # a Reshuffle's random keys take 1 or 2 bytes each; the rest is exact
        assert abs(workers[step].bytes - total.bytes) <= (total.elements if "Reshuffle" in step else 0), step
    assert total_bytes(list(workers.values())) > 0
