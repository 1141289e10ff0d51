"""Token compressors and rewriters: each module registers one method that shortens examples.

The contract is :class:`damoc.data.base.Compressor`: ``compress(examples, ctx) -> examples``.
"""

from damoc.data.base import Compressor
from damoc.data.compressors import rewrite, self_information

__all__ = ["Compressor", "rewrite", "self_information"]
