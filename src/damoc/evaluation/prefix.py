"""Multiple-choice scoring that runs a shared prompt once: the passage is encoded once, not once per choice.

Reading-comprehension prompts are a few hundred tokens and the choices a few: scoring each
(prompt + choice) row separately spends almost all its time re-encoding the same passage. Here
the common token prefix of one example's requests goes through the decoder once with a KV cache,
the cache is repeated for the choices, and only the short suffixes are run as a batch. The
log-likelihoods are the ones :func:`damoc.evaluation.loglik.score_batch` computes (same tokens,
same positions; floating-point differences only), which a test checks on every tiny architecture,
sliding-window attention included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from damoc.evaluation.heads import causal_lm, head_logits

if TYPE_CHECKING:
    from damoc.evaluation.base import Request

MIN_SHARED_TOKENS = 64
"""An example goes through the shared-prefix path when its choices share at least this many tokens."""


def shared_prefix_len(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the common prefix, leaving every sequence at least one token of its own."""
    limit = min(len(s) for s in sequences) - 1
    n = 0
    while n < limit and all(s[n] == sequences[0][n] for s in sequences[1:]):
        n += 1
    return n


def score_shared_prefix(model: Any, requests: list[Request], pad_id: int) -> list[float]:
    """Continuation log-likelihoods of one example's requests, encoding their common prefix once."""
    import torch

    device = next(model.parameters()).device
    decoder = causal_lm(model).get_decoder()
    p = shared_prefix_len([r.input_ids for r in requests])
    first = decoder(
        input_ids=torch.tensor([requests[0].input_ids[:p]], device=device),
        attention_mask=torch.ones(1, p, dtype=torch.long, device=device),
        use_cache=True,
    )
    cache = first.cache
    cache.batch_repeat_interleave(len(requests))
    width = max(len(r.input_ids) for r in requests) - p
    ids = torch.full((len(requests), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(requests), p + width, dtype=torch.long)
    mask[:, :p] = 1
    for b, r in enumerate(requests):
        n = len(r.input_ids) - p
        ids[b, :n] = torch.tensor(r.input_ids[p:])
        mask[b, p : p + n] = 1
    positions = torch.arange(p, p + width).unsqueeze(0).expand(len(requests), -1)
    rest = decoder(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        cache=cache,
        use_cache=True,
    ).last_hidden_state
    shared = first.last_hidden_state[0]
    picked, rows, targets = [], [], []
    for b, r in enumerate(requests):
        n = len(r.input_ids)
        picked += [shared[k] if k < p else rest[b, k - p] for k in range(n - len(r.targets), n)]
        rows += [b] * len(r.targets)
        targets += r.targets
    # one output-head call for every continuation position of the example, as score_batch does
    logprobs = torch.log_softmax(head_logits(model, torch.stack(picked)), dim=-1)
    got = logprobs[torch.arange(len(targets), device=device), torch.tensor(targets, device=device)].cpu()
    sums = torch.zeros(len(requests), dtype=torch.float64).index_add_(0, torch.tensor(rows), got.double())
    return sums.tolist()
