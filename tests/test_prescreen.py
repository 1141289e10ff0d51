"""Zero-cost pre-screens (selection.prescreen) on tiny models: every method scores, the pipeline screens."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from damoc.artifacts import RunLayout, read_json
from damoc.errors import ConfigError
from damoc.loading import parse_config
from damoc.preflight import check_prescreen
from damoc.registry import registry
from damoc.testing import make_mc_records, tiny_run_config


@pytest.mark.parametrize("method", registry("prescreen").names())
def test_every_prescreen_scores_a_tiny_model(method: str, tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.candidates.resolve import load_model
    from damoc.selection.prescreens.base import PRESCREENS, ScoringSettings
    from damoc.tasks.example import Example

    examples = [Example(r["id"], r["question"], r["answer"], tuple(r["choices"])) for r in make_mc_records(24)]
    model, tokenizer = load_model(tiny_model_dirs["qwen2"], "cpu")
    settings = ScoringSettings(max_seq_len=64, batch_size=8)
    score = PRESCREENS.build(method, {}).score(model, tokenizer, examples, settings)
    assert math.isfinite(score)
    assert PRESCREENS.build(method, {}).score(model, tokenizer, examples, settings) == pytest.approx(score)
    if method == "zero_shot":
        assert 0.0 <= score <= 1.0
    if method == "perplexity":
        assert score < 0.0  # a mean log-likelihood


def test_prescreen_config_is_checked(tmp_path: Path) -> None:
    base = {"run_dir": str(tmp_path / "run"), "task": {"bundled": "world_facts"}, "candidates": ["smollm2-135m"]}
    with pytest.raises(ConfigError, match="unknown prescreen 'nope'"):
        check_prescreen(parse_config({**base, "selection": {"prescreen": {"method": "nope", "keep": 1}}}))
    with pytest.raises(Exception, match="keep"):
        parse_config({**base, "selection": {"prescreen": {"method": "logme", "keep": 0}}})
    check_prescreen(parse_config({**base, "selection": {"prescreen": {"method": "logme", "keep": 1}}}))


def test_pipeline_screens_out_the_rest_and_reports_both_orders(
    tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    from damoc.pipeline import run

    raw = tiny_run_config(tmp_path, tiny_model_dirs)
    raw["selection"] = {"rank_by": "acc", "prescreen": {"method": "perplexity", "keep": 2, "num_samples": 16}}
    cfg = parse_config(raw)
    ranking = run(cfg)
    assert ranking is not None and ranking.prescreen is not None
    p = ranking.prescreen
    layout = RunLayout(cfg.run_dir)
    assert len(p.order) == 3 and p.num_samples == 16
    assert p.order == sorted(p.scores, key=lambda n: -p.scores[n])
    assert len(p.kept) >= 2 and p.kept == p.order[: len(p.kept)]
    assert sorted(c.candidate for c in ranking.candidates) == sorted(p.kept)
    for name in p.screened_out:
        assert not layout.candidate_dir(name).exists(), "a screened-out candidate gets no proxy"
    saved = read_json(layout.ranking_path)
    assert saved["prescreen"]["order"] == p.order
    text = layout.report_md.read_text()
    assert "## Pre-screen" in text and ("screened out" in text)
    again = run(cfg)
    assert again is not None and again.model_dump() == ranking.model_dump()
