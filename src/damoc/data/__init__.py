"""Stage 1: data compression (filters, token compression, rewriting).

Importing this package is light: methods load torch and models only when they run.
"""

from damoc.data.stage import DataReport, StepReport, compress_dataset

__all__ = ["DataReport", "StepReport", "compress_dataset"]
