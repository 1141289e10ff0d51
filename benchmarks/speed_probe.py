"""How fast this machine trains right now: a fixed training workload, timed, so wall-time speed-ups never mix machines.

The fidelity benchmark's speed-ups divide a ground truth's wall seconds by a proxy's. The ground truths
take hours and outlive machines (``truth_records``), and two machines with the same platform string have
differed by 2x here (``make test``: 456 s on one, 919 s on the next). So every stretch of ground-truth
training is logged with a probe of the machine it ran on (``SEGMENTS``: one JSON line per process that
trained or evaluated a ground truth), every benchmark cell probes its own machine, and :func:`verdict`
says whether the two sides ran at the same speed. A cell whose sides differ by more than ``TOLERANCE``
gets ``comparable: false`` and the README marks its wall-time speed-ups; tokens x layers is hardware-free.

The probe is forward + backward of a small Llama built in code (no files, no network; about 70 GFLOP a
step) under the process's torch threads, the fastest of ``repeats`` timed steps after ``WARMUP`` untimed ones (the
fastest, as ``timeit`` advises: slower repeats measure interruptions, not the machine). Contention
that lasts through the probe still shows, as it did in the training it stands for.

Run:  .venv/bin/python benchmarks/speed_probe.py      (prints one probe)
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEGMENTS = ROOT / "benchmarks" / "results" / "ground_truth_segments.jsonl"
WARMUP = 2
TOLERANCE = 0.25
"""Two probes within 25% of each other count as the same speed; the two machines of 2026-12-02 differed 2x."""


def probe(repeats: int = 5) -> float:
    """Seconds of one forward + backward step of a fixed small Llama (batch 4 x 256 tokens), fastest of ``repeats``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=4096, hidden_size=384, intermediate_size=1024, num_hidden_layers=4,
        num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=512,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).float().train()
    ids = torch.randint(0, config.vocab_size, (4, 256), generator=torch.Generator().manual_seed(0))
    times = []
    for i in range(repeats + WARMUP):
        start = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        model.zero_grad(set_to_none=True)
        if i >= WARMUP:  # the first steps warm up allocators, kernels and threads
            times.append(time.perf_counter() - start)
    return round(min(times), 4)


def machine(probe_s: float) -> dict[str, Any]:
    """A probe with what it ran on and when."""
    import torch

    return {
        "probe_s": probe_s,
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def log_segment(row: dict[str, Any], path: Path | None = None) -> None:
    """Append one ground-truth segment (key, candidate, steps and seconds before and after, probes) to ``SEGMENTS``."""
    path = path or SEGMENTS
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")


def segments(key: str, path: Path | None = None) -> list[dict[str, Any]]:
    """The logged segments of one ground truth (a cache key), oldest first."""
    path = path or SEGMENTS
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r["key"] == key]


def same_speed(a: float, b: float, tolerance: float = TOLERANCE) -> bool:
    """Whether two probe times are within ``tolerance`` of each other (relative to the faster)."""
    return max(a, b) / min(a, b) <= 1 + tolerance


def process_speeds(rows: list[dict[str, Any]]) -> list[float]:
    """One speed per process that trained a ground truth: the fastest of its probes.

    A process logs a "start" row and, unless it was killed, an "end" row repeating the start probe
    (same ``step_before``, same first probe); the pair is one process. The fastest probe stands for the
    machine: contention and a cold start only ever slow a probe down (one machine gave 0.64 s cold
    and 0.48 s after an hour of training).
    """
    ends = {(r.get("step_before"), r["probes_s"][0]) for r in rows if r.get("event") == "end"}
    return [
        min(r["probes_s"])
        for r in rows
        if not (r.get("event") == "start" and (r.get("step_before"), r["probes_s"][0]) in ends)
    ]


def verdict(cell_probes: list[float], keys: dict[str, str], path: Path | None = None) -> dict[str, Any]:
    """Whether a cell's proxy and its ground truths ran on machines of the same speed.

    Each side's speed is its fastest probe (:func:`process_speeds`). ``comparable`` is True when every
    ground-truth process is within ``TOLERANCE`` of the cell, False when one is not, None when a ground
    truth has no logged process (trained before they were logged) and none differs: unknown, not assumed.
    """
    ref = min(cell_probes)
    truth = {name: process_speeds(segments(key, path)) for name, key in keys.items()}
    speeds = [p for ps in truth.values() for p in ps]
    ratio = max((max(p / ref, ref / p) for p in speeds), default=1.0)
    comparable: bool | None = all(same_speed(ref, p) for p in speeds)
    if comparable and not all(truth.values()):
        comparable = None
    return {
        "cell_probes_s": cell_probes,
        "truth_speeds_s": truth,
        "max_ratio": round(ratio, 2),
        "comparable": comparable,
    }


if __name__ == "__main__":
    print(json.dumps(machine(probe()), indent=2))
