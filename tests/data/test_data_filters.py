"""Data filters: the registry matrix, IFD scoring, k-center and hybrid selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from damoc.context import StageContext
from damoc.data.base import filter_record, keep_count
from damoc.data.filters.hybrid import cluster_quotas, select_per_cluster
from damoc.data.filters.ifd import select_by_ifd
from damoc.data.filters.k_center import greedy_k_center
from damoc.data.likelihood import IfdScore
from damoc.registry import registry
from damoc.tasks.load import Example, build_prompt, target_text
from damoc.testing import make_mc_records

FILTERS = registry("filter").names()


def _examples(n: int = 24, seed: int = 0) -> list[Example]:
    return [
        Example(
            id=str(r["id"]),
            question=str(r["question"]),
            choices=tuple(cast(list[str], r["choices"])),
            answer=cast(int, r["answer"]),
        )
        for r in make_mc_records(n, seed=seed)
    ]


def _params(name: str, tiny_model: Path) -> dict[str, Any]:
    fields = registry("filter").get(name).Params.model_fields
    params: dict[str, Any] = {"keep_ratio": 0.5}
    if "reference_model" in fields:
        params |= {"reference_model": str(tiny_model), "batch_size": 8}
    if "num_clusters" in fields:
        params["num_clusters"] = 3
    return params


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_keeps_a_valid_seeded_subset(name: str, tiny_model_dirs: dict[str, Path]) -> None:
    examples = _examples()
    method = registry("filter").build(name, _params(name, tiny_model_dirs["llama"]))
    ctx = StageContext(seed=1, device="cpu")
    kept = method.select(examples, ctx)
    assert 0 < len(kept) <= keep_count(len(examples), 0.5)
    assert len(set(kept)) == len(kept) and all(0 <= i < len(examples) for i in kept)
    assert method.select(examples, ctx) == kept


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_takes_keep_count_instead_of_keep_ratio(name: str, tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.errors import ConfigError

    params = {k: v for k, v in _params(name, tiny_model_dirs["llama"]).items() if k != "keep_ratio"}
    examples = _examples()
    method = registry("filter").build(name, {**params, "keep_count": 7})
    kept = method.select(examples, StageContext(seed=1, device="cpu"))
    capped = registry("filter").get(name).Params().keep_ratio == 1.0  # dedup and rules: a cap on survivors
    assert (0 < len(kept) <= 7) if capped else len(kept) == 7
    assert len(set(kept)) == len(kept) and all(0 <= i < len(examples) for i in kept)
    everything = registry("filter").build(name, {**params, "keep_count": 100}).select(examples, StageContext(seed=1))
    assert len(everything) <= len(examples)
    with pytest.raises(ConfigError, match="give keep_ratio or keep_count, not both"):
        registry("filter").build(name, {**params, "keep_count": 7, "keep_ratio": 0.5})


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_handles_empty_and_tiny_inputs(name: str, tiny_model_dirs: dict[str, Path]) -> None:
    method = registry("filter").build(name, _params(name, tiny_model_dirs["llama"]))
    ctx = StageContext(seed=1, device="cpu")
    assert method.select([], ctx) == []
    for n in (1, 2):
        examples = _examples(n)
        kept = method.select(examples, ctx)
        assert len(set(kept)) == len(kept) <= keep_count(n, 0.5) and all(0 <= i < n for i in kept)
        assert method.select(examples, ctx) == kept


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_records_a_score_per_example(name: str, tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.data.base import filter_record

    examples = _examples(8)
    method = registry("filter").build(name, _params(name, tiny_model_dirs["llama"]))
    kept = method.select(examples, StageContext(seed=1, device="cpu"))
    record = filter_record(method)
    assert record is not None and record.score_name, f"{name} records no per-example score for the data report"
    assert len(record.scores) == len(examples)
    assert any(v is not None for v in record.scores)
    assert all(0 <= i < len(examples) for i in record.reasons)
    assert not set(record.reasons) & set(kept)  # a reason is given only for a dropped example


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_documents_its_params(name: str) -> None:
    cls = registry("filter").get(name)
    assert cls.Params.model_config.get("frozen") and cls.Params.model_config.get("extra") == "forbid"
    assert all(f.description for f in cls.Params.model_fields.values())
    assert "arXiv" in (cls.__doc__ or "").splitlines()[0]
    assert cls.Params().keep_ratio > 0  # every param has a default


# ---------------------------------------------------------------- ifd


def _naive_answer_nll(model: Any, tokenizer: Any, prompt: str, answer: str) -> float:
    """Unbatched, unpadded reference: full logits, loss over the answer tokens only."""
    import torch

    start = [tokenizer.bos_token_id]
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"] if prompt else []
    a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([start + p_ids + a_ids])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, :-1].float()
    nll = torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="none")
    return float(nll[-len(a_ids) :].mean())


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3"])
def test_ifd_scores_match_an_unbatched_reference(arch: str, tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.data.likelihood import ifd_scores, load_reference_model

    model, tokenizer = load_reference_model(str(tiny_model_dirs[arch]), None, "cpu")
    examples = _examples(6)
    examples[0] = Example(
        id="long", question="What is two plus three, written in words? " * 3, answer=" five", choices=None
    )
    scores = ifd_scores(examples, model, tokenizer, batch_size=4)
    expected = [
        np.exp(
            _naive_answer_nll(model, tokenizer, build_prompt(ex), target_text(ex))
            - _naive_answer_nll(model, tokenizer, "", target_text(ex))
        )
        for ex in examples
    ]
    assert np.all(np.isfinite(scores)) and np.all(scores > 0)
    np.testing.assert_allclose(scores, expected, rtol=1e-4)


def test_select_by_ifd_drops_ifd_at_or_above_one_then_takes_the_highest() -> None:
    scores = np.array([0.5, 1.2, 0.9, 0.7, np.nan, 0.95, 1.0])
    assert select_by_ifd(scores, 2) == [2, 5]
    assert select_by_ifd(scores, 10) == [0, 2, 3, 5]
    assert select_by_ifd(scores, 2, candidates=np.array([0, 1, 3])) == [0, 3]


def _hand_answer_loss(model: Any, start: list[int], context: list[int], answer: list[int]) -> float:
    """meanCE of the answer tokens, straight from the logits: log_softmax, gather, mean."""
    import torch

    ids = torch.tensor([start + context + answer])
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), dim=-1)
    token_logp = logp.gather(1, ids[0, 1:, None]).squeeze(1)
    return float(-token_logp[-len(answer) :].mean())


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_ifd_both_forms_match_hand_computed_losses(arch: str, tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.data.likelihood import ifd_scores, load_reference_model

    model, tokenizer = load_reference_model(str(tiny_model_dirs[arch]), None, "cpu")
    examples = [
        Example(id="a", question="What is two plus three?", answer=" five"),
        Example(id="b", question="Name a colour of the sky on a clear day.", answer=" blue, mostly"),
    ]
    start = [tokenizer.bos_token_id]
    losses = []
    for ex in examples:
        prompt = tokenizer(build_prompt(ex), add_special_tokens=False)["input_ids"]
        answer = tokenizer(target_text(ex), add_special_tokens=False)["input_ids"]
        losses.append((_hand_answer_loss(model, start, prompt, answer), _hand_answer_loss(model, start, [], answer)))
    cond, alone = np.array(losses).T
    ppl = ifd_scores(examples, model, tokenizer, batch_size=4, score="ppl_ratio")
    loss = ifd_scores(examples, model, tokenizer, batch_size=4, score="loss_ratio")
    np.testing.assert_allclose(ppl, np.exp(cond - alone), rtol=0, atol=1e-5)  # Superfiltering
    np.testing.assert_allclose(loss, cond / alone, rtol=0, atol=1e-5)  # Cherry LLM
    np.testing.assert_allclose(ifd_scores(examples, model, tokenizer, batch_size=4), ppl)  # the default


def test_ifd_forms_keep_the_same_set_but_order_it_differently() -> None:
    from damoc.data.likelihood import ifd_from_losses

    conditioned = np.array([0.5, 2.0, 0.9, 3.0])
    alone = np.array([1.0, 3.0, 1.0, 2.0])  # the last one: the prompt hurts, IFD > 1 in both forms
    loss_ratio = ifd_from_losses(conditioned, alone, "loss_ratio")
    ppl_ratio = ifd_from_losses(conditioned, alone, "ppl_ratio")
    np.testing.assert_allclose(loss_ratio, [0.5, 2 / 3, 0.9, 1.5])
    np.testing.assert_allclose(ppl_ratio, np.exp([-0.5, -1.0, -0.1, 1.0]))
    assert list(np.argsort(-loss_ratio[:3])) == [2, 1, 0]
    assert list(np.argsort(-ppl_ratio[:3])) == [2, 0, 1]
    assert select_by_ifd(loss_ratio, 2) == [1, 2]  # Cherry: ratio of losses
    assert select_by_ifd(ppl_ratio, 2) == [0, 2]  # Superfiltering: difference of losses
    assert select_by_ifd(loss_ratio, 10) == select_by_ifd(ppl_ratio, 10) == [0, 1, 2]
    assert not np.isfinite(ifd_from_losses(np.array([0.3]), np.array([0.0]), "loss_ratio")).any()


@pytest.mark.parametrize("score", ["ppl_ratio", "loss_ratio"])
def test_ifd_filter_keeps_the_right_count(score: IfdScore, tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.data.likelihood import compute_ifd

    examples, ctx = _examples(), StageContext(device="cpu")
    tiny = str(tiny_model_dirs["qwen2"])
    method = registry("filter").build("ifd", {"keep_ratio": 0.25, "reference_model": tiny, "score": score})
    kept = method.select(examples, ctx)
    scores = compute_ifd(examples, tiny, 256, 16, ctx, score)
    assert len(kept) == min(6, int((scores < 1).sum()))
    assert kept == select_by_ifd(scores, 6)


def test_ifd_pool_scores_only_a_seeded_sample_and_picks_its_best(tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.data.base import scored_pool
    from damoc.data.likelihood import compute_ifd

    examples, ctx = _examples(), StageContext(device="cpu", seed=3)
    tiny = str(tiny_model_dirs["qwen2"])
    pool = scored_pool(len(examples), 4, 2.0, seed=3)
    assert len(pool) == 8 and pool == sorted(set(pool)) and pool == scored_pool(24, 4, 2.0, seed=3)
    assert scored_pool(24, 4, 6.0, seed=3) == scored_pool(24, 4, None, seed=3) == list(range(24))
    method = registry("filter").build("ifd", {"keep_ratio": 4 / 24, "reference_model": tiny, "pool": 2})
    kept = method.select(examples, ctx)
    scores = compute_ifd([examples[i] for i in pool], tiny, 256, 16, ctx, "ppl_ratio")
    assert set(kept) <= set(pool)
    assert kept == sorted(pool[i] for i in select_by_ifd(scores, 4))
    record = method.record
    assert record is not None and len(record.scores) == 24
    assert all(record.scores[i] is None for i in range(24) if i not in pool)


def test_ifd_default_is_ppl_ratio() -> None:
    assert registry("filter").get("ifd").Params().score == "ppl_ratio"


# ---------------------------------------------------------------- k_center


def test_greedy_k_center_prefers_distinct_points() -> None:
    dupes = np.tile([[1.0, 0.0]], (5, 1))
    distinct = np.array([[0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    chosen = greedy_k_center(np.vstack([dupes, distinct]), 4, start=2)
    assert chosen[0] == 2 and sorted(chosen[1:]) == [5, 6, 7]
    assert len(set(greedy_k_center(dupes, 5))) == 5  # only duplicates left: still no repeats


def test_greedy_k_center_matches_farthest_point_by_pairwise_distances() -> None:
    from sklearn.metrics import pairwise_distances

    x = np.random.default_rng(0).normal(size=(300, 16))
    d = pairwise_distances(x)  # scikit-learn's Euclidean distances, an independent reference
    chosen = [7]
    for _ in range(39):  # farthest point: the largest distance to its nearest chosen row
        nearest = d[:, chosen].min(axis=1)
        nearest[chosen] = -1.0
        chosen.append(int(np.argmax(nearest)))
    assert greedy_k_center(x, 40, start=7) == chosen


def test_greedy_k_center_records_pick_and_cover_distances_by_hand() -> None:
    # points 0, 1, 3, 10 on a line, start at 0: 10 is picked at distance 10, then 3 at distance 3
    # (its nearest pick is 0); 1 stays dropped, 1 from its nearest pick
    x = np.array([[0.0], [1.0], [3.0], [10.0]])
    distances: list[float | None] = [None] * 4
    assert greedy_k_center(x, 3, start=0, distances=distances) == [0, 3, 2]
    assert distances == [None, pytest.approx(1.0), pytest.approx(3.0), pytest.approx(10.0)]


def test_random_records_the_seeded_draw_order() -> None:
    import random

    examples = [Example(id=f"e{i}", question=f"q{i}", answer="a") for i in range(10)]
    method = registry("filter").build("random", {"keep_count": 4})
    kept = method.select(examples, StageContext(seed=3))
    drawn = random.Random(3).sample(range(10), 4)  # the standard library's draw, in draw order
    record = filter_record(method)
    assert kept == sorted(drawn) and record is not None
    assert [record.scores[i] for i in drawn] == [0.0, 1.0, 2.0, 3.0]
    assert set(record.reasons) == set(range(10)) - set(drawn) and record.dropped == {"not_drawn": 6}


def test_k_center_filter_skips_near_duplicates() -> None:
    dupes = [Example(id=f"d{i}", question="What is the capital of France?", answer="Paris") for i in range(5)]
    questions = ["How do vaccines train the immune system?", "Sort a list with quicksort in Python.", "Bake bread."]
    distinct = [Example(id=f"x{i}", question=q, answer="a") for i, q in enumerate(questions)]
    method = registry("filter").build("k_center", {"keep_ratio": 0.5})
    for seed in range(3):
        kept = method.select(dupes + distinct, StageContext(seed=seed, device="cpu"))
        assert len(kept) == 4 and {5, 6, 7} <= set(kept), kept


def test_embeddings_are_normalised_and_in_input_order() -> None:
    from damoc.data.embeddings import embed_texts

    texts = ["a much longer sentence about the weather today", "hi", "a much longer sentence about the weather today"]
    vectors = embed_texts(texts, "all-minilm-l6-v2", batch_size=2, device="cpu")
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-5)
    assert float(vectors[0] @ vectors[1]) < 0.9


def test_bf16_embeddings_match_fp32_and_auto_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    from damoc.data import embeddings

    texts = ["How do vaccines train the immune system?", "Sort a list with quicksort in Python.", "Bake bread."]
    fp32 = embeddings.embed_texts(texts, "all-minilm-l6-v2", batch_size=2, device="cpu", dtype="float32")
    bf16 = embeddings.embed_texts(texts, "all-minilm-l6-v2", batch_size=2, device="cpu", dtype="bfloat16")
    assert bf16.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bf16, axis=1), 1.0, rtol=1e-5)
    cosines = (fp32 * bf16).sum(axis=1)
    assert cosines.min() > 0.999 and not np.array_equal(fp32, bf16)  # bf16 really ran, and barely moved anything
    for native, expected in ((False, fp32), (True, bf16)):
        monkeypatch.setattr(embeddings, "native_bf16", lambda device, native=native: native)
        auto = embeddings.embed_texts(texts, "all-minilm-l6-v2", batch_size=2, device="cpu")
        np.testing.assert_array_equal(auto, expected)


# ---------------------------------------------------------------- hybrid


def test_cluster_quotas_are_proportional_and_sum_to_k() -> None:
    assert cluster_quotas([10, 6], 4) == [3, 1]
    assert cluster_quotas([5, 5, 5], 4) == [2, 1, 1]
    assert sum(cluster_quotas([7, 1, 3, 9], 11)) == 11


def test_select_per_cluster_takes_best_ifd_per_cluster_and_fills_shortfall() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 1.5, 1.2, 0.3, 1.1])
    # quotas [2, 2]; cluster 1 has one example below 1, the spare slot goes to cluster 0's next best
    assert select_per_cluster(scores, labels, 4) == [0, 1, 2, 6]
