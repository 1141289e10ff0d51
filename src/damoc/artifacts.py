"""Run-folder layout, manifests, atomic writes and the run lock.

A stage writes into a temporary sibling folder and renames it into place only after its
``manifest.json`` is written, so a killed run never leaves a half-written stage behind: a stage
folder either holds a complete result with its manifest or does not exist.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from damoc import reports
from damoc.atomic import process_tag, write_json_atomic, write_text_atomic
from damoc.errors import ConfigError, DamocError, RunLockedError

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class RunLayout:
    """Where every artefact of a run lives: the one place that names run-folder paths.

    File names come from :mod:`damoc.reports`, which also holds the typed report of each stage.
    """

    root: Path

    # run level
    @property
    def config_file(self) -> Path:
        return self.root / "config.yaml"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def ranking_path(self) -> Path:
        return self.root / "ranking.json"

    @property
    def report_md(self) -> Path:
        return self.root / "report.md"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    # stage 1
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def train_file(self) -> Path:
        return self.data_dir / reports.TRAIN_FILE

    @property
    def eval_file(self) -> Path:
        return self.data_dir / reports.EVAL_FILE

    @property
    def calib_file(self) -> Path:
        return self.data_dir / reports.CALIB_FILE

    @property
    def data_report(self) -> Path:
        return self.data_dir / reports.DATA_REPORT

    # stages 2-4, per candidate
    def candidate_dir(self, name: str) -> Path:
        return self.root / "models" / name

    def failure_report(self, name: str) -> Path:
        """``failed.json``: the candidate's last job failed (:class:`damoc.reports.FailureReport`)."""
        return self.candidate_dir(name) / reports.FAILURE_REPORT

    def proxy_dir(self, name: str) -> Path:
        return self.candidate_dir(name) / "proxy"

    def proxy_report(self, name: str) -> Path:
        return self.proxy_dir(name) / reports.PROXY_REPORT

    def adapter_dir(self, name: str) -> Path:
        return self.candidate_dir(name) / "adapter"

    def train_report(self, name: str) -> Path:
        return self.adapter_dir(name) / reports.TRAIN_REPORT

    def eval_dir(self, name: str) -> Path:
        return self.candidate_dir(name) / "eval"

    def eval_report(self, name: str) -> Path:
        return self.eval_dir(name) / reports.EVAL_REPORT

    def predictions(self, name: str) -> Path:
        return self.eval_dir(name) / reports.PREDICTIONS_FILE

    def eval_chunk_dir(self, name: str, chunk: int) -> Path:
        """One round of sequential evaluation (``evaluation.sequential_chunk``): the proxy on chunk ``chunk``."""
        return self.candidate_dir(name) / "eval_chunks" / str(chunk)

    def zero_shot_dir(self, name: str) -> Path:
        return self.candidate_dir(name) / "zero_shot"

    def zero_shot_report(self, name: str) -> Path:
        return self.zero_shot_dir(name) / reports.EVAL_REPORT

    def zero_shot_predictions(self, name: str) -> Path:
        return self.zero_shot_dir(name) / reports.PREDICTIONS_FILE

    def subset_tuning_dir(self, name: str) -> Path:
        return self.candidate_dir(name) / "subset_tuning"

    def subset_tuning_report(self, name: str) -> Path:
        return self.subset_tuning_dir(name) / reports.EVAL_REPORT

    def subset_tuning_train_report(self, name: str) -> Path:
        return self.subset_tuning_dir(name) / "adapter" / reports.TRAIN_REPORT

    def ablation_dir(self, name: str, kind: str) -> Path:
        """An ablation baseline's run: ``data_only`` (full model, compressed data) or ``model_only``."""
        return self.candidate_dir(name) / kind

    def ablation_report(self, name: str, kind: str) -> Path:
        return self.ablation_dir(name, kind) / reports.EVAL_REPORT

    def ats_subset_dir(self, name: str, size: int) -> Path:
        """The ``ats`` baseline's run on the first ``size`` examples of its seeded shuffle."""
        return self.candidate_dir(name) / "ats_subsets" / str(size)

    def ats_dir(self, name: str) -> Path:
        return self.candidate_dir(name) / "ats"

    def ats_report(self, name: str) -> Path:
        return self.ats_dir(name) / reports.ATS_REPORT

    # selection.prescreen and selection.strategy: successive_halving
    def prescreen_dir(self, name: str) -> Path:
        """The zero-cost pre-screen's score of one full candidate."""
        return self.root / "prescreen" / name

    @property
    def prescreen_summary(self) -> Path:
        return self.root / "prescreen" / "summary.json"

    def fallback_dir(self, name: str) -> Path:
        """``selection.fallback``'s pre-screen score of one full candidate (scored only when the proxies learned nothing)."""
        return self.root / "fallback" / name

    def halving_round_dir(self, k: int) -> Path:
        """Round ``k`` of successive halving: a run folder of its own (data and proxies linked in)."""
        return self.root / "halving" / f"round_{k}"

    @property
    def halving_summary(self) -> Path:
        return self.root / "halving" / "summary.json"

    def check(self) -> None:
        """Refuse a run_dir that exists but is not a folder."""
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"run_dir: {self.root} exists and is not a folder")


