"""QA answers by greedy generation: left-padded batches, stopping at a newline or end of sequence."""

from __future__ import annotations

from typing import Any

from damoc.progress import ProgressFn, tick
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec, render_prompt


def encode_prompts(
    examples: list[Example], tokenizer: Any, max_prompt_len: int, spec: PromptSpec | None = None
) -> list[list[int]]:
    """Prompt ids as lm-eval's ``generate_until`` encodes them, truncated from the left to ``max_prompt_len``.

    The tokenizer adds its own special tokens (a BOS only where it adds one), none when the text
    already starts with the BOS text (``HFLM.tok_batch_encode``); the cut drops a BOS too, as there.
    """
    texts = [render_prompt(ex, spec, tokenizer) for ex in examples]
    bos = getattr(tokenizer, "bos_token", None)
    out = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=not (bos is not None and text.startswith(bos)))
        out.append(list(ids)[-max(1, max_prompt_len) :])
    return out


def clean_answer(text: str) -> str:
    """The generated text up to its first newline, stripped."""
    return text.split("\n", 1)[0].strip()


def generate_answers(
    examples: list[Example], model: Any, tokenizer: Any, max_seq_len: int, max_new_tokens: int, batch_size: int,
    progress: ProgressFn | None = None, spec: PromptSpec | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Per-example rows: id, answer and the greedy ``prediction``."""
    import torch

    prompts = encode_prompts(examples, tokenizer, max(1, max_seq_len - max_new_tokens), spec)
    order = sorted(range(len(prompts)), key=lambda k: -len(prompts[k]))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    texts = [""] * len(prompts)
    with torch.inference_mode():
        for n, batch in enumerate(batches, start=1):
            outputs = generate_batch(model, tokenizer, [prompts[k] for k in batch], max_new_tokens)
            for k, text in zip(batch, outputs, strict=True):
                texts[k] = clean_answer(text)
            tick(progress, "evaluate", n, len(batches))
    return [{"id": ex.id, "answer": ex.answer, "prediction": t} for ex, t in zip(examples, texts, strict=True)]


def generate_batch(model: Any, tokenizer: Any, prompts: list[list[int]], max_new_tokens: int) -> list[str]:
    """Greedy continuations of left-padded prompts, decoded without special tokens."""
    import torch
    from transformers import GenerationConfig

    device = next(model.parameters()).device
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for b, p in enumerate(prompts):
        ids[b, width - len(p) :] = torch.tensor(p)
        mask[b, width - len(p) :] = 1
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        stop_strings=["\n"],
    )
    out = model.generate(
        input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config, tokenizer=tokenizer
    )
    return tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
