"""Connected components by large-star / small-star: correct, convergent, and loud when not."""

import random
import string

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from tests.helpers import IN_MEMORY
from transforms.dedup.components import (
    ConnectedComponents,
    NotConvergedError,
    components_in_memory,
    large_star,
    small_star,
)

CHAIN = [(a, b) for a, b in zip(string.ascii_lowercase, string.ascii_lowercase[1:])]  # a-b-c-...-z


def _union_find_roots(edges):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in edges:
        ru, rv = find(u), find(v)
        parent[max(ru, rv)] = min(ru, rv)
    return {x: find(x) for x in list(parent)}


@pytest.mark.parametrize("seed", range(5))
def test_components_match_union_find_on_random_graphs(seed):
    rng = random.Random(seed)
    nodes = [f"n{i:04d}" for i in range(400)]
    edges = [tuple(rng.sample(nodes, 2)) for _ in range(300)]
    roots, unsettled = components_in_memory(edges, max_rounds=12)
    assert roots == _union_find_roots(edges)
    assert unsettled[-1] == 0


@pytest.mark.parametrize("seed", range(5))
def test_star_steps_emit_each_edge_larger_end_first(seed):
    # ConnectedComponents groups their edges by the first end with no step to turn them round.
    rng = random.Random(seed)
    node = rng.randrange(50)
    neighbours = set(rng.sample(range(50), 8)) - {node}
    for u, v in [*large_star(node, neighbours), *small_star(node, {n for n in neighbours if n < node} or {-1})]:
        assert u > v


def test_long_chain_settles_in_logarithmic_rounds():
    roots, unsettled = components_in_memory(CHAIN, max_rounds=5)
    assert roots == {letter: "a" for letter in string.ascii_lowercase}
    assert unsettled == [24, 23, 21, 17, 9, 0]  # settled after round 5 of 5


def test_chain_that_does_not_settle_within_the_bound_raises():
    with pytest.raises(NotConvergedError, match="raise dedup.max_rounds"):
        components_in_memory(CHAIN, max_rounds=4)


def test_star_around_its_smallest_node_is_settled_from_the_start():
    star = [("a", leaf) for leaf in "bcdefgh"]
    roots, unsettled = components_in_memory(star, max_rounds=1)
    assert roots == {letter: "a" for letter in "abcdefgh"}
    assert unsettled == [0, 0]


def test_star_around_its_largest_node_settles_in_one_round():
    star = [("z", leaf) for leaf in "abcdefg"]
    roots, unsettled = components_in_memory(star, max_rounds=1)
    assert roots == {letter: "a" for letter in "abcdefgz"}
    assert unsettled == [1, 0]


def test_long_shuffled_chain_settles_well_within_the_default_bound():
    rng = random.Random(0)
    names = [f"{i:05d}" for i in range(5000)]
    rng.shuffle(names)
    roots, unsettled = components_in_memory(zip(names, names[1:]), max_rounds=12)
    assert set(roots.values()) == {"00000"}
    assert unsettled.index(0) <= 11


def test_beam_components_on_a_chain_with_convergence_counters():
    with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as pipeline:
        roots, stats = pipeline | beam.Create(CHAIN) | ConnectedComponents(5, "graph")
        assert_that(roots, equal_to([(letter, "a") for letter in string.ascii_lowercase]), label="roots")
        expected = [(("graph", f"cc.unsettled_after_round_{r:02d}"), n) for r, n in enumerate([24, 23, 21, 17, 9, 0])]
        assert_that(stats | beam.CombinePerKey(sum), equal_to(expected), label="counters")


def test_beam_components_fail_the_job_when_the_bound_is_hit():
    with pytest.raises(Exception, match="did not converge in 4 rounds"):
        with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as pipeline:
            _ = pipeline | beam.Create(CHAIN) | ConnectedComponents(4, "graph")


def test_beam_components_on_stars_and_random_graphs_match_union_find():
    rng = random.Random(3)
    nodes = [f"n{i:03d}" for i in range(150)]
    edges = [tuple(rng.sample(nodes, 2)) for _ in range(100)] + [("s99", f"s{i:02d}") for i in range(20)]
    with beam.Pipeline(options=PipelineOptions(IN_MEMORY)) as pipeline:
        roots, _ = pipeline | beam.Create(edges) | ConnectedComponents(6, "graph")
        assert_that(roots, equal_to(list(_union_find_roots(edges).items())))
