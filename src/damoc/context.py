"""What every stage entry receives besides its own inputs: the run's seed, device, dtype, cache, progress, prompt."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from damoc.progress import ProgressFn

if TYPE_CHECKING:
    from damoc.config import RunConfig
    from damoc.tasks.prompts import PromptSpec
    from damoc.tracking.base import MetricsFn


@dataclass(frozen=True)
class StageContext:
    """The run-wide settings a stage (or a data step) may use.

    Attributes:
        seed: seeds torch, samplers and mergers.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        dtype: ``auto`` (bf16 on CUDA, fp32 on CPU), ``float32``, ``bfloat16`` or ``float16``.
        cache_dir: converted bundled models; None is ``$DAMOC_CACHE`` or ``~/.cache/damoc``.
        progress: ``fn(description, done, total)`` for progress bars; None reports nothing.
        prompt: the run's prompt settings; None is the default plain template.
        track: ``fn(metrics, step)`` sending losses, learning rates and scores to the run's trackers
            (``report_to``, :mod:`damoc.tracking`); None tracks nothing.
    """

    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"
    cache_dir: Path | None = None
    progress: ProgressFn | None = None
    prompt: PromptSpec | None = None
    track: MetricsFn | None = None

    @classmethod
    def from_config(cls, cfg: RunConfig, progress: ProgressFn | None = None) -> StageContext:
        """The context of a run config (its prompt comes from the task section)."""
        from damoc.tasks.prompts import PromptSpec

        return cls(
            seed=cfg.seed,
            device=cfg.device,
            dtype=cfg.dtype,
            cache_dir=cfg.cache_dir,
            progress=progress,
            prompt=PromptSpec.from_task(cfg.task),
        )

    def with_progress(self, progress: ProgressFn | None) -> StageContext:
        """The same context reporting to ``progress``."""
        return replace(self, progress=progress)

    def with_tracking(self, track: MetricsFn | None) -> StageContext:
        """The same context sending its metrics to ``track``."""
        return replace(self, track=track)


DEFAULT_CONTEXT = StageContext()
