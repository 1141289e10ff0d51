"""Task-aware layer scorers (perplexity_drop, *_answer) and layer protection, against independent references."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest

from damoc.errors import ConfigError, ModelError
from damoc.model.base import SCORERS, ScorerParams, lowest, removable_layers
from damoc.model.layers import remove_layers
from damoc.model.scorers.angular import closest_block
from damoc.model.scorers.perplexity_drop import candidate_blocks, step_sizes
from damoc.model.similarity import answer_token_weights
from damoc.model.tolerance import answer_batches, choose_depth
from damoc.registry import registry
from damoc.tasks.example import Example
from damoc.testing import TINY_ARCHS as ARCHS
from damoc.testing import make_mc_records

TASK_AWARE = ["angular_answer", "block_influence_answer", "perplexity_drop"]


def _examples(n: int = 8) -> list[Example]:
    return [
        Example(id=str(r["id"]), question=str(r["question"]), answer=int(r["answer"]), choices=tuple(r["choices"]))  # type: ignore[arg-type]
        for r in make_mc_records(n)
    ]


def _calibration(folder: Path) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    """(model, prompt + target batches as stage 2 builds them, the same examples with labels)."""
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    from damoc.model.stage import tokenize_batches
    from damoc.tasks.prompts import render_prompt, target_text

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tok = PreTrainedTokenizerFast.from_pretrained(folder)
    examples = _examples()
    texts = [render_prompt(ex, None, tok) + target_text(ex, None, tok) for ex in examples]
    return model, tokenize_batches(tok, texts, 32, 4, "cpu"), answer_batches(tok, examples, 32, 4, None, "cpu")


def _hand_loss(model: Any, batches: list[dict[str, Any]], removed: list[int]) -> float:
    """Mean answer-token cross-entropy from the full transformers logits of a copy without ``removed``."""
    import torch

    pruned = copy.deepcopy(model)
    remove_layers(pruned, removed)
    total, count = 0.0, 0
    with torch.no_grad():
        for b in batches:
            logits = pruned(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1]
            labels = b["labels"][:, 1:]
            keep = labels != -100
            total += float(torch.nn.functional.cross_entropy(logits[keep], labels[keep], reduction="sum"))
            count += int(keep.sum())
    return total / count


def _argmin(losses: dict[Any, float]) -> Any:
    """The key of the smallest loss, after checking the runner-up is clearly worse (no near tie)."""
    order = sorted(losses, key=losses.__getitem__)
    assert losses[order[1]] - losses[order[0]] > 1e-4
    return order[0]


# ---------------------------------------------------------------- pure helpers


def test_answer_token_weights_are_the_labels_shifted_left_by_one() -> None:
    import torch

    # row 0: answer tokens at 2, 3 -> the states at 1, 2 predict them; row 1: answer at 1, then pads
    labels = torch.tensor([[-100, -100, 5, 6, -100], [-100, 7, -100, -100, -100]])
    assert answer_token_weights(labels).tolist() == [[0, 1, 1, 0, 0], [1, 0, 0, 0, 0]]


def test_removable_layers_and_protected_selection() -> None:
    params = ScorerParams(protect_first=1, protect_last=2)
    assert removable_layers(6, 3, params) == range(1, 4)
    assert lowest([0.1, 0.5, 0.2, 0.3, 0.0, 0.0], 2, range(1, 4)) == [2, 3]
    # block starts d(x^l, x^(l+2)) for l = 0..4: the global minimum l = 4 touches protected layer 5
    assert closest_block([0.4, 0.3, 0.5, 0.1, 0.0], 2, range(1, 4)) == [1, 2]
    assert closest_block([0.4, 0.3, 0.5, 0.1, 0.0], 2) == [4, 5]
    with pytest.raises(ModelError, match=r"protect_first=1 and protect_last=2 leave 3 of 6 layers removable; 4"):
        removable_layers(6, 4, params)


def test_greedy_steps_and_candidate_blocks() -> None:
    assert step_sizes(5, 2) == [2, 2, 1] and step_sizes(3, 1) == [1, 1, 1] and step_sizes(0, 3) == [1]
    # adjacent in the model as it stands: with layer 2 gone, 1 and 3 are neighbours
    assert candidate_blocks([0, 1, 3, 4], 2) == [(0, 1), (1, 3), (3, 4)]
    assert candidate_blocks([0, 1], 2) == []  # never remove every layer


# ---------------------------------------------------------------- perplexity_drop vs plain transformers


@pytest.mark.parametrize("arch", ARCHS)
def test_perplexity_drop_picks_greedily_by_the_plain_answer_loss(arch: str, tiny_model_dirs: dict[str, Path]) -> None:
    model, batches, labelled = _calibration(tiny_model_dirs[arch])
    result = SCORERS.build("perplexity_drop", {}).score(model, batches, 2, None, labelled)
    full = _hand_loss(model, labelled, [])
    single = {i: _hand_loss(model, labelled, [i]) for i in range(6)}
    first = _argmin(single)
    pair = {j: _hand_loss(model, labelled, sorted([first, j])) for j in range(6) if j != first}
    second = _argmin(pair)
    assert result.removed == sorted([first, second])
    # scores: the rise when a layer was picked; kept layers hold their rise at the last step
    assert result.scores[first] == pytest.approx(single[first] - full, abs=1e-4)
    for j, loss in pair.items():
        assert result.scores[j] == pytest.approx(loss - single[first], abs=1e-4)
    assert result.tokens == sum(int(b["attention_mask"].sum()) for b in labelled)


def test_perplexity_drop_blocks_are_adjacent_layers(tiny_model_dirs: dict[str, Path]) -> None:
    model, batches, labelled = _calibration(tiny_model_dirs["qwen2"])
    result = SCORERS.build("perplexity_drop", {"block_size": 2}).score(model, batches, 2, None, labelled)
    best = _argmin({i: _hand_loss(model, labelled, [i, i + 1]) for i in range(5)})
    assert result.removed == [best, best + 1]


@pytest.mark.parametrize("protect_first", [0, 2])
def test_perplexity_drop_one_shot_removes_the_lowest_single_layer_rises(
    protect_first: int, tiny_model_dirs: dict[str, Path]
) -> None:
    model, batches, labelled = _calibration(tiny_model_dirs["llama"])
    params = {"one_shot": True, "protect_first": protect_first}
    result = SCORERS.build("perplexity_drop", params).score(model, batches, 2, None, labelled)
    full = _hand_loss(model, labelled, [])
    rise = [_hand_loss(model, labelled, [i]) - full for i in range(6)]
    assert result.scores == pytest.approx(rise, abs=1e-4)
    allowed = sorted(range(protect_first, 6), key=lambda i: rise[i])
    assert rise[allowed[2]] - rise[allowed[1]] > 1e-4  # no near tie at the cut
    assert result.removed == sorted(allowed[:2])


def test_perplexity_drop_one_shot_refuses_blocks() -> None:
    with pytest.raises(ConfigError, match="one_shot scores single layers; block_size must be 1, got 2"):
        SCORERS.build("perplexity_drop", {"one_shot": True, "block_size": 2})


def test_perplexity_drop_with_a_loss_tolerance(tiny_model_dirs: dict[str, Path]) -> None:
    model, batches, labelled = _calibration(tiny_model_dirs["llama"])
    result, losses = choose_depth(model, batches, labelled, SCORERS.build("perplexity_drop", {}), 2, 1e6)
    assert len(result.removed) == 2 and sorted(losses) == [0, 2]


# ---------------------------------------------------------------- answer-token similarity vs hidden_states


def _answer_states(model: Any, labelled: list[dict[str, Any]]) -> list[list[Any]]:
    """Per example, h[0]..h[L] at its answer-bearing positions, from unpadded ``output_hidden_states``.

    The final norm is swapped for the identity so that hidden_states[L] is the last layer's raw output.
    """
    import torch

    norm, model.model.norm = model.model.norm, torch.nn.Identity()
    out = []
    try:
        for b in labelled:
            for ids, mask, labels in zip(b["input_ids"], b["attention_mask"], b["labels"], strict=True):
                n = int(mask.sum())
                where = [t for t in range(n - 1) if int(labels[t + 1]) != -100]
                with torch.no_grad():
                    hs = model(ids[None, :n], output_hidden_states=True).hidden_states
                out.append([h[0, where] for h in hs])
    finally:
        model.model.norm = norm
    return out


def _cos(a: Any, b: Any) -> Any:
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


@pytest.mark.parametrize("arch", ARCHS)
def test_answer_similarity_matches_hidden_states_at_the_answer_positions(
    arch: str, tiny_model_dirs: dict[str, Path]
) -> None:
    import torch

    model, batches, labelled = _calibration(tiny_model_dirs[arch])
    states = _answer_states(model, labelled)
    pooled = [torch.cat([s[i] for s in states]) for i in range(7)]  # [answer positions, hidden] per h[i]
    bi = [1 - float(_cos(pooled[i], pooled[i + 1]).mean()) for i in range(6)]
    d1 = [float(torch.arccos(_cos(pooled[i], pooled[i + 1]).clamp(-1, 1)).mean()) / math.pi for i in range(6)]
    d2 = [float(torch.arccos(_cos(pooled[i], pooled[i + 2]).clamp(-1, 1)).mean()) / math.pi for i in range(5)]
    got_bi = SCORERS.build("block_influence_answer", {}).score(model, batches, 2, None, labelled)
    got_ang = SCORERS.build("angular_answer", {}).score(model, batches, 2, None, labelled)
    assert got_bi.scores == pytest.approx(bi, abs=1e-5)
    assert got_bi.removed == sorted(sorted(range(6), key=lambda i: bi[i])[:2])
    assert got_ang.scores == pytest.approx(d1, abs=1e-5)
    start = min(range(5), key=lambda i: d2[i])
    assert got_ang.removed == [start, start + 1]
    # not the all-token measurement: the prompt tokens are left out
    all_tokens = SCORERS.build("block_influence", {}).score(model, batches, 2, None, labelled)
    assert all_tokens.scores != pytest.approx(bi, abs=1e-5)


# ---------------------------------------------------------------- every scorer: protection, labels


@pytest.mark.parametrize("name", registry("scorer").names())
def test_protected_layers_are_never_removed(name: str, tiny_model_dirs: dict[str, Path]) -> None:
    model, batches, labelled = _calibration(tiny_model_dirs["gemma3"])
    free = SCORERS.build(name, {}).score(model, batches, 2, None, labelled).removed
    # protect the side of the free choice's outermost layer, so the protection has to change it
    params = {"protect_first": min(free) + 1} if min(free) < 3 else {"protect_last": 6 - max(free)}
    kept = set(range(params.get("protect_first", 0))) | set(range(6 - params.get("protect_last", 0), 6))
    result = SCORERS.build(name, params).score(model, batches, 2, None, labelled)
    assert len(result.removed) == 2 and not kept & set(result.removed) and result.removed != free
    assert len(result.scores) == 6 and all(math.isfinite(s) for s in result.scores)
    both = SCORERS.build(name, {"protect_first": 2, "protect_last": 2}).score(model, batches, 2, None, labelled)
    assert both.removed == [2, 3]
    with pytest.raises(ModelError, match="protect_first=3 and protect_last=2"):
        SCORERS.build(name, {"protect_first": 3, "protect_last": 2}).score(model, batches, 2, None, labelled)


@pytest.mark.parametrize("name", TASK_AWARE)
def test_task_aware_scorers_need_labelled_batches(name: str, tiny_model_dirs: dict[str, Path]) -> None:
    model, batches, _ = _calibration(tiny_model_dirs["llama"])
    with pytest.raises(ValueError, match=f"scorer '{name}' needs loss_batches"):
        SCORERS.build(name, {}).score(model, batches, 2, None)
