"""The executor contract: how the per-candidate stages of a run are fanned out.

An executor receives :class:`CandidateJob` values, plain picklable data (the config, the run folder
and one candidate name), so a job can run in this process, another process or another host, where
:func:`damoc.jobs.run_candidate` runs it. The
executor owns progress reporting: it passes each job an event callback and forwards the events
``(candidate, description, done, total)`` to the ``on_event`` function it was given.

A failing job does not stop the others: the executor runs every job, then raises
:class:`damoc.failures.CandidateFailed` with one :class:`~damoc.reports.FailureReport` per failed job
(:func:`damoc.jobs.job_failure` builds it from the exception).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from damoc.config import RunConfig
from damoc.registry import Registry

EventFn = Callable[[str, str, int, int], None]
"""``fn(candidate, description, done, total)``: progress of one candidate's stages."""

CANDIDATE_STAGES: tuple[str, ...] = ("model", "train", "evaluate")
GROUND_TRUTH = "ground_truth"
"""The validation's job stage: the full candidate fine-tuned on the whole training split (damoc.validation)."""


@dataclass(frozen=True)
class CandidateJob:
    """The per-candidate stages (model, train, evaluate) of one candidate: plain, picklable data.

    ``stages == (GROUND_TRUTH,)`` is the validation's ground-truth fine-tune of the candidate instead.

    With ``evaluation.sequential_chunk`` set (:mod:`damoc.sequential`), the evaluate stage runs either one
    chunk of the eval split (``eval_chunk``) or, once the rounds are decided, the ``eval/`` folder from
    chunks ``0..eval_rounds-1`` and the baselines' evaluations on the same examples (``eval_rounds``).
    """

    config: RunConfig
    run_dir: Path
    name: str
    stages: tuple[str, ...] = CANDIDATE_STAGES
    eval_chunk: int | None = None
    eval_rounds: int | None = None


class Executor(Protocol):
    """Runs candidate jobs; a failing job does not stop the others."""

    def run(self, jobs: Sequence[CandidateJob], on_event: EventFn | None = None) -> None:
        """Run every job (in any order or in parallel).

        Raises:
            CandidateFailed: after the other jobs ran to the end, listing each failed job and its reason.
        """
        ...


EXECUTORS: Registry[Executor] = Registry("executor", "damoc.executors.builtin")


def build_executor(cfg: RunConfig) -> Executor:
    """The executor named by ``cfg.executor.kind``; it reads its settings from the jobs' config."""
    return EXECUTORS.build(cfg.executor.kind, {}, where="executor.kind")
