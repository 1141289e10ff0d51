"""Human-readable reports of a finished run: report.md and report.html."""

from damoc.report.write import write_report

__all__ = ["write_report"]
