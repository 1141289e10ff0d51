"""The ground-truth cache key: stable for the same inputs, different when anything that shapes the result changes."""

from __future__ import annotations

import shutil
from pathlib import Path

from damoc.candidates.resolve import ResolvedModel
from damoc.config import EvaluationConfig, TrainingConfig
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec
from damoc.testing import make_mc_records
from damoc.validation.cache import cache_root, evaluation_settings, ground_truth_key, weights_fingerprint

RECIPE = TrainingConfig(max_steps=None, num_epochs=3, max_seq_len=64)
SETTINGS = evaluation_settings("multiple_choice", ["acc", "acc_norm"], EvaluationConfig(), "float32")


def _examples(n: int, seed: int) -> list[Example]:
    return [Example.from_json(r) for r in make_mc_records(n, seed=seed)]


def _key(**change: object) -> str:
    args: dict[str, object] = {
        "weights": "files:abc",
        "train": _examples(8, 0),
        "evals": _examples(4, 1),
        "recipe": RECIPE,
        "prompt": None,
        "evaluation": SETTINGS,
        "seed": 0,
    }
    args.update(change)
    return ground_truth_key(**args)  # type: ignore[arg-type]


def test_same_inputs_same_key() -> None:
    assert _key() == _key()
    assert _key(prompt=PromptSpec()) == _key()  # the default prompt, spelled out
    assert len(_key()) == 16


def test_anything_that_shapes_the_result_changes_the_key() -> None:
    base = _key()
    changed = {
        "weights": _key(weights="files:abd"),
        "train data": _key(train=_examples(8, 2)),
        "one train answer": _key(train=[*_examples(7, 0), Example("q7", "What?", 1, ("a", "b"))]),
        "eval data": _key(evals=_examples(4, 3)),
        "epochs": _key(recipe=RECIPE.model_copy(update={"num_epochs": 2})),
        "max_seq_len": _key(recipe=RECIPE.model_copy(update={"max_seq_len": 65})),
        "template": _key(prompt=PromptSpec(template="Q: {question}\nA:")),
        "chat template": _key(prompt=PromptSpec(use_chat_template="auto")),
        "metrics": _key(evaluation=evaluation_settings("multiple_choice", ["acc"], EvaluationConfig(), "float32")),
        "dtype": _key(evaluation=evaluation_settings("multiple_choice", ["acc"], EvaluationConfig(), "bfloat16")),
        "seed": _key(seed=1),
    }
    assert all(k != base for k in changed.values()), [name for name, k in changed.items() if k == base]
    assert len(set(changed.values())) == len(changed)


def test_file_paths_do_not_matter_only_content(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    src = tiny_model_dirs["llama"]
    copy = Path(shutil.copytree(src, tmp_path / "elsewhere"))
    a = weights_fingerprint(ResolvedModel(name="a", source=src))
    b = weights_fingerprint(ResolvedModel(name="b", source=copy))
    assert a == b and a.startswith("files:")
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert weights_fingerprint(ResolvedModel(name="b", source=copy)) != a
    assert weights_fingerprint(ResolvedModel(name="c", source=tiny_model_dirs["qwen2"])) != a


def test_alias_and_hub_fingerprints() -> None:
    from damoc.candidates.bundled import bundled_models

    alias = weights_fingerprint(ResolvedModel(name="s", source=Path("/nowhere")), alias="smollm2-135m")
    assert alias.endswith(bundled_models()["smollm2-135m"]["sha256"])
    hub = ResolvedModel(name="h", source="owner/model", revision="v1", kind="hf")
    assert weights_fingerprint(hub) == "hub:owner/model@v1"


def test_cache_root(tmp_path: Path) -> None:
    assert cache_root(tmp_path) == tmp_path / "ground_truth"
