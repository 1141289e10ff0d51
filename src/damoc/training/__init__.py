"""Stage 3: fine-tune each proxy model (LoRA or full). Importing this package does not import torch."""

from damoc.training.stage import TrainReport, train_proxy

__all__ = ["TrainReport", "train_proxy"]
