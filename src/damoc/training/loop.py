"""The training loop's parts: wrapping the model for LoRA, the target-token loss, the optimizer.

A plain torch loop rather than a trainer class: it is deterministic for a seed, runs unchanged on
CPU and GPU, and computes vocabulary logits only where a target token is predicted, which keeps a
262k-vocabulary head (Gemma-3) cheap.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from damoc.config import TrainingConfig
from damoc.training.base import IGNORE_INDEX

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def wrap_model(model: Any, cfg: TrainingConfig) -> Any:
    """A PEFT LoRA model (``cfg.method == "lora"``) or ``model`` with every weight trainable."""
    if cfg.method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules,
        task_type="CAUSAL_LM",
        bias="none",
    )
    return get_peft_model(model, lora)


def causal_lm(model: Any) -> Any:
    """The transformers causal LM inside a PEFT wrapper (or ``model`` itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def target_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Summed cross-entropy over the labelled tokens of a right-padded batch.

    The decoder runs once; the output head runs only on positions whose next token is labelled.
    """
    import torch

    lm = causal_lm(model)
    hidden = lm.get_decoder()(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
    ).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE_INDEX
    logits = lm.get_output_embeddings()(hidden[:, :-1][keep])
    cap = getattr(lm.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep], reduction="sum")


def build_optimizer(model: Any, cfg: TrainingConfig, total_steps: int) -> tuple[Any, Any]:
    """AdamW (no weight decay on biases and norms) and a linear warmup-then-decay schedule."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.learning_rate)
    warmup = math.ceil(cfg.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        # linear warmup that never starts at lr 0, then linear decay towards 0
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def step_metrics(loss: float, optimizer: Any) -> dict[str, float]:
    """A step's tracker values: its loss as ``train.json`` records it and the learning rate it applied."""
    return {"train/loss": round(loss, 6), "train/learning_rate": float(optimizer.param_groups[0]["lr"])}


def count_params(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts; tied weights count once."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
