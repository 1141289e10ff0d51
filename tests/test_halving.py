"""Successive halving (selection.strategy): the keep rule by hand, and the tiny field end to end."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest

from damoc.artifacts import RunLayout, read_json, read_manifest
from damoc.config import RunConfig
from damoc.errors import ConfigError
from damoc.halving import first_steps, keep_upper_half
from damoc.loading import parse_config
from damoc.preflight import check_halving
from damoc.testing import make_mc_records, tiny_run_config, write_jsonl

# ---------------------------------------------------------------- the keep rule, by hand


def test_upper_half_is_kept_in_score_order() -> None:
    right, wrong = [1.0] * 40, [0.0] * 40
    values = {"a": wrong, "b": right, "c": [1.0] * 30 + [0.0] * 10, "d": [1.0] * 10 + [0.0] * 30}
    assert keep_upper_half(values, None, seed=0) == ["b", "c"]  # separated: exactly the upper half
    assert keep_upper_half({"a": right, "b": [1.0] * 30 + [0.0] * 10, "c": wrong}, None, seed=0) == ["a", "b"]
    assert keep_upper_half({"a": right, "b": wrong, "c": wrong}, None, seed=0) == ["a", "b", "c"]  # c ties b


def test_a_candidate_tied_with_the_last_kept_survives() -> None:
    base = [1.0] * 20 + [0.0] * 20
    values = {
        "a": [1.0] * 40,
        "b": base,  # the last of the upper half (0.5)
        "c": [1.0] * 19 + [0.0] * 21,  # 0.475: one example below b, a statistical tie
        "d": [0.0] * 40,  # far below: dropped
    }
    assert keep_upper_half(values, None, seed=0) == ["a", "b", "c"]
    exact = {"a": [1.0] * 40, "b": base, "c": list(base), "d": [0.0] * 40}
    assert keep_upper_half(exact, None, seed=0) == ["a", "b", "c"]  # an exact tie is a tie
    assert keep_upper_half({"x": base}, None, seed=0) == ["x"]
    # three of five kept (ceil): the third is the last kept
    five = {"a": [1.0] * 40, "b": [1.0] * 40, "c": base, "d": [0.0] * 40, "e": [0.0] * 40}
    assert keep_upper_half(five, None, seed=0) == ["a", "b", "c"]


def test_first_steps_and_checks(tmp_path: Path) -> None:
    base = {"run_dir": str(tmp_path / "run"), "task": {"bundled": "world_facts"}, "candidates": ["smollm2-135m"]}
    cfg = parse_config({**base, "training": {"max_steps": 64}, "selection": {"strategy": "successive_halving"}})
    assert [first_steps(cfg, n) for n in (2, 3, 4, 8, 9)] == [32, 16, 16, 8, 4]
    small = parse_config({**base, "training": {"max_steps": 3}})
    assert first_steps(small, 16) == 1
    fixed = parse_config({**base, "training": {"max_steps": 64}, "selection": {"halving_min_steps": 5}})
    assert first_steps(fixed, 8) == 5
    for bad in ({"training": {"max_steps": None}}, {"evaluation": {"sequential_chunk": 8}}):
        with pytest.raises(ConfigError, match="successive_halving"):
            check_halving(parse_config({**base, **bad, "selection": {"strategy": "successive_halving"}}))


# ---------------------------------------------------------------- the tiny field


NOISE = {"n070": 0.7, "n030": 0.3, "n200": 2.0, "best": 0.0, "n050": 0.5, "n300": 3.0, "n100": 1.0, "n140": 1.4}
"""Candidate -> Gaussian noise added to every weight matrix (x its std) of one trained tiny model: the
unperturbed copy is the known best, and quality falls with the noise."""


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory, tiny_model_dirs: dict[str, Path]) -> dict[str, Path]:
    """Eight copies of one tiny Llama fully fine-tuned on the arithmetic task, with graded weight noise."""
    import torch
    from transformers import AutoModelForCausalLM

    from damoc.config import TrainingConfig
    from damoc.context import StageContext
    from damoc.tasks.example import Example
    from damoc.tasks.load import write_examples
    from damoc.training import train_proxy

    root = tmp_path_factory.mktemp("field")
    examples = [Example(r["id"], r["question"], r["answer"], tuple(r["choices"])) for r in make_mc_records(200)]
    write_examples(root / "train.jsonl", examples)
    trained = root / "trained"
    trained.mkdir()
    recipe = TrainingConfig(method="full", max_steps=300, learning_rate=3e-3, batch_size=16, max_seq_len=48)
    train_proxy(tiny_model_dirs["llama"], root / "train.jsonl", recipe, trained, StageContext(device="cpu"))
    out = {}
    for name, sigma in NOISE.items():
        model = AutoModelForCausalLM.from_pretrained(trained)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() == 2:
                    p.add_(torch.randn(p.shape, generator=gen) * sigma * p.std())
        model.save_pretrained(root / name)
        for f in trained.glob("tokenizer*"):
            shutil.copy(f, root / name)
        out[name] = root / name
    return out


def field_config(root: Path, field: dict[str, Path], strategy: str) -> RunConfig:
    root.mkdir(parents=True, exist_ok=True)
    raw = tiny_run_config(root, field)
    raw["candidates"] = [{"name": n, "path": str(p)} for n, p in field.items()]
    raw["task"]["eval"] = {"path": str(write_jsonl(root / "eval160.jsonl", make_mc_records(160, seed=1)))}
    raw["model"] = {"remove_ratio": 0.0, "max_seq_len": 32}
    raw["training"] = {"max_steps": 32, "batch_size": 4, "learning_rate": 0.002, "max_seq_len": 48}
    raw["evaluation"] = {"batch_size": 64}
    raw["selection"] = {"rank_by": "acc", "cluster_by": "none", "strategy": strategy, "halving_min_steps": 2}
    return parse_config(raw)


def compute_of_all(ranking: dict[str, Any]) -> float:
    return float(sum(c["train_tokens"] * c["layers_after"] for c in ranking["candidates"]))


def test_halving_picks_the_known_best_at_a_fraction_of_the_compute(tmp_path: Path, field: dict[str, Path]) -> None:
    from damoc.pipeline import run

    halving_cfg = field_config(tmp_path / "halving", field, "successive_halving")
    halving = run(halving_cfg)
    everything = run(field_config(tmp_path / "all", field, "all"))
    assert halving is not None and everything is not None
    assert everything.best == "best" and halving.best == "best"

    layout = RunLayout(halving_cfg.run_dir)
    saved = read_json(layout.ranking_path)
    summary = saved["halving"]
    measured_all = compute_of_all(read_json(RunLayout(tmp_path / "all" / "run").ranking_path))
    ratio = summary["compute_spent"] / measured_all
    print(f"halving compute ratio against a measured 'all' run: {ratio:.3f} (estimate {summary['compute_ratio']:.3f})")
    assert ratio <= 0.4
    assert summary["compute_ratio"] == pytest.approx(ratio, rel=0.1)  # the estimate of 'all' is close to the run
    rounds = summary["rounds"]
    assert rounds[0]["candidates"] == list(NOISE) and rounds[0]["steps"] == 2
    assert all(b["steps"] == 2 * a["steps"] for a, b in itertools.pairwise(rounds))
    assert all(set(b["candidates"]) == set(a["kept"]) for a, b in itertools.pairwise(rounds))
    assert rounds[-1]["kept"] == ["best"]
    assert saved["candidates"][0]["candidate"] == "best"
    assert [summary["reached"][c["candidate"]] for c in saved["candidates"]] == sorted(summary["reached"].values())[
        ::-1
    ]
    text = layout.report_md.read_text()
    assert "## Successive halving" in text and "of the" in text

    stamps = {p: read_manifest(p)["finished_at"] for p in layout.root.glob("halving/round_*/models/*/*")}
    again = run(halving_cfg)
    assert again is not None and again.model_dump() == halving.model_dump()
    assert {p: read_manifest(p)["finished_at"] for p in stamps} == stamps, "a resumed run must not redo rounds"
