"""Failed candidate jobs: the error executors raise, and the ``failed.json`` records the ranking reads.

An executor runs every job it is given even when one fails, then raises :class:`CandidateFailed`
listing each failed job. The pipeline keeps one :class:`~damoc.reports.FailureReport` per failed
candidate in ``models/<name>/failed.json``; the ranking lists that candidate as failed, with its
reason, and leaves it out of the order. A rerun skips the finished stages (their manifests) and
retries the failed ones; the record goes once the stage that failed has run through. Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence

from damoc.artifacts import RunLayout
from damoc.errors import DamocError
from damoc.reports import FailureReport, read_stage_report, write_stage_report
from damoc.selection.base import FailedCandidate

RERUN_HINT = "the other candidates' finished stages are kept: fix the cause and run the same command again"


class CandidateFailed(DamocError):
    """Candidate jobs failed while the others ran to the end; ``failures`` holds one report per failed job."""

    def __init__(self, failures: Sequence[FailureReport]) -> None:
        self.failures = list(failures)
        super().__init__("\n".join([*(describe(f) for f in self.failures), RERUN_HINT]))


def describe(failure: FailureReport | FailedCandidate) -> str:
    """``candidate 'x' failed in the model stage: <reason>`` (plus how, for a killed worker or out of memory)."""
    how = {"out_of_memory": " (out of memory)", "worker_died": " (its worker process died)"}.get(failure.kind, "")
    return f"candidate {failure.candidate!r} failed in the {failure.stage} stage{how}: {failure.reason}"


def record_failures(
    layout: RunLayout, names: Sequence[str], stages: Sequence[str], failures: Sequence[FailureReport]
) -> None:
    """Write ``failed.json`` for each failed candidate; remove it for the others whose failed stage just ran.

    Args:
        layout: the run folder.
        names: the candidates whose jobs ran.
        stages: the stages those jobs ran (a record of another stage's failure stays).
        failures: what failed.
    """
    failed = {f.candidate: f for f in failures}
    for name in names:
        path = layout.failure_report(name)
        if name in failed:
            write_stage_report(path.parent, failed[name])
        elif path.is_file() and read_stage_report(path, FailureReport).stage in stages:
            path.unlink()


def read_failures(layout: RunLayout, names: Sequence[str]) -> list[FailureReport]:
    """The failure records of ``names`` (in their order) that are still in the run folder."""
    paths = [layout.failure_report(n) for n in names]
    return [read_stage_report(p, FailureReport) for p in paths if p.is_file()]
