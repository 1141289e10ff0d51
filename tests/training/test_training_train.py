"""train_proxy on the tiny models: the loss falls, results reload, a seed fixes the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from damoc.config import TrainingConfig
from damoc.context import StageContext
from damoc.testing import TINY_ARCHS as ARCHS
from damoc.testing import make_mc_records, write_jsonl
from damoc.training import TrainReport, train_proxy

FAST = dict(max_steps=8, batch_size=4, learning_rate=2e-2, lora_r=4, lora_alpha=8, max_seq_len=64)


@pytest.fixture()
def tiny_train_file(tmp_path: Path) -> Path:
    """Four examples: with batch size 4 every step sees the same batch, so the loss must fall."""
    return write_jsonl(tmp_path / "train.jsonl", make_mc_records(4, seed=0))


@pytest.mark.parametrize("arch", ARCHS)
def test_lora_lowers_the_loss_and_the_adapter_reloads(
    tiny_model_dirs: dict[str, Path], tiny_train_file: Path, tmp_path: Path, arch: str
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "adapter"
    out.mkdir()
    calls: list[tuple[str, int, int]] = []
    report = train_proxy(
        tiny_model_dirs[arch], tiny_train_file, TrainingConfig(**FAST), out,
        StageContext(device="cpu", progress=lambda d, n, t: calls.append((d, n, t))),
    )  # fmt: skip
    # a tied, randomly initialised head caps how far the loss can fall; 0.3 nats is well clear of noise
    assert report.loss_last < report.loss_first - 0.3
    assert report.steps == 8 and len(report.losses) == 8 and report.examples_used == 4
    assert 0 < report.trainable_params < report.total_params
    assert report.target_tokens < report.tokens_seen
    assert calls[-1] == ("train", 8, 8) and len(calls) == 8
    assert {"adapter_config.json", "adapter_model.safetensors", "train.json"} <= {p.name for p in out.iterdir()}
    assert TrainReport.model_validate(json.loads((out / "train.json").read_text())) == report
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dirs[arch])
    tuned = PeftModel.from_pretrained(base, out)
    assert torch.isfinite(tuned(torch.tensor([[1, 5, 7]])).logits).all()


def test_same_seed_gives_the_same_losses(
    tiny_model_dirs: dict[str, Path], mc_files: tuple[Path, Path], tmp_path: Path
) -> None:
    cfg = TrainingConfig(**{**FAST, "max_steps": 3, "lora_dropout": 0.1, "gradient_accumulation_steps": 2})
    runs = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        (tmp_path / name).mkdir()
        runs.append(
            train_proxy(
                tiny_model_dirs["llama"], mc_files[0], cfg, tmp_path / name, StageContext(seed=seed, device="cpu")
            )
        )
    assert runs[0].losses == runs[1].losses
    assert runs[0].losses != runs[2].losses
    assert runs[0].examples_used == 3 * 4 * 2


def test_epochs_when_max_steps_is_none(
    tiny_model_dirs: dict[str, Path], mc_files: tuple[Path, Path], tmp_path: Path
) -> None:
    cfg = TrainingConfig(**{**FAST, "max_steps": None, "num_epochs": 0.5, "batch_size": 8, "warmup_ratio": 0.5})
    report = train_proxy(tiny_model_dirs["qwen2"], mc_files[0], cfg, tmp_path, StageContext(device="cpu"))
    assert report.steps == 3 and report.examples_used == 24


def test_full_fine_tuning_writes_a_checkpoint_that_reloads(
    tiny_model_dirs: dict[str, Path], tiny_train_file: Path, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    cfg = TrainingConfig(**{**FAST, "method": "full", "learning_rate": 1e-3, "max_steps": 4})
    report = train_proxy(tiny_model_dirs["gemma3"], tiny_train_file, cfg, tmp_path, StageContext(device="cpu"))
    assert report.method == "full" and report.trainable_params == report.total_params
    assert report.loss_last < report.loss_first
    assert list(tmp_path.glob("*.safetensors")) and not list(tmp_path.glob("adapter_*"))
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dirs["gemma3"])
    PreTrainedTokenizerFast.from_pretrained(tmp_path)
    ids = torch.tensor([[1, 5, 7, 9]])
    assert not torch.allclose(tuned(ids).logits, base(ids).logits)
