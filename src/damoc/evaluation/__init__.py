"""Stage 4: evaluate each fine-tuned proxy. Importing this package does not import torch."""

from damoc.evaluation.stage import EvalReport, evaluate

__all__ = ["EvalReport", "evaluate"]
