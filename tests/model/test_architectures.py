"""Every family in architectures.json on a tiny config: remove, merge, save, reload, generate with KV cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from damoc.errors import ModelError
from damoc.model.base import MERGERS
from damoc.model.layers import architecture, architectures, check_layer_plan, decoder_layers, remove_layers

SUPPORTED = ("gemma3_text", "gpt2", "llama", "mistral", "phi3", "qwen2", "qwen3")
DECODER = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=2,
    head_dim=8, max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
)  # fmt: skip
TINY: dict[str, dict[str, Any]] = {
    "llama": DECODER,
    "mistral": {**DECODER, "sliding_window": None},
    "qwen2": {**DECODER, "use_sliding_window": False},
    "qwen3": DECODER,
    "gemma3_text": {**DECODER, "sliding_window": 16, "query_pre_attn_scalar": 8},
    "phi3": {k: v for k, v in DECODER.items() if k != "head_dim"},
    "gpt2": dict(n_layer=6, n_embd=32, n_head=4, n_positions=64, bos_token_id=1, eos_token_id=2),
}
PROMPT = [[1, 5, 9, 13, 7]]


def tiny_model(model_type: str, **overrides: Any) -> Any:
    """A randomly initialised 6-layer, hidden-32 causal LM of ``model_type`` (64-token vocabulary)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    config = AutoConfig.for_model(model_type, vocab_size=64, **{**TINY[model_type], **overrides})
    return AutoModelForCausalLM.from_config(config).eval()


def greedy(model: Any, use_cache: bool) -> list[int]:
    import torch

    ids = torch.tensor(PROMPT)
    out = model.generate(ids, max_new_tokens=4, do_sample=False, use_cache=use_cache, pad_token_id=0)
    return [int(t) for t in out[0]]


def test_the_table_lists_every_tested_family() -> None:
    assert set(architectures()) == set(SUPPORTED) == set(TINY)


@pytest.mark.parametrize("model_type", SUPPORTED)
def test_remove_merge_save_reload_generate(model_type: str, tmp_path: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    model = tiny_model(model_type)
    merger = MERGERS.build("ties", {"density": 0.5, "weight": 0.5})
    assert merger.merge(decoder_layers(model), [1, 4], seed=0) == {0: [1], 3: [4]}
    remove_layers(model, [1, 4])
    with torch.no_grad():
        logits = model(torch.tensor(PROMPT)).logits
    model.save_pretrained(tmp_path)
    assert AutoConfig.from_pretrained(tmp_path).num_hidden_layers == 4
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    layers = decoder_layers(reloaded)
    assert len(layers) == reloaded.config.num_hidden_layers == 4
    # layer_idx renumbered on save and on reload: the KV cache indexes by it
    assert all(
        {m.layer_idx for m in layer.modules() if hasattr(m, "layer_idx")} == {i} for i, layer in enumerate(layers)
    )
    with torch.no_grad():
        assert torch.equal(reloaded(torch.tensor(PROMPT)).logits, logits) and torch.isfinite(logits).all()
    cached = greedy(reloaded, use_cache=True)
    assert len(cached) == len(PROMPT[0]) + 4 and cached == greedy(reloaded, use_cache=False)


def test_gpt2_layer_count_is_n_layer() -> None:
    model = tiny_model("gpt2")
    remove_layers(model, [0, 5])
    assert model.config.n_layer == model.config.num_hidden_layers == 4
    assert model.config.to_dict()["n_layer"] == 4
    with pytest.raises(ModelError, match="leave none"):
        check_layer_plan({"model_type": "gpt2", "n_layer": 2}, "gpt2-folder", 0.9)


def test_unsupported_model_type_lists_the_supported_ones() -> None:
    from transformers import OPTConfig, OPTForCausalLM

    opt = OPTForCausalLM(
        OPTConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4)
    )
    listed = r"'opt' is not supported for layer removal; supported: " + ", ".join(SUPPORTED)
    with pytest.raises(ModelError, match=listed):
        architecture(opt)
    with pytest.raises(ModelError, match=listed):
        remove_layers(opt, [0])
    with pytest.raises(ModelError, match="opt-folder: architecture " + listed):
        check_layer_plan({"model_type": "opt", "num_hidden_layers": 2}, "opt-folder", 0.5)


def test_gpt2_scaled_by_layer_idx_is_refused() -> None:
    # the scale 1/(layer_idx + 1) is fixed at init: a renumbered, reloaded layer would compute differently
    model = tiny_model("gpt2", scale_attn_by_inverse_layer_idx=True)
    with pytest.raises(ModelError, match=r"gpt2 with config.scale_attn_by_inverse_layer_idx=true is not supported"):
        remove_layers(model, [1])
    with pytest.raises(ModelError, match=r"folder: gpt2 with config.scale_attn_by_inverse_layer_idx=true"):
        check_layer_plan({"model_type": "gpt2", "n_layer": 6, "scale_attn_by_inverse_layer_idx": True}, "folder", 0.5)
    check_layer_plan({"model_type": "gpt2", "n_layer": 6, "scale_attn_by_inverse_layer_idx": False}, "folder", 0.5)


@pytest.mark.parametrize("model_type", SUPPORTED)
@pytest.mark.parametrize("size", [1, 2])
def test_reused_prefix_gives_the_whole_runs_losses(model_type: str, size: int) -> None:
    """perplexity_drop's losses from recorded layer inputs equal running each candidate whole (padding,
    Gemma-3's sliding window of 16 inside 24-token rows, a layer already removed)."""
    import torch

    from damoc.model.scorers.perplexity_drop import block_losses, candidate_blocks
    from damoc.model.tolerance import answer_loss, skipping

    model = tiny_model(model_type)
    generator = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(2):
        ids = torch.randint(3, 64, (3, 24), generator=generator)
        mask = torch.ones_like(ids)
        mask[1, 17:] = 0  # a right-padded row
        labels = torch.full_like(ids, -100)
        labels[:, 12:17] = ids[:, 12:17]
        batches.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
    removed = [2]
    blocks = candidate_blocks([0, 1, 3, 4, 5], size)
    reused = block_losses(model, batches, removed, blocks, None, (0, len(blocks)))
    for block in blocks:
        with skipping(model, sorted([*removed, *block])):
            assert reused[block] == answer_loss(model, batches), block  # the same operations on the same values
    assert len(decoder_layers(model)) == 6  # every layer back in place
