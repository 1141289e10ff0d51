"""The whole pipeline on tiny real models: outputs, resume, and which stages a config change re-runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from damoc.artifacts import RunLayout, read_json, read_manifest
from damoc.errors import DamocError
from damoc.loading import parse_config
from damoc.pipeline import run
from damoc.testing import tiny_run_config


def finished_at(layout: RunLayout, names: list[str]) -> dict[str, Any]:
    """Manifest timestamps+hashes of every stage folder: a changed value means the stage re-ran."""
    folders = {"data": layout.data_dir}
    for n in names:
        folders |= {
            f"{n}/model": layout.proxy_dir(n),
            f"{n}/train": layout.adapter_dir(n),
            f"{n}/eval": layout.eval_dir(n),
        }
    out = {}
    for key, folder in folders.items():
        manifest = read_manifest(folder)
        out[key] = (
            None if manifest is None else (manifest["finished_at"], manifest["config_hash"], folder.stat().st_ino)
        )
    return out


@pytest.fixture()
def raw_cfg(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> dict[str, Any]:
    return tiny_run_config(tmp_path, tiny_model_dirs)


def test_full_run_outputs_and_resume(raw_cfg: dict[str, Any]) -> None:
    cfg = parse_config(raw_cfg)
    ranking = run(cfg)
    assert ranking is not None
    layout = RunLayout(cfg.run_dir)
    names = [c.name for c in cfg.candidates]
    assert sorted(c.candidate for c in ranking.candidates) == sorted(names)
    for row in ranking.candidates:
        assert row.layers_before == 6 and row.layers_after == 4
        assert 0.0 <= row.score <= 1.0 and set(row.seconds) == {"model", "train", "eval"}
        assert row.train_examples and row.train_tokens
    data = read_json(layout.data_dir / "data.json")  # tokens counted with the first candidate's tokenizer
    assert data["tokenizer"] == names[0] and data["tokens_before"] > data["tokens_after"] > 0
    saved = read_json(layout.ranking_path)
    assert [c["candidate"] for c in saved["candidates"]] == [c.candidate for c in ranking.candidates]
    report = layout.report_md.read_text()
    assert "Best candidate by proxy fine-tuning" in report
    for name in names:  # the layer section marks each candidate's 2 removed layers of 6
        layers = read_json(layout.proxy_report(name))
        marks = "".join("x" if i in layers["removed"] else "." for i in range(6))
        assert f"{name}  " in report and marks in report
    # ranking, baselines, data funnel, stage times, and one layer chart per candidate
    assert layout.report_html.read_text().count('class="plotly-graph-div"') == 4 + len(names)
    before = finished_at(layout, names)
    again = run(cfg)
    assert again is not None and again.model_dump() == ranking.model_dump()
    assert finished_at(layout, names) == before, "a resumed run must not redo finished stages"
    assert not any(".tmp-" in p.name for p in layout.root.rglob("*"))
    assert not (layout.root / ".lock").exists()


@pytest.mark.parametrize(
    ("override", "rerun"),
    [
        ({"evaluation": {"batch_size": 3}}, {"eval"}),
        ({"training": {"max_steps": 4, "batch_size": 4, "learning_rate": 0.01, "max_seq_len": 48}}, {"train", "eval"}),
        ({"model": {"remove_ratio": 0.5, "max_seq_len": 32}}, {"model", "train", "eval"}),
        ({"seed": 1}, {"data", "model", "train", "eval"}),
    ],
)
def test_config_change_reruns_that_stage_and_later_only(
    raw_cfg: dict[str, Any], override: dict[str, Any], rerun: set[str]
) -> None:
    raw_cfg["candidates"] = raw_cfg["candidates"][:1]
    cfg = parse_config(raw_cfg)
    run(cfg)
    layout = RunLayout(cfg.run_dir)
    name = cfg.candidates[0].name
    before = finished_at(layout, [name])
    run(parse_config({**raw_cfg, **override}))
    after = finished_at(layout, [name])
    changed = {key.split("/")[-1] for key in before if before[key] != after[key]}
    assert changed == rerun


def test_single_stage_needs_its_inputs(raw_cfg: dict[str, Any]) -> None:
    cfg = parse_config(raw_cfg)
    with pytest.raises(DamocError, match=r"the data stage has no up-to-date result .* run `damoc data CONFIG`"):
        run(cfg, stages=["model"])
    run(cfg, stages=["data"])
    name = cfg.candidates[0].name
    run(cfg, stages=["model"], candidates=[name])
    layout = RunLayout(cfg.run_dir)
    assert read_manifest(layout.proxy_dir(name)) is not None
    assert read_manifest(layout.proxy_dir(cfg.candidates[1].name)) is None
    with pytest.raises(DamocError, match="--candidate 'nope' is not in the config"):
        run(cfg, stages=["model"], candidates=["nope"])


def test_subset_tuning_baseline_runs_in_the_run_folder(raw_cfg: dict[str, Any]) -> None:
    from damoc.reports import TrainReport, read_stage_report
    from damoc.tasks.load import read_examples

    raw_cfg["selection"] = {"rank_by": "acc", "baselines": ["subset_tuning", "model_size"]}
    cfg = parse_config(raw_cfg)
    ranking = run(cfg)
    assert ranking is not None
    layout = RunLayout(cfg.run_dir)
    by_name = {b.baseline: b for b in ranking.baselines}
    assert set(by_name["subset_tuning"].scores) == {c.name for c in cfg.candidates}
    for c in cfg.candidates:
        sub = read_stage_report(layout.subset_tuning_train_report(c.name), TrainReport)
        # proxy: 6 steps on 4 of 6 layers -> the full model gets round(6 * 4 / 6) = 4 steps of batch 4
        assert sub.steps == 4 and sub.examples_used == 16
        subset = read_examples(layout.subset_tuning_dir(c.name) / "train_subset.jsonl")
        assert len(subset) == 16 and len({e.id for e in subset}) == 16  # drawn from the whole 48, no repeats
        assert (layout.subset_tuning_dir(c.name) / "predictions.jsonl").is_file()


def test_ablation_baselines_train_one_half_of_the_proxy_each(raw_cfg: dict[str, Any]) -> None:
    """data_only: the full model on the compressed data; model_only: the proxy on random data; both at its compute."""
    from damoc.reports import TrainReport, read_stage_report
    from damoc.tasks.load import read_examples

    raw_cfg["selection"] = {"rank_by": "acc", "baselines": ["data_only", "model_only"]}
    cfg = parse_config(raw_cfg)
    ranking = run(cfg)
    assert ranking is not None
    layout = RunLayout(cfg.run_dir)
    by_name = {b.baseline: b for b in ranking.baselines}
    assert set(by_name) == {"data_only", "model_only"}
    kept = {e.id for e in read_examples(layout.train_file)}
    assert len(kept) == 24  # random keep_ratio 0.5 of 48
    for c in cfg.candidates:
        assert set(by_name["data_only"].scores) == set(by_name["model_only"].scores) == {x.name for x in cfg.candidates}
        proxy = read_stage_report(layout.train_report(c.name), TrainReport)
        data_only = read_stage_report(layout.ablation_dir(c.name, "data_only") / "adapter", TrainReport)
        model_only = read_stage_report(layout.ablation_dir(c.name, "model_only") / "adapter", TrainReport)
        # proxy: 6 steps of 4 on 4 of 6 layers; the full model gets round(6 * 4 / 6) = 4 steps of the kept data
        assert (data_only.steps, data_only.examples_used) == (4, 16)
        assert data_only.total_params > proxy.total_params  # the uncompressed model, 6 layers
        # the proxy's own model and steps, on as many random examples of the whole 48 as it trained on
        assert (model_only.steps, model_only.examples_used, model_only.total_params) == (6, 24, proxy.total_params)
        drawn = read_examples(layout.ablation_dir(c.name, "model_only") / "train_subset.jsonl")
        assert len({e.id for e in drawn}) == 24
        for kind in ("data_only", "model_only"):
            assert (layout.ablation_dir(c.name, kind) / "predictions.jsonl").is_file()


def test_matched_steps_and_subset_draw() -> None:
    from damoc.tasks.example import Example
    from damoc.training.subset import draw_subset

    examples = [Example(id=str(i), question=f"q{i}", answer=0, choices=("a", "b")) for i in range(10)]
    drawn = draw_subset(examples, 4, seed=3)
    assert drawn == draw_subset(examples, 4, seed=3) and len(drawn) == 4
    assert [e.id for e in drawn] == sorted((e.id for e in drawn), key=int)  # data order kept
    assert draw_subset(examples, 50, seed=0) == examples
