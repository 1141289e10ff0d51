"""Token compressors and rewriters: each module registers one method that shortens examples.

The contract is :class:`damoc.data.base.Compressor`: ``compress(examples, ctx) -> examples``.
"""

from damoc.data.base import Compressor
from damoc.data.compressors import llmlingua2, rewrite, self_information

__all__ = ["Compressor", "llmlingua2", "rewrite", "self_information"]
