"""Validation: the full fine-tune ground truth and its agreement with the proxy ranking. No torch at import."""

from damoc.validation.base import ValidationReport
from damoc.validation.stage import validate_selection

__all__ = ["ValidationReport", "validate_selection"]
