"""Executors fan the per-candidate stages (model, train, evaluate) out over candidates."""

from __future__ import annotations

from collections.abc import Callable

from damoc.config import ExecutorConfig
from damoc.executors.local import run_local

CandidateJob = Callable[[str], None]


def run_candidates(cfg: ExecutorConfig, job: CandidateJob, names: list[str]) -> None:
    """Run ``job(name)`` for every candidate with the configured executor."""
    if cfg.kind == "local":
        run_local(job, names)
    else:  # pragma: no cover - the config's Literal admits no other value
        raise ValueError(cfg.kind)


__all__ = ["CandidateJob", "run_candidates"]
