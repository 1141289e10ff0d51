"""Per-candidate removal depth (model.max_loss_increase): the loss, the temporary skip, the depth rule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from damoc.config import CandidateSpec, MethodSpec, ModelConfig
from damoc.context import StageContext
from damoc.model import build_proxy
from damoc.model.base import SCORERS
from damoc.model.layers import decoder_layers, remove_layers
from damoc.model.tolerance import answer_batches, answer_loss, choose_depth, skipping
from damoc.tasks.example import Example
from damoc.testing import TINY_ARCHS as ARCHS
from damoc.testing import make_mc_records


def _examples(n: int = 8) -> list[Example]:
    return [
        Example(id=str(r["id"]), question=str(r["question"]), answer=int(r["answer"]), choices=tuple(r["choices"]))  # type: ignore[arg-type]
        for r in make_mc_records(n)
    ]


def _load(folder: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    return AutoModelForCausalLM.from_pretrained(folder).eval(), PreTrainedTokenizerFast.from_pretrained(folder)


def _hand_loss(model: Any, batches: list[dict[str, Any]]) -> float:
    """Cross-entropy of the labelled tokens from the full logits (the plain transformers path)."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for b in batches:
            logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1]
            labels = b["labels"][:, 1:]
            keep = labels != -100
            total += float(torch.nn.functional.cross_entropy(logits[keep], labels[keep], reduction="sum"))
            count += int(keep.sum())
    return total / count


@pytest.mark.parametrize("arch", ARCHS)
def test_answer_loss_is_the_mean_cross_entropy_of_the_answer_tokens(
    arch: str, tiny_model_dirs: dict[str, Path]
) -> None:
    model, tok = _load(tiny_model_dirs[arch])
    batches = answer_batches(tok, _examples(), 32, 4, None, "cpu")
    assert all(int((b["labels"] != -100).sum()) > 0 for b in batches)
    assert answer_loss(model, batches) == pytest.approx(_hand_loss(model, batches), rel=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_skipping_equals_removal_and_restores_the_model(arch: str, tiny_model_dirs: dict[str, Path]) -> None:
    import torch

    model, tok = _load(tiny_model_dirs[arch])
    batches = answer_batches(tok, _examples(), 32, 4, None, "cpu")
    before = answer_loss(model, batches)
    config_before = model.config.to_dict()
    idx_before = [m.layer_idx for m in model.modules() if hasattr(m, "layer_idx")]
    removed_copy = copy.deepcopy(model)
    remove_layers(removed_copy, [1, 3])
    with skipping(model, [1, 3]):
        assert len(decoder_layers(model)) == len(decoder_layers(removed_copy))
        skipped = answer_loss(model, batches)
    assert skipped == pytest.approx(answer_loss(removed_copy, batches), rel=1e-6)
    assert skipped != pytest.approx(before, rel=1e-6)
    assert answer_loss(model, batches) == pytest.approx(before, rel=1e-7)
    assert model.config.to_dict() == config_before
    assert [m.layer_idx for m in model.modules() if hasattr(m, "layer_idx")] == idx_before
    ids = tok(["Question: 2 plus 3?"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert model.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == ids.shape[1] + 3


@pytest.mark.parametrize("tolerance", [1e-9, 0.05, 1e6])
def test_depth_is_the_deepest_within_tolerance(tolerance: float, tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.model.stage import tokenize_batches
    from damoc.tasks.prompts import render_prompt, target_text

    model, tok = _load(tiny_model_dirs["llama"])
    examples = _examples()
    texts = [render_prompt(ex, None, tok) + target_text(ex, None, tok) for ex in examples]
    score_batches = tokenize_batches(tok, texts, 32, 4, "cpu")
    loss_batches = answer_batches(tok, examples, 32, 4, None, "cpu")
    scorer = SCORERS.build("block_influence", {})
    result, losses = choose_depth(model, score_batches, loss_batches, scorer, 3, tolerance)
    k = len(result.removed)
    limit = (1 + tolerance) * losses[0]
    assert losses[0] == pytest.approx(answer_loss(model, loss_batches))  # the model came back whole
    assert all(losses[d] > limit for d in losses if d > k)  # every deeper depth tried was refused
    assert k == 0 or losses[k] <= limit
    assert sorted(losses) == [0, *range(k if k else 1, 4)]  # tried from the deepest down, stopping at k
    if tolerance == 1e6:
        assert k == 3 and sorted(losses) == [0, 3]


def test_build_proxy_records_the_losses_and_removes_the_chosen_depth(
    tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    from damoc.tasks.load import write_examples

    calib = tmp_path / "calib.jsonl"
    write_examples(calib, _examples())
    cfg = ModelConfig(scorer=MethodSpec(method="block_influence"), remove_ratio=0.5, max_loss_increase=0.02,
                      max_seq_len=32, batch_size=4)  # fmt: skip
    out = tmp_path / "proxy"
    out.mkdir()
    report = build_proxy(
        CandidateSpec(name="tiny", path=tiny_model_dirs["qwen2"]), calib, cfg, out, StageContext(device="cpu")
    )
    k = len(report.removed)
    assert report.layers_after == report.layers_before - k and k <= 3
    assert report.max_loss_increase == 0.02 and 0 in report.calibration_losses
    assert k == 0 or report.calibration_losses[k] <= 1.02 * report.calibration_losses[0]
    assert all(v > 1.02 * report.calibration_losses[0] for d, v in report.calibration_losses.items() if d > k)
