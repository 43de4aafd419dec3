"""Beam's DaskRunner, corrected where our pipelines need it.

    textshards prepare ... -- --runner DaskRunner --dask_client_address 127.0.0.1:8786

runs a pipeline on a dask.distributed cluster (pipeline.beam_runner maps `DaskRunner` to this
class). Beam's own DaskRunner (apache_beam.runners.dask, Beam 2.77) translates a pipeline into
dask.bag operations, but cannot run ours (docs/runners.md has each case with Beam's source lines):

  - it computes only the graph of the last transform visited: every other sink never runs;
  - every consumer of any output of a multi-output ParDo gets all of its outputs, tags lost;
  - what a DoFn emits in finish_bundle is dropped (our stats are emitted there);
  - a Read (e.g. ReadFromParquet) fails: its translation has no input bag;
  - Reshuffle does nothing, so the few elements of a Create stay in one partition, one worker;
  - every task that reads a side input submits the side input's graph to the cluster again
    and holds its worker thread until it is computed.

This runner keeps Beam's translation of Create and Flatten and replaces the rest: a ParDo's
partition becomes a list of (tag, value), those of finish_bundle included, and each output
PCollection selects its tag; a ParDo's tasks read its side inputs' partitions by key, computed
once; Reshuffle deals the elements over PARTITIONS_PER_THREAD partitions per cluster thread; a
GroupByKey first joins its input's partitions down to that number; every PCollection that
nothing reads is computed. Windowing is as in Beam's DaskRunner: values leave a ParDo without
their window, so only the global window is supported (the only one our pipelines use).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import dask.bag as db
from apache_beam import pvalue
from apache_beam.io.iobase import BoundedSource
from apache_beam.pipeline import AppliedPTransform, PipelineVisitor
from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, Receiver, _OutputHandler
from apache_beam.runners.dask import dask_runner as beam_dask
from apache_beam.runners.dask.overrides import _GroupByKeyOnly, _Read, _Reshuffle, dask_overrides
from apache_beam.runners.dask.transform_evaluator import TRANSLATIONS, Flatten, NoOp, get_windowed_value
from apache_beam.transforms.sideinputs import SideInputMap
from apache_beam.transforms.window import GlobalWindows, WindowFn
from dask import distributed
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

# A Read's source is cut into bundles of about this size, one partition each.
READ_BUNDLE_BYTES = 64 * 1024 * 1024
# Partitions of a Create, a Reshuffle and a GroupByKey per cluster thread (unless
# --dask_npartitions says): enough that a slow partition does not leave the other threads idle,
# few enough that a GroupByKey's shuffle stays small (its tasks grow with partitions squared).
PARTITIONS_PER_THREAD = 4


class DaskRunner(beam_dask.DaskRunner):
    """Runs a pipeline on the dask.distributed cluster named by the DaskOptions."""

    def run_pipeline(self, pipeline, options):
        dask_options = options.view_as(beam_dask.DaskOptions).get_all_options(drop_default=True, current_only=True)
        bag_kwargs = beam_dask.DaskOptions._extract_bag_kwargs(dask_options)
        client = distributed.Client(**dask_options)
        partitions = bag_kwargs.get("npartitions") or (sum(client.nthreads().values()) or 1) * PARTITIONS_PER_THREAD
        if not bag_kwargs:
            bag_kwargs["npartitions"] = partitions  # of a Create (Beam's default: 128 elements each)
        pipeline.replace_all(dask_overrides())
        translation = _Translation(bag_kwargs, partitions, job=uuid.uuid4().hex)
        pipeline.visit(translation)
        return _Result(client, [client.compute(translation.sinks())])


class _Result(beam_dask.DaskRunnerResult):
    """Closes the connection to the scheduler once the job has finished or failed (Beam's
    result leaves it open; it ends either way, a timeout counting as failed)."""

    def wait_until_finish(self, duration=None) -> str:
        try:
            return super().wait_until_finish(duration)
        finally:
            self.client.close()


class _Translation(PipelineVisitor):
    """Builds a dask bag for every PCollection, primitive by primitive, in pipeline order."""

    def __init__(self, bag_kwargs: dict, partitions: int, job: str):
        """job: unique per run, so that no two runs on one cluster share a task name."""
        self._bag_kwargs = bag_kwargs
        self._partitions = partitions
        self._job = job
        self._bags: dict[pvalue.PCollection, db.Bag] = {}
        self._read: set[pvalue.PCollection] = set()

    def visit_transform(self, node: AppliedPTransform) -> None:
        inputs = [pc for pc in node.inputs if not isinstance(pc, pvalue.PBegin)]
        self._read.update(inputs)
        self._read.update(side.pvalue for side in node.side_inputs)
        transform = node.transform
        if type(transform) is beam.ParDo:
            bag = self._par_do(node)
            for tag, output in node.outputs.items():
                self._bags[output] = bag.map_partitions(_select, tag)
            return
        if type(transform) is _Reshuffle:
            bag = self._spread(self._bags[inputs[0]])
        elif type(transform) is _GroupByKeyOnly:
            # Dask's task shuffle makes partitions-squared tasks: join partitions first (Flattens add them up).
            bag = self._bags[inputs[0]]
            bag = bag.repartition(npartitions=min(bag.npartitions, self._partitions))
            bag = bag.groupby(_key, shuffle="tasks").map(_key_and_values)
        elif type(transform) is _Read:
            bag = _read(transform.source)
        else:
            op = TRANSLATIONS.get(type(transform), NoOp)(node, bag_kwargs=self._bag_kwargs)
            bags = [self._bags[pc] for pc in inputs]
            if not isinstance(op, Flatten) and len(bags) > 1:
                raise NotImplementedError(f"{node.full_label}: {type(transform).__name__} with several inputs")
            bag = op.apply(input_bag=bags if isinstance(op, Flatten) else (bags[0] if bags else None))
        (output,) = node.outputs.values()
        self._bags[output] = bag

    def _spread(self, bag: db.Bag) -> db.Bag:
        """The elements of `bag` dealt over at least `partitions` partitions by the hash of their
        position in their partition: one large partition (all of a source's files, or a big file's
        documents) ends up spread evenly, as Beam's Reshuffle would spread it over workers."""
        bag = bag.repartition(npartitions=max(bag.npartitions, self._partitions))
        return bag.map_partitions(_numbered).groupby(_key, shuffle="tasks").map_partitions(_grouped_values)

    def sinks(self) -> db.Bag:
        """One empty bag that depends on every PCollection no transform reads: computing it runs
        every sink, and brings nothing back to this process."""
        return db.concat([bag.map_partitions(_discard) for pc, bag in self._bags.items() if pc not in self._read])

    def _par_do(self, node: AppliedPTransform) -> db.Bag:
        transform = node.transform
        main_input = next(iter(node.main_inputs.values()))
        call = _DoFnCall(
            dofn=transform.fn,
            label=node.full_label,
            window_fn=_window_fn(main_input),
            args=tuple(transform.args),
            kwargs=dict(transform.kwargs),
            side_inputs=tuple((type(side), side._view_options(), _window_fn(side.pvalue)) for side in node.side_inputs),
        )
        # Every task of the ParDo reads every partition of each side input, by key, in one graph. Not a
        # Bag reduction passed as an argument: dask optimises such a collection apart, fusing its
        # steps under other names, and the pipeline would run them twice.
        main = self._bags[main_input]
        sides = [self._bags[side.pvalue] for side in node.side_inputs]
        side_keys = [[(side.name, i) for i in range(side.npartitions)] for side in sides]
        name = f"{_task_name(node.full_label)}-{tokenize(self._job, node.full_label)}"
        tasks = {(name, i): (_run_bundle, (main.name, i), call, side_keys) for i in range(main.npartitions)}
        return db.Bag(HighLevelGraph.from_collections(name, tasks, dependencies=[main, *sides]), name, main.npartitions)


