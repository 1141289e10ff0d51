"""Multiple-choice scoring by continuation log-likelihood, as lm-evaluation-harness does it.

Each (example, choice) pair becomes one request: the prompt followed by the choice's continuation,
truncated from the left to ``max_seq_len``. Requests are sorted by length (less padding), right
padded into batches, run through the decoder once, and the output head is applied only at the
positions that predict continuation tokens: a 262k vocabulary costs a few rows, not the sequence.
An example whose choices share a long prompt (a passage) is instead scored with the prompt encoded
once and its KV cache reused for every choice (:mod:`damoc.evaluation.prefix`).
"""

from __future__ import annotations

from typing import Any

from damoc.evaluation.base import Request
from damoc.evaluation.heads import head_logits, hidden_states
from damoc.evaluation.metrics.base import argmax
from damoc.evaluation.prefix import MIN_SHARED_TOKENS
from damoc.progress import ProgressFn, tick
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec, choice_continuations, render_prompt
from damoc.tasks.tokens import encode_pair


def build_requests(
    examples: list[Example], tokenizer: Any, max_seq_len: int, spec: PromptSpec | None = None
) -> list[Request]:
    """One request per choice; input is ``(context + continuation)[-(max_seq_len + 1):][:-1]``, as lm-eval.

    The context ids carry the tokenizer's own BOS, if it adds one (:func:`damoc.tasks.tokens.encode_text`).
    """
    out = []
    for i, ex in enumerate(examples):
        prompt = render_prompt(ex, spec, tokenizer)
        for j, cont in enumerate(choice_continuations(ex, spec, tokenizer)):
            ctx_ids, cont_ids = encode_pair(tokenizer, prompt, cont)
            whole = (ctx_ids + cont_ids)[-(max_seq_len + 1) :]
            targets = cont_ids[-(len(whole) - 1) :] if len(cont_ids) >= len(whole) else cont_ids
            out.append(Request(example=i, choice=j, input_ids=whole[:-1], targets=targets))
    return out


def merge_prefixes(requests: list[Request]) -> tuple[list[list[int]], list[int]]:
    """The rows to run, and each request's row.

    A request whose input is a prefix of another's input of the same example (single-token choices
    all share the bare prompt; "North" is inside "North America") is read off the longer row: the
    model is causal, so the positions it needs hold the same hidden states there.
    """
    rows: list[list[int]] = []
    owner = [0] * len(requests)
    by_example: dict[int, list[int]] = {}
    for k, r in enumerate(requests):
        by_example.setdefault(r.example, []).append(k)
    for ks in by_example.values():
        first = len(rows)
        for k in sorted(ks, key=lambda k: -len(requests[k].input_ids)):
            ids = requests[k].input_ids
            hit = next((i for i in range(first, len(rows)) if rows[i][: len(ids)] == ids), None)
            if hit is None:
                rows.append(ids)
                hit = len(rows) - 1
            owner[k] = hit
    return rows, owner


