"""Quality-aware and hybrid filters against hand-made or independent values: perplexity, rules, deita."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from damoc.context import StageContext
from damoc.data.base import filter_record, keep_count
from damoc.data.filters.deita import quality_order, select_deita
from damoc.data.filters.perplexity import select_band
from damoc.errors import ConfigError
from damoc.registry import registry
from damoc.tasks.load import Example, build_prompt, target_text
from damoc.testing import make_mc_records


def _mc_examples(n: int) -> list[Example]:
    return [
        Example(
            id=str(r["id"]),
            question=str(r["question"]),
            choices=tuple(cast(list[str], r["choices"])),
            answer=r["answer"],
        )
        for r in make_mc_records(n, seed=2)
    ]


# ---------------------------------------------------------------- perplexity


def _naive_answer_nll(model: Any, tokenizer: Any, prompt: str, answer: str) -> float:
    """Plain transformers, one unpadded sequence, full logits: mean CE of the answer tokens."""
    import torch

    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([[tokenizer.bos_token_id, *p_ids, *a_ids]])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, :-1].float()
    return float(torch.nn.functional.cross_entropy(logits[-len(a_ids) :], ids[0, -len(a_ids) :]))


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_perplexity_matches_a_naive_per_example_loss(arch: str, tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.data.filters.perplexity import answer_perplexities
    from damoc.data.likelihood import ifd_losses, load_reference_model

    model, tokenizer = load_reference_model(str(tiny_model_dirs[arch]), None, "cpu")
    examples = _mc_examples(7)
    examples[0] = Example(id="qa", question="What is two plus three, in words? " * 3, answer=" five")
    naive = np.exp([_naive_answer_nll(model, tokenizer, build_prompt(ex), target_text(ex)) for ex in examples])
    ppl = answer_perplexities(examples, model, tokenizer, batch_size=3)
    np.testing.assert_allclose(ppl, naive, rtol=1e-4)
    np.testing.assert_allclose(np.log(ppl), ifd_losses(examples, model, tokenizer, batch_size=3)[0], rtol=1e-6)

    k = keep_count(len(examples), 3 / 7)
    order = np.argsort(naive)
    for mode, band in (("lowest", order[:k]), ("middle", order[2 : 2 + k]), ("highest", order[-k:])):
        params = {"reference_model": str(tiny_model_dirs[arch]), "keep_ratio": 3 / 7, "mode": mode}
        method = registry("filter").build("perplexity", params)
        assert method.select(examples, StageContext(device="cpu")) == sorted(band.tolist()), mode
    record = filter_record(method)
    assert record is not None and record.score_name == "perplexity"
    np.testing.assert_allclose(cast(list[float], record.scores), naive, rtol=1e-4)


def test_select_band_by_hand() -> None:
    scores = np.array([5.0, 1.0, np.nan, 3.0, 2.0, 4.0, np.inf])  # finite, ascending: 1, 4, 3, 5, 0
    assert select_band(scores, 2, "lowest") == [1, 4]
    assert select_band(scores, 2, "middle") == [3, 4]  # start (5 - 2) // 2 = 1
    assert select_band(scores, 3, "middle") == [3, 4, 5]
    assert select_band(scores, 2, "highest") == [0, 5]
    assert select_band(scores, 9, "lowest") == [0, 1, 3, 4, 5]  # non-finite never kept
    assert select_band(np.array([2.0, 2.0, 2.0]), 1, "lowest") == [0]  # ties: lower index


# ---------------------------------------------------------------- rules


def _mc(question: str, choices: tuple[str, ...], answer: int = 0) -> Example:
    return Example(id=question[:10], question=question, choices=choices, answer=answer)


CITIES = ("Paris", "London", "Rome")
RULE_CASES: list[tuple[Example, str | None]] = [
    (_mc("What is the capital of France?", CITIES), None),
    (_mc("Which city, Paris, is the capital of France?", CITIES), "answer_leak"),
    (_mc("Is Paris or London the capital of France?", CITIES), None),  # a distractor is named too
    (_mc("What is the capital of France?", ("Paris", " paris ", "Rome")), "duplicate_choices"),
    (_mc("What is the capital of France?", ("Paris",)), "malformed_choices"),
    (_mc("What is the capital of France?", ("Paris", "", "Rome")), "malformed_choices"),
    (_mc("What is the capital of France?", CITIES, answer=5), "malformed_choices"),
    (_mc("Why?", CITIES), "too_short"),
    (_mc("Why? " + "Tell me all about it. " * 10, CITIES), "too_long"),
    (Example(id="qa", question="Name the largest planet.", answer="Jupiter"), None),
    (Example(id="qa-leak", question="Jupiter is big; name the largest planet.", answer="Jupiter"), "answer_leak"),
    (Example(id="qa-empty", question="Name the largest planet.", answer="  "), "malformed_choices"),
    (_mc("What is 2 plus 0?", ("2", "3", "4")), None),  # "2" is shorter than leak_min_chars
    (_mc("Huh?", ("Rome", "rome")), "duplicate_choices"),  # also too short: the first rule counts
]


def test_rules_drop_the_hand_made_bad_examples_and_count_per_rule() -> None:
    examples = [ex for ex, _ in RULE_CASES]
    method = registry("filter").build("rules", {"max_prompt_chars": 200})
    assert method.select(examples, StageContext()) == [i for i, (_, why) in enumerate(RULE_CASES) if why is None]
    record = filter_record(method)
    assert record is not None
    assert record.reasons == {i: why for i, (_, why) in enumerate(RULE_CASES) if why is not None}
    assert record.dropped == {
        "malformed_choices": 4,
        "duplicate_choices": 2,
        "too_short": 1,
        "too_long": 1,
        "answer_leak": 2,
        "keep_ratio": 0,
    }
    # the score is how many rules an example fails: "Huh?" with Rome/rome fails duplicate_choices and too_short
    assert record.score_name == "rules_failed" and record.scores[-1] == 2.0
    assert all((record.scores[i] == 0.0) == (why is None) for i, (_, why) in enumerate(RULE_CASES))


def test_rules_apply_only_the_chosen_checks_and_cap_at_keep_ratio() -> None:
    examples = [ex for ex, _ in RULE_CASES]
    leaks = registry("filter").build("rules", {"checks": ["answer_leak"]})
    assert set(range(len(examples))) - set(leaks.select(examples, StageContext())) == {1, 10}
    capped = registry("filter").build("rules", {"keep_ratio": 2 / 14, "max_prompt_chars": 200})
    kept = capped.select(examples, StageContext(seed=7))
    assert len(kept) == 2 and set(kept) <= {0, 2, 9, 12}


# ---------------------------------------------------------------- deita


def test_deita_admits_in_quality_order_only_what_is_not_too_close() -> None:
    c = 0.95
    near = [c, np.sqrt(1 - c * c), 0.0, 0.0]
    vectors = np.array([[0, 0, 1, 0], near, [1, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=float)
    scores = np.array([0.5, 0.9, 0.95, 1.2, 0.8, np.nan])  # 3: IFD >= 1, 5: no score; never admitted
    assert quality_order(scores) == [2, 1, 4, 0]
    assert select_deita(scores, vectors, 3, 0.9) == [0, 2, 4]  # 1 is 0.95-similar to 2, admitted first
    assert select_deita(scores, vectors, 2, 0.9) == [2, 4]
    assert select_deita(scores, vectors, 3, 0.96) == [1, 2, 4]
    assert select_deita(scores, vectors, 10, 0.9) == [0, 2, 4]  # too few helpful and diverse: fewer kept


def test_deita_filter_equals_its_parts(tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.data.embeddings import embed_examples
    from damoc.data.likelihood import compute_ifd

    examples, ctx, tiny = _mc_examples(12), StageContext(device="cpu"), str(tiny_model_dirs["qwen2"])
    method = registry("filter").build("deita", {"reference_model": tiny, "keep_ratio": 0.5, "threshold": 0.97})
    kept = method.select(examples, ctx)
    scores = compute_ifd(examples, tiny, 256, 32, ctx)
    vectors = embed_examples(examples, "all-minilm-l6-v2", 32, ctx)
    assert kept == select_deita(scores, vectors, 6, 0.97)
    record = filter_record(method)
    assert record is not None and record.score_name == "ifd"
    np.testing.assert_allclose(np.array(record.scores, dtype=float), scores, rtol=1e-6)


def test_deita_and_hybrid_with_a_pool_score_only_a_seeded_sample(tiny_model_dirs: dict[str, Path]) -> None:
    import random

    from damoc.data.embeddings import embed_examples
    from damoc.data.likelihood import compute_ifd

    examples, ctx, tiny = _mc_examples(20), StageContext(device="cpu"), str(tiny_model_dirs["qwen2"])
    params = {"reference_model": tiny, "keep_count": 2, "threshold": 0.97, "pool": 3}
    method = registry("filter").build("deita", params)
    kept = method.select(examples, ctx)
    pool = sorted(random.Random(ctx.seed).sample(range(20), 6))  # ceil(3 x 2) of 20, seeded
    record = filter_record(method)
    assert record is not None and [i for i, s in enumerate(record.scores) if s is not None] == pool
    sub = [examples[i] for i in pool]
    chosen = select_deita(
        compute_ifd(sub, tiny, 256, 32, ctx), embed_examples(sub, "all-minilm-l6-v2", 32, ctx), 2, 0.97
    )
    assert kept == sorted(pool[i] for i in chosen)
    hybrid = registry("filter").build(
        "hybrid", {"reference_model": tiny, "keep_count": 4, "pool": 2, "num_clusters": 2}
    )
    kept_h = hybrid.select(examples, ctx)
    assert 0 < len(kept_h) <= 4 and set(kept_h) <= set(random.Random(ctx.seed).sample(range(20), 8))  # IFD < 1 only
    with pytest.raises(ConfigError, match=r"deita.params: .*pool.*greater than or equal to 1"):
        registry("filter").build("deita", params | {"pool": 0.5})
