"""GPU check: damoc end to end on a CUDA machine, recorded with the card's name.

A lent GPU machine has no network and takes at most 64 MiB of files, so the bundled models' weights
(3.5 GB once converted) cannot reach it. This check therefore runs two parts there:

  tiny    two tiny models built in code (damoc.testing), `damoc validate-selection` on `device: auto`:
          the proxy pipeline and a ground truth. Records the device and dtype each stage ran in
          (a GPU run must say cuda and bfloat16) and the scores.
  shaped  the three bundled models' architectures (their config.json and tokenizer, packed here from
          `damoc models prepare`) with random weights, on a bundled task with that task's config:
          `validate-selection` (the proxy, then LoRA on the whole training set). Wall seconds per
          stage on each side. The weights are random, so the scores mean nothing; the costs are those
          of the real models (same shapes, same tokenizers, same tokens).

Run:  .venv/bin/python benchmarks/gpu_check.py pack .gpu          # here: configs + tokenizers (xz) of the bundled models
      python3 benchmarks/gpu_check.py run --specs .gpu --out OUT.json [--task medical_qa] [--gt-epochs 1]
      .venv/bin/python benchmarks/gpu_check.py merge OUT.json     # here: into benchmarks/results/gpu_check.json
"""

from __future__ import annotations

import argparse
import json
import lzma
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "gpu_check.json"
BUNDLED = ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b")
SPEC_FILES = ("config.json", "generation_config.json", "tokenizer_config.json")


def pack(out: Path) -> None:
    """Copy each prepared bundled model's config and tokenizer (xz-compressed) into ``out``."""
    from damoc.candidates.bundled import prepare_model

    for alias in BUNDLED:
        src, dst = prepare_model(alias), out / alias
        dst.mkdir(parents=True, exist_ok=True)
        for name in SPEC_FILES:
            if (src / name).is_file():
                shutil.copy2(src / name, dst / name)
        (dst / "tokenizer.json.xz").write_bytes(lzma.compress((src / "tokenizer.json").read_bytes(), preset=9))
        print(f"{alias}: {sum(p.stat().st_size for p in dst.iterdir()) / 2**20:.1f} MiB")


def machine() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__}
    for pkg in ("transformers", "peft"):
        info[pkg] = __import__(pkg).__version__
    info["cuda"] = torch.cuda.is_available()
    if info["cuda"]:
        props = torch.cuda.get_device_properties(0)
        info.update(
            gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda_version=torch.version.cuda
        )
    return info


def stage_devices(run_dir: Path) -> dict[str, dict[str, str]]:
    """Where each candidate's proxy training, proxy evaluation and ground truth ran, from their reports."""
    out: dict[str, dict[str, str]] = {}
    for train in sorted(run_dir.glob("models/*/adapter/train.json")):
        cand = train.parents[1].name
        t = json.loads(train.read_text())
        out.setdefault(cand, {})["proxy_train"] = f"{t['device']}/{t['dtype']}"
    for ev in sorted(run_dir.glob("models/*/eval/eval.json")):
        out.setdefault(ev.parents[1].name, {})["proxy_eval"] = json.loads(ev.read_text())["device"]
    for train in sorted(run_dir.glob("validation/*/train.json")):
        t = json.loads(train.read_text())
        out.setdefault(train.parent.name, {})["truth_train"] = f"{t.get('device', '?')}/{t.get('dtype', '?')}"
    return out


def validate(raw: dict[str, Any], root: Path) -> tuple[dict[str, Any], Path]:
    import damoc

    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    start = time.perf_counter()
    damoc.validate_selection(damoc.load_config(config))
    seconds = round(time.perf_counter() - start, 1)
    run_dir = Path(raw["run_dir"])
    val = json.loads((run_dir / "validation.json").read_text())
    return {"seconds": seconds, "costs": val["costs"], "devices": stage_devices(run_dir)}, run_dir


