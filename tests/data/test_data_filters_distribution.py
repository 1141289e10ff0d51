"""Distribution-aware filters against hand-made data: minhash_dedup, embedding_dedup, cluster_balanced."""

from __future__ import annotations

import numpy as np
import pytest

from damoc.context import StageContext
from damoc.data.base import filter_record
from damoc.data.clustering import k_means
from damoc.data.filters.cluster_balanced import balanced_quotas, select_balanced
from damoc.data.filters.embedding_dedup import admit_diverse
from damoc.data.filters.minhash_dedup import minhash_unique, shingles
from damoc.registry import registry
from damoc.tasks.example import Example

LONG = "the quick brown fox jumps over the lazy dog while the farmer watches from the old wooden barn door"


def _qa(texts: list[str]) -> list[Example]:
    return [Example(id=f"e{i}", question=t, answer="a") for i, t in enumerate(texts)]


STEM = "Each of the following bones is found in the wrist EXCEPT:"
PASSAGE = (
    "The harbour town grew around a fish market that opened in 1820. Its lighthouse, built in 1855 from "
    "local granite, guided whalers home for a century, and the old customs house now holds a museum of "
    "maps, ropes and ship models donated by the families who fished the northern banks."
)


def _mc(question: str, choices: list[str], context: str | None = None, i: int = 0) -> Example:
    return Example(id=f"m{i}", question=question, answer=0, choices=choices, context=context)


def _items() -> list[Example]:
    """Hand-made items: which are the same item and which only share most of their text."""
    return [
        _mc(STEM, ["hamate", "lunate", "pisiform", "atlas"], i=0),
        _mc(STEM, ["scaphoid", "trapezium", "capitate", "femur"], i=1),  # same stem, other options: distinct
        _mc(STEM, ["pisiform", "atlas", "hamate", "lunate"], i=2),  # the options of 0 reordered: a duplicate
        _mc("When was the lighthouse built?", ["1820", "1855", "1905", "1950"], PASSAGE, i=3),
        _mc("What does the customs house hold now?", ["a museum", "a market", "a school", "a bank"], PASSAGE, i=4),
        _mc("When was the lighthouse built?", ["1855", "1950", "1820", "1905"], PASSAGE, i=5),  # 3 again
    ]


# ---------------------------------------------------------------- minhash_dedup


def test_shingles_are_lowercased_word_ngrams() -> None:
    assert shingles("The cat, the HAT!", 3) == {b"the cat the", b"cat the hat"}
    assert shingles("Two words", 3) == {b"two words"}  # shorter than n: one shingle
    assert shingles("  ", 3) == set()


def test_minhash_dedup_drops_exact_and_near_duplicates_and_keeps_distinct_texts() -> None:
    texts = [
        LONG,
        "Sort a list of integers with quicksort in Python and explain the pivot choice.",
        LONG.upper() + "!",  # exact duplicate up to case and punctuation
        LONG.replace("door", "gate"),  # near duplicate: the last of 19 words changed
        "How do vaccines train the immune system to recognise a virus?",
        "Sort a list of integers with quicksort in Python and explain the pivot choice.",
    ]
    jaccard = len(shingles(texts[3], 3) & shingles(LONG, 3)) / len(shingles(texts[3], 3) | shingles(LONG, 3))
    assert jaccard == pytest.approx(16 / 18)  # by hand: 17 shingles each, 16 shared
    kept, scores = minhash_unique(texts, 0.8, 3, 128, seed=0)
    assert kept == [0, 1, 4]
    assert scores[2] == scores[5] == 1.0 and abs(scores[3] - jaccard) < 0.1
    assert scores[0] == scores[1] == scores[4] == 0.0

    method = registry("filter").build("minhash_dedup", {})
    assert method.select(_qa(texts), StageContext(seed=0)) == [0, 1, 4]
    record = filter_record(method)
    assert record is not None and record.dropped == {"duplicate": 3, "keep_ratio": 0}
    assert record.reasons == {2: "duplicate", 3: "duplicate", 5: "duplicate"}


def test_minhash_estimate_tracks_the_true_jaccard() -> None:
    base = " ".join(f"w{i}" for i in range(40))
    for cut in (5, 15, 25):  # replace the last `cut` words: true Jaccard of the 3-gram sets falls
        other = " ".join(f"w{i}" if i < 40 - cut else f"x{i}" for i in range(40))
        a, b = shingles(base, 3), shingles(other, 3)
        _, scores = minhash_unique([base, other], 0.01, 3, 256, seed=1)
        assert abs(scores[1] - len(a & b) / len(a | b)) < 0.1


