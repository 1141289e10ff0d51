"""Parity with lm-evaluation-harness 0.4.13: the same tokens, log-likelihoods and predictions.

The fast tests compare damoc with lm-eval's own code on the tiny models (tokenisation through
``HFLM.loglikelihood``, scores through ``simple_evaluate``); the slow one does it on the real SmolLM2.
Tests that need lm-eval skip when it is not installed (``pip install lm_eval==0.4.13``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from damoc.config import EvaluationConfig, TaskConfig
from damoc.errors import ConfigError, DataError
from damoc.tasks.harness import export_lm_eval_task
from damoc.tasks.load import Example
from damoc.tasks.prompts import PromptSpec

CHAT_TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}<|assistant|>\n"
PASSAGE = " ".join(f"Question: What is {i} plus {i}? Answer: {i + i}." for i in range(10))
EXAMPLES = [
    Example(id="p0", question="What is 2 plus 3?", answer=1, choices=("four", "five", "a much longer answer"),
            context=PASSAGE),  # a shared prompt of 64+ tokens: the KV-cache path
    Example(id="q0", question="What is 2 plus 3?", answer=1, choices=("four", "five", "six")),
    Example(id="q1", question="Say one?", answer=0, choices=("one", "two")),
    Example(id="q2", question="Which is longer?", answer=1, choices=("ab", "abcd")),
]  # fmt: skip


def load_tiny(model_dir: Path, bos: bool = False, chat: bool = False) -> tuple[Any, Any]:
    """A tiny model and its tokenizer; ``bos``: the tokenizer adds a BOS itself (as Llama's and Gemma's)."""
    from tokenizers import processors
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(model_dir)
    if bos:
        tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", tok.bos_token_id)]
        )
        assert tok("a")["input_ids"][0] == tok.bos_token_id
    if chat:
        tok.chat_template = CHAT_TEMPLATE
    return AutoModelForCausalLM.from_pretrained(model_dir).eval(), tok


def lm_eval_pairs(model: Any, tok: Any, pairs: list[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """lm-eval's own (context ids, continuation ids) for each pair, from ``HFLM.loglikelihood``."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=1)
    seen: list[tuple[list[int], list[int]]] = []

    def capture(requests: list[Any], **_: Any) -> list[tuple[float, bool]]:
        seen.extend((list(ctx), list(cont)) for _, ctx, cont in requests)
        return [(0.0, False)] * len(requests)

    lm._loglikelihood_tokens = capture  # type: ignore[method-assign]
    lm.loglikelihood([Instance("loglikelihood", {}, pair, 0) for pair in pairs], disable_tqdm=True)
    return seen


PAIRS = [
    ("Question: What is 2 plus 3?\nAnswer:", " five"),
    ("Answer: ", "five"),  # a trailing space moves to the continuation
    ("Answer:\n", "five"),  # so does a newline (lm-eval strips all trailing whitespace)
    ("Answer:\t \n", " five"),
    ("<s>Answer:", " five"),  # the text already starts with the BOS text: no second BOS
    ("", "five"),  # the empty context: the prefix token is the context
]


@pytest.mark.parametrize("bos", [False, True], ids=["no_bos", "bos"])
def test_encode_pair_equals_lm_eval(tiny_model_dirs: dict[str, Path], bos: bool) -> None:
    pytest.importorskip("lm_eval")
    from damoc.tasks.tokens import encode_pair

    model, tok = load_tiny(tiny_model_dirs["llama"], bos=bos)
    ours = [encode_pair(tok, ctx, cont) for ctx, cont in PAIRS]
    assert ours == lm_eval_pairs(model, tok, PAIRS)
    assert (ours[0][0][0] == tok.bos_token_id) == bos and ours[4][0].count(tok.bos_token_id) == 1
    assert tok.decode(ours[2][1]) == "\nfive"


def score_both(model: Any, tok: Any, tmp_path: Path, spec: PromptSpec | None) -> tuple[list[dict], dict[str, Any]]:
    from damoc.evaluation.harness import run_lm_eval
    from damoc.evaluation.loglik import score_multiple_choice

    cfg = EvaluationConfig(batch_size=3, max_seq_len=256)
    ours = score_multiple_choice(EXAMPLES, model, tok, cfg.max_seq_len, cfg.batch_size, spec=spec)
    return ours, run_lm_eval(EXAMPLES, "multiple_choice", model, tok, cfg, tmp_path, spec)


