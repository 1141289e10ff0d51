"""Ray for the ``ray`` executor: starting or joining it, and the checks made before any job runs.

``import ray`` happens inside :func:`connect` only, so ``import damoc`` never loads it.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from damoc.config import CandidateResources, ExecutorConfig
from damoc.errors import ExecutorError

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 120.0
"""How long the nodes get to answer the shared-folder check (their tasks need no CPU, so no queueing)."""


def connect(settings: ExecutorConfig) -> ModuleType:
    """The ``ray`` module, initialised: this process's runtime when it has one, else a new connection.

    Without ``executor.address`` a local runtime starts (``executor.num_cpus`` CPUs, no dashboard);
    with one, the cluster there is joined. A runtime this process already started (a notebook, a test
    fixture, an earlier stage of this run) is used as it is.
    """
    try:
        import ray
    except ImportError:
        raise ExecutorError(
            "executor.kind: ray needs the ray package: pip install 'damoc[ray]' (ray==2.60.0)"
        ) from None
    if ray.is_initialized():
        return ray
    try:
        if settings.address is None:
            log.info("starting a local Ray runtime")
            ray.init(num_cpus=settings.num_cpus, include_dashboard=False)
        else:
            log.info("joining the Ray cluster at %s", settings.address)
            ray.init(address=settings.address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"executor.address {settings.address!r}" if settings.address else "a local Ray runtime"
        raise ExecutorError(f"{where}: Ray did not start: {exc}") from None
    return ray


def candidate_nodes(ray: ModuleType, resources: CandidateResources) -> list[dict[str, Any]]:
    """The live nodes with room for one candidate task; an error naming every node's resources when none has."""
    nodes = [n for n in ray.nodes() if n["Alive"]]
    fit = [n for n in nodes if _has(n, "CPU", resources.num_cpus) and _has(n, "GPU", resources.num_gpus)]
    if not fit:
        have = "; ".join(
            f"{n['NodeManagerAddress']}: {n['Resources'].get('CPU', 0):g} CPU, {n['Resources'].get('GPU', 0):g} GPU"
            for n in nodes
        )
        raise ExecutorError(
            f"executor.resources_per_candidate asks for {resources.num_cpus:g} CPU and {resources.num_gpus:g} GPU "
            f"per candidate, and no Ray node has that ({have or 'no live node'}); lower it or add such a node"
        )
    return fit


def _has(node: dict[str, Any], resource: str, amount: float) -> bool:
    return amount == 0 or float(node["Resources"].get(resource, 0.0)) >= amount


def check_shared_folder(ray: ModuleType, folder: Path, nodes: list[dict[str, Any]]) -> None:
    """Refuse a run folder that ``nodes`` do not share with this process.

    This process writes a probe file with a random token into ``folder``; a task pinned to each node
    reads it and writes a reply beside it, which this process must see. All probe files are removed.

    Raises:
        ExecutorError: naming the nodes that failed, and what to do.
    """
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    probe = folder / f".ray-probe-{token}"
    probe.write_text(token, encoding="utf-8")
    try:
        verify_probe(ray, nodes, probe, token)
    finally:
        for p in folder.glob(f"{probe.name}*"):
            p.unlink(missing_ok=True)


def verify_probe(ray: ModuleType, nodes: list[dict[str, Any]], probe: Path, token: str) -> None:
    """Each node must read ``token`` from ``probe`` and write a reply this process can read back."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(answer_probe)
    refs = [
        task.options(
            name="damoc shared-folder check",
            num_cpus=0,
            max_retries=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
        ).remote(str(probe), token, n["NodeID"])
        for n in nodes
    ]
    try:
        replies = ray.get(refs, timeout=PROBE_TIMEOUT_S)
    except ray.exceptions.GetTimeoutError:
        raise ExecutorError(f"Ray nodes did not answer the shared-folder check within {PROBE_TIMEOUT_S:g} s") from None
    unseen = [n["NodeManagerAddress"] for n, r in zip(nodes, replies, strict=True) if not _reply_ok(r, token)]
    if unseen:
        raise ExecutorError(
            f"run_dir {probe.parent} is not shared with the Ray node(s) {', '.join(unseen)}: a file written there by "
            "this process is not what they read at that path (or their reply does not reach it). Candidate jobs "
            "read and write the run folder on the node they run on: put run_dir on storage every node mounts at "
            "the same path (NFS, a shared volume), or use executor.kind: local"
        )


def answer_probe(probe: str, token: str, node_id: str) -> str | None:
    """On a node: the path of a reply written beside ``probe`` when it holds ``token``, else None."""
    path = Path(probe)
    try:
        if path.read_text(encoding="utf-8") != token:
            return None
        reply = path.with_name(f"{path.name}-{node_id}-{os.getpid()}")
        reply.write_text(token, encoding="utf-8")
    except OSError:
        return None
    return str(reply)


def _reply_ok(reply: str | None, token: str) -> bool:
    try:
        return reply is not None and Path(reply).read_text(encoding="utf-8") == token
    except OSError:
        return False
