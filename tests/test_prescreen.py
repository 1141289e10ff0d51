"""Zero-cost pre-screens (selection.prescreen) on tiny models: every method scores, the pipeline screens."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from damoc.artifacts import RunLayout, read_json
from damoc.errors import ConfigError
from damoc.loading import parse_config
from damoc.preflight import check_prescreen
from damoc.registry import registry
from damoc.testing import make_mc_records, tiny_run_config, write_jsonl


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


def test_fallback_config_is_checked(tmp_path: Path) -> None:
    base = {"run_dir": str(tmp_path / "run"), "task": {"bundled": "world_facts"}, "candidates": ["smollm2-135m"]}
    with pytest.raises(ConfigError, match=r"selection\.fallback\.method: unknown prescreen 'nope'"):
        check_prescreen(parse_config({**base, "selection": {"fallback": {"method": "nope"}}}))
    with pytest.raises(Exception, match="keep"):  # a fallback ranks, it keeps no subset
        parse_config({**base, "selection": {"fallback": {"method": "perplexity", "keep": 1}}})
    cfg = parse_config({**base, "selection": {"fallback": {"method": "perplexity"}}})
    assert cfg.selection.fallback is not None and cfg.selection.fallback.num_samples == 64
    check_prescreen(cfg)


def _ranking(chance: float | None, above: list[str], num_examples: int | None = 48) -> Any:
    from damoc.selection.base import CandidateResult, FallbackPick, Ranking

    rows = [
        CandidateResult(candidate=n, score=s, metrics={"acc": s}, rank=i + 1)
        for i, (n, s) in enumerate([("a", 0.3), ("b", 0.2)])
    ]
    r = Ranking(rank_by="acc", candidates=rows, chance=chance, above_chance=above, num_examples=num_examples)
    return r, FallbackPick(
        method="perplexity", num_samples=8, scores={"a": -3.0, "b": -2.0}, order=["b", "a"], pick="b", proxy_leader="a"
    )


def test_leader_at_chance_decides_the_fallback() -> None:
    r, fb = _ranking(0.25, [])
    assert r.leader_at_chance and r.pick == "a"
    assert r.model_copy(update={"fallback": fb}).pick == "b"
    assert not _ranking(0.25, ["a"])[0].leader_at_chance  # the leader learned: its pick stands
    assert _ranking(0.25, ["b"])[0].leader_at_chance  # only a runner-up above guessing: the leader did not learn
    assert not _ranking(None, [])[0].leader_at_chance  # no chance level (generation tasks)
    assert not _ranking(0.25, [], num_examples=None)[0].leader_at_chance  # no intervals


def test_pipeline_falls_back_to_the_prescreen_when_no_proxy_learns(
    tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    from damoc.pipeline import run
    from damoc.report.write import verdict

    (tmp_path / "learned").mkdir()
    (tmp_path / "at_chance").mkdir()
    raw = tiny_run_config(tmp_path / "learned", tiny_model_dirs)
    raw["selection"] = {"rank_by": "acc", "fallback": {"method": "perplexity", "num_samples": 16}}
    learned = run(parse_config(raw))  # the leader scores 8 of these 16 examples: above guessing
    assert learned is not None and not learned.leader_at_chance
    assert learned.fallback is None and learned.pick == learned.best
    assert not (RunLayout(Path(raw["run_dir"])).root / "fallback").exists(), "scored only when needed"

    raw = tiny_run_config(tmp_path / "at_chance", tiny_model_dirs)
    write_jsonl(Path(raw["task"]["eval"]["path"]), make_mc_records(48, seed=3))
    raw["selection"] = {"rank_by": "acc", "fallback": {"method": "perplexity", "num_samples": 16}}
    cfg = parse_config(raw)
    ranking = run(cfg)
    assert ranking is not None
    assert ranking.leader_at_chance, "on 48 examples no tiny proxy beats guessing beyond noise"
    f = ranking.fallback
    assert f is not None and f.method == "perplexity" and f.num_samples == 16
    names = [c.candidate for c in ranking.candidates]
    assert f.proxy_leader == ranking.best and sorted(f.order) == sorted(names)
    assert f.order == sorted(names, key=lambda n: -f.scores[n]) and ranking.pick == f.order[0]
    assert all(s < 0.0 for s in f.scores.values())  # mean answer log-likelihoods
    layout = RunLayout(cfg.run_dir)
    assert all((layout.fallback_dir(n) / "prescreen.json").is_file() for n in names)
    assert read_json(layout.ranking_path)["fallback"]["pick"] == ranking.pick
    text = layout.report_md.read_text()
    assert f"Pick: **{ranking.pick}**, by the perplexity pre-screen" in text and verdict(ranking) in text
    again = run(cfg)  # resumes: the fallback's scores are read back, not recomputed differently
    assert again is not None and again.model_dump() == ranking.model_dump()


def test_cli_prints_the_fallback_pick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from damoc.cli import _print_ranking

    r, fb = _ranking(0.25, [])
    _print_ranking(r, tmp_path)
    assert "best: a; outputs in" in capsys.readouterr().out
    _print_ranking(r.model_copy(update={"fallback": fb}), tmp_path)
    out = capsys.readouterr().out
    assert "pick: b (selection.fallback: perplexity); outputs in" in out
    assert "Pick: b, by the perplexity pre-screen" in out and "b -2.0000, a -3.0000" in out