def count_batches(requests: list[Request], batch_size: int) -> int:
    """How many batches :func:`score_requests` runs for ``requests``."""
    return -(-len(merge_prefixes(requests)[0]) // batch_size)


def score_requests(
    model: Any, requests: list[Request], batch_size: int, pad_id: int, progress: ProgressFn | None = None
) -> list[float]:
    """Summed log-probability of each request's continuation, in the order of ``requests``.

    Rows (:func:`merge_prefixes`) are sorted by length (less padding) and run ``batch_size`` at a time.
    """
    import torch

    rows, owner = merge_prefixes(requests)
    members: list[list[int]] = [[] for _ in rows]
    for k, i in enumerate(owner):
        members[i].append(k)
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    scores = [0.0] * len(requests)
    with torch.inference_mode():
        for n, batch in enumerate(batches, start=1):
            picks = [(slot, k) for slot, i in enumerate(batch) for k in members[i]]
            values = score_rows(model, [rows[i] for i in batch], [(b, requests[k]) for b, k in picks], pad_id)
            for (_, k), value in zip(picks, values, strict=True):
                scores[k] = value
            tick(progress, "evaluate", n, len(batches))
    return scores


def score_all(
    model: Any, requests: list[Request], batch_size: int, pad_id: int, progress: ProgressFn | None, min_shared: int
) -> list[float]:
    """Scores in the order of ``requests``: long shared prompts through the prefix path, the rest batched."""
    import torch

    from damoc.evaluation.prefix import score_shared_prefix, shared_prefix_len

    by_example: dict[int, list[int]] = {}
    for k, r in enumerate(requests):
        by_example.setdefault(r.example, []).append(k)
    shared = [ks for ks in by_example.values() if shared_prefix_len([requests[k].input_ids for k in ks]) >= min_shared]
    in_shared = {k for ks in shared for k in ks}
    rest = [k for k in range(len(requests)) if k not in in_shared]
    scores = [0.0] * len(requests)
    n_batches = count_batches([requests[k] for k in rest], batch_size)
    total = n_batches + len(shared)
    rest_progress = None if progress is None else (lambda d, n, _t: progress(d, n, total))
    for k, value in zip(rest, score_requests(model, [requests[k] for k in rest], batch_size, pad_id, rest_progress),
                        strict=True):  # fmt: skip
        scores[k] = value
    with torch.inference_mode():
        for n, ks in enumerate(shared, start=1):
            for k, value in zip(ks, score_shared_prefix(model, [requests[k] for k in ks], pad_id), strict=True):
                scores[k] = value
            tick(progress, "evaluate", n_batches + n, total)
    return scores


def score_batch(model: Any, batch: list[Request], pad_id: int) -> list[float]:
    """Continuation log-likelihoods of one right-padded batch, one row per request."""
    return score_rows(model, [r.input_ids for r in batch], list(enumerate(batch)), pad_id)


def score_rows(model: Any, rows: list[list[int]], picks: list[tuple[int, Request]], pad_id: int) -> list[float]:
    """Continuation log-likelihoods of ``picks`` ((row, request) pairs) from one right-padded batch of ``rows``.

    A request reads the positions ``len(request.input_ids) - len(targets) ...`` of its row, which
    starts with the request's input.
    """
    import torch

    device = next(model.parameters()).device
    width = max(len(ids) for ids in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for b, row in enumerate(rows):
        ids[b, : len(row)] = torch.tensor(row)
        mask[b, : len(row)] = 1
    batch_rows: list[int] = []
    cols: list[int] = []
    targets: list[int] = []
    owners: list[int] = []
    for p, (b, r) in enumerate(picks):
        n, c = len(r.input_ids), len(r.targets)
        batch_rows += [b] * c
        cols += range(n - c, n)  # the positions whose next token is a continuation token
        targets += r.targets
        owners += [p] * c
    hidden = hidden_states(model, ids.to(device), mask.to(device))
    logprobs = torch.log_softmax(head_logits(model, hidden[batch_rows, cols]), dim=-1)
    picked = logprobs[torch.arange(len(targets), device=device), torch.tensor(targets, device=device)].cpu()
    sums = torch.zeros(len(picks), dtype=torch.float64).index_add_(0, torch.tensor(owners), picked.double())
    return sums.tolist()


def score_multiple_choice(
    examples: list[Example], model: Any, tokenizer: Any, max_seq_len: int, batch_size: int,
    progress: ProgressFn | None = None, spec: PromptSpec | None = None, min_shared: int = MIN_SHARED_TOKENS,
) -> list[dict[str, Any]]:  # fmt: skip
    """Per-example rows (:func:`choice_row`): id, answer, logliks, choice_lengths, pred and pred_norm.

    Examples whose choices share at least ``min_shared`` prompt tokens (a passage) are scored with
    the prompt encoded once (:mod:`damoc.evaluation.prefix`); the others in padded batches.
    """
    requests = build_requests(examples, tokenizer, max_seq_len, spec)
    scores = score_all(model, requests, batch_size, tokenizer.pad_token_id, progress, min_shared)
    per_example: list[list[float]] = [[] for _ in examples]
    for r, s in zip(requests, scores, strict=True):
        per_example[r.example].append(s)
    return [choice_row(ex, logliks) for ex, logliks in zip(examples, per_example, strict=True)]


def choice_row(ex: Example, logliks: list[float]) -> dict[str, Any]:
    """One prediction row: ``choice_lengths`` are the raw choices' characters, the delimiter not counted.

    lm-eval 0.4.13 ``acc_norm`` divides by ``len(choice)`` of ``doc_to_choice``, without the
    target delimiter: with logliks (-5.5, -10) for ``"ab"``/``"abcd"`` it picks ``"abcd"``.
    """
    lengths = [len(c) for c in ex.choices or ()]
    normed = [ll / max(n, 1) for ll, n in zip(logliks, lengths, strict=True)]
    return {
        "id": ex.id, "answer": ex.answer, "logliks": logliks, "choice_lengths": lengths,
        "pred": argmax(logliks), "pred_norm": argmax(normed),
    }  # fmt: skip
