"""The tiny-model fixtures themselves: real models that reload and produce finite logits."""

from pathlib import Path

import pytest

from damoc.testing import TINY_ARCHS as ARCHS


@pytest.mark.parametrize("arch", ARCHS)
def test_tiny_model_reloads_and_runs(tiny_model_dirs: dict[str, Path], arch: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dirs[arch])
    tok = AutoTokenizer.from_pretrained(tiny_model_dirs[arch])
    text = "Question: What is 2 plus 3?"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert model.config.num_hidden_layers == 6
    logits = model(**tok([text], return_tensors="pt")).logits
    assert torch.isfinite(logits).all()
