"""Progress reporting without a UI: library code calls a callback, the CLI draws rich progress bars."""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[str, int, int], None]
"""``fn(description, done, total)``: called as a long step advances (done == total at the end)."""


def tick(fn: ProgressFn | None, description: str, done: int, total: int) -> None:
    """Call ``fn`` if one was given."""
    if fn is not None:
        fn(description, done, total)
