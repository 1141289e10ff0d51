"""report_to: the trackers receive what the loops recorded, and a missing tracker package fails at validation.

TensorBoard is installed by the lock, so its test always runs: a tiny validate-selection (proxy,
subset_tuning baseline, ground truth) writes event files that are read back with TensorBoard's own
EventAccumulator and compared with ``train.json``, the schedule and ``eval.json``. MLflow is optional
and not in the lock; its test runs where ``mlflow`` (or ``mlflow-skinny``) with sqlalchemy and alembic
is installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import damoc.executors  # noqa: F401  (before damoc.jobs: importing damoc.jobs first runs into its import cycle)
from damoc.config import RunConfig
from damoc.errors import ConfigError
from damoc.jobs import stage_hashes, tracked_phase
from damoc.loading import load_config, parse_config
from damoc.reports import EvalReport, TrainReport, read_stage_report
from damoc.testing import make_mc_records, tiny_run_config, write_jsonl
from damoc.validation import validate_selection
from damoc.validation.base import GroundTruthTrainReport

LR, STEPS = 0.01, 6


def _raw(root: Path, model_dirs: dict[str, Path], report_to: list[str], **over: Any) -> dict[str, Any]:
    gt = {"epochs": 1, "batch_size": 4, "curve_fractions": [0.5]}
    pair = {"llama": model_dirs["llama"], "qwen2": model_dirs["qwen2"]}
    raw = tiny_run_config(root, pair, ground_truth=gt, report_to=report_to, **over)
    raw["task"]["train"]["path"] = str(write_jsonl(root / "train8.jsonl", make_mc_records(8)))
    return raw


def _scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] of the event files in ``log_dir``, read by TensorBoard itself."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _linear_decay(steps: int) -> list[float]:
    """The learning rate each step applies: warmup_ratio 0, linear decay from LR (damoc.training.loop)."""
    return [LR * (steps - k) / steps for k in range(steps)]


@pytest.fixture(scope="module")
def tensorboard_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dirs: dict[str, Path]) -> RunConfig:
    pytest.importorskip("tensorboard")
    root = tmp_path_factory.mktemp("tb")
    selection = {"rank_by": "acc", "baselines": ["zero_shot", "subset_tuning"]}
    cfg = parse_config(_raw(root, tiny_model_dirs, ["tensorboard"], selection=selection))
    validate_selection(cfg)
    return cfg


def test_tensorboard_proxy_losses_and_learning_rates_are_train_json(tensorboard_run: RunConfig) -> None:
    run_dir = tensorboard_run.run_dir
    for name in ("tiny-llama", "tiny-qwen2"):
        train = read_stage_report(run_dir / "models" / name / "adapter" / "train.json", TrainReport)
        got = _scalars(run_dir / "tb" / name / "proxy")
        assert [s for s, _ in got["train/loss"]] == list(range(1, STEPS + 1))
        assert [v for _, v in got["train/loss"]] == pytest.approx(train.losses, rel=1e-6)
        assert [v for _, v in got["train/learning_rate"]] == pytest.approx(_linear_decay(STEPS), rel=1e-6)
        evaluation = read_stage_report(run_dir / "models" / name / "eval" / "eval.json", EvalReport)
        for metric, value in evaluation.metrics.items():
            assert got[f"eval/{metric}"] == [(STEPS, pytest.approx(value, rel=1e-6))]


def test_tensorboard_baseline_and_ground_truth_phases(tensorboard_run: RunConfig) -> None:
    run_dir = tensorboard_run.run_dir
    for name in ("tiny-llama", "tiny-qwen2"):
        zero_shot = read_stage_report(run_dir / "models" / name / "zero_shot" / "eval.json", EvalReport)
        assert _scalars(run_dir / "tb" / name / "zero_shot")["eval/acc"] == [
            (0, pytest.approx(zero_shot.metrics["acc"]))
        ]
        subset = read_stage_report(run_dir / "models" / name / "subset_tuning" / "adapter" / "train.json", TrainReport)
        got = _scalars(run_dir / "tb" / name / "subset_tuning")
        assert [v for _, v in got["train/loss"]] == pytest.approx(subset.losses, rel=1e-6)
        assert "eval/acc" in got

        truth = read_stage_report(run_dir / "validation" / name / "train.json", GroundTruthTrainReport)
        got = _scalars(run_dir / "tb" / name / "ground_truth")
        assert [s for s, _ in got["train/loss"]] == list(range(1, len(truth.losses) + 1))
        assert [v for _, v in got["train/loss"]] == pytest.approx(truth.losses, rel=1e-6)
        assert len(got["train/learning_rate"]) == len(truth.losses)
        final = read_stage_report(run_dir / "validation" / name / "eval.json", EvalReport)
        assert got["eval/acc"][-1] == (len(truth.losses), pytest.approx(final.metrics["acc"], rel=1e-6))
        assert len(got["eval/acc"]) == 2  # the curve point at half an epoch, then the epoch end
    assert sorted(p.name for p in (run_dir / "tb").iterdir()) == ["tiny-llama", "tiny-qwen2"]


def test_a_halving_round_is_tracked_under_the_run_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert tracked_phase(run_dir, run_dir, "proxy") == (run_dir, "proxy")
    assert tracked_phase(run_dir, run_dir / "halving" / "round_1", "proxy") == (run_dir, "halving/round_1/proxy")
    assert tracked_phase(run_dir, tmp_path / "elsewhere", "proxy") == (tmp_path / "elsewhere", "proxy")


def test_nothing_is_tracked_by_default(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    cfg = parse_config(tiny_run_config(tmp_path, tiny_model_dirs))
    assert cfg.report_to == []


def test_report_to_changes_no_stage_hash(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    plain = parse_config(tiny_run_config(tmp_path, tiny_model_dirs))
    tracked = plain.model_copy(update={"report_to": ["tensorboard", "mlflow"]})
    for c in plain.candidates:
        assert stage_hashes(plain, c.name) == stage_hashes(tracked, c.name)


def _hide(monkeypatch: pytest.MonkeyPatch, *packages: str) -> None:
    """Make ``importlib.util.find_spec`` report ``packages`` as not installed."""
    real: Callable[..., Any] = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in packages else real(name, *a))


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_missing_tensorboard_fails_at_validation(
    tiny_model_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hide(monkeypatch, "tensorboard")
    path = _write(tmp_path, _raw(tmp_path, tiny_model_dirs, ["tensorboard"]))
    with pytest.raises(
        ConfigError, match=r"report_to: tensorboard needs the tensorboard package.*pip install tensorboard"
    ):
        load_config(path)


def test_missing_mlflow_fails_at_validation(
    tiny_model_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hide(monkeypatch, "mlflow")
    path = _write(tmp_path, _raw(tmp_path, tiny_model_dirs, ["mlflow"]))
    with pytest.raises(ConfigError, match=r"report_to: mlflow needs the mlflow package.*pip install 'damoc\[mlflow\]'"):
        load_config(path)


def test_mlflow_without_a_database_driver_fails_at_validation(
    tiny_model_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    real: Callable[..., Any] = importlib.util.find_spec
    installed = {"mlflow"}
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: object() if name in installed else None if name == "alembic" else real(name, *a),
    )
    path = _write(tmp_path, _raw(tmp_path, tiny_model_dirs, ["mlflow"]))
    with pytest.raises(ConfigError, match=r"alembic packages? for its SQLite store .*MLFLOW_TRACKING_URI"):
        load_config(path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")  # a server: no local database
    load_config(path)


def test_unknown_or_repeated_tracker_is_refused(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"report_to: unknown tracker 'wandb'; available: mlflow, tensorboard"):
        load_config(_write(tmp_path, _raw(tmp_path, tiny_model_dirs, ["wandb"])))
    with pytest.raises(ConfigError, match=r"report_to.*listed twice"):
        load_config(_write(tmp_path, _raw(tmp_path, tiny_model_dirs, ["tensorboard", "tensorboard"])))


def test_mlflow_one_run_per_candidate_in_the_run_folders_experiment(
    tiny_model_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for package in ("mlflow", "sqlalchemy", "alembic"):
        pytest.importorskip(package)
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = load_config(_write(tmp_path, _raw(tmp_path, tiny_model_dirs, ["mlflow"])))
    validate_selection(cfg)
    client = MlflowClient(f"sqlite:///{cfg.run_dir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(cfg.run_dir.name)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["damoc.candidate"] for r in runs) == ["tiny-llama", "tiny-qwen2"]
    for r in runs:
        name = r.data.tags["damoc.candidate"]
        assert r.data.tags["damoc.run_dir"] == str(cfg.run_dir.resolve()) and r.info.status == "FINISHED"
        train = read_stage_report(cfg.run_dir / "models" / name / "adapter" / "train.json", TrainReport)
        history = sorted((m.step, m.value) for m in client.get_metric_history(r.info.run_id, "proxy/train/loss"))
        assert history == [(s, pytest.approx(v)) for s, v in enumerate(train.losses, start=1)]
        truth = read_stage_report(cfg.run_dir / "validation" / name / "train.json", GroundTruthTrainReport)
        history = sorted((m.step, m.value) for m in client.get_metric_history(r.info.run_id, "ground_truth/train/loss"))
        assert [v for _, v in history] == pytest.approx(truth.losses)
        assert client.get_metric_history(r.info.run_id, "proxy/eval/acc")
