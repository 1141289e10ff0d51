"""Reference layer scores of SmolLM2-135M computed straight from transformers, independent of damoc's scorers.

Run: .venv/bin/python benchmarks/reference_block_influence.py [--model-dir DIR]
     -> benchmarks/results/reference_block_influence.json
Loads the checkpoint with transformers, runs each calibration text alone (no padding) with
``output_hidden_states=True`` and evaluates the published formulas:

* Block Influence (ShortGPT, Men et al. 2024): BI_i = 1 - E_{X,t}[cos(x_{i,t}, x_{i+1,t})], the mean
  pooled over every token of every text; the lowest ``num_remove`` layers are removed.
* Angular distance (Gromov et al. 2024): d(x^l, x^(l+n)) = arccos(cos(x_T^l, x_T^(l+n)))/pi at the
  last token T, averaged over texts; layers l*..l*+n-1 of the smallest are removed.

x_i is layer i's input, HF ``hidden_states[i]``. HF applies the final norm to ``hidden_states[L]``, so
the last layer's raw output is taken from a forward pre-hook on the final norm instead. Texts longer
than ``max_seq_len`` tokens keep their last ``max_seq_len`` tokens (SmolLM2 adds no BOS). This
script imports nothing from damoc except, by default, the location of the bundled checkpoint;
``tests/model/test_real_block_influence.py`` compares damoc's scorers with the JSON it writes.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

RESULTS = Path(__file__).parent / "results" / "reference_block_influence.json"
MAX_SEQ_LEN = 128
NUM_REMOVE = 8  # round(0.25 * 30): configs/smoke.yaml's remove_ratio on SmolLM2's 30 layers
PASSAGE = (
    "The river Severn is the longest river in Great Britain. It rises in the Cambrian Mountains of mid Wales "
    "and flows through Shropshire, Worcestershire and Gloucestershire before reaching the Bristol Channel. "
    "Its estuary has one of the largest tidal ranges in the world, and a tidal bore travels up the river "
    "on the highest spring tides, drawing surfers who try to ride the wave for several miles. Bridges at "
    "Shrewsbury, Worcester and Gloucester carried trade for centuries, and two motorway bridges now cross "
    "the estuary between England and Wales. "
)
TEXTS = [
    PASSAGE + "Question: Where does the river Severn rise?\nAnswer: in the Cambrian Mountains of mid Wales",
    "Question: What is the capital of France?\nAnswer: Paris",
    "Question: Which gas do plants absorb from the air for photosynthesis?\nAnswer: carbon dioxide",
    "Question: How many legs does a spider have?\nAnswer: eight",
    "Translate to French: The cat sleeps on the warm window sill.\nAnswer: Le chat dort sur le rebord chaud.",
    "Question: Who wrote the play Romeo and Juliet?\nAnswer: William Shakespeare",
]


def hidden_states(model: Any, ids: list[int]) -> list[torch.Tensor]:
    """x^0..x^L of one unpadded text, [seq, hidden] each; x^L taken before the final norm."""
    captured: list[torch.Tensor] = []
    norm = model.model.norm
    handle = norm.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
    try:
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_hidden_states=True)
    finally:
        handle.remove()
    states = list(out.hidden_states)
    assert torch.allclose(norm(captured[0]), states[-1], atol=1e-5), "HF's last hidden state is not the normed one"
    states[-1] = captured[0]
    return [h[0].double() for h in states]


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x.y / (|x| |y|) along the last dimension."""
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def block_influence(per_text: list[list[torch.Tensor]]) -> list[float]:
    """BI_i = 1 - mean cosine of x_i and x_{i+1} over all tokens of all texts."""
    num_layers = len(per_text[0]) - 1
    return [1.0 - float(torch.cat([cosine(h[i], h[i + 1]) for h in per_text]).mean()) for i in range(num_layers)]


def last_token_angular(per_text: list[list[torch.Tensor]], gap: int) -> list[float]:
    """d(x^l, x^(l+gap)) = arccos(cos)/pi at each text's last token, averaged over texts; l = 0..L-gap."""
    starts = range(len(per_text[0]) - gap)
    return [
        sum(math.acos(max(-1.0, min(1.0, float(cosine(h[i][-1], h[i + gap][-1]))))) for h in per_text)
        / math.pi
        / len(per_text)
        for i in starts
    ]


def default_model_dir() -> Path:
    """The bundled SmolLM2-135M checkpoint (converted once from its GGUF by damoc)."""
    from damoc.candidates.bundled import prepare_model

    return prepare_model("smollm2-135m")


def main() -> None:
    """Compute the reference scores and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.model_dir or default_model_dir()
    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    tok = PreTrainedTokenizerFast.from_pretrained(folder)
    assert tok("a")["input_ids"] == tok("a", add_special_tokens=False)["input_ids"], "expected no BOS"
    ids = [tok(t)["input_ids"][-MAX_SEQ_LEN:] for t in TEXTS]
    per_text = [hidden_states(model, x) for x in ids]
    bi = block_influence(per_text)
    block = last_token_angular(per_text, NUM_REMOVE)
    start = min(range(len(block)), key=lambda i: (block[i], i))
    result = {
        "model": "smollm2-135m",
        "max_seq_len": MAX_SEQ_LEN,
        "num_remove": NUM_REMOVE,
        "texts": TEXTS,
        "tokens_per_text": [len(x) for x in ids],
        "block_influence": bi,
        "block_influence_order": sorted(range(len(bi)), key=lambda i: (bi[i], i)),
        "block_influence_removed": sorted(sorted(range(len(bi)), key=lambda i: (bi[i], i))[:NUM_REMOVE]),
        "angular_per_layer": last_token_angular(per_text, 1),
        "angular_block": block,
        "angular_removed": list(range(start, start + NUM_REMOVE)),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "machine": platform.machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("block_influence_removed", "angular_removed", "tokens_per_text")}))


if __name__ == "__main__":
    main()
