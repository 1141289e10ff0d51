"""evaluate() on the tiny models: lm-eval log-likelihoods, generation, adapters, reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from damoc.config import EvaluationConfig, TrainingConfig
from damoc.context import StageContext
from damoc.errors import ConfigError, ModelError
from damoc.evaluation import EvalReport, evaluate
from damoc.tasks.load import Example, build_prompt, choice_continuations
from damoc.testing import TINY_ARCHS as ARCHS
from damoc.testing import make_mc_records, write_jsonl

EX = Example(id="q0", question="What is 2 plus 3?", answer=1, choices=("four", "five", "a very long wrong answer"))


def load(model_dir: Path) -> tuple[object, object]:
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    return AutoModelForCausalLM.from_pretrained(model_dir).eval(), PreTrainedTokenizerFast.from_pretrained(model_dir)


def full_logits_loglik(model: object, tokenizer: object, context: str, continuation: str) -> float:
    """The hand computation: full logits over the whole sequence, continuation = tail tokens."""
    import torch

    whole = tokenizer(context + continuation)["input_ids"]  # type: ignore[operator]
    n_ctx = len(tokenizer(context)["input_ids"])  # type: ignore[operator]
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0]  # type: ignore[operator]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    return float(sum(logprobs[t - 1, whole[t]] for t in range(n_ctx, len(whole))))


@pytest.mark.parametrize("arch", ARCHS)
def test_mc_loglik_matches_full_logits(tiny_model_dirs: dict[str, Path], arch: str) -> None:
    from damoc.evaluation.loglik import score_multiple_choice

    model, tok = load(tiny_model_dirs[arch])
    examples = [EX, Example(id="q1", question="Say one?", answer=0, choices=("one", "two"))]
    rows = score_multiple_choice(examples, model, tok, max_seq_len=64, batch_size=2)
    for ex, row in zip(examples, rows, strict=True):
        expected = [full_logits_loglik(model, tok, build_prompt(ex), c) for c in choice_continuations(ex)]
        assert row["logliks"] == pytest.approx(expected, abs=1e-4)
        assert row["choice_lengths"] == [len(c) for c in ex.choices or ()]  # the raw choice, as lm-eval


@pytest.mark.parametrize("arch", ARCHS)
def test_requests_inside_a_longer_row_score_as_their_own_row(tiny_model_dirs: dict[str, Path], arch: str) -> None:
    """Single-token choices share the prompt, "one" is a prefix of "one two": one row serves several requests."""
    from damoc.evaluation.loglik import build_requests, merge_prefixes, score_batch, score_requests

    model, tok = load(tiny_model_dirs[arch])
    examples = [
        Example(id="m0", question="Say one?", answer=0, choices=("one", "two", "one two", "one two three")),
        Example(id="m1", question="Say one?", answer=1, choices=("one", "two")),  # same prompt, other example
        EX,
    ]
    requests = build_requests(examples, tok, 64)
    rows, owner = merge_prefixes(requests)
    assert len(rows) < len(requests) and all(rows[i][: len(r.input_ids)] == r.input_ids for r, i in
                                              zip(requests, owner, strict=True))  # fmt: skip
    examples_of_row: dict[int, set[int]] = {}
    for r, i in zip(requests, owner, strict=True):
        examples_of_row.setdefault(i, set()).add(r.example)
    assert all(len(v) == 1 for v in examples_of_row.values())  # rows are never shared across examples
    merged = score_requests(model, requests, batch_size=2, pad_id=tok.pad_token_id)
    alone = [score_batch(model, [r], tok.pad_token_id)[0] for r in requests]
    assert merged == pytest.approx(alone, abs=1e-4)


def test_acc_norm_divides_by_the_raw_choice_length(tiny_model_dirs: dict[str, Path], monkeypatch: Any) -> None:
    """lm-eval 0.4.13: loglik / len(choice), the delimiter not counted. (-5.5, -10) for "ab"/"abcd" picks
    "abcd" (-2.75 < -2.5); dividing by len(" " + choice) would pick "ab" (-1.83 > -2.0)."""
    from damoc.evaluation import loglik
    from damoc.registry import registry

    _, tok = load(tiny_model_dirs["llama"])
    monkeypatch.setattr(loglik, "score_all", lambda *a, **k: [-5.5, -10.0])
    ex = Example(id="n", question="Which?", answer=1, choices=("ab", "abcd"))
    (row,) = loglik.score_multiple_choice([ex], None, tok, max_seq_len=64, batch_size=2)
    assert row["choice_lengths"] == [2, 4]
    assert (row["pred"], row["pred_norm"]) == (0, 1)
    assert registry("metric").build("acc_norm").compute([row]) == 1.0


def test_mc_truncation_keeps_the_continuation(tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.evaluation.loglik import build_requests

    _, tok = load(tiny_model_dirs["llama"])
    full = build_requests([EX], tok, max_seq_len=256)
    short = build_requests([EX], tok, max_seq_len=8)
    for f, s in zip(full, short, strict=True):
        # a continuation longer than the window keeps its tail; a short one stays whole
        assert s.input_ids == f.input_ids[-8:] and s.targets == f.targets[-8:]
    assert len(short[1].targets) < 8 < len(short[2].targets) + 1


@pytest.fixture()
def qa_file(tmp_path: Path) -> Path:
    records = [{"id": f"a{i}", "question": f"What is {i} plus one?", "answer": "one two"} for i in range(5)]
    return write_jsonl(tmp_path / "qa.jsonl", records)


def run_eval(
    model_dir: Path, data: Path, task: str, metrics: list[str], out: Path, progress: Any = None, **kw: Any
) -> EvalReport:
    out.mkdir()
    cfg = EvaluationConfig(batch_size=3, max_new_tokens=6, max_seq_len=64)
    ctx = StageContext(device="cpu", progress=progress)
    return evaluate(model_dir, data, task, cfg, metrics, out, ctx, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("arch", ARCHS)
def test_evaluate_multiple_choice_end_to_end(
    tiny_model_dirs: dict[str, Path], mc_files: tuple[Path, Path], tmp_path: Path, arch: str
) -> None:
    calls: list[int] = []
    report = run_eval(tiny_model_dirs[arch], mc_files[1], "multiple_choice", ["acc", "acc_norm"], tmp_path / "e",
                      progress=lambda d, n, t: calls.append(n))  # fmt: skip
    assert set(report.metrics) == {"acc", "acc_norm"} and all(0 <= v <= 1 for v in report.metrics.values())
    assert report.num_examples == 16 and not report.adapter and report.device == "cpu"
    from damoc.evaluation.loglik import build_requests, count_batches
    from damoc.tasks.load import read_examples

    requests = build_requests(read_examples(mc_files[1]), load(tiny_model_dirs[arch])[1], 64)
    assert calls == list(range(1, count_batches(requests, 3) + 1))
    assert EvalReport.model_validate_json((tmp_path / "e" / "eval.json").read_text()) == report
    rows = [json.loads(line) for line in (tmp_path / "e" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 16 and {"id", "answer", "logliks", "choice_lengths", "pred", "pred_norm"} <= set(rows[0])
    assert report.metrics["acc"] == pytest.approx(sum(r["pred"] == r["answer"] for r in rows) / 16)


@pytest.mark.parametrize("arch", ARCHS)
def test_evaluate_qa_end_to_end(tiny_model_dirs: dict[str, Path], qa_file: Path, tmp_path: Path, arch: str) -> None:
    report = run_eval(tiny_model_dirs[arch], qa_file, "qa", ["exact_match", "f1"], tmp_path / "e")
    assert set(report.metrics) == {"exact_match", "f1"} and all(0 <= v <= 1 for v in report.metrics.values())
    rows = [json.loads(line) for line in (tmp_path / "e" / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"a{i}" for i in range(5)]
    assert all(isinstance(r["prediction"], str) and "\n" not in r["prediction"] for r in rows)


@pytest.mark.parametrize("arch", ARCHS)
def test_qa_generation_is_batch_independent(tiny_model_dirs: dict[str, Path], qa_file: Path, arch: str) -> None:
    from damoc.evaluation.generate import generate_answers
    from damoc.tasks.load import read_examples

    model, tok = load(tiny_model_dirs[arch])
    examples = read_examples(qa_file)
    one = generate_answers(examples, model, tok, max_seq_len=64, max_new_tokens=6, batch_size=1)
    many = generate_answers(examples, model, tok, max_seq_len=64, max_new_tokens=6, batch_size=5)
    assert one == many
    assert any(r["prediction"] for r in one)


def test_metric_task_type_mismatch_fails_before_loading(tmp_path: Path, qa_file: Path) -> None:
    with pytest.raises(ConfigError, match="acc"):
        run_eval(tmp_path / "no-model", qa_file, "qa", ["acc"], tmp_path / "e")


def test_adapter_changes_the_scores(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    from damoc.training import train_proxy

    data = write_jsonl(tmp_path / "train.jsonl", make_mc_records(8, seed=0))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    cfg = TrainingConfig(max_steps=4, batch_size=4, learning_rate=2e-2, max_seq_len=64)
    train_proxy(tiny_model_dirs["llama"], data, cfg, adapter, StageContext(device="cpu"))
    base = run_eval(tiny_model_dirs["llama"], data, "multiple_choice", ["acc"], tmp_path / "base")
    tuned = run_eval(
        tiny_model_dirs["llama"], data, "multiple_choice", ["acc"], tmp_path / "tuned", adapter_dir=adapter
    )
    assert tuned.adapter and not base.adapter
    logliks = [
        [json.loads(line)["logliks"] for line in (tmp_path / name / "predictions.jsonl").read_text().splitlines()]
        for name in ("base", "tuned")
    ]
    assert logliks[0] != logliks[1]


def test_full_checkpoint_in_adapter_dir_is_loaded(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", make_mc_records(3, seed=2))
    a = run_eval(tiny_model_dirs["gemma3"], data, "multiple_choice", ["acc"], tmp_path / "a")
    # the "adapter" is another full checkpoint: its scores, not model_dir's, must come out
    b = run_eval(
        tiny_model_dirs["llama"],
        data,
        "multiple_choice",
        ["acc"],
        tmp_path / "b",
        adapter_dir=tiny_model_dirs["gemma3"],
    )
    rows = [(tmp_path / n / "predictions.jsonl").read_text() for n in ("a", "b")]
    assert rows[0] == rows[1] and b.adapter and a.metrics == b.metrics
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="neither"):
        run_eval(
            tiny_model_dirs["llama"], data, "multiple_choice", ["acc"], tmp_path / "c", adapter_dir=tmp_path / "empty"
        )


@pytest.mark.parametrize("arch", ARCHS)
def test_shared_prefix_scores_equal_batched_scores(tiny_model_dirs: dict[str, Path], arch: str) -> None:
    """A passage longer than gemma's tiny sliding window (16): the cached path must give the batched logliks."""
    from damoc.evaluation.loglik import score_multiple_choice

    model, tok = load(tiny_model_dirs[arch])
    passage = " ".join(f"Question: What is {i} plus {i}? Answer: {i + i}." for i in range(12))
    examples = [
        Example(id="p0", question="What is 2 plus 3?", answer=1, choices=("four", "five", "a much longer answer"),
                context=passage),
        Example(id="p1", question="Say one?", answer=0, choices=("one", "two"), context=passage[:40]),
        EX,
    ]  # fmt: skip
    calls: list[tuple[int, int]] = []
    shared = score_multiple_choice(examples, model, tok, 256, 2, lambda d, n, t: calls.append((n, t)), min_shared=8)
    batched = score_multiple_choice(examples, model, tok, 256, 2, min_shared=10_000)
    for s, b in zip(shared, batched, strict=True):
        assert s["logliks"] == pytest.approx(b["logliks"], abs=1e-4)
        assert (s["pred"], s["pred_norm"]) == (b["pred"], b["pred_norm"])
    assert calls[-1][0] == calls[-1][1] and len({t for _, t in calls}) == 1  # one progress total, reached
