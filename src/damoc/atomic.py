"""Atomic file writes (temporary name, fsync, rename): a killed process never leaves half a file.

A leaf module, shared by the run-folder code and the typed reports.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any


def process_tag() -> str:
    """``host-pid`` of this process: temporary names stay distinct across hosts sharing a run folder."""
    host = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in socket.gethostname())[:64]
    return f"{host}-{os.getpid()}"


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{process_tag()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
