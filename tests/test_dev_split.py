"""carve_dev: a dev split of whole clusters from the training split, seeded, big enough, nothing lost."""

from __future__ import annotations

import pytest

from damoc.tasks.dev import carve_dev
from damoc.tasks.example import Example


def make_examples(sizes: dict[str, int]) -> list[Example]:
    """``sizes[q]`` examples asking question ``q``, interleaved so clusters are not contiguous."""
    out: list[Example] = []
    depth = max(sizes.values())
    for r in range(depth):
        for q, n in sizes.items():
            if r < n:
                out.append(Example(id=f"{q}{r}", question=q, answer=0, choices=("x", "y")))
    return out


SIZES = {"a": 3, "b": 2, "c": 1, "d": 4}  # 10 examples, 4 clusters


def test_hand_checked_split() -> None:
    # sorted keys a, b, c, d; random.Random(0).shuffle gives c, a, b, d.
    # dev_size 3: take c (1 held), a (4 held >= 3): dev = clusters a and c
    rest, dev = carve_dev(make_examples(SIZES), "question", dev_size=3, seed=0)
    assert sorted(e.id for e in dev) == ["a0", "a1", "a2", "c0"]
    assert sorted(e.id for e in rest) == ["b0", "b1", "d0", "d1", "d2", "d3"]
    # dev_size 5: c, a (4), b (6 >= 5)
    _, dev5 = carve_dev(make_examples(SIZES), "question", dev_size=5, seed=0)
    assert {e.question for e in dev5} == {"a", "b", "c"} and len(dev5) == 6
    # seed 1 orders d, a, c, b: dev_size 3 takes d alone
    _, dev_s1 = carve_dev(make_examples(SIZES), "question", dev_size=3, seed=1)
    assert [e.id for e in dev_s1] == ["d0", "d1", "d2", "d3"]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dev_size", [1, 2, 4, 6])  # any three clusters hold >= 6: one is always left
def test_whole_clusters_sizes_and_order(seed: int, dev_size: int) -> None:
    items = make_examples(SIZES)
    rest, dev = carve_dev(items, "question", dev_size, seed)
    assert {e.question for e in rest}.isdisjoint({e.question for e in dev})  # no cluster on both sides
    assert len(rest) + len(dev) == len(items) and len(dev) >= dev_size
    assert [e for e in items if e in dev] == dev and [e for e in items if e in rest] == rest  # input order kept
    # no overshoot beyond one cluster: without the last cluster taken the split was still too small
    assert any(len(dev) - SIZES[q] < dev_size for q in {e.question for e in dev})
    assert carve_dev(items, "question", dev_size, seed) == (rest, dev)  # deterministic


def test_seed_changes_the_split() -> None:
    items = make_examples(SIZES)
    splits = {tuple(e.id for e in carve_dev(items, "question", 3, seed)[1]) for seed in range(10)}
    assert len(splits) > 1


def test_raw_records_split_like_examples() -> None:
    items = make_examples(SIZES)
    records = [e.to_json() for e in items]
    rest, dev = carve_dev(records, "question", 3, seed=0)
    ex_rest, ex_dev = carve_dev(items, "question", 3, seed=0)
    assert [r["id"] for r in dev] == [e.id for e in ex_dev] and [r["id"] for r in rest] == [e.id for e in ex_rest]


def test_none_key_and_missing_field_make_singletons() -> None:
    items = make_examples(SIZES)
    rest, dev = carve_dev(items, "none", dev_size=4, seed=3)
    assert len(dev) == 4 and len(rest) == 6  # every example its own cluster: exactly dev_size
    # context is None everywhere: each example alone, not one cluster of ten
    _, dev_ctx = carve_dev(items, "context", dev_size=4, seed=3)
    assert len(dev_ctx) == 4


def test_min_clusters() -> None:
    items = make_examples(SIZES)
    _, dev = carve_dev(items, "question", dev_size=1, seed=0, min_clusters=3)
    assert {e.question for e in dev} == {"c", "a", "b"}  # the first three of c, a, b, d


def test_bad_requests() -> None:
    items = make_examples(SIZES)
    with pytest.raises(ValueError, match="dev_size=0"):
        carve_dev(items, "question", 0, seed=0)
    with pytest.raises(ValueError, match="holds out all 4 clusters"):
        carve_dev(items, "question", 10, seed=0)
    with pytest.raises(ValueError, match="key='topic' is not a cluster key; allowed: question, context, none"):
        carve_dev(items, "topic", 1, seed=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Example or a mapping"):
        carve_dev([("a", 1), ("b", 2)], "question", 1, seed=0)
