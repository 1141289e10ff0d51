"""Safety defaults: no remote code unless asked, no pickle unless asked (and then weights_only), and
nothing written outside the run folder and the cache folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from damoc.candidates.resolve import ResolvedModel, load_model, resolve_candidate
from damoc.config import CandidateSpec
from damoc.errors import ModelError
from damoc.testing import make_mc_records, write_jsonl


def damoc(*args: str | Path, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "damoc", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="session")
def data_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("safety_data")
    return write_jsonl(root / "train.jsonl", make_mc_records(8)), write_jsonl(
        root / "eval.jsonl", make_mc_records(4, 1)
    )


def run_config(path: Path, run_dir: Path, data: tuple[Path, Path], candidate: dict[str, Any]) -> Path:
    raw = {
        "run_dir": str(run_dir),
        "device": "cpu",
        "task": {"train": {"path": str(data[0])}, "eval": {"path": str(data[1])}},
        "candidates": [candidate],
        "data": {"steps": [{"method": "random", "params": {"keep_ratio": 0.5}}], "calibration_samples": 4},
        "model": {"remove_ratio": 0.34, "max_seq_len": 32},
        "training": {"max_steps": 2, "batch_size": 2, "max_seq_len": 48},
        "evaluation": {"batch_size": 8},
    }
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def spy_from_pretrained(monkeypatch: pytest.MonkeyPatch, cls: Any) -> list[dict[str, Any]]:
    """Record the keyword arguments of every ``cls.from_pretrained`` call (the real one still runs)."""
    calls: list[dict[str, Any]] = []
    original = cls.from_pretrained

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, "from_pretrained", spy)
    return calls


# ---------------------------------------------------------------- remote code


def test_trust_remote_code_is_off_unless_set_per_candidate(
    tiny_model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    model_calls = spy_from_pretrained(monkeypatch, AutoModelForCausalLM)
    config_calls = spy_from_pretrained(monkeypatch, AutoConfig)
    folder = tiny_model_dirs["llama"]
    load_model(resolve_candidate(CandidateSpec(name="t", path=folder)), "cpu")
    load_model(folder, "cpu")  # how later stages load proxies
    assert len(model_calls) == 2 and len(config_calls) >= 2
    assert all(c["trust_remote_code"] is False for c in model_calls + config_calls)
    assert [c["use_safetensors"] for c in model_calls] == [True, True]
    model_calls.clear()
    load_model(resolve_candidate(CandidateSpec(name="t", path=folder, trust_remote_code=True)), "cpu")
    assert model_calls[0]["trust_remote_code"] is True


@pytest.fixture()
def remote_code_model(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A checkpoint whose config points at its own Python code, which would write a marker file."""
    folder = shutil.copytree(tiny_model_dirs["llama"], tmp_path / "remote")
    marker = tmp_path / "remote_code_ran"
    config = json.loads((folder / "config.json").read_text())
    config.update(
        model_type="damoc_evil",
        architectures=["EvilForCausalLM"],
        auto_map={"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilForCausalLM"},
    )
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "evil.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    return folder, marker


def test_remote_code_is_refused_without_the_flag(remote_code_model: tuple[Path, Path]) -> None:
    folder, marker = remote_code_model
    with pytest.raises(ModelError, match=r"needs the checkpoint's own Python code.*trust_remote_code: true"):
        load_model(ResolvedModel(name="evil", source=folder), "cpu")
    assert not marker.exists()


def test_remote_code_is_refused_through_the_cli(
    remote_code_model: tuple[Path, Path], data_files: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, marker = remote_code_model
    cfg = run_config(tmp_path / "cfg.yaml", tmp_path / "run", data_files, {"name": "evil", "path": str(folder)})
    res = damoc("run", cfg, env={"DAMOC_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf")})
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    message = " ".join(res.stderr.split())
    assert str(folder) in message and "'damoc_evil' needs the checkpoint's own Python code" in message
    assert "trust_remote_code: true" in message
    assert not marker.exists()
    assert not (tmp_path / "hf" / "modules").exists()  # transformers copies remote code there before running it


# ---------------------------------------------------------------- pickle


def save_pickled(src: Path, dst: Path, state: dict[str, Any] | None = None) -> Path:
    """A copy of ``src`` whose weights are a pickled ``pytorch_model.bin`` instead of safetensors."""
    import torch
    from transformers import AutoModelForCausalLM

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.safetensors"))
    if state is None:
        state = AutoModelForCausalLM.from_pretrained(src).state_dict()
    torch.save(state, dst / "pytorch_model.bin")
    return dst


