"""The default executor: candidates one after another, in this process."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def run_local(job: Callable[[str], None], names: list[str]) -> None:
    """Call ``job`` for each name in order; an error stops the run (finished candidates stay done)."""
    for i, name in enumerate(names, start=1):
        log.info("candidate %d/%d: %s", i, len(names), name)
        job(name)
