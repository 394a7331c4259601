"""The distribution sketch: 1 % relative accuracy for any quantile, merges that equal one sketch."""

import math
import random

import pytest

from events import sketch


def _disc(values, q):
    """percentile_disc: the sorted sample at 1-based position ceil(q * n), at least 1."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@pytest.mark.parametrize("seed", range(5))
def test_quantiles_are_within_one_percent_of_the_values(seed):
    rng = random.Random(seed)
    values = ([rng.lognormvariate(3, 2) for _ in range(5000)]
              + [-rng.expovariate(0.01) for _ in range(500)] + [0.0] * 50)
    counts: dict[int, int] = {}
    sketch.add(counts, values)
    for q in (0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1):
        true = _disc(values, q)
        estimate = sketch.quantile(counts, q, low=min(values), high=max(values))
        assert abs(estimate - true) <= sketch.ALPHA * abs(true), (q, true, estimate)


def test_merged_sketches_equal_the_sketch_of_all_values():
    rng = random.Random(7)
    parts = [[rng.uniform(0.001, 1e6) for _ in range(300)] for _ in range(4)]
    whole: dict[int, int] = {}
    sketch.add(whole, [v for part in parts for v in part])
    merged: dict[int, int] = {}
    for part in parts:
        counts: dict[int, int] = {}
        sketch.add(counts, part)
        keys = sorted(counts)
        sketch.merge(merged, keys, [counts[k] for k in keys])
    assert merged == whole


def test_keys_order_like_values_and_extremes_are_indexable():
    values = [-1e300, -5.0, -1e-9, 0.0, 1e-200, 1.0, 1.02, 1e12, 1.7e308]
    keys = [sketch.key_of(v) for v in values]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert all(-2**31 < k < 2**31 for k in keys)  # fits PostgreSQL's int
    for value in values:
        represented = sketch.value_of(sketch.key_of(value))
        assert abs(represented - value) <= sketch.ALPHA * abs(value)


def test_an_empty_sketch_has_no_quantile():
    assert sketch.quantile({}, 0.5) is None


def test_sorted_arrays_rank_like_the_dict():
    rng = random.Random(11)
    counts: dict[int, int] = {}
    sketch.add(counts, [rng.expovariate(0.1) for _ in range(999)])
    keys = sorted(counts)
    for q in (0, 0.3, 0.5, 0.95, 0.99, 1):
        assert sketch.quantile_sorted(keys, [counts[k] for k in keys], q) == \
            sketch.quantile(counts, q)
    assert sketch.quantile_sorted([], [], 0.5) is None
