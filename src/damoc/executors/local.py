"""The default executor: candidates one after another, in this process."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from damoc.executors.base import EXECUTORS, CandidateJob, EventFn
from damoc.jobs import run_candidate
from damoc.registry import Method

log = logging.getLogger(__name__)


@EXECUTORS.register("local")
class LocalExecutor(Method):
    """Run candidates one after another in this process (the default; no paper, plain sequential)."""

    def run(self, jobs: Sequence[CandidateJob], on_event: EventFn | None = None) -> None:
        """Run each job in order; an error stops the run (finished candidates stay done)."""
        for i, job in enumerate(jobs, start=1):
            log.info("candidate %d/%d: %s", i, len(jobs), job.name)
            run_candidate(job, on_event)
