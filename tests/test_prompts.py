"""Prompt templates: the default is unchanged, user templates and chat templates render, and training,
evaluation, IFD scoring and calibration all see the same prompt for the same example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from damoc.context import StageContext
from damoc.errors import ConfigError
from damoc.loading import parse_config
from damoc.tasks.load import Example, build_prompt
from damoc.tasks.prompts import PromptSpec, choice_continuations, render_prompt, target_text

MC = Example(id="q1", question="What is 2 plus 3?", answer=1, choices=("four", "five", "six"))
RC = Example(id="q2", question="Who wrote it?", answer="Ada", context="It was written by Ada.")
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
JINJA = "{{ question }}\n{% for c in choices %}{{ letters[loop.index0] }}. {{ c }}\n{% endfor %}Answer:"


def raw_task(**task: Any) -> dict[str, Any]:
    base = {"train": {"path": "t.jsonl"}, "eval": {"path": "e.jsonl"}}
    return {"run_dir": "run", "task": {**base, **task}, "candidates": ["smollm2-135m"]}


@pytest.fixture()
def chat_tokenizer(tiny_tokenizer_dir: Path) -> Any:
    """The tiny tokenizer with a small chat template, adding a BOS itself (as Llama and Gemma do)."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tiny_tokenizer_dir)
    tok.chat_template = CHAT_TEMPLATE
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.bos_token_id)]
    )
    assert tok("a")["input_ids"][0] == tok.bos_token_id
    return tok


def test_default_template_is_byte_identical_to_the_plain_prompt() -> None:
    assert render_prompt(MC) == build_prompt(MC) == "Question: What is 2 plus 3?\nAnswer:"
    assert render_prompt(RC, PromptSpec()) == "Context: It was written by Ada.\nQuestion: Who wrote it?\nAnswer:"
    assert choice_continuations(MC) == [" four", " five", " six"] and target_text(MC) == " five"
    assert target_text(RC) == " Ada"


def test_format_string_and_jinja_templates() -> None:
    spec = PromptSpec(template="Q: {question}\nA:")
    assert render_prompt(MC, spec) == "Q: What is 2 plus 3?\nA:" and target_text(MC, spec) == " five"
    assert render_prompt(RC, PromptSpec(template="[{context}] {question} {letters}")) == (
        "[It was written by Ada.] Who wrote it? []"  # qa: no choices, no letters
    )
    assert render_prompt(MC, PromptSpec(template="{question} {choices[0]}/{letters[2]}")) == "What is 2 plus 3? four/C"
    assert render_prompt(MC, PromptSpec(template=JINJA)) == "What is 2 plus 3?\nA. four\nB. five\nC. six\nAnswer:"
    ctx = PromptSpec(template="{% if context %}{{ context }}\n{% endif %}{{ question }}\n")
    assert render_prompt(RC, ctx) == "It was written by Ada.\nWho wrote it?\n"  # trailing newline kept