def read_json(path: Path) -> Any:
    """Read a JSON file written by damoc."""
    return json.loads(path.read_text(encoding="utf-8"))


def read_manifest(stage_dir: Path) -> dict[str, Any] | None:
    """The stage's manifest, or None when the stage has not finished."""
    path = stage_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        data = read_json(path)
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def is_done(stage_dir: Path, config_hash: str) -> bool:
    """True when the stage finished with the same config hash (resume skips it)."""
    manifest = read_manifest(stage_dir)
    return manifest is not None and manifest.get("config_hash") == config_hash


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape results."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("damoc", "torch", "transformers", "peft"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


@contextlib.contextmanager
def stage_folder(final: Path, stage: str, config_hash: str, inputs: dict[str, Any] | None = None) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success write the manifest and move it to ``final``.

    On error the temporary folder is removed and ``final`` is left as it was.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{process_tag()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    start = time.time()
    try:
        try:
            yield tmp
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DamocError(
                    f"out of disk space while writing the {stage} stage into {final.parent}; "
                    "the previous state is intact: free some space and run the same command again"
                ) from exc
            raise
        manifest = {
            "stage": stage,
            "config_hash": config_hash,
            "inputs": inputs or {},
            "outputs": sorted(p.name for p in tmp.iterdir()),
            "seconds": round(time.time() - start, 3),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": package_versions(),
        }
        write_json_atomic(tmp / MANIFEST, manifest)
        replace_dir(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``, replacing an older ``dst`` (moved aside first, then removed)."""
    old = dst.with_name(f".{dst.name}.old-{process_tag()}")
    if dst.exists():
        os.replace(dst, old)
    os.replace(src, dst)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def clean_stale_temps(root: Path) -> None:
    """Remove temporary folders left behind by killed runs (only inside ``root``)."""
    if not root.is_dir():
        return
    for p in root.rglob(".*.tmp-*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    for p in root.rglob(".*.old-*"):
        shutil.rmtree(p, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def run_lock(root: Path) -> Iterator[None]:
    """Hold ``root/.lock`` (host and pid) for this process.

    A lock left by a dead process on this host is taken over; a lock held from another host is
    refused with its host and pid, since only that host can tell whether the holder still runs.
    """
    root.mkdir(parents=True, exist_ok=True)
    lock = root / ".lock"
    host = socket.gethostname()
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            _refuse_live_holder(root, lock, host)
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps({"host": host, "pid": os.getpid()}))
        break
    else:
        raise RunLockedError(f"could not take the lock {lock}")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _refuse_live_holder(root: Path, lock: Path, this_host: str) -> None:
    holder = lock_holder(lock)
    if holder is None:
        return
    host, pid = holder
    if host != this_host:
        raise RunLockedError(
            f"{root} is in use by damoc on host {host!r} (pid {pid}); wait for it, or delete {lock} "
            "if that run is known to be dead"
        )
    if _pid_alive(pid):
        raise RunLockedError(f"{root} is in use by another damoc process (pid {pid}); wait for it or stop it")


def lock_holder(lock: Path) -> tuple[str, int] | None:
    """(host, pid) written in a lock file; a bare pid (older damoc) counts as this host."""
    try:
        text = lock.read_text().strip()
    except OSError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(data, int):
        return socket.gethostname(), data
    if isinstance(data, dict) and isinstance(data.get("pid"), int):
        return str(data.get("host", socket.gethostname())), data["pid"]
    return None


__all__ = ["RunLayout", "process_tag", "write_json_atomic", "write_text_atomic"]
