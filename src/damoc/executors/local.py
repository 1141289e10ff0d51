"""The default executor: candidates one after another, in this process."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from damoc.errors import DamocError
from damoc.executors.base import EXECUTORS, CandidateJob, EventFn
from damoc.failures import CandidateFailed, describe
from damoc.jobs import job_failure, run_candidate
from damoc.registry import Method
from damoc.reports import FailureReport

log = logging.getLogger(__name__)


@EXECUTORS.register("local")
class LocalExecutor(Method):
    """Run candidates one after another in this process (the default; no paper, plain sequential)."""

    def run(self, jobs: Sequence[CandidateJob], on_event: EventFn | None = None) -> None:
        """Run each job in order; a failing job is logged and the next one runs.

        Raises:
            CandidateFailed: at the end, when any job failed (an interrupt stops at once).
        """
        failures: list[FailureReport] = []
        for i, job in enumerate(jobs, start=1):
            log.info("candidate %d/%d: %s", i, len(jobs), job.name)
            try:
                run_candidate(job, on_event)
            except Exception as exc:  # every failure is the candidate's; KeyboardInterrupt still stops the run
                failures.append(job_failure(job, exc, self.name))
                # a damoc or OS error explains itself; anything else is a bug: keep its traceback in the log
                plain = isinstance(exc, DamocError | OSError)
                log.warning("%s", describe(failures[-1]), exc_info=None if plain else exc)
        if failures:
            raise CandidateFailed(failures)
