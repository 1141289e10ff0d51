"""Calibration text is cut as training cuts it: from the left, keeping the end (question and answer)."""

from __future__ import annotations

from pathlib import Path

from damoc.model.stage import tokenize_batches, truncate_left


def test_truncate_left_keeps_the_prefix_and_the_end() -> None:
    assert truncate_left([1, 2, 3, 4, 5, 6], [99], 4) == [99, 4, 5, 6]
    assert truncate_left([1, 2], [99], 4) == [99, 1, 2]
    assert truncate_left([1, 2, 3], [], 2) == [2, 3]
    assert truncate_left([1, 2, 3], [98, 99], 1) == [98]


def test_long_passage_keeps_question_and_answer_and_pads_right(tiny_tokenizer_dir: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tiny_tokenizer_dir)
    long = "Context: " + "The capital of France is Paris. " * 20 + "Question: What is 2 plus 3?\nAnswer: five"
    short = "Question: What is 1 plus 1?"
    (batch,) = tokenize_batches(tok, [long, short], max_seq_len=16, batch_size=2, device="cpu")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape == (2, 16)
    assert ids[0].tolist() == tok(long)["input_ids"][-16:]
    assert tok.decode(ids[0]).endswith("plus 3?\nAnswer: five")
    n = len(tok(short)["input_ids"])
    assert mask[1].tolist() == [1] * n + [0] * (16 - n)  # right padding: the text starts at column 0
    assert ids[1, :n].tolist() == tok(short)["input_ids"] and set(ids[1, n:].tolist()) == {tok.pad_token_id}
    assert tok.padding_side == "right" and tok.truncation_side == "right"  # the tokenizer is left as it was


def test_a_bos_prefix_survives_left_truncation(tiny_tokenizer_dir: Path) -> None:
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tiny_tokenizer_dir)
    bos = tok.bos_token_id
    tok.backend_tokenizer.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    text = "Context: " + "The capital of France is Paris. " * 20 + "Answer: five"
    plain = tok(text, add_special_tokens=False)["input_ids"]
    assert tok(text)["input_ids"] == [bos, *plain]  # the tokenizer now prepends a BOS, as Llama's does
    (batch,) = tokenize_batches(tok, [text], max_seq_len=8, batch_size=4, device="cpu")
    assert batch["input_ids"][0].tolist() == [bos, *plain[-7:]]
