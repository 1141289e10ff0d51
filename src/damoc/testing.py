"""Tiny real models and data for tests, benchmarks and examples (no network, seconds to build).

The models are ordinary transformers checkpoints (6 layers, hidden size 32) of the Llama, Qwen2
and Gemma3 families with a byte-level BPE tokenizer trained in code, so every damoc stage runs on
them exactly as on a real model, only fast.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Any

TINY_ARCHS = ("llama", "qwen2", "gemma3")
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def _corpus() -> list[str]:
    lines = [f"Question: What is {a} plus {b}?\nAnswer: {NUMBER_WORDS[a + b]}" for a in range(6) for b in range(5)]
    return [*lines, "Context: Question: Answer: The capital of France is Paris."]


def build_tiny_tokenizer(out_dir: Path) -> Path:
    """Train a byte-level BPE tokenizer (any text round-trips) and save it as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.save_pretrained(out_dir)
    return out_dir


def tiny_config(arch: str, vocab_size: int) -> Any:
    """A 6-layer, hidden-32 config of the given architecture family."""
    from transformers import Gemma3TextConfig, LlamaConfig, Qwen2Config

    common: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=6,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=True,
    )
    if arch == "llama":
        return LlamaConfig(**common)
    if arch == "qwen2":
        return Qwen2Config(**common, use_sliding_window=False)
    if arch == "gemma3":
        return Gemma3TextConfig(**common, head_dim=8, sliding_window=16, query_pre_attn_scalar=8)
    raise ValueError(f"unknown tiny architecture {arch!r}; available: {', '.join(TINY_ARCHS)}")


def build_tiny_model(arch: str, out_dir: Path, tokenizer_dir: Path, seed: int = 0) -> Path:
    """Save a randomly initialised tiny model of ``arch`` with the tokenizer from ``tokenizer_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, len(tok)))
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir


# Characters the tiny WordPiece vocabulary spells words with (alone and as ``##`` continuations); a word
# holding any other character becomes [UNK], which llmlingua drops as a special token.
_WORDPIECE_CHARS = (
    "".join(map(chr, range(33, 127)))
    + "".join(map(chr, range(0xC0, 0x180)))
    + "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00b0\u00b1\u00b5"
)


def build_tiny_token_classifier(out_dir: Path, seed: int = 0) -> Path:
    """Save a randomly initialised 2-layer BERT token classifier (2 labels) with a cased WordPiece tokenizer.

    The shape of an LLMLingua-2 model (``BertForTokenClassification`` over multilingual BERT's
    tokenizer conventions, 512 positions), seconds to build: ``out_dir``'s name should contain
    ``bert-base-multilingual-cased`` for llmlingua to accept it.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import BertConfig, BertForTokenClassification, BertTokenizer

    words = sorted({w for line in _corpus() for w in re.findall(r"\w+", line)})
    vocab_list = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *_WORDPIECE_CHARS,
        *(f"##{c}" for c in _WORDPIECE_CHARS),
    ]
    vocab_list += [w for w in words if w not in set(vocab_list)]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab_list)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    fast = BertTokenizer(tokenizer_object=tok, do_lower_case=False)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(fast),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=0,
        architectures=["BertForTokenClassification"],
    )
    config.num_labels = 2  # keep (1) or drop (0), as LLMLingua-2's classifiers
    BertForTokenClassification(config).save_pretrained(out_dir)
    fast.save_pretrained(out_dir)
    return out_dir


def bundled_tiktoken_dir() -> Path | None:
    """A folder holding tiktoken's ``cl100k_base`` encoding for ``TIKTOKEN_CACHE_DIR``, or None.

    tiktoken downloads its encodings on first use; the ``litellm`` package (installed ``--no-deps`` by
    ``requirements/models.txt``, never imported) ships that file under tiktoken's cache name.
    """
    import importlib.util

    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return folder if (folder / "9b5ad71b2ce5302211f9c61530b329a4922fc6a4").is_file() else None


