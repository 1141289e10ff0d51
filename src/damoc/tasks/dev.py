"""A dev split carved from a task's training split: tune on it, never on the eval split.

Examples sharing their ``selection.cluster_by`` text (``medical_except``'s question stems, a reading
passage) are held out together, as the bundled eval splits are cut: a dev example whose stem is also
in the rest of train would make the dev split easier than the eval split it stands in for.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar, get_args

from damoc.tasks.example import Example

T = TypeVar("T")
ClusterKey = Literal["question", "context", "none"]
CLUSTER_KEYS = get_args(ClusterKey)


def cluster_key(item: Any, key: ClusterKey, index: int) -> str:
    """The cluster of one example (an :class:`Example` or a raw JSON record): its ``key`` text.

    ``key="none"`` makes every example its own cluster, keyed by its position. An example without
    the field (``context: null``) also forms a cluster alone, as
    :func:`damoc.selection.uncertainty.example_groups` does, rather than joining every other one.
    """
    if key == "none":
        return str(index)
    if isinstance(item, Example):
        value = getattr(item, key)
    elif isinstance(item, Mapping):
        value = item.get(key)
    else:
        raise TypeError(f"expected an Example or a mapping, got {type(item).__name__}")
    return str(value) if value not in (None, "") else f"\0{index}"  # NUL: no real text collides


def carve_dev(
    items: Sequence[T], key: ClusterKey, dev_size: int, seed: int, min_clusters: int = 1
) -> tuple[list[T], list[T]]:
    """Split ``items`` into (rest, dev): whole clusters held out, in a seeded order, until the dev split is big enough.

    Cluster keys are sorted and shuffled with ``random.Random(seed)``; clusters are taken in that
    order while fewer than ``dev_size`` examples or fewer than ``min_clusters`` clusters are held.
    Both parts keep the input order. The same items, key and seed give the same split.

    Args:
        items: the training split (examples or raw JSON records).
        key: ``question``, ``context`` or ``none`` (``selection.cluster_by``).
        dev_size: the fewest examples held out (the last cluster taken may overshoot it).
        seed: seed of the cluster order (the run's ``seed``).
        min_clusters: the fewest clusters held out: a task with few, large clusters would otherwise
            get a dev split of a handful of them (``medical_except`` asks 80 stems about 28 times
            each: 96 examples are 4 stems).

    Raises:
        ValueError: an unknown ``key``, ``dev_size`` or ``min_clusters`` below 1, or a request that
            would hold out every cluster and leave nothing to train on.
    """
    if key not in CLUSTER_KEYS:
        raise ValueError(f"key={key!r} is not a cluster key; allowed: {', '.join(CLUSTER_KEYS)}")
    if dev_size < 1 or min_clusters < 1:
        raise ValueError(f"dev_size={dev_size} and min_clusters={min_clusters} must both be >= 1")
    keys = [cluster_key(item, key, i) for i, item in enumerate(items)]
    sizes: dict[str, int] = {}
    for k in keys:
        sizes[k] = sizes.get(k, 0) + 1
    order = sorted(sizes)
    random.Random(seed).shuffle(order)
    held: set[str] = set()
    count = 0
    for k in order:
        if count >= dev_size and len(held) >= min_clusters:
            break
        held.add(k)
        count += sizes[k]
    if len(held) == len(order):
        raise ValueError(
            f"dev_size={dev_size} (min_clusters={min_clusters}) holds out all {len(order)} clusters of "
            f"{len(items)} examples; nothing is left to train on"
        )
    rest = [item for item, k in zip(items, keys, strict=True) if k not in held]
    dev = [item for item, k in zip(items, keys, strict=True) if k in held]
    return rest, dev
