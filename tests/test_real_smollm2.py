"""The real SmolLM2-135M-Instruct through every stage on a handful of examples (slow; runs in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from damoc.artifacts import RunLayout, read_json
from damoc.loading import load_config
from damoc.pipeline import run

SMOKE = Path(__file__).resolve().parents[1] / "configs" / "smoke.yaml"


@pytest.mark.slow
def test_smoke_config_runs_every_stage_on_real_smollm2(tmp_path: Path) -> None:
    cfg = load_config(SMOKE, [f"run_dir={tmp_path / 'run'}", "device=cpu"])
    ranking = run(cfg)
    assert ranking is not None
    (row,) = ranking.candidates
    assert row.candidate == "smollm2-135m"
    assert (row.layers_before, row.layers_after) == (30, 22)
    assert row.params_after is not None and row.params_before is not None and row.params_after < row.params_before
    layout = RunLayout(cfg.run_dir)
    train = read_json(layout.adapter_dir("smollm2-135m") / "train.json")
    assert train["steps"] == cfg.training.max_steps and train["tokens_seen"] > 0
    evaluation = read_json(layout.eval_dir("smollm2-135m") / "eval.json")
    assert evaluation["num_examples"] == cfg.task.max_eval_examples
    assert 0.0 <= evaluation["metrics"]["acc"] <= 1.0

    from transformers import AutoModelForCausalLM, AutoTokenizer

    proxy = layout.proxy_dir("smollm2-135m")
    model = AutoModelForCausalLM.from_pretrained(proxy)
    tok = AutoTokenizer.from_pretrained(proxy)
    out = model.generate(**tok("The capital of France is", return_tensors="pt"), max_new_tokens=4, do_sample=False)
    assert out.shape[1] > 4