def make_mc_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` small arithmetic multiple-choice records with 4 choices each."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randrange(6), rng.randrange(5)
        right = NUMBER_WORDS[a + b]
        wrong = rng.sample([w for w in NUMBER_WORDS if w != right], 3)
        choices = [right, *wrong]
        rng.shuffle(choices)
        out.append(
            {"id": f"q{i}", "question": f"What is {a} plus {b}?", "choices": choices, "answer": choices.index(right)}
        )
    return out


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write ``records`` one JSON object per line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def tiny_run_config(root: Path, model_dirs: dict[str, Path], **sections: Any) -> dict[str, Any]:
    """A raw run config over tiny models and arithmetic data under ``root`` (files are written).

    The device is ``cpu`` unless ``DAMOC_TEST_DEVICE`` says otherwise (``auto`` or ``cuda`` runs the
    tests' pipelines on a GPU: ``benchmarks/gpu_check.py``).
    """
    train = write_jsonl(root / "train.jsonl", make_mc_records(48, seed=0))
    ev = write_jsonl(root / "eval.jsonl", make_mc_records(16, seed=1))
    raw: dict[str, Any] = {
        "run_dir": str(root / "run"),
        "seed": 0,
        "device": os.environ.get("DAMOC_TEST_DEVICE", "cpu"),
        "cache_dir": str(root / "cache"),
        "task": {"type": "multiple_choice", "train": {"path": str(train)}, "eval": {"path": str(ev)}},
        "candidates": [{"name": f"tiny-{a}", "path": str(p)} for a, p in model_dirs.items()],
        "data": {"steps": [{"method": "random", "params": {"keep_ratio": 0.5}}], "calibration_samples": 8},
        "model": {"remove_ratio": 0.34, "max_seq_len": 32},
        "training": {"max_steps": 6, "batch_size": 4, "learning_rate": 0.01, "max_seq_len": 48},
        "evaluation": {"batch_size": 16},
        "selection": {"rank_by": "acc", "baselines": ["model_size"]},
    }
    raw.update(sections)
    return raw


def start_run(config: Path, run_dir: Path) -> Any:
    """Start ``damoc run CONFIG run_dir=...`` as a real subprocess (a ``subprocess.Popen``)."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "damoc", "run", str(config), f"run_dir={run_dir}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def ranking_scores(run_dir: Path) -> list[tuple[str, dict[str, float]]]:
    """(candidate, metrics) in ranking order, from ``run_dir/ranking.json``."""
    ranking = json.loads((run_dir / "ranking.json").read_text(encoding="utf-8"))
    return [(c["candidate"], c["metrics"]) for c in ranking["candidates"]]


def damaged_artefacts(run_dir: Path) -> list[str]:
    """Stage folders without a manifest, or missing a file their manifest lists (expected: none)."""
    from damoc.artifacts import read_manifest

    problems = []
    nested = [*run_dir.glob("models/*/eval_chunks/*"), *run_dir.glob("models/*/ats_subsets/*")]
    for folder in [run_dir / "data", *run_dir.glob("models/*/*"), *nested]:
        if not folder.is_dir() or folder.name.startswith(".") or folder.name in ("eval_chunks", "ats_subsets"):
            continue
        manifest = read_manifest(folder)
        if manifest is None:
            problems.append(f"{folder}: no manifest")
            continue
        problems += [f"{folder}: {name} missing" for name in manifest["outputs"] if not (folder / name).exists()]
    return problems


FILLER_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "by",
        "its",
        "it",
        "very",
        "quite",
        "really",
        "that",
        "was",
        "were",
        "is",
        "are",
        "has",
        "had",
        "been",
        "and",
    ]
)


def busy_event_sender(events: Any, name: str, seconds: float = 3.0) -> tuple[float, float]:
    """Compute for ``seconds`` while sending progress events as a candidate job does (run as a Ray task).

    Returns the task's start and end times (``time.time()``).
    """
    import time

    from damoc.executors.ray import _EventSender

    send, start = _EventSender(events), time.time()
    step = 0
    while time.time() < start + seconds:
        sum(i * i for i in range(20_000))
        step += 1
        send(name, f"{name} train", step, 10**6)
    return start, time.time()


def readme_python_block(readme: Path, marker: str) -> str:
    """The Python code block right after the ``marker`` line in ``readme`` (tests run README examples as written)."""
    text = readme.read_text(encoding="utf-8")
    found = re.search(re.escape(marker) + r"\s*```python\n(.*?)\n```", text, re.DOTALL)
    assert found, f"{readme.name} has no ```python block after {marker}"
    return found.group(1)


def drop_filler(text: str) -> str:
    """``text`` without :data:`FILLER_WORDS` (any case): a deterministic "rewrite" for test endpoints."""
    return " ".join(w for w in text.split() if w.lower().strip(",.;:") not in FILLER_WORDS)


def last_block(message: str) -> str:
    """The text after a chat message's last blank line (where rewrite's default request puts the text)."""
    return message.rsplit("\n\n", 1)[-1]


class ChatServer:
    """A real OpenAI-compatible chat endpoint on 127.0.0.1 (``POST /v1/chat/completions``), for tests.

    ``reply(message)`` gives the reply text, or ``(text, finish_reason)``; by default the message's
    last block without filler words. The first ``fail_first`` requests get HTTP 500 and every request
    after ``refuse_after`` successful replies HTTP 400. ``requests`` keeps each request's JSON body
    and Authorization header; ``max_in_flight`` is the most replies it was computing at once (a
    client's concurrency). Use it as a context manager: it serves from a thread until exit.
    """

    def __init__(self, reply: Any = None, fail_first: int = 0, refuse_after: int | None = None) -> None:
        import threading
        from http.server import ThreadingHTTPServer

        self.reply = reply or (lambda message: drop_filler(last_block(message)))
        self.fail_first, self.refuse_after = fail_first, refuse_after
        self.requests: list[dict[str, Any]] = []
        self.served = 0
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _chat_handler(self))
        # a client that timed out has closed its socket: the late reply's broken pipe is expected, not news
        self.httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL a client takes (``http://127.0.0.1:PORT/v1``)."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def answer(self, body: dict[str, Any], auth: str | None) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON of the reply to one request body."""
        with self.lock:
            self.requests.append({"body": body, "authorization": auth})
            if len(self.requests) <= self.fail_first:
                return 500, {"error": {"message": "test server: failing on purpose", "type": "server_error"}}
            if self.refuse_after is not None and self.served >= self.refuse_after:
                return 400, {"error": {"message": "test server: refusing on purpose", "type": "invalid_request_error"}}
            self.served += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            out = self.reply(body["messages"][-1]["content"])
        finally:
            with self.lock:
                self.in_flight -= 1
        text, finish = out if isinstance(out, tuple) else (out, "stop")
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return 200, {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body["model"],
                     "choices": [choice], "usage": usage}  # fmt: skip


def _chat_handler(server: ChatServer) -> Any:
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self._send(*server.answer(body, self.headers.get("Authorization")))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler
