"""validate_selection on a tiny 2-candidate run: validation.json, the copies in run_dir, the cache and the report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from damoc.config import RunConfig
from damoc.loading import parse_config
from damoc.reports import read_stage_report
from damoc.selection.base import Ranking
from damoc.testing import make_mc_records, tiny_run_config, write_jsonl
from damoc.validation import ValidationReport, validate_selection
from damoc.validation.base import GroundTruthTrainReport, validation_dir
from damoc.validation.compare import Truth

TRAIN_EXAMPLES = 8


def _config(root: Path, model_dirs: dict[str, Path], **over: object) -> RunConfig:
    gt = {"epochs": 1, "batch_size": 4, "curve_fractions": [0.5]}
    raw = tiny_run_config(root, {"llama": model_dirs["llama"], "qwen2": model_dirs["qwen2"]}, ground_truth=gt)
    raw["task"]["train"]["path"] = str(write_jsonl(root / "train8.jsonl", make_mc_records(TRAIN_EXAMPLES)))
    raw.update(over)
    return parse_config(raw)


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory, tiny_model_dirs: dict[str, Path]) -> tuple[RunConfig, Path]:
    root = tmp_path_factory.mktemp("validate")
    cfg = _config(root, tiny_model_dirs)
    validate_selection(cfg)
    return cfg, root


def _report(cfg: RunConfig) -> ValidationReport:
    return read_stage_report(cfg.run_dir / "validation.json", ValidationReport)


def test_validation_json_holds_both_rankings_with_intervals(validated: tuple[RunConfig, Path]) -> None:
    cfg, _ = validated
    v = _report(cfg)
    ranking = Ranking.model_validate_json((cfg.run_dir / "ranking.json").read_text())
    assert v.proxy_order == [c.candidate for c in ranking.candidates]
    assert sorted(v.truth_order) == ["tiny-llama", "tiny-qwen2"] == sorted(c.candidate for c in v.candidates)
    assert [c.candidate for c in v.candidates] == v.truth_order
    points = [c.truth.point for c in v.candidates]
    assert points == sorted(points, reverse=True)
    for c in v.candidates:
        assert c.truth.low <= c.truth.point <= c.truth.high
        assert c.truth.point == pytest.approx(c.truth_metrics["acc"])
        assert c.proxy_score == next(r.score for r in ranking.candidates if r.candidate == c.candidate)
    assert v.truth_tie_group[0] == v.truth_order[0]
    assert [(d.upper, d.lower) for d in v.adjacent] == [tuple(v.truth_order)]
    assert v.agreement is not None and set(v.agreement) == {"kendall_tau", "spearman", "pearson", "relacc"}
    assert all(-1 <= x <= 1 for x in v.agreement.values())
    assert v.top1.source == "proxy" and v.top1.pick == ranking.best
    assert v.top1.tie_aware == (ranking.best in v.truth_tie_group)
    assert v.top1.strict == (
        ranking.best == v.truth_order[0] or v.candidates[0].truth.point == v.candidates[1].truth.point
    )
    assert [b.source for b in v.baselines] == ["model_size"]
    assert (v.train_examples, v.eval_examples, v.rank_by) == (TRAIN_EXAMPLES, 16, "acc")


def test_costs_on_both_sides(validated: tuple[RunConfig, Path]) -> None:
    cfg, _ = validated
    v = _report(cfg)
    ranking = Ranking.model_validate_json((cfg.run_dir / "ranking.json").read_text())
    c = v.costs
    assert set(c.proxy_seconds) == {"data", "model", "train", "eval", "fallback", "total"}
    assert c.proxy_seconds["fallback"] == 0.0 and cfg.selection.fallback is None  # counted only when it ran
    assert set(c.truth_seconds) == {"train", "eval", "total"}
    assert c.proxy_seconds["total"] == pytest.approx(
        sum(x for k, x in c.proxy_seconds.items() if k != "total"), abs=0.01
    )
    assert c.truth_seconds["train"] > 0 and c.truth_seconds["eval"] > 0
    assert c.proxy_token_layers == sum((r.train_tokens or 0) * (r.layers_after or 0) for r in ranking.candidates)
    truth_tl = 0
    for name in v.truth_order:
        train = read_stage_report(validation_dir(cfg.run_dir, name), GroundTruthTrainReport)
        truth_tl += train.tokens_seen * train.layers
        assert train.layers == 6  # the uncompressed model
    assert c.truth_token_layers == truth_tl
    assert c.speedup_token_layers == pytest.approx(truth_tl / c.proxy_token_layers, rel=1e-3)
    assert c.speedup_train == pytest.approx(c.truth_seconds["train"] / c.proxy_seconds["train"], rel=1e-2)


def test_ground_truth_is_the_whole_training_set_with_a_curve(validated: tuple[RunConfig, Path]) -> None:
    cfg, _ = validated
    data = json.loads((cfg.run_dir / "data" / "data.json").read_text())
    assert data["train_examples_after"] < TRAIN_EXAMPLES  # the proxy saw the compressed set...
    for name in ("tiny-llama", "tiny-qwen2"):
        folder = validation_dir(cfg.run_dir, name)
        train = read_stage_report(folder, GroundTruthTrainReport)
        assert train.train_examples == TRAIN_EXAMPLES and train.steps == 2  # ...the ground truth all of it
        assert (train.resumed_from_step, train.method, train.epochs) == (0, "lora", 1.0)
        curve = json.loads((folder / "curve.json").read_text())
        assert [(p["step"], p["epoch"]) for p in curve] == [(1, 0.5), (2, 1.0)]
        rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
        assert len(rows) == 16 and all({"id", "answer", "pred", "logliks"} <= set(r) for r in rows)
        pointer = json.loads((folder / "ground_truth.json").read_text())
        assert Path(pointer["adapter"], "adapter_config.json").is_file()
        assert not list(folder.glob("*.safetensors"))  # no weights in the run folder


def test_rerun_and_another_config_reuse_the_cache(
    validated: tuple[RunConfig, Path], tiny_model_dirs: dict[str, Path]
) -> None:
    cfg, root = validated
    entries = sorted((root / "cache" / "ground_truth").iterdir())
    assert len(entries) == 2
    stamps = [json.loads((e / "result" / "manifest.json").read_text())["finished_at"] for e in entries]
    # another config over the same models and data (its proxy copied, so only the ground truth is in question)
    shutil.copytree(cfg.run_dir, root / "other_run")
    other = _config(root, tiny_model_dirs, run_dir=str(root / "other_run"))
    second = validate_selection(other)
    assert sorted((root / "cache" / "ground_truth").iterdir()) == entries
    assert [json.loads((e / "result" / "manifest.json").read_text())["finished_at"] for e in entries] == stamps
    assert [c.truth for c in second.candidates] == [c.truth for c in _report(cfg).candidates]


def test_report_has_the_validation_section(validated: tuple[RunConfig, Path]) -> None:
    cfg, _ = validated
    md = (cfg.run_dir / "report.md").read_text()
    assert "## Validation: proxy vs ground truth" in md
    for needle in ("Learning curves", "Kendall tau", "Speed-up", "tiny-llama", "tiny-qwen2", "0.5 ep", "1 ep"):
        assert needle in md, needle
    page = (cfg.run_dir / "report.html").read_text()
    assert "<h2>Validation: proxy vs ground truth</h2>" in page and page.rstrip().endswith("</html>")


def test_cli_refuses_a_bad_ground_truth_key(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    raw = tiny_run_config(tmp_path, {"llama": tiny_model_dirs["llama"]}, ground_truth={"epochs": 0})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    res = subprocess.run([sys.executable, "-m", "damoc", "validate-selection", str(path)], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and "ground_truth.epochs" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "run").exists()


def test_whole_train_split_and_the_eval_cap(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.validation.stage import load_task

    cfg = _config(tmp_path, tiny_model_dirs)
    train, evals = load_task(cfg)
    assert (len(train), len(evals)) == (TRAIN_EXAMPLES, 16)
    capped = cfg.model_copy(update={"task": cfg.task.model_copy(update={"max_eval_examples": 5})})
    assert len(load_task(capped)[1]) == 5  # task.max_eval_examples, as the proxy's evaluation
    gt = capped.ground_truth.model_copy(update={"max_eval_examples": 3})
    assert len(load_task(capped.model_copy(update={"ground_truth": gt}))[1]) == 3  # ground_truth's own cap wins


def test_a_proxy_ranked_by_a_smooth_score_is_judged_by_accuracy(
    tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    from damoc.evaluation.metrics.base import build_metrics
    from damoc.validation.compare import aligned_scores
    from damoc.validation.recipe import truth_metric

    smooth = {"rank_by": "choice_logprob", "baselines": ["model_size"]}
    cfg = _config(tmp_path, tiny_model_dirs, selection=smooth, evaluation={"metrics": ["acc", "choice_logprob"]})
    assert truth_metric(cfg) == "acc"  # choice_logprob is a proxy-only score
    v = validate_selection(cfg)
    assert (v.rank_by, v.truth_metric, v.judged_by) == ("choice_logprob", "acc", "acc")
    for c in v.candidates:
        assert c.proxy_score <= 0  # the proxy's mean log-probability of the right choice
        assert c.truth.point == pytest.approx(c.truth_metrics["acc"])  # the ground truth's accuracy
    md = (cfg.run_dir / "report.md").read_text()
    assert "`acc` with 95% bootstrap intervals (the proxy is ranked by `choice_logprob`)" in md
    assert "truth acc (95% CI)" in md and "proxy choice_logprob" in md
    # the same ground truth judged by choice_logprob instead: ground_truth.metric
    gt = cfg.ground_truth.model_copy(update={"metric": "choice_logprob"})
    again = validate_selection(cfg.model_copy(update={"ground_truth": gt}))
    assert again.judged_by == "choice_logprob" and all(c.truth.point <= 0 for c in again.candidates)
    ours = {n: sum(v) / len(v) for n, v in aligned_scores(_truths(cfg), "choice_logprob")[1].items()}
    assert {c.candidate: c.truth.point for c in again.candidates} == pytest.approx(ours, abs=1e-6)
    assert build_metrics(["choice_logprob"], "multiple_choice")  # registered for rank_by


def _truths(cfg: RunConfig) -> dict[str, Truth]:
    from damoc.validation.truth import read_copied_truth

    return {s.name: read_copied_truth(validation_dir(cfg.run_dir, s.name)) for s in cfg.candidates}


def test_a_bad_ground_truth_metric_is_refused(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.errors import ConfigError
    from damoc.preflight import validate_methods

    cfg = _config(tmp_path, tiny_model_dirs)
    gt = cfg.ground_truth.model_copy(update={"metric": "f1"})
    with pytest.raises(ConfigError, match=r"ground_truth.metric: .*'f1' does not apply to multiple_choice"):
        validate_methods(cfg.model_copy(update={"ground_truth": gt}))