class RunsCode:
    """Unpickling this runs ``exec``: what a malicious pytorch_model.bin does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


def test_pickle_refused_through_the_cli(
    tiny_model_dirs: dict[str, Path], data_files: tuple[Path, Path], tmp_path: Path
) -> None:
    folder = save_pickled(tiny_model_dirs["llama"], tmp_path / "pickled")
    cfg = run_config(tmp_path / "cfg.yaml", tmp_path / "run", data_files, {"name": "pkl", "path": str(folder)})
    env = {"DAMOC_CACHE": str(tmp_path / "cache")}
    res = damoc("run", cfg, env=env)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    message = " ".join(res.stderr.split())
    assert f"{folder}: folder has no safetensors weights; found pytorch_model.bin (pickle), refused" in message
    assert "allow_pickle: true" in message
    assert not (tmp_path / "run" / "models" / "pkl" / "proxy").exists()
    res = damoc("validate", cfg, "candidates.0.allow_pickle=true", env=env)  # the opt-in is a known key
    assert res.returncode == 0, res.stderr


def test_allowed_pickle_loads_with_weights_only(
    tiny_model_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    folder = save_pickled(tiny_model_dirs["llama"], tmp_path / "pickled")
    model_calls = spy_from_pretrained(monkeypatch, AutoModelForCausalLM)
    loads: list[dict[str, Any]] = []
    original_load = torch.load

    def spy_load(*args: Any, **kwargs: Any) -> Any:
        loads.append(kwargs)
        return original_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy_load)
    model, _ = load_model(resolve_candidate(CandidateSpec(name="p", path=folder, allow_pickle=True)), "cpu")
    assert model_calls[0]["use_safetensors"] is False and model_calls[0]["weights_only"] is True
    assert loads and all(k.get("weights_only") is True for k in loads)
    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dirs["llama"])
    assert torch.equal(model.lm_head.weight, reference.lm_head.weight)


def test_allowed_pickle_never_runs_code(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    marker = tmp_path / "pickle_code_ran"
    folder = save_pickled(tiny_model_dirs["llama"], tmp_path / "evil", state={"x": RunsCode(marker)})
    spec = CandidateSpec(name="evil", path=folder, allow_pickle=True)
    with pytest.raises(ModelError, match="loading failed"):
        load_model(resolve_candidate(spec), "cpu")
    assert not marker.exists()


# ---------------------------------------------------------------- where files go


def test_nothing_written_outside_run_and_cache(
    tiny_model_dirs: dict[str, Path], data_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """A whole run with HOME, HF_HOME, XDG_CACHE_HOME, TMPDIR and cwd pointed at fresh empty folders."""
    sandbox = {name: tmp_path / name for name in SANDBOX}
    for folder in sandbox.values():
        folder.mkdir()
    inputs = [tiny_model_dirs["llama"], data_files[0].parent]
    before = {p: _files(p) for p in inputs}
    cfg = run_config(tmp_path / "cfg.yaml", tmp_path / "run", data_files, {"name": "t", "path": str(inputs[0])})
    env = {
        "HOME": str(sandbox["home"]),
        "HF_HOME": str(sandbox["hf_home"]),
        "XDG_CACHE_HOME": str(sandbox["xdg_cache"]),
        "TMPDIR": str(sandbox["tmp"]),
        "DAMOC_CACHE": str(tmp_path / "cache"),
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "TORCH", "TRITON"))}
    res = subprocess.run(
        [sys.executable, "-m", "damoc", "run", str(cfg)],
        capture_output=True, text=True, env={**clean, **env}, cwd=sandbox["cwd"], timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "run" / "ranking.json").is_file()
    outside = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if _outside(p, tmp_path))
    # `import peft` makes torch._dynamo create an empty $TMPDIR/torchinductor_<user> folder; nothing else
    # may appear (the cli can point TORCHINDUCTOR_CACHE_DIR into the cache folder to remove even that)
    assert [p for p in outside if not p.startswith("tmp/torchinductor_")] == [], outside
    assert not any(p.is_file() for p in sandbox["tmp"].rglob("*"))
    assert {p: _files(p) for p in inputs} == before


SANDBOX = ("home", "hf_home", "xdg_cache", "tmp", "cwd")


def _outside(path: Path, root: Path) -> bool:
    """Anything but the run folder, the cache folder, the config and the (empty) sandbox folders."""
    parts = path.relative_to(root).parts
    return parts[0] not in ("run", "cache", "cfg.yaml") and (len(parts) > 1 or parts[0] not in SANDBOX)


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}
