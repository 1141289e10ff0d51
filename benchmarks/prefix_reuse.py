"""perplexity_drop with the shared prefix reused: CPU seconds against running every candidate whole, same losses.

One greedy step of ``perplexity_drop`` scores every single layer's removal on a bundled model with
``medical_except``'s calibration sample (the model stage's cut: ``data.calibration_samples`` examples
drawn from train, prompt masked, answer + EOS). Both ways run in this process, one after the other,
on the same batches: ``whole`` (the loop before 2026-12-02: ``answer_loss`` of the model without each
layer, ``skipping``) and ``reused`` (``block_losses``: each batch's layer inputs recorded once, each
candidate's run starting at its layer). The losses must be equal; the CPU seconds of this
single-threaded process are the cost (wall time on a shared machine measures the other jobs too).

Run:  nice -n 19 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/prefix_reuse.py [--models ...]
      -> benchmarks/results/prefix_reuse.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_compression as mc  # task_data, load_fresh, make_batches, Clock

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "prefix_reuse.json"


def measure(alias: str, data: Any) -> dict[str, Any]:
    """Both ways of scoring one greedy step of single layers on ``alias``."""
    from damoc.model.layers import decoder_layers
    from damoc.model.scorers.perplexity_drop import block_losses
    from damoc.model.tolerance import answer_loss, skipping

    model, tok, _ = mc.load_fresh(alias, "cpu")
    batches = mc.make_batches(model, tok, data).calib_loss
    blocks = [(i,) for i in range(len(decoder_layers(model)))]
    clock = mc.Clock()
    whole = {}
    for block in blocks:
        with skipping(model, list(block)):
            whole[block] = answer_loss(model, batches)
    whole_s = clock.read()
    clock = mc.Clock()
    reused = block_losses(model, batches, [], blocks, None, (0, len(blocks)))
    reused_s = clock.read()
    worst = max(abs(reused[b] - whole[b]) for b in blocks)
    return {
        "layers": len(blocks), "batches": len(batches), "samples": len(data.calibration),
        "tokens": sum(int(b["attention_mask"].sum()) for b in batches),
        "whole_seconds": whole_s[0], "whole_cpu_seconds": whole_s[1],
        "reused_seconds": reused_s[0], "reused_cpu_seconds": reused_s[1],
        "cpu_speedup": round(whole_s[1] / reused_s[1], 2), "max_abs_loss_difference": worst,
        "same_order": sorted(blocks, key=lambda b: (whole[b], b)) == sorted(blocks, key=lambda b: (reused[b], b)),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"])
    parser.add_argument("--task", default="medical_except")
    args = parser.parse_args()
    import torch

    from damoc.artifacts import package_versions
    from damoc.atomic import write_json_atomic

    data = mc.task_data(args.task, 96, 8, None)
    out: dict[str, Any] = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    if out and out["task"] != args.task:
        raise SystemExit(f"{RESULTS} holds {out['task']}; measure {args.task} into a copy elsewhere")
    out = {"task": args.task, "runs": {}, **out}  # models measured before are kept, a model measured again replaced
    for alias in args.models:
        run = measure(alias, data)
        run["machine"] = {"platform": platform.platform(), "torch_threads": torch.get_num_threads()}
        run["versions"] = package_versions()
        out["runs"][alias] = run
        print(alias, json.dumps(run), flush=True)
        write_json_atomic(RESULTS, out)


if __name__ == "__main__":
    main()
