"""The ``ats`` baseline on tiny real models: nested subsets within the budget, resume, and its score from the files."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest

from damoc.artifacts import RunLayout, read_json, read_manifest
from damoc.errors import ConfigError, DamocError
from damoc.loading import parse_config
from damoc.pipeline import run
from damoc.reports import AtsPointReport, AtsReport, ProxyReport, TrainReport, read_stage_report
from damoc.selection.ats import AtsParams, power_phase_start, predict_loss_ats
from damoc.tasks.load import load_split, task_sources
from damoc.testing import damaged_artefacts, tiny_run_config
from damoc.training.ats import chain_within

ATS = {"k": 2, "min_examples": 3, "compute_ratio": 2.0}


@pytest.fixture()
def raw_cfg(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> dict[str, Any]:
    models = {a: tiny_model_dirs[a] for a in ("llama", "qwen2")}
    raw = tiny_run_config(tmp_path, models)
    raw["selection"] = {"rank_by": "acc", "baselines": ["ats"], "baseline_params": {"ats": dict(ATS)}}
    return raw


def subset_stamps(layout: RunLayout, name: str) -> dict[str, Any]:
    """Manifest timestamp and folder inode of every ats folder: a changed value means it was redone."""
    folders = [layout.ats_dir(name), *sorted((layout.candidate_dir(name) / "ats_subsets").iterdir())]
    return {f.name: (m["finished_at"], f.stat().st_ino) if (m := read_manifest(f)) else None for f in folders}


def test_ats_runs_end_to_end_nested_within_budget(raw_cfg: dict[str, Any]) -> None:
    cfg = parse_config(raw_cfg)
    ranking = run(cfg)
    assert ranking is not None
    layout = RunLayout(cfg.run_dir)
    (ats,) = ranking.baselines
    names = [c.name for c in cfg.candidates]
    assert ats.baseline == "ats" and set(ats.scores) == set(names) and set(ats.details) == set(names)
    assert damaged_artefacts(layout.root) == []
    train_ids = {e.id for e in load_split(*_train_source(cfg))}
    for name in names:
        curve = read_stage_report(layout.ats_report(name), AtsReport)
        assert curve.full_size == 48 and curve.sizes == [3, 6, 12]  # 48 // 16, // 8, // 4; 24 would break the budget
        subsets = [
            [r["id"] for r in _jsonl(layout.ats_subset_dir(name, n) / "train_subset.jsonl")] for n in curve.sizes
        ]
        for small, large in itertools.pairwise(subsets):
            assert large[: len(small)] == small  # nested: prefixes of one shuffle
        assert len(set(subsets[-1])) == len(subsets[-1]) and set(subsets[-1]) <= train_ids
        proxy = read_stage_report(layout.proxy_report(name), ProxyReport)
        proxy_cost = read_stage_report(layout.train_report(name), TrainReport).tokens_seen * proxy.layers_after
        assert curve.budget_token_layers == int(2.0 * proxy_cost)
        trained = [read_stage_report(layout.ats_subset_dir(name, n) / "adapter", TrainReport) for n in curve.sizes]
        assert [t.examples_used for t in trained] == curve.sizes  # one epoch each
        cost = sum(t.tokens_seen for t in trained) * proxy.layers_before
        assert curve.token_layers == cost <= curve.budget_token_layers
        assert ats.details[name]["token_layers"] == cost


def test_ats_score_is_predict_loss_ats_on_the_recorded_points(raw_cfg: dict[str, Any]) -> None:
    cfg = parse_config(raw_cfg)
    run(cfg)
    layout = RunLayout(cfg.run_dir)
    saved = read_json(layout.ranking_path)["baselines"][0]
    params = AtsParams(k=ATS["k"], delta=5.0)
    for name in (c.name for c in cfg.candidates):
        folders = sorted((layout.candidate_dir(name) / "ats_subsets").iterdir(), key=lambda p: int(p.name))
        points = [read_stage_report(f, AtsPointReport) for f in folders]
        sizes, losses = [p.num_examples for p in points], [p.test_loss for p in points]
        assert all(p.test_loss > 0 and p.test_tokens > 0 for p in points)
        expected = predict_loss_ats(sizes, losses, 48, params)
        assert saved["scores"][name] == pytest.approx(-expected, rel=1e-12)
        start = power_phase_start(sizes, losses, params)
        assert saved["details"][name]["accepted_sizes"] == sizes[start:]
        assert saved["details"][name]["losses"] == losses


def test_ats_rerun_resumes_finished_subsets(raw_cfg: dict[str, Any]) -> None:
    cfg = parse_config(raw_cfg)
    first = run(cfg)
    layout = RunLayout(cfg.run_dir)
    name = cfg.candidates[0].name
    before = subset_stamps(layout, name)
    again = run(cfg)
    assert again is not None and first is not None and again.model_dump() == first.model_dump()
    assert subset_stamps(layout, name) == before, "a rerun must not redo finished ats work"
    # k and delta only shape the fit: changing them retrains nothing
    raw_cfg["selection"]["baseline_params"]["ats"]["k"] = 3
    run(parse_config(raw_cfg))
    assert subset_stamps(layout, name) == before
    # an interrupted run (largest subset and the curve missing) redoes only those
    shutil.rmtree(layout.ats_subset_dir(name, 12))
    shutil.rmtree(layout.ats_dir(name))
    run(parse_config(raw_cfg))
    after = subset_stamps(layout, name)
    assert {k for k in before if before[k] != after[k]} == {"12", "ats"}
    assert after["3"] == before["3"] and after["6"] == before["6"]


def test_chain_within_counts_tokens_times_layers() -> None:
    counts = [10] * 50  # 100 examples, the first half tokenised
    assert chain_within(100, counts, 2, (6 + 12 + 25) * 10 * 2, 5) == [6, 12, 25]
    assert chain_within(100, counts, 2, (6 + 12 + 25) * 10 * 2 - 1, 5) == [6, 12]
    with pytest.raises(DamocError, match=r"two smallest subsets \[6, 12\] cost 360 .* budget of 359"):
        chain_within(100, counts, 2, 359, 5)
    with pytest.raises(DamocError, match="needs >= 2 subset sizes"):
        chain_within(100, counts, 2, 10**9, 40)


def test_ats_params_are_checked_before_any_work(raw_cfg: dict[str, Any]) -> None:
    from damoc.preflight import validate_methods

    raw_cfg["selection"]["baseline_params"] = {"ats": {"k": 1}}
    with pytest.raises(ConfigError, match=r"selection.baseline_params.ats.params: k: .*greater than or equal to 2"):
        validate_methods(parse_config(raw_cfg))
    raw_cfg["selection"]["baseline_params"] = {"zero_shot": {}}
    with pytest.raises(ConfigError, match=r"selection.baseline_params: \['zero_shot'\] not in selection.baselines"):
        validate_methods(parse_config(raw_cfg))


def test_answer_loss_is_the_mean_target_token_nll(tiny_model_dirs: dict[str, Path]) -> None:
    import torch

    from damoc.candidates.resolve import load_model
    from damoc.evaluation.loss import answer_loss
    from damoc.tasks.example import Example
    from damoc.tasks.tokens import special_prefix
    from damoc.training.features import encode_example

    model, tok = load_model(tiny_model_dirs["llama"], "cpu")
    examples = [Example(id=str(i), question=f"What is {i} plus 1?", answer="one two" if i else "six") for i in range(3)]
    loss, tokens = answer_loss(model, tok, examples, 64, 2)
    assert (loss, tokens) == pytest.approx(answer_loss(model, tok, examples, 64, 16))  # padding changes nothing
    nll, count = 0.0, 0
    for ex in examples:  # one unpadded sequence at a time, from the full logits
        f = encode_example(tok, ex, 64, special_prefix(tok))
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([f.input_ids])).logits[0, :-1]
        labels = torch.tensor(f.labels[1:])
        keep = labels != -100
        nll += float(torch.nn.functional.cross_entropy(logits[keep], labels[keep], reduction="sum"))
        count += int(keep.sum())
    assert tokens == count and loss == pytest.approx(nll / count, rel=1e-5)


def _train_source(cfg: Any) -> tuple[Any, ...]:
    train_src, _, fields, task_type = task_sources(cfg.task)
    return train_src, fields, task_type, "train"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_ats_test_examples_caps_the_loss_set_in_evaluation_order(raw_cfg: dict[str, Any]) -> None:
    from damoc.candidate_work import _ats_stage_params
    from damoc.candidates.resolve import resolve_candidate
    from damoc.evaluation.loss import answer_loss
    from damoc.evaluation.stage import load_for_eval
    from damoc.sequential import evaluation_order
    from damoc.tasks.load import read_examples
    from damoc.training.ats import loss_examples

    assert set(_ats_stage_params(parse_config(raw_cfg))) == {"min_examples", "compute_ratio"}  # old runs resume
    raw_cfg["selection"]["baseline_params"]["ats"]["test_examples"] = 5
    cfg = parse_config(raw_cfg)
    run(cfg)
    layout = RunLayout(cfg.run_dir)
    ids = [r["id"] for r in _jsonl(layout.eval_file)]
    order = evaluation_order(cfg, layout.eval_file)
    assert len(ids) > 5 and sorted(order) == sorted(ids) and order != ids  # a seeded permutation, not file order
    chosen = read_examples(layout.eval_file)
    chosen = [next(e for e in chosen if e.id == i) for i in order[:5]]
    assert [e.id for e in loss_examples(cfg, layout.eval_file, 5)] == order[:5]
    assert len(loss_examples(cfg, layout.eval_file, len(ids) + 3)) == len(ids)  # a cap above the split: all of it
    spec = cfg.candidates[0]
    curve = read_stage_report(layout.ats_report(spec.name), AtsReport)
    assert curve.test_examples == 5
    model_ref = resolve_candidate(spec, cfg.cache_dir, None)
    for size in curve.sizes:
        point = read_stage_report(layout.ats_subset_dir(spec.name, size), AtsPointReport)
        model, tok = load_for_eval(model_ref, layout.ats_subset_dir(spec.name, size) / "adapter", "cpu")
        loss, tokens = answer_loss(model, tok, chosen, cfg.evaluation.max_seq_len, cfg.evaluation.batch_size)
        assert point.test_examples == 5 and point.test_tokens == tokens
        assert point.test_loss == pytest.approx(loss, rel=1e-5)
        _, all_tokens = answer_loss(model, tok, read_examples(layout.eval_file), cfg.evaluation.max_seq_len, 16)
        assert all_tokens > tokens
    # the cap is part of the subsets' identity: lifting it redoes them
    before = subset_stamps(layout, spec.name)
    del raw_cfg["selection"]["baseline_params"]["ats"]["test_examples"]
    run(parse_config(raw_cfg))
    after = subset_stamps(layout, spec.name)
    assert all(before[k] != after[k] for k in before)
    assert read_stage_report(layout.ats_report(spec.name), AtsReport).test_examples == len(ids)
