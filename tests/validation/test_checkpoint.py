"""Checkpoints inside a fine-tune: a round trip restores everything; incomplete ones are ignored."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from damoc.config import TrainingConfig
from damoc.validation.checkpoint import (
    CHECKPOINT,
    STATE_FILE,
    TrainState,
    find_checkpoint,
    load_checkpoint,
    remove_checkpoints,
    save_checkpoint,
    trainable_state,
)

CFG = TrainingConfig(max_steps=None, num_epochs=1, learning_rate=0.01, lora_dropout=0.1)


def _setup(model_dir: Path, method: str = "lora") -> tuple[Any, Any, Any]:
    import torch

    from damoc.candidates.resolve import load_model
    from damoc.training.loop import build_optimizer, wrap_model

    torch.manual_seed(0)
    model, _ = load_model(model_dir, "cpu", for_training=True)
    model = wrap_model(model, CFG.model_copy(update={"method": method}))
    optimizer, scheduler = build_optimizer(model, CFG, 10)
    return model, optimizer, scheduler


def _step(model: Any, optimizer: Any, scheduler: Any) -> None:
    import torch

    ids = torch.tensor([[1, 5, 6, 7, 8]])
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()


@pytest.mark.parametrize("method", ["lora", "full"])
def test_round_trip_restores_weights_optimizer_schedule_and_rng(
    tmp_path: Path, tiny_model_dirs: dict[str, Path], method: str
) -> None:
    import torch

    model, opt, sched = _setup(tiny_model_dirs["llama"], method)
    for _ in range(2):
        _step(model, opt, sched)
    save_checkpoint(tmp_path, model, opt, sched, TrainState(key="k", step=2, losses=[1.0, 0.5]))
    _step(model, opt, sched)  # the run goes on...
    expected = trainable_state(model)

    fresh, opt2, sched2 = _setup(tiny_model_dirs["llama"], method)
    found = find_checkpoint(tmp_path, "k")
    assert found == tmp_path / CHECKPOINT
    state = load_checkpoint(found, fresh, opt2, sched2)
    assert (state.step, state.losses, state.checkpoints) == (2, [1.0, 0.5], 1)
    assert sched2.last_epoch == 2
    _step(fresh, opt2, sched2)  # ...and the resumed one takes exactly the same step
    got = trainable_state(fresh)
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in got)
    if method == "lora":
        assert all("lora_" in k for k in got)


def test_incomplete_or_foreign_checkpoints_are_ignored(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    model, opt, sched = _setup(tiny_model_dirs["llama"])
    save_checkpoint(tmp_path, model, opt, sched, TrainState(key="k", step=3))
    assert find_checkpoint(tmp_path, "other-run") is None
    # a kill between moving the old checkpoint aside and renaming the new one: the old one is used
    shutil.move(tmp_path / CHECKPOINT, tmp_path / f".{CHECKPOINT}.old-host-1")
    assert find_checkpoint(tmp_path, "k") == tmp_path / f".{CHECKPOINT}.old-host-1"
    (tmp_path / f".{CHECKPOINT}.old-host-1" / STATE_FILE).unlink()  # state.json is written last
    assert find_checkpoint(tmp_path, "k") is None
    remove_checkpoints(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_latest_checkpoint_replaces_the_previous(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    model, opt, sched = _setup(tiny_model_dirs["llama"])
    state = TrainState(key="k", step=1)
    save_checkpoint(tmp_path, model, opt, sched, state)
    state.step = 2
    save_checkpoint(tmp_path, model, opt, sched, state)
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT]
    found = find_checkpoint(tmp_path, "k")
    assert found is not None and load_checkpoint(found, model, opt, sched).checkpoints == 2
