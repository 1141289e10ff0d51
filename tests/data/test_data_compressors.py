"""Token compressors: the registry matrix, self-information unit dropping, and use as a data step."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from damoc.config import DataConfig, MethodSpec, TaskConfig
from damoc.context import StageContext
from damoc.data import compress_dataset
from damoc.data.base import split_at_spans
from damoc.data.compressors.llmlingua2 import join_pieces
from damoc.data.compressors.self_information import (
    SelfInformationCompressor,
    Unit,
    join_units,
    score_units,
    select_units,
    span_units,
    split_units,
    token_windows,
    unit_information,
)
from damoc.errors import ConfigError
from damoc.registry import registry
from damoc.tasks.load import Example, read_examples

COMPRESSORS = registry("compressor").names()
LONG = "In the small town by the river, the old baker counted the loaves twice, what is five plus four?"


@pytest.mark.parametrize("name", COMPRESSORS)
def test_every_compressor_keeps_answers_and_shortens(
    name: str, compressor_params: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    examples = [
        Example(id="a", question=LONG, answer=1, choices=("eight", "nine")),
        Example(id="b", question="Short one?", answer="yes", context=LONG),
        Example(id="c", question="What is two plus two?", answer=0, choices=("four", "five")),
    ]
    cls = registry("compressor").get(name)
    assert all(f.description for f in cls.Params.model_fields.values())
    assert "arXiv" in (cls.__doc__ or "").splitlines()[0]
    method = registry("compressor").build(name, compressor_params(name))
    ctx = StageContext(device="cpu", cache_dir=tmp_path)  # rewrite caches its replies there
    out = method.compress(examples, ctx)
    assert [(e.id, e.answer, e.choices) for e in out] == [(e.id, e.answer, e.choices) for e in examples]
    assert all(e.question.strip() for e in out)
    assert sum(len(e.question) + len(e.context or "") for e in out) < sum(
        len(e.question) + len(e.context or "") for e in examples
    )
    assert method.compress(examples, ctx) == out
    assert method.compress([], ctx) == []


def test_select_units_drops_units_below_the_quantile_by_hand() -> None:
    # rate 0.6 keeps units at or above the 40th percentile of [1, 1.5, 3, 4, 5]: 1.5 + 0.6 * 1.5 = 2.4
    scores = np.array([3.0, 1.0, 4.0, 1.5, 5.0])
    assert select_units(scores, 0.6).tolist() == [True, False, True, False, True]
    assert select_units(scores, 0.2).tolist() == [False, False, False, False, True]
    assert select_units(scores, 1.0).all()
    assert select_units(np.array([2.0, np.nan, 1.0]), 0.5).tolist() == [True, True, False]  # unscored: kept
    units = ["In the town", " by the river,", "\n\nthe baker", " counted."]
    assert join_units(units, np.array([False, True, True, False]), "In the town") == "by the river,\n\nthe baker"


def test_split_units_cover_the_text_in_each_mode() -> None:
    text = "In the town by the river, the baker counted twice.\n\nDr. Smith said: yes.  It was e.g. fine. "
    for unit in ("sentence", "phrase", "word"):
        assert "".join(split_units(text, unit)) == text  # whitespace, newlines and punctuation all survive
    assert split_units(text, "sentence") == [
        "In the town by the river, the baker counted twice.",
        "\n\nDr. Smith said: yes.",
        "  It was e.g. fine. ",
    ]
    assert split_units(text, "phrase") == [
        "In the town",
        " by the river,",
        " the baker counted twice.",
        "\n\nDr. Smith said:",
        " yes.",
        "  It was e.g. fine. ",
    ]
    assert split_units(text, "word")[:3] == ["In", " the", " town"]


def test_unit_information_is_the_mean_over_overlapping_tokens() -> None:
    units = ["ab cd", ", e"]
    offsets = [(0, 1), (1, 2), (2, 4), (4, 6), (6, 8)]  # " c" starts with a space; "d," spans both units
    info = unit_information(units, offsets, np.array([1.0, 2.0, 3.0, 4.0, 6.0]))
    np.testing.assert_allclose(info, [(1 + 2 + 3 + 4) / 4, (4 + 6) / 2])


def test_token_windows_score_every_token_once() -> None:
    assert token_windows(5, 8) == [(0, 0, 5)]
    assert token_windows(20, 8) == [(0, 0, 8), (4, 8, 12), (8, 12, 16), (12, 16, 20)]
    for n, room in [(1, 7), (23, 7), (100, 15)]:
        windows = token_windows(n, room)
        assert [t for _, s, e in windows for t in range(s, e)] == list(range(n))
        assert all(e - c <= room for c, _, e in windows)
    assert token_windows(0, 8) == []


def _hand_token_nlls(model: Any, start: list[int], ids: list[int], room: int) -> np.ndarray:
    """Per-token -log p from the logits of each window: log_softmax, gather."""
    import torch

    out = []
    for c, s, e in token_windows(len(ids), room):
        seq = torch.tensor([start + ids[c:e]])
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=seq).logits[0, :-1].double(), dim=-1)
        out.append(-logp.gather(1, seq[0, 1:, None]).squeeze(1)[-(e - s) :].numpy())
    return np.concatenate(out)


def test_long_text_scores_every_unit_and_drops_the_lowest(tiny_model_dirs: dict[str, Path]) -> None:
    from damoc.data.likelihood import load_reference_model

    model, tokenizer = load_reference_model(str(tiny_model_dirs["llama"]), None, "cpu")
    text = " ".join([LONG] * 3)
    p = SelfInformationCompressor.Params(
        reference_model="x", unit="word", rate=0.5, min_words=2, max_seq_len=16, batch_size=4
    )
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert len(enc["input_ids"]) > 3 * p.max_seq_len  # most words lie past the first window
    ((units, scores),) = score_units([text], model, tokenizer, p, None)
    assert units == split_units(text, "word") and np.isfinite(scores).all()
    hand = _hand_token_nlls(model, [tokenizer.bos_token_id], enc["input_ids"], p.max_seq_len - 1)
    np.testing.assert_allclose(scores, unit_information(units, enc["offset_mapping"], hand), atol=1e-5)

    method = registry("compressor").build(
        "self_information", p.model_dump() | {"reference_model": str(tiny_model_dirs["llama"])}
    )
    (out,) = method.compress([Example(id="a", question=text, answer="x")], StageContext(device="cpu"))
    keep = scores >= np.percentile(scores, 50)
    assert out.question == join_units(units, keep, text)
    assert scores[~keep].max() < scores[keep].min()
    assert keep.sum() == len(units) // 2 + len(units) % 2  # about half, not every word past the window


def _drops_whole_units(before: str, after: str, unit: Unit) -> bool:
    """Whether ``after`` is ``before`` with whole units removed, the rest verbatim and in order."""
    pos = 0
    for u in split_units(before, unit):
        piece = u if pos else u.lstrip()
        if after.startswith(piece, pos):
            pos += len(piece)
    return pos == len(after)


def test_self_information_keeps_whitespace_punctuation_answers_and_choices(tiny_model_dirs: dict[str, Path]) -> None:
    context = "The baker, who lived by the river, counted loaves.\n\nHe sold  twelve; then he rested (briefly).\n"
    question = "Given the story above, how many loaves did the baker sell before he rested?"
    ex = Example(id="a", question=question, context=context, answer=1, choices=("ten", "twelve"))
    tiny = str(tiny_model_dirs["qwen2"])
    cases: list[tuple[float, Unit]] = [(1.0, "phrase"), (0.5, "phrase"), (0.5, "sentence")]
    for rate, unit in cases:
        params = {"rate": rate, "unit": unit, "min_words": 2, "reference_model": tiny}
        (out,) = registry("compressor").build("self_information", params).compress([ex], StageContext(device="cpu"))
        assert (out.id, out.answer, out.choices) == (ex.id, ex.answer, ex.choices)
        assert out.context is not None
        for before, after in [(context, out.context), (question, out.question)]:
            assert _drops_whole_units(before, after, unit)
        shorter = len(out.context) + len(out.question) < len(context) + len(question)
        assert (out.context, out.question) == (context, question) if rate == 1.0 else shorter
        assert "twelve" in out.context, "keep_spans=choices: the answer-bearing unit stays"


def test_span_units_marks_units_overlapping_a_span_by_hand() -> None:
    text = "In the old town, the Red  Mill stood; it burned in 1901."
    units = split_units(text, "phrase")
    assert units == ["In the old town,", " the Red  Mill stood;", " it burned", " in 1901."]
    assert span_units(units, text, ["red mill"]).tolist() == [False, True, False, False]  # case, whitespace run
    assert span_units(units, text, ["town, the red"]).tolist() == [True, True, False, False]  # across units
    assert span_units(units, text, ["1901", "Mil"]).tolist() == [False, False, False, True]  # whole words only
    assert not span_units(units, text, []).any()


def test_compressor_runs_as_a_data_step(
    mc_files: tuple[Path, Path], tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    train, evals = mc_files
    task = TaskConfig.model_validate({"train": {"path": train}, "eval": {"path": evals}})
    steps = [
        MethodSpec(method="random", params={"keep_ratio": 0.5}),
        MethodSpec(
            # the questions ("What is 3 plus 3?") are one phrase each: drop words instead
            method="self_information",
            params={"unit": "word", "min_words": 2, "reference_model": str(tiny_model_dirs["llama"])},
        ),
    ]
    report = compress_dataset(task, DataConfig.model_validate({"steps": steps}), tmp_path / "out")
    assert [(s.kind, s.kept) for s in report.steps] == [("filter", 24), ("compressor", 24)]
    assert report.steps[1].characters_after < report.steps[0].characters_after
    assert len(read_examples(tmp_path / "out" / "train.jsonl")) == 24
    assert json.loads((tmp_path / "out" / "data.json").read_text())["steps"][1]["params"]["rate"] == 0.6
    # the report's sample of rewrites: three compressed prompts, before and after, shorter
    rewritten = report.steps[1].samples
    assert len(rewritten) == 3 and all(0 < x["length_ratio"] < 1 for x in rewritten)
    after = {ex.id: ex for ex in read_examples(tmp_path / "out" / "train.jsonl")}
    assert all(after[x["id"]].question in x["after"] for x in rewritten)


def test_llmlingua2_names_the_missing_package_and_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llmlingua", None)  # absent, whether or not this machine has it
    long = Example(id="a", question=LONG, answer=1, choices=("eight", "nine"))
    method = registry("compressor").build("llmlingua2", {})
    with pytest.raises(ConfigError, match=r"llmlingua package is not installed \(pip install llmlingua;") as err:
        method.compress([long], StageContext(device="cpu"))
    assert "model folder" not in str(err.value)  # the default model is a hub id
    missing = tmp_path / "llmlingua-2-xlm-roberta-large-meetingbank"
    method = registry("compressor").build("llmlingua2", {"model": str(missing)})
    with pytest.raises(
        ConfigError, match=rf"pip install llmlingua.*model folder '{re.escape(str(missing))}' not found"
    ):
        method.compress([long], StageContext(device="cpu"))
    with pytest.raises(ConfigError, match="pip install llmlingua"):  # nothing to compress still fails at once
        method.compress([Example(id="b", question="Two plus two?", answer="four")], StageContext(device="cpu"))


def test_llmlingua2_params_are_checked_before_any_work() -> None:
    build = registry("compressor").build
    assert build("llmlingua2", {}).params.model == "microsoft/llmlingua-2-xlm-roberta-large-meetingbank"
    with pytest.raises(ConfigError, match=r"data\.steps\.0\.params.*model: '/models/my-compressor' names neither"):
        build("llmlingua2", {"model": "/models/my-compressor"}, where="data.steps.0")
    with pytest.raises(ConfigError, match="rate"):
        build("llmlingua2", {"rate": 0})
    local = build("llmlingua2", {"model": "./llmlingua-2-bert-base-multilingual-cased-meetingbank", "rate": 0.3})
    assert local.params.rate == 0.3 and local.params.force_tokens == ("\n", "?")


def test_split_at_spans_by_hand() -> None:
    text = "Paris is in France; paris, the old baker said."
    assert split_at_spans(text, ["paris", "France"]) == [
        ("Paris", True),
        (" is in ", False),
        ("France", True),
        ("; ", False),
        ("paris", True),
        (", the old baker said.", False),
    ]
    # overlapping occurrences form one span; a part of a word is no occurrence; no span: the whole text
    assert split_at_spans(text, ["the old", "old baker", "ari"]) == [
        ("Paris is in France; paris, ", False),
        ("the old baker", True),
        (" said.", False),
    ]
    assert split_at_spans(text, []) == [(text, False)] and split_at_spans("", ["x"]) == [("", False)]


def test_join_pieces_puts_spaces_back_by_hand() -> None:
    originals = ["in ", "1902", ", started by Declan. It lasts", " 5 days", ". Then"]
    # llmlingua dropped the comma and the gaps' edge spaces: words must not touch, punctuation stays attached
    assert join_pieces(originals, ["in", "1902", "by Declan lasts", " 5 days", "Then"]) == (
        "in 1902 by Declan lasts 5 days Then"
    )
    assert join_pieces(["Paris", ", a city", " of", " France", "."], ["Paris", ", city", "", "France", "."]) == (
        "Paris, city France."
    )
    assert join_pieces(["a"], [""]) == ""


def test_llmlingua2_is_llmlinguas_own_compression_with_spans_kept(llmlingua2_model: str) -> None:
    from llmlingua import PromptCompressor

    text = "In the small town by the river, the old baker counted the loaves twice before he sold them all."
    reference = PromptCompressor(
        model_name=llmlingua2_model, device_map="cpu", model_config={"trust_remote_code": False}, use_llmlingua2=True
    ).compress_prompt_llmlingua2([text], rate=0.4, force_tokens=["\n", "?"], drop_consecutive=True)
    build = registry("compressor").build
    ctx = StageContext(device="cpu")
    plain = Example(id="a", question="Who counted?", context=text, answer="a baker")  # no span of it in the text
    (out,) = build("llmlingua2", {"model": llmlingua2_model, "rate": 0.4}).compress([plain], ctx)
    assert out.context == reference["compressed_prompt"] and out.question == "Who counted?"
    assert "the old baker" not in reference["compressed_prompt"]  # this model drops part of it unprotected
    # the span is kept verbatim and only the text around it is compressed
    spanned = Example(id="b", question="Who counted?", context=text, answer="the old baker")
    (out,) = build("llmlingua2", {"model": llmlingua2_model, "rate": 0.4, "keep_spans": "answer"}).compress(
        [spanned], ctx
    )
    assert "the old baker" in out.context and len(out.context) < len(text)
    (out,) = build("llmlingua2", {"model": llmlingua2_model, "rate": 0.4, "keep_spans": "none"}).compress(
        [spanned], ctx
    )
    assert out.context == reference["compressed_prompt"]


def test_self_information_fields_leave_the_other_text_unchanged(tiny_model_dirs: dict[str, Path]) -> None:
    context = "The baker, who lived by the river, counted loaves.\n\nHe sold  twelve; then he rested (briefly).\n"
    question = "Given the story above, how many loaves did the baker sell before he rested, and why did he stop?"
    ex = Example(id="a", question=question, context=context, answer=1, choices=("ten", "twelve"))
    tiny = str(tiny_model_dirs["qwen2"])
    base = {"rate": 0.5, "unit": "phrase", "min_words": 2, "reference_model": tiny}
    build = registry("compressor").build
    (ctx_only,) = build("self_information", base | {"fields": ["context"]}).compress([ex], StageContext(device="cpu"))
    (q_only,) = build("self_information", base | {"fields": ["question"]}).compress([ex], StageContext(device="cpu"))
    (both,) = build("self_information", base).compress([ex], StageContext(device="cpu"))
    assert ctx_only.question == question and ctx_only.context is not None and len(ctx_only.context) < len(context)
    assert q_only.context == context and len(q_only.question) < len(question)
    assert (both.question, both.context) == (q_only.question, ctx_only.context)  # each field compressed on its own