def assert_same_predictions(ours: list[dict], theirs: dict[str, Any], abs_loglik: float) -> None:
    """Per example: logliks, lm-eval's own argmax and len(choice) normalisation, its acc and acc_norm."""
    import numpy as np

    samples = sorted(theirs["samples"], key=lambda s: s["doc_id"])
    assert len(samples) == len(ours)
    for row, s in zip(ours, samples, strict=True):
        lls = np.array([float(r[0]) for r in s["filtered_resps"]])
        assert row["logliks"] == pytest.approx(lls.tolist(), abs=abs_loglik)
        lengths = np.array([float(len(c)) for c in s["doc"]["choices"]])
        assert (row["pred"], row["pred_norm"]) == (int(np.argmax(lls)), int(np.argmax(lls / lengths)))
        assert (float(row["pred"] == row["answer"]), float(row["pred_norm"] == row["answer"])) == (
            s["acc"],
            s["acc_norm"],
        )
    for metric in ("acc", "acc_norm"):
        key = "pred" if metric == "acc" else "pred_norm"
        ours_value = sum(r[key] == r["answer"] for r in ours) / len(ours)
        assert ours_value == pytest.approx(theirs["results"][f"{metric},none"], abs=1e-6)


CASES = [("llama", False, None), ("qwen2", True, None), ("gemma3", True, PromptSpec(use_chat_template="always"))]


@pytest.mark.parametrize(("arch", "bos", "spec"), CASES, ids=["llama", "qwen2+bos", "gemma3+bos+chat"])
def test_tiny_models_score_like_lm_eval(
    tiny_model_dirs: dict[str, Path], tmp_path: Path, arch: str, bos: bool, spec: PromptSpec | None
) -> None:
    pytest.importorskip("lm_eval")
    from damoc.evaluation.loglik import build_requests
    from damoc.evaluation.prefix import MIN_SHARED_TOKENS, shared_prefix_len

    model, tok = load_tiny(tiny_model_dirs[arch], bos=bos, chat=spec is not None)
    ours, theirs = score_both(model, tok, tmp_path, spec)
    assert_same_predictions(ours, theirs, abs_loglik=1e-4)
    passage = [r.input_ids for r in build_requests(EXAMPLES[:1], tok, 256, spec)]
    assert shared_prefix_len(passage) >= MIN_SHARED_TOKENS  # the first example took the KV-cache path


