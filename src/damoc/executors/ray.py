"""The ``ray`` executor: one Ray task per candidate job, as many at once as the cluster has room for.

Each job runs :func:`damoc.jobs.run_candidate` in a Ray worker that reserves
``executor.resources_per_candidate`` (Ray sets the task's ``OMP_NUM_THREADS`` and
``CUDA_VISIBLE_DEVICES`` from it). The workers read and write the run folder themselves, so it must be
on storage every node sees: checked before any job (:func:`~damoc.executors.ray_cluster.check_shared_folder`).
Progress events travel through a Ray queue to this process, which hands them to ``on_event``.
A job that raises, runs out of memory or loses its worker process is reported as failed
(:class:`~damoc.failures.CandidateFailed`) once the other jobs are done. Ray does not retry it
(``max_retries=0``); a rerun of damoc does, from the failed stage on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from damoc.config import ExecutorConfig
from damoc.errors import DamocError
from damoc.executors.base import EXECUTORS, CandidateJob, EventFn
from damoc.executors.ray_cluster import candidate_nodes, check_shared_folder, connect
from damoc.failures import CandidateFailed, describe
from damoc.jobs import job_failure, run_candidate
from damoc.registry import Method
from damoc.reports import FailureReport

log = logging.getLogger(__name__)

POLL_S = 0.2
"""How often this process forwards the queued progress events while jobs run."""
EVENT_INTERVAL_S = 0.2
"""A worker sends a step's events at most this often (its last event, done == total, always)."""


@EXECUTORS.register("ray")
class RayExecutor(Method):
    """Run each candidate as a Ray task with its own CPUs/GPUs, in parallel (Ray: Moritz et al., OSDI 2018)."""

    def run(self, jobs: Sequence[CandidateJob], on_event: EventFn | None = None) -> None:
        """Run every job as a Ray task with the config's ``executor`` settings.

        Raises:
            ExecutorError: Ray is missing or unreachable, no node has the resources, or the run folder
                is not shared with the nodes.
            CandidateFailed: once the other jobs are done, when any job failed.
        """
        if not jobs:
            return
        settings = _settings(jobs)
        ray = connect(settings)
        nodes = candidate_nodes(ray, settings.resources_per_candidate)
        jobs = [dataclasses.replace(j, run_dir=j.run_dir.resolve()) for j in jobs]
        for folder in {j.run_dir for j in jobs}:
            check_shared_folder(ray, folder, nodes)
        failures = _run_tasks(ray, jobs, settings, on_event)
        if failures:
            raise CandidateFailed(failures)


def _settings(jobs: Sequence[CandidateJob]) -> ExecutorConfig:
    """The ``executor`` section the jobs share (one run's jobs always do)."""
    settings = jobs[0].config.executor
    if any(j.config.executor != settings for j in jobs):
        raise DamocError("the candidate jobs of one executor call carry different executor settings")
    return settings


def _run_tasks(
    ray: ModuleType, jobs: list[CandidateJob], settings: ExecutorConfig, on_event: EventFn | None
) -> list[FailureReport]:
    """Submit every job, forward events while they run, and collect the failures in job order."""
    from ray.util.queue import Queue

    events = None if on_event is None else Queue(actor_options={"num_cpus": 0})
    task = ray.remote(run_job)
    res = settings.resources_per_candidate
    refs = {
        task.options(name=f"damoc {j.name}", num_cpus=res.num_cpus, num_gpus=res.num_gpus, max_retries=0).remote(
            j, events, os.getcwd(), logging.getLogger().getEffectiveLevel()
        ): j
        for j in jobs
    }
    pending, failures = list(refs), {}
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=POLL_S)
            _forward(events, on_event)
            for ref in ready:
                failures[ref] = _outcome(ray, ref, refs[ref])
        _forward(events, on_event)
    finally:
        for ref in pending:  # only when this process is interrupted
            ray.cancel(ref, force=True)
        if events is not None:
            ray.kill(events.actor)
    return [f for ref in refs if (f := failures.get(ref)) is not None]


def _forward(events: Any, on_event: EventFn | None) -> None:
    if events is None or on_event is None:
        return
    size = events.qsize()
    for candidate, description, done, total in events.get_nowait_batch(size) if size else []:
        on_event(candidate, description, done, total)


def _outcome(ray: ModuleType, ref: Any, job: CandidateJob) -> FailureReport | None:
    """None when the job's task finished; else its failure (logged)."""
    from ray import exceptions as rex

    try:
        ray.get(ref)
        return None
    except rex.RayTaskError as exc:  # the job raised: exc.cause is its exception
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        if not isinstance(cause, DamocError | OSError):
            log.warning("%s: the Ray task raised\n%s", job.name, exc)  # the worker's traceback
        failure = job_failure(job, cause, "ray")
    except rex.OutOfMemoryError as exc:  # Ray's memory monitor killed the worker
        failure = job_failure(job, exc, "ray", kind="out_of_memory")
    except (rex.WorkerCrashedError, rex.NodeDiedError, rex.TaskCancelledError) as exc:
        failure = job_failure(job, exc, "ray", kind="worker_died")
    except rex.RayError as exc:
        failure = job_failure(job, exc, "ray")
    log.warning("%s", describe(failure))
    return failure


class _EventSender:
    """Puts a job's progress events on the driver's queue: a step's last event always, others at most every 0.2 s.

    Fire and forget: the put is an actor call whose result is never awaited. ``Queue.put`` waits for
    it with ``ray.get``, and Ray releases a task's CPUs while it blocks in ``ray.get``, so every event
    let the scheduler start another candidate on CPUs this one goes on using: with
    ``resources_per_candidate`` asking for every CPU, three candidates ran at once on 2 cores.
    Calls from one worker to one actor run in submission order, so events keep their order.
    """

    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self.sent: dict[str, float] = {}

    def __call__(self, candidate: str, description: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.sent.get(description, -EVENT_INTERVAL_S) < EVENT_INTERVAL_S:
            return
        self.sent[description] = now
        self.queue.actor.put_nowait.remote((candidate, description, done, total))


def run_job(job: CandidateJob, events: Any, cwd: str, log_level: int) -> None:
    """In a Ray worker: run ``job``, its progress events sent to the driver through ``events`` (a Ray queue).

    The worker logs at the driver's level (Ray forwards its output to the driver) and works in the
    driver's folder when this node has it, so relative paths in the config mean the same thing.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=log_level, format="%(message)s")
    if os.path.isdir(cwd):
        os.chdir(cwd)
    run_candidate(job, None if events is None else _EventSender(events))
