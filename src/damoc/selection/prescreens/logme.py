"""``logme``: pre-screen by LogME on the untuned candidate's last hidden states (You et al. 2021, arXiv 2102.11005).

For features F (n x D) and one class's one-hot target y (n), LogME is the log marginal likelihood
(evidence) of a Bayesian linear model y = F w + e, w ~ N(0, 1/alpha I), e ~ N(0, 1/beta I):

    log p(y | F, alpha, beta) = D/2 log alpha + n/2 log beta - 1/2 log|A| - beta/2 ||y - F m||^2
                                - alpha/2 m^T m - n/2 log(2 pi),   A = alpha I + beta F^T F,
                                m = beta A^-1 F^T y,

maximised over alpha and beta by the fixed-point updates gamma = sum_i beta s_i / (alpha + beta s_i),
alpha = gamma / m^T m, beta = (n - gamma) / ||y - F m||^2 (s_i: eigenvalues of F^T F), divided by n
and averaged over the classes. Plain numpy; the forward pass is the only torch part.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from damoc.registry import Method
from damoc.selection.prescreens.base import PRESCREENS, ScoringSettings, answer_indices
from damoc.tasks.example import Example

MAX_ITERATIONS = 100
TOLERANCE = 1e-6


def evidence(features: np.ndarray, target: np.ndarray, alpha: float, beta: float) -> float:
    """Log evidence log p(y | F, alpha, beta) of the Bayesian linear model, in nats (not divided by n)."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    n, d = f.shape
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    residual = float(np.sum((y - f @ m) ** 2))
    _, logdet = np.linalg.slogdet(a)
    return (
        d / 2 * math.log(alpha) + n / 2 * math.log(beta) - logdet / 2 - beta / 2 * residual
        - alpha / 2 * float(m @ m) - n / 2 * math.log(2 * math.pi)
    )  # fmt: skip


def maximise_evidence(features: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(alpha, beta) maximising :func:`evidence`, by MacKay's fixed-point updates from alpha = beta = 1."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    n = f.shape[0]
    s, v = np.linalg.eigh(f.T @ f)
    s = np.clip(s, 0.0, None)
    projected = v.T @ (f.T @ y)
    alpha, beta = 1.0, 1.0
    for _ in range(MAX_ITERATIONS):
        m = v @ (beta * projected / (alpha + beta * s))
        gamma = float(np.sum(beta * s / (alpha + beta * s)))
        new_alpha = gamma / max(float(m @ m), 1e-12)
        new_beta = (n - gamma) / max(float(np.sum((y - f @ m) ** 2)), 1e-12)
        done = abs(new_alpha / new_beta - alpha / beta) <= TOLERANCE * (alpha / beta)
        alpha, beta = new_alpha, new_beta
        if done:
            break
    return alpha, beta


def logme(features: np.ndarray, labels: np.ndarray) -> float:
    """LogME: the maximised evidence per example of each class's one-hot target, averaged over classes 0..max(labels)."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    out = []
    for k in range(int(labels.max()) + 1):
        y = (labels == k).astype(np.float64)
        alpha, beta = maximise_evidence(features, y)
        out.append(evidence(features, y, alpha, beta) / n)
    return float(np.mean(out))


@PRESCREENS.register("logme")
class LogMEPrescreen(Method):
    """Rank by LogME of the last hidden state at the prompt's last token against the answer index (You et al. 2021, arXiv 2102.11005).

    Multiple choice only: the class of an example is its right choice's index, so the score asks how
    well a linear read-out of the untuned model's prompt representation predicts the answer.
    """

    task_types: ClassVar[tuple[str, ...]] = ("multiple_choice",)

    def score(self, model: Any, tokenizer: Any, examples: list[Example], settings: ScoringSettings) -> float:
        """LogME of the prompt features of ``examples`` against their answer indices."""
        features = prompt_features(model, tokenizer, examples, settings)
        return logme(features, np.array(answer_indices(examples)))


def prompt_features(model: Any, tokenizer: Any, examples: list[Example], settings: ScoringSettings) -> np.ndarray:
    """(n, hidden) last-layer hidden states (after the final norm) at each prompt's last token."""
    import torch

    from damoc.evaluation.heads import hidden_states
    from damoc.tasks.prompts import render_prompt
    from damoc.tasks.tokens import encode_text

    rows = [encode_text(tokenizer, render_prompt(ex, settings.prompt, tokenizer))[-settings.max_seq_len :]
            for ex in examples]  # fmt: skip
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for lo in range(0, len(rows), settings.batch_size):
            batch = rows[lo : lo + settings.batch_size]
            ids = torch.full((len(batch), max(map(len, batch))), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for b, row in enumerate(batch):
                ids[b, : len(row)], mask[b, : len(row)] = torch.tensor(row), 1
            hidden = hidden_states(model, ids.to(device), mask.to(device))
            last = torch.tensor([len(r) - 1 for r in batch], device=device)
            out.append(hidden[torch.arange(len(batch), device=device), last].float().cpu().numpy())
    return np.concatenate(out).astype(np.float64)
