"""Layer removal and method helpers on in-memory tiny models (no files, no calibration)."""

from __future__ import annotations

from typing import Any

import pytest

from damoc.errors import ModelError
from damoc.model.base import lowest, merge_targets
from damoc.model.layers import architectures, decoder_layers, num_layers_to_remove, remove_layers
from damoc.testing import TINY_ARCHS as ARCHS
from damoc.testing import tiny_config


def tiny_model(arch: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(tiny_config(arch, 64)).eval()


def per_layer_lists(config: Any, n: int) -> list[str]:
    return [k for k, v in config.to_dict().items() if isinstance(v, list) and len(v) == n and n > 2]


@pytest.mark.parametrize("arch", ARCHS)
def test_remove_layers_updates_config_and_numbering(arch: str) -> None:
    model = tiny_model(arch)
    remove_layers(model, [1, 4])
    assert len(decoder_layers(model)) == model.config.num_hidden_layers == 4
    idx = [[m.layer_idx for m in layer.modules() if hasattr(m, "layer_idx")] for layer in decoder_layers(model)]
    assert all(set(ids) == {i} for i, ids in enumerate(idx))
    assert per_layer_lists(model.config, 6) == []  # no per-layer list left at the old length


def test_remove_nothing_is_identity() -> None:
    import torch

    model = tiny_model("gemma3")
    ids = torch.tensor([[1, 5, 9, 13]])
    with torch.no_grad():
        before = model(ids).logits
        remove_layers(model, [])
        assert torch.equal(model(ids).logits, before)


@pytest.mark.parametrize("model_type", ["mistral", "qwen3"])
def test_other_table_families_remove_and_generate(model_type: str) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.for_model(
        model_type, vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, pad_token_id=0,
    )  # fmt: skip
    model = AutoModelForCausalLM.from_config(cfg).eval()
    remove_layers(model, [0, 2])
    out = model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert out.shape == (1, 6) and model.config.num_hidden_layers == 2


def test_errors_name_the_problem() -> None:
    model = tiny_model("llama")
    with pytest.raises(ModelError, match="out of range"):
        remove_layers(model, [6])
    with pytest.raises(ModelError, match="leaves none"):
        remove_layers(model, list(range(6)))
    with pytest.raises(ModelError, match="leave none"):
        num_layers_to_remove(6, 0.95)
    assert num_layers_to_remove(30, 0.25) == 8 and num_layers_to_remove(6, 0.0) == 0
    assert {"llama", "qwen2", "gemma3_text"} <= set(architectures())


def test_method_helpers() -> None:
    assert lowest([0.5, 0.1, 0.3, 0.1], 2) == [1, 3]
    assert lowest([0.5, 0.1], 0) == []
    assert merge_targets(6, [1, 4, 5]) == {0: [1], 3: [4, 5]}
    assert merge_targets(4, [0]) == {1: [0]}
