"""The tracker contract: a run's losses, learning rates and eval scores, sent to the trackers users already run.

``report_to`` in the run config names the trackers (none by default; ``damoc ls tracker``). Every
fine-tune and evaluation damoc runs is one *phase* of one candidate: ``proxy`` (the proxy's training
and evaluation), ``zero_shot``, ``subset_tuning``, ``ats/<n>``, ``ground_truth`` (prefixed by
``halving/round_<k>/`` inside successive halving). A stage opens :func:`open_tracking` for its
candidate and phase and gets a :data:`MetricsFn`; the training loops send ``train/loss`` and
``train/learning_rate`` every optimizer step, evaluations send ``eval/<metric>`` at the step they
scored. Each tracker groups one candidate's phases into one tracker run and a damoc run's candidates
together. Tracker packages are optional: a tracker imports its package only when it first writes,
and :func:`damoc.preflight.check_trackers` refuses a missing one before any work starts.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from damoc.errors import ConfigError
from damoc.registry import Registry

MetricsFn = Callable[[Mapping[str, float], int], None]
"""``fn(metrics, step)``: send ``{"train/loss": 1.9, ...}`` for optimizer step ``step`` to the run's trackers."""


@dataclass(frozen=True)
class TrackedRun:
    """One phase of one candidate of the damoc run in ``run_dir``: what a tracker writes to."""

    run_dir: Path
    candidate: str
    phase: str


class TrackerWriter(Protocol):
    """Writes one phase's metrics; it touches nothing (no file, no connection) until the first :meth:`log`."""

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Record ``metrics`` at ``step``."""
        ...

    def close(self, failed: bool) -> None:
        """Flush and release; ``failed``: the phase raised."""
        ...


class Tracker(Protocol):
    """An experiment tracker (TensorBoard, MLflow) that damoc reports to."""

    def check(self, run_dir: Path) -> None:
        """Raise :class:`ConfigError` when a package it needs is missing (looked up, not imported)."""
        ...

    def prepare(self, run_dir: Path) -> None:
        """Set up the run's shared store once, in the driver, before the candidates' jobs start."""
        ...

    def open(self, run: TrackedRun) -> TrackerWriter:
        """A writer for one phase of one candidate."""
        ...


TRACKERS: Registry[Tracker] = Registry("tracker", "damoc.tracking")


def build_trackers(names: Sequence[str]) -> list[Tracker]:
    """The trackers ``report_to`` names, in order; an unknown name is a ConfigError listing the others."""
    try:
        return [TRACKERS.build(name, {}, where=f"report_to.{i}") for i, name in enumerate(names)]
    except ConfigError as exc:
        raise ConfigError(f"report_to: {exc}") from None


@contextmanager
def open_tracking(report_to: Sequence[str], run_dir: Path, candidate: str, phase: str) -> Iterator[MetricsFn | None]:
    """Open ``report_to``'s trackers for ``phase`` of ``candidate``; yields None when the list is empty.

    The writers are closed on the way out, marked failed when the body raised.
    """
    if not report_to:
        yield None
        return
    run = TrackedRun(run_dir=run_dir, candidate=candidate, phase=phase)
    writers = [tracker.open(run) for tracker in build_trackers(report_to)]

    def log_all(metrics: Mapping[str, float], step: int) -> None:
        for w in writers:
            w.log(metrics, step)

    failed = True
    try:
        yield log_all
        failed = False
    finally:
        for w in writers:
            w.close(failed)


def prepare_tracking(report_to: Sequence[str], run_dir: Path) -> None:
    """Let each tracker set up its run-level store (an MLflow experiment) before the candidates' jobs start."""
    for tracker in build_trackers(report_to):
        tracker.prepare(run_dir)


def track(fn: MetricsFn | None, metrics: Mapping[str, float], step: int) -> None:
    """Send ``metrics`` to ``fn`` when tracking is on (``fn`` not None)."""
    if fn is not None and metrics:
        fn(metrics, step)


def require_packages(tracker: str, packages: Sequence[str], install: str, why: str = "") -> None:
    """Fail with the ``pip install`` line when one of ``packages`` is not installed (nothing is imported)."""
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise ConfigError(
            f"report_to: {tracker} needs the {', '.join(missing)} package{'s' if len(missing) > 1 else ''}"
            f"{why}, which {'are' if len(missing) > 1 else 'is'} not installed: pip install {install}"
        )