def _window_fn(pcoll: pvalue.PCollection) -> WindowFn:
    try:
        return pcoll.windowing.windowfn
    except AttributeError:  # the output of Beam's Dask _Read, which declares no windowing
        return GlobalWindows()


def _read(source) -> db.Bag:
    if not isinstance(source, BoundedSource):
        raise NotImplementedError(f"reading {type(source).__name__}: only bounded sources run on Dask")
    bundles = list(source.split(desired_bundle_size=READ_BUNDLE_BYTES))
    return db.from_sequence(bundles, partition_size=1).map_partitions(_read_bundles)


def _read_bundles(bundles) -> list:
    return [
        record
        for bundle in bundles
        for record in bundle.source.read(bundle.source.get_range_tracker(bundle.start_position, bundle.stop_position))
    ]


def _key(pair: tuple):
    return pair[0]


def _key_and_values(group: tuple) -> tuple:
    """(key, [(key, windowed value), ...]) as grouped -> (key, [value, ...]): windows dropped."""
    key, pairs = group
    return key, [windowed.value for _, windowed in pairs]


def _numbered(elements) -> list[tuple[int, Any]]:
    return list(enumerate(elements))


def _grouped_values(groups) -> list:
    return [value for _, pairs in groups for _, value in pairs]


def _select(pairs: list[tuple[Any, Any]], tag) -> list:
    return [value for pair_tag, value in pairs if pair_tag == tag]


