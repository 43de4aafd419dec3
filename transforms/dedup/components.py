"""Connected components of the duplicate graph, in Beam, with no worker holding the graph.

The alternating large-star / small-star algorithm (Kiveris et al., "Connected Components in
MapReduce and Beyond", SoCC 2014) turns every component into a star around its smallest node
in O(log^2 n) rounds (a handful in practice); each step is one GroupByKey by node:

    large-star: node u with neighbours N(u): every larger neighbour v links to m = min(N(u) + u)
    small-star: node u with smaller neighbours S(u): u and every v in S(u) link to m = min(S(u))

Edges are pairs of node names (any hashable, totally ordered values: keep.Name in the pipeline),
written (larger, smaller). The graph is settled when it is a forest of stars: no node has two
smaller neighbours, nor a smaller and a larger one; then each component's centre is its smallest
node. Beam graphs are static, so the rounds are unrolled `max_rounds` times: a settled graph goes
through the remaining rounds unchanged. Each round counts the nodes that are not yet settled
(stats counter `cc.unsettled_after_round_NN`, 00 being the input graph): the first round whose
count is 0 shows convergence. If the graph has not settled after the last round, the job fails
with a message that names `dedup.max_rounds`, rather than keeping wrong components.

A node's neighbours are held as a set while it is processed, so memory per worker grows with the
largest degree (at most the largest component), never with the number of documents.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Iterator

import apache_beam as beam

from transforms.stats import STATS_TAG, CountingDoFn

# A node's name: any hashable, totally ordered value (keep.Name in the pipeline, strings in tests).
Node = Any
Edge = tuple[Node, Node]


class NotConvergedError(RuntimeError):
    """Connected components were not settled after the configured number of rounds."""


def both_ways(edge: Edge) -> list[Edge]:
    u, v = edge
    return [(u, v), (v, u)]


def large_star(node: Node, neighbours: set[Node]) -> Iterator[Edge]:
    """Large-star step at `node` (all its neighbours): (v, m) for each neighbour v > node; v > m
    (m is at most node), so each edge comes larger end first, as small-star groups it."""
    smallest = min(min(neighbours), node)
    for v in neighbours:
        if v > node:
            yield v, smallest


def small_star(node: Node, smaller: set[Node]) -> Iterator[Edge]:
    """Small-star step at `node` (its smaller neighbours): (v, m) for v in smaller + node, v != m;
    v > m, since m is the smallest."""
    smallest = min(smaller)
    for v in smaller | {node}:
        if v != smallest:
            yield v, smallest


def settled_root(node: Node, neighbours: set[Node]) -> Node | None:
    """The centre of `node`'s star, if its neighbourhood is that of a settled star forest, else None.

    A centre (no smaller neighbour) is its own root; a leaf has exactly one neighbour, smaller.
    """
    smaller = [v for v in neighbours if v < node]
    if not smaller:
        return node
    if len(smaller) == 1 and len(neighbours) == 1:
        return smaller[0]
    return None


def components_in_memory(edges: Iterable[Edge], max_rounds: int) -> tuple[dict[Node, Node], list[int]]:
    """The same algorithm on one machine, for tests and benchmarks: ({node: root}, unsettled per round).

    The list counts unsettled nodes after 0, 1, ... rounds, like the pipeline's counters; raises
    NotConvergedError like the pipeline does.
    """
    edges = list(edges)
    unsettled = []
    for _ in range(max_rounds):
        grouped = _group(e for edge in edges for e in both_ways(edge))
        unsettled.append(sum(settled_root(u, n) is None for u, n in grouped.items()))
        edges = [e for u, n in grouped.items() for e in large_star(u, n)]
        grouped = _group(edges)  # larger end first already
        edges = [e for u, n in grouped.items() for e in small_star(u, n)]
    grouped = _group(e for edge in edges for e in both_ways(edge))
    roots = {u: settled_root(u, n) for u, n in grouped.items()}
    unsettled.append(sum(root is None for root in roots.values()))
    if unsettled[-1]:
        raise NotConvergedError(_not_converged_message(max_rounds, unsettled[-1]))
    return {u: root for u, root in roots.items() if root is not None}, unsettled  # every root is settled here


def _group(edges: Iterable[Edge]) -> dict[Node, set[Node]]:
    grouped: dict[Node, set[Node]] = defaultdict(set)
    for u, v in edges:
        grouped[u].add(v)
    return grouped


def _not_converged_message(rounds: int, nodes: int | str) -> str:
    return f"connected components did not converge in {rounds} rounds ({nodes} nodes unsettled): raise dedup.max_rounds"


class _LargeStar(CountingDoFn):
    def __init__(self, stats_source: str, rounds_before: int):
        self._source = stats_source
        self._counter = f"cc.unsettled_after_round_{rounds_before:02d}"

    def process(self, item):
        node, neighbours = item
        neighbours = set(neighbours)
        self.count(self._source, self._counter, settled_root(node, neighbours) is None)
        yield from large_star(node, neighbours)


class _SmallStar(beam.DoFn):
    """Each small-star edge both ways round, as the next large-star (or the roots) groups them."""

    def process(self, item):
        node, smaller = item
        for edge in small_star(node, set(smaller)):
            yield from both_ways(edge)


class _Roots(CountingDoFn):
    def __init__(self, stats_source: str, rounds: int):
        self._source = stats_source
        self._rounds = rounds

    def process(self, item):
        node, neighbours = item
        root = settled_root(node, set(neighbours))
        self.count(self._source, f"cc.unsettled_after_round_{self._rounds:02d}", root is None)
        if root is None:
            raise NotConvergedError(_not_converged_message(self._rounds, f"at least one, e.g. {node!r},"))
        yield node, root


class ConnectedComponents(beam.PTransform):
    """Edges (u, v) in; (node, root) out for every node on an edge (a root maps to itself).

    The root of a component is its smallest node. Returns (roots, stats): stats are
    ((stats_source, counter), n) pairs. `max_rounds` rounds of two GroupByKeys each, plus one.
    """

    def __init__(self, max_rounds: int, stats_source: str):
        super().__init__()
        self._max_rounds = max_rounds
        self._source = stats_source

    def expand(self, edges):
        # Each step emits its edges as the next groups them (small-star both ways round, large-star
        # larger end first), rather than a Map per round to turn them: 2 fewer ParDos to build and
        # run per round.
        edges = edges | "Both ends" >> beam.FlatMap(both_ways)
        stats = []
        for round_ in range(1, self._max_rounds + 1):
            large = (
                edges
                | f"Round {round_} large-star: group by node" >> beam.GroupByKey()
                | f"Round {round_} large-star"
                >> beam.ParDo(_LargeStar(self._source, round_ - 1)).with_outputs(STATS_TAG, main="edges")
            )
            stats.append(large[STATS_TAG])
            edges = (
                large.edges
                | f"Round {round_} small-star: group by larger node" >> beam.GroupByKey()
                | f"Round {round_} small-star" >> beam.ParDo(_SmallStar())
            )
        roots = (
            edges
            | "Roots: group by node" >> beam.GroupByKey()
            | "Roots" >> beam.ParDo(_Roots(self._source, self._max_rounds)).with_outputs(STATS_TAG, main="roots")
        )
        stats.append(roots[STATS_TAG])
        return roots.roots, tuple(stats) | "All counts" >> beam.Flatten()
