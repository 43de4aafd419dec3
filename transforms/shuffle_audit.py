"""What crosses a shuffle: the bytes of every element that reaches a GroupByKey or a side input.

    with measure_shuffles(max_element_bytes=64 * 1024) as audit:
        run_prepare(config, [])      # any code that builds and runs Beam pipelines
    audit.totals()                   # [StepTotal(step, kind, bytes, elements, largest), ...]

While the context is active, every pipeline built gets a measuring step before each
  - GroupByKey, and so before every Reshuffle and CoGroupByKey, which expand to one (kind "shuffle");
  - CombinePerKey, and so CombineGlobally, Distinct, Count and combiners.ToList: measured at its input,
    before the runner's combiner lifting shrinks it, and the GroupByKey inside it is not measured
    again, so the figure is an upper bound on what crosses (kind "shuffle");
  - side input (AsList, AsDict, AsSingleton, AsIter...) of a ParDo or Combine: the runner
    materialises the whole PCollection for every worker that reads it (kind "side_input");
  - the main input of a ParDo that reads side inputs: the DirectRunner's FnApiRunner cannot fuse
    such a ParDo with the step before it, and holds the whole main input until the side inputs are
    ready (kind "held_main_input").
The step encodes each element with its PCollection's coder (the bytes the runner ships) and adds the
size to a Beam distribution metric, which runners aggregate across workers. With max_element_bytes,
one element over it fails the job with ElementTooLarge naming the shuffle's transform.

Beam has no hook on pipeline construction, so `Pipeline.apply` is patched while the context is active
(pipelines built inside it, wherever they run, are instrumented); it is restored on exit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator

import apache_beam as beam
from apache_beam.coders import registry
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.pvalue import PCollection

SHUFFLE, SIDE_INPUT, HELD_MAIN_INPUT = "shuffle", "side_input", "held_main_input"
# One metrics namespace per kind; each metric is named after the transform it measures.
NAMESPACES = {kind: f"shuffle_audit.{kind}" for kind in (SHUFFLE, SIDE_INPUT, HELD_MAIN_INPUT)}


class ElementTooLarge(RuntimeError):
    """An element bigger than measure_shuffles' max_element_bytes reached a shuffle or side input."""


@dataclass(frozen=True)
class StepTotal:
    step: str  # full label of the GroupByKey or CombinePerKey; of the ParDo and "[side input N]" or "[main input]"
    kind: str  # SHUFFLE, SIDE_INPUT or HELD_MAIN_INPUT
    bytes: int  # encoded bytes of every element
    elements: int
    largest: int  # bytes of the largest element


@dataclass
class ShuffleAudit:
    """The pipelines built while measure_shuffles was active; their totals once they have run."""

    max_element_bytes: int | None = None
    pipelines: list[beam.Pipeline] = field(default_factory=list)
    combine_depth: int = 0  # > 0 while a CombinePerKey (measured at its input) is being expanded

    def totals(self) -> list[StepTotal]:
        """Every measured step of the pipelines that ran in a `with beam.Pipeline()` block."""
        return [t for p in self.pipelines if getattr(p, "result", None) for t in shuffle_totals(p.result)]


def total_bytes(totals: list[StepTotal], kind: str = SHUFFLE) -> int:
    return sum(t.bytes for t in totals if t.kind == kind)


def shuffle_totals(result: beam.runners.runner.PipelineResult) -> list[StepTotal]:
    """The measured steps of one finished pipeline, from its metrics (committed where the runner has them)."""
    totals = []
    for kind, namespace in NAMESPACES.items():
        for record in result.metrics().query(MetricsFilter().with_namespace(namespace))["distributions"]:
            sizes = record.committed or record.attempted
            if sizes and sizes.count:
                totals.append(StepTotal(record.key.metric.name, kind, sizes.sum, sizes.count, sizes.max))
    return sorted(totals, key=lambda t: (t.kind, t.step))


class _Measure(beam.DoFn):
    def __init__(self, coder, kind: str, transform: str, max_element_bytes: int | None):
        self._coder, self._kind, self._transform, self._max = coder, kind, transform, max_element_bytes
        self._sizes = Metrics.distribution(NAMESPACES[kind], transform)

    def process(self, element):
        size = len(self._coder.encode(element))
        if self._max is not None and size > self._max:
            raise ElementTooLarge(
                f"{self._transform}: an element of {size:,} bytes reaches a {self._kind}, over the "
                f"audit's limit of {self._max:,}: {repr(element)[:200]}"
            )
        self._sizes.update(size)
        yield element


_audit: ShuffleAudit | None = None
_original_apply = beam.Pipeline.apply


def _measured(pipeline, pcoll: PCollection, kind: str, name: str):
    """pcoll through a step that measures it as `name`, applied in the current scope; its element type
    (and so its coder) unchanged."""
    assert _audit is not None
    step = _Measure(registry.get_coder(pcoll.element_type), kind, name, _audit.max_element_bytes)
    measure = beam.ParDo(step).with_input_types(pcoll.element_type).with_output_types(pcoll.element_type)
    return _original_apply(pipeline, measure, pcoll, f"Audit {name.rpartition('/')[2]}")


def _audited_apply(pipeline, transform, pvalueish=None, label=None):
    audit = _audit
    # Beam re-enters apply with label=None after naming the transform: instrument only then.
    if audit is None or label is not None or isinstance(transform, beam.transforms.ptransform._NamedPTransform):
        return _original_apply(pipeline, transform, pvalueish, label)
    if pipeline not in audit.pipelines:
        audit.pipelines.append(pipeline)
    full_label = f"{pipeline._current_transform().full_label}/{transform.label}".lstrip("/")
    # ParDo(...).with_outputs() applies its ParDo inside a composite whose outputs Beam takes from its first
    # part: the side inputs are measured before that composite, and the views marked so the ParDo skips them.
    with_side_inputs = getattr(transform, "_do_transform", transform)
    views = getattr(with_side_inputs, "side_inputs", ())
    if views and isinstance(pvalueish, PCollection) and not getattr(with_side_inputs, "_audited", False):
        pvalueish = _measured(pipeline, pvalueish, HELD_MAIN_INPUT, f"{full_label} [main input]")
        with_side_inputs._audited = True  # the ParDo inside a with_outputs() composite: measured here
    for index, view in enumerate(views):
        if not getattr(view, "_audited", False):  # one view read by several transforms is materialised once
            view.pvalue = _measured(pipeline, view.pvalue, SIDE_INPUT, f"{full_label} [side input {index}]")
            view._audited = True
    grouping = isinstance(transform, (beam.GroupByKey, beam.CombinePerKey))
    if grouping and audit.combine_depth == 0 and isinstance(pvalueish, PCollection):
        pvalueish = _measured(pipeline, pvalueish, SHUFFLE, full_label)
    combine = isinstance(transform, beam.CombinePerKey)
    audit.combine_depth += combine
    try:
        return _original_apply(pipeline, transform, pvalueish)
    finally:
        audit.combine_depth -= combine


@contextlib.contextmanager
def measure_shuffles(max_element_bytes: int | None = None) -> Iterator[ShuffleAudit]:
    """Instruments every pipeline built inside the block (see the module doc); not re-entrant."""
    global _audit
    if _audit is not None:
        raise RuntimeError("measure_shuffles is already active")
    _audit = ShuffleAudit(max_element_bytes)
    beam.Pipeline.apply = _audited_apply  # type: ignore[method-assign]
    try:
        yield _audit
    finally:
        beam.Pipeline.apply = _original_apply  # type: ignore[method-assign]
        _audit = None