def _discard(values) -> list:
    return []


def _task_name(label: str) -> str:
    """The last part of a Beam label as the start of a dask key (the dashboard shows it), without
    '-' (dask's separator)."""
    return "".join(c if c.isalnum() else "_" for c in label.rsplit("/", 1)[-1])[:40] or "ParDo"


@dataclass(frozen=True)
class _DoFnCall:
    """What a task needs to run a ParDo's DoFn over one partition."""

    dofn: beam.DoFn
    label: str  # unique in the pipeline
    window_fn: WindowFn
    args: tuple  # the DoFn's extra arguments, a placeholder where each side input goes
    kwargs: dict
    side_inputs: tuple  # (view class, view options, window fn) per side input, in order


class _Collect(Receiver):
    def __init__(self, tag, outputs: list):
        self._tag = tag
        self._outputs = outputs

    def receive(self, windowed_value):
        self._outputs.append((self._tag, windowed_value.value))


class _CollectByTag(dict):
    """The receivers of one bundle, by output tag (None: the main output), all into `outputs`."""

    def __init__(self, outputs: list):
        super().__init__()
        self._outputs = outputs

    def __missing__(self, tag):
        self[tag] = _Collect(tag, self._outputs)
        return self[tag]


def _run_bundle(elements, call: _DoFnCall, side_partitions: list[list[list]]) -> list[tuple[Any, Any]]:
    """Runs the DoFn over one partition as one bundle; returns (tag, value) for every output,
    those of finish_bundle included. side_partitions: the partitions of each side input."""
    outputs: list[tuple[Any, Any]] = []
    receivers = _CollectByTag(outputs)
    handler = _OutputHandler(
        window_fn=call.window_fn,
        main_receivers=receivers[None],
        tagged_receivers=receivers,
        per_element_output_counter=None,
        output_batch_converter=None,
        process_yields_batches=False,
        process_batch_yields_elements=False,
    )
    side_inputs = [
        SideInputMap(
            view_class,
            view_options,
            [get_windowed_value(v, window_fn) for v in itertools.chain.from_iterable(partitions)],
        )
        for (view_class, view_options, window_fn), partitions in zip(call.side_inputs, side_partitions)
    ]
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(call.dofn),
        handler,
        context=DoFnContext(call.label, state=None),
        side_inputs=side_inputs,
        input_args=list(call.args),
        input_kwargs=dict(call.kwargs),
        user_state_context=None,
        bundle_finalizer_param=beam.DoFn.BundleFinalizerParam(),
    )
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for element in elements:
        invoker.invoke_process(get_windowed_value(element, call.window_fn))
    invoker.invoke_finish_bundle()
    invoker.invoke_teardown()
    return outputs
