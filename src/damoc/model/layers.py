"""Architecture-aware decoder-layer removal.

Where each family keeps its decoder layers and which config lists hold one entry per layer is data,
in ``architectures.json`` (keyed by ``config.model_type``); adding a family means adding an entry.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from damoc.errors import ModelError

log = logging.getLogger(__name__)

ARCHITECTURES_PATH = Path(__file__).parent / "architectures.json"


@functools.cache
def architectures() -> dict[str, dict[str, Any]]:
    """model_type -> {base, layers, per_layer_config[, num_layers_key, refuse_if]} for every supported family."""
    data = json.loads(ARCHITECTURES_PATH.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def architecture(model: Any) -> dict[str, Any]:
    """The table entry for ``model``'s ``config.model_type``; ModelError lists the supported ones.

    Also refuses a supported family whose config sets one of the entry's ``refuse_if`` flags.
    """
    model_type = getattr(model.config, "model_type", None)
    table = architectures()
    if model_type not in table:
        raise ModelError(_unsupported(model_type))
    problem = _refused(model_type, lambda key: getattr(model.config, key, None))
    if problem:
        raise ModelError(problem)
    return table[model_type]


def _unsupported(model_type: Any) -> str:
    return (
        f"architecture {model_type!r} is not supported for layer removal; "
        f"supported: {', '.join(sorted(architectures()))} (add an entry to damoc/model/architectures.json)"
    )


def _refused(model_type: str, config_value: Callable[[str], Any]) -> str | None:
    """Why layer removal is refused for this config (a ``refuse_if`` flag is true), or None."""
    for key, why in architectures()[model_type].get("refuse_if", {}).items():
        if config_value(key) is True:
            return f"{model_type} with config.{key}=true is not supported for layer removal: {why}"
    return None


def check_layer_plan(
    config: dict[str, Any], source: str, remove_ratio: float, remove_layers: int | None = None
) -> None:
    """From a config.json dict: the family is supported and the removal leaves at least one layer."""
    model_type = config.get("model_type")
    if model_type not in architectures():
        raise ModelError(f"{source}: {_unsupported(model_type)}")
    problem = _refused(model_type, config.get)
    if problem:
        raise ModelError(f"{source}: {problem}")
    num_layers = config.get(architectures()[model_type].get("num_layers_key", "num_hidden_layers"))
    if isinstance(num_layers, int) and not isinstance(num_layers, bool):
        try:
            num_layers_to_remove(num_layers, remove_ratio, remove_layers)
        except ModelError as exc:
            raise ModelError(f"{source}: {exc}") from None


def _get_path(obj: Any, dotted: str) -> Any:
    return functools.reduce(getattr, dotted.split("."), obj)


def decoder_body(model: Any) -> Any:
    """The decoder stack without the LM head (runs on hidden states only; Gemma's logits are huge)."""
    return _get_path(model, architecture(model)["base"])


def decoder_layers(model: Any) -> Any:
    """The ``nn.ModuleList`` of decoder layers."""
    return _get_path(model, architecture(model)["layers"])


def num_layers_to_remove(num_layers: int, remove_ratio: float, remove_layers: int | None = None) -> int:
    """``remove_layers`` when set, else ``round(remove_ratio * num_layers)``; leaving no layer raises ModelError."""
    if remove_layers is not None:
        if not 0 < remove_layers < num_layers:
            raise ModelError(
                f"model.remove_layers={remove_layers} would leave {max(num_layers - remove_layers, 0)} of "
                f"{num_layers} layers; at most {num_layers - 1} can be removed"
            )
        return remove_layers
    if not 0 <= remove_ratio < 1:
        raise ModelError(f"model.remove_ratio must be in [0, 1), got {remove_ratio}")
    n = round(remove_ratio * num_layers)
    if num_layers - n < 1:
        raise ModelError(
            f"model.remove_ratio={remove_ratio} would remove {n} of {num_layers} layers and leave none; "
            f"use a ratio below {(num_layers - 0.5) / num_layers:.3f}"
        )
    return n


def remove_layers(model: Any, removed: list[int]) -> None:
    """Remove decoder layers in place and make the config and layer numbering consistent.

    Renumbers every ``layer_idx`` attribute inside the kept layers, sets the layer count
    (``num_hidden_layers``, or the family's ``num_layers_key``) and slices the per-layer config lists
    named in ``architectures.json``.

    Raises:
        ModelError: unsupported architecture, an index out of range, or nothing left.
    """
    import torch

    arch = architecture(model)
    layers = decoder_layers(model)
    total = len(layers)
    bad = [i for i in removed if not 0 <= i < total]
    if bad:
        raise ModelError(f"layer indices {bad} are out of range for {total} layers")
    keep = [i for i in range(total) if i not in set(removed)]
    if not keep:
        raise ModelError(f"removing {len(set(removed))} of {total} layers leaves none")
    new_layers = torch.nn.ModuleList([layers[i] for i in keep])
    for new_idx, layer in enumerate(new_layers):
        # renumber layer_idx: the KV cache indexes by it, so generate() fails otherwise
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                setattr(module, "layer_idx", new_idx)  # noqa: B010 (module type has no layer_idx for mypy)
    parent_path, _, attr = arch["layers"].rpartition(".")
    setattr(_get_path(model, parent_path) if parent_path else model, attr, new_layers)
    _slice_config(model.config, keep, total, arch)


def _slice_config(config: Any, keep: list[int], total: int, arch: dict[str, Any]) -> None:
    for key in arch["per_layer_config"]:
        value = getattr(config, key, None)
        if value is None:
            continue
        if len(value) != total:
            raise ModelError(f"config.{key} has {len(value)} entries for {total} layers; cannot slice it")
        setattr(config, key, [value[i] for i in keep])
    # GPT-2 counts its layers in n_layer: the key the saved config.json holds is the one to set
    setattr(config, arch.get("num_layers_key", "num_hidden_layers"), len(keep))
    log.debug("config now has %d layers", len(keep))
