"""The ``mlflow`` tracker: one MLflow run per candidate, in an experiment named after the run folder.

The tracking server is ``MLFLOW_TRACKING_URI`` when set; otherwise a local store in the run folder,
``sqlite:///<run_dir>/mlflow.db`` with artifacts in ``<run_dir>/mlruns`` (MLflow 3 refuses its old
``./mlruns`` file store unless ``MLFLOW_ALLOW_FILE_STORE`` is set; ``mlflow ui --backend-store-uri
sqlite:///<run_dir>/mlflow.db`` opens it). A candidate's run is found again by its tags
(``damoc.candidate``, ``damoc.run_dir``), so the proxy's stages and a later ``validate-selection``
write into the same run; metric keys carry the phase: ``proxy/train/loss``, ``ground_truth/eval/acc``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from damoc.registry import Method
from damoc.tracking.base import TRACKERS, TrackedRun, require_packages

DB_FILE, ARTIFACT_DIR = "mlflow.db", "mlruns"
CANDIDATE_TAG, RUN_DIR_TAG = "damoc.candidate", "damoc.run_dir"


def tracking_uri(run_dir: Path) -> str:
    """``MLFLOW_TRACKING_URI``, else the SQLite store in the run folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(run_dir / DB_FILE).resolve()}"


@TRACKERS.register("mlflow")
class MLflow(Method):
    """MLflow runs, one per candidate in an experiment per run folder (Zaharia et al., 2018)."""

    def check(self, run_dir: Path) -> None:
        """``mlflow`` (or ``mlflow-skinny``) must be installed; a SQLite store also needs sqlalchemy and alembic."""
        require_packages("mlflow", ["mlflow"], "'damoc[mlflow]' (mlflow-skinny 3.17.2, SQLAlchemy, alembic) or mlflow")
        if tracking_uri(run_dir).startswith("sqlite:"):
            why = " for its SQLite store (set MLFLOW_TRACKING_URI to use a tracking server instead)"
            require_packages("mlflow", ["sqlalchemy", "alembic"], "SQLAlchemy alembic (both in 'damoc[mlflow]')", why)

    def prepare(self, run_dir: Path) -> None:
        """Create the store and the experiment now, so parallel candidate jobs find them made."""
        experiment_id(client_for(run_dir), run_dir)

    def open(self, run: TrackedRun) -> RunWriter:
        """A writer into the candidate's MLflow run (found or created at the first value)."""
        return RunWriter(run)


def client_for(run_dir: Path) -> Any:
    """An ``MlflowClient`` of :func:`tracking_uri`."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri(run_dir))


def experiment_id(client: Any, run_dir: Path) -> str:
    """The id of the experiment named after the run folder, created when missing."""
    from mlflow.exceptions import MlflowException

    name = run_dir.resolve().name
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    local = None if "MLFLOW_TRACKING_URI" in os.environ else (run_dir / ARTIFACT_DIR).resolve().as_uri()
    try:
        return str(client.create_experiment(name, artifact_location=local))
    except MlflowException:  # another candidate's job created it first
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def candidate_run(client: Any, run: TrackedRun) -> str:
    """The id of ``run.candidate``'s MLflow run for this run folder: found by its tags, else created."""
    exp = experiment_id(client, run.run_dir)
    run_dir = str(run.run_dir.resolve())
    found = client.search_runs([exp], filter_string=f"tags.`{CANDIDATE_TAG}` = '{run.candidate}'")
    for r in found:
        if r.data.tags.get(RUN_DIR_TAG) == run_dir:
            if r.info.status != "RUNNING":
                client.update_run(r.info.run_id, status="RUNNING")
            return str(r.info.run_id)
    tags = {CANDIDATE_TAG: run.candidate, RUN_DIR_TAG: run_dir, "damoc.run": run.run_dir.resolve().name}
    return str(client.create_run(exp, run_name=run.candidate, tags=tags).info.run_id)


@dataclass
class RunWriter:
    """Metrics of one phase, logged as ``<phase>/<key>`` into the candidate's MLflow run."""

    run: TrackedRun
    client: Any = field(default=None, repr=False)
    run_id: str = ""

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """One ``log_batch`` call per step."""
        from mlflow.entities import Metric

        if self.client is None:
            self.client = client_for(self.run.run_dir)
            self.run_id = candidate_run(self.client, self.run)
        now = int(time.time() * 1000)
        batch = [Metric(f"{self.run.phase}/{k}", float(v), now, step) for k, v in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def close(self, failed: bool) -> None:
        """Mark the run finished (failed when the phase raised); a later phase reopens it."""
        if self.client is not None:
            self.client.set_terminated(self.run_id, "FAILED" if failed else "FINISHED")
            self.client = None