@pytest.mark.parametrize(
    ("template", "needle"),
    [
        ("Q: {questoin}\nA:", "unknown variable {questoin}"),
        ("Q: {0}", "unknown variable {0}"),
        ("Q: {question", "not a valid format string"),
        ("{{ question }\n", "Jinja2 syntax error"),
        ("{{ question }} {{ answer }}", "unknown variable(s) ['answer']"),
        ("{% for c in choices %}{{ c }}", "Jinja2 syntax error"),
        ("   ", "template is empty"),
    ],
)
def test_bad_template_is_a_config_error_naming_task_template(template: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(raw_task(template=template))
    assert "task.template" in str(err.value) and needle in str(err.value)


def test_config_keys_and_defaults() -> None:
    task = parse_config(raw_task()).task
    assert (task.format, task.template, task.use_chat_template) == ("auto", None, "never")
    assert PromptSpec.from_task(task) == PromptSpec()
    with pytest.raises(ConfigError, match=r"task\.use_chat_template"):
        parse_config(raw_task(use_chat_template="sometimes"))
    with pytest.raises(ConfigError, match="'format' applies to your own"):
        parse_config({**raw_task(), "task": {"bundled": "world_facts", "format": "chat"}})


def test_chat_template_never_auto_always(chat_tokenizer: Any, tiny_tokenizer_dir: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    assert render_prompt(MC, PromptSpec(), chat_tokenizer) == build_prompt(MC)  # never is the default
    auto = PromptSpec(use_chat_template="auto")
    # the BOS the tokenizer adds itself is not repeated in the text
    assert render_prompt(MC, auto, chat_tokenizer) == "<|user|>\nQuestion: What is 2 plus 3?\nAnswer:\n<|assistant|>\n"
    assert choice_continuations(MC, auto, chat_tokenizer) == ["four", "five", "six"]  # no delimiter, as lm-eval
    assert target_text(MC, auto, chat_tokenizer) == "five"
    plain = PreTrainedTokenizerFast.from_pretrained(tiny_tokenizer_dir)
    assert render_prompt(MC, auto, plain) == build_prompt(MC)  # auto without a chat template: plain
    with pytest.raises(
        ConfigError, match=r"task\.use_chat_template is .always. but the tokenizer .* has no chat template"
    ):
        render_prompt(MC, PromptSpec(use_chat_template="always"), plain)
    jinja_chat = PromptSpec(template=JINJA, use_chat_template="always")
    assert render_prompt(MC, jinja_chat, chat_tokenizer).startswith("<|user|>\nWhat is 2 plus 3?\nA. four")


SPECS = [
    PromptSpec(),
    PromptSpec(template="Q: {question}\nA:"),
    PromptSpec(template=JINJA, use_chat_template="auto"),
    PromptSpec(use_chat_template="always"),
]


@pytest.mark.parametrize("spec", SPECS, ids=["default", "format", "jinja+chat", "chat"])
def test_training_prompt_equals_evaluation_context(chat_tokenizer: Any, spec: PromptSpec) -> None:
    from damoc.evaluation.generate import encode_prompts
    from damoc.evaluation.loglik import build_requests
    from damoc.model.stage import render_calibration
    from damoc.tasks.tokens import special_prefix
    from damoc.training.features import IGNORE_INDEX, encode_example

    tok = chat_tokenizer
    prefix = special_prefix(tok)
    assert prefix == [tok.bos_token_id]
    feat = encode_example(tok, MC, 256, prefix, spec)
    n_prompt = sum(1 for t in feat.labels if t == IGNORE_INDEX)
    right = build_requests([MC], tok, 256, spec)[MC.answer]  # type: ignore[index]
    scored = [*right.input_ids, right.targets[-1]]
    assert feat.input_ids[:n_prompt] == scored[:n_prompt]  # the same context tokens, one BOS
    assert feat.input_ids[n_prompt:-1] == right.targets  # the taught answer is the scored continuation
    assert feat.input_ids.count(tok.bos_token_id) == 1
    # qa generation encodes the whole prompt; lm-eval's loglikelihood split moves its trailing whitespace
    # (a chat template's final newline) into the continuation
    generation = encode_prompts([MC], tok, 256, spec)[0]
    assert generation[:n_prompt] == feat.input_ids[:n_prompt] and tok.decode(generation[n_prompt:]).strip() == ""
    (calib,) = render_calibration([MC], spec, tok)
    assert calib == render_prompt(MC, spec, tok) + target_text(MC, spec, tok)


def test_ifd_scores_use_the_prompt_spec(chat_tokenizer: Any, tiny_model_dirs: dict[str, Path]) -> None:
    import numpy as np
    from transformers import AutoModelForCausalLM

    from damoc.data.likelihood import ifd_scores

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dirs["llama"]).eval()
    plain = ifd_scores([MC, RC], model, chat_tokenizer)
    chat = ifd_scores([MC, RC], model, chat_tokenizer, prompt=PromptSpec(use_chat_template="always"))
    assert np.isfinite(chat).all() and not np.allclose(plain, chat)


def test_stages_take_the_prompt_spec(chat_tokenizer: Any, tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from damoc.config import EvaluationConfig, TrainingConfig
    from damoc.evaluation import evaluate
    from damoc.tasks.load import write_examples
    from damoc.training import train_proxy

    model = tmp_path / "chat_model"
    shutil.copytree(tiny_model_dirs["llama"], model)
    chat_tokenizer.save_pretrained(model)
    data = tmp_path / "d.jsonl"
    write_examples(data, [MC, Example(id="q3", question="What is 1 plus 1?", answer=0, choices=("two", "three"))])
    always = PromptSpec(use_chat_template="always")
    train = train_proxy(
        model, data, TrainingConfig(max_steps=1, batch_size=2), tmp_path, StageContext(device="cpu", prompt=always)
    )
    assert train.steps == 1
    args = (data, "multiple_choice", EvaluationConfig(), ["acc"], tmp_path)
    assert evaluate(model, *args, StageContext(device="cpu", prompt=always)).num_examples == 2  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="has no chat template"):
        evaluate(tiny_model_dirs["llama"], *args, StageContext(device="cpu", prompt=always))  # type: ignore[arg-type]


def test_pipeline_passes_the_template_to_every_stage(
    tmp_path: Path, tiny_model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import damoc.tasks.prompts
    from damoc.pipeline import run
    from damoc.testing import make_mc_records, tiny_run_config

    raw = tiny_run_config(tmp_path, {"llama": tiny_model_dirs["llama"]})
    for split, n, seed in (("train", 24, 0), ("eval", 8, 1)):
        recs = [chat_record(r) for r in make_mc_records(n, seed=seed)]
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    raw["task"] |= {"template": "Q: {question}\nA:"}
    seen: list[str | None] = []
    real = damoc.tasks.prompts.render_body

    def spy(ex: Example, template: str | None = None) -> str:
        seen.append(template)
        return real(ex, template)

    monkeypatch.setattr(damoc.tasks.prompts, "render_body", spy)
    assert run(parse_config(raw)) is not None
    assert seen and set(seen) == {"Q: {question}\nA:"}  # data, calibration, training and evaluation


def chat_record(rec: dict[str, Any]) -> dict[str, Any]:
    """A fields-shaped multiple-choice record as chat turns plus choices, the answer as a letter."""
    turns = [{"role": "user", "content": rec["question"]}, {"role": "assistant", "content": "ABCD"[rec["answer"]]}]
    return {"messages": turns, "choices": rec["choices"]}
