"""Resumable checkpoints inside one fine-tune: weights, optimizer, schedule, RNG, progress.

A checkpoint is a folder written under a temporary name and renamed into place
(:func:`damoc.artifacts.replace_dir`); ``state.json`` is written last, so a folder without it is
incomplete and ignored. If a kill lands between moving the old checkpoint aside and renaming the
new one, the old one (``.checkpoint.old-*``) is still complete and is used.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from damoc.artifacts import replace_dir
from damoc.atomic import process_tag, write_json_atomic

CHECKPOINT = "checkpoint"
STATE_FILE, WEIGHTS_FILE, OPTIMIZER_FILE = "state.json", "trainable.safetensors", "optimizer.pt"


@dataclass
class TrainState:
    """Progress of a fine-tune: everything besides tensors that a resumed run needs."""

    key: str
    step: int = 0
    losses: list[float] = field(default_factory=list)
    tokens_seen: int = 0
    target_tokens: int = 0
    train_seconds: float = 0.0
    checkpoints: int = 0


def trainable_state(model: Any) -> dict[str, Any]:
    """The trainable parameters by name (LoRA: the adapter; full: every weight, tied ones once), on CPU."""
    return {n: p.detach().to("cpu").contiguous() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(work_dir: Path, model: Any, optimizer: Any, scheduler: Any, state: TrainState) -> Path:
    """Write a checkpoint of the current step into ``work_dir/checkpoint`` atomically."""
    import torch
    from safetensors.torch import save_file

    final = work_dir / CHECKPOINT
    tmp = work_dir / f".{CHECKPOINT}.tmp-{process_tag()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(trainable_state(model), str(tmp / WEIGHTS_FILE))
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng},
               tmp / OPTIMIZER_FILE)  # fmt: skip
    state.checkpoints += 1
    write_json_atomic(tmp / STATE_FILE, asdict(state))
    replace_dir(tmp, final)
    return final


def find_checkpoint(work_dir: Path, key: str) -> Path | None:
    """The most advanced complete checkpoint of run ``key`` in ``work_dir`` (None: start from step 0)."""
    candidates = [work_dir / CHECKPOINT, *work_dir.glob(f".{CHECKPOINT}.old-*")]
    best: tuple[int, Path] | None = None
    for folder in candidates:
        state = read_state(folder)
        if state is not None and state.key == key and (best is None or state.step > best[0]):
            best = (state.step, folder)
    return best[1] if best else None


def read_state(folder: Path) -> TrainState | None:
    """The state of a complete checkpoint folder, else None."""
    path = folder / STATE_FILE
    if not (path.is_file() and (folder / WEIGHTS_FILE).is_file() and (folder / OPTIMIZER_FILE).is_file()):
        return None
    try:
        return TrainState(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def load_checkpoint(folder: Path, model: Any, optimizer: Any, scheduler: Any) -> TrainState:
    """Restore weights, optimizer, schedule and RNG from ``folder``; returns its progress."""
    import torch
    from safetensors.torch import load_file

    state = read_state(folder)
    if state is None:
        raise ValueError(f"{folder}: not a complete checkpoint")
    tensors = load_file(str(folder / WEIGHTS_FILE))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.copy_(tensors[name].to(p.device, p.dtype))
    saved = torch.load(folder / OPTIMIZER_FILE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"]["cpu"])
    if "cuda" in saved["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state(saved["rng"]["cuda"])
    return state


def remove_temps(work_dir: Path) -> None:
    """Delete half-written folders of a killed writer (``.<name>.tmp-*``); complete old checkpoints stay."""
    for folder in work_dir.glob(".*.tmp-*"):
        shutil.rmtree(folder, ignore_errors=True)


def remove_checkpoints(work_dir: Path) -> None:
    """Delete every checkpoint folder (complete or not) in ``work_dir``, once the result is kept."""
    for folder in [work_dir / CHECKPOINT, *work_dir.glob(f".{CHECKPOINT}.*")]:
        shutil.rmtree(folder, ignore_errors=True)