def test_minhash_dedup_compares_items_part_by_part() -> None:
    # one stem over other options, or another question about the same passage, is another item
    method = registry("filter").build("minhash_dedup", {})
    assert method.select(_items(), StageContext(seed=0)) == [0, 1, 3, 4]
    record = filter_record(method)
    assert record is not None and record.reasons == {2: "duplicate", 5: "duplicate"}
    assert record.scores[2] == record.scores[5] == 1.0  # every part repeats exactly
    # by hand: rows 0 and 1 share the question (Jaccard 1) and no choice word (Jaccard 0): min 0
    kept, scores = minhash_unique([("a b c d", "w x"), ("a b c d", "y z"), ("a b c d", "w x")], 0.8, 3, 128, seed=0)
    assert kept == [0, 1] and scores == [0.0, 0.0, 1.0]


def test_minhash_dedup_caps_at_keep_ratio_with_a_seeded_sample() -> None:
    examples = _qa([f"question number {w} about topic {w * 7}" for w in range(10)])
    method = registry("filter").build("minhash_dedup", {"keep_ratio": 0.3})
    kept = method.select(examples, StageContext(seed=4))
    assert len(kept) == 3 and kept == method.select(examples, StageContext(seed=4))
    record = filter_record(method)
    assert record is not None and record.dropped == {"duplicate": 0, "keep_ratio": 7}


# ---------------------------------------------------------------- embedding_dedup


def test_admit_diverse_on_hand_made_vectors() -> None:
    c = 0.96
    x = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [c, np.sqrt(1 - c * c), 0.0], [0.0, 0.0, 1.0], [-1.0, 0.0, 0.0]])
    kept, max_sim = admit_diverse(x, [0, 1, 2, 3, 4], 0.95)
    assert kept == [0, 3, 4]
    np.testing.assert_allclose(max_sim, [-1.0, 1.0, c, 0.0, 0.0], atol=1e-12)
    assert admit_diverse(x, [0, 1, 2, 3, 4], 0.97)[0] == [0, 2, 3, 4]  # 0.96 is below 0.97
    kept, max_sim = admit_diverse(x, [4, 3, 2, 1, 0], 0.95, limit=2)  # order matters; stops at the limit
    assert kept == [4, 3] and np.isnan(max_sim[[0, 1]]).all()


def test_admit_diverse_in_blocks_equals_a_naive_loop() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1200, 6))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    order = rng.permutation(1200).tolist()
    naive: list[int] = []
    for i in order:
        if all(float(x[i] @ x[j]) < 0.6 for j in naive):
            naive.append(i)
    assert admit_diverse(x, order, 0.6)[0] == naive
    assert admit_diverse(x, order, 0.6, limit=7)[0] == naive[:7]


def test_admit_diverse_on_parts_takes_the_least_similar_part() -> None:
    c = 0.96
    question = np.array([[1.0, 0.0], [1.0, 0.0], [c, np.sqrt(1 - c * c)], [0.0, 1.0]])
    context = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    kept, max_sim = admit_diverse([question, context], [0, 1, 2, 3], 0.95)
    # 1: question 1.0 but context 0.0 -> 0.0, kept; 2: min(0.96, 1.0) against 0 -> a duplicate;
    # 3: question 0.0 against 0, 0.28 against 1 (context 0.0 there) -> kept
    assert kept == [0, 1, 3]
    np.testing.assert_allclose(max_sim, [-1.0, 0.0, c, 0.0], atol=1e-12)
    assert admit_diverse(question, [0, 1, 2, 3], 0.95)[0] == [0, 3]  # the question alone: 1 and 2 repeat 0


def test_embedding_dedup_compares_items_part_by_part() -> None:
    method = registry("filter").build("embedding_dedup", {})
    assert method.select(_items(), StageContext(seed=0, device="cpu")) == [0, 1, 3, 4]
    record = filter_record(method)
    assert record is not None and record.reasons == {2: "duplicate", 5: "duplicate"}
    assert all(s is not None and s > 0.99 for s in (record.scores[2], record.scores[5]))
    assert all(s is not None and s < 0.95 for s in (record.scores[1], record.scores[4]))


