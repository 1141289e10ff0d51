"""Answer log-likelihoods under a reference causal LM, and the IFD scores built on them.

Instruction-Following Difficulty compares how hard the answer is with and without the prompt, from
the mean answer-token losses ``meanCE(A|Q)`` and ``meanCE(A)``. Two forms are in use (see
:func:`ifd_from_losses`): Cherry LLM's ratio of mean losses (Li et al. 2024, arXiv 2308.12032) and
Superfiltering's ratio of perplexities (Li et al. 2024, arXiv 2402.00530). Only answer tokens are
scored, so the model computes logits for the last few positions of each sequence only
(``logits_to_keep`` with left padding), which keeps a 262k-vocabulary head cheap.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np

from damoc.data.base import StageContext
from damoc.progress import ProgressFn, tick
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec, render_prompt, target_text

log = logging.getLogger(__name__)

Sequence = tuple[list[int], int]
"""Token ids of one scored sequence and the number of answer tokens at its end."""

IfdScore = Literal["ppl_ratio", "loss_ratio"]
"""``ppl_ratio``: PPL(A|Q) / PPL(A) (Superfiltering); ``loss_ratio``: meanCE(A|Q) / meanCE(A) (Cherry LLM)."""


def load_reference_model(ref: str, cache_dir: Path | None, device: str) -> tuple[Any, Any]:
    """Resolve and load a reference model (bundled alias, folder, .gguf or hub id) in eval mode."""
    from damoc.candidates.resolve import load_model, resolve_model_ref

    model, tokenizer = load_model(resolve_model_ref(ref, cache_dir), device)
    model.eval()
    return model, tokenizer


def compute_ifd(
    examples: list[Example],
    reference_model: str,
    max_seq_len: int,
    batch_size: int,
    ctx: StageContext,
    score: IfdScore = "ppl_ratio",
) -> np.ndarray:
    """Load ``reference_model`` and return the IFD score of every example (see :func:`ifd_scores`)."""
    model, tokenizer = load_reference_model(reference_model, ctx.cache_dir, ctx.device)
    return ifd_scores(
        examples,
        model,
        tokenizer,
        max_seq_len=max_seq_len,
        batch_size=batch_size,
        progress=ctx.progress,
        prompt=ctx.prompt,
        score=score,
    )


def ifd_scores(
    examples: list[Example],
    model: Any,
    tokenizer: Any,
    *,
    max_seq_len: int = 256,
    batch_size: int = 32,
    progress: ProgressFn | None = None,
    prompt: PromptSpec | None = None,
    score: IfdScore = "ppl_ratio",
) -> np.ndarray:
    """IFD per example in the form ``score`` names (see :func:`ifd_from_losses`).

    The losses come from :func:`ifd_losses`. ``prompt`` gives the run's template and chat-template
    settings (None: the default plain template).

    Returns:
        float64 array of length ``len(examples)``; values below 1 mean the prompt helps.
    """
    conditioned, alone = ifd_losses(
        examples, model, tokenizer, max_seq_len=max_seq_len, batch_size=batch_size, progress=progress, prompt=prompt
    )
    return ifd_from_losses(conditioned, alone, score)


def ifd_from_losses(conditioned: np.ndarray, alone: np.ndarray, score: IfdScore) -> np.ndarray:
    """IFD from the mean answer losses ``meanCE(A|Q)`` (``conditioned``) and ``meanCE(A)`` (``alone``).

    ``ppl_ratio`` is Superfiltering's ``PPL(A|Q) / PPL(A) = exp(meanCE(A|Q) - meanCE(A))``;
    ``loss_ratio`` is Cherry LLM's ``meanCE(A|Q) / meanCE(A)``. Both are below 1 exactly when the
    prompt lowers the answer loss, so they keep the same IFD < 1 set, but they rank it differently:
    the first by the difference of the losses, the second by their ratio. A zero ``alone`` loss
    gives a non-finite ``loss_ratio``, which the filters drop.
    """
    if score == "ppl_ratio":
        return np.exp(conditioned - alone)
    if score == "loss_ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(conditioned / alone, dtype=np.float64)
    raise ValueError(f"unknown IFD score {score!r}; allowed: ppl_ratio, loss_ratio")


def ifd_losses(
    examples: list[Example],
    model: Any,
    tokenizer: Any,
    *,
    max_seq_len: int = 256,
    batch_size: int = 32,
    progress: ProgressFn | None = None,
    prompt: PromptSpec | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(meanCE(answer | start, prompt), meanCE(answer | start))`` per example, in nats.

    Both sequences begin with the same start token (BOS, else EOS, else PAD) so that the first answer
    token is scored in both; the "answer alone" is thus conditioned on that token only. (Cherry LLM
    conditions it on its template's ``"### Response:"``; Superfiltering scores the bare answer and
    leaves its first token out.) Prompts are cut from the left to fit ``max_seq_len``.
    """
    start = start_ids(tokenizer)
    seqs: list[Sequence] = []
    for ids, answer in prompt_answer_ids(examples, tokenizer, max_seq_len, prompt):
        seqs += [(start + ids + answer, len(answer)), (start + answer, len(answer))]
    losses = answer_losses(model, seqs, pad_id=pad_id_of(tokenizer), batch_size=batch_size, progress=progress)
    return losses[0::2], losses[1::2]


