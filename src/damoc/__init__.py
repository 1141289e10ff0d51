"""damoc: pick the open LLM to fine-tune for your task with a cheap proxy experiment.

The stage functions are re-exported lazily, so ``import damoc`` stays fast (no torch, no weights).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_config": "damoc.loading",
    "RunConfig": "damoc.config",
    "StageContext": "damoc.context",
    "run": "damoc.pipeline",
    "compress_dataset": "damoc.data",
    "build_proxy": "damoc.model",
    "train_proxy": "damoc.training",
    "evaluate": "damoc.evaluation",
    "rank_candidates": "damoc.selection",
    "write_report": "damoc.report",
    "prepare_models": "damoc.candidates.bundled",
    "resolve_candidate": "damoc.candidates.resolve",
    "validate_selection": "damoc.validation",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'damoc' has no attribute {name!r}")
