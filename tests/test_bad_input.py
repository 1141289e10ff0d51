"""Bad input through the CLI: one clear message, nothing lost.

Every case runs ``python -m damoc`` as a real subprocess on tiny inputs and asserts exit code 2, a
message on stderr that names the problem (file, line, key, value, what is allowed), no traceback,
and a run folder without half-written stages. One case per group then fixes the input and checks
that the same run folder completes.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from damoc.testing import damaged_artefacts, make_mc_records, tiny_config, write_jsonl

# ---------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Inputs:
    """Good inputs shared by every case: data files, a tiny Llama folder and broken model folders."""

    root: Path
    train: Path
    eval: Path
    model: Path
    models: dict[str, Path]


def damoc(*args: str | Path, cache: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m damoc ARGS`` with its own cache folder."""
    full_env = {**os.environ, "DAMOC_CACHE": str(cache), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "damoc", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


def assert_clear_error(res: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit code 2, no traceback, one ``error:`` message containing every needle; returns the message."""
    assert res.returncode == 2, f"exit {res.returncode}\n{res.stderr}"
    assert "Traceback" not in res.stderr, res.stderr
    assert res.stderr.count("error:") == 1, res.stderr
    message = res.stderr[res.stderr.index("error:") :]
    for needle in needles:
        assert needle in message, f"{needle!r} not in:\n{message}"
    return message


def assert_no_partial_stage(run_dir: Path) -> None:
    """No temporary or moved-aside folders, no lock, and every stage folder complete."""
    if not run_dir.exists():
        return
    leftovers = [p for p in run_dir.rglob("*") if re.search(r"\.(tmp|old)-[^.]+$", p.name) or p.name == ".lock"]
    assert leftovers == []
    assert damaged_artefacts(run_dir) == []


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (size, mtime_ns) of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


def base_config(inputs: Inputs, run_dir: Path) -> dict[str, Any]:
    """A run over the tiny Llama that finishes in seconds."""
    return {
        "run_dir": str(run_dir),
        "device": "cpu",
        "task": {"train": {"path": str(inputs.train)}, "eval": {"path": str(inputs.eval)}},
        "candidates": [{"name": "tiny", "path": str(inputs.model)}],
        "data": {"steps": [{"method": "random", "params": {"keep_ratio": 0.5}}], "calibration_samples": 4},
        "model": {"remove_ratio": 0.34, "max_seq_len": 32},
        "training": {"max_steps": 2, "batch_size": 2, "max_seq_len": 48},
        "evaluation": {"batch_size": 8},
    }


def write_config(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory, tiny_model_dirs: dict[str, Path]) -> Inputs:
    root = tmp_path_factory.mktemp("bad_input")
    train = write_jsonl(root / "train.jsonl", make_mc_records(8, seed=0))
    ev = write_jsonl(root / "eval.jsonl", make_mc_records(4, seed=1))
    return Inputs(root, train, ev, tiny_model_dirs["llama"], broken_models(root / "models", tiny_model_dirs["llama"]))


def broken_models(root: Path, good: Path) -> dict[str, Path]:
    """Model folders and files that must each be refused with a clear message."""
    from transformers import BertConfig, BertModel, OPTConfig, OPTForCausalLM

    root.mkdir()
    out: dict[str, Path] = {}
    out["no_weights"] = root / "no_weights"
    out["no_weights"].mkdir()
    shutil.copy(good / "config.json", out["no_weights"] / "config.json")
    out["corrupted"] = shutil.copytree(good, root / "corrupted")
    weights = out["corrupted"] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    out["garbage_gguf"] = root / "garbage.gguf"
    out["garbage_gguf"].write_bytes(b"this is not a gguf file\n" * 100)
    bert = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, vocab_size=64)
    BertModel(bert).save_pretrained(root / "bert")
    out["bert"] = root / "bert"
    opt = OPTConfig(vocab_size=tiny_config("llama", 400).vocab_size, hidden_size=32, num_hidden_layers=6, ffn_dim=64,
                    num_attention_heads=4)  # fmt: skip
    OPTForCausalLM(opt).save_pretrained(root / "opt")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(good / name, root / "opt" / name)
    out["opt"] = root / "opt"
    return out


# ---------------------------------------------------------------- config


Edit = Callable[[dict[str, Any], Inputs], None]


def _set(path: str, value: Any) -> Edit:
    def edit(raw: dict[str, Any], _inputs: Inputs) -> None:
        *parents, last = path.split(".")
        node: Any = raw
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        node[last] = value

    return edit


def _duplicate_candidates(raw: dict[str, Any], inputs: Inputs) -> None:
    raw["candidates"] = [{"name": "tiny", "path": str(inputs.model)}, {"name": "tiny", "path": str(inputs.model)}]


CONFIG_CASES: dict[str, tuple[Edit, list[str]]] = {
    "unknown_key": (_set("trainning", {"max_steps": 2}), ["trainning: unknown key; allowed here:", "training"]),
    "unknown_nested_key": (_set("training.max_step", 2), ["training.max_step: unknown key", "max_steps"]),
    "unknown_method": (
        _set("data.steps.0.method", "no_such_filter"),
        ["data.steps.0.method", "'no_such_filter'", "available:", "random", "k_center"],
    ),
    "unknown_scorer": (_set("model.scorer", {"method": "shortgpt"}), ["unknown scorer 'shortgpt'", "block_influence"]),
    "param_out_of_range": (_set("data.steps.0.params.keep_ratio", 1.5), ["data.steps.0", "keep_ratio", "1.5"]),
    "unknown_param": (_set("data.steps.0.params.keep", 0.5), ["data.steps.0", "keep", "keep_ratio"]),
    "remove_ratio_out_of_range": (_set("model.remove_ratio", 1.0), ["model.remove_ratio", "less than 1", "1.0"]),
    "wrong_type": (_set("training.max_steps", "many"), ["training.max_steps", "integer", "'many'"]),
    "empty_candidates": (_set("candidates", []), ["candidates", "at least 1"]),
    "duplicate_names": (_duplicate_candidates, ["duplicate candidate names ['tiny']", "distinct 'name'"]),
    "name_with_separator": (_set("candidates.0.name", "a/b"), ["'a/b'", "no path separators or '..'"]),
    "name_with_dotdot": (_set("candidates.0.name", "x..y"), ["'x..y'", "no path separators or '..'"]),
    "name_escaping": (_set("candidates.0.name", "../../etc"), ["'../../etc'", "no path separators or '..'"]),
    "missing_data_file": (_set("task.train.path", "no/such/train.jsonl"), ["task.train.path", "no/such/train.jsonl"]),
    "missing_model_folder": (_set("candidates.0.path", "no/such/model"), ["candidates.0 (tiny)", "no/such/model"]),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_config_is_refused_before_any_work(case: str, inputs: Inputs, tmp_path: Path) -> None:
    edit, needles = CONFIG_CASES[case]
    raw = base_config(inputs, tmp_path / "run")
    edit(raw, inputs)
    cfg = write_config(tmp_path / "cfg.yaml", raw)
    assert_clear_error(damoc("run", cfg, cache=tmp_path / "cache"), *needles)
    assert not (tmp_path / "run").exists()
    assert not (tmp_path / "cache").exists()


def test_run_dir_that_is_a_file(inputs: Inputs, tmp_path: Path) -> None:
    run_file = tmp_path / "run"
    run_file.write_text("keep me\n")
    cfg = write_config(tmp_path / "cfg.yaml", base_config(inputs, run_file))
    assert_clear_error(damoc("run", cfg, cache=tmp_path / "cache"), "run_dir", str(run_file), "not a folder")
    assert run_file.read_text() == "keep me\n"


def test_bad_override_leaves_a_finished_stage_intact_and_resumable(inputs: Inputs, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg.yaml", base_config(inputs, tmp_path / "run"))
    cache = tmp_path / "cache"
    assert damoc("data", cfg, cache=cache).returncode == 0
    before = snapshot(tmp_path / "run" / "data")
    for override, needle in [("model.remove_ratio=1.5", "model.remove_ratio"), ("seed=abc", "seed")]:
        assert_clear_error(damoc("run", cfg, override, cache=cache), needle, "'abc'" if needle == "seed" else "1.5")
    assert snapshot(tmp_path / "run" / "data") == before
    res = damoc("data", cfg, cache=cache)  # fixed: the finished stage is reused as it is
    assert res.returncode == 0, res.stderr
    assert "done already (resume)" in res.stderr
    assert snapshot(tmp_path / "run" / "data") == before


# ---------------------------------------------------------------- data


def _lines(*records: Any) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


GOOD = {"question": "What is 1 plus 1?", "choices": ["two", "three"], "answer": 0}
DATA_CASES: dict[str, tuple[str | bytes, list[str]]] = {
    "empty_file": ("", ["no examples in the train split"]),
    "only_blank_lines": ("\n\n  \n", ["no examples in the train split"]),
    "malformed_line": (_lines(GOOD, '{"question": "q?", "choices": [oops]}'), [":2: malformed JSON", "column"]),
    "not_an_object": (_lines(GOOD, GOOD, "[1, 2]"), [":3: expected a JSON object, got list"]),
    "missing_field": (
        _lines({"query": "q?", "choices": ["a", "b"], "answer": 0}),
        [":1: missing field 'question'", "query"],
    ),
    "empty_question": (_lines({**GOOD, "question": "  "}), [":1: field 'question' must be non-empty text"]),
    "answer_not_a_choice": (
        _lines(GOOD, {**GOOD, "answer": "four"}),
        [":2: answer 'four' is not among the choices ['two', 'three']"],
    ),
    "answer_index_out_of_range": (_lines({**GOOD, "answer": 5}), [":1: answer index 5 is out of range for 2 choices"]),
    "one_choice": (
        _lines(GOOD, {**GOOD, "choices": ["two"]}),
        [":2: field 'choices' needs at least two choices, got 1"],
    ),
    "choices_not_a_list": (_lines({**GOOD, "choices": 7}), [":1: field 'choices' must be a list of choice texts"]),
    "non_utf8": (
        _lines(GOOD).encode() + b'{"question": "caf\xe9?", "choices": ["a", "b"], "answer": 0}\n',
        ["not UTF-8"],
    ),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_names_file_line_and_field(case: str, inputs: Inputs, tmp_path: Path) -> None:
    content, needles = DATA_CASES[case]
    train = tmp_path / "train.jsonl"
    train.write_bytes(content if isinstance(content, bytes) else content.encode())
    raw = base_config(inputs, tmp_path / "run")
    raw["task"]["train"]["path"] = str(train)
    cfg = write_config(tmp_path / "cfg.yaml", raw)
    assert_clear_error(damoc("run", cfg, cache=tmp_path / "cache"), str(train), *needles)
    assert not (tmp_path / "run" / "data").exists()
    assert_no_partial_stage(tmp_path / "run")


SHAPE_CASES: dict[str, tuple[dict[str, Any], list[dict[str, Any]], list[str]]] = {
    "choice_column_missing": (
        {"fields": {"choices": ["opa", "opb"], "answer": "cop", "answer_format": "index1"}},
        [{"question": "q?", "opa": "x", "opb": "y", "cop": 1}, {"id": "m2", "question": "q?", "opa": "x", "cop": 2}],
        [":2 (id 'm2'): missing choice column(s) ['opb'] of task.fields.choices ['opa', 'opb']"],
    ),
    "label_not_in_task_choices": (
        {"choices": ["negative", "positive"], "fields": {"question": "text", "answer": "label"}},
        [{"text": "Works.", "label": "positive"}, {"id": "t2", "text": "Meh.", "label": "mixed"}],
        [":2 (id 't2'): answer 'mixed' is not one of the labels in task.choices ['negative', 'positive']"],
    ),
    "ambiguous_answer": (
        {},
        [
            {"question": "Pick z", "choices": ["x", "y", "z"], "answer": "2"},
            {"id": "a2", "question": "How many?", "choices": ["1", "2", "3"], "answer": "1"},
        ],
        [":2 (id 'a2'): answer '1' is ambiguous", "task.fields.answer_format: text or index"],
    ),
}


@pytest.mark.parametrize("case", list(SHAPE_CASES))
def test_bad_data_in_column_and_label_shapes_names_the_record(case: str, inputs: Inputs, tmp_path: Path) -> None:
    task, records, needles = SHAPE_CASES[case]
    data = write_jsonl(tmp_path / "train.jsonl", records)
    raw = base_config(inputs, tmp_path / "run")
    raw["task"] = {**raw["task"], **task, "train": {"path": str(data)}, "eval": {"path": str(data)}}
    cfg = write_config(tmp_path / "cfg.yaml", raw)
    assert_clear_error(damoc("run", cfg, cache=tmp_path / "cache"), str(data), *needles)
    assert not (tmp_path / "run" / "data").exists()
    assert_no_partial_stage(tmp_path / "run")


def test_filter_that_keeps_nothing(inputs: Inputs, tmp_path: Path) -> None:
    raw = base_config(inputs, tmp_path / "run")
    raw["data"]["steps"] = [{"method": "random", "params": {"keep_ratio": 0.01}}]
    cfg = write_config(tmp_path / "cfg.yaml", raw)
    assert_clear_error(
        damoc("run", cfg, cache=tmp_path / "cache"), "data.steps.0 (random)", "keeps 0 of 8", "keep_ratio"
    )
    assert not (tmp_path / "run" / "data").exists()
    assert_no_partial_stage(tmp_path / "run")


def test_malformed_eval_file_then_fixed_resumes(inputs: Inputs, tmp_path: Path) -> None:
    """The re-run check of the data group: fix the file, the same run folder completes its data stage."""
    ev = tmp_path / "eval.jsonl"
    good = inputs.eval.read_text()
    ev.write_text(good + '{"question": "q?", "choices": ["a", "b"], "answer": 0\n')
    raw = base_config(inputs, tmp_path / "run")
    raw["task"]["eval"]["path"] = str(ev)
    cfg = write_config(tmp_path / "cfg.yaml", raw)
    assert_clear_error(damoc("run", cfg, cache=tmp_path / "cache"), f"{ev}:5: malformed JSON")
    assert_no_partial_stage(tmp_path / "run")
    ev.write_text(good)
    res = damoc("data", cfg, cache=tmp_path / "cache")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "run" / "data" / "manifest.json").is_file()
    assert_no_partial_stage(tmp_path / "run")


def test_huge_line_is_refused_quickly(inputs: Inputs, tmp_path: Path) -> None:
    """A 50 MB question: a clear error naming the file, the example and the limit, within seconds.

    (Texts up to the limit are truncated from the left to max_seq_len tokens; see the model group.)
    """
    huge = {**GOOD, "question": "word " * 10_000_000 + "What is 1 plus 1?"}
    train = write_jsonl(tmp_path / "train.jsonl", [*make_mc_records(2, seed=2), huge])
    raw = base_config(inputs, tmp_path / "run")
    raw["task"]["train"]["path"] = str(train)
    cfg = write_config(tmp_path / "cfg.yaml", raw)
    res = damoc("run", cfg, cache=tmp_path / "cache")
    assert_clear_error(res, str(train), "example 3", "question has 50,000,017 characters", "at most 100,000")
    assert not (tmp_path / "run" / "data").exists()
    assert_no_partial_stage(tmp_path / "run")


# ---------------------------------------------------------------- models


def _candidate(key: str) -> Callable[[Inputs], dict[str, Any]]:
    def make(inputs: Inputs) -> dict[str, Any]:
        src = inputs.models[key]
        return {"name": "bad", "gguf" if src.suffix == ".gguf" else "path": str(src)}

    return make


MODEL_CASES: dict[str, tuple[Callable[[Inputs], dict[str, Any]], Callable[[Inputs], list[str]]]] = {
    "unknown_alias": (
        lambda _: {"name": "bad", "alias": "gpt-17"},
        lambda _: ["unknown bundled model 'gpt-17'", "available:", "smollm2-135m"],
    ),
    "no_weights": (_candidate("no_weights"), lambda i: [str(i.models["no_weights"]), "no safetensors weights"]),
    "corrupted_safetensors": (
        _candidate("corrupted"),
        lambda i: [str(i.models["corrupted"] / "model.safetensors"), "corrupted safetensors"],
    ),
    "garbage_gguf": (_candidate("garbage_gguf"), lambda i: [str(i.models["garbage_gguf"]), "not a GGUF file"]),
    "not_causal": (_candidate("bert"), lambda i: [str(i.models["bert"]), "'bert'", "BertModel", "not a causal LM"]),
    "unsupported_architecture": (
        _candidate("opt"),
        lambda i: [str(i.models["opt"]), "'opt' is not supported for layer removal", "supported: ", "llama"],
    ),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_bad_model_fails_after_data_stage_and_keeps_it(case: str, inputs: Inputs, tmp_path: Path) -> None:
    make_candidate, needles = MODEL_CASES[case]
    raw = base_config(inputs, tmp_path / "run")
    raw["candidates"] = [make_candidate(inputs)]
    cfg = write_config(tmp_path / "cfg.yaml", raw)
    cache = tmp_path / "cache"
    assert_clear_error(damoc("run", cfg, cache=cache), *needles(inputs))
    run = tmp_path / "run"
    assert not (run / "models" / "bad" / "proxy").exists()
    assert_no_partial_stage(run)
    if cache.exists():
        assert [p.name for p in cache.rglob("*") if p.is_dir() and p.name.startswith(".")] == []


def test_remove_ratio_leaving_no_layer_then_fixed_completes(inputs: Inputs, tmp_path: Path) -> None:
    """The re-run check of the model group: the data stage is kept, the fixed run completes from it.

    The data holds a ~100k-character question, far longer than every max_seq_len: it is truncated
    from the left (documented in damoc.data.stage.MAX_TEXT_CHARS) and the run completes.
    """
    long_question = {**GOOD, "id": "long", "question": "Some words. " * 8_000 + "What is 1 plus 1?"}
    train = write_jsonl(tmp_path / "train.jsonl", [long_question, *make_mc_records(5, seed=3)])
    ev = write_jsonl(tmp_path / "eval.jsonl", [long_question, *make_mc_records(3, seed=4)])
    raw = base_config(inputs, tmp_path / "run")
    raw["task"] = {"train": {"path": str(train)}, "eval": {"path": str(ev)}}
    raw["data"]["steps"] = [{"method": "random", "params": {"keep_ratio": 1.0}}]
    cfg = write_config(tmp_path / "cfg.yaml", raw)
    cache, run = tmp_path / "cache", tmp_path / "run"
    assert damoc("data", cfg, cache=cache).returncode == 0
    data = snapshot(run / "data")
    # the ratio is checked against the model's config.json at start-up, before any stage runs
    res = damoc("run", cfg, "model.remove_ratio=0.99", cache=cache)
    assert_clear_error(res, str(inputs.model), "remove 6 of 6 layers", "below 0.917")
    assert_no_partial_stage(run)
    assert snapshot(run / "data") == data
    res = damoc("run", cfg, cache=cache)
    assert res.returncode == 0, res.stderr
    assert snapshot(run / "data") == data
    assert json.loads((run / "ranking.json").read_text())["candidates"][0]["candidate"] == "tiny"
    assert_no_partial_stage(run)


def test_bundled_gguf_checksum_mismatch(
    inputs: Inputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bundled alias whose GGUF does not match the catalogue's sha256 (through the CLI's main, in process)."""
    import damoc.candidates.bundled
    from damoc.cli import main

    catalogue = copy.deepcopy(damoc.candidates.bundled.bundled_models())
    entry = catalogue["smollm2-135m"]
    entry["source"] = {"kind": "concat", "parts": [{"module": "damoc.candidates", "file": "bundled_models.json"}]}
    entry["sha256"] = "0" * 64
    fake = tmp_path / "bundled_models.json"
    fake.write_text(json.dumps(catalogue))
    monkeypatch.setattr(damoc.candidates.bundled, "CATALOGUE_PATH", fake)
    for var in ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY"):
        monkeypatch.setenv(var, os.environ.get(var, "1" if var.startswith("HF") else "error"))
    raw = base_config(inputs, tmp_path / "run")
    raw["candidates"] = ["smollm2-135m"]
    raw["cache_dir"] = str(tmp_path / "cache")
    monkeypatch.setattr(sys, "argv", ["damoc", "run", str(write_config(tmp_path / "cfg.yaml", raw))])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert entry["gguf_file"] in err  # the file, then expected and actual sha256
    assert "sha256 mismatch: expected 0000000000000000" in err and "reinstall its package" in err
    assert_no_partial_stage(tmp_path / "run")
    assert [p.name for p in (tmp_path / "cache").rglob("*")] in ([], ["models"])