def prompt_answer_ids(
    examples: list[Example], tokenizer: Any, max_seq_len: int, prompt: PromptSpec | None = None
) -> list[tuple[list[int], list[int]]]:
    """Each example's ``(prompt ids, answer ids)``, cut so that ``start + prompt + answer`` fits ``max_seq_len``.

    The answer keeps at least one token; the prompt loses tokens from its left.
    """
    start = start_ids(tokenizer)
    pairs = [(render_prompt(ex, prompt, tokenizer), target_text(ex, prompt, tokenizer)) for ex in examples]
    prompts = tokenizer([p for p, _ in pairs], add_special_tokens=False)["input_ids"]
    answers = tokenizer([a for _, a in pairs], add_special_tokens=False)["input_ids"]
    out = []
    for ids, answer in zip(prompts, answers, strict=True):
        answer = answer[: max(1, max_seq_len - len(start))]
        room = max_seq_len - len(start) - len(answer)
        out.append((ids[max(0, len(ids) - room) :] if room > 0 else [], answer))
    return out


def answer_losses(
    model: Any, seqs: list[Sequence], *, pad_id: int, batch_size: int, progress: ProgressFn | None = None
) -> np.ndarray:
    """Mean next-token NLL over the answer tokens at the end of each sequence."""
    nlls = tail_token_nlls(model, seqs, pad_id=pad_id, batch_size=batch_size, progress=progress)
    return np.array([float(x.mean()) for x in nlls], dtype=np.float64)


def tail_token_nlls(
    model: Any, seqs: list[Sequence], *, pad_id: int, batch_size: int, progress: ProgressFn | None = None
) -> list[np.ndarray]:
    """Next-token NLL (nats) of each of the last ``n`` tokens of every ``(ids, n)`` sequence.

    Identical sequences (a repeated answer scored alone, say) are computed once; the rest run in
    length-sorted batches so that little padding is computed.
    """
    import torch

    first: dict[tuple[tuple[int, ...], int], int] = {}
    where = [first.setdefault((tuple(ids), n), len(first)) for ids, n in seqs]
    unique = [(list(ids), n) for ids, n in first]
    order = sorted(range(len(unique)), key=lambda i: len(unique[i][0]))
    out: list[np.ndarray] = [np.zeros(0)] * len(unique)
    with torch.inference_mode():
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            nll = _batch_nll(model, [unique[i] for i in idx], pad_id).cpu().double().numpy()
            for row, i in enumerate(idx):
                out[i] = nll[row, nll.shape[1] - unique[i][1] :]
            tick(progress, "token likelihoods", min(lo + batch_size, len(order)), len(order))
    return [out[i] for i in where]


def _batch_nll(model: Any, batch: list[Sequence], pad_id: int) -> Any:
    """(batch, span) NLL of the last ``span`` tokens of each row; ``span`` is the batch's largest ``n``."""
    import torch
    import torch.nn.functional as F

    width = max(len(ids) for ids, _ in batch)
    span = max(n for _, n in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (seq, _) in enumerate(batch):  # left padding: every sequence ends at the last column
        ids[row, width - len(seq) :] = torch.tensor(seq)
        mask[row, width - len(seq) :] = 1
    ids, mask = ids.to(model.device), mask.to(model.device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # as if unpadded: left padding must not shift RoPE
    logits = _tail_logits(model, ids, mask, positions, span + 1)[:, :-1].float()
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, -span:].reshape(-1), reduction="none")
    return nll.view(len(batch), span)


def _tail_logits(model: Any, ids: Any, mask: Any, positions: Any, keep: int) -> Any:
    kwargs = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        return model(**kwargs, logits_to_keep=keep).logits
    return model(**kwargs).logits[:, -keep:]


def start_ids(tokenizer: Any) -> list[int]:
    """The token every scored sequence begins with: BOS, else EOS, else PAD, else id 0."""
    for tok_id in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id):
        if tok_id is not None:
            return [int(tok_id)]
    return [0]


def pad_id_of(tokenizer: Any) -> int:
    """The padding id (PAD, else EOS, else 0); padded positions are masked, so any id works."""
    for tok_id in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if tok_id is not None:
            return int(tok_id)
    return 0