def run_tiny(root: Path) -> dict[str, Any]:
    from damoc.testing import build_tiny_model, build_tiny_tokenizer, tiny_run_config

    tok = build_tiny_tokenizer(root / "tok")
    models = {a: build_tiny_model(a, root / a, tok, seed=i) for i, a in enumerate(("llama", "qwen2"))}
    raw = tiny_run_config(root, models, device="auto", ground_truth={"epochs": 1, "batch_size": 4})
    result, run_dir = validate(raw, root)
    ranking = json.loads((run_dir / "ranking.json").read_text())
    result["proxy_scores"] = {c["candidate"]: c["score"] for c in ranking["candidates"]}
    return result


def build_shaped(spec: Path, out: Path, seed: int) -> Path:
    """A random-weight model of ``spec``'s architecture with its real tokenizer, saved in bf16."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    for name in SPEC_FILES:
        if (spec / name).is_file():
            shutil.copy2(spec / name, out / name)
    (out / "tokenizer.json").write_bytes(lzma.decompress((spec / "tokenizer.json.xz").read_bytes()))
    torch.manual_seed(seed)
    # initialised on the GPU when there is one: on the CPU, Qwen2.5-0.5B's random init alone took minutes
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(spec), dtype=torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    return out


def run_shaped(
    specs: Path, root: Path, task: str, gt_epochs: float, only: list[str], max_eval: int | None
) -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "configs" / f"{task}.yaml").read_text())
    aliases = [a for a in raw["candidates"] if not only or a in only]
    start = time.perf_counter()
    paths = {a: build_shaped(specs / a, root / "models" / a, seed=i) for i, a in enumerate(aliases)}
    build_seconds = round(time.perf_counter() - start, 1)
    raw["candidates"] = [{"name": a, "path": str(p)} for a, p in paths.items()]
    for step in raw["data"]["steps"]:
        ref = step.get("params", {}).get("reference_model")
        if ref is not None:
            step["params"]["reference_model"] = str(paths.get(ref, next(iter(paths.values()))))
    raw["selection"]["baselines"] = ["model_size"]
    raw.update(run_dir=str(root / "run"), cache_dir=str(root / "cache"), device="auto")
    raw["ground_truth"]["epochs"] = gt_epochs
    if max_eval:
        raw["ground_truth"]["max_eval_examples"] = max_eval
    result, _ = validate(raw, root)
    result.update(task=task, candidates=aliases, ground_truth_epochs=gt_epochs, build_seconds=build_seconds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("out", type=Path)
    r = sub.add_parser("run")
    r.add_argument("--specs", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--task", default="medical_qa")
    r.add_argument("--gt-epochs", type=float, default=1.0)
    r.add_argument("--max-eval", type=int, help="ground truth: first N eval examples (default: all)")
    r.add_argument("--only", nargs="*", default=[], help="bundled aliases to include (default: the config's)")
    r.add_argument("--parts", nargs="+", default=["tiny", "shaped"], choices=["tiny", "shaped"])
    m = sub.add_parser("merge")
    m.add_argument("result", type=Path)
    args = parser.parse_args()
    if args.cmd == "pack":
        pack(args.out)
        return
    if args.cmd == "merge":
        new = json.loads(args.result.read_text())
        old = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        old[new["machine"].get("gpu", "cpu")] = new
        RESULTS.write_text(json.dumps(old, indent=2) + "\n")
        print(f"merged into {RESULTS}")
        return
    record: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv)}
    for part in args.parts:
        with tempfile.TemporaryDirectory(prefix=f"damoc-gpu-{part}-") as tmp:
            try:
                if part == "tiny":
                    record[part] = run_tiny(Path(tmp))
                else:
                    record[part] = run_shaped(
                        args.specs, Path(tmp), args.task, args.gt_epochs, args.only, args.max_eval
                    )
            except Exception as exc:  # record and go on: the other part still tells something
                import traceback

                record[part] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        print(json.dumps({part: record[part]}, indent=1)[:3000], flush=True)


if __name__ == "__main__":
    main()
