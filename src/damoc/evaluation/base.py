"""Contracts of stage 4: the scoring request (one example x one choice) and the metric plug-in.

Metrics are declared in :mod:`damoc.evaluation.metrics.base`; this module holds what the scoring
loops exchange. No torch at import.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    """One (example, choice) pair: the model input and the continuation tokens it must predict."""

    example: int
    choice: int
    input_ids: list[int]
    targets: list[int]