def test_lm_eval_backend_writes_the_same_rows(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("lm_eval")
    from damoc.context import StageContext
    from damoc.evaluation import evaluate
    from damoc.testing import write_jsonl

    data = write_jsonl(tmp_path / "eval.jsonl", [ex.to_json() for ex in EXAMPLES])
    reports, rows = {}, {}
    for backend in ("damoc", "lm_eval"):
        out = tmp_path / backend
        out.mkdir()
        cfg = EvaluationConfig(batch_size=3, max_seq_len=256, backend=backend)  # type: ignore[arg-type]
        reports[backend] = evaluate(tiny_model_dirs["llama"], data, "multiple_choice", cfg, ["acc", "acc_norm"], out,
                                    StageContext(device="cpu"))  # fmt: skip
        rows[backend] = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
        assert sorted(p.name for p in out.iterdir()) == ["eval.json", "predictions.jsonl"]  # the temp task is gone
    assert reports["lm_eval"].backend == "lm_eval" and reports["damoc"].backend == "damoc"
    assert reports["lm_eval"].metrics == pytest.approx(reports["damoc"].metrics, abs=1e-6)
    for a, b in zip(rows["damoc"], rows["lm_eval"], strict=True):
        assert a["logliks"] == pytest.approx(b["logliks"], abs=1e-4)
        assert {k: v for k, v in a.items() if k != "logliks"} == {k: v for k, v in b.items() if k != "logliks"}


def test_lm_eval_backend_generates_qa_answers_like_damoc(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("lm_eval")
    from damoc.evaluation.generate import generate_answers
    from damoc.evaluation.harness import predict_with_lm_eval

    model, tok = load_tiny(tiny_model_dirs["llama"])
    examples = [Example(id=f"a{i}", question=f"What is {i} plus one?", answer="one two") for i in range(4)]
    cfg = EvaluationConfig(batch_size=2, max_new_tokens=6, max_seq_len=64)
    ours = generate_answers(examples, model, tok, cfg.max_seq_len, cfg.max_new_tokens, cfg.batch_size)
    assert predict_with_lm_eval(examples, "qa", model, tok, cfg, tmp_path) == ours


def test_missing_lm_eval_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from damoc.evaluation import harness

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lm_eval" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install lm_eval==0\.4\.13"):
        harness.require_lm_eval()


def test_export_writes_an_lm_eval_multiple_choice_task(tmp_path: Path) -> None:
    task = export_lm_eval_task(EXAMPLES, "multiple_choice", tmp_path / "out", name="damoc_x")
    config = yaml.safe_load(task.yaml_file.read_text())
    assert config["task"] == "damoc_x" and config["output_type"] == "multiple_choice"
    assert (config["doc_to_text"], config["doc_to_choice"], config["doc_to_target"]) == ("prompt", "choices", "answer")
    assert config["target_delimiter"] == " " and config["dataset_path"] == "json"
    assert config["dataset_kwargs"]["data_files"]["test"] == str(task.data_file) and task.data_file.is_absolute()
    assert [m["metric"] for m in config["metric_list"]] == ["acc", "acc_norm"]
    rows = [json.loads(line) for line in task.data_file.read_text().splitlines()]
    assert rows[1] == {"id": "q0", "prompt": "Question: What is 2 plus 3?\nAnswer:", "choices": ["four", "five", "six"],
                       "answer": 1}  # fmt: skip
    assert rows[0]["prompt"].startswith(f"Context: {PASSAGE}\n") and task.num_examples == 4


def test_export_qa_is_generate_until_and_refuses_multiline_answers(tmp_path: Path) -> None:
    qa = [Example(id="a", question="Capital of France?", answer="Paris")]
    task = export_lm_eval_task(qa, "qa", tmp_path / "qa", max_new_tokens=7)
    config = yaml.safe_load(task.yaml_file.read_text())
    assert config["output_type"] == "generate_until" and config["metric_list"][0]["metric"] == "exact_match"
    assert config["generation_kwargs"] == {"until": ["\n"], "do_sample": False, "max_gen_toks": 7}
    with pytest.raises(DataError, match="several lines"):
        export_lm_eval_task([Example(id="b", question="q?", answer="one\ntwo")], "qa", tmp_path / "bad")


def test_export_lm_eval_command_writes_the_bundled_eval_split(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "cfg.yaml"
    raw = {"run_dir": str(tmp_path / "run"), "task": {"bundled": "world_facts", "max_eval_examples": 5},
           "candidates": ["smollm2-135m"]}  # fmt: skip
    cfg.write_text(yaml.safe_dump(raw))
    res = subprocess.run([sys.executable, "-m", "damoc", "export-lm-eval", str(cfg), str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    yaml_file, data_file = (Path(p) for p in res.stdout.split())
    assert yaml.safe_load(yaml_file.read_text())["task"] == "damoc_world_facts"
    assert len(data_file.read_text().splitlines()) == 5 and "--tasks damoc_world_facts" in res.stderr
    chat = tmp_path / "chat.yaml"
    chat.write_text(yaml.safe_dump({**raw, "task": {**raw["task"], "use_chat_template": "always"}}))
    res = subprocess.run([sys.executable, "-m", "damoc", "export-lm-eval", str(chat), str(tmp_path / "y")],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and "--candidate" in res.stderr and "Traceback" not in res.stderr


# ---------------------------------------------------------------- the real SmolLM2 (slow)


def bundled_eval(name: str, n: int) -> tuple[list[Example], PromptSpec]:
    from damoc.loading import parse_task
    from damoc.tasks.load import load_split, task_sources

    task: TaskConfig = parse_task({"bundled": name})
    _, source, fields, task_type = task_sources(task)
    return load_split(source, fields, task_type, "eval")[:n], PromptSpec.from_task(task)


@pytest.mark.slow
@pytest.mark.parametrize(("task", "n"), [("world_facts", 40), ("reading_comprehension", 20)])
def test_smollm2_scores_like_lm_eval(tmp_path: Path, task: str, n: int) -> None:
    pytest.importorskip("lm_eval")
    from damoc.candidates.resolve import load_model, resolve_model_ref
    from damoc.evaluation.harness import run_lm_eval
    from damoc.evaluation.loglik import build_requests, score_multiple_choice
    from damoc.evaluation.prefix import MIN_SHARED_TOKENS, shared_prefix_len

    examples, spec = bundled_eval(task, n)
    model, tok = load_model(resolve_model_ref("smollm2-135m"), "cpu", dtype="float32")
    cfg = EvaluationConfig(batch_size=8, max_seq_len=512)
    ours = score_multiple_choice(examples, model, tok, cfg.max_seq_len, cfg.batch_size, spec=spec)
    theirs = run_lm_eval(examples, "multiple_choice", model, tok, cfg, tmp_path, spec)
    assert_same_predictions(ours, theirs, abs_loglik=1e-4)
    if task == "reading_comprehension":
        requests = build_requests(examples[:1], tok, cfg.max_seq_len, spec)
        assert shared_prefix_len([r.input_ids for r in requests]) >= MIN_SHARED_TOKENS  # the KV-cache path
