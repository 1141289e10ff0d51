"""Resolving and loading candidates: folders, refused weights, corrupted files, aliases, bundled models."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from damoc.candidates.bundled import bundled_models, default_cache_dir, verify_sha256
from damoc.candidates.resolve import (
    ResolvedModel,
    count_parameters,
    load_model,
    pick_device,
    pick_dtype,
    resolve_candidate,
    resolve_model_ref,
    weights_bytes,
)
from damoc.config import CandidateSpec
from damoc.context import StageContext
from damoc.errors import ModelError


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_default_cache_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DAMOC_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("DAMOC_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "damoc"


def test_catalogue_entries_are_complete() -> None:
    catalogue = bundled_models()
    assert set(catalogue) == {"smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"}
    for entry in catalogue.values():
        assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
        assert entry["packages"] and entry["license"] and entry["upstream"] and entry["layers"] > 0
    assert catalogue["qwen2.5-coder-0.5b"]["sha256"].startswith("1d961463")


def test_resolve_folder_and_load(tiny_model_dirs: dict[str, Path]) -> None:
    resolved = resolve_candidate(CandidateSpec(name="t", path=tiny_model_dirs["llama"]))
    assert resolved == ResolvedModel(name="t", source=tiny_model_dirs["llama"], kind="path")
    model, tok = load_model(resolved, "cpu")
    assert not model.training and tok.pad_token is not None
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())
    text = "Question: What is 2 plus 3?"
    assert tok.decode(tok(text)["input_ids"]) == text


def test_folder_without_weights(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    shutil.copy(tiny_model_dirs["llama"] / "config.json", tmp_path / "config.json")
    with pytest.raises(ModelError, match="no safetensors weights; found no weights"):
        resolve_candidate(CandidateSpec(name="t", path=tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        resolve_candidate(CandidateSpec(name="t", path=tmp_path / "empty"))
    with pytest.raises(ModelError, match="model folder not found"):
        resolve_candidate(CandidateSpec(name="t", path=tmp_path / "nothing"))


def test_pickled_weights_are_refused(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    shutil.copy(tiny_model_dirs["llama"] / "config.json", tmp_path / "config.json")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelError, match=r"found pytorch_model.bin \(pickle\), refused"):
        resolve_candidate(CandidateSpec(name="t", path=tmp_path))


def test_corrupted_safetensors_names_the_file(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    folder = copy_model(tiny_model_dirs["llama"], tmp_path / "m")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelError, match=re.escape(str(weights))):
        load_model(resolve_candidate(CandidateSpec(name="t", path=folder)), "cpu")


def test_non_causal_model_is_refused(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    cfg = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=50)
    BertModel(cfg).save_pretrained(tmp_path)
    with pytest.raises(ModelError, match="not a causal LM"):
        load_model(tmp_path, "cpu")


def test_unknown_alias_lists_available(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"unknown bundled model 'nope'; available: .*smollm2-135m"):
        resolve_candidate(CandidateSpec(name="nope", alias="nope"), tmp_path)


def test_hub_id_and_refs_resolve_without_network(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    hub = resolve_candidate(CandidateSpec(name="x", hf="owner/model", revision="v1"))
    assert (hub.source, hub.revision, hub.kind) == ("owner/model", "v1", "hf")
    assert resolve_model_ref("owner/model").kind == "hf"
    assert resolve_model_ref(str(tiny_model_dirs["qwen2"])).source == tiny_model_dirs["qwen2"]
    with pytest.raises(ModelError, match="GGUF file not found"):
        resolve_model_ref(str(tmp_path / "missing.gguf"), tmp_path)
    with pytest.raises(ModelError, match="available"):
        resolve_model_ref("not-an-alias", tmp_path)


def test_sha256_mismatch_names_file_expected_and_actual(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"abc")
    actual = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    verify_sha256(path, actual)
    with pytest.raises(ModelError, match=f"{re.escape(str(path))}.*expected 0+, got {actual}"):
        verify_sha256(path, "0" * 64)


def test_device_and_dtype() -> None:
    import torch

    assert pick_dtype(torch.device("cpu")) == torch.float32
    assert pick_dtype(torch.device("cuda")) == torch.bfloat16
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(ModelError, match="not supported"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        assert pick_device("auto").type == "cpu"
        with pytest.raises(ModelError, match="no CUDA"):
            pick_device("cuda")


def test_weights_bytes_matches_the_safetensors_file(tiny_model_dirs: dict[str, Path]) -> None:
    """The size estimate behind device_map=auto (an empty meta model) against the fp32 weights file on disk."""
    for folder in tiny_model_dirs.values():
        on_disk = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
        estimate = weights_bytes(str(folder), {}, 4)
        assert 0.97 * on_disk <= estimate <= on_disk  # the file also holds its JSON header


def test_4bit_loading_without_cuda_or_bitsandbytes_is_a_clear_error(tiny_model_dirs: dict[str, Path]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the CPU refusal cannot be shown here")
    with pytest.raises(ModelError, match="4-bit loading needs a CUDA GPU"):
        load_model(tiny_model_dirs["llama"], "cpu", quantize="4bit")


@pytest.mark.slow
def test_bundled_smollm2_prepares_generates_and_compresses(tmp_path: Path) -> None:
    import torch

    from damoc.candidates.bundled import prepare_models
    from damoc.config import ModelConfig
    from damoc.model import build_proxy
    from damoc.tasks.load import Example, write_examples

    cache = tmp_path / "cache"
    folder = prepare_models(["smollm2-135m"], cache)["smollm2-135m"]
    assert folder == cache / "models" / "smollm2-135m"
    source = json.loads((folder / "damoc_source.json").read_text())
    assert source["sha256"] == bundled_models()["smollm2-135m"]["sha256"]
    start = time.time()
    assert prepare_models(["smollm2-135m"], cache)["smollm2-135m"] == folder
    assert time.time() - start < 1.0
    model, tok = load_model(folder, "cpu")
    assert model.config.num_hidden_layers == 30 and count_parameters(model) == 134_515_008
    enc = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, return_tensors="pt"
    )
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=8, do_sample=False)
    assert "Paris" in tok.decode(out[0, enc["input_ids"].shape[1] :])
    del model
    calib = tmp_path / "calib.jsonl"
    questions = [("What is the capital of France?", "Paris"), ("What colour is the sky?", "Blue"),
                 ("How many legs has a dog?", "Four"), ("What is 2 plus 2?", "Four")]  # fmt: skip
    write_examples(calib, [Example(id=str(i), question=q, answer=a) for i, (q, a) in enumerate(questions)])
    (tmp_path / "proxy").mkdir()
    spec = CandidateSpec(name="smollm2-135m", alias="smollm2-135m")
    report = build_proxy(
        spec, calib, ModelConfig(remove_ratio=0.25), tmp_path / "proxy", StageContext(device="cpu", cache_dir=cache)
    )
    assert (report.layers_before, report.layers_after, report.calibration_examples) == (30, 22, 4)
    proxy, ptok = load_model(tmp_path / "proxy", "cpu")
    enc = ptok(["Question: What is the capital of France?\nAnswer:"], return_tensors="pt")
    with torch.no_grad():
        assert torch.isfinite(proxy(**enc).logits).all()
        assert proxy.generate(**enc, max_new_tokens=4, do_sample=False).shape[1] == enc["input_ids"].shape[1] + 4
