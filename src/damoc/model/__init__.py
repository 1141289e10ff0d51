"""Stage 2: model compression (layer scoring, merging of removed layers, layer removal).

Importing this package stays light: torch is imported inside the functions that need it.
"""

from damoc.model.stage import ProxyReport, build_proxy, read_report

__all__ = ["ProxyReport", "build_proxy", "read_report"]
