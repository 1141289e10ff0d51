"""Config loading: defaults, overrides, and one clear error per kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from damoc.candidates.names import candidate_from_yaml
from damoc.config import section_hash
from damoc.errors import ConfigError
from damoc.loading import load_config
from damoc.tasks.load import bundled_task_names


def write_cfg(tmp_path: Path, **over: object) -> Path:
    train, ev = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    for f in (train, ev):
        f.touch()
    raw: dict[str, object] = {
        "run_dir": str(tmp_path / "run"),
        "task": {"type": "multiple_choice", "train": {"path": str(train)}, "eval": {"path": str(ev)}},
        "candidates": ["smollm2-135m", {"name": "mine", "alias": "gemma3-270m"}],
    }
    raw.update(over)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_defaults_and_candidates(tmp_path: Path) -> None:
    cfg = load_config(write_cfg(tmp_path))
    assert [c.name for c in cfg.candidates] == ["smollm2-135m", "mine"]
    assert cfg.candidates[0].alias == "smollm2-135m" and cfg.candidates[1].alias == "gemma3-270m"
    assert cfg.model.scorer.method == "block_influence"
    assert cfg.metrics() == ["acc", "acc_norm"]


def test_overrides_nested_and_list_index(tmp_path: Path) -> None:
    path = write_cfg(tmp_path, data={"steps": [{"method": "random", "params": {"keep_ratio": 0.5}}]})
    cfg = load_config(path, ["seed=7", "model.remove_ratio=0.5", "data.steps.0.params.keep_ratio=0.25"])
    assert cfg.seed == 7
    assert cfg.model.remove_ratio == 0.5
    assert cfg.data.steps[0].params["keep_ratio"] == 0.25


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"bogus": 1}, "bogus: unknown key; allowed here:"),
        ({"model": {"remove_ratio": 1.5}}, "model.remove_ratio"),
        ({"model": {"scorer": {"method": "nope"}}}, "unknown scorer 'nope'; available: "),
        ({"model": {"scorer": {"method": "block_influence", "params": {"zzz": 1}}}}, "model.scorer.params: zzz"),
        ({"data": {"steps": [{"method": "random", "params": {"keep_ratio": 0}}]}}, "data.steps.0.params: keep_ratio"),
        ({"data": {"steps": [{"method": "nope"}]}}, "data.steps.0.method: unknown method 'nope'"),
        ({"seed": "abc"}, "seed: Input should be a valid integer"),
        ({"candidates": []}, "candidates: List should have at least 1 item"),
        ({"candidates": ["a-b", {"name": "a-b", "alias": "x"}]}, "duplicate candidate names ['a-b']"),
        ({"candidates": [{"name": "../evil", "alias": "x"}]}, "no path separators or '..'"),
        ({"selection": {"rank_by": "f1"}}, "selection.rank_by: 'f1' is not among"),
        ({"training": {"method": "qlora"}}, "training.method"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, over: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write_cfg(tmp_path, **over))
    assert needle in str(err.value)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("run_dir: x\ntask: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+: not valid YAML"):
        load_config(bad)


def test_missing_data_file_and_run_dir_file(tmp_path: Path) -> None:
    path = write_cfg(tmp_path)
    (tmp_path / "eval.jsonl").unlink()
    with pytest.raises(ConfigError, match=r"task.eval.path: data file not found: .*eval.jsonl"):
        load_config(path)
    (tmp_path / "eval.jsonl").touch()
    (tmp_path / "run").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"run_dir: .* exists and is not a folder"):
        load_config(path)


def test_bad_override(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"expected key\.sub=value"):
        load_config(write_cfg(tmp_path), ["seed"])


def test_score_in_4bit_is_refused_before_any_stage(tmp_path: Path) -> None:
    """4-bit layer scoring needs CUDA and bitsandbytes: load_config (damoc validate) says so, naming the key."""
    import importlib.util

    path = write_cfg(tmp_path)
    with pytest.raises(ConfigError, match=r"model.score_in_4bit: 4-bit scoring runs on a CUDA GPU"):
        load_config(path, ["model.score_in_4bit=true", "device=cpu"])
    if importlib.util.find_spec("bitsandbytes") is None:  # the lock does not install it
        with pytest.raises(ConfigError, match=r"model.score_in_4bit needs the bitsandbytes package"):
            load_config(path, ["model.score_in_4bit=true", "device=auto"])
    assert load_config(path, ["device=cpu"]).model.score_in_4bit is False


def test_candidate_shorthands(tmp_path: Path) -> None:
    assert candidate_from_yaml("Qwen/Qwen2.5-0.5B")["hf"] == "Qwen/Qwen2.5-0.5B"
    assert candidate_from_yaml("models/x.gguf") == {"name": "x", "gguf": "models/x.gguf"}
    assert candidate_from_yaml(str(tmp_path))["path"] == str(tmp_path)
    assert candidate_from_yaml({"hf": "org/m"})["name"] == "m"


def test_section_hash_stable_and_sensitive(tmp_path: Path) -> None:
    cfg = load_config(write_cfg(tmp_path))
    assert section_hash(cfg.model) == section_hash(cfg.model)
    other = load_config(write_cfg(tmp_path), ["model.remove_ratio=0.5"])
    assert section_hash(cfg.model) != section_hash(other.model)


def test_shipped_configs_load_and_every_domain_task_has_one() -> None:
    configs = Path(__file__).resolve().parents[1] / "configs"
    loaded = {p.stem: load_config(p) for p in sorted(configs.glob("*.yaml"))}
    assert {"demo", "smoke"} <= set(loaded)
    bundled = {cfg.task.bundled for cfg in loaded.values() if cfg.task.bundled}
    domain = set(bundled_task_names()) - {"world_facts"}  # world_facts is the demo's task
    assert domain <= bundled, f"bundled tasks without a config in configs/: {sorted(domain - bundled)}"
    showcases = ("demo", "smoke", "data_compression")  # named after what they show, not after their task
    for name, cfg in loaded.items():
        if cfg.task.bundled and name not in showcases:
            assert name == cfg.task.bundled and cfg.run_dir.name == name, name
        assert cfg.run_dir.name == name, name
