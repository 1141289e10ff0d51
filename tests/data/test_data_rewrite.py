"""The ``rewrite`` data step: a real local chat endpoint, a tiny local model, the checks, the cache, the judge."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

from damoc.config import DataConfig, TaskConfig
from damoc.context import StageContext
from damoc.data import compress_dataset
from damoc.data.chat import LocalChat, Reply, load_local_chat
from damoc.data.compressors.rewrite import (
    DEFAULT_PROMPT,
    RewriteCompressor,
    answer_margins,
    cached_replies,
    check_rewrite,
    clean_reply,
    entry_path,
    reply_key,
)
from damoc.errors import ConfigError, ModelError
from damoc.registry import registry
from damoc.tasks.example import Example
from damoc.tasks.load import read_examples
from damoc.testing import ChatServer, drop_filler, last_block, make_mc_records, write_jsonl

PASSAGE = (
    "The town of Ulverbury was founded in 1667 by Lucia Eastlake, who was a blacksmith from Ruskhaven. "
    "Its stone bridge was built in 1812 because a winter flood had swept away the old wooden footbridge. "
    "Edwin Ulrich, who was a retired sea captain, paid for the town hall."
)
EXAMPLES = [
    Example(
        id="rc1",
        question="Who founded the town of Ulverbury according to the passage above?",
        answer=0,
        choices=("Lucia Eastlake", "Edwin Ulrich", "Ilse Sorensen"),
        context=PASSAGE,
    ),
    Example(id="mc1", question="In the small town by the river, what is the sum of five and four?", answer=1, choices=("eight", "nine")),
    Example(id="qa1", question="Which year was the stone bridge of the town built, by the passage?", answer="1812", context=PASSAGE),
    Example(id="short", question="Who paid for the hall?", answer=1, choices=("Lucia Eastlake", "Edwin Ulrich")),
]  # fmt: skip
SECRET = "sk-test-5f1e0c9d-do-not-store"


def endpoint_params(server: ChatServer, **extra: Any) -> dict[str, Any]:
    return {"backend": "openai", "base_url": server.url, "model": "test-model", "backoff_s": 0.01, **extra}


def rewrite(params: dict[str, Any], examples: list[Example], cache: Path) -> tuple[list[Example], RewriteCompressor]:
    method = registry("compressor").build("rewrite", params)
    assert isinstance(method, RewriteCompressor)
    return method.compress(examples, StageContext(device="cpu", cache_dir=cache)), method


def texts(examples: list[Example]) -> list[tuple[str, str | None]]:
    return [(ex.question, ex.context) for ex in examples]


def test_endpoint_rewrites_prompt_side_only(tmp_path: Path) -> None:
    with ChatServer() as server:
        out, method = rewrite(endpoint_params(server, max_rounds=1), EXAMPLES, tmp_path)
    assert [(e.id, e.answer, e.choices) for e in out] == [(e.id, e.answer, e.choices) for e in EXAMPLES]
    # every text of more than min_words (8) words was sent once and rewritten exactly as the server answered
    assert out[0].context == drop_filler(PASSAGE) and out[2].context == drop_filler(PASSAGE)
    assert out[0].question == drop_filler(EXAMPLES[0].question)
    assert out[3] == EXAMPLES[3]  # 4 words: left alone
    sent = sorted(last_block(r["body"]["messages"][-1]["content"]) for r in server.requests)
    # the passage two questions share is sent once
    assert sent == sorted([EXAMPLES[0].question, PASSAGE, EXAMPLES[1].question, EXAMPLES[2].question])
    assert all(r["body"]["model"] == "test-model" and r["body"]["temperature"] == 0 for r in server.requests)
    assert all("Lucia Eastlake" in e.context for e in out if e.context)  # the answer-bearing span survived
    record = method.record
    assert record is not None and record.score_name == "rewrite_length_ratio"
    assert record.scores[3] == 1.0 and all(s is not None and s < 0.9 for s in record.scores[:3])


def test_rounds_continue_from_the_last_accepted_version(tmp_path: Path) -> None:
    def one_word_less(message: str) -> str:  # each round drops the first word of what it is given
        return " ".join(last_block(message).split()[1:])

    ex = Example(id="a", question="one two three four five six seven eight nine ten eleven twelve", answer="x")
    with ChatServer(reply=one_word_less) as server:
        (out,), method = rewrite(endpoint_params(server, max_rounds=3, min_shrink=0.05), [ex], tmp_path)
    assert out.question == "four five six seven eight nine ten eleven twelve"
    assert len(server.requests) == 3
    with ChatServer(reply=one_word_less) as server:
        (out,), method = rewrite(endpoint_params(server, max_rounds=3, min_shrink=0.2), [ex], tmp_path / "b")
    # round 1 drops 4 of 61 characters, less than 20%: rejected, the text keeps its original version
    assert out == ex and len(server.requests) == 1
    assert method.record is not None and method.record.dropped == {"not_shorter": 1}
    assert method.record.reasons == {0: "question rewrite of round 1 rejected: not_shorter"}


def test_failed_checks_fall_back_to_the_previous_version(tmp_path: Path) -> None:
    with ChatServer(reply=lambda m: last_block(m) + " Indeed.") as server:
        out, method = rewrite(endpoint_params(server), EXAMPLES, tmp_path / "long")
    assert out == EXAMPLES and len(server.requests) == 4  # one round: nothing accepted, nothing to go on with
    assert method.record is not None and method.record.dropped == {"not_shorter": 5}  # 4 requests, 5 texts
    with ChatServer(reply=lambda m: (drop_filler(last_block(m)), "length")) as server:
        out, method = rewrite(endpoint_params(server), EXAMPLES, tmp_path / "cut")
    assert out == EXAMPLES and method.record is not None and method.record.dropped == {"truncated": 5}


def test_check_rewrite_by_hand() -> None:
    p = RewriteCompressor.Params(min_shrink=0.25)
    ex = EXAMPLES[0]
    short = "Ulverbury founded 1667 by Lucia Eastlake, blacksmith. Bridge 1812. Edwin Ulrich paid for town hall."
    assert check_rewrite(PASSAGE, short, True, ex, p) is None
    assert check_rewrite(PASSAGE, short, False, ex, p) == "truncated"
    assert check_rewrite(PASSAGE, "  \n", True, ex, p) == "empty"
    assert check_rewrite(PASSAGE, PASSAGE[: int(0.76 * len(PASSAGE))], True, ex, p) == "not_shorter"
    assert check_rewrite(PASSAGE, short.replace("Lucia Eastlake", "a smith"), True, ex, p) == "lost_span"
    # a wrong choice's text is answer-bearing too (which one is NOT mentioned?), unless keep_spans: answer
    no_ulrich = short.replace("Edwin Ulrich", "A captain")
    assert check_rewrite(PASSAGE, no_ulrich, True, ex, p) == "lost_span"
    assert check_rewrite(PASSAGE, no_ulrich, True, ex, p.model_copy(update={"keep_spans": "answer"})) is None
    assert check_rewrite(PASSAGE, short + " Ilse Sorensen.", True, ex, p) == "added_choice"
    assert check_rewrite(PASSAGE, short + " Answer: A", True, ex, p) == "leak"
    assert check_rewrite(PASSAGE, short + " The answer is a", True, ex, p) is None  # lower-case "a" is a word
    question = "Which of these did the blacksmith found in 1667 near the river?"
    assert check_rewrite(question, "Blacksmith Lucia Eastlake founded what in 1667?", True, ex, p) == "leak"
    qa = EXAMPLES[2]
    assert check_rewrite(PASSAGE, short, True, qa, p) is None
    assert check_rewrite(PASSAGE, short.replace("1812", "then"), True, qa, p) == "lost_span"
    assert clean_reply('Here is the shorter passage:\n"Town founded 1667."  ') == "Town founded 1667."


def test_second_run_and_second_config_make_no_requests(tmp_path: Path) -> None:
    with ChatServer() as server:
        first, _ = rewrite(endpoint_params(server), EXAMPLES, tmp_path)
        sent = len(server.requests)
        again, _ = rewrite(endpoint_params(server), EXAMPLES, tmp_path)
        assert len(server.requests) == sent and again == first
        # another config over the same data: same model, template and rounds, stricter checks
        stricter, _ = rewrite(endpoint_params(server, min_shrink=0.5, keep_spans="answer"), EXAMPLES, tmp_path)
        assert len(server.requests) == sent
        other_template = endpoint_params(server, prompt_template="Shorten this {kind}:\n\n{text}")
        rewrite(other_template, EXAMPLES, tmp_path)
        assert len(server.requests) > sent  # a different request is a different cache entry
    assert texts(stricter) != texts(first)


def test_killed_pass_resumes_from_the_cache(tmp_path: Path) -> None:
    with ChatServer(refuse_after=2) as server, pytest.raises(ModelError, match="HTTP 400"):
        rewrite(endpoint_params(server, max_rounds=1, concurrency=1), EXAMPLES, tmp_path)
    assert len(list((tmp_path / "rewrite").rglob("*.json"))) == 2  # the two replies before the failure were kept
    with ChatServer() as server:
        out, _ = rewrite(endpoint_params(server, max_rounds=1, concurrency=1), EXAMPLES, tmp_path)
    assert len(server.requests) == 4 - 2  # 4 distinct requests (two examples share the passage)
    with ChatServer() as server:
        fresh, _ = rewrite(endpoint_params(server, max_rounds=1), EXAMPLES, tmp_path / "fresh")
    assert out == fresh


def test_retries_with_backoff_then_a_clear_failure(tmp_path: Path) -> None:
    with ChatServer(fail_first=2) as server:
        out, _ = rewrite(endpoint_params(server, max_retries=2, concurrency=1, max_rounds=1), EXAMPLES, tmp_path / "a")
    assert len(server.requests) == 4 + 2
    with ChatServer() as server:
        clean, _ = rewrite(endpoint_params(server, max_rounds=1), EXAMPLES, tmp_path / "b")
    assert out == clean
    with ChatServer(fail_first=100) as server, pytest.raises(ModelError, match="failed after 2 attempts"):
        rewrite(endpoint_params(server, max_retries=1, concurrency=1), EXAMPLES, tmp_path / "c")
    assert len(server.requests) == 2


def test_a_slow_endpoint_times_out_and_is_retried(tmp_path: Path) -> None:
    def slow(message: str) -> str:
        time.sleep(1.5)
        return drop_filler(last_block(message))

    with ChatServer(reply=slow) as server:
        params = endpoint_params(server, timeout_s=0.3, max_retries=1, concurrency=1)
        with pytest.raises(ModelError, match="failed after 2 attempts: APITimeoutError"):
            rewrite(params, [EXAMPLES[1]], tmp_path)
        assert len(server.requests) == 2


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_caps_the_requests_in_flight(concurrency: int, tmp_path: Path) -> None:
    def slow(message: str) -> str:  # long enough that a client with more workers would overlap
        time.sleep(0.15)
        return drop_filler(last_block(message))

    examples = [
        Example(
            id=f"q{i}",
            question=f"In the small town number {i} by the river, what is the sum of {i} and four?",
            answer="x",
        )
        for i in range(8)
    ]
    with ChatServer(reply=slow) as server:
        rewrite(endpoint_params(server, max_rounds=1, concurrency=concurrency), examples, tmp_path)
    assert len(server.requests) == 8 and server.max_in_flight == concurrency


def test_api_key_is_sent_but_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAMOC_TEST_CHAT_KEY", SECRET)
    mc = [EXAMPLES[0], dataclasses.replace(EXAMPLES[3], context="The hall was paid for.")]  # 4 + 5 words: kept as is
    train = write_jsonl(tmp_path / "train.jsonl", [ex.to_json() for ex in mc])
    fields = {"context": "context"}
    task = TaskConfig.model_validate({"train": {"path": train}, "eval": {"path": train}, "fields": fields})
    with ChatServer() as server:
        step = {"method": "rewrite", "params": endpoint_params(server, api_key_env="DAMOC_TEST_CHAT_KEY")}
        ctx = StageContext(device="cpu", cache_dir=tmp_path / "cache")
        report = compress_dataset(task, DataConfig.model_validate({"steps": [step]}), tmp_path / "run" / "data", ctx)
    assert {r["authorization"] for r in server.requests} == {f"Bearer {SECRET}"}
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "train.jsonl"]
    assert any(p.parent.name == "data" for p in written) and any("cache" in p.parts for p in written)
    assert not [p for p in written if SECRET.encode() in p.read_bytes()]
    step_report = report.steps[0]
    assert step_report.params["api_key_env"] == "DAMOC_TEST_CHAT_KEY" and step_report.kind == "compressor"
    assert step_report.score_name == "rewrite_length_ratio" and step_report.example_scores["short"] == 1.0
    kept = read_examples(tmp_path / "run" / "data" / "train.jsonl")
    assert [(e.answer, e.choices) for e in kept] == [(e.answer, e.choices) for e in mc]
    assert kept[0].context == drop_filler(PASSAGE)
    assert json.loads((tmp_path / "run" / "data" / "data.json").read_text())["steps"][0]["method"] == "rewrite"


def test_clear_errors_name_the_param(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = registry("compressor").build
    with pytest.raises(ConfigError, match=r"data\.steps\.1\.params.*base_url: required with backend: openai"):
        build("rewrite", {"backend": "openai"}, where="data.steps.1")
    with pytest.raises(ConfigError, match=r"backend.*'local' or 'openai'.*got 'vllm'"):
        build("rewrite", {"backend": "vllm"})
    with pytest.raises(ConfigError, match="api_key_env: 'sk-abc-123' is not an environment variable NAME"):
        build("rewrite", {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "sk-abc-123"})
    with pytest.raises(ConfigError, match="prompt_template: must contain"):
        build("rewrite", {"prompt_template": "Shorten the {kind}."})
    with pytest.raises(ConfigError, match="prompt_template: not a format string"):
        build("rewrite", {"prompt_template": "{text} {answer}"})
    monkeypatch.delenv("DAMOC_TEST_MISSING_KEY", raising=False)
    with ChatServer() as server:
        params = endpoint_params(server, api_key_env="DAMOC_TEST_MISSING_KEY")
        with pytest.raises(
            ConfigError, match="api_key_env: the environment variable 'DAMOC_TEST_MISSING_KEY' is not set"
        ):
            rewrite(params, EXAMPLES, tmp_path)
        with pytest.raises(ConfigError, match="DAMOC_TEST_MISSING_KEY"):  # nothing to rewrite still fails at once
            rewrite(params, [EXAMPLES[3]], tmp_path)
    assert server.requests == []


# ---------------------------------------------------------------- the local backend on a tiny model


def test_local_chat_batches_like_single_prompts(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    chat = load_local_chat(str(tiny_model_dirs["llama"]), tmp_path, "cpu", batch_size=3)
    messages = ["What is two plus three?", "Question: What is 4 plus 1?\nAnswer:", "Hi", "Context: Paris. Question:"]
    limits = [6, 9, 4, 7]
    batched = chat.replies(messages, limits)
    single = [chat.replies([m], [n])[0] for m, n in zip(messages, limits, strict=True)]
    assert batched == single
    for reply, limit in zip(batched, limits, strict=True):  # a reply cut at its limit is marked unfinished
        tokens = len(chat.tokenizer(reply.text, add_special_tokens=False)["input_ids"])
        assert reply.finished or tokens >= limit - 1
    assert chat.model_id.startswith("files:") and chat.count_tokens("What is two plus three?") is not None


def test_local_backend_keeps_answers_and_only_accepts_checked_rewrites(
    tiny_model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    params = {"model": str(tiny_model_dirs["llama"]), "max_new_tokens": 24, "min_words": 4, "min_shrink": 0.05}
    out, _ = rewrite(params, EXAMPLES, tmp_path)
    assert [(e.id, e.answer, e.choices) for e in out] == [(e.id, e.answer, e.choices) for e in EXAMPLES]
    p = RewriteCompressor.Params(**params)
    for before, after in zip(EXAMPLES, out, strict=True):
        for old, new in [(before.question, after.question), (before.context or "", after.context or "")]:
            assert new == old or check_rewrite(old, new, True, before, p) is None
    assert len(list((tmp_path / "rewrite").rglob("*.json"))) >= 5  # round 1 alone asked for five texts
    again, _ = rewrite(params, EXAMPLES, tmp_path)
    assert again == out


def test_cached_local_replies_never_load_the_model(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    real = load_local_chat(str(tiny_model_dirs["llama"]), tmp_path, "cpu", batch_size=2)

    def refuse() -> tuple[Any, Any]:
        raise AssertionError("the model was loaded although every reply is cached")

    chat = LocalChat(refuse, real.model_id)
    p = RewriteCompressor.Params(model=str(tiny_model_dirs["llama"]))
    ex = EXAMPLES[2]
    want = "Year the stone bridge was built?"
    key = reply_key(ex.question, "question", chat.model_id, DEFAULT_PROMPT, 1, p.max_new_tokens)
    entry_path(tmp_path / "rewrite", key).parent.mkdir(parents=True)
    entry_path(tmp_path / "rewrite", key).write_text(json.dumps({"text": want, "finished": True}))
    ctx = StageContext(device="cpu", cache_dir=tmp_path)
    assert cached_replies(chat, [ex.question], ["question"], 1, p, ctx) == [Reply(want, True)]
    # the step itself picks the same entry up: a tiny random model could never have written this text
    params = {"model": str(tiny_model_dirs["llama"]), "fields": ["question"], "max_rounds": 1, "keep_spans": "answer"}
    out, _ = rewrite(params, [ex.__class__(id="q", question=ex.question, answer="1812")], tmp_path)
    assert out[0].question == want


# ---------------------------------------------------------------- the judge


def hand_loglik(model: Any, tokenizer: Any, prompt: str, answer: str) -> float:
    """Summed log p(answer tokens | BOS + prompt), from one forward pass and log_softmax."""
    import torch

    start = [tokenizer.bos_token_id]
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    a_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([start + p_ids + a_ids])
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), dim=-1)
    picked = logp.gather(1, ids[0, 1:, None]).squeeze(1)
    return float(picked[-len(a_ids) :].sum())


def test_answer_margins_match_a_hand_computation(tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.data.likelihood import load_reference_model
    from damoc.tasks.prompts import render_prompt

    model, tokenizer = load_reference_model(str(tiny_model_dirs["llama"]), None, "cpu")
    margins = answer_margins(EXAMPLES[:3], model, tokenizer, 512, 4, StageContext(device="cpu"))
    mc = EXAMPLES[0]
    ll = [hand_loglik(model, tokenizer, render_prompt(mc), " " + c) for c in mc.choices or ()]
    assert margins[0] == pytest.approx(ll[0] - max(ll[1:]), abs=1e-4)
    qa = EXAMPLES[2]
    assert margins[2] == pytest.approx(hand_loglik(model, tokenizer, render_prompt(qa), " 1812"), abs=1e-4)


def test_judge_rejects_rewrites_that_lower_the_answer_margin(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    from damoc.data.likelihood import load_reference_model

    examples = [Example.from_json(r) for r in make_mc_records(16, seed=3)]  # "What is 3 plus 2?"

    def drop_first_word(message: str) -> str:
        return " ".join(last_block(message).split()[1:])

    judge = {"judge": True, "judge_model": str(tiny_model_dirs["llama"]), "max_rounds": 1, "min_words": 2}
    with ChatServer(reply=drop_first_word) as server:
        plain, _ = rewrite(endpoint_params(server, max_rounds=1, min_words=2), examples, tmp_path)
        judged, method = rewrite(endpoint_params(server, **judge), examples, tmp_path)
        lenient, _ = rewrite(endpoint_params(server, **judge, judge_tolerance=1e6), examples, tmp_path)
    assert lenient == plain and all(p.question != e.question for p, e in zip(plain, examples, strict=True))
    model, tokenizer = load_reference_model(str(tiny_model_dirs["llama"]), None, "cpu")
    ctx = StageContext(device="cpu")
    before = answer_margins(examples, model, tokenizer, 512, 4, ctx)
    after = answer_margins(plain, model, tokenizer, 512, 4, ctx)
    want = [p if a >= b else e for e, p, a, b in zip(examples, plain, after, before, strict=True)]
    assert judged == want
    rejected = sum(w is e for w, e in zip(want, examples, strict=True))
    assert 0 < rejected < len(examples)  # the random tiny model likes some rewrites and not others
    assert method.record is not None and method.record.dropped == {"judge": rejected}


@pytest.mark.slow
def test_bundled_smollm2_rewrites_passages_through_its_chat_template(tmp_path: Path) -> None:
    from damoc.tasks.load import BUNDLED_DIR

    examples = read_examples(BUNDLED_DIR / "reading_comprehension" / "train.jsonl")[:2]
    params = {"fields": ["context"], "max_rounds": 1, "max_new_tokens": 160}
    out, method = rewrite(params, examples, tmp_path)
    assert [(e.answer, e.choices, e.question) for e in out] == [(e.answer, e.choices, e.question) for e in examples]
    assert method.record is not None and len(method.record.scores) == 2
    p = RewriteCompressor.Params(**params)
    for before, after in zip(examples, out, strict=True):
        assert (
            after.context == before.context
            or check_rewrite(before.context or "", after.context or "", True, before, p) is None
        )
    entries = list((tmp_path / "rewrite").rglob("*.json"))
    assert len(entries) == 2 and all(json.loads(e.read_text())["text"].strip() for e in entries)
