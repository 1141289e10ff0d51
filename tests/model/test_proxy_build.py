"""Stage 2 end to end on the tiny fixtures: score, merge, remove, save, reload, generate."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from damoc.config import CandidateSpec, MethodSpec, ModelConfig
from damoc.context import StageContext
from damoc.errors import ConfigError, ModelError
from damoc.model import ProxyReport, build_proxy, read_report
from damoc.registry import registry
from damoc.testing import TINY_ARCHS as ARCHS
from damoc.testing import make_mc_records

TEXT = "Question: What is 2 plus 3?\nAnswer:"


@pytest.fixture()
def calib_file(tmp_path: Path) -> Path:
    from damoc.tasks.load import Example, write_examples

    examples = [
        Example(id=str(r["id"]), question=str(r["question"]), answer=int(r["answer"]), choices=tuple(r["choices"]))  # type: ignore[arg-type]
        for r in make_mc_records(8)
    ]
    path = tmp_path / "calib.jsonl"
    write_examples(path, examples)
    return path


def model_cfg(ratio: float, scorer: str = "block_influence", merger: str = "none", **merger_params: Any) -> ModelConfig:
    return ModelConfig(
        scorer=MethodSpec(method=scorer),
        remove_ratio=ratio,
        merger=MethodSpec(method=merger, params=merger_params),
        max_seq_len=32,
        batch_size=4,
    )


def run_build(src: Path, calib: Path, cfg: ModelConfig, out: Path, **kw: Any) -> ProxyReport:
    out.mkdir(parents=True, exist_ok=True)
    return build_proxy(CandidateSpec(name="tiny", path=src), calib, cfg, out, StageContext(device="cpu", **kw))


def logits_of(folder: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tok = PreTrainedTokenizerFast.from_pretrained(folder)
    with torch.no_grad():
        return model(**tok([TEXT], return_tensors="pt")).logits


@pytest.mark.parametrize("arch", ARCHS)
def test_remove_two_layers_reloads_and_generates(
    tiny_model_dirs: dict[str, Path], calib_file: Path, tmp_path: Path, arch: str
) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

    calls: list[tuple[str, int, int]] = []
    report = run_build(
        tiny_model_dirs[arch], calib_file, model_cfg(2 / 6), tmp_path / "p", progress=lambda *a: calls.append(a)
    )
    assert len(report.scores) == 6 and all(math.isfinite(s) for s in report.scores)
    assert (report.layers_before, report.layers_after, len(report.removed)) == (6, 4, 2)
    assert report.params_after < report.params_before and report.calibration_tokens > 0
    assert read_report(tmp_path / "p") == report and calls and calls[-1][1] == calls[-1][2]
    # an ordinary checkpoint: safetensors weights, the config, the tokenizer and layers.json
    names = {p.name for p in (tmp_path / "p").iterdir()}
    assert {"config.json", "layers.json", "tokenizer.json"} <= names and any(n.endswith(".safetensors") for n in names)
    before = AutoConfig.from_pretrained(tiny_model_dirs[arch])
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "p").eval()
    assert model.config.num_hidden_layers == 4
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == [0, 1, 2, 3]
    kept = [i for i in range(6) if i not in report.removed]
    if arch != "llama":
        assert model.config.layer_types == [before.layer_types[i] for i in kept]
    tok = PreTrainedTokenizerFast.from_pretrained(tmp_path / "p")
    enc = tok([TEXT], return_tensors="pt")
    with torch.no_grad():
        assert torch.isfinite(model(**enc).logits).all()
    out = model.generate(**enc, max_new_tokens=5, do_sample=False, use_cache=True, pad_token_id=tok.pad_token_id)
    assert out.shape[1] == enc["input_ids"].shape[1] + 5


@pytest.mark.parametrize("arch", ARCHS)
def test_remove_ratio_zero_is_identity(
    tiny_model_dirs: dict[str, Path], calib_file: Path, tmp_path: Path, arch: str
) -> None:
    import torch

    report = run_build(tiny_model_dirs[arch], calib_file, model_cfg(0.0), tmp_path / "p")
    assert report.removed == [] and report.layers_after == 6 and len(report.scores) == 6
    assert torch.equal(logits_of(tmp_path / "p"), logits_of(tiny_model_dirs[arch]))


def test_remove_layers_counts_layers_instead_of_a_ratio(
    tiny_model_dirs: dict[str, Path], calib_file: Path, tmp_path: Path
) -> None:
    cfg = model_cfg(0.5).model_copy(update={"remove_layers": 1})  # the count wins over the ratio (3 of 6)
    report = run_build(tiny_model_dirs["llama"], calib_file, cfg, tmp_path / "p")
    assert (report.layers_before, report.layers_after, len(report.removed)) == (6, 5, 1)
    with pytest.raises(ModelError, match=r"model.remove_layers=6 would leave 0 of 6 layers; at most 5"):
        run_build(tiny_model_dirs["llama"], calib_file, cfg.model_copy(update={"remove_layers": 6}), tmp_path / "q")


def test_ratio_leaving_no_layer_is_refused(tiny_model_dirs: dict[str, Path], calib_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="leave none"):
        run_build(tiny_model_dirs["llama"], calib_file, model_cfg(0.95), tmp_path / "p")


def test_unsupported_architecture_is_refused(tiny_tokenizer_dir: Path, calib_file: Path, tmp_path: Path) -> None:
    from transformers import OPTConfig, OPTForCausalLM, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tiny_tokenizer_dir)
    src = tmp_path / "opt"
    opt = OPTConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4)
    OPTForCausalLM(opt).save_pretrained(src)
    tok.save_pretrained(src)
    with pytest.raises(ModelError, match=r"'opt' is not supported.*supported: .*llama"):
        run_build(src, calib_file, model_cfg(0.5), tmp_path / "p")


def test_unknown_method_fails_before_loading(calib_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"available: .*block_influence"):
        run_build(tmp_path / "missing", calib_file, model_cfg(0.25, scorer="nope"), tmp_path / "p")


@pytest.mark.parametrize("scorer", registry("scorer").names())
@pytest.mark.parametrize("merger", registry("merger").names())
def test_every_scorer_and_merger(
    tiny_model_dirs: dict[str, Path], calib_file: Path, tmp_path: Path, scorer: str, merger: str
) -> None:
    import torch

    report = run_build(tiny_model_dirs["qwen2"], calib_file, model_cfg(0.5, scorer, merger), tmp_path / "p", seed=1)
    assert report.layers_after == 3 and len(set(report.removed)) == 3
    assert len(report.scores) == 6 and all(math.isfinite(s) for s in report.scores)
    assert torch.isfinite(logits_of(tmp_path / "p")).all()
    saved = json.loads((tmp_path / "p" / "layers.json").read_text())
    assert saved["scorer"]["method"] == scorer and saved["merger"]["method"] == merger


def test_dare_ties_density_zero_equals_plain_removal(
    tiny_model_dirs: dict[str, Path], calib_file: Path, tmp_path: Path
) -> None:
    import torch

    plain = run_build(tiny_model_dirs["llama"], calib_file, model_cfg(2 / 6), tmp_path / "a")
    zero = run_build(
        tiny_model_dirs["llama"], calib_file, model_cfg(2 / 6, merger="dare_ties", density=0.0), tmp_path / "b"
    )
    dense = run_build(
        tiny_model_dirs["llama"], calib_file, model_cfg(2 / 6, merger="dare_ties", density=0.5), tmp_path / "c"
    )
    assert plain.removed == zero.removed == dense.removed
    assert torch.equal(logits_of(tmp_path / "a"), logits_of(tmp_path / "b"))
    merged = logits_of(tmp_path / "c")
    assert torch.isfinite(merged).all() and not torch.equal(merged, logits_of(tmp_path / "a"))


def test_angular_removes_a_contiguous_block(tiny_model_dirs: dict[str, Path], calib_file: Path, tmp_path: Path) -> None:
    report = run_build(tiny_model_dirs["gemma3"], calib_file, model_cfg(0.5, scorer="angular"), tmp_path / "p")
    start = report.removed[0]
    assert report.removed == [start, start + 1, start + 2]


def test_same_seed_same_proxy(tiny_model_dirs: dict[str, Path], calib_file: Path, tmp_path: Path) -> None:
    import torch

    cfg = model_cfg(2 / 6, merger="dare_ties", density=0.3)
    a = run_build(tiny_model_dirs["llama"], calib_file, cfg, tmp_path / "a", seed=3)
    b = run_build(tiny_model_dirs["llama"], calib_file, cfg, tmp_path / "b", seed=3)
    assert a.scores == b.scores and a.removed == b.removed
    assert torch.equal(logits_of(tmp_path / "a"), logits_of(tmp_path / "b"))
