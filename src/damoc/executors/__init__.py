"""Executors fan the per-candidate stages (model, train, evaluate) out over candidates.

The contract is :class:`damoc.executors.base.Executor`; each module registers one executor, and
:mod:`damoc.executors.builtin` imports the shipped ones when the registry is first asked.
"""

from damoc.executors.base import EXECUTORS, CandidateJob, EventFn, Executor

__all__ = ["EXECUTORS", "CandidateJob", "EventFn", "Executor"]