def test_embedding_only_close_questions_equals_embedding_every_part() -> None:
    from damoc.data.embeddings import embed_item_parts

    items = [*_items(), _mc("Which nerve supplies the deltoid?", ["axillary", "radial", "ulnar", "median"], i=6)]
    ctx = StageContext(seed=0, device="cpu")
    # fp32: under bf16 (the default where the CPU has it) a text's embedding moves ~1e-3 with its batch's padding
    every, _ = embed_item_parts(items, "all-minilm-l6-v2", 8, ctx, dtype="float32")
    some, masks = embed_item_parts(items, "all-minilm-l6-v2", 8, ctx, close=0.95, dtype="float32")
    assert masks[0].all() and masks[1].tolist() == [True, True, True, True, False, True, False]  # 4, 6: no twin
    full = admit_diverse(every, list(range(7)), 0.95)
    part = admit_diverse(some, list(range(7)), 0.95, masks=masks)
    assert part[0] == full[0] == [0, 1, 3, 4, 6]
    np.testing.assert_allclose(part[1][[0, 1, 2, 3, 5]], full[1][[0, 1, 2, 3, 5]], atol=1e-6)
    assert part[1][4] >= full[1][4] and part[1][6] < 0.95  # the question's similarity only: an upper bound


def test_embedding_dedup_drops_repeated_questions() -> None:
    dupes = _qa(["What is the capital of France?"] * 4)
    distinct = _qa(["How do vaccines train the immune system?", "Sort a list with quicksort in Python.", "Bake bread."])
    method = registry("filter").build("embedding_dedup", {})
    assert method.select(dupes + distinct, StageContext(seed=0, device="cpu")) == [0, 4, 5, 6]
    record = filter_record(method)
    assert record is not None and record.score_name == "max_cosine" and record.scores[0] == -1.0
    assert all(s is not None and s > 0.99 for s in record.scores[1:4])
    capped = registry("filter").build("embedding_dedup", {"keep_ratio": 2 / 7})
    kept = capped.select(dupes + distinct, StageContext(seed=3, device="cpu"))
    assert len(kept) == 2 and set(kept) <= {0, 4, 5, 6}


# ---------------------------------------------------------------- cluster_balanced


def test_balanced_quotas_by_hand() -> None:
    assert balanced_quotas([10, 6, 2], 12) == [5, 5, 2]  # 4 each, the small one gives its 2, then 1 each more
    assert balanced_quotas([10, 6, 2], 10) == [4, 4, 2]
    assert balanced_quotas([10, 6, 2], 4) == [2, 1, 1]  # the spare slot goes to the largest cluster
    assert balanced_quotas([3, 9, 9], 2) == [0, 1, 1]  # fewer slots than clusters: the largest first
    assert balanced_quotas([10, 6, 2], 40) == [10, 6, 2]
    assert balanced_quotas([], 0) == []


def test_select_balanced_meets_the_quotas_and_is_seeded() -> None:
    labels = np.array([0] * 10 + [1] * 6 + [2] * 2)
    kept = select_balanced(labels, 10, seed=5)
    assert np.bincount(labels[kept]).tolist() == [4, 4, 2]
    assert kept == select_balanced(labels, 10, seed=5) and kept != select_balanced(labels, 10, seed=6)


def test_k_means_separates_blobs_deterministically() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 0.1, (10, 2)), rng.normal(5, 0.1, (6, 2)), rng.normal(-5, 0.1, (2, 2))])
    labels = k_means(x, 3, seed=0)
    assert [len(set(labels[a:b].tolist())) for a, b in ((0, 10), (10, 16), (16, 18))] == [1, 1, 1]
    assert len(set(labels.tolist())) == 3
    np.testing.assert_array_equal(labels, k_means(x, 3, seed=0))


def test_cluster_balanced_filter_takes_equal_shares_of_topics() -> None:
    france = [f"What is the capital of France? Version {i}." for i in range(8)]
    code = ["Sort a list with quicksort in Python.", "Write a Python function that reverses a string."]
    examples = _qa(france + code)
    method = registry("filter").build("cluster_balanced", {"keep_ratio": 0.4, "num_clusters": 2})
    kept = method.select(examples, StageContext(seed=0, device="cpu"))
    record = filter_record(method)
    assert record is not None and record.score_name == "cluster"
    labels = np.array(record.scores, dtype=np.int64)
    assert len(set(labels[:8].tolist())) == 1 and labels[8] == labels[9] != labels[0]
    assert len(kept) == 4 and {8, 9} <= set(kept)  # quotas [2, 2]: the rare topic is kept whole
