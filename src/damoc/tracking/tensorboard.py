"""The ``tensorboard`` tracker: event files under ``run_dir/tb/<candidate>/<phase>/``.

``tensorboard --logdir run_dir/tb`` then shows one TensorBoard run per candidate and phase
(``tiny-llama/proxy``, ``tiny-llama/ground_truth``), so the candidates' curves overlay tag by tag.
Written through ``torch.utils.tensorboard.SummaryWriter``, which needs the ``tensorboard`` package.
A phase that trains again (a changed config) rewrites from step 1; TensorBoard drops the older
points of those steps by itself (its out-of-order purge).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from damoc.registry import Method
from damoc.tracking.base import TRACKERS, TrackedRun, require_packages

TB_DIR = "tb"
"""The folder of the run's event files, under the run folder."""


def event_dir(run: TrackedRun) -> Path:
    """``run_dir/tb/<candidate>/<phase>``: the TensorBoard run of one phase of one candidate."""
    return run.run_dir / TB_DIR / run.candidate / run.phase


@TRACKERS.register("tensorboard")
class TensorBoard(Method):
    """TensorBoard event files, one TensorBoard run per candidate and phase (TensorFlow, Abadi et al., 2016)."""

    def check(self, run_dir: Path) -> None:
        """The ``tensorboard`` package must be installed (``torch.utils.tensorboard`` writes through it)."""
        require_packages("tensorboard", ["tensorboard"], "tensorboard==2.21.0 (or 'damoc[tensorboard]')")

    def prepare(self, run_dir: Path) -> None:
        """Nothing to set up: each writer makes its own folder."""

    def open(self, run: TrackedRun) -> EventWriter:
        """A writer into :func:`event_dir` of ``run``."""
        return EventWriter(event_dir(run))


@dataclass
class EventWriter:
    """Scalars of one phase, written with ``SummaryWriter.add_scalar`` (made at the first value)."""

    log_dir: Path
    writer: Any = field(default=None, repr=False)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """One scalar per metric at ``step`` (TensorBoard keeps them as float32)."""
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(self.log_dir))
        for key, value in metrics.items():
            self.writer.add_scalar(key, float(value), global_step=step)

    def close(self, failed: bool) -> None:
        """Flush the event file and close it."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
